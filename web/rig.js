// Where the avatar's camera looks from: framing presets (face, bust, upper body) measured in
// the character's own head size, so any rig of any scale frames the same way; drag to orbit,
// wheel to zoom, double-click to reset. The view is remembered per avatar (localStorage).
import * as THREE from "three";

// target height (head sizes from the head bone) and distance (head sizes), for a 24° lens
const PRESETS = {
  face: { lift: 0.42, dist: 4.2 },
  bust: { lift: -0.15, dist: 6.8 },
  upper: { lift: -1.1, dist: 11.5 },
};
const KEY = "mimic-view:";

export class CameraRig {
  constructor(camera, canvas, { onChange = () => {} } = {}) {
    this.camera = camera;
    this.canvas = canvas;
    this.onChange = onChange;
    this.view = { framing: "bust", yaw: 0, pitch: 0, zoom: 1 };
    this.head = new THREE.Vector3();
    this.size = 0.25;
    this.name = "";
    this._target = new THREE.Vector3();
    this._listen();
  }

  // Measure a newly loaded character: where its head is and how big.
  fit(root, headNode, name) {
    root.updateMatrixWorld(true);
    const box = new THREE.Box3().setFromObject(root);
    const headY = headNode ? headNode.getWorldPosition(new THREE.Vector3()).y
      : box.max.y - 0.3 * (box.max.y - box.min.y);
    this.size = Math.max(0.12, box.max.y - headY);
    const center = box.getCenter(new THREE.Vector3());
    this.head.set(center.x, headY, headNode ? headNode.getWorldPosition(new THREE.Vector3()).z : center.z);
    this.front = box.max.z;
    this.name = name;
    this.view = { ...this.view, yaw: 0, pitch: 0, zoom: 1, ...this._stored() };
    this.update();
    this.onChange(this.view);
  }

  set(view) {
    this.view = { ...this.view, ...view };
    this.update();
    this._store();
    this.onChange(this.view);
  }

  update() {
    const p = PRESETS[this.view.framing] || PRESETS.bust;
    this._target.set(this.head.x, this.head.y + p.lift * this.size, this.head.z);
    const dist = p.dist * this.size * this.view.zoom;
    const { yaw, pitch } = this.view;
    this.camera.position.set(
      this._target.x + dist * Math.sin(yaw) * Math.cos(pitch),
      this._target.y + dist * Math.sin(pitch),
      this._target.z + dist * Math.cos(yaw) * Math.cos(pitch),
    );
    this.camera.lookAt(this._target);
  }

  _stored() {
    try {
      const saved = JSON.parse(localStorage.getItem(KEY + this.name) || "null");
      return saved && PRESETS[saved.framing] ? saved : {};
    } catch {
      return {};
    }
  }

  _store() {
    try {
      localStorage.setItem(KEY + this.name, JSON.stringify(this.view));
    } catch { /* private windows may refuse: the view is then only for this visit */ }
  }

  _listen() {
    const c = this.canvas;
    let drag = null;
    c.addEventListener("pointerdown", (e) => {
      drag = { x: e.clientX, y: e.clientY, yaw: this.view.yaw, pitch: this.view.pitch };
      c.setPointerCapture(e.pointerId);
    });
    c.addEventListener("pointermove", (e) => {
      if (!drag) return;
      const scale = 2.5 / Math.max(200, c.clientWidth);
      this.view.yaw = clamp(drag.yaw - (e.clientX - drag.x) * scale, -1.4, 1.4);
      this.view.pitch = clamp(drag.pitch + (e.clientY - drag.y) * scale, -0.7, 0.7);
      this.update();
    });
    const end = () => {
      if (drag) this.set({});
      drag = null;
    };
    c.addEventListener("pointerup", end);
    c.addEventListener("pointercancel", end);
    c.addEventListener("wheel", (e) => {
      e.preventDefault();
      this.set({ zoom: clamp(this.view.zoom * Math.exp(e.deltaY * 0.001), 0.4, 3) });
    }, { passive: false });
    c.addEventListener("dblclick", () => this.set({ yaw: 0, pitch: 0, zoom: 1 }));
  }
}

function clamp(v, lo, hi) {
  return Math.min(hi, Math.max(lo, v));
}
