"""How good a model is, measured on takes it never trained on.

Frames 1/30 s apart are near-copies, so holding out random frames of a take the model trained
on measures memory, not skill (the prototype's mistake). Here whole takes are held out.
Frames in the reaction time at either end of a take (`SKIP_START_S`, `SKIP_END_S`) are not
scored: the face is still getting into the expression, whatever the label says.

Besides accuracy the report measures what users see on the avatar: how often the winning
expression changes on a steady take (flicker), before and after the clean-up, and how often
a neutral face leaves the mouth slightly open (neutral-mouth leakage). Hints turn the
numbers into advice about what to record.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from mimic.clips import Clip
from mimic.metrics import macro_f1
from mimic.postprocess import Cleanup, CleanupSettings
from mimic.report import Report, take_title
from mimic.targets import canonical, group_of
from mimic.voicemodel import score_voice

__all__ = ["Report", "evaluate", "evaluate_many", "flicker_rate", "macro_f1", "number_takes",
           "scored_frames", "split_by_take", "take_detail", "take_title", "true_expression"]

SKIP_START_S = 0.35
SKIP_END_S = 0.1
CONFUSED_SHARE = 0.15  # off-diagonal share of a row that earns a hint
WEAK_ACCURACY = 0.8
LEAKY_SHARE = 0.05
FLICKERY_PER_S = 1.0


def split_by_take(clips: Sequence[Clip], seed: int = 0, fraction: float = 0.3
                  ) -> tuple[list[Clip], list[Clip]]:
    """Hold out about `fraction` of the takes of each label set, never a label's only take.

    Label sets with one take stay entirely in training (they cannot be tested without being
    untrained). The choice is seeded, so a report can be reproduced.
    """
    rng = random.Random(seed)
    by_labels: dict[tuple[str, ...], list[Clip]] = defaultdict(list)
    for clip in clips:
        by_labels[tuple(sorted(canonical(lb) for lb in clip.labels))].append(clip)
    test_ids: set[int] = set()
    for group in by_labels.values():
        takes = sorted({c.take_id for c in group})
        if len(takes) < 2:
            continue
        n = min(len(takes) - 1, max(1, round(fraction * len(takes))))
        chosen = set(rng.sample(takes, n))
        test_ids.update(id(c) for c in group if c.take_id in chosen)
    train = [c for c in clips if id(c) not in test_ids]
    test = [c for c in clips if id(c) in test_ids]
    return train, test


def flicker_rate(winners: np.ndarray, timestamps: np.ndarray, settle: int | None = None
                 ) -> float:
    """Changes of the winning expression per second over a take.

    With `settle` (the take's label), counting starts once the winner first equals it: the
    switch into the expression at the start of a take is the avatar following the face, not
    flicker. A stream that never settles is counted from the start.
    """
    if settle is not None:
        hits = np.flatnonzero(winners == settle)
        if len(hits):
            winners, timestamps = winners[hits[0]:], timestamps[hits[0]:]
    if len(winners) < 2:
        return 0.0
    span = float(timestamps[-1] - timestamps[0])
    changes = int(np.count_nonzero(winners[1:] != winners[:-1]))
    return changes / span if span > 0 else 0.0


def scored_frames(clip: Clip) -> np.ndarray:
    t = clip.timestamps
    if len(t) == 0:
        return np.arange(0)
    keep = np.flatnonzero((t >= t[0] + SKIP_START_S) & (t <= t[-1] - SKIP_END_S))
    return keep if len(keep) else np.arange(len(t))


def true_expression(clip: Clip, expressions: Sequence[str]) -> str | None:
    labels = [canonical(lb) for lb in clip.labels]
    chosen = [lb for lb in labels if group_of(lb) == "expression"]
    if chosen:
        return chosen[0] if chosen[0] in expressions else None
    return "neutral" if "neutral" in expressions else None


def _cleaned(model: Any, raw: np.ndarray, t: np.ndarray,
             settings: CleanupSettings | None) -> tuple[np.ndarray, np.ndarray]:
    """Clean-up run over a take as it would run live; returns outputs and winners."""
    cleanup = Cleanup(model.targets_, settings)
    out = np.empty_like(raw)
    winners = np.empty(len(raw), np.int64)
    for i in range(len(raw)):
        cleanup.step(raw[i], float(t[i]), out=out[i])
        winner = cleanup.winner
        winners[i] = -1 if winner is None else winner
    return out, winners


def evaluate(model: Any, clips: Sequence[Clip],
             settings: CleanupSettings | None = None) -> Report:
    """Score `model` on held-out `clips` (takes it did not train on)."""
    return evaluate_many([(model, clips)], settings)


def evaluate_many(pairs: Sequence[tuple[Any, Sequence[Clip]]],
                  settings: CleanupSettings | None = None,
                  take_numbers: dict[int, int] | None = None) -> Report:
    """One report over several models, each scored on its own held-out clips (the folds
    of a cross-validation); every fold's model must have the same targets.

    `take_numbers` maps id(clip) to its number among its label's takes ("angry take 2");
    by default takes are numbered in the order given.
    """
    model = pairs[0][0]
    targets = model.targets_
    names = list(targets.names)
    expressions = list(targets.expressions)
    acc = _Scores()
    numbers = take_numbers or number_takes([c for _, clips in pairs for c in clips])
    for fold, (fold_model, clips) in enumerate(pairs):
        if list(fold_model.targets_.names) != names:
            raise ValueError("every fold's model must have the same targets")
        for clip in clips:
            acc.add(fold_model, clip, settings, numbers.get(id(clip), 1))
            if acc.per_take and "fold" not in acc.per_take[-1]:
                acc.per_take[-1]["fold"] = fold
    report = Report(frames=acc.frames, takes=sum(len(clips) for _, clips in pairs))
    _expression_scores(report, expressions, np.array(acc.e_true, np.int64),
                       np.array(acc.e_pred, np.int64))
    if acc.mouth_err:
        report.mouth_mae = float(np.concatenate(acc.mouth_err).mean())
    if acc.eye_err:
        report.eyes_mae = float(np.concatenate(acc.eye_err).mean())
    for n in list(targets.mouth) + list(targets.eyes):
        if acc.per_err.get(n):
            report.per_target[n] = {"value": float(np.mean(acc.per_err[n])),
                                    "metric": "mean error on its takes"}
    if acc.flicker_raw:
        report.flicker_raw = float(np.mean(acc.flicker_raw))
        report.flicker_clean = float(np.mean(acc.flicker_clean))
    if acc.leaks:
        report.neutral_mouth_leakage = float(np.concatenate(acc.leaks).mean())
    report.per_take = acc.per_take
    report.voice = score_voice(pairs, numbers)
    tested = {n for n in names if n in report.per_target} | {
        expressions[i] for i in set(acc.e_true)}
    report.untested = sorted(set(names) - tested | acc.untested)
    report.hints = hints(report)
    return report


def number_takes(clips: Sequence[Clip]) -> dict[int, int]:
    """id(clip) -> 1-based number among the clips with the same labels, oldest first."""
    by_labels: dict[tuple[str, ...], list[Clip]] = defaultdict(list)
    for clip in clips:
        by_labels[tuple(sorted(canonical(lb) for lb in clip.labels))].append(clip)
    numbers = {}
    for group in by_labels.values():
        for i, clip in enumerate(sorted(group, key=lambda c: (c.created_at, c.name)), 1):
            numbers[id(clip)] = i
    return numbers


class _Scores:
    """What `evaluate_many` gathers clip by clip."""

    def __init__(self) -> None:
        self.e_true: list[int] = []
        self.e_pred: list[int] = []
        self.mouth_err: list[np.ndarray] = []
        self.eye_err: list[np.ndarray] = []
        self.per_err: dict[str, list[float]] = defaultdict(list)
        self.flicker_raw: list[float] = []
        self.flicker_clean: list[float] = []
        self.leaks: list[np.ndarray] = []
        self.untested: set[str] = set()
        self.per_take: list[dict[str, Any]] = []
        self.frames = 0

    def add(self, model: Any, clip: Clip, settings: CleanupSettings | None,
            number: int) -> None:
        targets = model.targets_
        names, sl, expressions = list(targets.names), targets.slices, list(targets.expressions)
        idx = scored_frames(clip)
        if len(idx) == 0:
            return
        raw = model.predict(clip.frames)
        clean, winners = _cleaned(model, raw, clip.timestamps, settings)
        raw, clean, t = raw[idx], clean[idx], clip.timestamps[idx]
        self.frames += len(idx)
        labels = {canonical(lb) for lb in clip.labels}
        self.untested.update(lb for lb in labels if lb not in names)
        truth = true_expression(clip, expressions)
        if expressions and truth is not None:
            pred = raw[:, sl["expression"]].argmax(axis=1)
            label = expressions.index(truth)
            self.e_true.extend([label] * len(idx))
            self.e_pred.extend(pred.tolist())
            self.flicker_raw.append(flicker_rate(pred, t, label))
            self.flicker_clean.append(flicker_rate(winners[idx], t, label))
            if labels == {"neutral"} and targets.mouth:
                self.leaks.append((clean[:, sl["mouth"]] != 0).any(axis=1))
            self.per_take.append(take_detail(clip, number, truth, expressions, pred,
                                             t - clip.timestamps[0]))
        for group, errs in (("mouth", self.mouth_err), ("eyes", self.eye_err)):
            cols = sl[group]
            if cols.stop == cols.start:
                continue
            want = np.array([1.0 if n in labels else 0.0 for n in names[cols]], np.float32)
            err = np.abs(raw[:, cols] - want)
            if group == "eyes" and not labels & set(targets.eyes):
                err = err[~_natural_blinks(clip.frames[idx])]
            errs.append(err.ravel())
            for j, n in enumerate(names[cols]):
                if n in labels:
                    self.per_err[n].append(float(err[:, j].mean()) if len(err) else 0.0)


def take_detail(clip: Clip, number: int, truth: str, expressions: list[str],
                pred: np.ndarray, seconds: np.ndarray) -> dict[str, Any]:
    """How one held-out take was read: share right, what it was mistaken for most, and
    where in the take (seconds from its start) each reading happened, for playback."""
    counts = np.bincount(pred, minlength=len(expressions))
    right = float(counts[expressions.index(truth)] / max(len(pred), 1))
    wrong = counts.copy()
    wrong[expressions.index(truth)] = 0
    worst = int(wrong.argmax())
    return {
        "take_id": clip.take_id, "name": clip.name, "labels": list(clip.labels),
        "truth": truth, "take": number, "frames": len(pred), "right": right,
        "counts": counts.tolist(),
        "mistaken_for": expressions[worst] if wrong[worst] else None,
        "mistaken_share": float(wrong[worst] / max(len(pred), 1)),
        "segments": {expressions[k]: _segments(pred == k, seconds)
                     for k in np.flatnonzero(counts)},
    }


def _segments(mask: np.ndarray, seconds: np.ndarray, gap_s: float = 0.25,
              most: int = 12) -> list[list[float]]:
    """[start, end] seconds of the runs where `mask` holds; runs closer than `gap_s` merge,
    and only the `most` longest are kept (a report stays small)."""
    hits = np.flatnonzero(mask)
    if len(hits) == 0:
        return []
    breaks = np.flatnonzero(np.diff(seconds[hits]) > gap_s)
    starts = np.concatenate(([0], breaks + 1))
    ends = np.concatenate((breaks, [len(hits) - 1]))
    runs = [[round(float(seconds[hits[a]]), 2), round(float(seconds[hits[b]]), 2)]
            for a, b in zip(starts, ends, strict=True)]
    if len(runs) > most:
        runs = sorted(sorted(runs, key=lambda r: r[0] - r[1])[:most])
    return runs


def _natural_blinks(frames: np.ndarray) -> np.ndarray:
    from mimic.trainingdata import blink_mask

    return blink_mask(frames, 0.45)


def _expression_scores(report: Report, expressions: list[str], truth: np.ndarray,
                       pred: np.ndarray) -> None:
    if not expressions or len(truth) == 0:
        return
    k = len(expressions)
    matrix = np.zeros((k, k), np.int64)
    np.add.at(matrix, (truth, pred), 1)
    report.confusion_labels = list(expressions)
    report.confusion = matrix.tolist()
    report.expression_accuracy = float(np.trace(matrix) / matrix.sum())
    for i, name in enumerate(expressions):
        support = matrix[i].sum()
        if support:
            report.per_target[name] = {"value": float(matrix[i, i] / support),
                                       "metric": "share of frames right"}
    report.macro_f1 = macro_f1(matrix)


def hints(report: Report) -> list[str]:
    """Plain-language advice, most useful first."""
    out: list[str] = []
    for take in sorted(report.per_take, key=lambda d: d["right"]):
        if take["right"] < WEAK_ACCURACY and take["mistaken_for"]:
            out.append(f"{take_title(take)} reads as {take['mistaken_for']} "
                       f"{take['mistaken_share']:.0%} of the time: re-record it, or record "
                       f"another take of {take['truth']}.")
    labels, matrix = report.confusion_labels, np.array(report.confusion or [[0]])
    pairs = []
    for i, a in enumerate(labels):
        total = matrix[i].sum()
        for j, b in enumerate(labels):
            if i != j and total and matrix[i, j] / total >= CONFUSED_SHARE:
                pairs.append((matrix[i, j] / total, a, b))
    for share, a, b in sorted(pairs, reverse=True):
        out.append(f"{a} and {b} are confused ({share:.0%} of {a} frames read as {b}): "
                   f"record them more differently, or record another take of each.")
    for name, row in report.per_target.items():
        if row["metric"].startswith("share") and row["value"] < WEAK_ACCURACY and not any(
                name in (a, b) for _, a, b in pairs):
            out.append(f"{name} is often missed ({row['value']:.0%} of its frames right): "
                       f"record another take, holding the expression clearly.")
        elif row["metric"].startswith("mean error") and row["value"] > 0.35:
            out.append(f"{name} is weak (mean error {row['value']:.2f}): record another take.")
    for take in sorted((report.voice or {}).get("takes", []), key=lambda t: t["voice"]):
        if take["voice"] < WEAK_ACCURACY and take["voice_mistaken_for"]:
            out.append(f"Your voice in {take_title(take)} reads as "
                       f"{take['voice_mistaken_for']} {take['voice_mistaken_share']:.0%} of the "
                       f"time: say {take['truth']} again, steadily and out loud, with the "
                       f"microphone on.")
    if report.untested:
        names = ", ".join(report.untested)
        out.append(f"Not tested: {names}. Record a second take of each so one can be held out.")
    if report.neutral_mouth_leakage is not None and report.neutral_mouth_leakage > LEAKY_SHARE:
        out.append(f"The mouth does not fully close on a neutral face "
                   f"({report.neutral_mouth_leakage:.0%} of frames): raise the dead zone in "
                   f"Live, or record more neutral.")
    if report.flicker_clean is not None and report.flicker_clean > FLICKERY_PER_S:
        out.append("The expression still flickers after clean-up: raise the hysteresis or "
                   "the hold time in Live.")
    return out
