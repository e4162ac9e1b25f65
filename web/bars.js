// Live bars for a vector of weights. Built once; each frame only writes a transform and an
// aria value per bar (no layout, no allocation), so it keeps up with the camera.
export class Bars {
  constructor(root) {
    this.root = root;
    this.fills = [];
    this.rows = [];
  }

  build(names) {
    this.root.replaceChildren();
    this.fills = [];
    this.rows = [];
    for (const name of names) {
      const row = document.createElement("div");
      row.className = "bar";
      row.dataset.name = name;
      row.setAttribute("role", "meter");
      row.setAttribute("aria-label", name);
      row.setAttribute("aria-valuemin", "0");
      row.setAttribute("aria-valuemax", "1");
      const label = document.createElement("span");
      label.className = "bar-label";
      label.textContent = name;
      const track = document.createElement("span");
      track.className = "bar-track";
      const fill = document.createElement("span");
      fill.className = "bar-fill";
      track.append(fill);
      row.append(label, track);
      this.root.append(row);
      this.fills.push(fill);
      this.rows.push(row);
    }
  }

  update(values, active) {
    this.root.classList.toggle("inactive", !active);
    for (let i = 0; i < this.fills.length; i++) {
      const v = values[i] < 0 ? 0 : values[i] > 1 ? 1 : values[i];
      this.fills[i].style.transform = `scaleX(${v})`;
      this.rows[i].setAttribute("aria-valuenow", v.toFixed(3));
    }
  }
}
