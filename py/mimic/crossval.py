"""Every take held out in turn: the figure a user can trust, and the take to re-record.

One held-out split says little: which take happened to be held out decides the score (on
real recordings one split of the same clips scored 0.86, the other 0.98). Here fold k holds
out the k-th take of every label that has two or more, trains on the rest, and scores the
held-out takes, so every such take is scored once by a model that never saw it. The report
gives each fold's macro-F1, their mean and the worst, and each take's share of frames read
right, so the take that fails is named.

`cross_validate` scores one model whose settings are fixed in advance, so its figures are
an honest estimate of how a new take will read. Training in the app also lets these folds
choose between a few models (`mimic.selection`), and then says the figure is a little
optimistic.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from mimic.clips import Clip
from mimic.evaluate import Report, evaluate_many, hints, macro_f1, number_takes, take_title
from mimic.progress import scaled_progress
from mimic.targets import TargetSet, canonical

__all__ = ["HONEST_NOTE", "cross_validate", "fold_report", "split", "take_folds",
           "usable_folds"]

Progress = Callable[[float, str, float | None], Any]
HONEST_NOTE = ("Every take was scored by a model trained without it; the model's settings "
               "are fixed, not tuned on these takes, so this is what to expect of a new take.")


def take_folds(clips: Sequence[Clip]) -> list[list[int]]:
    """Indices of the clips each fold holds out: the k-th take (oldest first) of every
    label set with at least two takes. Labels with one take always train."""
    by_labels: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for i, clip in enumerate(clips):
        by_labels[tuple(sorted(canonical(lb) for lb in clip.labels))].append(i)
    folds: list[list[int]] = []
    for members in by_labels.values():
        takes: dict[str, list[int]] = {}
        for i in sorted(members, key=lambda i: (clips[i].created_at, clips[i].name)):
            takes.setdefault(clips[i].take_id, []).append(i)
        if len(takes) < 2:
            continue
        for k, held in enumerate(takes.values()):
            while len(folds) <= k:
                folds.append([])
            folds[k].extend(held)
    return [sorted(f) for f in folds]


def cross_validate(clips: Sequence[Clip], make_model: Callable[[], Any],
                   progress: Progress | None = None) -> Report | None:
    """Train one model per fold (`make_model()` gives an unfitted one) and report on all
    held-out takes together; None when no label has two takes to hold one out."""
    clips = list(clips)
    folds = usable_folds(clips)
    if not folds:
        return None
    pairs = []
    for k, held in enumerate(folds):
        train, test = split(clips, held)
        fold_progress = scaled_progress(progress, k / len(folds), (k + 1) / len(folds),
                                f"Testing on held-out takes ({k + 1} of {len(folds)})")
        pairs.append((make_model().fit(train, progress=fold_progress), test))
    return fold_report(clips, pairs)


def usable_folds(clips: Sequence[Clip]) -> list[list[int]]:
    """The folds of `take_folds` whose training takes still hold two targets."""
    clips = list(clips)
    return [f for f in take_folds(clips) if _trainable(clips, f)]


def split(clips: Sequence[Clip], held: Sequence[int]) -> tuple[list[Clip], list[Clip]]:
    """(training clips, held-out clips) of one fold."""
    held_set = set(held)
    return [c for i, c in enumerate(clips) if i not in held_set], [clips[i] for i in held]


def fold_report(clips: Sequence[Clip], pairs: list[tuple[Any, list[Clip]]]) -> Report | None:
    """One report over every fold's (model, held-out takes); None when the folds' models
    do not share their targets (a label missing from some fold's training)."""
    names = {tuple(m.targets_.names) for m, _ in pairs}
    if len(names) != 1:
        return None
    report = evaluate_many(pairs, take_numbers=number_takes(list(clips)))
    _fold_scores(report, len(pairs))
    report.note = HONEST_NOTE
    report.hints = hints(report)
    return report


def _trainable(clips: list[Clip], held: list[int]) -> bool:
    held_set = set(held)
    labels = [lb for i, c in enumerate(clips) if i not in held_set for lb in c.labels]
    return bool(held) and len(TargetSet.from_labels(labels).names) >= 2


def _fold_scores(report: Report, n_folds: int) -> None:
    """Each fold's macro-F1 from its takes' prediction counts; mean and worst over folds."""
    labels = report.confusion_labels
    if not labels:
        return
    k = len(labels)
    for fold in range(n_folds):
        takes = [t for t in report.per_take if t.get("fold") == fold]
        matrix = np.zeros((k, k), np.int64)
        for take in takes:
            matrix[labels.index(take["truth"])] += np.asarray(take["counts"], np.int64)
        report.folds.append({"held_out": [take_title(t) for t in takes],
                             "macro_f1": macro_f1(matrix),
                             "accuracy": float(np.trace(matrix) / max(matrix.sum(), 1))})
    scores = [f["macro_f1"] for f in report.folds]
    report.macro_f1 = float(np.mean(scores))
    report.macro_f1_worst = float(np.min(scores))
