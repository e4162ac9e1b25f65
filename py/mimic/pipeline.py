"""The per-frame path: one camera frame in, raw and cleaned-up target weights out.

Everything is bound to preallocated buffers at construction, so a frame costs the model's
matrix products and the clean-up's in-place operations and nothing else: no allocation,
no conversion, no dict look-ups. The page calls `step` once per camera frame.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mimic.postprocess import Cleanup, CleanupSettings
from mimic.voice import VISEMES, fuse_mouth


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
        mouth = model.targets_.slices["mouth"]
        names = self.names[mouth]
        self._mouth = self._raw[mouth]
        self._voice_index = np.array([VISEMES.index(n) if n in VISEMES else 0 for n in names],
                                     np.intp)
        self.hears_voice = all(n in VISEMES for n in names) and bool(names)

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

    def step(self, frame: np.ndarray, t: float, voice: np.ndarray | None = None,
             source: str | None = None) -> np.ndarray:
        """Predict and clean one frame taken at `t` seconds; returns the [raw | clean] buffer.

        With `voice` (viseme weights from the microphone, mimic.voice) the mouth outputs are
        fused with it before the clean-up, so the dead zone, smoothing and the mouth budget
        with the expression apply to the result as to the camera's. The mouth's source is
        the model's own choice (its clean-up settings) unless `source` says otherwise.
        """
        self.model.predict_one(frame, out=self._raw)
        if voice is not None and self.hears_voice:
            fuse_mouth(self._mouth, voice, self._voice_index,
                       source or self.cleanup.settings.mouth_source)
        self.cleanup.step(self._raw, t, out=self._clean)
        return self.out

    def reset(self) -> None:
        self.cleanup.reset()
        self.out[:] = 0.0
