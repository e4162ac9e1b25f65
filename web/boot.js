// Page start-up: cross-origin isolation, loading progress, camera + face tracking, and the
// bridge through which Python takes each frame. Python owns the logic; this file only
// calls the browser APIs and JS libraries Python cannot call cheaply.
import { Loading } from "./loading.js";
import { Bars } from "./bars.js";
import { startCamera, createLandmarker, CameraError } from "./camera.js";
import { BLENDSHAPE_COUNT, ensureIsolation } from "./platform.js";

const $ = (id) => document.getElementById(id);
const loading = new Loading($("loading"), $("progress-fill"), $("status"));

// Shared with Python: JS writes the 52 weights of the latest frame into `scores`,
// Python reads them (assign_to) and writes what the bars show into `display`.
const bridge = {
  scores: new Float32Array(BLENDSHAPE_COUNT),
  display: new Float32Array(BLENDSHAPE_COUNT),
  names: [],
  onFrame: null, // Python callable (t_ms, has_face) -> None, set by attachPython
  stats: { frames: 0, faceFrames: 0, pythonFrames: 0, fps: 0, pythonUs: 0, started: performance.now() },
  attachPython(onFrame) {
    this.onFrame = onFrame;
    loading.done("python");
    $("bars-source").textContent = "from Python";
    document.body.dataset.python = "ready";
  },
  fail(message) {
    showError(message);
  },
};
window.mimicBridge = bridge;

function showError(message) {
  const box = $("error");
  box.textContent = message; // never HTML: messages may carry user or file text
  box.hidden = false;
  loading.fail(message);
}

async function main() {
  if (!(await ensureIsolation())) return; // the page is reloading under the service worker
  loading.watchResources();
  import("./vendor/pyscript/core.js"); // boots Python in parallel with the camera
  const video = $("camera");
  const bars = new Bars($("bars"));
  let landmarker;
  try {
    const [stream, lm] = await Promise.all([
      startCamera(video).then((s) => (loading.done("camera"), s)),
      createLandmarker((f) => loading.progress("model", f)).then((l) => (loading.done("model"), l)),
    ]);
    landmarker = lm;
    bridge.stream = stream;
  } catch (err) {
    showError(err instanceof CameraError ? err.message : `Could not start face tracking: ${err.message || err}`);
    return;
  }
  document.body.dataset.camera = "live";
  runLoop(video, landmarker, bars);
}

function runLoop(video, landmarker, bars) {
  const stats = bridge.stats;
  const faceNote = $("face-note");
  let windowStart = performance.now();
  let windowFrames = 0;
  const step = (now) => {
    const hasFace = landmarker.detect(video, now, bridge.scores);
    stats.frames += 1;
    windowFrames += 1;
    if (hasFace) stats.faceFrames += 1;
    faceNote.hidden = hasFace;
    if (!bars.fills.length && landmarker.names.length) {
      bars.build(landmarker.names); // MediaPipe names its categories with the first face
      bridge.names = landmarker.names;
    }
    let shown = bridge.scores;
    if (bridge.onFrame) {
      const t0 = performance.now();
      bridge.onFrame(now, hasFace);
      stats.pythonUs = (performance.now() - t0) * 1000;
      stats.pythonFrames += 1;
      shown = bridge.display;
    }
    bars.update(shown, hasFace);
    if (now - windowStart >= 1000) {
      stats.fps = (windowFrames * 1000) / (now - windowStart);
      windowStart = now;
      windowFrames = 0;
    }
    nextFrame(video, step);
  };
  nextFrame(video, step);
}

function nextFrame(video, step) {
  if (video.requestVideoFrameCallback) {
    video.requestVideoFrameCallback((now) => step(now));
  } else {
    requestAnimationFrame((now) => step(now));
  }
}

window.addEventListener("py:progress", (e) => loading.note(String(e.detail || "")));
window.addEventListener("py:ready", () => loading.done("runtime"));
window.addEventListener("error", (e) => {
  if (String(e.message || "").includes("PythonError")) showError("Python failed to start: " + e.message);
});
main();
