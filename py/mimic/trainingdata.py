"""What a model trains on: which frames of each take, what they stand for, how much each
counts.

Kept apart from the model because these are decisions about the user's recordings, not about
the network: the reaction time at either end of a take is left out, near-identical
consecutive frames of a still face count once, natural blinks inside takes that are not about
the eyes teach the eyes nothing, each session's neutral face is found so sessions can be
moved onto one another, and every label set weighs the same however long its takes are.
"""

from __future__ import annotations

import numpy as np

from mimic.blendshapes import INDEX
from mimic.clips import Clip
from mimic.targets import TargetSet, canonical, group_of

__all__ = ["balance", "blink_mask", "blink_threshold", "clip_targets", "dedup",
           "session_neutrals", "trimmed"]

_BLINK = np.array([INDEX["eyeBlinkLeft"], INDEX["eyeBlinkRight"]])


def clip_targets(clip: Clip, targets: TargetSet) -> np.ndarray:
    """The 0/1 target row a clip stands for, in `targets.names` order.

    A clip without an expression label shows a neutral face (a viseme said with a still face,
    a blink), so it teaches "neutral" whenever neutral is a target.
    """
    row = np.zeros(len(targets.names), np.float32)
    labels = [canonical(label) for label in clip.labels]
    if not any(group_of(label) == "expression" for label in labels) and targets.expressions:
        labels.append("neutral")
    for label in labels:
        if label in targets.names:
            row[targets.names.index(label)] = 1.0
    return row


def blink_mask(frames: np.ndarray, threshold: float) -> np.ndarray:
    """Frames whose eyes are closed beyond `threshold` (natural blinks inside other takes)."""
    return frames[:, _BLINK].max(axis=1) > threshold


def dedup(frames: np.ndarray, tol: float) -> np.ndarray:
    """Indices of frames that differ from the last kept one by more than `tol` somewhere."""
    if tol <= 0 or len(frames) < 2:
        return np.arange(len(frames))
    keep = [0]
    last = frames[0]
    for i in range(1, len(frames)):
        if np.abs(frames[i] - last).max() > tol:
            keep.append(i)
            last = frames[i]
    return np.asarray(keep)


def trimmed(clip: Clip, start_s: float, end_s: float) -> np.ndarray:
    """Indices of a clip's frames outside the reaction time at its start and end."""
    t = clip.timestamps
    if len(t) == 0:
        return np.arange(0)
    inside = np.flatnonzero((t >= t[0] + start_s) & (t <= t[-1] - end_s))
    return inside if len(inside) >= max(3, len(t) // 2) else np.arange(len(t))


def session_neutrals(clips: list[Clip]) -> dict[str, np.ndarray]:
    """Median neutral face per session, from clips labelled neutral (and nothing else)."""
    by_session: dict[str, list[np.ndarray]] = {}
    for clip in clips:
        if [canonical(lb) for lb in clip.labels] == ["neutral"]:
            by_session.setdefault(clip.session_id, []).append(clip.frames)
    return {s: np.median(np.concatenate(f), axis=0).astype(np.float32)
            for s, f in by_session.items()}


def blink_threshold(clips: list[Clip]) -> float:
    """Eyelid level halfway between open (neutral takes) and shut (blink takes).

    Without blink takes, fall back to a level MediaPipe reaches only with the eyes shut.
    """
    shut = [c.frames[:, _BLINK].max(axis=1) for c in clips
            if any(group_of(canonical(lb)) == "eyes" for lb in c.labels)]
    rest = [c.frames[:, _BLINK].max(axis=1) for c in clips
            if not any(group_of(canonical(lb)) == "eyes" for lb in c.labels)]
    if not shut or not rest:
        return 0.45
    open_level = float(np.median(np.concatenate(rest)))
    shut_level = float(np.percentile(np.concatenate(shut), 75))
    return max(open_level + 0.5 * (shut_level - open_level), open_level + 0.05)


def balance(groups: np.ndarray) -> np.ndarray:
    """Sample weights giving every label set the same total weight, mean 1."""
    _, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    w = 1.0 / counts[inverse]
    return w * (len(w) / w.sum())
