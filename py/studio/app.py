"""The studio's state and its per-frame path.

`on_frame` runs for every camera frame, so it only copies the frame in, feeds the recorder
or the playback, runs the live pipeline and copies the result out, all on buffers made
once. Everything else (views, storage, training) is event-driven and lives in the views.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime
from typing import Any

import js
import numpy as np

from mimic.blendshapes import COUNT
from mimic.clips import Clip
from mimic.pipeline import LivePipeline
from mimic.recording import Recorder
from studio import outputs
from studio.dom import by_id, on
from studio.storage import ModelRecord, Storage

TABS = ("record", "train", "live", "output", "sync")


def new_session_id() -> str:
    """One id per page visit: clips of one sitting share lighting and camera placement."""
    return datetime.now(UTC).strftime("s%Y%m%d-%H%M%S-") + secrets.token_hex(2)


class App:
    def __init__(self, bridge: Any, storage: Storage) -> None:
        self.bridge = bridge
        self.storage = storage
        self.session_id = new_session_id()
        self.frame = np.zeros(COUNT, np.float32)
        self.scores_js = bridge.scores
        self.display_js = bridge.display
        self.recorder = Recorder()
        self.clips: list[Clip] = []
        self.calibration_ids: set[str] = set()
        self.unsaved_ids: set[str] = set()  # takes kept in memory only: storage refused them
        self.models: list[ModelRecord] = []
        self.active_model_id: str | None = None
        self.pipeline: LivePipeline | None = None
        self.pred_js: Any = None
        self.playback: tuple[Clip, float, float, float] | None = None
        self.listeners: list[Any] = []  # views that want to hear about data changes
        self.avatar: Any = None  # studio.avatar.AvatarDriver, set by main
        self.voice: Any = None  # studio.voice.VoiceView, set by main

    # per frame ---------------------------------------------------------------
    def on_frame(self, t_ms: float, has_face: bool) -> None:
        frame = self.frame
        voice = self.voice
        listening = voice is not None and voice.listening
        if listening:  # first, so this frame's mouth and take get the newest sound
            voice.step()
        if has_face:
            self.scores_js.assign_to(frame)
        if self.recorder.active:
            self.recorder.add(frame, t_ms, has_face, voice.latest if listening else None)
        if self.playback is not None:  # a recorded take drives bars, model and avatar
            played = self._play(t_ms)
            if played is not None:
                frame, has_face = played, True
        self.display_js.assign(frame)
        clean = None
        if self.pipeline is not None and has_face:
            heard = voice.visemes if listening else None  # the model's mouth source decides
            out = self.pipeline.step(frame, t_ms * 0.001, heard)
            self.pred_js.assign(out)
            clean = self.pipeline.clean
        if self.avatar is not None:
            if has_face:
                self.avatar.step(frame, clean, t_ms * 0.001)
            else:
                self.avatar.lost(t_ms * 0.001)
        outputs.step(self, frame, clean, has_face, t_ms)  # what the avatar shows, to VMC/VTS

    def _play(self, t_ms: float) -> np.ndarray | None:
        clip, start, first_s, last_s = self.playback
        if start < 0:
            start = t_ms
            self.playback = (clip, start, first_s, last_s)
        at = clip.timestamps[0] + first_s + (t_ms - start) * 0.001
        i = int(np.searchsorted(clip.timestamps, at))
        if i >= len(clip.frames) or at > clip.timestamps[0] + last_s:
            self.playback = None
            return None
        return clip.frames[i]

    def play(self, clip: Clip, first_s: float = 0.0, last_s: float | None = None) -> None:
        """Play a take (or seconds `first_s`..`last_s` of it, from its start) in place of
        the camera: the bars, the model's predictions and the avatar all follow it."""
        end = float(clip.timestamps[-1] - clip.timestamps[0]) if last_s is None else last_s
        self.playback = (clip, -1.0, float(first_s), float(end))

    # models ------------------------------------------------------------------
    def active_model(self) -> ModelRecord | None:
        return next((m for m in self.models if m.id == self.active_model_id), None)

    def use_model(self, record: ModelRecord | None, model: Any = None) -> None:
        """Switch the live path to `record` (already stored); None turns predictions off."""
        from mimic import modelfile

        if record is None:
            self.pipeline = None
            self.active_model_id = None
            self.pred_js = self.bridge.setPredictionLayout([], [])
            if self.avatar is not None:
                self.avatar.plan()
            return
        model = model or modelfile.loads(record.data)
        calib = self.session_calibration()
        if calib is not None:
            model.calibrate(calib.frames)
        pipeline = LivePipeline(model, record.cleanup)
        self.pred_js = self.bridge.setPredictionLayout(list(pipeline.names), pipeline.groups)
        self.pipeline = pipeline
        self.active_model_id = record.id
        if self.avatar is not None:
            self.avatar.plan()

    def session_calibration(self) -> Clip | None:
        """This visit's neutral calibration clip, if the user recorded one."""
        mine = [c for c in self.clips
                if c.take_id in self.calibration_ids and c.session_id == self.session_id]
        return mine[-1] if mine else None

    def changed(self) -> None:
        for listener in self.listeners:
            listener()


def setup_tabs() -> None:
    def select(name: str) -> None:
        for tab in TABS:
            chosen = tab == name
            by_id(f"tab-{tab}").setAttribute("aria-selected", "true" if chosen else "false")
            by_id(f"view-{tab}").hidden = not chosen
        js.document.body.dataset.view = name

    for tab in TABS:
        on(by_id(f"tab-{tab}"), "click", lambda _e, t=tab: select(t))
    select("record")


async def sleep_frames(seconds: float) -> None:
    await asyncio.sleep(seconds)
