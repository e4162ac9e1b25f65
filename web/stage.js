// The stage, studio side: the avatar alone in its own window (web/stage.html) or filling this
// page, on a transparent, chroma-green or chosen background, for capture and streaming. The
// studio keeps tracking and sends the stage what to draw over a BroadcastChannel: the
// character's file once, then one small weight array per camera frame.
export const CHANNEL = "mimic-stage";
const PREFS = "mimic-stage-prefs";

export class StageLink {
  constructor(view) {
    this.view = view;
    this.peers = 0;
    this.sent = 0;
    this.onKey = (key, shift) => window.mimicBridge?.onStageKey?.(key, shift);
    this.channel = new BroadcastChannel(CHANNEL);
    this.channel.onmessage = (e) => this._message(e.data);
    view.links.add(this);
  }

  _message(msg) {
    if (msg.type === "hello") {
      this.peers += 1;
      this._sendAll();
    } else if (msg.type === "bye") {
      this.peers = Math.max(0, this.peers - 1);
    } else if (msg.type === "key") {
      this.onKey(msg.key, Boolean(msg.shift));
    }
  }

  _sendAll() {
    const v = this.view;
    if (v.source) this.changed("avatar", v.source);
    if (v.layout) this.changed("layout", v.layout);
    this.changed("background", v.background);
    this.changed("view", v.rig.view);
    this.changed("forced", v.forced);
  }

  // AvatarView calls these (view.links)
  changed(type, value) {
    if (!this.peers) return;
    const msg = { type, value };
    if (type === "avatar") msg.value = { name: value.name, data: value.data.slice(0) };
    this.channel.postMessage(msg);
  }

  weights(input) {
    if (!this.peers) return;
    this.channel.postMessage({ type: "w", value: input });
    this.sent += 1;
  }
}

const DEFAULT_PREFS = { background: "transparent", color: "#1d2230", camera: true, mirror: true };

export function prefs() {
  try {
    return { ...DEFAULT_PREFS, ...JSON.parse(localStorage.getItem(PREFS) || "{}") };
  } catch {
    return { ...DEFAULT_PREFS };
  }
}

function savePrefs(p) {
  try { localStorage.setItem(PREFS, JSON.stringify(p)); } catch { /* kept for this visit */ }
}

// Wires the avatar bar: stage window, full window, background, framing, camera preview.
export function setupStage(view, $) {
  const link = new StageLink(view);
  const p = prefs();
  const bg = $("stage-bg");
  const color = $("stage-color");
  const applyBackground = () => {
    color.hidden = bg.value !== "color";
    view.setBackground(bg.value, color.value);
    // transparent shows as the panel colour here; the pixels themselves have alpha 0
    document.body.style.setProperty("--stage-bg", bg.value === "transparent" ? "#1d2230"
      : bg.value === "green" ? "#00ff00" : color.value);
    Object.assign(p, { background: bg.value, color: color.value });
    savePrefs(p);
  };
  bg.value = p.background;
  color.value = p.color;
  bg.addEventListener("change", applyBackground);
  color.addEventListener("input", applyBackground);
  applyBackground();

  const framing = $("framing");
  framing.addEventListener("change", () => view.rig.set({ framing: framing.value }));
  view.rig.onChange = (v) => {
    framing.value = v.framing;
    view._tell("view", v);
  };

  const cam = $("camera-box");
  const camButton = $("btn-camera-view");
  const mirror = $("btn-mirror");
  const applyCamera = () => {
    cam.classList.toggle("off", !p.camera);
    cam.classList.toggle("mirrored", p.mirror);
    camButton.setAttribute("aria-pressed", String(p.camera));
    camButton.textContent = p.camera ? "Hide camera" : "Show camera";
    mirror.setAttribute("aria-pressed", String(p.mirror));
    savePrefs(p);
  };
  camButton.addEventListener("click", () => { p.camera = !p.camera; applyCamera(); });
  mirror.addEventListener("click", () => { p.mirror = !p.mirror; applyCamera(); });
  applyCamera();

  const setFull = (on) => {
    if (on) document.body.dataset.stage = "full";
    else delete document.body.dataset.stage;
  };
  $("btn-full").addEventListener("click", () => setFull(true));
  $("btn-exit-full").addEventListener("click", () => setFull(false));
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && document.body.dataset.stage === "full") setFull(false);
  });
  $("btn-stage").addEventListener("click", () => {
    const win = window.open(new URL("./stage.html", import.meta.url), "mimic-stage",
      "popup,width=640,height=720");
    if (!win) $("avatar-note").textContent = "The browser blocked the stage window: allow pop-ups for this page.";
  });
  return link;
}
