// Page start-up: cross-origin isolation, loading progress, camera + face tracking, and the
// per-frame loop that hands each frame to Python. Python owns the logic; this file only
// calls the browser APIs and JS libraries Python cannot call cheaply.
import "./netguard.js"; // first: no library may reach another site (web/netguard.js)
import { Loading } from "./loading.js";
import { Bars } from "./bars.js";
import { startCamera, createLandmarker, CameraError } from "./camera.js";
import { ensureIsolation, registerOffline } from "./platform.js";
import { createBridge, FrameTimer } from "./bridge.js";
import { Store } from "./store.js";

const $ = (id) => document.getElementById(id);
const loading = new Loading($("loading"), $("progress-fill"), $("status"));

function showError(message) {
  const box = $("error");
  box.textContent = message; // never HTML: messages may carry user or file text
  box.hidden = false;
  if (!loading.finished) loading.fail(message);
}

const bridge = createBridge({
  onPythonReady() {
    loading.done("python");
    setTimeout(() => registerOffline(showOffline), 1000); // after start-up, never during it
    setTimeout(snapshotPython, SNAPSHOT_DELAY_MS);
    $("bars-source").textContent = "from Python";
    document.body.dataset.python = "ready";
  },
  showError,
});
window.mimicBridge = bridge;
// The microphone is opt-in: web/mic.js is loaded only when the user turns it on.
bridge.startMic = async () => (await import("./mic.js")).Mic.start();

// Python's start-up snapshot (python.mjs) is made once the app has been up a moment, in a
// worker: the next visit's Python then starts about a second sooner. The worker shares the
// CPU with the camera loop for a few seconds (on a 2-core machine, 15-20 processed frames a
// second instead of 25-30), so it never starts while a clip, or a guided series of clips,
// is being recorded.
const SNAPSHOT_DELAY_MS = 2000;

async function snapshotPython() {
  const busy = () => document.body.dataset.recording || document.body.dataset.guided;
  while (busy()) await new Promise((r) => setTimeout(r, 1000));
  const { started, ensureSnapshot } = await import("./python.mjs");
  document.body.dataset.pythonStart = started.how;
  document.body.dataset.pythonBytecode = String(started.bytecodeFiles);
  document.body.dataset.pythonSnapshot = "checking";
  try {
    const result = await ensureSnapshot();
    window.mimicPythonSnapshot = result; // for tests and the console
    document.body.dataset.pythonSnapshot = result.made ? "made" : result.reason;
  } catch (err) {
    console.warn("Python start-up snapshot not made:", err);
    document.body.dataset.pythonSnapshot = "error";
  }
}

function showOffline(msg) {
  const el = $("offline-status");
  if (msg.type === "offline-progress") {
    el.textContent = `Saving for offline use… ${Math.round((100 * msg.done) / msg.total)}%`;
    document.body.dataset.offline = "saving";
  } else if (msg.type === "offline-ready") {
    el.textContent = "Available offline";
    document.body.dataset.offline = "ready";
    document.body.dataset.offlineVersion = msg.version;
  } else if (msg.type === "offline-error") {
    el.textContent = "Offline use unavailable";
    el.title = msg.message;
    document.body.dataset.offline = "error";
  }
}

function avatarError(message) {
  const box = $("avatar-error");
  box.textContent = message; // file names are user text: never HTML
  box.hidden = !message;
}

// The avatar (three.js, three-vrm, the character file, shader compiles) loads once the app
// is up, so it never delays the camera or the first prediction. Python hears about each
// character it shows.
function whenRestored(fallbackMs) {
  return new Promise((resolve) => {
    if (document.body.dataset.restored) return resolve();
    const observer = new MutationObserver(() => {
      if (document.body.dataset.restored) { observer.disconnect(); resolve(); }
    });
    observer.observe(document.body, { attributes: true, attributeFilter: ["data-restored"] });
    setTimeout(() => { observer.disconnect(); resolve(); }, fallbackMs); // Python failed: show it anyway
  });
}

async function startAvatar() {
  await whenRestored(15_000);
  let view;
  try {
    const { AvatarView } = await import("./avatar.js");
    view = new AvatarView($("avatar"), {
      onChange: (info) => bridge.onAvatar && bridge.onAvatar(info),
      onError: avatarError,
    });
  } catch (err) {
    avatarError(`The avatar cannot be shown here: ${err.message || err}`);
    return;
  }
  window.mimicAvatar = view;
  bridge.avatar = view;
  const { setupStage } = await import("./stage.js");
  bridge.stage = setupStage(view, $);
  window.mimicStageLink = bridge.stage;
  const load = (file) => {
    avatarError("");
    view.loadFile(file).catch((err) => avatarError(`${file.name}: ${err.message || err}. The previous avatar stays.`));
  };
  $("avatar-file").addEventListener("change", (e) => {
    if (e.target.files[0]) load(e.target.files[0]);
    e.target.value = "";
  });
  const box = $("avatar-box");
  box.addEventListener("dragover", (e) => { e.preventDefault(); box.classList.add("dragging"); });
  box.addEventListener("dragleave", () => box.classList.remove("dragging"));
  box.addEventListener("drop", (e) => {
    e.preventDefault();
    box.classList.remove("dragging");
    const file = e.dataTransfer.files[0];
    if (file) load(file);
  });
  Store.open()
    .then((store) => { view.store = store; })
    .catch(() => {})
    .then(() => view.restore())
    .catch((err) => avatarError(`The avatar could not be loaded: ${err.message || err}`));
}

async function main() {
  if (!(await ensureIsolation())) return; // the page is reloading under the service worker
  loading.watchResources();
  startAvatar();
  const video = $("camera");
  let landmarker;
  // Python boots in parallel with face tracking. (Booting it only once tracking is set up
  // makes the bars steadier, always under 0.7 s, but the first prediction 0.3-0.9 s later.)
  import("./python.mjs").then((python) => python.readStored());
  import("./vendor/pyscript/core.js");
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
  runLoop(video, landmarker, new Bars($("bars")));
}

const STARTUP_FRAME_STEP = 3;

function runLoop(video, landmarker, bars) {
  const stats = bridge.stats;
  const faceNote = $("face-note");
  const perf = $("perf");
  const timer = new FrameTimer(30); // about one second of frames
  const trackTimer = new FrameTimer(30); // the frame's start to its blendshapes: MediaPipe's share
  const waitTimer = new FrameTimer(30); // ... of which the frame waited for this callback to run
  const outputTimer = new FrameTimer(30); // handing the outputs' messages to their sockets, us
  let windowStart = performance.now();
  let windowFrames = 0;
  let skipped = 0;
  const step = (now) => {
    // Until Python is up, track every STARTUP_FRAME_STEP-th frame only: the bars still move,
    // and Python, which starts on this same thread, gets the time it needs to start sooner.
    if (!bridge.onFrame && stats.frames > 0 && ++skipped < STARTUP_FRAME_STEP) return nextFrame(video, step);
    skipped = 0;
    waitTimer.add(performance.now() - now);
    const hasFace = landmarker.detect(video, now, bridge.scores);
    if (hasFace) bridge.matrix.set(landmarker.matrix);
    trackTimer.add(performance.now() - now);
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
      try {
        bridge.onFrame(now, hasFace);
      } catch (err) {
        // keep the camera running; say it once rather than on every frame
        if (!stats.frameError) showError(`Live processing failed: ${err.message || err}`);
        stats.frameError = String(err.message || err);
      }
      const t1 = performance.now();
      try {
        bridge.flushOutputs(); // what Python left in the outputs' outboxes, sent now
      } catch (err) {
        if (!stats.outputError) console.error("output failed", err);
        stats.outputError = String(err.message || err);
      }
      outputTimer.add((performance.now() - t1) * 1000);
      const us = (t1 - t0) * 1000;
      stats.pythonUs = us;
      timer.add(us);
      stats.pythonFrames += 1;
      shown = bridge.display;
      bridge.drawPredictions();
      if (bridge.avatar) bridge.avatar.cameraFrame();
      if (hasFace && bridge.predActive && !stats.firstPredictionAt) stats.firstPredictionAt = performance.now();
    }
    bars.update(shown, hasFace);
    if (hasFace && !stats.firstBarsAt) stats.firstBarsAt = performance.now();
    if (now - windowStart >= 1000) {
      stats.fps = (windowFrames * 1000) / (now - windowStart);
      stats.pythonMedianUs = timer.median();
      stats.trackMedianMs = trackTimer.median();
      stats.waitMedianMs = waitTimer.median();
      stats.outputsJsMedianUs = outputTimer.median();
      perf.textContent = bridge.onFrame
        ? `Python ${Math.round(stats.pythonMedianUs)} µs/frame · ${stats.fps.toFixed(0)} fps`
        : "";
      windowStart = now;
      windowFrames = 0;
    }
    nextFrame(video, step);
  };
  nextFrame(video, step);
}

// The loop follows the camera's frames (requestVideoFrameCallback). A browser stops those
// callbacks (and animation frames) for a hidden tab, and on some systems for a minimised
// window whose page still says "visible" (scripts/bench_background.py), and slows its timers
// to once a second; yet a stage window may still be showing the avatar. So a worker's
// clock, which is not slowed, ticks at the camera's rate, and once no camera-frame callback
// has come for STALL_MS it steps the loop itself until they come again: the stage keeps
// moving. (STALL_MS is well above a slow camera's frame interval, so a 10 fps camera is
// never stepped twice per frame.)
const CLOCK_MS = 33;
const STALL_MS = 300;
let clock = null;
let loopGen = 0;
let lastVideoAt = performance.now();
let clockMode = false;

function nextFrame(video, step) {
  const gen = ++loopGen;
  const run = (now, driver) => {
    if (gen !== loopGen) return; // the other driver got there first
    loopGen += 1;
    if (driver === "video-frames") {
      lastVideoAt = performance.now();
      clockMode = false;
    }
    if (document.body.dataset.loopDriver !== driver) document.body.dataset.loopDriver = driver;
    step(now);
  };
  clock = clock || startClock();
  clock.next = run;
  if (video.requestVideoFrameCallback) video.requestVideoFrameCallback((now) => run(now, "video-frames"));
  else requestAnimationFrame((now) => run(now, "video-frames"));
}

function startClock() {
  const worker = new Worker(new URL("./clock.js", import.meta.url));
  const c = { next: null, worker };
  worker.onmessage = () => {
    const now = performance.now();
    if (!clockMode && now - lastVideoAt > STALL_MS) clockMode = true;
    if (clockMode && c.next) c.next(now, "worker-clock");
  };
  worker.postMessage(CLOCK_MS);
  return c;
}

window.addEventListener("py:progress", (e) => loading.note(String(e.detail || "")));
window.addEventListener("py:ready", () => loading.done("runtime"));
window.addEventListener("error", (e) => {
  if (String(e.message || "").includes("PythonError")) showError("Python failed to start: " + e.message);
});
main();
