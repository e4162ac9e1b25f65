"""Lip sync from the microphone: a few spectral features per 10 ms hop, and a default
voice-to-mouth mapping that works before any training.

The visemes are VRM's, the Japanese vowels: aa = あ (father), ih = い (see), ou = う (blue),
ee = え (bed), oh = お (go).

Why these features: the jaw follows loudness, and which vowel is said shows in where the
voice's energy sits (the first two formants): "aa" is loud around 700-1200 Hz, "ih" puts
energy high (2000-3500 Hz) and little in the middle, "ee" a little lower, "ou" keeps nearly
all of it low (250-500 Hz), "oh" sits between. Eight bands' log energies relative to their
mean describe that shape whatever the loudness, and those of the two hops before show where
it is heading (`LAYOUT`); the level in dB says how open the mouth is. Measured on a real
reader (scripts/bench_lipsync.py), smoothing these over hops, longer windows and per-speaker
running normalisation did not read vowels better at the same delay; what made the default
work on real voices is how it is fitted (`default_layers`).

The work is a few matrix products and in-place operations on buffers made once (the DFT
columns for the bins that matter, with the window folded in), for all the hops a camera frame
brings at once: no allocation, so it runs in the camera loop. The page hears 12 kHz
(web/mic.js): a 128-sample window then has the same 93.75 Hz bins as 512 samples at 48 kHz.
No audio is kept: only these features.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mimic.tfjs import DenseLayer

__all__ = ["BANDS_HZ", "LAYOUT", "LAYOUT_V1", "SILENT", "SOURCES", "VISEMES", "Layout",
           "VoiceFeatures", "VoiceMouth", "default_layers", "fuse_mouth", "layout_of",
           "mouth_opening", "read_visemes"]

VISEMES = ("aa", "ih", "ou", "ee", "oh")  # あ, い, う, え, お


@dataclass(frozen=True)
class Layout:
    """What a row of voice features holds: the level (dB), then each band's log energy less
    their mean for this hop and for the `context` hops before it (newest first).

    Takes keep one row per camera frame, so the layout is part of the stored data: a clip's
    audio width says which layout recorded it, and a voice learned from it reads that layout.
    """

    bands: tuple[tuple[int, int], ...]
    context: int

    @property
    def width(self) -> int:
        return 1 + len(self.bands) * (1 + self.context)

    def silent(self) -> np.ndarray:
        """A hop in which nothing was heard (-100 dB, a flat spectrum): what a frame of a
        take gets when the microphone was turned off during it."""
        row = np.zeros(self.width, np.float32)
        row[0] = -100.0
        return row


# Why eight bands and two hops back (measured on a real reader, scripts/bench_lipsync.py,
# each clip held out): narrower bands follow the second formant, which tells ih from ee and ou
# from oh, and the two previous hops (20 ms) show where the formants are heading; together
# they read 2-3 points more vowel hops right than five bands alone (either alone: under 1).
LAYOUT = Layout(((250, 400), (400, 600), (600, 850), (850, 1150), (1150, 1550),
                 (1550, 2100), (2100, 2800), (2800, 3800)), context=2)
# Before 2026-12: five bands, no context. Takes recorded then keep it, and so do the voices
# learned from them.
LAYOUT_V1 = Layout(((250, 500), (500, 900), (900, 1500), (1500, 2500), (2500, 3800)),
                   context=0)
LAYOUTS = {la.width: la for la in (LAYOUT, LAYOUT_V1)}
BANDS_HZ = LAYOUT.bands
FEATURES = LAYOUT.width
SILENT = LAYOUT.silent()


def layout_of(width: int) -> Layout:
    """The layout that writes rows `width` wide (ValueError for none)."""
    try:
        return LAYOUTS[int(width)]
    except KeyError:
        known = " or ".join(str(w) for w in LAYOUTS)
        raise ValueError(f"voice features {width} wide; Mimic knows {known}") from None


# How far each viseme opens the jaw (an avatar's "aa" is the widest): used to mix visemes
# into one jaw opening, and to compare mouths.
OPENING = np.array([1.0, 0.4, 0.35, 0.45, 0.7], np.float32)


SOURCES = ("both", "voice", "camera")


def fuse_mouth(mouth: np.ndarray, voice: np.ndarray, index: np.ndarray, source: str) -> None:
    """Mix the voice's visemes into a model's mouth outputs, in place, before the clean-up.

    `index[i]` is the voice viseme for mouth output i. "voice": the voice alone. "both": the
    voice decides when the mouth moves (silent: shut, whatever the camera reads), and while
    it speaks each viseme is the larger of the two. "camera": unchanged.
    """
    if source == "camera":
        return
    if source == "voice" or not voice.any():
        np.take(voice, index, out=mouth)
        return
    for i in range(len(mouth)):  # a handful of visemes: cheaper than a temporary array
        v = voice[index[i]]
        if v > mouth[i]:
            mouth[i] = v


def mouth_opening(visemes: np.ndarray) -> float:
    """How open a mouth showing these viseme weights is, 0..1."""
    return float(min(1.0, float(np.dot(OPENING, visemes))))


class VoiceFeatures:
    """Spectral features of a mono stream, one row per `hop_s` hop, in `layout`.

    `push(samples)` takes any number of new samples and returns how many hops it completed;
    their features are in `rows[:n]` (a buffer reused by the next call). A camera frame
    brings three or four hops at once, and they are computed together: one matrix product
    for all their spectra, so the per-call cost of numpy in Pyodide is paid once a frame,
    not once a hop. More than `max_hops` hops at once (after a stall) keeps the newest.
    """

    def __init__(self, sample_rate: float, hop_s: float = 0.01, max_hops: int = 16,
                 layout: Layout = LAYOUT) -> None:
        self.rate = float(sample_rate)
        self.layout = layout
        self.hop = max(1, round(self.rate * hop_s))
        self.size = 1 << int(np.ceil(np.log2(self.hop)))  # one hop or a little more: 128 at 12 kHz
        bands, ctx = layout.bands, layout.context
        freqs = np.fft.rfftfreq(self.size, 1.0 / self.rate)
        bins = np.flatnonzero((freqs >= bands[0][0]) & (freqs < bands[-1][1]))
        t = np.arange(self.size)
        window = np.hanning(self.size)
        angle = 2 * np.pi * np.outer(bins, t) / self.size
        # (size, 2 bins): windows @ dft gives the real parts, then the imaginary ones
        self.dft = np.ascontiguousarray(np.concatenate(
            [np.cos(angle) * window, np.sin(angle) * window]).T.astype(np.float32))
        nb = len(bands)
        # power spectrum -> [band energies..., 0]; the last column gets the mean square
        member = np.zeros((len(bins), nb + 1), np.float32)
        for b, (lo, hi) in enumerate(bands):
            inside = (freqs[bins] >= lo) & (freqs[bins] < hi)
            member[inside, b] = 1.0 / max(1, inside.sum())
        self.bands = member
        # log10 of [bands..., mean square] -> [level dB, bands less their mean]: one product
        self._finish = np.zeros((nb + 1, 1 + nb), np.float32)
        self._finish[nb, 0] = 10.0
        self._finish[:nb, 1:] = np.eye(nb) - 1.0 / nb
        self._floor = np.array([1e-12] * nb + [1e-10], np.float32)
        self._per_sample = np.full(self.size, 1.0 / self.size, np.float32)
        # history: the `size` samples up to the last hop boundary, then the pending ones
        self.samples = np.zeros(self.size + (max_hops + 1) * self.hop, np.float32)
        self.pending = 0  # samples after the last hop boundary
        self.rows = np.zeros((max_hops, layout.width), np.float32)
        # each hop's own [level, shapes], after the `ctx` hops before it (silent at first)
        self._hops = np.zeros((ctx + max_hops, 1 + nb), np.float32)
        self._hops[:, 0] = -100.0
        n, half = max_hops, len(bins)
        self._windows = np.zeros((n, self.size), np.float32)
        self._squares = np.zeros((n, self.size), np.float32)
        self._spectra = np.zeros((n, 2 * half), np.float32)
        self._power = np.zeros((n, half), np.float32)
        self._energy = np.zeros((n, nb + 1), np.float32)
        self._level = np.zeros(n, np.float32)
        item = self.samples.itemsize
        # hop k's window (k = 1..h) is samples[k*hop : size + k*hop]: one strided view for
        # each possible h, made once
        self._views = [None] + [np.lib.stride_tricks.as_strided(
            self.samples[self.hop:], shape=(h, self.size), strides=(self.hop * item, item),
            writeable=False) for h in range(1, n + 1)]
        self._bufs = [None] + [(*(b[:h] for b in (
            self._windows, self._squares, self._spectra, self._power, self._energy,
            self._level)), self._hops[ctx:ctx + h]) for h in range(1, n + 1)]
        # rows[:h] = this hop's [level, shapes], then the shapes of the hops 1..ctx before:
        # (destination, source) views, made once
        self._context = [None] + [
            [(self.rows[:h, :1 + nb], self._hops[ctx:ctx + h])]
            + [(self.rows[:h, 1 + k * nb:1 + (k + 1) * nb], self._hops[ctx - k:ctx - k + h, 1:])
               for k in range(1, ctx + 1)]
            + ([(self._hops[:ctx], self._hops[h:h + ctx])] if ctx else [])
            for h in range(1, n + 1)]

    def push(self, samples: np.ndarray) -> int:
        room = self.hop * len(self.rows) - self.pending
        if len(samples) > room:
            samples = samples[len(samples) - room:]
        end = self.size + self.pending
        self.samples[end:end + len(samples)] = samples
        end += len(samples)
        hops = (self.pending + len(samples)) // self.hop
        self.pending = (self.pending + len(samples)) % self.hop
        if hops:
            self._features(hops)
            for dst, src in self._context[hops]:
                np.copyto(dst, src)
            done = hops * self.hop
            self.samples[:end - done] = self.samples[done:end]
        return hops

    def _features(self, h: int) -> None:
        # Only dot, multiply, add and log10: inside the camera loop each kind of numpy call
        # costs tens of microseconds the first time in a frame (cold code), so few kinds.
        windows, squares, spectra, power, energy, level, hops = self._bufs[h]
        np.copyto(windows, self._views[h])
        np.multiply(windows, windows, out=squares)
        np.dot(squares, self._per_sample, out=level)  # mean square of each window
        np.dot(windows, self.dft, out=spectra)
        np.multiply(spectra, spectra, out=spectra)
        half = power.shape[1]
        np.add(spectra[:, :half], spectra[:, half:], out=power)  # re^2 + im^2
        np.dot(power, self.bands, out=energy)
        energy[:, -1] = level
        np.add(energy, self._floor, out=energy)
        np.log10(energy, out=energy)
        np.dot(energy, self._finish, out=hops)


def default_layers(layout: Layout = LAYOUT) -> list[DenseLayer]:
    """The untrained vowel picker for rows in `layout`: band shapes -> tanh units -> softmax
    over the visemes, fitted on real speech (`mimic.voicedefault`, written by
    scripts/fit_voice_default.py); a trained voice (`mimic.voicemodel`) replaces it by a
    network of its own."""
    if layout == LAYOUT_V1:
        from mimic import voicedefault_v1 as d
    else:
        from mimic import voicedefault as d

    return [DenseLayer(d.KERNEL1, d.BIAS1, "tanh"), DenseLayer(d.KERNEL2, d.BIAS2, "softmax")]


def read_visemes(layers: list[DenseLayer], features: np.ndarray) -> np.ndarray:
    """Each row's viseme probabilities (n, 5) from its band shapes (scoring, not live)."""
    z = np.asarray(features, np.float32)[:, 1:]
    for layer in layers:
        z = z @ layer.kernel + layer.bias
        if layer.activation == "tanh":
            z = np.tanh(z)
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


class VoiceMouth:
    """Voice features hop by hop -> viseme weights: loudness opens the mouth, the spectrum's
    shape picks the vowel.

    Why these dynamics (measured on a real reader, scripts/bench_lipsync.py): the pauses
    between words last 30-400 ms, so the mouth must close within a few hops of the voice
    stopping (a 50 ms release left it open in 29 % of pause hops; 20 ms and shutting below a
    tenth of the range leave it open in about 2 %, and open in about 97 % of vowel hops).
    A vowel the picker is unsure of shows as every viseme a little (an open, neutral mouth
    scaled by loudness) rather than as a confident wrong shape.

    Parameters (set, never changed by `step`):
        gate_db: below this level the mouth is shut (room noise, breathing).
        full_db: at this level the mouth is fully open.
        attack_s, release_s: how fast the opening follows the voice up and down.
        shut_below: an opening below this share of the range shows as shut.
        unsure, sure: picker confidences (its top probability) at and below which the mouth
            is neutral, and at and above which it shows the picker's shape unchanged.
        layers: the vowel picker, dense layers from the five band shapes to softmax scores
            for aa, ih, ou, ee, oh; by default the one fitted on real speech
            (`default_layers`).
    """

    def __init__(self, gate_db: float = -48.0, full_db: float = -18.0, attack_s: float = 0.02,
                 release_s: float = 0.02, layers: list[DenseLayer] | None = None,
                 hop_s: float = 0.01, shut_below: float = 0.1, unsure: float = 0.3,
                 sure: float = 0.6) -> None:
        self.gate_db = gate_db
        self.full_db = full_db
        self.attack = 1.0 - float(np.exp(-hop_s / attack_s))
        self.release = 1.0 - float(np.exp(-hop_s / release_s))
        self.shut_below = shut_below
        self.unsure = unsure
        self.per_sure = 1.0 / (sure - unsure)
        self.layers = layers if layers is not None else default_layers()
        self._per_db = 1.0 / (full_db - gate_db)
        self.level = 0.0
        # per hop: dot(kernel, x) + bias into buffers made once
        self._k = [np.ascontiguousarray(la.kernel.T) for la in self.layers]
        self._b = [la.bias for la in self.layers]
        self._tanh = [la.activation == "tanh" for la in self.layers]
        self._bufs = [np.zeros(la.units, np.float32) for la in self.layers]

    def step(self, features: np.ndarray, out: np.ndarray) -> np.ndarray:
        """One hop's features -> viseme weights (aa, ih, ou, ee, oh) into `out`."""
        target = (float(features[0]) - self.gate_db) * self._per_db
        target = 0.0 if target <= 0.0 else min(1.0, target)
        rate = self.attack if target > self.level else self.release
        self.level += rate * (target - self.level)
        if self.level < self.shut_below:
            self.level = 0.0 if target == 0.0 else self.level
            out[:] = 0.0
            return out
        z = features[1:]
        for k, b, tanh, buf in zip(self._k, self._b, self._tanh, self._bufs, strict=True):
            np.dot(k, z, out=buf)
            buf += b
            if tanh:
                np.tanh(buf, out=buf)
            z = buf
        z -= z.max()  # the last layer is a softmax
        np.exp(z, out=z)
        total = float(z.sum())
        # sure: the picker's shape; unsure: the same weight on every viseme
        sure = (1.0 / total - self.unsure) * self.per_sure
        sure = 0.0 if sure <= 0.0 else min(1.0, sure)
        np.multiply(z, sure * self.level / total, out=out)
        out += (1.0 - sure) * self.level / len(out)
        return out
