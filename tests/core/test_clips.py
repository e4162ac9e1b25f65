"""Clips are the user's only irreplaceable data: exact round-trips, strict and clear loading."""

import json
import re
import struct
import zlib
from datetime import datetime

import numpy as np
import pytest

from mimic.clips import Clip, ClipFormatError, dump_clips, load_clips


def awkward_frames(n=7, seed=1):
    """float32 values whose shortest decimal form is long, plus denormals, -0.0 and 1.0."""
    rng = np.random.default_rng(seed)
    frames = rng.random((n, 52)).astype(np.float32)
    frames[0, :4] = [1 / 3, np.float32(1e-40), -0.0, 1.0]
    frames[-1, -3:] = [np.nextafter(np.float32(0.1), np.float32(1)), 3e-38, 0.999999]
    return frames


def make_clip(labels=("happy", "aa"), n=7, **kwargs):
    return Clip.from_frames(labels, awkward_frames(n), fps=29.97, session_id="s1", **kwargs)


def sign(body: bytes) -> bytes:
    return body + struct.pack("<I", zlib.crc32(body))


def raw_clip(meta, frames, times, version=1) -> bytes:
    """A binary clip built by hand, validly signed, so loading must judge its content."""
    header = json.dumps({**meta, "n": len(frames)}).encode()
    return sign(struct.pack("<8sHI", b"MIMICCLP", version, len(header)) + header
                + np.asarray(frames, "<f4").tobytes() + np.asarray(times, "<f8").tobytes())


def meta_of(clip):
    return {"labels": list(clip.labels), "fps": clip.fps, "take_id": clip.take_id,
            "session_id": clip.session_id, "created_at": clip.created_at, "name": clip.name}


# Construction ----------------------------------------------------------------------------------

def test_from_frames_defaults():
    clip = Clip.from_frames(["joy", "a"], np.zeros((4, 52)) + 0.25)
    assert clip.labels == ("happy", "aa")
    assert clip.frames.dtype == np.float32 and clip.frames.shape == (4, 52)
    assert clip.timestamps.dtype == np.float64
    assert clip.timestamps.tolist() == [0.0, 1 / 30, 2 / 30, 3 / 30]
    assert clip.fps == 30.0 and clip.session_id == "s0" and clip.name == ""
    assert re.fullmatch(r"[0-9a-f]{32}", clip.take_id)
    created = datetime.fromisoformat(clip.created_at)
    assert created.utcoffset().total_seconds() == 0
    assert abs((datetime.now(created.tzinfo) - created).total_seconds()) < 60


def test_from_frames_ids_and_copies():
    frames = np.full((3, 52), 0.5, np.float32)
    a = Clip.from_frames("sad", frames)
    b = Clip.from_frames("sad", frames)
    assert a.take_id != b.take_id
    frames[:] = 0.0
    assert a.frames[0, 0] == 0.5
    assert Clip.from_frames("sad", frames, take_id="t1").take_id == "t1"


@pytest.mark.parametrize("labels, message", [
    ((), "one or two labels"),
    (("happy", "sad"), "one expression and/or one mouth or eyes target"),
    (("aa", "blink"), "one expression and/or one mouth or eyes target"),
    (("happy", "aa", "blink"), "one or two labels"),
    (("",), "invalid clip label"),
])
def test_from_frames_rejects_bad_labels(labels, message):
    with pytest.raises(ClipFormatError, match=message):
        Clip.from_frames(labels, np.zeros((2, 52)))


def test_validate_catches_in_code_problems():
    clip = make_clip()
    clip.frames[3, 10] = np.nan
    with pytest.raises(ClipFormatError, match="frame 3 contains NaN"):
        clip.validate()
    with pytest.raises(ClipFormatError, match="frame 3 contains NaN"):
        clip.to_json()
    with pytest.raises(ClipFormatError, match="shape"):
        Clip.from_frames("happy", np.zeros((2, 51)))
    with pytest.raises(ClipFormatError, match="no frames"):
        Clip.from_frames("happy", np.zeros((0, 52)))
    with pytest.raises(ClipFormatError, match="fps must be a positive number"):
        Clip.from_frames("happy", np.zeros((2, 52)), fps=float("inf"))


def test_equality_is_by_content():
    clip = make_clip()
    twin = Clip(clip.labels, clip.frames.copy(), clip.timestamps.copy(), clip.fps, clip.take_id,
                clip.session_id, clip.created_at, clip.name)
    assert twin == clip
    twin.frames[0, 5] = np.nextafter(twin.frames[0, 5], np.float32(2))
    assert twin != clip
    assert clip != "not a clip"


# Round trips -----------------------------------------------------------------------------------

def assert_identical(a: Clip, b: Clip) -> None:
    assert a == b
    assert a.frames.tobytes() == b.frames.tobytes()
    assert a.timestamps.tobytes() == b.timestamps.tobytes()
    assert b.frames.dtype == np.float32 and b.timestamps.dtype == np.float64
    assert b.frames.flags.writeable


def test_json_round_trip_is_exact():
    clip = make_clip(name="smile ünïcode ✓")
    clip.timestamps = clip.timestamps + 1e-13 * np.arange(len(clip.timestamps))
    text = clip.to_json()
    data = json.loads(text)
    assert data["format"] == "mimic-clip" and data["version"] == 1
    assert len(data["frames"]) == 7 and len(data["frames"][0]) == 52
    back = Clip.from_json(text)
    assert_identical(clip, back)
    assert np.signbit(back.frames[0, 2])  # -0.0 survives
    assert back.frames[0, 1] == np.float32(1e-40)  # denormal survives
    assert Clip.from_json(text.encode()) == clip


def test_binary_round_trip_is_exact():
    clip = make_clip(labels=("blinkLeft",), n=20)
    data = clip.to_bytes()
    assert data[:8] == b"MIMICCLP"
    assert len(data) > 20 * 52 * 4 + 20 * 8
    assert_identical(clip, Clip.from_bytes(data))
    assert Clip.from_bytes(bytearray(data)) == clip


def test_custom_label_round_trip():
    clip = make_clip(labels=("tongue out", "ou"))
    assert Clip.from_json(clip.to_json()).labels == ("tongue out", "ou")
    assert Clip.from_bytes(clip.to_bytes()).labels == ("tongue out", "ou")


def test_dump_and_load_many(tmp_path):
    clips = [make_clip(labels=lab, n=n) for lab, n in
             [(("happy",), 3), (("sad", "oh"), 11), (("blink",), 1), (("wink",), 5)]]
    path = tmp_path / "library.mimicclips"
    path.write_bytes(dump_clips(clips))
    back = load_clips(path.read_bytes())
    assert len(back) == 4
    for a, b in zip(clips, back, strict=True):
        assert_identical(a, b)
    assert load_clips(dump_clips([])) == []


def test_load_clips_accepts_single_clip_files():
    clip = make_clip()
    assert load_clips(clip.to_bytes()) == [clip]
    assert load_clips(clip.to_json().encode()) == [clip]


# Binary corruption -----------------------------------------------------------------------------

def test_bad_magic():
    data = make_clip().to_bytes()
    with pytest.raises(ClipFormatError, match="bad magic"):
        Clip.from_bytes(b"NOTACLIP" + data[8:])
    with pytest.raises(ClipFormatError, match="bad magic"):
        Clip.from_bytes(b"")
    with pytest.raises(ClipFormatError, match="bad magic"):
        load_clips(b"PK\x03\x04 a zip file")


def test_unsupported_version():
    clip = make_clip()
    data = raw_clip(meta_of(clip), clip.frames, clip.timestamps, version=2)
    with pytest.raises(ClipFormatError, match="unsupported clip version 2"):
        Clip.from_bytes(data)


@pytest.mark.parametrize("keep", [9, 14, 20, 40, 200, -500, -9, -4, -1])
def test_truncation(keep):
    data = make_clip().to_bytes()
    with pytest.raises(ClipFormatError, match="truncated"):
        Clip.from_bytes(data[:keep])


@pytest.mark.parametrize("where", ["frames", "timestamps", "crc", "header"])
def test_bit_flip_is_a_checksum_mismatch(where):
    clip = make_clip()
    data = bytearray(clip.to_bytes())
    end = len(data) - 4
    pos = {"frames": end - 7 * 8 - 100, "timestamps": end - 3, "crc": end + 1,
           "header": 40}[where]
    data[pos] ^= 0x10
    with pytest.raises(ClipFormatError, match="checksum mismatch"):
        Clip.from_bytes(bytes(data))


def test_trailing_bytes():
    data = make_clip().to_bytes()
    with pytest.raises(ClipFormatError, match="5 unexpected trailing bytes"):
        Clip.from_bytes(data + b"extra")


def test_signed_but_invalid_header():
    header = b"{not json"
    data = sign(struct.pack("<8sHI", b"MIMICCLP", 1, len(header)) + header)
    with pytest.raises(ClipFormatError, match="header is not a valid JSON object"):
        Clip.from_bytes(data)


def test_signed_but_invalid_frame_count():
    clip = make_clip()
    meta = {**meta_of(clip), "n": -3}
    header = json.dumps(meta).encode()
    data = sign(struct.pack("<8sHI", b"MIMICCLP", 1, len(header)) + header)
    with pytest.raises(ClipFormatError, match="invalid frame count -3"):
        Clip.from_bytes(data)


def with_frames(clip, frames=None, times=None, **meta):
    frames = clip.frames if frames is None else frames
    times = clip.timestamps if times is None else times
    return raw_clip({**meta_of(clip), **meta}, frames, times)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_frames(value):
    clip = make_clip()
    frames = clip.frames.copy()
    frames[4, 7] = value
    with pytest.raises(ClipFormatError, match="frame 4 contains NaN or infinite"):
        Clip.from_bytes(with_frames(clip, frames))


def test_non_finite_timestamps():
    clip = make_clip()
    times = clip.timestamps.copy()
    times[-1] = np.nan
    with pytest.raises(ClipFormatError, match="timestamps contain NaN"):
        Clip.from_bytes(with_frames(clip, times=times))


def test_non_monotonic_timestamps():
    clip = make_clip()
    times = clip.timestamps.copy()
    times[5] = times[2]
    with pytest.raises(ClipFormatError, match="not monotonic: frame 5"):
        Clip.from_bytes(with_frames(clip, times=times))
    times = clip.timestamps.copy()
    times[3] = times[2]  # a repeated camera timestamp is allowed
    assert Clip.from_bytes(with_frames(clip, times=times)).timestamps[3] == times[2]


@pytest.mark.parametrize("meta, message", [
    ({"labels": ["happy", "sad"]}, "one expression and/or one mouth"),
    ({"labels": ["joy"]}, "'joy' is not canonical; use 'happy'"),
    ({"labels": ["bad\nlabel"]}, "invalid clip label.*control character"),
    ({"labels": [""]}, "invalid clip label.*empty"),
    ({"labels": [7]}, "invalid clip label.*must be a string"),
    ({"labels": []}, "one or two labels"),
    ({"labels": "happy"}, "'labels' has the wrong type"),
    ({"fps": -30}, "fps must be a positive number"),
    ({"fps": "30"}, "'fps' has the wrong type"),
    ({"fps": True}, "'fps' has the wrong type"),
    ({"take_id": ""}, "take_id must not be empty"),
    ({"take_id": None}, "'take_id' has the wrong type"),
    ({"created_at": "yesterday"}, "not an ISO 8601 time"),
])
def test_invalid_metadata(meta, message):
    clip = make_clip()
    with pytest.raises(ClipFormatError, match=message):
        Clip.from_bytes(with_frames(clip, **meta))


def test_missing_metadata():
    clip = make_clip()
    meta = meta_of(clip)
    del meta["session_id"]
    with pytest.raises(ClipFormatError, match="missing 'session_id'"):
        Clip.from_bytes(raw_clip(meta, clip.frames, clip.timestamps))


# JSON corruption -------------------------------------------------------------------------------

def edited(**changes):
    data = json.loads(make_clip().to_json())
    data.update(changes)
    return json.dumps(data)


@pytest.mark.parametrize("changes, message", [
    ({"format": "other"}, "not a Mimic clip"),
    ({"version": 2}, "unsupported clip version 2"),
    ({"version": True}, "unsupported clip version True"),
    ({"frames": [[0.5] * 51] * 7}, r"shape \(n, 52\), got \(7, 51\)"),
    ({"frames": [[0.5] * 52] * 6 + [[0.5] * 51]}, "rectangular array of numbers"),
    ({"frames": [["0.5"] * 52] * 7}, "only numbers"),
    ({"frames": [[None] * 52] * 7}, "only numbers"),
    ({"frames": [[True] * 52] * 7}, "only numbers"),
    ({"frames": []}, "no frames"),
    ({"frames": [[0.5] * 52] * 6 + [[float("nan")] * 52]}, "frame 6 contains NaN"),
    ({"frames": [[0.5] * 52] * 6 + [[1e39] * 52]}, "frame 6 contains NaN or infinite"),
    ({"frames": [[5.0] * 52] * 7}, "frame 0: _neutral is 5; blendshape weights lie between"),
    ({"frames": [[0.5] * 52] * 3 + [[0.5] * 20 + [-0.2] + [0.5] * 31] * 4},
     "frame 3: eyeSquintRight is -0.2"),
    ({"timestamps": [0.0, 0.1]}, r"7 frames but timestamps of shape \(2,\)"),
    ({"timestamps": [0.0, 0.1, 0.2, 0.15, 0.3, 0.4, 0.5]}, "not monotonic: frame 3"),
    ({"labels": ["joy"]}, "not canonical"),
    ({"labels": ["x" * 41]}, "longer than 40"),
    ({"fps": 0}, "fps must be a positive number"),
    ({"created_at": "13/01/2025"}, "ISO 8601"),
    ({"name": None}, "'name' has the wrong type"),
])
def test_json_rejects(changes, message):
    with pytest.raises(ClipFormatError, match=message):
        Clip.from_json(edited(**changes))


@pytest.mark.parametrize("text, message", [
    ("{\"format\": ", "not valid JSON"),
    ("[1, 2]", "not a Mimic clip"),
    (b"\xff\xfe", "not valid JSON"),
])
def test_json_not_a_clip(text, message):
    with pytest.raises(ClipFormatError, match=message):
        Clip.from_json(text)


def test_json_missing_frames():
    data = json.loads(make_clip().to_json())
    del data["frames"]
    with pytest.raises(ClipFormatError, match="missing 'frames'"):
        Clip.from_json(json.dumps(data))


# Clip set corruption ---------------------------------------------------------------------------

def test_set_header():
    data = dump_clips([make_clip(), make_clip()])
    assert data[:8] == b"MIMICCLS"
    assert struct.unpack_from("<HI", data, 8) == (1, 2)
    bumped = sign(data[:8] + struct.pack("<H", 3) + data[10:-4])
    with pytest.raises(ClipFormatError, match="unsupported clip version 3"):
        load_clips(bumped)


@pytest.mark.parametrize("cut", [1, 4, 5, 100, 3000])
def test_set_truncation(cut):
    data = dump_clips([make_clip(), make_clip()])
    with pytest.raises(ClipFormatError, match="truncated"):
        load_clips(data[:-cut])


def test_set_checksum_and_trailing_bytes():
    data = bytearray(dump_clips([make_clip(), make_clip()]))
    with pytest.raises(ClipFormatError, match="unexpected trailing bytes"):
        load_clips(bytes(data) + b"\0\0")
    data[-40] ^= 1
    with pytest.raises(ClipFormatError, match="clip set file is corrupted: checksum mismatch"):
        load_clips(bytes(data))


def test_set_names_the_bad_clip():
    good = make_clip()
    bad = with_frames(good, labels=["happy", "sad"])
    body = struct.pack("<8sHI", b"MIMICCLS", 1, 2)
    for part in (good.to_bytes(), bad):
        body += struct.pack("<I", len(part)) + part
    with pytest.raises(ClipFormatError, match=r"^clip 1: .*one expression"):
        load_clips(sign(body))


@pytest.mark.parametrize("fps", [0, -1.0, float("nan"), "30", True])
def test_from_frames_rejects_bad_fps(fps):
    with pytest.raises(ClipFormatError, match="fps must be a positive number"):
        Clip.from_frames("happy", np.zeros((3, 52)), fps=fps)


def test_deeply_nested_json_is_refused_not_parsed():
    # In Pyodide this nesting would overflow the wasm stack inside json.loads.
    hostile = "[" * 5000 + "]" * 5000
    with pytest.raises(ClipFormatError, match="not valid JSON"):
        Clip.from_json(hostile)


# Voice features recorded with a take ---------------------------------------------------------

def voice_rows(n=7, seed=3, width=25):
    rng = np.random.default_rng(seed)
    rows = rng.normal(0.0, 2.0, (n, width)).astype(np.float32)
    rows[:, 0] = rng.uniform(-90.0, -10.0, n)  # level in dB
    return rows


@pytest.mark.parametrize("width", [25, 6], ids=["today", "before 2026-12"])
def test_audio_features_round_trip_in_both_formats(width):
    clip = make_clip(audio=voice_rows(width=width))
    for back in (Clip.from_bytes(clip.to_bytes()), Clip.from_json(clip.to_json())):
        assert back == clip
        assert back.audio.dtype == np.float32 and back.audio.shape == (7, width)
    plain = make_clip()
    back = load_clips(dump_clips([clip, plain]))
    assert back == [clip, plain] and back[1].audio is None


def test_audio_features_cost_25_floats_a_frame_and_no_sound():
    plain, voiced = make_clip(n=300), make_clip(n=300, audio=voice_rows(300))
    extra = len(voiced.to_bytes()) - len(plain.to_bytes())
    assert extra == 300 * 25 * 4 + len(',"audio":25')
    assert plain != voiced


def test_files_without_audio_still_load():
    clip = make_clip()
    data = with_frames(clip)  # a file as written before takes kept voice features
    assert Clip.from_bytes(data).audio is None
    assert Clip.from_json(clip.to_json()).audio is None


@pytest.mark.parametrize("rows, message", [
    (voice_rows(5), r"7 frames but audio features of shape \(5, 25\)"),
    (np.zeros((7, 4), np.float32), r"shape \(7, 4\)"),
    (np.zeros((7, 24), np.float32), r"shape \(7, 24\); expected \(7, 25\)"),
    (np.zeros(7, np.float32), r"shape \(7,\)"),
])
def test_audio_features_must_match_the_frames(rows, message):
    with pytest.raises(ClipFormatError, match=message):
        make_clip(audio=rows)


def test_audio_features_must_be_finite():
    rows = voice_rows()
    rows[2, 1] = np.nan
    with pytest.raises(ClipFormatError, match="frame 2: audio features contain NaN"):
        make_clip(audio=rows)


def test_binary_audio_column_count_is_checked():
    clip = make_clip()
    data = raw_clip({**meta_of(clip), "audio": 5}, clip.frames, clip.timestamps)
    with pytest.raises(ClipFormatError, match="5 audio features per frame; this Mimic reads "
                                              "25 or 6"):
        Clip.from_bytes(data)
    for width in (25, 6):
        data = raw_clip({**meta_of(clip), "audio": width}, clip.frames, clip.timestamps)
        with pytest.raises(ClipFormatError, match="truncated"):
            Clip.from_bytes(data)
