"""Lip sync judged on real speech: the shared reader's clips, labelled per 10 ms hop, run
through the page's own voice path, and scored.

The clips (`../shared/data/speech/ljspeech`: one US English reader, pocketsphinx phone
alignments) are read from there, never copied here. Every figure is per 10 ms hop, exactly
as the page works live: the speech is resampled to the page's 12 kHz capture rate, cut into
hops by `mimic.voice.VoiceFeatures`, and each hop steps a live follower (`VoiceMouth`). A
hop is labelled by what the reader was saying when it completed, i.e. when the avatar shows
it, so any delay of the follower costs accuracy as it would on screen.

Labels follow the data's README: AA, AE -> aa; IY, IH -> ih (い, "see"); UW, UH -> ou;
EH -> ee (え, "bed"); AO -> oh; diphthongs as their two halves (60/40); AH only when at least
80 ms long -> aa; other phones are speech but not scored as vowels. A `<sil>` between words
is a pause (the mouth should be shut); silence before the first and after the last word is
not scored.

Used by scripts/bench_lipsync.py and tests/core/test_lipsync_real.py.
"""

from __future__ import annotations

import csv
import wave
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from mimic.clips import Clip
from mimic.metrics import macro_f1
from mimic.voice import VISEMES, VoiceFeatures, mouth_opening

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "speech" / "ljspeech"
MIC_RATE = 12000  # what the page's audio context runs at (web/mic.js)
HOP_S = 0.01
FPS = 30.0  # a take keeps one row of voice features per camera frame

PAUSE, OTHER, OUTSIDE = -2, -1, -3  # hop labels besides the visemes' indices
VOWELS = {"AA": ("aa",), "AE": ("aa",), "IY": ("ih",), "IH": ("ih",), "UW": ("ou",),
          "UH": ("ou",), "EH": ("ee",), "AO": ("oh",), "AY": ("aa", "ih"), "AW": ("aa", "ou"),
          "EY": ("ee", "ih"), "OW": ("oh", "ou"), "OY": ("oh", "ih")}
LONG_AH_S = 0.08


@dataclass
class Utterance:
    """One clip as the page hears it: its hops' features and what each hop says."""

    name: str
    samples: np.ndarray  # float32 at MIC_RATE
    hops: np.ndarray  # (n, 6) VoiceFeatures rows
    labels: np.ndarray  # (n,) viseme index, PAUSE, OTHER or OUTSIDE


def available() -> bool:
    return DATA.is_dir() and any(DATA.glob("*.phones.csv"))


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as w:
        rate, data = w.getframerate(), w.readframes(w.getnframes())
    return np.frombuffer(data, "<i2").astype(np.float64) / 32768.0, rate


def heard(samples: np.ndarray, rate: int, scale: float = 1.0) -> np.ndarray:
    """`samples` as the page hears them (12 kHz). `scale` != 1 moves every frequency by that
    factor (a shorter or longer vocal tract, and pitch with it): the sound is resampled to
    12 kHz / scale and then played at 12 kHz, so it also lasts 1 / scale as long."""
    from scipy.signal import resample_poly

    ratio = Fraction(MIC_RATE / scale / rate).limit_denominator(2000)
    out = resample_poly(samples, ratio.numerator, ratio.denominator)
    return out.astype(np.float32)


def hop_features(samples: np.ndarray) -> np.ndarray:
    """Every hop's features, as the page computes them (chunking does not change them)."""
    extractor = VoiceFeatures(MIC_RATE, max_hops=len(samples) // round(MIC_RATE * HOP_S) + 1)
    return extractor.rows[:extractor.push(samples)].copy()


def read_phones(path: Path) -> list[tuple[str, str, float, float]]:
    with path.open() as f:
        return [(r["word"], r["phone"].rstrip("012"), float(r["start_s"]), float(r["end_s"]))
                for r in csv.DictReader(f)]


def hop_labels(phones: Sequence[tuple[str, str, float, float]], n: int,
               scale: float = 1.0, delay_s: float = 0.0) -> np.ndarray:
    """Each hop's label, taken at the moment the hop completes ((i + 1) * 10 ms), or
    `delay_s` before it: a diagnosis of the aligner's timing (pocketsphinx stamps each of its
    10 ms frames with the start of its 25.6 ms window, so its boundaries may lead the sound
    by about half a window), never the benchmark's figures."""
    labels = np.full(n, OUTSIDE, np.int64)
    t = ((np.arange(n) + 1) * HOP_S - delay_s) * scale  # in the original clip's time
    words = [i for i, p in enumerate(phones) if p[0] != "<sil>"]
    first, last = (words[0], words[-1]) if words else (0, -1)
    for i, (word, phone, start, end) in enumerate(phones):
        inside = (t >= start) & (t < end)
        if word == "<sil>" or phone == "SIL":
            labels[inside] = PAUSE if first < i < last else OUTSIDE
            continue
        shapes = VOWELS.get(phone)
        if phone == "AH" and end - start >= LONG_AH_S:
            shapes = ("aa",)
        if shapes is None:
            labels[inside] = OTHER
        elif len(shapes) == 1:
            labels[inside] = VISEMES.index(shapes[0])
        else:
            split = start + 0.6 * (end - start)
            labels[inside & (t < split)] = VISEMES.index(shapes[0])
            labels[inside & (t >= split)] = VISEMES.index(shapes[1])
    return labels


def load(scale: float = 1.0, data: Path = DATA, delay_s: float = 0.0) -> list[Utterance]:
    """The shared reader's clips, optionally with every frequency moved by `scale` (and the
    labels taken `delay_s` earlier: `hop_labels`)."""
    out = []
    for csv_path in sorted(data.glob("*.phones.csv")):
        name = csv_path.name.removesuffix(".phones.csv")
        samples, rate = read_wav(data / f"{name}.wav")
        at12k = heard(samples, rate, scale)
        hops = hop_features(at12k)
        out.append(Utterance(name, at12k, hops, hop_labels(read_phones(csv_path), len(hops),
                                                           scale, delay_s)))
    return out


# --- running a follower and scoring it --------------------------------------------------

def follow(mouth, hops: np.ndarray) -> np.ndarray:
    """The visemes a live follower shows after each hop, (n, 5)."""
    out = np.zeros(len(VISEMES), np.float32)
    shown = np.zeros((len(hops), len(VISEMES)), np.float32)
    for i, row in enumerate(hops):
        shown[i] = mouth.step(row, out)
    return shown


@dataclass
class Score:
    """Per-hop tallies over many clips; the figures come from the totals."""

    matrix: np.ndarray  # (5, 6): true viseme x shown viseme, last column = mouth shut
    pause_open: int = 0
    pauses: int = 0
    lag_hops: list[int] | None = None
    sure_wrong: int = 0  # vowel hops showing a wrong viseme with more than half the weight

    @classmethod
    def empty(cls) -> Score:
        return cls(np.zeros((len(VISEMES), len(VISEMES) + 1), np.int64), 0, 0, [])

    def add(self, labels: np.ndarray, shown: np.ndarray) -> None:
        total = shown.sum(axis=1)
        open_ = total > 0
        read = np.where(open_, shown.argmax(axis=1), len(VISEMES))
        vowel = labels >= 0
        np.add.at(self.matrix, (labels[vowel], read[vowel]), 1)
        top = shown.max(axis=1) > 0.5 * total
        self.sure_wrong += int((vowel & open_ & top & (read != labels)).sum())
        pause = labels == PAUSE
        self.pause_open += int(open_[pause].sum())
        self.pauses += int(pause.sum())
        self.lag_hops.append(lag(labels, np.array([mouth_opening(s) for s in shown])))

    def add_reads(self, labels: np.ndarray, read: np.ndarray, open_: np.ndarray) -> None:
        """For matchers that are not followers: the viseme read and whether it is open."""
        shown = np.zeros((len(read), len(VISEMES)), np.float32)
        shown[np.arange(len(read)), read] = open_.astype(np.float32)
        self.add(labels, shown)

    def figures(self) -> dict[str, float]:
        m = self.matrix
        vowels = m.sum()
        out = {"right": float(np.trace(m[:, :len(VISEMES)]) / max(vowels, 1)),
               "macro_f1": macro_f1(m),
               "vowel_open": float(1 - m[:, -1].sum() / max(vowels, 1)),
               "pause_open": self.pause_open / max(self.pauses, 1),
               "sure_wrong": self.sure_wrong / max(vowels, 1),
               "vowel_frames": int(vowels), "pause_frames": self.pauses,
               "lag_ms": 10.0 * float(np.median(self.lag_hops)) if self.lag_hops else 0.0}
        for i, v in enumerate(VISEMES):
            out[f"recall_{v}"] = float(m[i, i] / max(m[i].sum(), 1))
        return out


def lag(labels: np.ndarray, opening: np.ndarray, most: int = 15) -> int:
    """The delay (in hops) at which the mouth's opening best matches when the reader is
    speaking (any phone) rather than pausing."""
    scored = labels != OUTSIDE
    speaking = (labels >= OTHER).astype(np.float64)
    best, best_k = -np.inf, 0
    for k in range(-5, most + 1):
        idx = np.flatnonzero(scored)
        idx = idx[(idx + k >= 0) & (idx + k < len(opening))]
        if len(idx) < 10:
            continue
        a, b = speaking[idx], opening[idx + k]
        if a.std() == 0 or b.std() == 0:
            continue
        c = float(np.corrcoef(a, b)[0, 1])
        if c > best:
            best, best_k = c, k
    return best_k


def score_follower(clips: Sequence[Utterance], make: Callable[[int], object]) -> dict:
    """`make(i)` gives the follower for clip i (a model that never heard clip i)."""
    score = Score.empty()
    for i, clip in enumerate(clips):
        score.add(clip.labels, follow(make(i), clip.hops))
    return score.figures()


# --- a user's viseme takes, cut from the reader's speech ----------------------------------

def cut_takes(clips: Sequence[Utterance], rows: Sequence[np.ndarray], take_s: float = 3.0,
              gap_hops: int = 20) -> list[Clip]:
    """Viseme takes as a user would record them: each viseme's stretches of speech, one
    after another with a pause between (the reader's own pause frames), about `take_s` a
    take, one row of features per camera frame (30 fps)."""
    pause_rows = np.concatenate([r[c.labels == PAUSE] for c, r in zip(clips, rows,
                                                                       strict=True)])
    if not len(pause_rows):
        pause_rows = np.concatenate([r[c.labels == OUTSIDE] for c, r in zip(clips, rows,
                                                                             strict=True)])
    takes = []
    for v, name in enumerate(VISEMES):
        pieces, length, at = [], 0, 0
        for clip, r in zip(clips, rows, strict=True):
            idx = np.flatnonzero(clip.labels == v)
            for seg in np.split(idx, np.flatnonzero(np.diff(idx) > 1) + 1):
                if not len(seg):
                    continue
                gap = pause_rows[np.arange(at, at + gap_hops) % len(pause_rows)]
                at += gap_hops
                pieces += [r[seg], gap]
                length += len(seg) + gap_hops
                if length >= take_s / HOP_S:
                    takes.append(_take(name, pieces))
                    pieces, length = [], 0
        if length >= 0.5 / HOP_S:
            takes.append(_take(name, pieces))
    return takes


def _take(label: str, pieces: list[np.ndarray]) -> Clip:
    hops = np.concatenate(pieces)
    frames = int(len(hops) * HOP_S * FPS)
    pick = np.minimum((np.arange(frames) / FPS / HOP_S).astype(np.intp), len(hops) - 1)
    return Clip.from_frames(label, np.zeros((frames, 52), np.float32), FPS, audio=hops[pick])


# --- an MFCC matcher in uLipSync's style, the reference ----------------------------------

class MfccMatcher:
    """12 MFCCs over a 64 ms window each 10 ms hop (pre-emphasis, Hamming window, 30 mel
    bands up to the Nyquist frequency, DCT), nearest profile by Euclidean distance; a profile
    is a viseme's mean MFCCs over calibration speech. The mouth opens above uLipSync's
    default minimum volume (log10 RMS -2.5). Causal: hop i reads the 64 ms up to its end."""

    def __init__(self, window_s: float = 0.064, coefficients: int = 12, mels: int = 30,
                 min_log_rms: float = -2.5) -> None:
        self.size = round(window_s * MIC_RATE)
        self.coefficients = coefficients
        self.mels = mels
        self.min_log_rms = min_log_rms

    def features(self, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(MFCCs (n, 12), log10 RMS (n,)) for every hop."""
        from scipy.fft import dct

        hop = round(MIC_RATE * HOP_S)
        n = len(samples) // hop
        padded = np.concatenate([np.zeros(self.size), samples.astype(np.float64)])
        emphasised = np.append(padded[0], padded[1:] - 0.97 * padded[:-1])
        ends = (np.arange(n) + 1) * hop + self.size
        frames = np.stack([emphasised[e - self.size:e] for e in ends])
        raw = np.stack([padded[e - self.size:e] for e in ends])
        nfft = 1 << int(np.ceil(np.log2(self.size)))
        power = np.abs(np.fft.rfft(frames * np.hamming(self.size), nfft)) ** 2
        mel = self._filterbank(nfft) @ power.T
        cep = dct(np.log(mel.T + 1e-10), type=2, norm="ortho", axis=1)
        return cep[:, 1:1 + self.coefficients], np.log10(np.sqrt((raw ** 2).mean(1)) + 1e-10)

    def _filterbank(self, nfft: int) -> np.ndarray:
        def to_mel(f):
            return 1127.0 * np.log1p(np.asarray(f) / 700.0)

        edges = 700.0 * np.expm1(np.linspace(0, to_mel(MIC_RATE / 2), self.mels + 2) / 1127.0)
        freqs = np.fft.rfftfreq(nfft, 1.0 / MIC_RATE)
        bank = np.zeros((self.mels, len(freqs)))
        for m in range(self.mels):
            lo, mid, hi = edges[m:m + 3]
            bank[m] = np.clip(np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)),
                              0, None)
        return bank

    def fit(self, clips: Sequence[Utterance]) -> MfccMatcher:
        feats = [self.features(c.samples) for c in clips]
        cep = np.concatenate([f[0] for f in feats])
        loud = np.concatenate([f[1] for f in feats]) > self.min_log_rms
        labels = np.concatenate([c.labels[:len(f[0])] for c, f in zip(clips, feats,
                                                                       strict=True)])
        self.profiles_ = np.stack([cep[(labels == v) & loud].mean(axis=0)
                                   for v in range(len(VISEMES))])
        return self

    def read(self, clip: Utterance) -> tuple[np.ndarray, np.ndarray]:
        cep, level = self.features(clip.samples)
        dist = ((cep[:, None, :] - self.profiles_[None]) ** 2).sum(axis=2)
        return dist.argmin(axis=1), level > self.min_log_rms


def commonest(clips: Sequence[Utterance]) -> int:
    labels = np.concatenate([c.labels for c in clips])
    return int(np.bincount(labels[labels >= 0], minlength=len(VISEMES)).argmax())
