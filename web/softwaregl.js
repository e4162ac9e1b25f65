// Cheaper drawing for software WebGL (SwiftShader, llvmpipe: no GPU), where every vertex and
// pixel of the avatar is computed on the CPU the camera loop needs.
import * as THREE from "three";

// Rough, non-metallic PBR materials (the usual for stylised characters) drawn with Lambert
// shading: the same colours and textures without the PBR lighting maths per pixel. MToon and
// other materials are left as they are.
export function simplifyMaterials(root) {
  root.traverse((mesh) => {
    if (!mesh.isMesh) return;
    const swap = (m) => (m && m.isMeshStandardMaterial && m.metalness === 0 && !m.envMap ? lambert(m) : m);
    mesh.material = Array.isArray(mesh.material) ? mesh.material.map(swap) : swap(mesh.material);
  });
}

function lambert(m) {
  const out = new THREE.MeshLambertMaterial();
  for (const key of ["name", "color", "map", "emissive", "emissiveMap", "emissiveIntensity", "normalMap",
    "normalScale", "alphaMap", "aoMap", "aoMapIntensity", "transparent", "opacity", "alphaTest", "side",
    "vertexColors", "depthWrite", "depthTest", "flatShading", "visible", "userData"]) {
    const v = m[key];
    out[key] = v && typeof v.clone === "function" && !v.isTexture ? v.clone() : v;
  }
  m.dispose();
  return out;
}

// Morph targets blended on the CPU.
//
// three.js blends morph targets in the vertex shader: every vertex loops over every target of
// its mesh, which a GPU does for free but software WebGL (SwiftShader, llvmpipe) pays for on
// every vertex of every frame, used or not: about 7 ms a frame for the built-in head, time the
// camera loop needs. Here each target is kept as a sparse list of the vertices it moves, and
// only the targets in use are added up in JS; the mesh is then drawn as a plain mesh.
// mesh.morphTargetInfluences stays where it is, so three-vrm and the avatar code write weights
// the same way as before.

export class CpuMorphs {
  constructor(root) {
    this.meshes = [];
    root.traverse((mesh) => {
      const geometry = mesh.isMesh ? mesh.geometry : null;
      if (!geometry || !geometry.morphAttributes.position || !mesh.morphTargetInfluences) return;
      if (!plainXyz(geometry.attributes.position)) return; // quantized: left to the shader
      this.meshes.push(blendable(mesh));
    });
  }

  // Re-blends the meshes whose weights changed since the last call.
  update() {
    for (const m of this.meshes) {
      const w = m.mesh.morphTargetInfluences;
      let same = true;
      for (let i = 0; i < w.length; i++) {
        if (w[i] !== m.last[i]) { same = false; m.last[i] = w[i]; }
      }
      if (same) continue;
      blend(m.position, m.positionTargets, w);
      if (m.normal) blend(m.normal, m.normalTargets, w);
    }
  }
}

function plainXyz(attr) {
  const array = attr.isInterleavedBufferAttribute ? attr.data.array : attr.array;
  return attr.itemSize === 3 && !attr.normalized && array instanceof Float32Array;
}

function blendable(mesh) {
  // A copy without the targets (attributes may be shared with other meshes; the targets are
  // read, not copied): it is drawn without the shader's morph loop.
  const source = mesh.geometry;
  const morph = source.morphAttributes;
  source.morphAttributes = {};
  const geometry = source.clone();
  source.morphAttributes = morph;
  const relative = source.morphTargetsRelative;
  const out = { mesh, last: new Float32Array(mesh.morphTargetInfluences.length).fill(NaN) };
  for (const key of ["position", "normal"]) {
    const targets = morph[key];
    const attr = geometry.attributes[key];
    if (!targets || !attr || !plainXyz(attr)) continue;
    const flat = attr.isInterleavedBufferAttribute ? attr.clone() : attr; // plain xyz array
    if (flat !== attr) geometry.setAttribute(key, flat);
    flat.setUsage(35048); // gl.DYNAMIC_DRAW
    out[key] = { attr: flat, base: Float32Array.from(flat.array) };
    out[`${key}Targets`] = targets.map((t) => sparse(t, out[key].base, relative));
  }
  mesh.geometry = geometry;
  return out;
}

// The vertices a target moves: their indices and xyz offsets.
function sparse(target, base, relative) {
  const n = target.count;
  const index = [];
  const delta = [];
  for (let v = 0; v < n; v++) {
    const x = target.getX(v) - (relative ? 0 : base[3 * v]);
    const y = target.getY(v) - (relative ? 0 : base[3 * v + 1]);
    const z = target.getZ(v) - (relative ? 0 : base[3 * v + 2]);
    if (x !== 0 || y !== 0 || z !== 0) { index.push(v); delta.push(x, y, z); }
  }
  return { index: Int32Array.from(index), delta: Float32Array.from(delta) };
}

function blend({ attr, base }, targets, weights) {
  const out = attr.array;
  out.set(base);
  for (let t = 0; t < targets.length; t++) {
    const w = weights[t];
    if (!w) continue;
    const { index, delta } = targets[t];
    for (let k = 0; k < index.length; k++) {
      const o = 3 * index[k];
      out[o] += w * delta[3 * k];
      out[o + 1] += w * delta[3 * k + 1];
      out[o + 2] += w * delta[3 * k + 2];
    }
  }
  attr.needsUpdate = true;
}
