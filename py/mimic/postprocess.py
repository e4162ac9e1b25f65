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

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from numbers import Real
from typing import Any

import numpy as np

from mimic.stages import (
    DeadZone,
    Handover,
    OneEuroFilter,
    WinnerPicker,
    cap_visemes,
    dead_zone,
    keep_largest,
    mouth_budget_scale,
)
from mimic.voice import SOURCES

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
    # where the mouth comes from while the microphone is on (mimic.voice.fuse_mouth)
    mouth_source: str = "both"

    def __post_init__(self) -> None:
        for name, (lo, hi) in _RANGES.items():
            object.__setattr__(self, name, _number(name, getattr(self, name), lo, hi))
        for name in _FLAGS:
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}")
        object.__setattr__(
            self, "expression_mouth_open", _mouth_open_table(self.expression_mouth_open))
        if self.mouth_source not in SOURCES:
            raise ValueError(f"mouth_source must be one of {', '.join(SOURCES)}, got "
                             f"{self.mouth_source!r}")

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
