"""The built-in avatar file that scripts/make_avatar.py writes: a valid VRM 1.0 GLB."""

import json
import struct
import sys
from functools import cache
from pathlib import Path

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
