"""Build the app's built-in avatar: a friendly stylised head as a VRM 1.0 file.

The app must work out of the box without shipping anyone else's character, so this script
makes one from numpy geometry: head, hair, ears, nose, eyes with upper and lower lids and
lashes, brows, lips, teeth and tongue, on a bust. It carries both ways of being driven:

- the 52 ARKit morph targets ("perfect sync", e.g. `eyeBlinkLeft`, `jawOpen`, `tongueOut`),
  driven straight from MediaPipe's weights with no training;
- every VRM 1.0 expression preset (happy, angry, sad, relaxed, surprised, aa, ih, ou, ee, oh,
  blink, blinkLeft, blinkRight, lookUp/Down/Left/Right), each bound to a mix of those morphs,
  driven by a trained model.

"Left" is the character's own left (+X; VRM characters face +Z), as in ARKit. The output is
deterministic (same bytes every run) and small; morph targets are stored as sparse accessors
because each touches only a few parts of the face. `--arkit-only` writes a plain glTF binary
with the ARKit morphs and no VRM extension, as a "perfect sync" character from other tools is.

Usage: python scripts/make_avatar.py [-o web/generated/mimic-head.vrm] [--arkit-only]
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
from pathlib import Path

import numpy as np

from avatar_geometry import (  # noqa: F401 - tests read them here
    COLOURS,
    EYE_R,
    EYES,
    HEAD_BONE,
    HEAD_C,
    LID_R,
    MOUTH_Y,
    build_body,
    build_brows,
    build_cheeks,
    build_eyes,
    build_hair,
    build_lashes,
    build_lids,
    build_mouth,
    build_skin,
    head_surface_z,
)
from avatar_morphs import morphs

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "web" / "generated" / "mimic-head.vrm"
SOURCES = ("make_avatar.py", "avatar_geometry.py", "avatar_morphs.py")

ARKIT = (
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight",
    "eyeBlinkLeft", "eyeBlinkRight", "eyeLookDownLeft", "eyeLookDownRight",
    "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft", "eyeLookOutRight",
    "eyeLookUpLeft", "eyeLookUpRight", "eyeSquintLeft", "eyeSquintRight",
    "eyeWideLeft", "eyeWideRight",
    "jawForward", "jawLeft", "jawOpen", "jawRight",
    "mouthClose", "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft", "mouthFrownRight",
    "mouthFunnel", "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight",
    "mouthPressLeft", "mouthPressRight", "mouthPucker", "mouthRight",
    "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper",
    "mouthSmileLeft", "mouthSmileRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthUpperUpLeft", "mouthUpperUpRight", "noseSneerLeft", "noseSneerRight", "tongueOut",
)

# VRM 1.0 presets as mixes of ARKit morphs ("L"/"R" suffixes expand to Left/Right).
EXPRESSIONS: dict[str, dict[str, float]] = {
    "happy": {"mouthSmile": 1.0, "cheekSquint": 0.7, "eyeSquint": 0.45, "mouthDimple": 0.3},
    "angry": {"browDown": 1.0, "mouthFrown": 0.7, "noseSneer": 0.6, "eyeSquint": 0.3,
              "mouthPress": 0.4},
    "sad": {"browInnerUp": 1.0, "mouthFrown": 0.9, "mouthShrugLower": 0.5, "eyeSquint": 0.15},
    "relaxed": {"mouthSmile": 0.55, "eyeBlink": 0.35, "cheekSquint": 0.25},
    "surprised": {"browInnerUp": 0.8, "browOuterUp": 1.0, "eyeWide": 1.0, "jawOpen": 0.45,
                  "mouthFunnel": 0.3},
    "aa": {"jawOpen": 0.75, "mouthLowerDown": 0.3},
    "ih": {"jawOpen": 0.25, "mouthStretch": 0.6, "mouthUpperUp": 0.2},
    "ou": {"mouthPucker": 1.0, "jawOpen": 0.2},
    "ee": {"mouthStretch": 0.8, "mouthSmile": 0.3, "jawOpen": 0.15},
    "oh": {"mouthFunnel": 0.9, "jawOpen": 0.45},
    "blink": {"eyeBlink": 1.0},
    "blinkLeft": {"eyeBlinkLeft": 1.0},
    "blinkRight": {"eyeBlinkRight": 1.0},
    "lookUp": {"eyeLookUp": 1.0},
    "lookDown": {"eyeLookDown": 1.0},
    "lookLeft": {"eyeLookOutLeft": 1.0, "eyeLookInRight": 1.0},
    "lookRight": {"eyeLookInLeft": 1.0, "eyeLookOutRight": 1.0},
}


class GlbWriter:
    """Accumulates binary data and glTF JSON objects; writes one .glb/.vrm file."""

    def __init__(self) -> None:
        self.bin = bytearray()
        self.views: list[dict] = []
        self.accessors: list[dict] = []

    def _view(self, data: bytes, target: int | None = None) -> int:
        while len(self.bin) % 4:
            self.bin.append(0)
        view = {"buffer": 0, "byteOffset": len(self.bin), "byteLength": len(data)}
        if target:
            view["target"] = target
        self.bin += data
        self.views.append(view)
        return len(self.views) - 1

    def vec3(self, values: np.ndarray, bounds: bool = True, target: int = 34962) -> int:
        arr = np.ascontiguousarray(values, np.float32)
        acc = {"bufferView": self._view(arr.tobytes(), target), "componentType": 5126,
               "count": len(arr), "type": "VEC3"}
        if bounds:
            acc["min"] = [round(float(v), 6) for v in arr.min(axis=0)]
            acc["max"] = [round(float(v), 6) for v in arr.max(axis=0)]
        self.accessors.append(acc)
        return len(self.accessors) - 1

    def indices(self, idx: np.ndarray) -> int:
        arr = np.ascontiguousarray(idx, np.uint32)
        self.accessors.append({"bufferView": self._view(arr.tobytes(), 34963),
                               "componentType": 5125, "count": len(arr), "type": "SCALAR"})
        return len(self.accessors) - 1

    def morph(self, delta: np.ndarray) -> int:
        """A morph target's offsets: sparse when few vertices move, all zeros when none."""
        arr = np.ascontiguousarray(np.round(delta, 7), np.float32)
        moving = np.flatnonzero(np.abs(arr).max(axis=1) > 1e-7)
        acc: dict = {"componentType": 5126, "count": len(arr), "type": "VEC3"}
        lo = arr.min(axis=0) if len(moving) else np.zeros(3)
        hi = arr.max(axis=0) if len(moving) else np.zeros(3)
        acc["min"] = [round(float(v), 7) for v in lo]
        acc["max"] = [round(float(v), 7) for v in hi]
        if len(moving) and len(moving) > 0.6 * len(arr):
            acc["bufferView"] = self._view(arr.tobytes())
        elif len(moving):
            acc["sparse"] = {
                "count": len(moving),
                "indices": {"bufferView": self._view(moving.astype(np.uint32).tobytes()),
                            "componentType": 5125},
                "values": {"bufferView": self._view(arr[moving].tobytes())},
            }
        self.accessors.append(acc)
        return len(self.accessors) - 1

    def glb(self, doc: dict) -> bytes:
        doc["buffers"] = [{"byteLength": len(self.bin)}]
        doc["bufferViews"] = self.views
        doc["accessors"] = self.accessors
        text = json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()
        text += b" " * (-len(text) % 4)
        body = bytes(self.bin) + b"\0" * (-len(self.bin) % 4)
        total = 12 + 8 + len(text) + 8 + len(body)
        return b"".join([struct.pack("<4sII", b"glTF", 2, total),
                         struct.pack("<I4s", len(text), b"JSON"), text,
                         struct.pack("<I4s", len(body), b"BIN\0"), body])


BONES = [  # name, parent, local translation
    ("hips", None, (0, 0.95, 0)), ("spine", "hips", (0, 0.08, 0)),
    ("chest", "spine", (0, 0.12, 0)), ("upperChest", "chest", (0, 0.08, 0)),
    ("neck", "upperChest", (0, 0.09, 0)), ("head", "neck", (0, 0.08, 0)),
    ("leftEye", "head", (0.038, 0.09, 0.087)), ("rightEye", "head", (-0.038, 0.09, 0.087)),
    ("leftUpperLeg", "hips", (0.09, -0.05, 0)), ("leftLowerLeg", "leftUpperLeg", (0, -0.4, 0)),
    ("leftFoot", "leftLowerLeg", (0, -0.42, 0)),
    ("rightUpperLeg", "hips", (-0.09, -0.05, 0)),
    ("rightLowerLeg", "rightUpperLeg", (0, -0.4, 0)), ("rightFoot", "rightLowerLeg", (0, -0.42, 0)),
    ("leftUpperArm", "upperChest", (0.17, 0.06, 0)), ("leftLowerArm", "leftUpperArm", (0.25, 0, 0)),
    ("leftHand", "leftLowerArm", (0.24, 0, 0)),
    ("rightUpperArm", "upperChest", (-0.17, 0.06, 0)),
    ("rightLowerArm", "rightUpperArm", (-0.25, 0, 0)),
    ("rightHand", "rightLowerArm", (-0.24, 0, 0)),
]


def world_position(bone: str) -> np.ndarray:
    table = {name: (parent, np.array(t, float)) for name, parent, t in BONES}
    pos = np.zeros(3)
    while bone is not None:
        parent, t = table[bone]
        pos += t
        bone = parent
    return pos


def expand(mix: dict[str, float]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, w in mix.items():
        if name in ARKIT:
            out[name] = w
        else:
            for suffix in ("Left", "Right"):
                out[name + suffix] = w
    return out


def build(vrm: bool = True) -> bytes:
    parts_list = [build_skin(), build_hair(), *build_eyes(), build_lids(), build_lashes(),
                  build_brows(), *build_mouth(), build_cheeks()]
    parts = {p.name: p for p in parts_list}
    offsets = morphs(parts)
    missing = set(ARKIT) - set(offsets)
    assert not missing, f"morphs not written: {sorted(missing)}"
    w = GlbWriter()
    materials, mat_index = [], {}
    for name, rgb in COLOURS.items():
        mat_index[name] = len(materials)
        materials.append({"name": name, "doubleSided": name not in ("skin", "shirt"),
                          "pbrMetallicRoughness": {"baseColorFactor": [*rgb, 1.0],
                                                   "metallicFactor": 0.0,
                                                   "roughnessFactor": 0.85}})
    assert np.allclose(world_position("head"), HEAD_BONE), "face and head bone disagree"
    assert all(np.allclose(world_position(b), EYES[s]) for b, s in (("leftEye", 1),
                                                                    ("rightEye", -1)))
    face_prims = []
    for part in parts_list:
        local = part.pos - HEAD_BONE
        prim = {"attributes": {"POSITION": w.vec3(local), "NORMAL": w.vec3(part.nrm, False)},
                "indices": w.indices(part.idx), "material": mat_index[part.material],
                "targets": []}
        for name in ARKIT:
            delta = offsets[name].get(part.name)
            prim["targets"].append({"POSITION": w.morph(
                delta if delta is not None else np.zeros_like(local))})
        face_prims.append(prim)
    body = build_body()
    chest_world = world_position("chest")
    body_prim = {"attributes": {"POSITION": w.vec3(body.pos - chest_world),
                                "NORMAL": w.vec3(body.nrm, False)},
                 "indices": w.indices(body.idx), "material": mat_index["shirt"]}
    meshes = [{"name": "Face", "primitives": face_prims, "weights": [0.0] * len(ARKIT),
               "extras": {"targetNames": list(ARKIT)}},
              {"name": "Body", "primitives": [body_prim]}]
    nodes: list[dict] = [{"name": "Mimic", "children": []}]
    index = {}
    for name, parent, t in BONES:
        index[name] = len(nodes)
        nodes.append({"name": name, "translation": [float(v) for v in t]})
        if parent is None:
            nodes[0]["children"].append(index[name])
        else:
            nodes[index[parent]].setdefault("children", []).append(index[name])
    face_node = len(nodes)
    nodes.append({"name": "Face", "mesh": 0})
    nodes[index["head"]].setdefault("children", []).append(face_node)
    nodes.append({"name": "Body", "mesh": 1})
    nodes[index["chest"]].setdefault("children", []).append(len(nodes) - 1)
    doc: dict = {
        "asset": {"version": "2.0", "generator": "Mimic make_avatar.py"},
        "scene": 0, "scenes": [{"name": "Mimic", "nodes": [0]}],
        "nodes": nodes, "meshes": meshes, "materials": materials,
    }
    if vrm:
        doc["extensionsUsed"] = ["VRMC_vrm"]
        doc["extensions"] = {"VRMC_vrm": vrm_extension(index, face_node)}
    return w.glb(doc)


def vrm_extension(index: dict[str, int], face_node: int) -> dict:
    presets = {"neutral": {"morphTargetBinds": []}}
    for name, mix in EXPRESSIONS.items():
        binds = [{"node": face_node, "index": ARKIT.index(m), "weight": float(wt)}
                 for m, wt in sorted(expand(mix).items())]
        presets[name] = {"morphTargetBinds": binds, "isBinary": False}
        if name in ("happy", "angry", "sad", "relaxed", "surprised"):
            presets[name]["overrideBlink"] = "blend"
    return {
        "specVersion": "1.0",
        "meta": {
            "name": "Mimic", "version": "1", "authors": ["Mimic contributors"],
            "copyrightInformation": "Generated by Mimic's scripts/make_avatar.py",
            "licenseUrl": "https://vrm.dev/licenses/1.0/",
            "avatarPermission": "everyone", "allowExcessivelyViolentUsage": False,
            "allowExcessivelySexualUsage": False, "commercialUsage": "corporation",
            "allowPoliticalOrReligiousUsage": True, "allowAntisocialOrHateUsage": False,
            "creditNotation": "unnecessary", "allowRedistribution": True,
            "modification": "allowModificationRedistribution",
        },
        "humanoid": {"humanBones": {name: {"node": i} for name, i in index.items()}},
        "lookAt": {
            "type": "expression", "offsetFromHeadBone": [0.0, 0.09, 0.08],
            "rangeMapHorizontalInner": {"inputMaxValue": 30.0, "outputScale": 1.0},
            "rangeMapHorizontalOuter": {"inputMaxValue": 30.0, "outputScale": 1.0},
            "rangeMapVerticalDown": {"inputMaxValue": 25.0, "outputScale": 1.0},
            "rangeMapVerticalUp": {"inputMaxValue": 25.0, "outputScale": 1.0},
        },
        "expressions": {"preset": presets, "custom": {}},
    }


def ensure(out: Path = DEFAULT_OUT) -> Path:
    """Write the built-in avatar if it is missing or older than the scripts that make it."""
    here = Path(__file__).parent
    newest = max((here / n).stat().st_mtime for n in SOURCES)
    if not out.exists() or out.stat().st_mtime < newest:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        tmp.write_bytes(build(vrm=True))
        tmp.replace(out)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--arkit-only", action="store_true",
                    help="plain glTF binary with ARKit morphs, no VRM extension")
    args = ap.parse_args(argv)
    data = build(vrm=not args.arkit_only)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(data)
    print(f"wrote {args.output} ({len(data) / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
