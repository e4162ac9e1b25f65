// The loading screen: each stage is marked when its real event happens (a runtime file
// finished downloading, the model bytes arrived, the camera opened, Python attached), and
// the bar advances by bytes received out of the bytes the vendored runtime needs.
const BOOT_FILES = {
  runtime: ["pyodide/pyodide.asm.wasm", "pyodide/pyodide.asm.js", "pyodide/python_stdlib.zip"],
  numpy: ["pyodide/numpy-2.0.2-cp312-cp312-pyodide_2024_0_wasm32.whl"],
  model: ["models/face_landmarker.task", "mediapipe/wasm/vision_wasm_internal.wasm"],
};

export class Loading {
  constructor(root, fill, status) {
    this.root = root;
    this.fill = fill;
    this.status = status;
    this.sizes = {};
    this.received = {};
    this.finished = false;
    fetch(new URL("./vendor/sizes.json", import.meta.url))
      .then((r) => (r.ok ? r.json() : {}))
      .then((s) => { this.sizes = s; this.render(); })
      .catch(() => {});
  }

  item(stage) {
    return this.root.querySelector(`[data-stage="${stage}"]`);
  }

  watchResources() {
    const seen = (entry) => {
      const path = new URL(entry.name).pathname;
      for (const [stage, files] of Object.entries(BOOT_FILES)) {
        for (const f of files) {
          if (path.endsWith("/vendor/" + f)) {
            this.received[f] = this.sizes[f] || entry.encodedBodySize || 1;
            if (stage === "numpy") this.done("numpy");
            this.render();
          }
        }
      }
    };
    new PerformanceObserver((list) => list.getEntries().forEach(seen)).observe({ type: "resource", buffered: true });
  }

  progress(stage, fraction) {
    const file = BOOT_FILES[stage]?.[0];
    if (file && this.sizes[file]) this.received[file] = fraction * this.sizes[file];
    const li = this.item(stage);
    if (li) li.dataset.percent = String(Math.round(fraction * 100));
    this.render();
  }

  note(text) {
    if (!this.finished && text) this.status.textContent = text;
  }

  done(stage) {
    const li = this.item(stage);
    if (li && li.dataset.state !== "done") {
      li.dataset.state = "done";
      li.dataset.ms = String(Math.round(performance.now()));
    }
    for (const f of BOOT_FILES[stage] || []) this.received[f] = this.sizes[f] || this.received[f] || 1;
    this.render();
    const all = [...this.root.querySelectorAll("[data-stage]")].every((el) => el.dataset.state === "done");
    if (all) this.finish();
  }

  fail(message) {
    this.finished = true;
    this.root.dataset.state = "failed";
    this.status.textContent = "Stopped: " + message;
  }

  finish() {
    this.finished = true;
    this.root.hidden = true;
    this.status.textContent = "Live";
    document.body.dataset.ready = "true";
  }

  render() {
    const files = Object.values(BOOT_FILES).flat();
    const total = files.reduce((a, f) => a + (this.sizes[f] || 0), 0);
    if (!total) return;
    const got = files.reduce((a, f) => a + Math.min(this.received[f] || 0, this.sizes[f] || 0), 0);
    const pct = Math.round((100 * got) / total);
    this.fill.style.width = pct + "%";
    this.fill.parentElement.setAttribute("aria-valuenow", String(pct));
  }
}
