// A WebSocket for the outputs (VMC relay, VTube Studio) that does its network work in a
// worker (web/socket-worker.js), with the WebSocket's own interface: send, close, onopen,
// onmessage, onclose, bufferedAmount (as last reported, every 250 ms), readyState. `send`
// copies its argument (a string, or bytes the caller may refill at once). Messages that
// contain `drop` are never handed to the page (a per-frame acknowledgement nobody reads).
// `attach(slot, bytes)` and `sendAttached(slot, n, text)` send from Python's own buffers
// (below): from Pyodide, one call per message, against two to refill a Uint8Array and hand it
// over (which cost a third of passing a 1 kB string).
const WORKER_URL = new URL("./socket-worker.js", import.meta.url);

export class OffThreadSocket {
  constructor(url, drop = "") {
    this.url = url;
    this.readyState = 0;
    this.bufferedAmount = 0;
    this.onopen = this.onmessage = this.onclose = null;
    this.worker = new Worker(WORKER_URL);
    this.worker.onmessage = (e) => this._event(e.data);
    this.worker.postMessage({ open: url, drop });
    this.send = this.send.bind(this); // handed to Python once, called per frame
    this.sendAttached = this.sendAttached.bind(this);
    this.slots = [];
  }

  send(data) {
    if (this.readyState === 1) this.worker.postMessage(data);
  }

  // `bytes` is a PyProxy of a bytearray the caller refills in place (never resizes): kept,
  // with a view of its memory, until `close` or the slot's next `attach`.
  attach(slot, bytes) {
    this._release(slot);
    const proxy = bytes.copy(); // keep the proxy past the call that passed it
    this.slots[slot] = { proxy, buffer: proxy.getBuffer("u8") };
  }

  // The slot's first n bytes (all of them when n < 0), copied out of WebAssembly memory and
  // handed to the worker: a text message (UTF-8) when `text`, else a binary one. The view is
  // taken again whenever the memory grew (growing detaches it).
  sendAttached(slot, n = -1, text = false) {
    if (this.readyState !== 1) return;
    const s = this.slots[slot];
    if (s.buffer.data.buffer.byteLength === 0) {
      s.buffer.release();
      s.buffer = s.proxy.getBuffer("u8");
    }
    const data = s.buffer.data;
    const copy = data.slice(0, n < 0 ? data.length : n);
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
