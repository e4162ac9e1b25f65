"""Made-up takes for training: the same expression as another take would show it.

Two takes of one expression by one person differ: one angry take leans on the mouth (a
sneer), the next on the brows and eyelids; one is stronger than the other; a face is never
quite symmetric. A model trained on a single take learns that take's mix and reads the next
take of the same expression as something else. Training copies of each frame in which every
blendshape's distance from the neutral face is scaled at random, some dropped to neutral
altogether, and left and right swapped, teach the model to recognise an expression from any
part of its evidence, at any strength, on either side. Pure functions: the model calls them
at fit time only.
"""

from __future__ import annotations

import numpy as np

from mimic.blendshapes import COUNT, NAMES

__all__ = ["MIRROR", "augment_frames"]


def _mirror_index() -> np.ndarray:
    """Column order that swaps every Left blendshape with its Right twin."""
    order = np.arange(COUNT)
    for i, name in enumerate(NAMES):
        for side, other in (("Left", "Right"), ("Right", "Left")):
            if name.endswith(side) and name[: -len(side)] + other in NAMES:
                order[i] = NAMES.index(name[: -len(side)] + other)
    return order


MIRROR = _mirror_index()


def augment_frames(frames: np.ndarray, neutral: np.ndarray, copies: float, drop: float,
                   jitter: float, rng: np.random.Generator) -> np.ndarray:
    """About `copies` varied copies of each of the (n, 52) `frames`, stacked.

    `copies` may be fractional: 1.5 makes one copy of every frame and one of a random half.
    Each value's distance from `neutral` is multiplied by exp(N(0, jitter)) and, with
    probability `drop`, by 0 (that blendshape shows nothing of the expression); every other
    copy is mirrored left to right. Results stay in [0, 1] like real weights.
    """
    blocks = []
    for k in range(int(np.ceil(copies))):
        src = frames[:, MIRROR] if k % 2 == 0 else frames
        share = min(1.0, copies - k)
        if share < 1.0:
            src = src[rng.random(len(src)) < share]
        factor = np.exp(rng.normal(0.0, jitter, src.shape)) if jitter else np.ones(src.shape)
        if drop:
            factor *= rng.random(src.shape) >= drop
        block = (src - neutral) * factor
        block += neutral
        blocks.append(block)
    if not blocks:
        return np.zeros((0, frames.shape[1]), np.float64)
    return np.clip(np.concatenate(blocks), 0.0, 1.0)
