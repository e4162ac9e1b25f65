// A WebSocket for the outputs (VMC relay, VTube Studio) that does its network work in a
// worker (web/socket-worker.js), with the WebSocket's own interface: send, close, onopen,
// onmessage, onclose, bufferedAmount (as last reported, every 250 ms), readyState. `send`
// copies its argument (a string, or bytes the caller may refill at once). Messages that
// contain `drop` are never handed to the page (a per-frame acknowledgement nobody reads).
// `attach(slot, bytes, ends, text)` and `sendAttached(slot, n, text)` send from Python's own
// buffers (below): from Pyodide, one call per message, against two to refill a Uint8Array and
// hand it over (which cost a third of passing a 1 kB string). Per camera frame not even that:
// Python writes how much of a slot to send into the socket's outbox (`outbox(bytes)`, Int32
// per slot) and the camera loop calls `flushSockets()` right after Python's frame, which
// sends what each open socket's outbox holds; a call from Python into JavaScript costs
// ~25 us in the camera loop, a read of shared memory nothing. Messages reach the worker
// through a shared ring (web/ring.js) where the page is cross-origin isolated, in order;
// elsewhere by postMessage.
import { MessageRing, ringSupported } from "./ring.js";

const WORKER_URL = new URL("./socket-worker.js", import.meta.url);
const encoder = new TextEncoder();
const withOutbox = new Set(); // open sockets that have an outbox

// Send what every socket's outbox holds (the camera loop, after Python's frame): for each
// slot, its count (n > 0: the first n bytes; -1: all of it, or each message of it), then 0.
export function flushSockets() {
  for (const socket of withOutbox) socket._flush();
}

export class OffThreadSocket {
  constructor(url, drop = "", ring = ringSupported()) {
    this.url = url;
    this.readyState = 0;
    this.bufferedAmount = 0;
    this.dropped = 0; // messages not sent because the worker was a whole ring behind
    this.onopen = this.onmessage = this.onclose = null;
    this.ring = ring ? new MessageRing() : null;
    this.worker = new Worker(WORKER_URL, { type: "module" });
    this.worker.onmessage = (e) => this._event(e.data);
    this.worker.postMessage({ open: url, drop, ring: this.ring && this.ring.sab });
    this.send = this.send.bind(this); // handed to Python once, called per frame
    this.sendAttached = this.sendAttached.bind(this);
    this.slots = [];
    this.box = null; // the outbox: { proxy, buffer } of an Int32 per slot
  }

  // `bytes`: a PyProxy of a bytearray of an Int32 per slot that Python writes (see above);
  // kept, with a view of its memory, until `close`.
  outbox(bytes) {
    if (this.box) this.box.buffer.release(), this.box.proxy.destroy();
    const proxy = bytes.copy();
    this.box = { proxy, buffer: proxy.getBuffer("i32") };
    withOutbox.add(this);
  }

  _flush() {
    const box = this.box;
    if (box.buffer.data.buffer.byteLength === 0) { // the memory grew: take the view again
      box.buffer.release();
      box.buffer = box.proxy.getBuffer("i32");
    }
    const counts = box.buffer.data;
    for (let slot = 0; slot < counts.length; slot++) {
      const n = counts[slot];
      if (n === 0) continue;
      counts[slot] = 0;
      const s = this.slots[slot];
      if (s) this.sendAttached(slot, n, s.text);
    }
  }

  send(data) {
    if (this.readyState !== 1) return;
    if (this.ring) {
      const text = typeof data === "string";
      const bytes = text ? encoder.encode(data)
        : ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
          : new Uint8Array(data);
      if (this._ringTook(bytes, text)) return;
    }
    this.worker.postMessage(data); // (with a ring, only what could never fit in it)
  }

  // Whether the message went into the ring (or was dropped and counted, the worker a whole
  // ring behind); false when there is no ring or it could never fit: post it instead.
  _ringTook(bytes, text, wake = true) {
    if (!this.ring || !MessageRing.fits(bytes.length)) return false;
    if (!this.ring.put(bytes, text, wake)) this.dropped++;
    return true;
  }

  // `bytes` is a PyProxy of a bytearray the caller refills in place (never resizes): kept,
  // with a view of its memory, until `close` or the slot's next `attach`. With `ends` (where
  // each message in it ends, in order), `sendAttached(slot)` sends them all, one per message.
  attach(slot, bytes, ends = null, text = false) {
    this._release(slot);
    const proxy = bytes.copy(); // keep the proxy past the call that passed it
    this.slots[slot] = { proxy, buffer: proxy.getBuffer("u8"), ends: ends ? Array.from(ends) : null, text };
  }

  // The slot's first n bytes (all of them when n < 0, or each of its messages when it was
  // attached with their ends), copied out of WebAssembly memory and handed to the worker: a
  // text message (UTF-8) when `text`, else a binary one. The view is taken again whenever the
  // memory grew (growing detaches it).
  sendAttached(slot, n = -1, text = false) {
    if (this.readyState !== 1) return;
    const s = this.slots[slot];
    if (s.buffer.data.buffer.byteLength === 0) {
      s.buffer.release();
      s.buffer = s.proxy.getBuffer("u8");
    }
    const data = s.buffer.data;
    if (n < 0 && s.ends) {
      let start = 0;
      for (const end of s.ends) {
        this._hand(data.subarray(start, end), text, false);
        start = end;
      }
      if (this.ring) this.ring.wake(); // the worker woken once for the frame's messages
      return;
    }
    this._hand(n < 0 ? data : data.subarray(0, n), text, true);
  }

  _hand(view, text, wake) {
    if (this._ringTook(view, text, wake)) return;
    const copy = view.slice();
    this.worker.postMessage(text ? { text: copy } : copy, [copy.buffer]);
  }

  _release(slot) {
    const s = this.slots[slot];
    if (!s) return;
    s.buffer.release();
    s.proxy.destroy();
    this.slots[slot] = null;
  }

  _releaseAll() {
    for (let i = 0; i < this.slots.length; i++) this._release(i);
    withOutbox.delete(this);
    if (this.box) {
      this.box.buffer.release();
      this.box.proxy.destroy();
      this.box = null;
    }
  }

  close() {
    this._releaseAll();
    if (this.readyState > 1) return;
    this.readyState = 3;
    this.worker.postMessage({ close: true });
    const worker = this.worker;
    setTimeout(() => worker.terminate(), 1000); // after the close frame went out
  }

  _event(m) {
    if (m.type === "buffered") {
      this.bufferedAmount = m.amount;
      return;
    }
    if (this.readyState === 3 && m.type !== "close") return;
    if (m.type === "open") {
      this.readyState = 1;
      if (this.onopen) this.onopen({ target: this });
    } else if (m.type === "message") {
      if (this.onmessage) this.onmessage({ target: this, data: m.data });
    } else if (m.type === "close") {
      const was = this.readyState;
      this.readyState = 3;
      this._releaseAll();
      this.worker.terminate();
      if (was !== 3 && this.onclose) {
        this.onclose({ target: this, code: m.code, reason: m.reason, refused: !!m.refused });
      }
    }
  }
}
