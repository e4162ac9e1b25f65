"""From what the app measures to what a character can show.

Characters come in two kinds, and users should not have to know which they have:

- "Perfect sync" characters carry ARKit-named morph targets (`eyeBlinkLeft` ... `tongueOut`).
  MediaPipe's 52 weights are the same shapes, so they drive such a character directly, with
  no training. `MorphMap` matches the character's morph names (written in many styles:
  `EyeBlinkLeft`, `eyeBlink_L`, `blendShape1.eyeBlinkLeft`) to MediaPipe's once per character.
- VRM characters carry expressions (happy, aa, blink, ...; VRM 0.x names are mapped to 1.0
  by three-vrm). A trained model drives them (`ExpressionMap`); before there is a model,
  `rule_weights` gives a rough but lively mapping so a character moves from the first frame.

Either way the result is one float32 vector per frame in the character's own slot order,
plus the head pose and gaze (`HeadPose`), smoothed. Everything per frame writes into
preallocated arrays.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from operator import itemgetter

import numpy as np

from mimic.blendshapes import COUNT, INDEX, NAMES
from mimic.postprocess import OneEuroFilter
from mimic.targets import canonical

__all__ = ["ARKIT_MORPHS", "POSE_SLOTS", "RULE_TARGETS", "ExpressionMap", "HeadPose", "MorphMap",
           "morph_key", "rule_weights"]

# yaw, pitch, roll of the head and yaw, pitch of the gaze, radians, after the slots.
POSE_SLOTS = 5
_SIDE = re.compile(r"(?:[_\-. ]?)(l|r|left|right)$")


def morph_key(name: str) -> str:
    """A comparable key for a blendshape name in any of the common spellings."""
    base = re.split(r"[.|:/]", str(name))[-1]
    low = base.lower()
    side = ""
    m = _SIDE.search(low)
    if m and (m.group(1) in ("left", "right") or re.search(r"[_\-. ][lr]$", low)):
        side = "left" if m.group(1).startswith("l") else "right"
        low = low[:m.start()]
    return re.sub(r"[^a-z0-9]", "", low) + side


_MP_KEYS = {morph_key(n): i for i, n in enumerate(NAMES) if i}

# The 52 ARKit morph names a "perfect sync" character carries, as ARKit spells them: MediaPipe's
# names without `_neutral`, plus `tongueOut`, which MediaPipe does not measure (so it is never
# driven). Index i < 51 takes MediaPipe weight i + 1.
ARKIT_MORPHS: tuple[str, ...] = (*NAMES[1:], "tongueOut")


class MorphMap:
    """Which of a character's morphs take which MediaPipe weight.

    Built once per character, as name matching is string work; `apply` then runs every camera
    frame as two numpy calls into a buffer made here.
    """

    def __init__(self, morph_names: Sequence[str]) -> None:
        slots, sources, seen = [], [], set()
        for slot, name in enumerate(morph_names):
            source = _MP_KEYS.get(morph_key(name))
            if source is not None:
                slots.append(slot)
                sources.append(source)
                seen.add(source)
        self.slots = np.array(slots, np.intp)
        self.sources = np.array(sources, np.intp)
        self._gathered = np.zeros(len(slots), np.float32)
        self.size = len(morph_names)
        self.missing = [NAMES[i] for i in range(1, COUNT) if i not in seen]

    @property
    def matched(self) -> int:
        return len(set(self.sources.tolist()))

    def apply(self, frame: np.ndarray, out: np.ndarray) -> None:
        """out[slot] = frame[source] for every matched morph; other slots are left alone.

        Gathers into the buffer made with the map, so no array is made per frame.
        """
        frame.take(self.sources, out=self._gathered)
        out[self.slots] = self._gathered


class ExpressionMap:
    """Which model outputs drive which of a character's expressions.

    Model targets are VRM 1.0 names or custom labels; a character's expressions may be
    spelled the VRM 0.x way (`joy`, `a`) or be custom ones (`Wink`), so both sides go through
    `canonical` and a case-insensitive match. Targets the character lacks are listed once in
    `missing` (neutral never counts: a character at rest shows it). Like `MorphMap`, `apply`
    allocates nothing.
    """

    def __init__(self, target_names: Sequence[str], expressions: Iterable[str]) -> None:
        expressions = list(expressions)
        by_name: dict[str, int] = {}
        for slot, name in enumerate(expressions):
            by_name.setdefault(canonical(name), slot)
            by_name.setdefault(str(name).casefold(), slot)
        slots, sources, missing = [], [], []
        for i, target in enumerate(target_names):
            slot = by_name.get(canonical(target), by_name.get(str(target).casefold()))
            if slot is None:
                if target != "neutral":  # every character shows neutral: no expression at all
                    missing.append(target)
                continue
            slots.append(slot)
            sources.append(i)
        self.slots = np.array(slots, np.intp)
        self.sources = np.array(sources, np.intp)
        self._gathered = np.zeros(len(slots), np.float32)
        self.size = len(expressions)
        self.missing = missing

    def apply(self, weights: np.ndarray, out: np.ndarray) -> None:
        """out[slot] = weights[target] for every target the character has."""
        weights.take(self.sources, out=self._gathered)
        out[self.slots] = self._gathered


# --- before there is a model -------------------------------------------------------------------

RULE_TARGETS = ("happy", "angry", "sad", "surprised", "aa", "ih", "ou", "ee", "oh", "blink",
                "blinkLeft", "blinkRight")


def _pair(stem: str) -> tuple[int, int]:
    return INDEX[stem + "Left"], INDEX[stem + "Right"]


# the blendshapes the rules read, in one pick (an itemgetter call is one C call for all)
_RULE_INPUTS = itemgetter(*_pair("mouthSmile"), *_pair("mouthFrown"), *_pair("browDown"),
                          *_pair("browOuterUp"), *_pair("eyeWide"), *_pair("mouthStretch"),
                          *(INDEX[n] for n in ("jawOpen", "mouthPucker", "mouthFunnel",
                                               "browInnerUp")),
                          *_pair("eyeBlink"))


def rule_weights(frame: Sequence[float], out: np.ndarray) -> np.ndarray:
    """Rough VRM preset weights straight from blendshapes, in `RULE_TARGETS` order, into
    `out` (returned).

    Good enough to show that the character follows the face before any training; a trained
    model replaces it. It runs every camera frame without a model (the avatar and the
    outputs), so it is scalar Python on one pick of the inputs with the clipping written as
    conditionals and a single store into `out`: about 4 us in Pyodide from a list (pass
    `frame.tolist()`: indexing an array's scalars costs more than the list), against 11
    when each value was stored and clipped with numpy. A NaN comes out as 0.
    """
    (sl, sr, fl, fr, bdl, bdr, bul, bur, wl, wr, stl, stre, jaw, pucker, funnel, inner,
     left, right) = _RULE_INPUTS(frame)
    smile = 0.5 * (sl + sr)
    stretch = 0.5 * (stl + stre)
    brow_up = 0.5 * (bul + bur)
    wide = 0.5 * (wl + wr)
    values = (
        1.4 * smile, 0.75 * (bdl + bdr), 0.75 * (fl + fr) + (0.5 * inner if smile < 0.2 else 0.0),
        2.0 * (brow_up if brow_up < wide else wide), 1.3 * jaw * (1.0 - funnel),
        stretch * (1.0 - jaw), 1.2 * pucker, 1.2 * stretch * smile, 1.2 * funnel,
        left if left < right else right, left - right, right - left,
    )
    out[: len(values)] = [v if 0.0 < v < 1.0 else 1.0 if v >= 1.0 else 0.0 for v in values]
    return out


# --- head pose and gaze ------------------------------------------------------------------------


class HeadPose:
    """Head yaw/pitch/roll from MediaPipe's facial transformation matrix, gaze from the eye
    blendshapes, both through a 1€ filter (jitter at rest, no lag on fast turns).

    By default the character copies the user side for side, as the morphs do (the user's left
    eye closes the character's left eye; turning to one's own left turns the character to its
    own left). `mirror` swaps sides for the head and gaze instead."""

    GAZE_YAW = math.radians(25)
    GAZE_PITCH = math.radians(18)

    def __init__(self, mirror: bool = False, min_cutoff: float = 1.5, beta: float = 0.5) -> None:
        self.mirror = mirror
        self.filter = OneEuroFilter(POSE_SLOTS, min_cutoff=min_cutoff, beta=beta)
        self._raw = np.zeros(POSE_SLOTS, np.float32)
        self._look = np.array([INDEX[n] for n in (
            "eyeLookOutLeft", "eyeLookInLeft", "eyeLookInRight", "eyeLookOutRight",
            "eyeLookUpLeft", "eyeLookUpRight", "eyeLookDownLeft", "eyeLookDownRight")])

    def step(self, matrix: np.ndarray, frame: np.ndarray, t: float) -> np.ndarray:
        """Filtered [yaw, pitch, roll, gaze yaw, gaze pitch] for one frame."""
        m = matrix  # column-major 4x4: element (row r, col c) at m[4 * c + r]
        sign = -1.0 if self.mirror else 1.0
        yaw = math.atan2(m[8], m[10])  # R[0][2], R[2][2]
        pitch = math.asin(max(-1.0, min(1.0, -m[9])))  # -R[1][2]
        roll = math.atan2(m[1], m[5])  # R[1][0], R[1][1]
        lo, li, ri, ro, ul, ur, dl, dr = (float(frame[i]) for i in self._look)
        # positive yaw turns the character towards its left (+X): looking to one's own left
        # turns the left eye out and the right eye in
        gaze_yaw = 0.5 * ((lo - li) + (ri - ro)) * self.GAZE_YAW
        gaze_pitch = 0.5 * ((ul + ur) - (dl + dr)) * self.GAZE_PITCH
        raw = self._raw
        raw[0], raw[1], raw[2] = sign * yaw, pitch, sign * roll
        raw[3], raw[4] = sign * gaze_yaw, gaze_pitch
        return self.filter(raw, t)
