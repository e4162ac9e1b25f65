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

// Live prediction bars: a raw and a cleaned-up value per target, from one Float32Array
// laid out [raw0..rawT-1, clean0..cleanT-1] that Python fills each frame.
export class PredBars {
  constructor(root) {
    this.root = root;
    this.raw = [];
    this.clean = [];
    this.rows = [];
    this.count = 0;
  }

  build(names, groups) {
    this.root.replaceChildren();
    this.raw = [];
    this.clean = [];
    this.rows = [];
    this.count = names.length;
    names.forEach((name, i) => {
      const row = document.createElement("div");
      row.className = "pred";
      row.dataset.name = name;
      row.dataset.group = groups[i];
      row.setAttribute("role", "meter");
      row.setAttribute("aria-label", name);
      row.setAttribute("aria-valuemin", "0");
      row.setAttribute("aria-valuemax", "1");
      const label = document.createElement("span");
      label.className = "bar-label";
      label.textContent = name; // user labels: text, never HTML
      const track = document.createElement("span");
      track.className = "bar-track";
      const raw = document.createElement("span");
      raw.className = "bar-fill raw";
      const clean = document.createElement("span");
      clean.className = "bar-fill clean";
      track.append(raw, clean);
      row.append(label, track);
      this.root.append(row);
      this.raw.push(raw);
      this.clean.push(clean);
      this.rows.push(row);
    });
  }

  update(values) {
    const n = this.count;
    for (let i = 0; i < n; i++) {
      const r = Math.min(1, Math.max(0, values[i]));
      const c = Math.min(1, Math.max(0, values[n + i]));
      this.raw[i].style.transform = `scaleX(${r})`;
      this.clean[i].style.transform = `scaleX(${c})`;
      this.rows[i].setAttribute("aria-valuenow", c.toFixed(3));
      this.rows[i].dataset.raw = r.toFixed(3);
    }
  }
}
