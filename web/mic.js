// The microphone, opt-in: asked for only when the user turns it on. An AudioWorklet writes
// the samples into a SharedArrayBuffer ring (the page is cross-origin isolated); each camera
// frame read() copies what is new straight into a numpy array made once, and Python turns it into
// a few features per 10 ms (mimic/voice.py). No audio is stored or sent anywhere.
const SAMPLE_RATE = 12000;
const RING = 1 << 15; // samples: 2.7 s at 12 kHz, far more than one camera frame needs

export class MicError extends Error {}

const MESSAGES = {
  NotAllowedError: "The microphone was blocked. Allow it for this page (the icon in the address bar) to lip-sync from your voice; the camera carries on without it.",
  SecurityError: "The microphone was blocked. Allow it for this page to lip-sync from your voice; the camera carries on without it.",
  NotFoundError: "No microphone was found. Connect one to lip-sync from your voice; the camera carries on without it.",
  NotReadableError: "The microphone is busy in another app. Close it there and turn the microphone on again; the camera carries on.",
};

export class Mic {
  static async start() {
    if (!navigator.mediaDevices?.getUserMedia || !window.AudioWorkletNode) {
      throw new MicError("This browser cannot capture the microphone here; the camera carries on.");
    }
    if (!window.crossOriginIsolated) {
      throw new MicError("The microphone needs the page to be cross-origin isolated; reload it.");
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false, channelCount: 1 },
        video: false,
      });
    } catch (err) {
      throw new MicError(MESSAGES[err.name] || `The microphone could not be started (${err.name || err}); the camera carries on.`);
    }
    // 12 kHz keeps everything the features look at (up to 3.8 kHz) and lets the browser's
    // resampler, off the main thread, cut the samples Python reads and transforms fourfold.
    let ctx;
    try {
      ctx = new AudioContext({ latencyHint: "interactive", sampleRate: SAMPLE_RATE });
    } catch {
      ctx = new AudioContext({ latencyHint: "interactive" }); // a browser that cannot: any rate works
    }
    await ctx.audioWorklet.addModule(new URL("./mic-worklet.js", import.meta.url));
    const ring = new SharedArrayBuffer(8 + 4 * RING);
    const node = new AudioWorkletNode(ctx, "mimic-mic", { processorOptions: { ring }, numberOfOutputs: 1 });
    const source = ctx.createMediaStreamSource(stream);
    source.connect(node);
    node.connect(ctx.destination); // pulled by the graph; it writes silence to its output
    if (ctx.state !== "running") await ctx.resume();
    return new Mic(ctx, stream, ring, source, node);
  }

  constructor(ctx, stream, ring, source, node) {
    this.ctx = ctx;
    this.stream = stream;
    this.head = new Int32Array(ring, 0, 1);
    this.data = new Float32Array(ring, 8);
    this.read_at = Atomics.load(this.head, 0);
    this.source = source;
    this.node = node;
    this.sampleRate = ctx.sampleRate;
    this.out = new Float32Array(4096); // where read() writes; see attach()
    this.array = null;
    this.buffer = null;
  }

  // Write straight into a numpy array's memory (`array` is the PyProxy Python passed), so
  // Python copies nothing; the view is taken again whenever the WebAssembly memory grew
  // (growing detaches the old one).
  attach(array) {
    this.detach();
    this.array = array.copy(); // keep the proxy past the call that passed it
    this.buffer = this.array.getBuffer("f32");
    this.out = this.buffer.data;
  }

  detach() {
    this.buffer?.release();
    this.array?.destroy();
    this.buffer = this.array = null;
    this.out = new Float32Array(4096);
  }

  // Copy the samples written since the last call into this.out (the newest, if more came
  // than it holds); returns how many. Samples within 1e-15 of zero become 0: the tail of a
  // sound fading into silence reaches float32's subnormal range, where WebAssembly (which
  // cannot flush them) computes 25 times slower, and Python's spectra would stall the frame.
  read() {
    if (this.buffer && this.out.buffer.byteLength === 0) {
      this.buffer.release();
      this.buffer = this.array.getBuffer("f32");
      this.out = this.buffer.data;
    }
    const head = Atomics.load(this.head, 0);
    let n = (head - this.read_at) | 0;
    if (n <= 0) return 0;
    if (n > this.out.length) {
      this.read_at = (head - this.out.length) | 0;
      n = this.out.length;
    }
    const size = this.data.length;
    for (let i = 0; i < n; i++) {
      const v = this.data[((this.read_at + i) >>> 0) % size];
      this.out[i] = v > 1e-15 || v < -1e-15 ? v : 0;
    }
    this.read_at = head;
    return n;
  }

  stop() {
    this.detach();
    this.source.disconnect();
    this.node.disconnect();
    for (const t of this.stream.getTracks()) t.stop();
    return this.ctx.close();
  }
}
