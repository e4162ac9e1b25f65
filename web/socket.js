// A WebSocket for the outputs (VMC relay, VTube Studio) that does its network work in a
// worker (web/socket-worker.js), with the WebSocket's own interface: send, close, onopen,
// onmessage, onclose, bufferedAmount (as last reported, every 250 ms), readyState. `send`
// copies its argument (a string, or bytes the caller may refill at once). Messages that
// contain `drop` are never handed to the page (a per-frame acknowledgement nobody reads).
// `sendText(bytes, n)` sends the first n bytes, UTF-8, as a text message: from Pyodide,
// refilling one Uint8Array and handing it over costs a third of passing a 1 kB string.
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
    this.sendText = this.sendText.bind(this);
  }

  send(data) {
    if (this.readyState === 1) this.worker.postMessage(data);
  }

  sendText(bytes, n) {
    if (this.readyState !== 1) return;
    const copy = bytes.slice(0, n);
    this.worker.postMessage({ text: copy }, [copy.buffer]);
  }

  close() {
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
      this.worker.terminate();
      if (was !== 3 && this.onclose) {
        this.onclose({ target: this, code: m.code, reason: m.reason, refused: !!m.refused });
      }
    }
  }
}
