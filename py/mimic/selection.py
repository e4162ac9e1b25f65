"""Let the user's own takes choose the model.

Settings that win on one person's takes do not carry to the next face: varied copies of each
frame (`mimic.augment`) helped one performer and hurt another whose only second happy take
was short and pressed the lips. So every training holds out one take of every label at a
time (`mimic.crossval`) and scores a few candidates on the same folds: the net with and
without the varied copies, a shrunken straight-line readout, and the two blended. The one
whose worst fold is best wins, then the best mean, and near-ties go to the simpler model;
it is then trained on every take. With one take per label there is nothing to hold out and
a default chosen to be safe is used, and the report says so.

Cost: one fit per augmentation strength and fold (each gives its net, its straight line and
their blend, `ExpressionModel.variant`), then one fit of the winner.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mimic.clips import Clip
from mimic.crossval import fold_report, split, usable_folds
from mimic.evaluate import Report, scored_frames, true_expression
from mimic.metrics import macro_f1
from mimic.model import ExpressionModel
from mimic.progress import Progress, scaled_progress

__all__ = ["CANDIDATES", "DEFAULT", "OPTIMISTIC_NOTE", "Candidate", "Selection", "select"]


@dataclass(frozen=True)
class Candidate:
    """One way to read expressions: `readout` with `augment` copies; `rank` is simplicity."""

    key: str
    title: str
    readout: str
    augment: float
    rank: int

    def params(self) -> dict[str, Any]:
        return {"readout": self.readout, "augment": self.augment}


CANDIDATES = (
    Candidate("linear", "straight line", "linear", 0.0, 0),
    Candidate("net", "net", "net", 0.0, 1),
    Candidate("blend", "net + straight line", "blend", 0.0, 2),
    Candidate("net-varied", "net with varied copies", "net", 1.0, 3),
    Candidate("blend-varied", "net with varied copies + straight line", "blend", 1.0, 4),
)
BY_KEY = {c.key: c for c in CANDIDATES}
# Used when no take can be held out: the candidate whose worst one-take fold is best on the
# shared Live Link takes and which reads the short-take case (tests/core/test_selection.py).
DEFAULT = "linear"
TIE = 0.005  # macro-F1 differences smaller than this are noise between candidates
OPTIMISTIC_NOTE = ("The chosen model's figures are the best of several scored on the same "
                   "takes, so they are a little optimistic.")


@dataclass
class Selection:
    """Which candidate was chosen, why, every candidate's macro-F1 per held-out fold, and
    the chosen one's full report (None when nothing could be held out)."""

    chosen: Candidate
    reason: str
    scores: dict[str, list[float]]
    report: Report | None = None

    def summary(self) -> dict[str, Any]:
        """Plain data for the report: every candidate's folds side by side."""
        rows = []
        for c in CANDIDATES:
            folds = self.scores.get(c.key)
            if not folds:
                continue
            rows.append({"key": c.key, "title": c.title, "chosen": c is self.chosen,
                         "folds": folds, "mean": float(np.mean(folds)),
                         "worst": float(np.min(folds))})
        return {"chosen": self.chosen.key, "title": self.chosen.title, "reason": self.reason,
                "candidates": rows, "note": OPTIMISTIC_NOTE if rows else ""}


def select(clips: Sequence[Clip], options: dict[str, Any] | None = None,
           progress: Progress | None = None) -> Selection:
    """Score every candidate on the user's held-out takes and choose one."""
    clips = list(clips)
    options = {k: v for k, v in (options or {}).items() if k not in ("readout", "augment")}
    folds = usable_folds(clips)
    if not folds:
        return Selection(BY_KEY[DEFAULT], _no_folds_reason(), {})
    strengths = sorted({c.augment for c in CANDIDATES})
    pairs: dict[str, list] = {c.key: [] for c in CANDIDATES}
    steps = len(folds) * len(strengths)
    for k, held in enumerate(folds):
        train, test = split(clips, held)
        first = None
        for j, strength in enumerate(strengths):
            step = k * len(strengths) + j
            part = scaled_progress(progress, step / steps, (step + 1) / steps,
                                   f"Trying models on held-out takes ({k + 1} of {len(folds)})")
            # the line and the voice see only recorded frames, never the varied copies: the
            # fold's first fit learns them, the others reuse them
            base = ExpressionModel(**{**options, "augment": strength,
                                      "readout": "blend" if first is None else "net",
                                      "learn_voice": first is None}).fit(train, progress=part)
            if first is None:
                first = base
            else:
                base = base.with_parts(first)
            for c in CANDIDATES:
                if c.augment == strength:
                    pairs[c.key].append((base.variant(c.readout), test))
    scores = {key: fold_scores(p) for key, p in pairs.items()}
    scores = {key: f for key, f in scores.items() if f}
    if not scores:
        return Selection(BY_KEY[DEFAULT], _no_folds_reason(), {})
    chosen = BY_KEY[choose({k: (min(f), float(np.mean(f))) for k, f in scores.items()})]
    # only the chosen one gets the full report (clean-up replayed frame by frame, hints)
    return Selection(chosen, _reason(chosen, scores), scores,
                     fold_report(clips, pairs[chosen.key]))


def fold_scores(pairs: list[tuple[Any, list[Clip]]]) -> list[float]:
    """Each fold's expression macro-F1 from the raw readings, as the full report counts it
    (`mimic.crossval`), without replaying the clean-up: the choice needs no more."""
    names = {tuple(m.targets_.names) for m, _ in pairs}
    if len(names) != 1:
        return []
    out = []
    for model, test in pairs:
        expressions = list(model.targets_.expressions)
        k = len(expressions)
        matrix = np.zeros((k, k), np.int64)
        for clip in test:
            truth = true_expression(clip, expressions)
            idx = scored_frames(clip)
            if truth is None or not len(idx):
                continue
            raw = model.predict(clip.frames[idx])[:, model.targets_.slices["expression"]]
            matrix[expressions.index(truth)] += np.bincount(raw.argmax(axis=1), minlength=k)
        out.append(macro_f1(matrix))
    return out


def choose(scores: dict[str, tuple[float, float]]) -> str:
    """The key with the best worst fold, then the best mean; near-ties to the simpler one."""
    best_worst = max(w for w, _ in scores.values())
    level = {k: v for k, v in scores.items() if v[0] >= best_worst - TIE}
    best_mean = max(m for _, m in level.values())
    tied = [k for k, (_, m) in level.items() if m >= best_mean - TIE]
    return min(tied, key=lambda k: BY_KEY[k].rank)


def _reason(chosen: Candidate, scores: dict[str, list[float]]) -> str:
    """One sentence a user can follow: what won, by how much, against the runner-up."""
    mine = min(scores[chosen.key])
    others = [(min(f), key) for key, f in scores.items() if key != chosen.key]
    if not others:
        return f"The {chosen.title} was the only model that could be tested."
    worst, key = max(others)
    if mine > worst + TIE:
        return (f"The {chosen.title} held up best on your takes: worst held-out fold "
                f"{mine:.2f} against {worst:.2f} for the {BY_KEY[key].title}.")
    return (f"The {chosen.title} did as well as any model on your takes (worst held-out fold "
            f"{mine:.2f}, mean {np.mean(scores[chosen.key]):.2f}) and is the simpler choice.")


def _no_folds_reason() -> str:
    return (f"Every label has one take, so no take could be held out to choose a model: the "
            f"{BY_KEY[DEFAULT].title} is used, the safest model on test recordings. Record a "
            f"second take of each label to let your own takes choose.")
