"""Lip sync from the microphone in the studio: opt-in, read each camera frame, and the
mouth it gives the avatar (mimic.voice), from the voice alone or with the camera.

The microphone is asked for only when the user turns it on; a refusal is said in one line
and the camera path carries on. Only features are computed; no audio is kept or stored.
"""

from __future__ import annotations

import numpy as np

from mimic.voice import SOURCES, VISEMES, VoiceFeatures, VoiceMouth, mouth_opening
from studio.app import App
from studio.dom import by_id, on

READ = 4096  # web/mic.js: samples copied per camera frame at most


class VoiceView:
    def __init__(self, app: App) -> None:
        self.app = app
        self.mic = None
        self.features: VoiceFeatures | None = None
        self.mouth = VoiceMouth()
        self.visemes = np.zeros(len(VISEMES), np.float32)
        self.samples = np.zeros(READ, np.float32)
        self.source = "both"
        self.hops = 0
        self.starting = False
        on(by_id("btn-mic"), "click", lambda _e: self.toggle())
        on(by_id("mouth-source"), "change", lambda e: self.choose(str(e.target.value)))

    @property
    def active(self) -> bool:
        return self.mic is not None and self.source != "camera"

    @property
    def opening(self) -> float:
        """How open the voice holds the mouth now, 0..1 (tests and the bench read it)."""
        return mouth_opening(self.visemes)

    @property
    def viseme(self) -> str:
        """The viseme the voice shows most now ("" when silent)."""
        return VISEMES[int(self.visemes.argmax())] if self.visemes.any() else ""

    def choose(self, source: str) -> None:
        self.source = source if source in SOURCES else "both"

    async def toggle(self) -> None:
        if self.starting:
            return
        button, note = by_id("btn-mic"), by_id("mic-note")
        if self.mic is not None:
            mic, self.mic = self.mic, None
            self.visemes[:] = 0.0
            await mic.stop()
            self._show(False)
            return
        self.starting = True
        button.disabled = True
        try:
            self.mic = await self.app.bridge.startMic()
        except Exception as exc:  # MicError and the like: one line, the camera carries on
            note.textContent = str(getattr(exc, "message", exc))
            note.hidden = False
            return
        finally:
            self.starting = False
            button.disabled = False
        self.features = VoiceFeatures(float(self.mic.sampleRate))
        self.mouth = VoiceMouth()
        note.hidden = True
        self._show(True)

    def _show(self, on_: bool) -> None:
        button = by_id("btn-mic")
        button.setAttribute("aria-pressed", "true" if on_ else "false")
        button.textContent = "Listening" if on_ else "Microphone: off"
        by_id("mouth-source").hidden = not on_
        by_id("avatar").dataset.mic = "on" if on_ else "off"

    def step(self) -> None:
        """Per camera frame: the samples that came since the last one, hop by hop."""
        mic = self.mic
        if mic is None:
            return
        n = int(mic.read())
        if n == 0:
            return
        mic.out.assign_to(self.samples)
        hops = self.features.push(self.samples[:n])
        rows = self.features.rows
        for i in range(hops):
            self.mouth.step(rows[i], self.visemes)
        self.hops += hops
