"""The blendshape table is the index every frame uses; a slip here shifts every channel."""

from types import SimpleNamespace

import numpy as np
import pytest

from mimic.blendshapes import ARKIT_INDEX, ARKIT_NAMES, COUNT, INDEX, NAMES, REGIONS, to_vector

# MediaPipe Face Landmarker's output order, typed out independently of the module.
_ORDER_TEXT = """
_neutral browDownLeft browDownRight browInnerUp browOuterUpLeft browOuterUpRight cheekPuff
cheekSquintLeft cheekSquintRight eyeBlinkLeft eyeBlinkRight eyeLookDownLeft eyeLookDownRight
eyeLookInLeft eyeLookInRight eyeLookOutLeft eyeLookOutRight eyeLookUpLeft eyeLookUpRight
eyeSquintLeft eyeSquintRight eyeWideLeft eyeWideRight jawForward jawLeft jawOpen jawRight
mouthClose mouthDimpleLeft mouthDimpleRight mouthFrownLeft mouthFrownRight mouthFunnel mouthLeft
mouthLowerDownLeft mouthLowerDownRight mouthPressLeft mouthPressRight mouthPucker mouthRight
mouthRollLower mouthRollUpper mouthShrugLower mouthShrugUpper mouthSmileLeft mouthSmileRight
mouthStretchLeft mouthStretchRight mouthUpperUpLeft mouthUpperUpRight noseSneerLeft noseSneerRight
"""
MEDIAPIPE_ORDER = _ORDER_TEXT.split()


def test_names_are_mediapipe_order():
    assert len(MEDIAPIPE_ORDER) == 52
    assert tuple(MEDIAPIPE_ORDER) == NAMES
    assert COUNT == 52
    assert all(INDEX[name] == i for i, name in enumerate(MEDIAPIPE_ORDER))
    assert len(INDEX) == 52


def test_regions_partition_all_channels_but_neutral():
    assert set(REGIONS) == {"brows", "eyes", "cheeks", "nose", "mouth", "jaw"}
    counts = np.zeros(COUNT, int)
    for idx in REGIONS.values():
        assert idx.dtype.kind == "i"
        np.add.at(counts, idx, 1)
    assert counts[0] == 0
    assert (counts[1:] == 1).all()


@pytest.mark.parametrize("name, region", [
    ("cheekSquintLeft", "cheeks"), ("cheekSquintRight", "cheeks"), ("cheekPuff", "cheeks"),
    ("eyeSquintLeft", "eyes"), ("eyeWideRight", "eyes"), ("eyeLookUpLeft", "eyes"),
    ("eyeBlinkRight", "eyes"), ("jawOpen", "jaw"), ("jawForward", "jaw"),
    ("mouthClose", "mouth"), ("mouthSmileLeft", "mouth"), ("noseSneerRight", "nose"),
    ("browInnerUp", "brows"), ("browOuterUpRight", "brows"),
])
def test_region_membership(name, region):
    assert INDEX[name] in REGIONS[region].tolist()


def test_region_sizes():
    sizes = {r: len(i) for r, i in REGIONS.items()}
    assert sizes == {"brows": 5, "eyes": 14, "cheeks": 3, "nose": 2, "mouth": 23, "jaw": 4}


def test_regions_are_read_only():
    with pytest.raises(ValueError):
        REGIONS["jaw"][0] = 1


def test_arkit_names():
    assert ARKIT_NAMES[0] is None
    assert len(ARKIT_NAMES) == COUNT
    assert ARKIT_NAMES[INDEX["eyeBlinkLeft"]] == "EyeBlinkLeft"
    assert ARKIT_NAMES[INDEX["mouthSmileRight"]] == "MouthSmileRight"
    assert ARKIT_NAMES[INDEX["noseSneerLeft"]] == "NoseSneerLeft"
    for name, arkit in zip(NAMES[1:], ARKIT_NAMES[1:], strict=True):
        assert arkit[0].isupper() and arkit[1:] == name[1:] and arkit.lower() == name.lower()
    assert ARKIT_INDEX["JawOpen"] == INDEX["jawOpen"]
    assert len(ARKIT_INDEX) == 51


SCORES = [((i * 37) % 101) / 101.0 for i in range(COUNT)]
EXPECTED = np.array(SCORES, dtype=np.float32)


@pytest.mark.parametrize("kind", ["floats", "objects", "dicts", "array", "tuple", "wrapped"])
def test_to_vector_inputs(kind):
    pairs = list(zip(SCORES, NAMES, strict=True))
    data = {
        "floats": SCORES,
        "objects": [SimpleNamespace(score=s, categoryName=n) for s, n in pairs],
        "dicts": [{"score": s, "categoryName": n} for s, n in pairs],
        "array": np.array(SCORES),
        "tuple": tuple(SCORES),
        "wrapped": SimpleNamespace(categories=[SimpleNamespace(score=s) for s in SCORES]),
    }[kind]
    vec = to_vector(data)
    assert vec.dtype == np.float32 and vec.shape == (COUNT,)
    assert vec.tobytes() == EXPECTED.tobytes()


def test_to_vector_writes_into_out():
    out = np.full(COUNT, -1.0, np.float32)
    result = to_vector([{"score": s} for s in SCORES], out=out)
    assert result is out
    assert out.tobytes() == EXPECTED.tobytes()


@pytest.mark.parametrize("n", [0, 51, 53])
def test_to_vector_wrong_length(n):
    with pytest.raises(ValueError, match=f"expected 52 blendshape scores, got {n}"):
        to_vector([0.5] * n)
