// One WebSocket, run in this worker for web/socket.js: Chromium's WebSocket.send costs the
// page's thread 0.2-0.3 ms inside a camera frame (a postMessage here costs about 6 us), and
// a peer that answers every frame (VTube Studio's injection responses) no longer wakes the
// page's Python. Data to send comes through the shared ring (web/ring.js) when the page has
// one, else by message as-is (a string, bytes, or {text: UTF-8 bytes}); anything else is a
// command. A module worker.
import { MessageRing } from "./ring.js";

let ws = null;
let ring = null;
let drop = "";
let stats = null;
const decoder = new TextDecoder();

function post(msg) {
  self.postMessage(msg);
}

// `data` as it should go out, or UTF-8 bytes of a text message when `text`.
function sendOut(data, text) {
  if (ws && ws.readyState === 1) ws.send(text ? decoder.decode(data) : data);
}

function open(url) {
  try {
    ws = new WebSocket(url);
  } catch (err) {
    // a page policy refused the address (Safari from https): said as a close with a reason
    post({ type: "close", code: 1006, reason: String((err && err.message) || err), refused: true });
    return;
  }
  ws.binaryType = "arraybuffer";
  ws.onopen = () => {
    post({ type: "open" });
    stats = setInterval(() => post({ type: "buffered", amount: ws.bufferedAmount }), 250);
  };
  ws.onmessage = (e) => {
    if (drop && typeof e.data === "string" && e.data.includes(drop)) return;
    post({ type: "message", data: e.data });
  };
  ws.onclose = (e) => {
    clearInterval(stats);
    post({ type: "close", code: e.code, reason: e.reason });
  };
}

self.onmessage = (e) => {
  const m = e.data;
  if (typeof m === "string" || m instanceof ArrayBuffer || ArrayBuffer.isView(m)) {
    sendOut(m, false);
  } else if (m.text) {
    sendOut(m.text, true);
  } else if (m.open) {
    drop = m.drop || "";
    open(m.open);
    if (m.ring) {
      ring = new MessageRing(m.ring);
      ring.watch(sendOut);
    }
  } else if (m.close && ws) {
    if (ring) {
      ring.take(sendOut); // what the page wrote before it closed still goes out first
      ring.stop();
    }
    ws.onopen = ws.onmessage = ws.onclose = null;
    clearInterval(stats);
    ws.close();
    ws = null;
  }
};
