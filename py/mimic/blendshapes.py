"""The 52 MediaPipe Face Landmarker blendshapes: names, face regions, fast conversion.

Everything else in Mimic indexes frames by position, so the order here is MediaPipe's output
order and must never change. Regions group channels by the part of the face that moves them,
which is what synthetic prototypes, feature selection and the UI all reason about.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = ["ARKIT_INDEX", "ARKIT_NAMES", "COUNT", "INDEX", "NAMES", "REGIONS", "to_vector"]

NAMES: tuple[str, ...] = (
    "_neutral",
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
    "mouthUpperUpLeft", "mouthUpperUpRight", "noseSneerLeft", "noseSneerRight",
)
COUNT = len(NAMES)
INDEX: dict[str, int] = {name: i for i, name in enumerate(NAMES)}

# ARKit (and so Live Link Face and ARKit-rigged avatars) uses the same 51 shapes in PascalCase;
# MediaPipe's extra `_neutral` has no ARKit counterpart.
ARKIT_NAMES: tuple[str | None, ...] = tuple(
    None if name == "_neutral" else name[0].upper() + name[1:] for name in NAMES
)
ARKIT_INDEX: dict[str, int] = {name: i for i, name in enumerate(ARKIT_NAMES) if name}

_REGION_PREFIXES = {
    "brows": ("brow",),
    "eyes": ("eye",),
    "cheeks": ("cheek",),
    "nose": ("nose",),
    "mouth": ("mouth",),
    "jaw": ("jaw",),
}


def _region(prefixes: tuple[str, ...]) -> np.ndarray:
    idx = np.array([i for i, n in enumerate(NAMES) if n.startswith(prefixes)], dtype=np.intp)
    idx.setflags(write=False)  # shared module state: nobody may edit it in place
    return idx


REGIONS: dict[str, np.ndarray] = {r: _region(p) for r, p in _REGION_PREFIXES.items()}


def _scores(items: list) -> list:
    first = items[0]
    if isinstance(first, (int, float, np.number)):
        return items
    if hasattr(first, "score"):
        return [c.score for c in items]
    return [c["score"] for c in items]


def to_vector(result: Iterable[Any] | Any, out: np.ndarray | None = None) -> np.ndarray:
    """Scores of a MediaPipe categories list as float32 (52,), in place into `out` if given.

    Runs once per camera frame, so the plain-number case is a single numpy conversion and
    only one branch decision is made per call, not per category. A result object that wraps
    its list in `.categories` / `["categories"]` is unwrapped first.
    """
    if out is None:
        out = np.empty(COUNT, np.float32)
    if isinstance(result, np.ndarray):
        values = result
    else:
        if hasattr(result, "categories"):
            result = result.categories
        elif isinstance(result, dict) and "categories" in result:
            result = result["categories"]
        items = result if isinstance(result, list) else list(result)
        values = _scores(items) if items else items
    if len(values) != COUNT:
        raise ValueError(f"expected {COUNT} blendshape scores, got {len(values)}")
    out[:] = values
    return out
