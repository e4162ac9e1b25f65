"""One training job as the page runs it (in a worker): clips in, model file and report out.

Kept free of browser code so the same job runs under CPython in tests and in the CLI.
Quality is reported on takes held out from training, each take in turn (never frames of a
take it saw); the model that is returned is then fitted on every clip, so nothing recorded
is wasted.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mimic.clips import Clip, load_clips
from mimic.progress import Progress, scaled_progress
from mimic.targets import TargetSet

CHOSEN_NOTE = ("Every take was scored by models trained without it, and those scores chose "
               "the model.")


class TrainingError(ValueError):
    """The clips cannot make a model; the message says what to record."""


def check_trainable(clips: list[Clip]) -> TargetSet:
    if not clips:
        raise TrainingError("Record some clips first: at least neutral and one expression.")
    recorded = {label for c in clips for label in c.labels}
    if len(recorded) < 2:
        raise TrainingError("Record at least two different targets (for example neutral and "
                            "happy) so the model has something to tell apart.")
    return TargetSet.from_labels(recorded)


def train_clips(clips: list[Clip], options: dict[str, Any] | None = None,
                progress: Progress | None = None) -> tuple[Any, dict[str, Any]]:
    """Hold out every take in turn, let the held-out takes choose the model
    (`mimic.selection`), then fit the chosen one on all clips.

    Options that fix `readout` or `augment` skip the choice: that one model is scored.
    """
    # Imported here: the page's main thread checks clips with this module but never trains.
    from mimic.crossval import cross_validate, take_folds
    from mimic.model import ExpressionModel
    from mimic.selection import select

    options = dict(options or {})
    targets = check_trainable(clips)
    head = scaled_progress(progress, 0.0, 0.8)
    chosen: dict[str, Any] = {}
    selected = None
    if "readout" in options or "augment" in options:
        result = cross_validate(clips, lambda: ExpressionModel(**options), head)
    else:
        selection = select(clips, options, head)
        selected = selection.summary()
        chosen = selection.chosen.params()
        result = selection.report
    short = short_take_hints(clips)
    if result is not None:
        result.selection = selected
        result.hints = [*result.hints, *short]
        if selected:
            result.note = CHOSEN_NOTE
    report = result.to_dict() if result is not None else None
    model = ExpressionModel(**{**options, **chosen}).fit(
        clips, progress=scaled_progress(progress, 0.8, 0.98, "Training the chosen model"))
    summary = {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "targets": list(targets.names),
        "clips": len(clips),
        "frames": int(sum(len(c.frames) for c in clips)),
        "heldout_clips": len({i for fold in take_folds(clips) for i in fold}),
        "report": report,
        "selection": selected,
        "hints": short,
        "voice": voice_summary(clips, model),
    }
    if progress:
        progress(1.0, "done", None)
    return model, summary


def short_take_hints(clips: list[Clip], ratio: float = 0.5, least_s: float = 2.0
                     ) -> list[str]:
    """Takes much shorter than the others of their label: a short take teaches whatever it
    happens to show (a lip press) as if it were the expression."""
    from mimic.evaluate import number_takes

    numbers = number_takes(clips)
    by_label: dict[tuple[str, ...], list[Clip]] = {}
    for clip in clips:
        by_label.setdefault(tuple(sorted(clip.labels)), []).append(clip)
    out = []
    for labels, group in by_label.items():
        if len(group) < 2:
            continue
        lengths = [_seconds(c) for c in group]
        typical = sorted(lengths)[len(lengths) // 2]
        for clip, length in zip(group, lengths, strict=True):
            if length < least_s and length < ratio * typical:
                out.append(f"{' + '.join(labels)} take {numbers[id(clip)]} is {length:.1f} s; "
                           f"record at least {least_s:.0f} s, so the model sees the expression "
                           f"and not whatever that moment happened to show.")
    return out


def _seconds(clip: Clip) -> float:
    t = clip.timestamps
    return float(t[-1] - t[0]) if len(t) > 1 else 0.0


def voice_summary(clips: list[Clip], model: Any) -> dict[str, Any]:
    """Whether the model learned the user's voice, from which takes; or what to record.
    Takes whose sound an earlier Mimic recorded (another feature layout) are said, since
    the voice leaves them out."""
    from mimic.voicemodel import voice_takes, voice_truth

    with_sound = [c for c in clips if c.audio is not None]
    usable = voice_takes(clips)
    spoken = sorted({voice_truth(c) for c in usable} - {-1})
    out: dict[str, Any] = {"takes_with_sound": len(with_sound),
                           "learned": model.voice_ is not None}
    left_out = len(with_sound) - len(usable)
    if left_out:
        out["left_out"] = left_out
        takes, were, them = ("takes", "were", "them") if left_out != 1 else ("take", "was", "it")
        out["left_out_note"] = (
            f"{left_out} {takes} with sound recorded by an earlier Mimic (fewer voice features "
            f"a frame) {were} left out of the voice: record {them} again with the microphone "
            f"on to use {them}.")
    if model.voice_ is not None:
        out["visemes"] = list(model.voice_.visemes_)
        out["gate_db"], out["full_db"] = model.voice_.gate_db_, model.voice_.full_db_
    elif usable:
        out["note"] = ("Your voice was not learned: the takes with sound hold too little "
                       "speech. Say the viseme out loud through the whole take."
                       if len(spoken) >= 2 else
                       "Your voice was not learned: record takes of at least two visemes "
                       "(aa, ih, ou, ee, oh) with the microphone on, saying them out loud.")
    return out


def train_bundle(data: bytes, options: dict[str, Any] | None = None,
                 progress: Progress | None = None) -> tuple[bytes, dict[str, Any]]:
    """The worker's entry point: a clips file in, a model file and its summary out."""
    from mimic import modelfile

    model, summary = train_clips(load_clips(data), options, progress)
    return modelfile.dumps(model), summary
