"""The built-in avatar file that scripts/make_avatar.py writes: a valid VRM 1.0 GLB."""

import json
import math
import struct
import sys
from functools import cache
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

import make_avatar

PRESETS = ("happy", "angry", "sad", "relaxed", "surprised", "aa", "ih", "ou", "ee", "oh",
           "blink", "blinkLeft", "blinkRight", "neutral", "lookUp", "lookDown", "lookLeft",
           "lookRight")


def parse_glb(data: bytes) -> tuple[dict, bytes]:
    magic, version, total = struct.unpack_from("<4sII", data)
    assert (magic, version, total) == (b"glTF", 2, len(data))
    json_len, kind = struct.unpack_from("<I4s", data, 12)
    assert kind == b"JSON"
    doc = json.loads(data[20:20 + json_len])
    bin_len, kind = struct.unpack_from("<I4s", data, 20 + json_len)
    assert kind == b"BIN\0"
    return doc, data[28 + json_len:28 + json_len + bin_len]


@cache
def built(vrm: bool = True) -> bytes:
    return make_avatar.build(vrm=vrm)


def test_output_is_deterministic_and_small():
    assert built() == make_avatar.build(vrm=True)
    assert len(built()) < 1_000_000


def test_it_is_a_vrm_1_with_every_preset_bound_to_real_morphs():
    doc, _ = parse_glb(built())
    vrm = doc["extensions"]["VRMC_vrm"]
    assert doc["extensionsUsed"] == ["VRMC_vrm"] and vrm["specVersion"] == "1.0"
    presets = vrm["expressions"]["preset"]
    assert set(PRESETS) <= set(presets)
    face = next(i for i, n in enumerate(doc["nodes"]) if n.get("name") == "Face")
    for name, expr in presets.items():
        for bind in expr["morphTargetBinds"]:
            assert bind["node"] == face and 0 <= bind["index"] < 52, name
        assert expr["morphTargetBinds"] or name == "neutral", name
    bones = vrm["humanoid"]["humanBones"]
    for bone in ("hips", "spine", "head", "leftUpperArm", "rightFoot", "leftEye"):
        assert bones[bone]["node"] < len(doc["nodes"])
    assert vrm["meta"]["authors"] and vrm["meta"]["licenseUrl"]


def test_every_face_primitive_carries_the_52_arkit_morphs():
    doc, blob = parse_glb(built())
    face = next(m for m in doc["meshes"] if m["name"] == "Face")
    assert face["extras"]["targetNames"] == list(make_avatar.ARKIT)
    assert len(make_avatar.ARKIT) == 52
    moved = set()
    for prim in face["primitives"]:
        count = doc["accessors"][prim["attributes"]["POSITION"]]["count"]
        assert len(prim["targets"]) == 52
        for k, target in enumerate(prim["targets"]):
            acc = doc["accessors"][target["POSITION"]]
            assert acc["count"] == count
            sparse = acc.get("sparse")
            if sparse or "bufferView" in acc:
                moved.add(make_avatar.ARKIT[k])
            if sparse:
                view = doc["bufferViews"][sparse["indices"]["bufferView"]]
                indices = struct.unpack_from(f"<{sparse['count']}I", blob, view["byteOffset"])
                assert max(indices) < count and list(indices) == sorted(set(indices))
    assert moved == set(make_avatar.ARKIT), "every ARKit morph must move something"


def test_arkit_only_file_has_the_morphs_but_no_vrm():
    doc, _ = parse_glb(built(vrm=False))
    assert "extensions" not in doc and "extensionsUsed" not in doc
    face = next(m for m in doc["meshes"] if m["name"] == "Face")
    assert "jawOpen" in face["extras"]["targetNames"]


# --- the morphs' size and sanity, read back from the file ------------------------------------

EYE_R = make_avatar.EYE_R


def read_vec3(doc: dict, blob: bytes, index: int) -> np.ndarray:
    """A VEC3 float accessor, dense or sparse (zeros where a sparse one says nothing)."""
    acc = doc["accessors"][index]
    n = acc["count"]
    out = np.zeros((n, 3), np.float32)
    if "bufferView" in acc:
        view = doc["bufferViews"][acc["bufferView"]]
        out[:] = np.frombuffer(blob, np.float32, n * 3, view["byteOffset"]).reshape(n, 3)
    if "sparse" in acc:
        sparse = acc["sparse"]
        at = doc["bufferViews"][sparse["indices"]["bufferView"]]["byteOffset"]
        idx = np.frombuffer(blob, np.uint32, sparse["count"], at)
        at = doc["bufferViews"][sparse["values"]["bufferView"]]["byteOffset"]
        out[idx] = np.frombuffer(blob, np.float32, sparse["count"] * 3, at).reshape(-1, 3)
    return out.astype(float)


@cache
def face() -> tuple[dict, dict]:
    """Material name -> (rest positions in the avatar's frame, {morph: offsets}), and the
    VRM presets as ARKit weights."""
    doc, blob = parse_glb(built())
    mesh = next(m for m in doc["meshes"] if m["name"] == "Face")
    parts = {}
    for prim in mesh["primitives"]:
        name = doc["materials"][prim["material"]]["name"]
        assert name not in parts, f"two face primitives are {name}"
        rest = read_vec3(doc, blob, prim["attributes"]["POSITION"]) + make_avatar.HEAD_BONE
        parts[name] = (rest, {make_avatar.ARKIT[k]: read_vec3(doc, blob, t["POSITION"])
                              for k, t in enumerate(prim["targets"])})
    presets = {name: {make_avatar.ARKIT[b["index"]]: b["weight"] for b in e["morphTargetBinds"]}
               for name, e in doc["extensions"]["VRMC_vrm"]["expressions"]["preset"].items()}
    return parts, presets


def shaped(weights: dict[str, float]) -> dict[str, np.ndarray]:
    """Every face part's positions with these ARKit weights (as a renderer blends them)."""
    parts, _ = face()
    return {name: rest + sum((w * targets[m] for m, w in weights.items()), np.zeros_like(rest))
            for name, (rest, targets) in parts.items()}


def both(name: str, w: float = 1.0) -> dict[str, float]:
    return {name + "Left": w, name + "Right": w}


def moved(weights: dict[str, float], part: str) -> np.ndarray:
    parts, _ = face()
    return shaped(weights)[part] - parts[part][0]


def height(points: np.ndarray) -> np.ndarray:
    """How far in front of the head's surface points are (negative: inside the head)."""
    return points[:, 2] - make_avatar.head_surface_z(points[:, 0], points[:, 1])


def test_morphs_are_big_enough_to_read_at_a_glance():
    """Sizes at weight 1 on a head 0.24 m tall, eyes 76 mm apart (the browser test checks how
    they look): the brows' inner ends travel 15 mm or more and tilt the brow, a smile lifts
    its corners 10 mm and widens the mouth, lids cover or bare the iris."""
    parts, _ = face()
    brows = parts["brow"][0]
    left = brows[:, 0] > 0
    inner = left & (brows[:, 0] < brows[left, 0].min() + 0.003)
    outer = left & (brows[:, 0] > brows[left, 0].max() - 0.003)
    dy = {m: moved({m: 1}, "brow")[:, 1] for m in ("browDownLeft", "browInnerUp",
                                                     "browOuterUpLeft")}
    assert dy["browDownLeft"][inner].max() < -0.015  # down by more than twice its thickness
    assert dy["browDownLeft"][outer].min() - dy["browDownLeft"][inner].max() > 0.010  # slanted
    assert dy["browInnerUp"][inner].min() > 0.014
    assert np.abs(dy["browInnerUp"][outer]).max() < 0.004
    assert dy["browOuterUpLeft"][outer].min() > 0.010

    lips = parts["lips"][0]
    corner = lips[:, 0] > lips[:, 0].max() - 0.001
    middle = np.abs(lips[:, 0]) < 0.001
    smile = moved({"mouthSmileLeft": 1}, "lips")
    assert smile[corner, 1].min() > 0.010 and smile[corner, 0].min() > 0.004
    assert np.abs(smile[middle]).max() < 0.001  # a curve: the middle stays
    assert moved({"mouthFrownLeft": 1}, "lips")[corner, 1].max() < -0.010

    def lid_edge(weights: dict[str, float], lower: bool) -> float:
        """How high (in eye radii from its centre) a lid's edge is, in front of the left eye."""
        lids = shaped(weights)["lid"]
        eye = make_avatar.EYES[1]
        front = (np.abs(lids[:, 0] - eye[0]) < 0.002) & (lids[:, 2] > eye[2] + 0.5 * EYE_R)
        is_lower = parts["lid"][0][:, 1] < eye[1]  # at rest each lid keeps to its half
        y = lids[front & (is_lower if lower else ~is_lower), 1] - eye[1]
        return float((y.max() if lower else y.min()) / EYE_R)

    iris_top = 0.52  # the iris cap reaches 0.55 rad from the eye's front
    assert lid_edge({}, False) > iris_top - 0.08  # open: the lid over the iris' very top only
    assert lid_edge({"eyeWideLeft": 1}, False) > lid_edge({}, False) + 0.35  # white over iris
    assert lid_edge({"eyeBlinkLeft": 1}, False) <= lid_edge({"eyeBlinkLeft": 1}, True) + 0.02
    assert lid_edge({"eyeSquintLeft": 1}, True) > lid_edge({}, True) + 0.5
    assert lid_edge({"eyeSquintLeft": 1}, True) > -iris_top  # the lower lid over the iris

    cheek = moved({"cheekSquintLeft": 1}, "cheek")
    assert cheek[parts["cheek"][0][:, 0] > 0, 1].min() > 0.005
    nose = moved({"noseSneerLeft": 1}, "skin")[:, 1]
    assert nose.max() > 0.005


LID_MORPHS = ("eyeBlinkLeft", "eyeSquintLeft", "cheekSquintLeft", "eyeWideLeft")


def combinations() -> list[tuple[str, dict[str, float]]]:
    """Weights a face gives together: every VRM preset, presets with the mouth open or the
    eyes shut, ARKit shapes at 1 together (even opposite ones), the lids over a grid."""
    _, presets = face()
    out = [(name, mix) for name, mix in presets.items()]
    arkit = {
        "happy + jawOpen": {**presets["happy"], "jawOpen": 1},
        "surprised + aa": {**presets["surprised"], **presets["aa"]},
        "angry + blink": {**presets["angry"], **presets["blink"]},
        "sad + ou": {**presets["sad"], **presets["ou"]},
        "brows all": {**both("browDown"), "browInnerUp": 1, **both("browOuterUp")},
        "smile + frown + stretch": {**both("mouthSmile"), **both("mouthFrown"),
                                    **both("mouthStretch")},
        "smile + dimple + jawOpen": {**both("mouthSmile"), **both("mouthDimple"),
                                     "jawOpen": 1, **both("mouthUpperUp")},
        "frown + lowerDown + jawOpen": {**both("mouthFrown"), **both("mouthLowerDown"),
                                        "jawOpen": 1, **both("mouthPress")},
        "sneer + upperUp + smile": {**both("noseSneer"), **both("mouthUpperUp"),
                                    **both("mouthSmile"), **both("cheekSquint")},
        "pucker + funnel + left": {"mouthPucker": 1, "mouthFunnel": 1, "mouthLeft": 1,
                                   "jawLeft": 1},
        # all at once but the lids' opposite (eyeWide) and what hides the lips or shows the
        # tongue on purpose
        "everything": {m: 1.0 for m in make_avatar.ARKIT
                       if not m.startswith(("mouthRoll", "tongue", "eyeWide"))},
    }
    out += list(arkit.items())
    steps = (0.0, 0.5, 1.0)
    for ws in np.array(np.meshgrid(*[steps] * len(LID_MORPHS))).reshape(len(LID_MORPHS), -1).T:
        mix = dict(zip(LID_MORPHS, ws, strict=True))
        if mix["eyeWideLeft"] + mix["eyeBlinkLeft"] <= 1:  # opposites: one or the other
            out.append((f"lids {ws}", mix))
    return out


def test_shapes_stay_on_the_face_in_combinations():
    """Lids stay outside the eyeballs, brows on the forehead below the hair, lips on the skin,
    and the mouth's inside, teeth and tongue in the head, however shapes combine."""
    hair = make_avatar.build_hair().pos
    edge = hair[-len(hair) // 15:]  # the last ring: the hairline
    edge = edge[edge[:, 2] > 0]
    edge = edge[np.argsort(edge[:, 0])]
    for label, weights in combinations():
        shape = shaped(weights)
        for part in ("lid", "lash"):
            for side, eye in make_avatar.EYES.items():
                rel = shape[part][(face()[0][part][0][:, 0] > 0) == (side > 0)] - eye
                dist = np.linalg.norm(rel, axis=1) / EYE_R
                # clear of the iris and pupil (raised 1.2% and 2% off the eye) in front, of
                # the white elsewhere
                front = rel[:, 2] / np.maximum(dist * EYE_R, 1e-9) > math.cos(0.6)
                gap = (dist - np.where(front, 1.025, 1.005)).min()
                assert gap > 0, f"{label}: the {part} goes into the eye ({gap:+.3f} radii)"
        brows = shape["brow"]
        assert height(brows).min() > -0.0005, f"{label}: the brows sink into the forehead"
        hairline = np.interp(brows[:, 0], edge[:, 0], edge[:, 1])
        assert (brows[:, 1] < hairline - 0.002).all(), f"{label}: the brows reach the hair"
        for eye in make_avatar.EYES.values():
            assert np.linalg.norm(brows - eye, axis=1).min() > make_avatar.LID_R * 1.05, (
                f"{label}: a brow runs into an eye")
        if not any(m.startswith("mouthRoll") for m in weights):
            assert height(shape["lips"]).min() > -0.0015, f"{label}: the lips sink in"
        assert height(shape["teeth"]).max() < -0.001, f"{label}: the teeth show through"
        assert shape["tongue"][:, 2].max() < shape["lips"][:, 2].max() - 0.003, (
            f"{label}: the tongue comes out")  # tongueOut is left out
        assert shape["mouth"][:, 2].max() < shape["lips"][:, 2].max(), (
            f"{label}: the mouth's inside pokes out past the lips")
        for part in ("lips", "mouth", "teeth", "tongue"):  # on the front of the face
            assert (np.abs(shape[part][:, 0]) < 0.055).all(), f"{label}: {part} too wide"
            assert (shape[part][:, 2] > 0.04).all(), f"{label}: {part} goes through the head"
