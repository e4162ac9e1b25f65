"""Recording a take from a stream of camera frames, face or not."""

import numpy as np
import pytest

from mimic.recording import Recorder, RecordingError
from mimic.voice import FEATURES


def feed(rec: Recorder, seconds: float, fps: float, face_every: int = 1, t0: float = 0.0):
    i = 0
    while rec.add(np.full(52, i / 1000, np.float32), t0 + i * 1000.0 / fps, i % face_every == 0):
        i += 1
    return i


def test_keeps_face_frames_for_the_take_duration():
    rec = Recorder(seconds=2.0)
    rec.start(("happy",), 0.0)
    seen = feed(rec, 2.0, 30.0)
    clip = rec.finish("s1", name="first")
    assert seen == 60  # frames at 0 .. 1966 ms; the one at 2000 ms ends the take
    assert clip.labels == ("happy",)
    assert clip.frames.shape == (60, 52)
    assert clip.timestamps[0] == 0.0
    assert clip.timestamps[-1] == pytest.approx(59 / 30)
    assert clip.fps == pytest.approx(30.0)
    assert clip.session_id == "s1" and clip.name == "first"
    # Frames are stored in order, copied out of the recorder's buffer.
    assert clip.frames[5, 0] == pytest.approx(0.005)
    rec.start(("sad",), 10_000.0)
    feed(rec, 2.0, 30.0, t0=10_000.0)
    assert clip.frames[5, 0] == pytest.approx(0.005)


def test_frames_without_a_face_are_dropped_and_counted():
    rec = Recorder(seconds=1.0, min_face_share=0.4)
    rec.start(("aa",), 0.0)
    feed(rec, 1.0, 30.0, face_every=2)
    clip = rec.finish("s1")
    assert len(clip.frames) == 15
    assert rec.dropped == 15


def test_a_take_with_too_few_face_frames_is_refused():
    rec = Recorder(seconds=1.0)
    rec.start(("aa",), 0.0)
    feed(rec, 1.0, 30.0, face_every=3)
    with pytest.raises(RecordingError, match="frames showed a face"):
        rec.finish("s1")


def test_a_short_take_from_a_slow_camera_asks_for_a_longer_one():
    rec = Recorder(seconds=1.0)
    rec.start(("aa",), 0.0)
    feed(rec, 1.0, 10.0)  # every frame has a face, but only 10 came
    with pytest.raises(RecordingError, match=r"Only 10 frames arrived in 1 s.*longer take"):
        rec.finish("s1")


def test_no_frames_at_all_is_refused_with_a_camera_hint():
    rec = Recorder(seconds=1.0)
    rec.start(("aa",), 0.0)
    with pytest.raises(RecordingError, match="camera"):
        rec.finish("s1")


def test_progress_and_inactive_recorder():
    rec = Recorder(seconds=2.0)
    assert rec.add(np.zeros(52, np.float32), 0.0, True) is False
    rec.start(("ih",), 1000.0)
    assert rec.progress(2000.0) == pytest.approx(0.5)
    assert rec.progress(9000.0) == 1.0


def test_with_the_microphone_on_each_frame_keeps_the_voices_features():
    rec = Recorder(seconds=1.0)
    rec.start(("aa",), 0.0)
    heard = np.linspace(-1.0, 2.0, FEATURES).astype(np.float32)
    heard[0] = -30.0
    i = 0
    # the microphone goes off a third of the way in, and one frame has no face
    while rec.add(np.zeros(52, np.float32), i * 1000.0 / 30, i != 3,
                  heard + i if i < 10 else None):
        i += 1
    clip = rec.finish("s1")
    assert clip.audio.shape == (len(clip.frames), FEATURES) == (29, 25)
    assert clip.audio[0, 0] == -30.0 and clip.audio[3, 0] == -30.0 + 4  # frame 3 dropped
    assert (clip.audio[9:] == [-100.0] + [0.0] * 24).all()  # after: nothing heard
    rec.start(("neutral",), 5000.0)
    feed(rec, 1.0, 30.0, t0=5000.0)
    assert rec.finish("s1").audio is None  # microphone off: no voice features at all
    assert clip.audio[0, 0] == -30.0  # the clip owns a copy
