"""The clean-up's stages, each small enough to test alone: dead zone, 1€ filter, winner
picking with hysteresis, hand-over ramps, single viseme, mouth-open budget.

They run every frame inside Pyodide, where each numpy call costs a few microseconds, so they
work in place on buffers made once and keep scalar state in Python floats (`mimic.postprocess`
chains them).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["DeadZone", "Handover", "OneEuroFilter", "WinnerPicker", "cap_visemes", "dead_zone",
           "keep_largest", "mouth_budget_scale"]

TWO_PI = 2.0 * math.pi
# Timestamps come from the camera; a pause longer than this (tab hidden, face lost) makes the
# old filter state meaningless, so the filter starts over instead of "catching up".
MAX_GAP_S = 1.0
# Frame times are sums of float steps: 3 * (1/30) is a hair under 0.1.
_TIME_EPS = 1e-9

# Ufuncs called with a positional `out`: measurably cheaper per call than `out=` keywords.
_add, _sub, _mul, _div = np.add, np.subtract, np.multiply, np.divide
_abs, _max, _min = np.absolute, np.maximum, np.minimum


class DeadZone:
    """Snap values below `threshold` to exactly 0 and stretch the rest back onto [0, 1].

    Regressed visemes hover a little above zero at rest, so without this the avatar's mouth
    never fully closes. The linear stretch (threshold -> 0, 1 -> 1) keeps the map continuous so
    nothing pops when a value crosses the threshold. Constants live in 0-d float32 arrays:
    numpy handles those several times faster than Python floats.
    """

    def __init__(self, threshold: float = 0.0) -> None:
        self._threshold = np.zeros((), np.float32)
        self._scale = np.ones((), np.float32)
        self._zero = np.zeros((), np.float32)
        self._one = np.ones((), np.float32)
        self.threshold = threshold

    @property
    def threshold(self) -> float:
        return float(self._threshold)

    @threshold.setter
    def threshold(self, value: float) -> None:
        if not 0.0 <= value < 1.0:
            raise ValueError(f"dead zone must be in [0, 1), got {value!r}")
        self._threshold[()] = value
        self._scale[()] = 1.0 / (1.0 - value)

    def __call__(self, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        if out is None:
            out = np.empty(np.shape(x), np.float32)
        _sub(x, self._threshold, out)
        _mul(out, self._scale, out)
        _max(out, self._zero, out)
        _min(out, self._one, out)
        return out


def dead_zone(x: np.ndarray, threshold: float, out: np.ndarray | None = None) -> np.ndarray:
    """Functional form of `DeadZone`: values < threshold -> 0, [threshold, 1] -> [0, 1]."""
    return DeadZone(threshold)(np.asarray(x, np.float32), out)


class OneEuroFilter:
    """The 1€ filter (Casiez, Roussel & Vogel, CHI 2012) over many channels at once.

    A fixed low-pass either leaves jitter at rest or lags behind fast moves; the 1€ filter's
    cutoff rises with the (smoothed) speed of each channel, so it does both. `dt` comes from the
    timestamps, so dropped or irregular camera frames are handled. Per-frame scalars go through
    0-d float32 arrays, which numpy combines with arrays much faster than Python floats.
    """

    def __init__(self, n: int, min_cutoff: float = 1.0, beta: float = 0.0,
                 d_cutoff: float = 1.0, max_gap_s: float = MAX_GAP_S) -> None:
        self.x = np.zeros(n, np.float32)  # filtered values: the state, and the output
        # beta * smoothed derivative: pre-scaling saves a numpy call per frame.
        self._dx = np.zeros(n, np.float32)
        self._diff = np.zeros(n, np.float32)
        self._a = np.zeros(n, np.float32)
        self._tmp = np.zeros(n, np.float32)
        self._c_k = np.zeros((), np.float32)
        self._c_min_k = np.zeros((), np.float32)
        self._c_decay = np.zeros((), np.float32)
        self._c_gain = np.zeros((), np.float32)
        self.min_cutoff = min_cutoff
        self.d_cutoff = float(d_cutoff)
        self._beta = float(beta)
        self.max_gap_s = float(max_gap_s)
        self._t: float | None = None

    @property
    def min_cutoff(self) -> float:
        return self._min_cutoff

    @min_cutoff.setter
    def min_cutoff(self, value: float) -> None:
        self._min_cutoff = float(value)

    @property
    def beta(self) -> float:
        return self._beta

    @beta.setter
    def beta(self, value: float) -> None:
        value = float(value)
        if self._beta > 0.0:
            self._dx *= value / self._beta
        else:
            self._dx.fill(0.0)  # the derivative was not tracked while beta was 0
        self._beta = value

    def reset(self) -> None:
        self._t = None

    def __call__(self, x: np.ndarray, t: float) -> np.ndarray:
        """Filter one frame; returns the internal state array (valid until the next call)."""
        t_prev = self._t
        if t_prev is None or t < t_prev or t - t_prev > self.max_gap_s:
            self.x[...] = x
            self._dx.fill(0.0)
            self._t = t
        elif t > t_prev:
            self._update(x, t - t_prev)
            self._t = t
        return self.x

    def _update(self, x: np.ndarray, dt: float) -> None:
        diff = self._diff
        _sub(x, self.x, diff)
        # alpha(cutoff) = 1 / (1 + tau/dt), tau = 1/(2 pi cutoff)  ==  cutoff / (cutoff + k)
        k = 1.0 / (TWO_PI * dt)
        if self._beta > 0.0:
            a, tmp, dx = self._a, self._tmp, self._dx
            alpha_d = self.d_cutoff / (self.d_cutoff + k)
            self._c_decay[()] = 1.0 - alpha_d
            self._c_gain[()] = self._beta * alpha_d / dt
            self._c_k[()] = k
            self._c_min_k[()] = self._min_cutoff + k
            _mul(dx, self._c_decay, dx)
            _mul(diff, self._c_gain, tmp)
            _add(dx, tmp, dx)  # beta * low-passed speed
            # per-channel cutoff c = min_cutoff + |dx| and alpha = c / (c + k), so
            # x + alpha * diff == x_new - diff * k / (c + k): one numpy call fewer
            _abs(dx, a)
            _add(a, self._c_min_k, a)
            _div(diff, a, diff)
            _mul(diff, self._c_k, diff)
            _sub(x, diff, self.x)
            return
        else:
            self._c_gain[()] = self._min_cutoff / (self._min_cutoff + k)
            _mul(diff, self._c_gain, diff)
        _add(self.x, diff, self.x)


class WinnerPicker:
    """Which expression is on screen, with hysteresis so two similar ones do not flicker.

    A challenger takes over only when the best probability beats the current winner's by more
    than `hysteresis`, continuously for `hold_s`. Probabilities are a plain list: for six
    expressions Python's max/index beat a numpy call in Pyodide.
    """

    def __init__(self, hysteresis: float = 0.15, hold_s: float = 0.1,
                 initial: int | None = None) -> None:
        self.hysteresis = hysteresis
        self.hold_s = hold_s
        self.initial = initial
        self.reset()

    def reset(self) -> None:
        self.winner = self.initial
        self._beaten_since: float | None = None

    def update(self, probs: list[float], t: float) -> int:
        best = max(probs)
        challenger = probs.index(best)
        current = self.winner
        if current is None:
            self.winner = challenger
            return challenger
        if challenger == current or best - probs[current] <= self.hysteresis:
            self._beaten_since = None
            return current
        # Who the challenger is may change while the winner stays beaten; the timer is about
        # the winner being beaten, and the best challenger at the end takes over.
        if self._beaten_since is None:
            self._beaten_since = t
        if t - self._beaten_since >= self.hold_s - _TIME_EPS:
            self.winner = challenger
            self._beaten_since = None
        return self.winner


class Handover:
    """Ramp levels so a change of expression blends instead of cutting.

    The winner's level rises and every earlier winner's falls at 1/handover_s per second, so a
    full swap completes in `handover_s`; a swap back mid-ramp continues from where it was.
    `fading` holds [index, level] pairs for the expressions still on their way out.
    """

    def __init__(self, handover_s: float = 0.15, initial: int | None = None) -> None:
        self.handover_s = handover_s
        self.initial = initial
        self.reset()

    def reset(self) -> None:
        self.winner = self.initial
        self.level = 0.0 if self.initial is None else 1.0
        self.fading: list[list] = []

    def update(self, winner: int, dt: float) -> None:
        step = dt / self.handover_s if self.handover_s > 0.0 else math.inf
        self.level = min(1.0, self.level + step)
        if self.fading:
            for entry in self.fading:
                entry[1] -= step
            self.fading = [e for e in self.fading if e[1] > 0.0]
        if winner != self.winner:
            self._switch(winner)

    def _switch(self, winner: int) -> None:
        if self.handover_s <= 0.0:
            self.winner, self.level, self.fading = winner, 1.0, []
            return
        level = 0.0
        for entry in self.fading:
            if entry[0] == winner:
                level = entry[1]
                self.fading.remove(entry)
                break
        if self.winner is not None and self.level > 0.0:
            self.fading.append([self.winner, self.level])
        self.winner, self.level = winner, level


def keep_largest(visemes: np.ndarray) -> np.ndarray:
    """Zero all but the largest viseme, in place: VRM avatars look wrong with mixed visemes."""
    values = visemes.tolist()
    if values:
        top = max(values)
        i = values.index(top)
        visemes.fill(0.0)
        visemes[i] = top
    return visemes


def mouth_budget_scale(viseme_sum: float, expression_open: float, budget: float) -> float:
    """Factor for the visemes so expression_open + viseme_sum stays within budget.

    An expression that already opens the mouth (surprised; happy showing teeth) plus a full
    viseme opens the jaw further than the avatar's blendshapes were made for.
    """
    room = budget - expression_open
    if viseme_sum <= room:
        return 1.0
    return max(room, 0.0) / viseme_sum


def cap_visemes(visemes: np.ndarray, expression_open: float, budget: float) -> np.ndarray:
    """Scale visemes down in place to fit the mouth-open budget (see `mouth_budget_scale`)."""
    scale = mouth_budget_scale(sum(visemes.tolist()), expression_open, budget)
    if scale < 1.0:
        visemes *= scale
    return visemes
