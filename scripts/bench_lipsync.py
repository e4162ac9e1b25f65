"""Lip sync on real speech: the shared reader (../shared/data/speech), per 10 ms hop, as the
page runs live (12 kHz, `VoiceFeatures`, the `VoiceMouth` follower and its gate).

Side by side on every clip:
- the default mapping (no training): as shipped (fitted on these clips, so not held out)
  and fitted the same way without the clip scored (held out);
- the learned voice, each clip held out in turn: trained (`fit_voice`, as the studio does,
  starting from the held-out default) on viseme takes cut from the other clips as a user's
  takes would be (each viseme's stretches of speech with pauses between, one row per
  camera frame);
- an MFCC matcher in uLipSync's style (12 MFCCs over 64 ms, nearest profile), its profiles
  calibrated on the other clips: the reference;
- always the commonest vowel of the other clips.
"sure+wrong" is the share of vowel hops showing a wrong viseme with more than half the
mouth's weight; "never neutral" is the default without its open neutral mouth for unsure
vowels. Then the same with every frequency of the speech moved by a factor (resampled: a shorter or
longer vocal tract, as a child's or a man's voice moves formants by 15-25 %), each learned
voice and profile trained on speech moved alike; and the synthetic suite (espeak-ng), labelled
as such. See scripts/lipsync.py for the labels.

Usage: .venv/bin/python scripts/bench_lipsync.py [--scales 0.8 1.2] [--no-synthetic]
[--label-delay-ms 10] (a diagnosis of the labels' timing, not a figure to quote as a score)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "py"))

import lipsync
from mimic.voice import VISEMES, VoiceMouth
from mimic.voicemodel import fit_voice


def held_out_defaults(names: list[str]) -> list:
    """For each clip, the default mapping fitted as scripts/fit_voice_default.py does, on the
    other clips only: the shipped one heard every clip."""
    import fit_voice_default as fvd

    speech = {s: lipsync.load(s) for s in fvd.SCALES}
    return [fvd.fit(speech, set(names) - {name}) for name in names]


def learned_voices(clips: list[lipsync.Utterance], defaults: list) -> list:
    """For each clip, a voice learned without it, starting from a default that never heard
    it either."""
    rows = [c.hops for c in clips]  # the studio's recorder keeps each frame's latest hop
    out = []
    for i in range(len(clips)):
        rest = [j for j in range(len(clips)) if j != i]
        takes = lipsync.cut_takes([clips[j] for j in rest], [rows[j] for j in rest])
        out.append(fit_voice(takes, start=defaults[i]))
    return out


def mfcc_score(clips: list[lipsync.Utterance]) -> dict:
    score = lipsync.Score.empty()
    for i, clip in enumerate(clips):
        matcher = lipsync.MfccMatcher().fit([c for j, c in enumerate(clips) if j != i])
        read, open_ = matcher.read(clip)
        score.add_reads(clip.labels, read, open_)
    return score.figures()


def commonest_score(clips: list[lipsync.Utterance]) -> dict:
    score = lipsync.Score.empty()
    for i, clip in enumerate(clips):
        guess = lipsync.commonest([c for j, c in enumerate(clips) if j != i])
        n = len(clip.labels)
        score.add_reads(clip.labels, np.full(n, guess), np.ones(n, bool))
    return score.figures()


def judge(clips: list[lipsync.Utterance], defaults: list) -> dict[str, dict]:
    voices = learned_voices(clips, defaults)
    return {
        "default, shipped": lipsync.score_follower(clips, lambda i: VoiceMouth()),
        "default, held out": lipsync.score_follower(
            clips, lambda i: VoiceMouth(layers=defaults[i])),
        "  the same, never neutral": lipsync.score_follower(
            clips, lambda i: VoiceMouth(layers=defaults[i], unsure=-1.0, sure=0.0)),
        "learned voice (held out)": lipsync.score_follower(clips, lambda i: voices[i].mouth()),
        "MFCC matcher, calibrated": mfcc_score(clips),
        "commonest vowel": commonest_score(clips),
    }


def table(title: str, results: dict[str, dict]) -> None:
    some = next(iter(results.values()))
    print(f"\n{title}: {some['vowel_frames']} vowel frames, {some['pause_frames']} pause "
          "frames (10 ms hops)")
    head = (f"{'':<26}{'right':>7}{'F1':>6}  " + " ".join(f"{v:>4}" for v in VISEMES)
            + f"{'pause open':>12}{'vowel open':>12}{'sure+wrong':>12}{'lag':>7}")
    print(head)
    for name, f in results.items():
        recalls = " ".join(f"{f['recall_' + v]:4.0%}" for v in VISEMES)
        print(f"{name:<26}{f['right']:7.1%}{f['macro_f1']:6.2f}  {recalls}"
              f"{f['pause_open']:12.1%}{f['vowel_open']:12.1%}{f['sure_wrong']:12.1%}"
              f"{f['lag_ms']:5.0f} ms")


def synthetic() -> None:
    """espeak-ng's voice (synthetic): the held-out takes of the studio's own scoring."""
    import speech
    from mimic.crossval import cross_validate
    from mimic.model import ExpressionModel

    speech.require()
    report = cross_validate(speech.spoken_takes(),
                            lambda: ExpressionModel(max_iter=60, augment=0.0))
    v = report.voice
    print(f"\nSYNTHETIC (espeak-ng speech, not a real voice): two takes of each viseme, each "
          f"held out, {v['frames']} speech frames read right:")
    for key, what in (("voice", "learned voice"), ("untrained", "default mapping")):
        print(f"  {what:<18}{v[key]['accuracy']:6.1%}  macro-F1 {v[key]['macro_f1']:.2f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", type=float, nargs="*", default=[0.8, 1.2],
                    help="formant/pitch factors to judge besides the real voice")
    ap.add_argument("--no-synthetic", action="store_true")
    ap.add_argument("--label-delay-ms", type=float, default=0.0,
                    help="diagnosis only: label each hop by what the aligner says was said "
                         "this long before the hop completed (its stamps may lead the sound)")
    args = ap.parse_args()
    if not lipsync.available():
        print(f"no real speech at {lipsync.DATA}: ../shared is absent")
        return 1
    t0 = time.perf_counter()
    defaults = None
    for scale in [1.0, *args.scales]:
        clips = lipsync.load(scale, delay_s=args.label_delay_ms / 1000.0)
        defaults = defaults or held_out_defaults([c.name for c in clips])
        title = ("REAL speech, the shared reader (16 clips), each clip held out" if scale == 1
                 else f"REAL speech with every frequency x{scale:g} (resampled)")
        if args.label_delay_ms:
            title += f", DIAGNOSIS: labels {args.label_delay_ms:g} ms earlier"
        table(title, judge(clips, defaults))
    if not args.no_synthetic:
        synthetic()
    print(f"\n({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
