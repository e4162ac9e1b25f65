// The avatar: three.js + three-vrm rendering a VRM 1.0 / 0.x or ARKit-morph glTF character.
// Loading, inspecting and drawing need the JS libraries; which weight goes where is decided in
// Python (studio/avatar.py, mimic/retarget.py), which fills one Float32Array per frame in the
// layout it asked for with setLayout(). This file only applies that array, at display rate.
import * as THREE from "three";
import { GLTFLoader } from "three/addons/loaders/GLTFLoader.js";
import { VRMLoaderPlugin } from "@pixiv/three-vrm";
import { CpuMorphs, simplifyMaterials } from "./softwaregl.js";
import { Body } from "./body.js";
import { CameraRig } from "./rig.js";
import { bindsMaterials, disposeRoot, inspect, turnHead } from "./character.js";

const DEFAULT_URL = new URL("./generated/mimic-head.vrm", import.meta.url);
const POSE_SLOTS = 5; // head yaw, pitch, roll, gaze yaw, gaze pitch (radians), after the slots
const LAST_KEY = "last";
// Longest side of the drawing buffer, in device pixels; CSS scales it to the box.
const GPU_PIXELS = 1024;
const SOFTWARE_PIXELS = 256;
// Software WebGL: the avatar is drawn on every second camera frame (15 fps for a 30 fps
// camera), which leaves the camera loop its full rate (scripts/bench_avatar.py).
const SOFTWARE_FRAME_STEP = 2;
const MORPH_FLOOR = 0.01;

export class AvatarError extends Error {}

export class AvatarView {
  constructor(canvas, { store = null, onChange = () => {}, onError = () => {} } = {}) {
    this.canvas = canvas;
    this.store = store;
    this.onChange = onChange;
    this.onError = onError;
    // With a GPU: antialiased, at the screen's pixel density. Without one (software WebGL, as
    // in headless test browsers) every pixel is drawn on the CPU the camera loop needs: no
    // MSAA and a small drawing buffer that CSS scales up.
    this.software = softwareGL();
    this.renderer = new THREE.WebGLRenderer({ canvas, antialias: !this.software, alpha: true });
    this.pixelRatio = this.software ? 1 : Math.min(2, window.devicePixelRatio || 1);
    this.renderer.setPixelRatio(this.pixelRatio);
    this.maxPixels = this.software ? SOFTWARE_PIXELS : GPU_PIXELS;
    this.renderer.outputColorSpace = THREE.SRGBColorSpace;
    this.scene = new THREE.Scene();
    this.camera = new THREE.PerspectiveCamera(24, 1, 0.05, 20);
    this.scene.add(new THREE.HemisphereLight(0xffffff, 0x445566, 1.6));
    const key = new THREE.DirectionalLight(0xffffff, 1.6);
    key.position.set(0.6, 1.8, 2.0);
    this.scene.add(key);
    this._last = performance.now();
    this.loader = new GLTFLoader();
    this.loader.register((parser) => new VRMLoaderPlugin(parser));
    this.current = null; // {root, vrm, info, morphs}
    this.input = null; // Float32Array filled by Python: [slot weights..., pose]
    this.missing = []; // targets Python found the character lacks (shown once in the note)
    this.apply = [];
    this.hold = false; // tests and the expression preview set weights by hand
    this._cameraFrames = 0;
    // With a GPU the avatar is drawn on every display frame. Software WebGL (no GPU, as in
    // headless test browsers) draws on the CPU the camera loop needs, so there it is drawn
    // only every SOFTWARE_FRAME_STEP camera frames (see cameraFrame).
    this.running = false;
    this.fps = 0;
    this.renderMs = 0;
    this._frames = 0;
    this._windowStart = performance.now();
    this.rig = new CameraRig(this.camera, canvas, { onChange: (v) => this._tell("view", v) });
    this.forced = null; // {names, values, exclusive}: hotkeys over the model's output
    this.background = { kind: "transparent", color: "#1d2230" };
    this.links = new Set(); // stage windows following this view (web/stage.js)
    this.source = null; // {data, name} of the shown character, for stage windows
    this.layout = null;
    this._pose = [0, 0, 0];
    this._resize();
    new ResizeObserver(() => this._resize()).observe(canvas);
  }

  _tell(type, value) {
    for (const link of this.links) link.changed(type, value);
  }

  // --- loading -------------------------------------------------------------------------------
  async loadDefault() {
    const res = await fetch(DEFAULT_URL);
    if (!res.ok) throw new AvatarError(`the built-in avatar answered ${res.status}`);
    return this.load(await res.arrayBuffer(), "Mimic (built-in)", { remember: false });
  }

  async restore() {
    const saved = this.store ? await this.store.get("avatars", LAST_KEY).catch(() => null) : null;
    if (saved && saved.data) {
      try {
        return await this.load(saved.data, saved.name, { remember: false });
      } catch (err) {
        this.onError(`Your last avatar (${saved.name}) could not be loaded again: ${err.message}`);
      }
    }
    return this.loadDefault();
  }

  async loadFile(file) {
    const data = await file.arrayBuffer();
    return this.load(data, file.name, { remember: true });
  }

  // Parses and inspects first; the shown avatar changes only if everything worked.
  async load(data, name, { remember = false } = {}) {
    const gltf = await this._parse(data);
    const next = inspect(gltf, name);
    if (next.info.kind === "none") {
      disposeRoot(next.root);
      throw new AvatarError(`${name} has no VRM expressions and no ARKit blendshapes to drive`);
    }
    if (this.software) {
      next.cpu = new CpuMorphs(next.root);
      if (!bindsMaterials(next.vrm)) simplifyMaterials(next.root);
    }
    if (remember && this.store) {
      await this.store.put("avatars", { id: LAST_KEY, name, data, savedAt: new Date().toISOString() });
    }
    if (this.current) {
      this.scene.remove(this.current.root);
      disposeRoot(this.current.root);
    }
    next.body = Body.of(next.vrm);
    this.current = next;
    this.scene.add(next.root);
    const headNode = next.vrm && next.vrm.humanoid ? next.vrm.humanoid.getRawBoneNode("head")
      : next.head.isHead ? next.head.node : null;
    this.rig.fit(next.root, headNode, name);
    this.source = { data, name };
    this.layout = null;
    this._tell("avatar", this.source);
    this.input = null;
    this.apply = [];
    this.missing = [];
    document.body.dataset.avatar = next.info.kind;
    this.onChange(next.info);
    this.start();
    return next.info;
  }

  _parse(data) {
    const head = new Uint8Array(data, 0, Math.min(4, data.byteLength));
    const magic = String.fromCharCode(...head);
    if (magic !== "glTF" && head[0] !== 0x7b /* { */) {
      return Promise.reject(new AvatarError("this is not a glTF, GLB or VRM file"));
    }
    return new Promise((resolve, reject) => {
      try {
        this.loader.parse(data, "", resolve, (err) =>
          reject(new AvatarError(`this file could not be read as glTF/VRM (${err.message || err})`)));
      } catch (err) {
        reject(new AvatarError(`this file could not be read as glTF/VRM (${err.message || err})`));
      }
    });
  }

  // --- driving -------------------------------------------------------------------------------
  // Python picks the slots (expression names or morph names) and fills the returned array.
  // `missing` (optional) names the targets the character lacks, for info() and the tests.
  setLayout(mode, names, missing = []) {
    const cur = this.current;
    const list = Array.from(names);
    this.apply = list.map((name) => {
      if (mode === "expressions") {
        const m = cur.vrm && cur.vrm.expressionManager;
        return m && m.getExpression(name) ? { expression: name } : null;
      }
      return { morphs: cur.morphs.get(name) || [] };
    });
    this.mode = mode;
    this.missing = Array.from(missing || []);
    this.input = new Float32Array(list.length + POSE_SLOTS);
    this.layout = { mode, names: list, missing: this.missing };
    this._tell("layout", this.layout);
    if (cur.vrm && cur.vrm.expressionManager) {
      for (const e of cur.vrm.expressionManager.expressions) cur.vrm.expressionManager.setValue(e.expressionName, 0);
    }
    cur.root.traverse((o) => { if (o.morphTargetInfluences) o.morphTargetInfluences.fill(0); });
    return this.input;
  }

  // Hotkeys (studio/hotkeys.py): expressions held at a value over the model's output; with
  // `exclusive`, every other expression shows 0 meanwhile.
  setForced(names, values, exclusive) {
    const list = Array.from(names || []);
    this.forced = list.length ? { names: list, values: Array.from(values), exclusive: Boolean(exclusive) } : null;
    if (!this.forced && this.current && this.current.vrm && this.current.vrm.expressionManager) {
      // released: expressions go back to what the model drives (or 0 if nothing drives them)
      for (const e of this.current.vrm.expressionManager.expressions) {
        if (!this.apply.some((a) => a && a.expression === e.expressionName)) {
          this.current.vrm.expressionManager.setValue(e.expressionName, 0);
        }
      }
    }
    this._tell("forced", this.forced);
  }

  _applyForced(cur) {
    const m = cur.vrm && cur.vrm.expressionManager;
    if (!m) return;
    const { names, values, exclusive } = this.forced;
    if (exclusive && this.mode !== "morphs") {
      for (const e of m.expressions) {
        if (!isMouthOrEyes(e.expressionName)) m.setValue(e.expressionName, 0);
      }
    }
    for (let i = 0; i < names.length; i++) {
      const e = m.getExpression(names[i]);
      if (!e) continue;
      if (this.mode !== "morphs") {
        m.setValue(names[i], values[i]);
        continue;
      }
      // driven by morphs: put the expression's own morph binds on top of the face's
      for (const bind of e._binds || e.binds || []) {
        if (!bind.primitives || bind.index === undefined) continue;
        for (const mesh of bind.primitives) {
          const v = Math.min(1, bind.weight * values[i]);
          if (mesh.morphTargetInfluences[bind.index] < v) mesh.morphTargetInfluences[bind.index] = v;
        }
      }
    }
  }

  // Background behind the character: "transparent" (alpha 0, for capture with alpha),
  // "green" (chroma key) or "color" with a CSS colour.
  setBackground(kind, color) {
    this.background = { kind, color: color || this.background.color };
    if (kind === "transparent") this.renderer.setClearColor(0x000000, 0);
    else this.renderer.setClearColor(new THREE.Color(kind === "green" ? "#00ff00" : this.background.color), 1);
    this._tell("background", this.background);
    if (this.software && this.running) this._drawSoon();
  }

  // Draw and read one pixel of the drawing buffer (x, y from the top left, 0..1): tests use
  // it for the background's colour and alpha.
  pixelAt(x, y) {
    this.renderOnce();
    const gl = this.renderer.getContext();
    const px = new Uint8Array(4);
    const w = gl.drawingBufferWidth;
    const h = gl.drawingBufferHeight;
    gl.readPixels(Math.round(x * (w - 1)), Math.round((1 - y) * (h - 1)), 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, px);
    return Array.from(px);
  }

  setExpression(name, value) {
    const m = this.current && this.current.vrm && this.current.vrm.expressionManager;
    if (m && m.getExpression(name)) {
      m.setValue(name, value);
      return true;
    }
    const targets = this.current && this.current.morphs.get(name);
    if (!targets) return false;
    for (const [mesh, i] of targets) mesh.morphTargetInfluences[i] = value;
    return true;
  }

  // For tests and previews (with hold = true): turn the head by hand, radians, as Python would.
  setPose(yaw, pitch, roll) {
    this._pose = [-pitch, yaw, -roll];
    if (this.current && !this.current.body) turnHead(this.current.head, -pitch, yaw, -roll);
  }

  // Where the face is on the canvas, -1..1 each way: the centre of the mesh with the most morph
  // targets. Tests use it to check that a turned head stays in view.
  faceOnScreen() {
    const cur = this.current;
    if (!cur) return null;
    let face = null;
    cur.root.traverse((o) => {
      const n = o.isMesh && o.morphTargetInfluences ? o.morphTargetInfluences.length : 0;
      if (n && (!face || n > face.morphTargetInfluences.length)) face = o;
    });
    if (!face) return null;
    cur.root.updateMatrixWorld(true);
    if (!face.geometry.boundingBox) face.geometry.computeBoundingBox();
    const p = face.geometry.boundingBox.getCenter(new THREE.Vector3()).applyMatrix4(face.matrixWorld);
    p.project(this.camera);
    return [p.x, p.y];
  }

  weightsNow() {
    const out = { expressions: {}, morphs: {} };
    const cur = this.current;
    if (!cur) return out;
    const m = cur.vrm && cur.vrm.expressionManager;
    if (m) for (const e of m.expressions) out.expressions[e.expressionName] = m.getValue(e.expressionName);
    for (const [name, targets] of cur.morphs) {
      if (targets.length) out.morphs[name] = targets[0][0].morphTargetInfluences[targets[0][1]];
    }
    return out;
  }

  info() {
    return this.current
      ? { ...this.current.info, mode: this.mode || null, missing: this.missing, fps: this.fps, renderMs: this.renderMs, software: this.software }
      : null;
  }

  start() {
    if (this.software) this._drawSoon(); // a new character shows before the next camera frame
    if (this.running) return;
    this.running = true;
    if (this.software) return; // drawn from the camera loop: see cameraFrame
    const tick = () => {
      if (!this.running) return;
      this.renderOnce();
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  }

  // Software WebGL: the camera loop calls this once per processed frame, and every
  // SOFTWARE_FRAME_STEP-th one draws. Only a new camera frame changes the picture, and a
  // display-rate loop would make the whole page composite at 60 Hz on the CPU the camera
  // loop needs.
  cameraFrame() {
    if (this.input) for (const link of this.links) link.weights(this.input);
    if (!this.running || !this.software) return;
    if (++this._cameraFrames < SOFTWARE_FRAME_STEP) return;
    this._cameraFrames = 0;
    try {
      this.renderOnce();
    } catch (err) { // never take the camera loop down with it
      this.stop();
      this.onError(`The avatar stopped: ${err.message || err}`);
    }
  }

  _drawSoon() {
    requestAnimationFrame(() => { if (this.running) this.renderOnce(); });
  }

  stop() { this.running = false; }

  renderOnce() {
    const cur = this.current;
    if (!cur) return;
    const t0 = performance.now();
    const dt = Math.min(0.1, (t0 - this._last) / 1000);
    this._last = t0;
    const drive = !this.hold && this.input;
    if (drive) this._applyPose(cur);
    if (cur.body) cur.body.update(dt, this._pose);
    if (drive && this.mode === "expressions") this._applyWeights(cur);
    if (this.forced && cur.vrm && this.mode !== "morphs") this._applyForced(cur);
    if (cur.vrm) cur.vrm.update(dt); // VRM expressions rewrite the morphs they bind ...
    if (drive && this.mode === "morphs") this._applyWeights(cur); // ... so morphs go after
    if (this.forced && this.mode === "morphs") this._applyForced(cur);
    if (cur.cpu) cur.cpu.update();
    this.renderer.render(this.scene, this.camera);
    const t1 = performance.now();
    this.renderMs = this.renderMs * 0.9 + (t1 - t0) * 0.1;
    this._frames += 1;
    if (t1 - this._windowStart >= 1000) {
      this.fps = (this._frames * 1000) / (t1 - this._windowStart);
      this._frames = 0;
      this._windowStart = t1;
    }
  }

  _applyWeights(cur) {
    const w = this.input;
    const apply = this.apply;
    const manager = cur.vrm && cur.vrm.expressionManager;
    for (let i = 0; i < apply.length; i++) {
      const a = apply[i];
      if (!a) continue;
      if (a.expression) manager.setValue(a.expression, w[i]);
      else {
        // Under 1% a morph is invisible, yet each non-zero one costs work per vertex (in the
        // shader, or in CpuMorphs); MediaPipe leaves most of its 52 weights slightly above 0.
        const v = w[i] < MORPH_FLOOR ? 0 : w[i];
        for (let k = 0; k < a.morphs.length; k++) a.morphs[k][0].morphTargetInfluences[a.morphs[k][1]] = v;
      }
    }
  }

  _applyPose(cur) {
    const w = this.input;
    const n = this.apply.length;
    const yaw = w[n], pitch = w[n + 1], roll = w[n + 2];
    this._pose[0] = -pitch;
    this._pose[1] = yaw;
    this._pose[2] = -roll;
    if (!cur.body) turnHead(cur.head, -pitch, yaw, -roll); // a body shares it out (body.js)
    if (cur.vrm && cur.vrm.lookAt) {
      cur.vrm.lookAt.yaw = THREE.MathUtils.radToDeg(w[n + 3]);
      cur.vrm.lookAt.pitch = THREE.MathUtils.radToDeg(w[n + 4]);
    }
  }

  _resize() {
    const w = this.canvas.clientWidth || this.canvas.width;
    const h = this.canvas.clientHeight || this.canvas.height;
    const scale = Math.min(1, this.maxPixels / (this.pixelRatio * Math.max(w, h)));
    this.renderer.setSize(Math.round(w * scale), Math.round(h * scale), false);
    this.camera.aspect = w / h;
    this.camera.updateProjectionMatrix();
    if (this.software && this.running) this._drawSoon(); // resizing cleared the canvas
  }
}

function isMouthOrEyes(name) {
  return /^(aa|ih|ou|ee|oh|blink|blinkLeft|blinkRight|look(Up|Down|Left|Right))$/.test(name);
}

function softwareGL() {
  const gl = document.createElement("canvas").getContext("webgl2");
  if (!gl) return true;
  const ext = gl.getExtension("WEBGL_debug_renderer_info");
  const name = ext ? String(gl.getParameter(ext.UNMASKED_RENDERER_WEBGL)) : "";
  const lose = gl.getExtension("WEBGL_lose_context");
  if (lose) lose.loseContext();
  return /swiftshader|llvmpipe|software/i.test(name);
}
