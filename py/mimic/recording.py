"""Turning a stream of camera frames into a Clip, the way the studio records one.

The camera loop hands every frame over, face or not; frames without a face are dropped
and counted so the user can be told why a take was refused instead of silently getting a
short or empty clip. Buffers are allocated once per recorder, so recording adds nothing
to the per-frame path beyond one row copy (two with the microphone on: the voice's features
of the latest 10 ms hop go with each frame; never the sound).
"""

from __future__ import annotations

import numpy as np

from mimic.blendshapes import COUNT
from mimic.clips import Clip
from mimic.voice import FEATURES as AUDIO_FEATURES
from mimic.voice import SILENT


class RecordingError(ValueError):
    """A take that cannot become a clip; the message says why and what to do."""


class Recorder:
    """Collect frames for `seconds`; refuse takes with too few face frames."""

    def __init__(self, seconds: float = 3.0, max_fps: float = 60.0,
                 min_face_share: float = 0.6, min_frames: int = 15) -> None:
        self.seconds = seconds
        self.max_fps = max_fps
        self.min_face_share = min_face_share
        self.min_frames = min_frames
        self._frames = np.zeros((int(seconds * max_fps * 1.5) + 8, COUNT), np.float32)
        self._times = np.zeros(len(self._frames), np.float64)
        self._audio = np.zeros((len(self._frames), AUDIO_FEATURES), np.float32)
        self.reset()

    def reset(self) -> None:
        self.labels: tuple[str, ...] = ()
        self.active = False
        self.t0_ms = 0.0
        self.kept = 0
        self.dropped = 0
        self.heard = 0  # frames that came with the voice's features (microphone on)
        self._audio[:] = SILENT

    def start(self, labels: tuple[str, ...], t0_ms: float) -> None:
        self.reset()
        self.labels = tuple(labels)
        self.t0_ms = t0_ms
        self.active = True

    def progress(self, t_ms: float) -> float:
        if not self.active:
            return 0.0
        return min(1.0, max(0.0, (t_ms - self.t0_ms) / (self.seconds * 1000.0)))

    def add(self, frame: np.ndarray, t_ms: float, has_face: bool,
            audio: np.ndarray | None = None) -> bool:
        """Take one camera frame, and the voice's latest features while the microphone is
        on; returns False once the take's time is up."""
        if not self.active:
            return False
        if t_ms - self.t0_ms >= self.seconds * 1000.0:
            self.active = False
            return False
        if not has_face:
            self.dropped += 1
        elif self.kept < len(self._frames):
            self._frames[self.kept] = frame
            self._times[self.kept] = (t_ms - self.t0_ms) / 1000.0
            if audio is not None:  # frames without stay SILENT (set at the take's start)
                self._audio[self.kept] = audio
                self.heard += 1
            self.kept += 1
        return True

    def finish(self, session_id: str, name: str = "") -> Clip:
        """The recorded clip, or RecordingError when the face was missing too often."""
        self.active = False
        seen = self.kept + self.dropped
        if seen == 0:
            raise RecordingError("No camera frames arrived while recording. Is the camera running?")
        share = self.kept / seen
        if share >= self.min_face_share and self.kept < self.min_frames:
            raise RecordingError(
                f"Only {self.kept} frames arrived in {self.seconds:g} s: the camera or this "
                "computer is running slowly. Record a longer take."
            )
        if share < self.min_face_share:
            raise RecordingError(
                f"Only {self.kept} of {seen} frames showed a face ({share:.0%}). "
                "Keep your face in view and well lit, then record again."
            )
        times = self._times[: self.kept].copy()
        times -= times[0]
        fps = (self.kept - 1) / times[-1] if times[-1] > 0 else 30.0
        audio = self._audio[: self.kept] if self.heard else None  # only if the mic was on
        return Clip.from_frames(self.labels, self._frames[: self.kept], fps=fps,
                                session_id=session_id, timestamps=times, name=name, audio=audio)
