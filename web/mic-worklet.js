// Audio thread: copies the microphone's samples (mono) into a ring in a SharedArrayBuffer
// that the page reads each camera frame (web/mic.js). Nothing is kept beyond the ring.
class MimicMic extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const { ring } = options.processorOptions;
    this.head = new Int32Array(ring, 0, 1); // total samples written (wraps at 2^31)
    this.data = new Float32Array(ring, 8);
  }

  process(inputs) {
    const input = inputs[0];
    if (input && input[0]) {
      const ch = input[0];
      const size = this.data.length;
      let at = Atomics.load(this.head, 0);
      for (let i = 0; i < ch.length; i++) this.data[((at + i) >>> 0) % size] = ch[i];
      Atomics.store(this.head, 0, (at + ch.length) | 0);
    }
    return true;
  }
}

registerProcessor("mimic-mic", MimicMic);
