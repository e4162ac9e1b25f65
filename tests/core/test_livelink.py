"""Live Link Face CSV import: every ARKit column lands in its MediaPipe slot, times are right."""

import numpy as np
import pytest

from mimic.blendshapes import COUNT, INDEX
from mimic.clips import ClipFormatError
from mimic.io import read_livelink
from mimic.io.livelink import parse_timecode

# Live Link Face's own column order (ARKit's), which differs from MediaPipe's.
_FACE_TEXT = """
EyeBlinkLeft EyeLookDownLeft EyeLookInLeft EyeLookOutLeft EyeLookUpLeft EyeSquintLeft
EyeWideLeft EyeBlinkRight EyeLookDownRight EyeLookInRight EyeLookOutRight EyeLookUpRight
EyeSquintRight EyeWideRight JawForward JawRight JawLeft JawOpen MouthClose MouthFunnel
MouthPucker MouthRight MouthLeft MouthSmileLeft MouthSmileRight MouthFrownLeft MouthFrownRight
MouthDimpleLeft MouthDimpleRight MouthStretchLeft MouthStretchRight MouthRollLower MouthRollUpper
MouthShrugLower MouthShrugUpper MouthPressLeft MouthPressRight MouthLowerDownLeft
MouthLowerDownRight MouthUpperUpLeft MouthUpperUpRight BrowDownLeft BrowDownRight BrowInnerUp
BrowOuterUpLeft BrowOuterUpRight CheekPuff CheekSquintLeft CheekSquintRight NoseSneerLeft
NoseSneerRight"""
FACE = _FACE_TEXT.split()
EXTRA = ["TongueOut", "HeadYaw", "HeadPitch", "HeadRoll", "LeftEyeYaw", "LeftEyePitch",
         "LeftEyeRoll", "RightEyeYaw", "RightEyePitch", "RightEyeRoll"]
HEADER = ["Timecode", "BlendshapeCount", *FACE, *EXTRA]


def face_value(row: int, col: int) -> float:
    """Distinct per column and row, so a swapped column cannot go unnoticed."""
    return round(0.01 * (col + 1) + 0.0001 * (row % 50), 6)


def timecode(frame: int, fps: int, sub: float = 0.0, start_s: int = 17 * 3600 + 35 * 60 + 21):
    s, ff = divmod(frame, fps)
    s += start_s
    return f"{s // 3600 % 24:02d}:{s // 60 % 60:02d}:{s % 60:02d}:{ff:02d}.{round(sub * 1000):03d}"


def make_csv(frames: int = 90, fps: int = 60, first: int = 5, gap_after: int | None = None,
             gap_frames: int = 0, header=HEADER, start_s: int = 17 * 3600 + 35 * 60 + 21,
             newline: str = "\n") -> str:
    """A Live Link Face recording: timecodes with sub-frame parts, 61 shapes, head rotations."""
    lines = [",".join(header)]
    for i in range(frames):
        frame = first + i + (gap_frames if gap_after is not None and i >= gap_after else 0)
        face = [f"{face_value(i, c)}" for c in range(len(FACE))]
        extra = ["0.77"] + [f"{-0.1 * (k + 1):.3f}" for k in range(len(EXTRA) - 1)]
        row = [timecode(frame, fps, (i % 4) * 0.25, start_s), "61", *face, *extra]
        lines.append(",".join(row[:len(header)]))
    return newline.join(lines) + newline


def test_parse_timecode():
    assert parse_timecode("17:35:21:05.342") == (17 * 3600 + 35 * 60 + 21, 5, pytest.approx(0.342))
    assert parse_timecode("00:00:01:59") == (1.0, 59, 0.0)
    with pytest.raises(ValueError, match="bad timecode"):
        parse_timecode("17:35:21.05")


def test_channels_map_by_name():
    clips = read_livelink(make_csv(), "happy")
    assert len(clips) == 1
    frames = clips[0].frames
    assert frames.shape == (90, COUNT) and frames.dtype == np.float32
    for col, arkit in enumerate(FACE):
        slot = INDEX[arkit[0].lower() + arkit[1:]]
        expected = np.array([face_value(i, col) for i in range(90)], np.float32)
        assert frames[:, slot].tobytes() == expected.tobytes(), arkit
    assert (frames[:, 0] == 0.0).all()
    # TongueOut (0.77) and rotations (negative) appear nowhere.
    assert not np.isclose(frames, 0.77).any()
    assert (frames >= 0).all()


def test_timestamps_and_fps_from_timecodes():
    clip = read_livelink(make_csv(frames=150, fps=60), "joy")[0]
    assert clip.labels == ("happy",)
    assert clip.fps == 60.0
    expected = [(i + (i % 4) * 0.25) / 60 for i in range(150)]
    expected = [t - expected[0] for t in expected]
    assert clip.timestamps.tolist() == pytest.approx(expected, abs=1e-9)
    assert clip.session_id == "livelink"


@pytest.mark.parametrize("fps, frames", [(30, 70), (60, 130), (24, 50), (25, 26)])
def test_fps_inference(fps, frames):
    assert read_livelink(make_csv(frames=frames, fps=fps, first=0), "sad")[0].fps == fps


def test_short_take_fps_rounds_up_to_a_standard_rate():
    # 20 frames at 60 fps never show frame numbers past 27: the rate is still a phone rate.
    clip = read_livelink(make_csv(frames=20, fps=60, first=8), "aa")[0]
    assert clip.fps == 30.0
    assert read_livelink(make_csv(frames=20, fps=60, first=8), "aa", fps=60)[0].fps == 60.0


def test_explicit_fps_sets_timestamps():
    clip = read_livelink(make_csv(frames=8, fps=60, first=0), "aa", fps=60)[0]
    assert clip.timestamps[4] == pytest.approx(4 / 60)


def test_gap_splits_clips():
    text = make_csv(frames=100, fps=30, gap_after=40, gap_frames=45)
    clips = read_livelink(text, ("happy", "aa"))
    assert [len(c.frames) for c in clips] == [40, 60]
    for c in clips:
        assert c.labels == ("happy", "aa")
        assert c.timestamps[0] == 0.0
        assert np.diff(c.timestamps).max() < 0.1
    assert clips[0].take_id != clips[1].take_id
    assert clips[1].frames[0, INDEX["eyeBlinkLeft"]] == np.float32(face_value(40, 0))
    # A pause just under a second keeps one clip.
    assert len(read_livelink(make_csv(frames=100, fps=30, gap_after=40, gap_frames=25),
                             "happy")) == 1


def test_midnight_wrap():
    clip = read_livelink(make_csv(frames=60, fps=30, start_s=24 * 3600 - 1), "sad")[0]
    assert len(clip.frames) == 60
    assert clip.timestamps[-1] == pytest.approx((59 + 0.75 - 0.0) / 30)


def test_path_bytes_bom_and_crlf(tmp_path):
    text = make_csv(frames=10, newline="\r\n")
    path = tmp_path / "MySlate_3_iPhone.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    from_path = read_livelink(path, "surprised")
    from_str_path = read_livelink(str(path), "surprised")
    from_bytes = read_livelink(path.read_bytes(), "surprised")
    from_text = read_livelink(text, "surprised")
    assert from_path[0].name == "MySlate_3_iPhone" == from_str_path[0].name
    for other in (from_str_path, from_bytes, from_text):
        assert other[0].frames.tobytes() == from_path[0].frames.tobytes()
        assert other[0].timestamps.tobytes() == from_path[0].timestamps.tobytes()


def test_header_case_and_column_order_do_not_matter():
    header = ["timecode", "BlendShapeCount", *(n.upper() for n in reversed(FACE)), *EXTRA]
    lines = [",".join(header)]
    for i in range(5):
        values = [f"{face_value(i, c)}" for c in reversed(range(len(FACE)))]
        lines.append(",".join([timecode(i, 60), "61", *values, *(["0"] * len(EXTRA))]))
    frames = read_livelink("\n".join(lines), "happy")[0].frames
    assert frames[2, INDEX["jawOpen"]] == np.float32(face_value(2, FACE.index("JawOpen")))
    assert frames[4, INDEX["noseSneerRight"]] == np.float32(face_value(4, len(FACE) - 1))


ERRORS = {
    "empty": (lambda: "", "Live Link CSV is empty"),
    "blank lines": (lambda: "\n \n", "Live Link CSV is empty"),
    "header only": (lambda: ",".join(HEADER) + "\n", "header but no frames"),
    "missing shape": (lambda: make_csv(3, header=[h for h in HEADER if h != "JawOpen"]),
                      "missing columns: JawOpen$"),
    "missing two": (lambda: make_csv(3, header=[h for h in HEADER
                                                if h not in ("Timecode", "CheekPuff")]),
                    "missing columns: Timecode, CheekPuff$"),
    "text value": (lambda: make_csv(5).replace(",0.1802,", ",abc,", 1),
                   "row 4, column 'JawOpen': 'abc' is not a number"),
    "empty value": (lambda: make_csv(5).replace(",61,", ",61,,", 1).replace(",-0.900", "", 1),
                    "row 2, column 'EyeBlinkLeft': '' is not a number"),
    "nan value": (lambda: make_csv(5).replace(",0.1802,", ",nan,", 1),
                  "row 4 has NaN or infinite values"),
    "bad timecode": (lambda: make_csv(5).replace("17:35:21:07", "17-35-21-07"), "bad timecode"),
    "backwards": (lambda: make_csv(5).replace("17:35:21:07", "17:35:20:07"),
                  "goes backwards at row 4"),
    "short row": (lambda: make_csv(5).rsplit(",", 20)[0] + "\n",
                  "row 6 has 43 columns, expected 63"),
    "not live link": (lambda: "name,age,city\nbob,3,Paris\n",
                      "^not a Live Link Face CSV: no Timecode/BlendShapeCount header$"),
    "weight of 5": (lambda: make_csv(5).replace(",0.1802,", ",5.0,", 1),
                    r"row 4 \(frame 2\), column 'JawOpen': 5 is not a blendshape weight"),
    "negative weight": (lambda: make_csv(5).replace(",0.1802,", ",-0.3,", 1),
                        r"column 'JawOpen': -0.3 is not a blendshape weight"),
}


@pytest.mark.parametrize("spelling", ["BlendshapeCount", "BlendShapeCount", "blendshapecount"])
def test_both_header_spellings_load(spelling):
    header = [spelling if h == "BlendshapeCount" else h for h in HEADER]
    clip = read_livelink(make_csv(4, header=header), "happy")[0]
    assert clip.frames.shape == (4, COUNT)


def test_rounding_past_zero_or_one_is_accepted():
    text = make_csv(4).replace(",0.1802,", ",1.004,", 1).replace(",0.0902,", ",-0.002,", 1)
    frames = read_livelink(text, "happy")[0].frames
    assert frames.max() == np.float32(1.004) and frames.min() == np.float32(-0.002)


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_errors(case):
    make_text, message = ERRORS[case]
    with pytest.raises(ClipFormatError, match=message):
        read_livelink(make_text(), "happy")


def test_invalid_label():
    with pytest.raises(ClipFormatError, match="invalid clip label"):
        read_livelink(make_csv(frames=3), "bad\nlabel")
    with pytest.raises(ClipFormatError, match="one expression"):
        read_livelink(make_csv(frames=3), ("happy", "sad"))


def test_missing_file(tmp_path):
    with pytest.raises(ClipFormatError, match="cannot read Live Link file"):
        read_livelink(tmp_path / "nope.csv", "happy")
