"""Lip sync from the microphone in the studio: opt-in, read each camera frame, and the
mouth it gives the avatar (mimic.voice), from the voice alone or with the camera.

The microphone is asked for only when the user turns it on; a refusal is said in one line
and the camera path carries on. Only features are computed (the latest hop's go into a take
being recorded); no audio is kept or stored. With a model that learned the user's voice
(mimic.voicemodel) its level range and vowel picker replace the default mapping, and the
mouth's source (voice, camera or both) is kept with the model.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from mimic.voice import LAYOUT, SILENT, SOURCES, VISEMES, VoiceFeatures, VoiceMouth, mouth_opening
from studio.app import App
from studio.dom import by_id, on, spawn

READ = 4096  # samples read per camera frame at most (0.34 s at 12 kHz)


class VoiceView:
    def __init__(self, app: App) -> None:
        self.app = app
        self.mic = None
        self.features: VoiceFeatures | None = None
        # a voice learned from takes of an older feature layout reads its own rows
        self.older: VoiceFeatures | None = None
        self.mouth = VoiceMouth()
        self.voice: Any = None  # the active model's learned voice, when it has one
        self.visemes = np.zeros(len(VISEMES), np.float32)
        self.samples = np.zeros(READ, np.float32)
        self.latest = SILENT.copy()  # the latest hop's features: what a take records
        self.page_source = "both"  # without a model
        self.hops = 0
        self.starting = False
        on(by_id("btn-mic"), "click", lambda _e: self.toggle())
        on(by_id("mouth-source"), "change", lambda e: self.choose(str(e.target.value)))
        app.listeners.append(self.refresh)

    @property
    def listening(self) -> bool:
        return self.mic is not None

    @property
    def learned(self) -> bool:
        """Whether the mouth follows a voice learned from the user's takes."""
        return self.voice is not None

    @property
    def source(self) -> str:
        """Where the mouth comes from: the active model's choice, or the page's without one."""
        pipeline = self.app.pipeline
        return pipeline.cleanup.settings.mouth_source if pipeline is not None else self.page_source

    @property
    def active(self) -> bool:
        """Whether the voice moves the mouth now."""
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
        """The user picked where the mouth comes from: kept with the active model."""
        source = source if source in SOURCES else "both"
        pipeline, record = self.app.pipeline, self.app.active_model()
        if pipeline is None or record is None:
            self.page_source = source
            return
        settings = dataclasses.replace(pipeline.cleanup.settings, mouth_source=source)
        pipeline.cleanup.settings = settings
        record.cleanup = settings.to_dict()
        spawn(self.app.storage.put_model(record))

    def refresh(self) -> None:
        """The active model may have changed: follow its voice and its mouth source."""
        pipeline = self.app.pipeline
        voice = getattr(pipeline.model, "voice_", None) if pipeline is not None else None
        if voice is not self.voice:
            self.voice = voice
            self.mouth = self._new_mouth()
            self.visemes[:] = 0.0
            if self.mic is not None:
                self._new_features()
        by_id("mouth-source").value = self.source
        self._show(self.listening)

    def _new_mouth(self) -> VoiceMouth:
        """A fresh follower: the learned voice's when the model has one, else the default."""
        return self.voice.mouth() if self.voice is not None else VoiceMouth()

    def _new_features(self) -> None:
        """Feature extractors for the microphone: the current layout's (what takes record),
        and the older one a learned voice reads when its takes were recorded in it."""
        rate = float(self.mic.sampleRate)
        self.features = VoiceFeatures(rate)
        layout = self.voice.layout if self.voice is not None else LAYOUT
        self.older = VoiceFeatures(rate, layout=layout) if layout != LAYOUT else None

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
        self.mic.attach(self.samples)
        self._new_features()
        self.mouth = self._new_mouth()
        self.latest[:] = SILENT
        note.hidden = True
        self._show(True)

    def _show(self, on_: bool) -> None:
        button = by_id("btn-mic")
        button.setAttribute("aria-pressed", "true" if on_ else "false")
        button.textContent = "Listening" if on_ else "Microphone: off"
        by_id("mouth-source").hidden = not on_
        kind = by_id("voice-kind")
        kind.hidden = not on_
        kind.textContent = "your voice" if self.learned else "default voice"
        kind.title = ("The mouth follows the voice this model learned from your takes."
                      + (" They were recorded by an earlier Mimic: record your viseme takes "
                         "again with the microphone on and train, for a voice read better."
                         if self.older is not None else "")
                      if self.learned else "Record viseme takes (aa, ih, ou, ee, oh) with the "
                      "microphone on and train, and the mouth will follow your own voice.")
        by_id("rec-voice-note").hidden = not on_
        by_id("avatar").dataset.mic = "on" if on_ else "off"

    def step(self) -> None:
        """Per camera frame: the samples that came since the last one, hop by hop."""
        mic = self.mic
        if mic is None:
            return
        n = int(mic.read())  # the new samples, written into self.samples (mic.attach)
        if n == 0:
            return
        hops = self.features.push(self.samples[:n])
        rows = self.features.rows
        if self.older is not None:
            self.older.push(self.samples[:n])
            rows = self.older.rows
        for i in range(hops):
            self.mouth.step(rows[i], self.visemes)
        if hops:
            self.latest[:] = self.features.rows[hops - 1]
        self.hops += hops
