// A loaded character: what kind it is, which morphs and expressions it has, and how its head
// turns (a VRM's head bone, a node named like a head, or a pivot at the neck). Split from
// avatar.js, which draws and drives what this finds.
import * as THREE from "three";
import { VRMUtils } from "@pixiv/three-vrm";

// What a loaded file is and what it can show.
export function inspect(gltf, name) {
  const vrm = gltf.userData.vrm || null;
  const root = vrm ? vrm.scene : gltf.scene;
  if (vrm) {
    VRMUtils.removeUnnecessaryVertices(root);
    if (vrm.meta && vrm.meta.metaVersion === "0") VRMUtils.rotateVRM0(vrm);
    if (vrm.lookAt) vrm.lookAt.autoUpdate = true;
  }
  // morph name -> [[mesh, index], ...], only the meshes the morph moves: glTF gives every
  // primitive of a mesh the same targets, so most are all zero (an eyelid's target on the
  // teeth), and every non-zero influence costs a texture read per vertex when drawing.
  const morphs = new Map();
  const first = new Map(); // a morph that moves nothing keeps one entry, so it can be read
  root.traverse((obj) => {
    if (obj.isMesh && obj.morphTargetDictionary) {
      for (const [morph, i] of Object.entries(obj.morphTargetDictionary)) {
        if (!morphs.has(morph)) { morphs.set(morph, []); first.set(morph, [obj, i]); }
        if (moves(obj.geometry, i)) morphs.get(morph).push([obj, i]);
      }
    }
  });
  for (const [morph, list] of morphs) if (!list.length) list.push(first.get(morph));
  const expressions = vrm && vrm.expressionManager ? vrm.expressionManager.expressions.map((e) => e.expressionName) : [];
  const arkit = [...morphs.keys()].filter(looksArkit);
  const kind = vrm ? (vrm.meta && vrm.meta.metaVersion === "0" ? "vrm0" : "vrm1") : arkit.length >= 10 ? "arkit" : "none";
  // What turns with the head: the VRM head bone, a node named like a head, or a neck pivot.
  let top = root;
  let head;
  const vrmHead = vrm && vrm.humanoid ? vrm.humanoid.getNormalizedBoneNode("head") : null;
  const named = vrmHead ? null : findHeadNode(root);
  if (vrmHead) head = poseOf(vrmHead, root, { normalized: true });
  else if (named) head = poseOf(named, root);
  else {
    top = pivotRoot(root);
    head = poseOf(top, top, { isHead: false });
  }
  return {
    root: top, vrm, morphs, head,
    info: { kind, name, expressions, morphs: [...morphs.keys()], arkitMorphs: arkit.length,
            lookAt: Boolean(vrm && vrm.lookAt) },
  };
}

// Whether any VRM expression changes a material (colour or texture binds), which then must
// stay the very material the file made.
export function bindsMaterials(vrm) {
  const m = vrm && vrm.expressionManager;
  return Boolean(m && m.expressions.some((e) => (e.binds || []).some((b) => b.material)));
}

// Whether morph target i changes this geometry at all.
function moves(geometry, i) {
  const attrs = geometry.morphAttributes;
  for (const key of ["position", "normal"]) {
    const attr = attrs[key] && attrs[key][i];
    if (!attr) continue;
    const a = attr.isInterleavedBufferAttribute ? null : attr.array;
    if (!a) return true; // interleaved: not worth unpacking to find out
    for (let k = 0; k < a.length; k++) if (a[k] !== 0) return true;
  }
  return false;
}

// --- head rotation ---------------------------------------------------------------------------
// The pose turns the head in the character's own frame (+Z forward, +Y up). A VRM's normalized
// head bone has no rest rotation, so the angles go straight in. Other characters' head nodes
// have a rest rotation and parents with their own axes: the turn is carried into the parent's
// frame and put before the rest rotation. Without a head node the whole character turns about
// a pivot near its neck, never about its feet.
const _euler = new THREE.Euler();
const _turn = new THREE.Quaternion();

function poseOf(node, root, { normalized = false, isHead = true } = {}) {
  root.updateMatrixWorld(true);
  const rootInv = root.getWorldQuaternion(new THREE.Quaternion()).invert();
  const parent = node.parent && node !== root ? node.parent.getWorldQuaternion(new THREE.Quaternion()) : rootInv.clone().invert();
  const toParent = rootInv.multiply(parent); // the parent's rotation in the character's frame
  return { node, normalized, isHead, rest: node.quaternion.clone(), toParent, fromParent: toParent.clone().invert() };
}

// A bone or node called "Head" in any rig's style (Head, mixamorig:Head, J_Bip_C_Head); bones
// first. "Forehead" or "HeadTop_End" are not heads.
function findHeadNode(root) {
  let found = null;
  root.traverse((obj) => {
    if (!obj.isMesh && /(^|[^a-z])head$/i.test(obj.name) && (!found || (obj.isBone && !found.isBone))) found = obj;
  });
  return found;
}

// Wraps a character without a head node in a group whose origin sits where a neck would be (a
// sixth of the way up a bust or a head), so turning the group turns the head about its base.
function pivotRoot(root) {
  root.updateMatrixWorld(true);
  const box = new THREE.Box3().setFromObject(root);
  const pivot = new THREE.Group();
  pivot.name = "mimic-pivot";
  if (!box.isEmpty()) {
    const at = box.getCenter(new THREE.Vector3());
    at.y = box.min.y + (box.max.y - box.min.y) / 6;
    pivot.position.copy(at);
    root.position.sub(at);
  }
  pivot.add(root);
  pivot.updateMatrixWorld(true);
  return pivot;
}

export function turnHead(pose, x, y, z) {
  _turn.setFromEuler(_euler.set(x, y, z, "YXZ"));
  if (pose.normalized) {
    pose.node.quaternion.copy(_turn);
    return;
  }
  // local' = parent^-1 * turn * parent * rest
  pose.node.quaternion.copy(pose.fromParent).multiply(_turn).multiply(pose.toParent).multiply(pose.rest);
}

// The 52 ARKit blendshape names; a character's morphs count as ARKit whatever their spelling.
const ARKIT = new Set("browDownLeft,browDownRight,browInnerUp,browOuterUpLeft,browOuterUpRight,cheekPuff,cheekSquintLeft,cheekSquintRight,eyeBlinkLeft,eyeBlinkRight,eyeLookDownLeft,eyeLookDownRight,eyeLookInLeft,eyeLookInRight,eyeLookOutLeft,eyeLookOutRight,eyeLookUpLeft,eyeLookUpRight,eyeSquintLeft,eyeSquintRight,eyeWideLeft,eyeWideRight,jawForward,jawLeft,jawOpen,jawRight,mouthClose,mouthDimpleLeft,mouthDimpleRight,mouthFrownLeft,mouthFrownRight,mouthFunnel,mouthLeft,mouthLowerDownLeft,mouthLowerDownRight,mouthPressLeft,mouthPressRight,mouthPucker,mouthRight,mouthRollLower,mouthRollUpper,mouthShrugLower,mouthShrugUpper,mouthSmileLeft,mouthSmileRight,mouthStretchLeft,mouthStretchRight,mouthUpperUpLeft,mouthUpperUpRight,noseSneerLeft,noseSneerRight,tongueOut"
  .split(",").map(morphKey));

// Same normalisation as mimic.retarget.morph_key: last path part, lower case, _L/_R -> left/right.
function morphKey(name) {
  let low = String(name).split(/[.|:/]/).pop().toLowerCase();
  let side = "";
  const m = low.match(/(?:[_\-. ]?)(l|r|left|right)$/);
  if (m && (m[1].length > 1 || /[_\-. ][lr]$/.test(low))) {
    side = m[1].startsWith("l") ? "left" : "right";
    low = low.slice(0, m.index);
  }
  return low.replace(/[^a-z0-9]/g, "") + side;
}

function looksArkit(name) {
  return ARKIT.has(morphKey(name));
}

// Whether WebGL here is drawn on the CPU (SwiftShader, llvmpipe), asked of a throwaway
// context before the renderer's is made, as antialiasing is fixed at creation.
export function disposeRoot(root) {
  root.traverse((obj) => {
    if (obj.geometry) obj.geometry.dispose();
    const mats = obj.material ? (Array.isArray(obj.material) ? obj.material : [obj.material]) : [];
    for (const m of mats) {
      for (const v of Object.values(m)) if (v && v.isTexture) v.dispose();
      m.dispose();
    }
  });
}
