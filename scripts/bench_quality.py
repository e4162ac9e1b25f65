"""Quality on real recordings: cross-take folds on iPhone Live Link Face takes of one performer.

Data: ../shared/data/livelink (one folder per label, two takes each). Fold k trains on take k
of every label and scores on the other take (the harder case: one training take per label),
at the files' 60 fps and halved to 30 fps as a webcam gives, for several seeds. Side by side,
each scored by the same `mimic.evaluate` (expression macro-F1 on the held-out takes):

  Mimic       ExpressionModel() with the defaults a user gets
  prototype   exact numpy copy of the TF.js prototype's 52-64-32-K linear net (scripts/baselines)
  least sq.   one linear least-squares readout
  logistic    scikit-learn's LogisticRegression

Then the same on the synthetic suite (mimic.synthetic), labelled "synthetic": it tests
mechanics, not quality.

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
from mimic.targets import TargetSet  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "livelink"
MODELS = ("Mimic", "prototype", "least sq.", "logistic")


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
    def wrap(make: Callable) -> Callable:
        def fit(train: list[Clip], seed: int) -> object:
            targets = TargetSet.from_labels(lb for c in train for lb in c.labels)
            x, y = baselines.design(train, targets)
            return ExpressionModel.from_dense_layers(make(x, y, targets, seed), targets.names)
        return fit

    return {
        "Mimic": lambda train, seed: ExpressionModel(seed=seed).fit(train),
        "prototype": wrap(lambda x, y, t, s: baselines.prototype_net(x, y, s, epochs)),
        "least sq.": wrap(lambda x, y, t, s: baselines.least_squares(x, y)),
        "logistic": wrap(lambda x, y, t, s: baselines.logistic(x, y, t)),
    }


def run(folds: dict[str, tuple[list[Clip], list[Clip]]], seeds: int, epochs: int
        ) -> dict[str, dict]:
    """macro-F1 per (fold, seed), recall per label and fit seconds, for every model."""
    results = {m: {"f1": {}, "recall": {}, "fit_s": []} for m in MODELS}
    for fold, (train, test) in folds.items():
        for name, fit in fitters(epochs).items():
            deterministic = name in ("least sq.", "logistic")
            for seed in range(1 if deterministic else seeds):
                t0 = time.perf_counter()
                model = fit(train, seed)
                results[name]["fit_s"].append(time.perf_counter() - t0)
                report = evaluate(model, test)
                for s in range(seed, seeds if deterministic else seed + 1):
                    results[name]["f1"][(fold, s)] = report.macro_f1
                for label, row in report.per_target.items():
                    if row["metric"].startswith("share"):
                        results[name]["recall"].setdefault(label, []).append(row["value"])
            print(f"  {fold:<28} {name:<10} " + " ".join(
                f"{results[name]['f1'][(fold, s)]:.3f}" for s in range(seeds)), flush=True)
    return results


def table(title: str, folds: list[str], results: dict, seeds: int) -> None:
    print(f"\n{title}: expression macro-F1 on held-out takes (mean over {seeds} seeds; "
          f"worst seed in brackets)")
    width = max(len(f) for f in folds) + 2
    print(f"{'fold':<{width}}" + "".join(f"{m:>18}" for m in MODELS))
    for fold in folds:
        cells = []
        for m in MODELS:
            vals = [results[m]["f1"][(fold, s)] for s in range(seeds)]
            cells.append(f"{statistics.mean(vals):.3f} ({min(vals):.3f})")
        print(f"{fold:<{width}}" + "".join(f"{c:>18}" for c in cells))
    rows = [("mean", lambda v: statistics.mean(v)), ("worst fold x seed", min)]
    for name, agg in rows:
        print(f"{name:<{width}}" + "".join(
            f"{agg(list(results[m]['f1'].values())):>18.3f}" for m in MODELS))
    labels = sorted({lb for m in MODELS for lb in results[m]["recall"]})
    for label in labels:
        print(f"{'recall ' + label:<{width}}" + "".join(
            f"{statistics.mean(results[m]['recall'].get(label, [float('nan')])):>18.3f}"
            for m in MODELS))
    print(f"{'fit, median (s)':<{width}}" + "".join(
        f"{statistics.median(results[m]['fit_s']):>18.2f}" for m in MODELS))
    wins = all(results["Mimic"]["f1"][k] > max(results[m]["f1"][k] for m in MODELS[1:])
               for k in results["Mimic"]["f1"])
    print(f"Mimic ahead of every other model on every fold and seed: {'yes' if wins else 'NO'}")


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
    table("Real Live Link takes", list(folds), real, args.seeds)
    if not args.no_synthetic:
        from mimic.synthetic import make_dataset

        synth = make_dataset(people=1, sessions=3, takes=2, seconds=1.6, seed=11)
        sfolds = {f"synthetic split {s}": split_by_take(synth, seed=s) for s in range(2)}
        print("\nsynthetic (mechanics only, not a quality claim):")
        table("Synthetic", list(sfolds), run(sfolds, args.seeds, args.epochs), args.seeds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
