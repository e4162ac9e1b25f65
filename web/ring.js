// A one-way queue of messages in a SharedArrayBuffer, from the page to web/socket-worker.js:
// the page copies a message in and wakes the worker with Atomics.notify, which costs the
// camera frame a fraction of a postMessage (15-20 us against 55 us median, timed in one page
// at the frame rate); the worker copies it out and sends it. One writer, one reader. A record
// is an Int32 header (n for n bytes of binary, ~n for n bytes of UTF-8 text), then the bytes,
// padded to 4. Head and tail are byte counts that wrap as Int32; the ring's size divides 2^32,
// so `position & MASK` stays right across the wrap.
export const RING_BYTES = 1 << 18;
const MASK = RING_BYTES - 1;
const HEAD = 0;
const TAIL = 1;

// The page must be cross-origin isolated to share memory with its worker, and the worker
// waits without blocking its event loop (its WebSocket's events) only with Atomics.waitAsync.
export function ringSupported() {
  return globalThis.crossOriginIsolated === true && typeof SharedArrayBuffer === "function" &&
    typeof Atomics.waitAsync === "function";
}

const padded = (n) => 4 + ((n + 3) & ~3);

export class MessageRing {
  constructor(sab = new SharedArrayBuffer(8 + RING_BYTES)) {
    this.sab = sab;
    this.ctrl = new Int32Array(sab, 0, 2);
    this.words = new Int32Array(sab, 8, RING_BYTES >> 2);
    this.bytes = new Uint8Array(sab, 8, RING_BYTES);
    this.head = Atomics.load(this.ctrl, HEAD);
    this.tail = Atomics.load(this.ctrl, TAIL);
    this.stopped = false;
  }

  // Whether a message of n bytes could ever fit.
  static fits(n) {
    return padded(n) <= RING_BYTES;
  }

  // Writer: append one message (a Uint8Array; copied) and wake the reader (unless `wake` is
  // false: then `wake()` after the last of several); false, with nothing written, when the
  // reader is that far behind.
  put(src, text, wake = true) {
    const n = src.length;
    const need = padded(n);
    if (need > RING_BYTES - ((this.head - Atomics.load(this.ctrl, TAIL)) | 0)) return false;
    const at = this.head & MASK;
    this.words[at >> 2] = text ? ~n : n;
    const pos = (at + 4) & MASK;
    const first = Math.min(n, RING_BYTES - pos);
    this.bytes.set(first === n ? src : src.subarray(0, first), pos);
    if (first < n) this.bytes.set(src.subarray(first), 0);
    this.head = (this.head + need) | 0;
    Atomics.store(this.ctrl, HEAD, this.head);
    if (wake) Atomics.notify(this.ctrl, HEAD);
    return true;
  }

  wake() {
    Atomics.notify(this.ctrl, HEAD);
  }

  // Reader: hand every waiting message to `fn(bytes, text)` in order (a copy in unshared
  // memory, which TextDecoder and WebSocket.send require); returns the head it read up to.
  take(fn) {
    const head = Atomics.load(this.ctrl, HEAD);
    let tail = this.tail;
    while (tail !== head) {
      const at = tail & MASK;
      const header = this.words[at >> 2];
      const text = header < 0;
      const n = text ? ~header : header;
      const pos = (at + 4) & MASK;
      const out = new Uint8Array(n);
      const first = Math.min(n, RING_BYTES - pos);
      out.set(this.bytes.subarray(pos, pos + first));
      if (first < n) out.set(this.bytes.subarray(0, n - first), first);
      tail = (tail + padded(n)) | 0;
      fn(out, text);
    }
    this.tail = tail;
    Atomics.store(this.ctrl, TAIL, tail);
    return head;
  }

  // Reader: `take(fn)` whenever the writer adds messages, until `stop`.
  watch(fn) {
    const step = () => {
      if (this.stopped) return;
      const head = this.take(fn);
      const wait = Atomics.waitAsync(this.ctrl, HEAD, head);
      if (wait.async) wait.value.then(step);
      else Promise.resolve().then(step); // written meanwhile
    };
    step();
  }

  stop() {
    this.stopped = true;
  }
}
