"""Command line: the same core the page runs, for users who prefer to work natively.

    python -m mimic import-livelink take.csv --label happy -o happy.json
    python -m mimic train clips/*.json -o face.mimic
    python -m mimic train takes/ -o face.mimic     (Live Link CSVs in takes/<label>/)
    python -m mimic evaluate face.mimic heldout/*.json
    python -m mimic predict face.mimic take.json [--clean] [-o weights.csv]
    python -m mimic export-tfjs face.mimic -o tfjs/   (model.json + model.weights.bin)
    python -m mimic synth -o clips/          (synthetic clips, to try things out)

A model trained here loads in the page (Train > Import model) and the other way round.
Takes recorded with the microphone on carry voice features: `train` then learns the voice
too, and `evaluate`, `predict` and `export-tfjs` carry it.
Every error a user can cause ends in one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mimic import modelfile
from mimic.clips import Clip, ClipFormatError, dump_clips, load_clips
from mimic.voice import VISEMES

__all__ = ["main", "read_clips"]


class UsageError(Exception):
    """A problem with the user's input; printed as one line."""


def read_clips(paths: Sequence[str | Path], label: str | None = None) -> list[Clip]:
    """Clips from .json / .mimicclip / .mimicclips files, Live Link CSVs with `label`, or
    folders of Live Link CSVs in subfolders named by label (`takes/angry/take1.csv`)."""
    clips: list[Clip] = []
    for path in map(Path, paths):
        try:
            if path.is_dir():
                from mimic.io.livelink import read_labelled_folder

                clips.extend(read_labelled_folder(path))
            elif path.suffix.lower() == ".csv":
                if not label:
                    raise UsageError(f"{path}: a Live Link CSV needs --label (or give the "
                                     f"folder that holds one folder per label)")
                from mimic.io.livelink import read_livelink

                clips.extend(read_livelink(path, label))
            else:
                clips.extend(load_clips(path.read_bytes()))
        except OSError as exc:
            raise UsageError(f"{path}: {exc.strerror or exc}") from exc
        except (ClipFormatError, ValueError) as exc:
            message = str(exc)
            raise UsageError(message if message.startswith(str(path)) else f"{path}: {exc}"
                             ) from exc
    if not clips:
        raise UsageError("no clips given")
    return clips


def _load_model(path: str):
    try:
        return modelfile.loads(Path(path).read_bytes())
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror or exc}") from exc
    except modelfile.ModelFileError as exc:
        raise UsageError(f"{path}: {exc}") from exc


def _write_clips(clips: list[Clip], out: Path) -> list[Path]:
    if out.suffix.lower() == ".mimicclips" or len(clips) == 1:
        data = dump_clips(clips) if out.suffix.lower() == ".mimicclips" else (
            clips[0].to_bytes() if out.suffix.lower() == ".mimicclip"
            else clips[0].to_json().encode())
        out.write_bytes(data)
        return [out]
    written = []
    for i, clip in enumerate(clips, 1):  # a paused recording became several clips
        path = out.with_name(f"{out.stem}-{i}{out.suffix}")
        path.write_text(clip.to_json())
        written.append(path)
    return written


def cmd_import_livelink(args: argparse.Namespace) -> None:
    from mimic.io.livelink import read_livelink

    try:
        clips = read_livelink(Path(args.csv), tuple(args.label.split("+")), fps=args.fps)
    except OSError as exc:
        raise UsageError(f"{args.csv}: {exc.strerror or exc}") from exc
    except (ClipFormatError, ValueError) as exc:
        raise UsageError(f"{args.csv}: {exc}") from exc
    for path in _write_clips(clips, Path(args.output)):
        print(f"wrote {path}")


class ProgressLine:
    """Training progress on stderr: one live line on a terminal; on a file or a pipe, a plain
    line when the stage changes or another tenth is done (as pip and tqdm do), never a long
    line of carriage returns."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.live = bool(getattr(self.stream, "isatty", lambda: False)())
        self.stage = ""
        self.tenth = -1

    def __call__(self, fraction: float, message: str, loss: float | None = None) -> None:
        text = f"{100 * fraction:5.1f}% {message}" + (f" loss {loss:.4f}" if loss is not None
                                                       else "")
        if self.live:
            print(f"\r{text}".ljust(60), end="", file=self.stream, flush=True)
            return
        stage = re.sub(r"\d+", "#", message)
        tenth = int(10 * fraction)
        if stage != self.stage or tenth > self.tenth:
            print(text, file=self.stream, flush=True)
            self.stage, self.tenth = stage, tenth

    def close(self) -> None:
        if self.live:
            print(file=self.stream)


def cmd_train(args: argparse.Namespace) -> None:
    from mimic.evaluate import Report
    from mimic.trainjob import TrainingError, train_clips

    clips = read_clips(args.clips, args.label)
    options = {"seed": args.seed, "hidden": args.hidden, "alpha": args.alpha}
    progress = None if args.quiet else ProgressLine()
    started = time.perf_counter()
    try:
        model, summary = train_clips(clips, options, progress)
    except TrainingError as exc:
        raise UsageError(str(exc)) from exc
    if progress is not None:
        progress.close()
    header, arrays = model.to_state()
    header.update(kind=modelfile.MODEL_KIND, summary=summary, report=summary.get("report"))
    Path(args.output).write_bytes(modelfile.pack(header, arrays))
    print(f"trained on {summary['clips']} clips ({summary['frames']} frames) in "
          f"{time.perf_counter() - started:.2f} s; targets: {', '.join(summary['targets'])}")
    if summary.get("report"):
        print(Report(**summary["report"]).table())
    else:
        print("no held-out evaluation: record at least two takes of each target")
        if summary.get("selection"):
            print(summary["selection"]["reason"])
        for hint in summary.get("hints") or []:
            print(f"hint: {hint}")
    print(f"wrote {args.output}")


def cmd_evaluate(args: argparse.Namespace) -> None:
    from mimic.evaluate import evaluate

    model = _load_model(args.model)
    print(evaluate(model, read_clips(args.clips, args.label)).table())


def cmd_predict(args: argparse.Namespace) -> None:
    from mimic.postprocess import Cleanup

    model = _load_model(args.model)
    names = list(model.targets_.names)
    out = open(args.output, "w", newline="") if args.output else sys.stdout  # noqa: SIM115
    try:
        writer = csv.writer(out)
        voiced = model.voice_ is not None
        writer.writerow(["clip", "frame", "time", *names,
                         *(f"voice_{v}" for v in VISEMES if voiced)])
        for n, clip in enumerate(read_clips(args.clips, args.label)):
            pred = model.predict(clip.frames)
            if args.clean:
                cleanup = Cleanup(model.targets_)
                pred = np.stack([cleanup.step(p, float(t)).copy()
                                 for p, t in zip(pred, clip.timestamps, strict=True)])
            voice = _voice_columns(model, clip) if voiced else None
            for i, (t, row) in enumerate(zip(clip.timestamps, pred, strict=True)):
                tail = [] if voice is None else voice[i]
                writer.writerow([clip.name or n, i, f"{t:.4f}", *(f"{v:.4f}" for v in row),
                                 *tail])
    finally:
        if out is not sys.stdout:
            out.close()


def _voice_columns(model: Any, clip: Clip) -> list[list[str]]:
    """The learned voice's visemes per frame, as live (empty for a take without sound, or
    with sound in another feature layout than the voice reads)."""
    if clip.audio is None or clip.audio.shape[1] != model.voice_.layout.width:
        return [[""] * len(VISEMES)] * len(clip.frames)
    mouth = model.voice_.mouth(hop_s=1.0 / clip.fps)
    out = np.zeros(len(VISEMES), np.float32)
    return [[f"{v:.4f}" for v in mouth.step(row, out)] for row in clip.audio]


def cmd_export_tfjs(args: argparse.Namespace) -> None:
    from mimic.tfjsmodel import to_tfjs

    model = _load_model(args.model)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    model_json, weights = to_tfjs(model)
    (out / "model.json").write_text(json.dumps(model_json, indent=1))
    (out / "model.weights.bin").write_bytes(weights)
    voice = ", with the learned voice in its metadata" if model.voice_ is not None else ""
    print(f"wrote {out / 'model.json'} and model.weights.bin{voice}")


def cmd_synth(args: argparse.Namespace) -> None:
    from mimic.synthetic import make_dataset

    clips = make_dataset(people=1, sessions=args.sessions, takes=args.takes,
                         seconds=args.seconds, seed=args.seed)
    out = Path(args.output)
    if out.suffix.lower() == ".mimicclips":
        out.write_bytes(dump_clips(clips))
        print(f"wrote {len(clips)} clips to {out}")
        return
    out.mkdir(parents=True, exist_ok=True)
    for i, clip in enumerate(clips):
        (out / f"{i:03d}-{'+'.join(clip.labels)}.json").write_text(clip.to_json())
    print(f"wrote {len(clips)} clips to {out}/")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mimic", description="Train and use face expression "
                                "models from MediaPipe blendshape recordings.")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("import-livelink", help="convert a Live Link Face CSV into clips")
    s.add_argument("csv")
    s.add_argument("--label", required=True, help="target, or two joined by + (happy+aa)")
    s.add_argument("--fps", type=float, default=None, help="recording rate if known")
    s.add_argument("-o", "--output", required=True, help=".json, .mimicclip or .mimicclips")
    s.set_defaults(run=cmd_import_livelink)

    s = sub.add_parser("train", help="train a model on clips and report held-out quality")
    s.add_argument("clips", nargs="+")
    s.add_argument("-o", "--output", required=True)
    s.add_argument("--label", help="label for any Live Link CSV given")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--hidden", type=int, default=16)
    s.add_argument("--alpha", type=float, default=1e-4)
    s.add_argument("-q", "--quiet", action="store_true")
    s.set_defaults(run=cmd_train)

    s = sub.add_parser("evaluate", help="score a model on clips it did not train on")
    s.add_argument("model")
    s.add_argument("clips", nargs="+")
    s.add_argument("--label", help="label for any Live Link CSV given")
    s.set_defaults(run=cmd_evaluate)

    s = sub.add_parser("predict", help="target weights per frame, as CSV")
    s.add_argument("model")
    s.add_argument("clips", nargs="+")
    s.add_argument("--label", help="label for any Live Link CSV given")
    s.add_argument("--clean", action="store_true", help="apply the live clean-up")
    s.add_argument("-o", "--output", help="CSV file (default: standard output)")
    s.set_defaults(run=cmd_predict)

    s = sub.add_parser("export-tfjs", help="write a model as TF.js model.json + weights")
    s.add_argument("model")
    s.add_argument("-o", "--output", required=True, help="a folder")
    s.set_defaults(run=cmd_export_tfjs)

    s = sub.add_parser("synth", help="write synthetic clips to try the tools on")
    s.add_argument("-o", "--output", required=True, help="a folder, or a .mimicclips file")
    s.add_argument("--sessions", type=int, default=2)
    s.add_argument("--takes", type=int, default=2)
    s.add_argument("--seconds", type=float, default=3.0)
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(run=cmd_synth)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        args.run(args)
    except UsageError as exc:
        print(f"mimic: {exc}", file=sys.stderr)
        return 2
    return 0
