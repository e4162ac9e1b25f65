"""Synthetic but realistic MediaPipe blendshape clips, for tests and benchmarks.

Real recordings cannot ship with the repository, and trivially separable fake data would let
a broken model pass, so this generator reproduces the things that make real data hard:

- Per-person expression prototypes. Each label has a sparse prototype over the face regions
  that express it: happy -> mouthSmile*, cheekSquint*, eyeSquint*; sad -> mouthFrown*,
  browInnerUp, mouthShrugLower; angry -> browDown*, noseSneer*, eyeSquint*, mouthPress*;
  surprised -> browInnerUp, browOuterUp*, eyeWide*, jawOpen; relaxed -> a mild smile with
  slight eyeSquint and eyelid droop (eyeBlink), deliberately close to happy. The visemes aa /
  ih / ou / ee / oh combine jawOpen, mouthStretch*, mouthFunnel, mouthPucker and mouthSmile*
  at different jaw openings; blink / blinkLeft / blinkRight drive eyeBlink* (with some bleed
  to the other eye, as real one-eyed blinks have). Custom labels get a random sparse
  prototype in one region, fixed by the label's text.
- Person-specific variation: every person's face reads stronger or weaker on each channel
  (shared by all labels, so visemes keep their order of jaw opening), each prototype varies a
  little more per person, is a little asymmetric, leaks into neighbouring channels, and every
  person has their own resting face.
- Session offsets: every session adds a calibration shift (lighting, camera placement) of up
  to ~0.1 on a few channels to all its frames, and scales expression intensity a little.
- Takes: intensity ramps in after a reaction delay and out before the end, wobbles while
  held; visemes pulse as if spoken. Combined labels (expression + viseme) superpose.
- Timing: frames arrive late but never early, so intervals are 1/fps to 1.25/fps (24-30 fps
  for a 30 fps camera); `Clip.fps` is the measured rate, as the recorder reports it.
- Spontaneous blinks (at least one per clip) and slow gaze wander on the eyeLook* channels.
- Sensor noise that grows with the value, and MediaPipe's "near-zero noise": idle channels
  never read exactly 0 but small positive values (~0.001-0.02). Values stay in [0, 1], and
  `_neutral` is near 0 except on a resting face.

Everything is deterministic for a given seed: people and sessions come from fixed seeds
whatever the call order; takes come from one stream, so the same calls give the same clips.
"""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import numpy as np

from mimic.blendshapes import COUNT, INDEX, NAMES, REGIONS
from mimic.clips import Clip
from mimic.targets import EXPRESSIONS, EYES, MOUTH, canonical, group_of

__all__ = ["DEFAULT_COMBOS", "PROTOTYPES", "SyntheticFace", "make_dataset", "short_take_case"]


def _both(stem: str, weight: float) -> dict[str, float]:
    return {stem + "Left": weight, stem + "Right": weight}


PROTOTYPES: dict[str, dict[str, float]] = {
    "neutral": {},
    "happy": {**_both("mouthSmile", 0.8), **_both("cheekSquint", 0.5), **_both("eyeSquint", 0.3),
              **_both("mouthDimple", 0.15), "jawOpen": 0.08},
    "angry": {**_both("browDown", 0.7), **_both("noseSneer", 0.5), **_both("eyeSquint", 0.35),
              **_both("mouthPress", 0.3), **_both("mouthUpperUp", 0.15)},
    "sad": {**_both("mouthFrown", 0.6), "browInnerUp": 0.6, "mouthShrugLower": 0.35,
            **_both("mouthPress", 0.2), **_both("mouthLowerDown", 0.1)},
    "relaxed": {**_both("mouthSmile", 0.35), **_both("eyeSquint", 0.25),
                **_both("eyeBlink", 0.25), **_both("cheekSquint", 0.12)},
    "surprised": {"browInnerUp": 0.7, **_both("browOuterUp", 0.7), **_both("eyeWide", 0.6),
                  "jawOpen": 0.4, **_both("mouthLowerDown", 0.2), "mouthFunnel": 0.1},
    "aa": {"jawOpen": 0.6, **_both("mouthLowerDown", 0.3), **_both("mouthUpperUp", 0.1),
           **_both("mouthStretch", 0.1)},
    "ih": {"jawOpen": 0.2, **_both("mouthStretch", 0.4), **_both("mouthUpperUp", 0.2),
           **_both("mouthLowerDown", 0.2)},
    "ou": {"jawOpen": 0.12, "mouthFunnel": 0.45, "mouthPucker": 0.65},
    "ee": {"jawOpen": 0.1, **_both("mouthStretch", 0.3), **_both("mouthSmile", 0.3),
           **_both("mouthUpperUp", 0.15)},
    "oh": {"jawOpen": 0.4, "mouthFunnel": 0.55, "mouthPucker": 0.2,
           **_both("mouthLowerDown", 0.1)},
    "blink": {**_both("eyeBlink", 0.9), **_both("eyeLookDown", 0.2), **_both("eyeSquint", 0.15)},
    "blinkLeft": {"eyeBlinkLeft": 0.9, "eyeBlinkRight": 0.2, "eyeSquintLeft": 0.3,
                  "cheekSquintLeft": 0.1, "eyeLookDownLeft": 0.2},
    "blinkRight": {"eyeBlinkRight": 0.9, "eyeBlinkLeft": 0.2, "eyeSquintRight": 0.3,
                   "cheekSquintRight": 0.1, "eyeLookDownRight": 0.2},
}

DEFAULT_COMBOS: tuple[tuple[str, str], ...] = (
    ("happy", "aa"), ("sad", "ou"), ("surprised", "oh"), ("angry", "ee"), ("relaxed", "ih"),
)

# (low, high) of a person's resting value: MediaPipe reads a relaxed face with eyes a little
# narrowed and lowered, not as all zeros.
_REST: dict[str, tuple[float, float]] = {
    **dict.fromkeys(("eyeSquintLeft", "eyeSquintRight"), (0.05, 0.25)),
    **dict.fromkeys(("eyeBlinkLeft", "eyeBlinkRight"), (0.03, 0.15)),
    **dict.fromkeys(("eyeLookDownLeft", "eyeLookDownRight"), (0.02, 0.15)),
    **dict.fromkeys(("browDownLeft", "browDownRight"), (0.0, 0.1)),
    **dict.fromkeys(("mouthPressLeft", "mouthPressRight"), (0.0, 0.06)),
    "mouthClose": (0.0, 0.05), "mouthShrugUpper": (0.0, 0.08), "mouthRollLower": (0.0, 0.05),
    "jawOpen": (0.0, 0.04),
}
_LEFT = np.array([n.endswith("Left") for n in NAMES])
_RIGHT = np.array([n.endswith("Right") for n in NAMES])
_GAZE = [INDEX[n] for n in ("eyeLookOutLeft", "eyeLookInLeft", "eyeLookInRight",
                            "eyeLookOutRight", "eyeLookUpLeft", "eyeLookUpRight",
                            "eyeLookDownLeft", "eyeLookDownRight")]
_REGION_OF = np.zeros(COUNT, np.intp) - 1
for _r, _idx in enumerate(REGIONS.values()):
    _REGION_OF[_idx] = _r
_START = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)


def _label_seed(label: str) -> int:
    return zlib.crc32(label.encode())


def _base_prototype(label: str) -> dict[str, float]:
    """A preset's prototype, or a reproducible random one for a custom label."""
    if label in PROTOTYPES:
        return PROTOTYPES[label]
    rng = np.random.default_rng([_label_seed(label), 7])
    region = list(REGIONS.values())[rng.integers(len(REGIONS))]
    picks = rng.choice(region, size=min(len(region), int(rng.integers(2, 5))), replace=False)
    return {NAMES[i]: float(rng.uniform(0.3, 0.8)) for i in picks}


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


class SyntheticFace:
    """One synthetic person; `clip` records a take of them, like the studio would."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = int(seed)
        person = np.random.default_rng([self.seed, 1])
        self.rest = np.zeros(COUNT)
        for name, (lo, hi) in _REST.items():
            self.rest[INDEX[name]] = person.uniform(lo, hi)
        self.floor = person.uniform(0.001, 0.02, COUNT)
        self.floor[0] = person.uniform(1e-5, 1e-4)
        self.sigma = person.uniform(0.002, 0.008, COUNT)
        self.neutral_level = person.uniform(0.005, 0.05)
        self.asymmetry = person.uniform(0.9, 1.1)
        # How strongly MediaPipe reads each channel on this face, whatever the expression.
        self.channel_gain = person.uniform(0.75, 1.25, COUNT)
        self._prototypes: dict[str, np.ndarray] = {}
        self._sessions: dict[int, tuple[np.ndarray, float]] = {}
        self._rng = np.random.default_rng([self.seed, 2])
        self._takes = 0

    def prototype(self, label: str) -> np.ndarray:
        """This person's version of a label's prototype (52,), before session and take effects."""
        label = canonical(label)
        if label not in self._prototypes:
            self._prototypes[label] = self._make_prototype(label)
        return self._prototypes[label]

    def _make_prototype(self, label: str) -> np.ndarray:
        rng = np.random.default_rng([self.seed, 3, _label_seed(label)])
        vec = np.zeros(COUNT)
        for name, weight in _base_prototype(label).items():
            vec[INDEX[name]] = weight
        used = np.flatnonzero(vec)
        vec[used] *= self.channel_gain[used] * rng.uniform(0.9, 1.1, len(used))
        vec[_LEFT] *= self.asymmetry
        vec[_RIGHT] *= 2.0 - self.asymmetry
        if len(used):  # leak into untouched channels of the same regions
            near = np.flatnonzero(np.isin(_REGION_OF, _REGION_OF[used]) & (vec == 0))
            leak = rng.choice(near, size=min(2, len(near)), replace=False)
            vec[leak] = rng.uniform(0.02, 0.08, len(leak))
        return np.clip(vec, 0.0, 1.0)

    def session_offset(self, session: int) -> tuple[np.ndarray, float]:
        """(calibration shift (52,), intensity gain) shared by every take of a session.

        A shift only lowers a channel that has something to lower; on an idle channel it shows
        as a raised reading, as a badly lit or angled camera does.
        """
        if session not in self._sessions:
            rng = np.random.default_rng([self.seed, 4, int(session)])
            offset = np.zeros(COUNT)
            channels = rng.choice(np.arange(1, COUNT), size=8, replace=False)
            size = rng.uniform(0.03, 0.1, 8)
            down = (rng.random(8) < 0.5) & (self.rest[channels] > size)
            offset[channels] = np.where(down, -size, size)
            self._sessions[session] = (offset, float(rng.uniform(0.85, 1.1)))
        return self._sessions[session]

    def clip(self, labels: str | Iterable[str], seconds: float = 3.0, session: int = 0,
             fps: float = 30.0) -> Clip:
        """A new take of `labels` (a label or an expression + mouth/eyes pair)."""
        labels = (labels,) if isinstance(labels, str) else tuple(labels)
        labels = tuple(canonical(label) for label in labels)
        rng = self._rng
        t = _timeline(rng, seconds, fps)
        offset, gain = self.session_offset(session)
        values = np.broadcast_to(self.rest + offset, (len(t), COUNT)).copy()
        active = np.zeros(len(t))
        for label in labels:
            group = group_of(label)
            env = _envelope(rng, t, pulse=group == "mouth") * gain
            values += env[:, None] * self.prototype(label)
            if label != "neutral":
                active = np.maximum(active, env)
        values += _blinks(rng, t)[:, None] * self.prototype("blink")
        self._gaze(rng, t, values)
        values += rng.standard_normal(values.shape) * (self.sigma + 0.03 * np.abs(values))
        values[:, 0] = self.neutral_level * (1.0 - _smoothstep(active * 2.0))
        floor = self.floor * rng.uniform(0.5, 1.5, values.shape)
        frames = np.clip(values, floor, 1.0).astype(np.float32)
        return self._wrap(labels, frames, t, session, rng)

    def _gaze(self, rng: np.random.Generator, t: np.ndarray, values: np.ndarray) -> None:
        """Eyes wander slowly; each direction drives its own eyeLook channel, as in MediaPipe."""
        amp, freq, phase = rng.uniform(0.02, 0.12, 2), rng.uniform(0.1, 0.5, 2), rng.uniform(
            0, 2 * np.pi, 2)
        h, v = amp[:, None] * np.sin(2 * np.pi * freq[:, None] * t + phase[:, None])
        out, inward = np.maximum(h, 0.0), np.maximum(-h, 0.0)
        up, down = np.maximum(v, 0.0), np.maximum(-v, 0.0)
        values[:, _GAZE] += np.stack([out, inward, out, inward, up, up, down, down], axis=1)

    def _wrap(self, labels: tuple[str, ...], frames: np.ndarray, t: np.ndarray, session: int,
              rng: np.random.Generator) -> Clip:
        self._takes += 1
        created = _START + timedelta(days=int(session), seconds=7 * self._takes)
        fps = (len(t) - 1) / t[-1]
        clip = Clip(labels, frames, t, float(fps), uuid.UUID(bytes=rng.bytes(16), version=4).hex,
                    f"synthetic-{self.seed}-s{session}",
                    created.isoformat(timespec="milliseconds").replace("+00:00", "Z"))
        return clip.validate()


def _timeline(rng: np.random.Generator, seconds: float, fps: float) -> np.ndarray:
    """Frame times: late frames stretch an interval by up to 25 %, none arrive early."""
    n = max(2, round(seconds * fps / 1.125))
    t = np.empty(n)
    t[0] = 0.0
    np.cumsum(rng.uniform(1.0, 1.25, n - 1) / fps, out=t[1:])
    return t


def _envelope(rng: np.random.Generator, t: np.ndarray, pulse: bool = False) -> np.ndarray:
    """How strongly the target is shown over a take: ramp in, hold with a wobble, ramp out."""
    dur = float(t[-1])
    start = rng.uniform(0.0, 0.08) * dur
    ramp_in = min(rng.uniform(0.15, 0.45), 0.25 * dur) + 1e-6
    ramp_out = min(rng.uniform(0.15, 0.35), 0.2 * dur) + 1e-6
    env = _smoothstep((t - start) / ramp_in) * _smoothstep((dur - t) / ramp_out)
    depth, freq = (0.2, rng.uniform(0.6, 1.6)) if pulse else (0.06, rng.uniform(0.2, 0.8))
    wobble = 1.0 - depth + depth * np.cos(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi))
    return rng.uniform(0.75, 1.0) * env * wobble


def _blinks(rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
    """Spontaneous blinks, about one every three seconds and at least one per clip."""
    dur = float(t[-1])
    k = max(1, int(rng.poisson(0.3 * dur)))
    centers = rng.uniform(0.1, 0.9, k) * dur
    half = rng.uniform(0.06, 0.12, k)
    peak = rng.uniform(0.65, 1.0, k)
    shape = 1.0 - np.abs(t[:, None] - centers) / half
    return (np.clip(shape, 0.0, 1.0) * peak).max(axis=1)


def default_labels() -> list[tuple[str, ...]]:
    """Every preset alone, plus a few expression + viseme pairs."""
    singles = [(name,) for name in (*EXPRESSIONS, *MOUTH, *EYES)]
    return singles + [tuple(pair) for pair in DEFAULT_COMBOS]


def make_dataset(people: int = 1, sessions: int = 3, takes: int = 2, seconds: float = 3.0,
                 seed: int = 0, labels: Iterable[str | Iterable[str]] | None = None,
                 fps: float = 30.0) -> list[Clip]:
    """Clips of `people` people (seeds seed*1000 + p) x sessions x label sets x takes."""
    sets = default_labels() if labels is None else [
        (item,) if isinstance(item, str) else tuple(item) for item in labels]
    clips = []
    for p in range(people):
        face = SyntheticFace(seed * 1000 + p)
        for session in range(sessions):
            for label_set in sets:
                clips.extend(face.clip(label_set, seconds, session, fps) for _ in range(takes))
    return clips


def short_take_case(seed: int = 4, smile: float = 0.25) -> tuple[list[Clip], list[Clip]]:
    """(first takes, second takes) of neutral, happy and a pout, built like a real failure.

    A person smiles faintly (`smile` of the preset's strength); their only second happy take
    is short (0.7 s) and they press their lips in it, and their first neutral take presses
    the lips too. A model trained on the second takes that learns the press as part of happy
    reads the first neutral take as happy; one that keeps to what all happy frames share
    does not. Mechanics only: the figures it gives are synthetic.
    """
    face = SyntheticFace(seed)
    rng = np.random.default_rng(seed)
    rest = np.median(face.clip("neutral", 1.0).frames, axis=0)

    def faint(clip: Clip) -> Clip:
        clip.frames[:] = np.clip(rest + smile * (clip.frames - rest), 0.0, 1.0)
        return clip

    def pressed(clip: Clip, lo: float, hi: float) -> Clip:
        press = rng.uniform(lo, hi, (len(clip.frames), 1))
        clip.frames[:, _PRESS] = np.clip(clip.frames[:, _PRESS] + press, 0.0, 1.0)
        return clip

    def short(clip: Clip, seconds: float) -> Clip:
        n = round(seconds * clip.fps)
        start = (len(clip.frames) - n) // 2
        keep = slice(start, start + n)
        t = clip.timestamps[keep] - clip.timestamps[start]
        return Clip(clip.labels, clip.frames[keep].copy(), t, clip.fps, clip.take_id,
                    clip.session_id, clip.created_at, clip.name)

    first = [pressed(face.clip("neutral", 2.0), 0.2, 0.36), faint(face.clip("happy", 2.0)),
             face.clip("pout", 2.0)]
    second = [face.clip("neutral", 2.0), pressed(short(faint(face.clip("happy", 2.0)), 0.7),
                                                  0.2, 0.24), face.clip("pout", 2.0)]
    return first, second


_PRESS = [INDEX["mouthPressLeft"], INDEX["mouthPressRight"]]
