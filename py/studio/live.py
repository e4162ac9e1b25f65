"""Live view: raw and cleaned-up prediction bars (drawn by web/bars.js from the buffer
the pipeline fills each frame) and the clean-up sliders, stored with the active model."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from mimic.postprocess import CleanupSettings
from studio.app import App
from studio.dom import by_id, clear, el, on, spawn

# (setting, label, min, max, step): the knobs a user may want while watching the avatar.
SLIDERS = (
    ("dead_zone", "Dead zone (mouth/eyes snap to 0 below)", 0.0, 0.5, 0.01),
    ("hysteresis", "Hysteresis (how much better a new expression must be)", 0.0, 0.6, 0.01),
    ("hold_s", "Hold (s a new expression must lead)", 0.0, 1.0, 0.02),
    ("handover_s", "Hand-over (s to blend expressions)", 0.0, 1.0, 0.02),
    ("min_cutoff", "Smoothing (lower is smoother)", 0.05, 5.0, 0.05),
    ("beta", "Speed response (higher follows fast moves)", 0.0, 10.0, 0.1),
    ("mouth_open_budget", "Mouth-open budget", 0.2, 2.0, 0.05),
)


class LiveView:
    def __init__(self, app: App) -> None:
        self.app = app
        self._save_task: asyncio.Task | None = None
        app.listeners.append(self.refresh)

    def refresh(self) -> None:
        pipeline = self.app.pipeline
        record = self.app.active_model()
        note = by_id("live-note")
        form = by_id("cleanup-form")
        clear(form)
        by_id("live-model").hidden = pipeline is None or record is None
        if pipeline is None or record is None:
            note.textContent = ("No model yet: record takes and train one (Train tab), or "
                                "import one, to see live predictions and their clean-up.")
            return
        note.textContent = f"Predicting with {record.name}."
        settings = pipeline.cleanup.settings
        for key, label, lo, hi, step in SLIDERS:
            value = getattr(settings, key)
            form.append(el("label", label, for_=f"s-{key}"))
            slider = el("input", type="range", id=f"s-{key}", min=lo, max=hi, step=step,
                        value=value, data_setting=key)
            out = el("output", f"{value:g}", id=f"o-{key}")
            on(slider, "input", lambda e, k=key, o=out: self.change(k, float(e.target.value), o))
            form.append(slider)
            form.append(out)

    def change(self, key: str, value: float, output: Any) -> None:
        pipeline = self.app.pipeline
        if pipeline is None:
            return
        settings = dataclasses.replace(pipeline.cleanup.settings, **{key: value})
        pipeline.cleanup.settings = settings
        output.textContent = f"{value:g}"
        record = self.app.active_model()
        if record is not None:
            record.cleanup = settings.to_dict()
            if self._save_task:
                self._save_task.cancel()
            self._save_task = spawn(self._save(record))

    async def _save(self, record: Any) -> None:
        await asyncio.sleep(0.4)  # one write per slider gesture, not per input event
        await self.app.storage.put_model(record)


def settings_of(record: Any) -> CleanupSettings:
    return CleanupSettings.from_dict(record.cleanup) if record.cleanup else CleanupSettings()
