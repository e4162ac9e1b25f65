"""Quality on real recordings: every candidate model and the selection, on iPhone Live Link
Face takes of one performer, next to the references.

Data: ../shared/data/livelink (one folder per label, two takes each), at the files' 60 fps
and halved to 30 fps as a webcam gives, for several seeds. Each model is scored by the same
`mimic.evaluate` (expression macro-F1 on held-out takes).

1. One take per label (fold k trains on take k of every label, scores the other): every
   candidate of `mimic.selection`, what the app trains there (`train_clips`: nothing can be
   held out, so its safe default), and the references:
     prototype   exact numpy copy of the TF.js prototype's 52-64-32-K net (scripts/baselines)
     least sq.   one linear least-squares readout
     softmax     scikit-learn's multinomial LogisticRegression
2. Both takes: what `train_clips` does, per rate and seed: every candidate's folds (each
   take of every label held out in turn), which one the takes chose, and whether the chosen
   one is below the straight line on any fold.
3. Nested: each single take held out in turn; the selection runs on the other seven takes
   and the chosen model is scored on the eighth, beside the straight line (60 fps, seed 0).
4. The short-take case (`mimic.synthetic.short_take_case`, synthetic, mechanics only): the
   candidates trained on the second takes, scored on the first.
Then the synthetic suite, labelled "synthetic": it tests mechanics, not quality.

Usage: .venv/bin/python scripts/bench_quality.py [--seeds 3] [--data DIR] [--epochs 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "py"), str(ROOT / "scripts")]

import baselines  # noqa: E402
from mimic.clips import Clip  # noqa: E402
from mimic.evaluate import evaluate, split_by_take  # noqa: E402
from mimic.io.livelink import read_labelled_folder  # noqa: E402
from mimic.model import ExpressionModel  # noqa: E402
from mimic.selection import CANDIDATES, TIE, select  # noqa: E402
from mimic.synthetic import short_take_case  # noqa: E402
from mimic.targets import TargetSet  # noqa: E402
from mimic.trainjob import train_clips  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "livelink"
KEYS = tuple(c.key for c in CANDIDATES)
REFERENCES = ("prototype", "least sq.", "softmax")
MODELS = (*KEYS, "app", *REFERENCES)


def halved(clip: Clip) -> Clip:
    """Every other frame: the take as a 30 fps webcam would have given it."""
    return Clip(clip.labels, clip.frames[::2].copy(), clip.timestamps[::2].copy(),
                clip.fps / 2, clip.take_id, clip.session_id, clip.created_at, clip.name)


def take_folds(clips: list[Clip]) -> list[tuple[list[Clip], list[Clip]]]:
    """Fold k: take k of each label trains, the label's other takes are scored."""
    by_label: dict[str, list[Clip]] = {}
    for clip in clips:
        by_label.setdefault(clip.labels[0], []).append(clip)
    n = min(len(v) for v in by_label.values())
    folds = []
    for k in range(n):
        train = [v[k] for v in by_label.values()]
        test = [c for v in by_label.values() for i, c in enumerate(v) if i != k]
        folds.append((train, test))
    return folds


def fitters(epochs: int) -> dict[str, Callable[[list[Clip], int], object]]:
    """The references, each a function (train clips, seed) -> model."""
    def wrap(make: Callable) -> Callable:
        def fit(train: list[Clip], seed: int) -> object:
            targets = TargetSet.from_labels(lb for c in train for lb in c.labels)
            x, y = baselines.design(train, targets)
            return ExpressionModel.from_dense_layers(make(x, y, targets, seed), targets.names)
        return fit

    return {
        "app": lambda train, seed: train_clips(train, {"seed": seed})[0],
        "prototype": wrap(lambda x, y, t, s: baselines.prototype_net(x, y, s, epochs)),
        "least sq.": wrap(lambda x, y, t, s: baselines.least_squares(x, y)),
        "softmax": wrap(lambda x, y, t, s: baselines.logistic(x, y, t)),
    }


def candidates(train: list[Clip], seed: int) -> dict[str, object]:
    """Every candidate of the selection fitted on `train` (one fit per strength)."""
    out = {}
    for strength in sorted({c.augment for c in CANDIDATES}):
        base = ExpressionModel(readout="blend", augment=strength, seed=seed).fit(train)
        out.update({c.key: base.variant(c.readout) for c in CANDIDATES
                    if c.augment == strength})
    return out


def run(folds: dict[str, tuple[list[Clip], list[Clip]]], seeds: int, epochs: int
        ) -> dict[str, dict]:
    """macro-F1 per (fold, seed), recall per label and fit seconds, for every model."""
    results = {m: {"f1": {}, "recall": {}, "fit_s": []} for m in MODELS}
    refs = fitters(epochs)

    def score(name: str, model: object, test: list[Clip], fold: str, seed: int,
              also: range) -> None:
        report = evaluate(model, test)
        for s in also:
            results[name]["f1"][(fold, s)] = report.macro_f1
        for label, row in report.per_target.items():
            if row["metric"].startswith("share"):
                results[name]["recall"].setdefault(label, []).append(row["value"])

    for fold, (train, test) in folds.items():
        for seed in range(seeds):
            t0 = time.perf_counter()
            fitted = candidates(train, seed)
            results[KEYS[0]]["fit_s"].append(time.perf_counter() - t0)
            for name, model in fitted.items():
                score(name, model, test, fold, seed, range(seed, seed + 1))
        for name, fit in refs.items():
            deterministic = name in ("least sq.", "softmax")
            for seed in range(1 if deterministic else seeds):
                t0 = time.perf_counter()
                model = fit(train, seed)
                results[name]["fit_s"].append(time.perf_counter() - t0)
                score(name, model, test, fold, seed,
                      range(seed, seeds) if deterministic else range(seed, seed + 1))
        print(f"  {fold:<28} " + " ".join(
            f"{m}={statistics.mean(results[m]['f1'][(fold, s)] for s in range(seeds)):.3f}"
            for m in MODELS), flush=True)
    return results


def table(title: str, folds: list[str], results: dict, seeds: int) -> None:
    print(f"\n{title}: expression macro-F1 on held-out takes (mean over {seeds} seeds; "
          f"worst seed in brackets)")
    width = max(len(f) for f in folds) + 2
    print(f"{'fold':<{width}}" + "".join(f"{m:>15}" for m in MODELS))
    for fold in folds:
        cells = []
        for m in MODELS:
            vals = [results[m]["f1"][(fold, s)] for s in range(seeds)]
            cells.append(f"{statistics.mean(vals):.3f} ({min(vals):.3f})")
        print(f"{fold:<{width}}" + "".join(f"{c:>15}" for c in cells))
    rows = [("mean", lambda v: statistics.mean(v)), ("worst fold x seed", min)]
    for name, agg in rows:
        print(f"{name:<{width}}" + "".join(
            f"{agg(list(results[m]['f1'].values())):>15.3f}" for m in MODELS))
    labels = sorted({lb for m in MODELS for lb in results[m]["recall"]})
    for label in labels:
        print(f"{'recall ' + label:<{width}}" + "".join(
            f"{statistics.mean(results[m]['recall'].get(label, [float('nan')])):>15.3f}"
            for m in MODELS))
    print(f"{'fit, median (s)':<{width}}" + "".join(
        f"{statistics.median(results[m]['fit_s']):>15.2f}" if results[m]["fit_s"] else
        f"{'(with ' + KEYS[0] + ')':>15}" for m in MODELS))
    below = [k for k in results["app"]["f1"]
             if results["app"]["f1"][k] < results["linear"]["f1"][k] - TIE]
    print(f"what the app trains is below the straight line on {len(below)} of "
          f"{len(results['app']['f1'])} folds x seeds")


def both_takes(clips: list[Clip], seeds: int) -> None:
    """What Train does with both takes of every label: the candidates' folds, the choice."""
    print("\nBoth takes of every label (what Train does): each take of every label held out "
          "in turn; every candidate's folds (macro-F1), the choice")
    for rate, takes in (("60 fps", clips), ("30 fps", [halved(c) for c in clips])):
        for seed in range(seeds):
            t0 = time.perf_counter()
            _, summary = train_clips(takes, {"seed": seed})
            seconds = time.perf_counter() - t0
            selection = summary["report"]["selection"]
            rows = {r["key"]: r for r in selection["candidates"]}
            chosen = rows[selection["chosen"]]
            below = any(m < line - TIE for m, line in zip(
                chosen["folds"], rows["linear"]["folds"], strict=True))
            print(f"  {rate} seed {seed}: " + "  ".join(
                f"{k} " + "/".join(f"{f:.3f}" for f in r["folds"]) for k, r in rows.items())
                + f"  -> {selection['chosen']}"
                + (" BELOW the straight line on a fold" if below else "")
                + f"  ({seconds:.1f} s, CPython)", flush=True)


def nested(clips: list[Clip]) -> None:
    """Each take held out in turn; the selection sees only the other seven."""
    print("\nNested, 60 fps, seed 0: one take held out, the selection run on the other seven, "
          "the chosen model scored on the held-out take (share of its frames right)")
    below = 0
    for clip in clips:
        train = [c for c in clips if c is not clip]
        chosen = select(train).chosen
        mine = evaluate(ExpressionModel(**chosen.params()).fit(train), [clip])
        line = evaluate(ExpressionModel(readout="linear").fit(train), [clip])
        worse = mine.expression_accuracy < line.expression_accuracy - TIE
        below += worse
        print(f"  {clip.labels[0]:<8} {clip.name:<26} chosen {chosen.key:<13} "
              f"{mine.expression_accuracy:.3f}  straight line {line.expression_accuracy:.3f}"
              + ("  below" if worse else ""), flush=True)
    print(f"  the chosen model below the straight line on {below} of {len(clips)} takes")


def short_takes(seeds: int) -> None:
    """The synthetic short-take case: every candidate trained on the second takes."""
    print("\nShort-take case (synthetic, mechanics only): trained on the second takes, scored "
          "on the first; macro-F1 / share of the pressed neutral take read right")
    print(f"{'seed':<6}" + "".join(f"{k:>16}" for k in KEYS) + f"{'app':>16}")
    for seed in range(seeds):
        first, second = short_take_case(seed)
        models = {**candidates(second, 0), "app": train_clips(second)[0]}
        cells = []
        for model in models.values():
            report = evaluate(model, first)
            neutral = next(t["right"] for t in report.per_take if t["truth"] == "neutral")
            cells.append(f"{report.macro_f1:.2f}/{neutral:.2f}")
        print(f"{seed:<6}" + "".join(f"{c:>16}" for c in cells), flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=200, help="prototype's training epochs")
    ap.add_argument("--no-synthetic", action="store_true")
    args = ap.parse_args()
    if not args.data.is_dir():
        print(f"no real recordings at {args.data}", file=sys.stderr)
        return 2
    clips = read_labelled_folder(args.data)
    print(f"real data: {len(clips)} takes, {sum(len(c.frames) for c in clips)} frames, "
          f"labels {sorted({c.labels[0] for c in clips})}")
    folds = {}
    for rate, takes in (("60 fps", clips), ("30 fps", [halved(c) for c in clips])):
        for k, (train, test) in enumerate(take_folds(takes)):
            folds[f"train take {k + 1}, {rate}"] = (train, test)
    real = run(folds, args.seeds, args.epochs)
    table("Real Live Link takes, one take per label", list(folds), real, args.seeds)
    both_takes(clips, args.seeds)
    nested(clips)
    short_takes(8)
    if not args.no_synthetic:
        from mimic.synthetic import make_dataset

        synth = make_dataset(people=1, sessions=3, takes=2, seconds=1.6, seed=11)
        sfolds = {f"synthetic split {s}": split_by_take(synth, seed=s) for s in range(2)}
        print("\nsynthetic (mechanics only, not a quality claim):")
        table("Synthetic", list(sfolds), run(sfolds, args.seeds, args.epochs), args.seeds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
