"""Per-frame clean-up of a live prediction before it drives the avatar.

A model's raw output is honest but not pretty: class probabilities wobble between two similar
expressions, regressed visemes never quite reach zero so the mouth never closes, everything
jitters with the landmarks, and an open-mouthed expression plus a viseme can open the avatar's
jaw further than its blendshapes were sculpted for. `Cleanup.step` fixes all of that in one
stateful pass per camera frame.

`step` runs every frame inside Pyodide, where each numpy call costs a few microseconds, so the
hot path keeps numpy calls few and in place (buffers and views are made once), keeps scalar state
in Python floats, and only loops over the handful of expressions currently on screen, never over
channels. Each stage is also a small function or class of its own so it can be tested alone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from numbers import Real
from typing import Any

import numpy as np

__all__ = [
    "Cleanup",
    "CleanupSettings",
    "DeadZone",
    "Handover",
    "OneEuroFilter",
    "WinnerPicker",
    "cap_visemes",
    "dead_zone",
    "keep_largest",
    "mouth_budget_scale",
]

TWO_PI = 2.0 * math.pi
# Timestamps come from the camera; a pause longer than this (tab hidden, face lost) makes the
# old filter state meaningless, so the filter starts over instead of "catching up".
MAX_GAP_S = 1.0
# Frame times are sums of float steps: 3 * (1/30) is a hair under 0.1.
_TIME_EPS = 1e-9

# Ufuncs called with a positional `out`: measurably cheaper per call than `out=` keywords.
_add, _sub, _mul, _div = np.add, np.subtract, np.multiply, np.divide
_abs, _max, _min = np.absolute, np.maximum, np.minimum

DEFAULT_MOUTH_OPEN = {"surprised": 0.6, "happy": 0.3}

# Inclusive ranges a slider may set; outside them a stage either breaks (dead_zone 1 divides by
# zero, cutoff 0 freezes the filter) or stops making sense.
_RANGES: dict[str, tuple[float, float]] = {
    "handover_s": (0.0, 5.0),
    "hysteresis": (0.0, 1.0),
    "hold_s": (0.0, 5.0),
    "dead_zone": (0.0, 0.95),
    "min_cutoff": (0.01, 100.0),
    "beta": (0.0, 1000.0),
    "d_cutoff": (0.01, 100.0),
    "mouth_open_budget": (0.0, 10.0),
}
_FLAGS = ("scale_by_confidence", "filter_enabled", "filter_expressions", "single_viseme")


def _number(name: str, value: Any, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValueError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not lo <= value <= hi:  # also rejects NaN
        raise ValueError(f"{name} must be between {lo:g} and {hi:g}, got {value!r}")
    return value


def _mouth_open_table(table: Any) -> dict[str, float]:
    if not isinstance(table, Mapping):
        raise ValueError(f"expression_mouth_open must be a mapping, got {type(table).__name__}")
    clean = {}
    for key, value in table.items():
        if not isinstance(key, str):
            raise ValueError(f"expression_mouth_open keys must be names, got {key!r}")
        clean[key] = _number(f"expression_mouth_open[{key!r}]", value, 0.0, 1.0)
    return clean


@dataclass(frozen=True)
class CleanupSettings:
    """Every knob of the clean-up; frozen so a `Cleanup` never runs on half-applied changes.

    Change settings at runtime with `dataclasses.replace` and assign the result to
    `Cleanup.settings`. Setting `handover_s`, `hysteresis`, `hold_s` or `dead_zone` to 0 turns
    that stage off; `mouth_open_budget` at its maximum effectively does too.
    """

    handover_s: float = 0.15
    hysteresis: float = 0.15
    hold_s: float = 0.1
    scale_by_confidence: bool = False
    dead_zone: float = 0.08
    filter_enabled: bool = True
    filter_expressions: bool = True
    min_cutoff: float = 1.0
    beta: float = 2.0
    d_cutoff: float = 1.0
    mouth_open_budget: float = 1.0
    expression_mouth_open: dict[str, float] = field(
        default_factory=lambda: dict(DEFAULT_MOUTH_OPEN))
    single_viseme: bool = True

    def __post_init__(self) -> None:
        for name, (lo, hi) in _RANGES.items():
            object.__setattr__(self, name, _number(name, getattr(self, name), lo, hi))
        for name in _FLAGS:
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}")
        object.__setattr__(
            self, "expression_mouth_open", _mouth_open_table(self.expression_mouth_open))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict, e.g. for localStorage."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["expression_mouth_open"] = dict(self.expression_mouth_open)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CleanupSettings:
        """Missing keys take defaults; unknown keys are ignored so settings saved by a newer
        version of the app still load instead of resetting every slider."""
        if not isinstance(data, Mapping):
            raise ValueError(f"settings must be a mapping, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


# --- stages ---------------------------------------------------------------------------------


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
        self._c_min = np.zeros((), np.float32)
        self._c_k = np.zeros((), np.float32)
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
        self._c_min[()] = value

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
            _mul(dx, self._c_decay, dx)
            _mul(diff, self._c_gain, tmp)
            _add(dx, tmp, dx)  # beta * low-passed speed
            _abs(dx, a)
            _add(a, self._c_min, a)  # per-channel cutoff
            _add(a, self._c_k, tmp)
            _div(a, tmp, a)  # per-channel alpha
            _mul(diff, a, diff)
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


# --- the whole pass -------------------------------------------------------------------------


def _bounds(slices: Mapping[str, slice], group: str, n: int) -> tuple[int, int]:
    sl = slices.get(group)
    if sl is None:
        return 0, 0
    start, stop, step = sl.indices(n)
    if step != 1:
        raise ValueError(f"target group {group!r} must be a contiguous slice")
    return start, max(start, stop)


class Cleanup:
    """Stateful per-frame clean-up of one live prediction stream.

    Order per frame: 1€ filter (all channels; expression probabilities use it only if
    `filter_expressions`), winner selection with hysteresis, hand-over ramps, dead zone on mouth
    and eyes, single viseme, mouth-open budget. "neutral" winning shows no expression at all.
    A frame with NaN or inf in it is ignored (the previous output is repeated); time going
    backwards starts over.
    """

    def __init__(self, targets: Any, settings: CleanupSettings | Mapping | None = None) -> None:
        names = tuple(targets.names)
        n = len(names)
        self.targets = targets
        self._shape = (n,)
        self._e0, e1 = _bounds(targets.slices, "expression", n)
        self._m0, m1 = _bounds(targets.slices, "mouth", n)
        expressions = names[self._e0:e1]
        self._expressions = expressions
        self._neutral = expressions.index("neutral") if "neutral" in expressions else None
        self._filter = OneEuroFilter(n)
        self._picker = WinnerPicker(initial=self._neutral)
        self._handover = Handover(initial=self._neutral)
        self._dead_zone = DeadZone()
        self._y = np.zeros(n, np.float32)
        self._x_expr = self._filter.x[self._e0:e1]
        self._y_expr = self._y[self._e0:e1]
        self._y_mouth = self._y[self._m0:m1]
        self._t: float | None = None
        self._settings = CleanupSettings()
        self.settings = CleanupSettings() if settings is None else settings

    @property
    def settings(self) -> CleanupSettings:
        return self._settings

    @settings.setter
    def settings(self, value: CleanupSettings | Mapping) -> None:
        """Apply new settings without touching the state, so a slider move does not jump."""
        if not isinstance(value, CleanupSettings):
            value = CleanupSettings.from_dict(value)
        if value.filter_enabled and not self._settings.filter_enabled:
            self._filter.reset()  # its state went stale while it was off
        self._settings = value
        f = self._filter
        f.min_cutoff, f.beta, f.d_cutoff = value.min_cutoff, value.beta, value.d_cutoff
        self._picker.hysteresis, self._picker.hold_s = value.hysteresis, value.hold_s
        self._handover.handover_s = value.handover_s
        self._dead_zone.threshold = value.dead_zone
        table = value.expression_mouth_open
        self._mouth_open = [table.get(name, 0.0) for name in self._expressions]
        self._probs_filtered = value.filter_enabled and value.filter_expressions

    @property
    def winner(self) -> int | None:
        """Index (among the expressions) of the expression picked last; None before any."""
        return self._picker.winner

    def reset(self) -> None:
        self._filter.reset()
        self._picker.reset()
        self._handover.reset()
        self._y.fill(0.0)
        self._t = None

    def step(self, raw: np.ndarray, t: float, out: np.ndarray | None = None) -> np.ndarray:
        """Clean one frame of raw predictions (order of `targets.names`) taken at `t` seconds.

        Returns `out` (filled in) if given, else a new array; the result is float32 of length T.
        """
        if type(raw) is not np.ndarray:
            raw = np.asarray(raw, np.float32)
        if raw.shape != self._shape:
            raise ValueError(f"expected {self._shape[0]} target values, got shape {raw.shape}")
        values = raw.tolist()
        total = sum(values)
        if total - total != 0.0:  # NaN or inf: one bad frame must not poison the filter
            return self._emit(out)
        t = float(t)
        if self._t is not None and t < self._t:
            self.reset()
        dt = 0.0 if self._t is None else t - self._t
        self._t = t
        s = self._settings
        if s.filter_enabled:
            x = self._filter(raw, t)
        else:
            x = self._filter.x
            x[...] = raw
        # Over all channels (one call is cheaper than two views); expressions are
        # overwritten below.
        self._dead_zone(x, self._y)
        opened = 0.0
        if self._expressions:
            if self._probs_filtered:
                probs = self._x_expr.tolist()
            else:
                probs = values[self._e0:self._e0 + len(self._expressions)]
            opened = self._show_expression(probs, t, dt, s.scale_by_confidence)
        if self._y_mouth.size:
            self._fit_mouth(opened, s)
        return self._emit(out)

    def _show_expression(self, probs: list[float], t: float, dt: float, by_conf: bool) -> float:
        """Write the expression outputs; returns how far they open the mouth."""
        winner = self._picker.update(probs, t)
        handover = self._handover
        handover.update(winner, dt)
        self._y_expr.fill(0.0)
        opened = self._show(winner, handover.level, probs, by_conf)
        for index, level in handover.fading:
            opened += self._show(index, level, probs, by_conf)
        return opened

    def _show(self, index: int, level: float, probs: list[float], by_conf: bool) -> float:
        if index == self._neutral or level <= 0.0:
            return 0.0
        weight = level * min(max(probs[index], 0.0), 1.0) if by_conf else level
        self._y[self._e0 + index] = weight
        return weight * self._mouth_open[index]

    def _fit_mouth(self, opened: float, s: CleanupSettings) -> None:
        mouth = self._y_mouth
        if s.single_viseme:
            values = mouth.tolist()
            top = max(values)
            if top > 0.0:
                mouth.fill(0.0)
                scale = mouth_budget_scale(top, opened, s.mouth_open_budget)
                self._y[self._m0 + values.index(top)] = top * scale
        else:
            cap_visemes(mouth, opened, s.mouth_open_budget)

    def _emit(self, out: np.ndarray | None) -> np.ndarray:
        if out is None:
            return self._y.copy()
        out[...] = self._y
        return out


def benchmark(steps: int = 20_000, seed: int = 0) -> float:
    """Median microseconds per `Cleanup.step` on a 14-target set, as the live loop calls it."""
    import time
    from types import SimpleNamespace

    expr = ("neutral", "happy", "angry", "sad", "relaxed", "surprised")
    names = (*expr, "aa", "ih", "ou", "ee", "oh", "blink", "blinkLeft", "blinkRight")
    targets = SimpleNamespace(names=names, slices={
        "expression": slice(0, 6), "mouth": slice(6, 11), "eyes": slice(11, 14)})
    rng = np.random.default_rng(seed)
    frames = rng.random((steps, len(names)), dtype=np.float32)
    frames[:, :6] /= frames[:, :6].sum(axis=1, keepdims=True)
    cleanup, out = Cleanup(targets), np.zeros(len(names), np.float32)
    times = np.empty(steps)
    clock = time.perf_counter_ns
    for i in range(steps):
        start = clock()
        cleanup.step(frames[i], i / 30.0, out)
        times[i] = clock() - start
    return float(np.median(times)) / 1000.0
