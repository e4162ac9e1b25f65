// What Python calls on the page: shared per-frame buffers, storage, training worker,
// downloads. Created once at start; Python keeps references, so frames cross the bridge
// without creating proxies.
import { BLENDSHAPE_COUNT } from "./platform.js";
import { PredBars } from "./bars.js";
import { Store } from "./store.js";
import { OffThreadSocket, flushSockets } from "./socket.js";

export function createBridge({ onPythonReady, showError }) {
  const predBars = new PredBars(document.getElementById("pred-bars"));
  let worker = null;
  let jobId = 0;
  const jobs = new Map();

  const bridge = {
    scores: new Float32Array(BLENDSHAPE_COUNT),
    display: new Float32Array(BLENDSHAPE_COUNT),
    matrix: new Float32Array(16),
    pred: new Float32Array(0), // [raw..., clean...] for the active model
    predActive: false,
    names: [],
    onFrame: null, // Python callable (t_ms, has_face) -> None
    avatar: null, // the AvatarView, once it is up (web/avatar.js)
    onAvatar: null, // Python callable (info) -> None
    stats: { frames: 0, faceFrames: 0, pythonFrames: 0, fps: 0, pythonUs: 0, pythonMedianUs: 0, trackMedianMs: 0, firstBarsAt: 0, firstPredictionAt: 0 },

    attachPython(onFrame) {
      this.onFrame = onFrame;
      onPythonReady();
    },
    fail(message) {
      showError(message);
    },
    // A WebSocket whose sends and receives run in a worker (web/socket.js): the outputs'
    // per-frame sends cost the camera loop a postMessage instead of a network call.
    openSocket(url, drop = "") {
      return new OffThreadSocket(url, drop);
    },
    // The outputs' messages of this frame, from the sockets' outboxes (the camera loop).
    flushOutputs: flushSockets,
    setPredictionLayout(names, groups) {
      const n = names.length;
      this.pred = new Float32Array(2 * n);
      predBars.build(Array.from(names), Array.from(groups));
      this.predActive = n > 0;
      return this.pred;
    },
    drawPredictions() {
      if (this.predActive) predBars.update(this.pred);
    },
    openStore: () => Store.open(),
    // Optional Firebase sync: the SDK is fetched only now, when the user turned sync on.
    async sync(configJson) {
      const { createSync } = await import("./sync.js");
      return createSync(JSON.parse(configJson));
    },
    download(filename, data, mime = "application/octet-stream") {
      const blob = new Blob([data], { type: mime });
      const a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = filename;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
    },
    // Start the training worker (Python, numpy, scipy, scikit-learn) before it is needed.
    warmTrainer() {
      bridge.stats.trainerWarmups = (bridge.stats.trainerWarmups || 0) + 1;
      try {
        trainer().postMessage({ type: "warm" });
      } catch {
        // no worker here: Train says why when it is pressed
      }
    },
    // Train in a worker; onProgress(fraction, message, loss) is called from the worker.
    // A worker that cannot start rejects the promise rather than throwing here: an error
    // thrown across the bridge mid-call could reach Python without its message.
    train(clips, options, onProgress) {
      let worker;
      try {
        worker = trainer();
      } catch (err) {
        return Promise.reject(err);
      }
      const id = ++jobId;
      return new Promise((resolve, reject) => {
        jobs.set(id, { resolve, reject, onProgress });
        const copy = new Uint8Array(clips);
        worker.postMessage({ id, clips: copy, options: options ? JSON.parse(JSON.stringify(options)) : {} }, [copy.buffer]);
      });
    },
  };
  // The training worker, started on first use (a warm-up or a Train).
  function trainer() {
    if (!worker) {
      worker = new Worker(new URL("./trainer.js", import.meta.url), { type: "module" });
      worker.onmessage = (e) => {
        const msg = e.data;
        const job = jobs.get(msg.id) || (msg.id === undefined ? [...jobs.values()][0] : null);
        if (!job) return;
        if (msg.type === "progress") job.onProgress(msg.fraction, msg.message, msg.loss);
        else if (msg.type === "done") {
          jobs.delete(msg.id);
          bridge.stats.trainerPython = msg.python; // how the worker's Python started
          bridge.stats.trainerBytecode = msg.bytecodeFiles; // files an earlier visit stored
          job.resolve({ model: msg.model, summary: msg.summary });
        }
        else if (msg.type === "error") { jobs.delete(msg.id); job.reject(new Error(msg.message)); }
      };
      worker.onerror = (e) => {
        for (const job of jobs.values()) job.reject(new Error(e.message || "the training worker failed"));
        jobs.clear();
        worker = null;
      };
    }
    return worker;
  }
  return bridge;
}

// Median of the last second of Python frame times, for the overlay.
export class FrameTimer {
  constructor(size = 64) {
    this.values = new Float64Array(size);
    this.sorted = new Float64Array(size);
    this.n = 0;
    this.i = 0;
  }
  add(us) {
    this.values[this.i] = us;
    this.i = (this.i + 1) % this.values.length;
    if (this.n < this.values.length) this.n++;
  }
  median() {
    if (!this.n) return 0;
    const s = this.sorted.subarray(0, this.n);
    s.set(this.values.subarray(0, this.n));
    s.sort();
    return s[this.n >> 1];
  }
  reset() { this.n = 0; this.i = 0; }
}
