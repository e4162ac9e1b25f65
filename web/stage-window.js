// The stage window: only the avatar, drawn from what the studio sends (web/stage.js). It
// has no camera and no Python; the studio keeps tracking, even when its tab is hidden.
// Keys pressed here (expression hotkeys) go back to the studio.
import { AvatarView } from "./avatar.js";
import { CHANNEL } from "./stage.js";

const canvas = document.getElementById("stage");
const waiting = document.getElementById("waiting");
const view = new AvatarView(canvas, { onError: (m) => { waiting.hidden = false; waiting.textContent = m; } });
const channel = new BroadcastChannel(CHANNEL);
const stats = { messages: 0, frames: 0, draws: 0 };
window.mimicStage = { view, stats };
let pending = null;

channel.onmessage = async ({ data: msg }) => {
  const { type, value } = msg;
  if (type === "avatar") {
    pending = view.load(value.data, value.name).catch((err) => view.onError(String(err.message || err)));
    await pending;
    waiting.hidden = true;
  } else if (type === "layout") {
    if (pending) await pending;
    if (view.current) view.setLayout(value.mode, value.names, value.missing);
  } else if (type === "w") {
    stats.messages += 1;
    if (view.input && view.input.length === value.length) {
      view.input.set(value);
      stats.frames += 1;
      if (view.software) view.cameraFrame();
    }
  } else if (type === "background") {
    view.setBackground(value.kind, value.color);
    document.body.style.background = value.kind === "transparent" ? "transparent"
      : value.kind === "green" ? "#00ff00" : value.color;
  } else if (type === "view") {
    view.rig.set(value);
  } else if (type === "forced") {
    view.setForced(value ? value.names : [], value ? value.values : [], value && value.exclusive);
  }
};

const render = view.renderOnce.bind(view);
view.renderOnce = () => { stats.draws += 1; render(); };
channel.postMessage({ type: "hello" });
window.addEventListener("pagehide", () => channel.postMessage({ type: "bye" }));
document.addEventListener("keydown", (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  // digits by their position, as the studio page reads them (studio/hotkeys.py)
  const key = e.code.startsWith("Digit") ? e.code.slice(5) : e.key;
  channel.postMessage({ type: "key", key, shift: e.shiftKey });
});
