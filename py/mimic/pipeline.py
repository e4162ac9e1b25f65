"""The per-frame path: one camera frame in, raw and cleaned-up target weights out.

Everything is bound to preallocated buffers at construction, so a frame costs the model's
matrix products and the clean-up's in-place operations and nothing else: no allocation,
no conversion, no dict look-ups. The page calls `step` once per camera frame.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mimic.postprocess import Cleanup, CleanupSettings


class LivePipeline:
    """Model prediction followed by clean-up, writing [raw | clean] into one buffer."""

    def __init__(self, model: Any, settings: CleanupSettings | dict | None = None) -> None:
        self.model = model
        self.names: tuple[str, ...] = tuple(model.targets_.names)
        self.cleanup = Cleanup(model.targets_, settings)
        n = len(self.names)
        self.out = np.zeros(2 * n, np.float32)
        self._raw = self.out[:n]
        self._clean = self.out[n:]

    @property
    def clean(self) -> np.ndarray:
        """The cleaned-up half of the output buffer (a view, updated by every `step`)."""
        return self._clean

    @property
    def groups(self) -> list[str]:
        """The group of each target, in output order (for laying out the bars)."""
        groups = [""] * len(self.names)
        for group, sl in self.model.targets_.slices.items():
            for i in range(sl.start, sl.stop):
                groups[i] = group
        return groups

    def step(self, frame: np.ndarray, t: float) -> np.ndarray:
        """Predict and clean one frame taken at `t` seconds; returns the [raw | clean] buffer."""
        self.model.predict_one(frame, out=self._raw)
        self.cleanup.step(self._raw, t, out=self._clean)
        return self.out

    def reset(self) -> None:
        self.cleanup.reset()
        self.out[:] = 0.0
