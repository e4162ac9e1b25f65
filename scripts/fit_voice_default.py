"""Fit the default voice-to-vowel mapping on real speech and write it as constants.

The default mapping is what every user hears before training, so it must read voices it
never heard. It is fitted on the shared reader's real speech (../shared/data/speech), each
clip also resampled so that every frequency moves by 0.85-1.15 (a shorter or longer vocal
tract: formants and pitch move together, as from a man's voice to a child's), on the hops a
vowel is said above the default gate, each hop counting once (speech's own vowel
frequencies: when the spectrum says little, the commonest vowels win). The result is written
to py/mimic/voicedefault.py as a small table of numbers, so the app never reads ../shared.
scripts/bench_lipsync.py judges it, also on speech moved by 0.8 and 1.2, which it never saw.

Usage: .venv/bin/python scripts/fit_voice_default.py [--check]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "py"))

import lipsync
from mimic.tfjs import DenseLayer
from mimic.voice import LAYOUT
from mimic.voicemodel import train_picker

SCALES = (0.85, 0.9, 1.0, 1.1, 1.15)
HIDDEN = 16
ALPHA = 1e-3
MAX_ITER = 500
GATE_DB = -48.0
SYNTHETIC_PITCHES = (30, 62, 75)
OUT = Path(__file__).resolve().parent.parent / "py" / "mimic" / "voicedefault.py"


def synthetic_rows() -> tuple[list[np.ndarray], list[np.ndarray]]:
    """espeak-ng's five vowels said alone at three pitches: the reader's American English
    has no back [u] or pure [o] (her "ou" sits near "ih"), which the Japanese vowels of the
    visemes are; these add them. Pitches and pace other than the tests' own."""
    import speech
    from mimic.voice import VISEMES

    xs, ys = [], []
    for pitch in SYNTHETIC_PITCHES:
        for v, name in enumerate(VISEMES):
            rows = speech.voice_features(speech.vowels(name, pitch, 100))
            rows = rows[rows[:, 0] > GATE_DB + 6]
            xs.append(rows[:, 1:])
            ys.append(np.full(len(rows), v))
    return xs, ys


def training_rows(clips_by_scale: dict[float, list[lipsync.Utterance]],
                  keep: set[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The band shapes and viseme of every vowel hop above the gate (clips named in `keep`,
    or all), and the synthetic vowels."""
    xs, ys = synthetic_rows()
    for clips in clips_by_scale.values():
        for clip in clips:
            if keep is not None and clip.name not in keep:
                continue
            said = (clip.labels >= 0) & (clip.hops[:, 0] > GATE_DB)
            xs.append(clip.hops[said, 1:])
            ys.append(clip.labels[said])
    return np.concatenate(xs).astype(np.float64), np.concatenate(ys)


def fit(clips_by_scale: dict[float, list[lipsync.Utterance]],
        keep: set[str] | None = None) -> list[DenseLayer]:
    x, y = training_rows(clips_by_scale, keep)
    return train_picker(x, y, 5, HIDDEN, ALPHA, MAX_ITER, seed=0, balanced=False)


def source(layers: list[DenseLayer], frames: int) -> str:
    def numbers(a: np.ndarray, indent: str) -> str:
        """Eight numbers a line, so the written module keeps to the line length."""
        lines = [", ".join(f"{v:.4f}" for v in a[i:i + 8]) for i in range(0, len(a), 8)]
        return f",\n{indent}".join(lines)

    def rows(a: np.ndarray) -> str:
        return "\n".join("    [" + numbers(r, "     ") + "]," for r in a)

    def vector(a: np.ndarray) -> str:
        return "[" + numbers(a, "    ") + "]"

    (k1, b1), (k2, b2) = ((la.kernel, la.bias) for la in layers)
    nb = len(LAYOUT.bands)
    return f'''"""The default voice-to-vowel mapping: a small network fitted on real speech.

Written by scripts/fit_voice_default.py (do not edit by hand): the band shapes of
`mimic.voice.LAYOUT` ({nb} bands, this hop and the {LAYOUT.context} before it) -> {HIDDEN}
tanh units -> softmax over aa, ih, ou, ee, oh, fitted on {frames} vowel hops of a real
reader's speech, resampled so that every frequency moved by {", ".join(f"{s:g}" for s in SCALES)}
(vocal tracts from longer to shorter), each hop counting once.
"""

import numpy as np

KERNEL1 = np.array([
{rows(k1)}
], np.float32)
BIAS1 = np.array({vector(b1)}, np.float32)
KERNEL2 = np.array([
{rows(k2)}
], np.float32)
BIAS2 = np.array({vector(b2)}, np.float32)
'''


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.parse_args()
    if not lipsync.available():
        print(f"no real speech at {lipsync.DATA}: ../shared is absent")
        return 1
    clips = {s: lipsync.load(s) for s in SCALES}
    layers = fit(clips)
    frames = len(training_rows(clips)[1])
    OUT.write_text(source(layers, frames))
    print(f"wrote {OUT} ({frames} hops)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
