"""mimic.vmc: the datagrams decoded by a real OSC library (python-osc under CPython; inside
Pyodide, where it is not installed, by the small strict decoder below, itself checked
against python-osc here)."""

import math
import struct
import sys

import numpy as np
import pytest

from mimic import osc
from mimic.blendshapes import COUNT, INDEX
from mimic.vmc import (
    HEAD_POSITION,
    MAX_DATAGRAM,
    PERFECT_SYNC,
    VmcEncoder,
    blend_names,
    head_at,
    head_quaternion,
    source_size,
)

try:
    from pythonosc.osc_bundle import OscBundle
    from pythonosc.osc_message import OscMessage
except ImportError:  # Pyodide
    OscBundle = None

TARGETS = ("neutral", "happy", "sad", "Sneer", "aa", "oh", "blink", "blinkLeft", "blinkRight")


def _string(data: bytes, at: int) -> tuple[str, int]:
    end = data.index(b"\0", at)
    return data[at:end].decode(), (end // 4 + 1) * 4


def strict_decode(datagram: bytes) -> list[tuple[str, str, list]]:
    """(address, type tags, values) of every message in a bundle."""
    assert datagram[:16] == osc.BUNDLE_HEAD
    out, at = [], 16
    while at < len(datagram):
        (size,) = struct.unpack_from(">i", datagram, at)
        msg = datagram[at + 4:at + 4 + size]
        at += 4 + size
        address, i = _string(msg, 0)
        tags, i = _string(msg, i)
        values = []
        for tag in tags[1:]:
            if tag == "s":
                value, i = _string(msg, i)
            else:
                (value,) = struct.unpack_from(">f" if tag == "f" else ">i", msg, i)
                i += 4
            values.append(value)
        assert i == len(msg)
        out.append((address, tags, values))
    assert at == len(datagram)
    return out


def decode(datagram: bytes) -> list[tuple[str, str, list]]:
    if OscBundle is None:
        return strict_decode(datagram)
    out = []
    for content in OscBundle(bytes(datagram)):
        assert isinstance(content, OscMessage)
        tags = content.dgram[len(osc.padded(content.address)):].split(b"\0", 1)[0].decode()
        out.append((content.address, tags, list(content.params)))
    return out


def frame(targets=TARGETS):
    weights = np.zeros(len(targets), np.float32)
    arkit = np.zeros(COUNT, np.float32)
    return weights, arkit


def all_messages(datagrams):
    return [m for d in datagrams for m in decode(d)]


def test_python_osc_decodes_the_frames_under_cpython():
    if sys.platform == "emscripten":
        return
    assert OscBundle is not None, "python-osc (test extras) is needed for these tests"
    enc = VmcEncoder(TARGETS, perfect_sync=True, head=True)
    weights, arkit = frame()
    weights[1] = 0.7
    for d in enc.encode(weights, arkit, (0.1, 0.2, 0.3), True, 1.5):
        assert decode(d) == strict_decode(d)


def test_vrm0_names_values_as_float32_and_apply_last():
    enc = VmcEncoder(TARGETS)
    weights, arkit = frame()
    weights[TARGETS.index("happy")] = 0.8
    weights[TARGETS.index("Sneer")] = 0.25
    weights[TARGETS.index("blinkLeft")] = 1.5  # out of range: clipped
    msgs = all_messages(enc.encode(weights, arkit, (0, 0, 0), True, 12.5))
    assert msgs[0] == ("/VMC/Ext/OK", ",iiii", [1, 3, 0, 1])
    assert msgs[1][:2] == ("/VMC/Ext/T", ",f") and msgs[1][2][0] == pytest.approx(12.5)
    assert msgs[-1] == ("/VMC/Ext/Blend/Apply", ",", [])
    vals = {v[0]: v[1] for a, t, v in msgs if a == "/VMC/Ext/Blend/Val"}
    assert all(t == ",sf" for a, t, _ in msgs if a == "/VMC/Ext/Blend/Val")
    assert list(vals)[:14] == ["Neutral", "Joy", "Angry", "Sorrow", "Fun", "Surprised", "A",
                               "I", "U", "E", "O", "Blink", "Blink_L", "Blink_R"]
    assert vals["Joy"] == pytest.approx(0.8)
    assert vals["Sneer"] == pytest.approx(0.25)  # a custom label, as typed
    assert vals["Blink_L"] == 1.0
    assert vals["Angry"] == 0.0 and vals["Fun"] == 0.0  # not trained: always sent, as 0
    assert len(vals) == 15


def test_no_face_says_so_in_ok():
    enc = VmcEncoder(TARGETS)
    msgs = all_messages(enc.encode(*frame(), (0, 0, 0), False, 0.0))
    assert msgs[0] == ("/VMC/Ext/OK", ",iiii", [1, 3, 0, 0])


def test_vrm1_names():
    enc = VmcEncoder(TARGETS, names="vrm1")
    weights, arkit = frame()
    weights[TARGETS.index("happy")] = 0.6
    weights[TARGETS.index("oh")] = 0.4
    vals = {v[0]: v[1] for a, _, v in all_messages(enc.encode(weights, arkit, (0, 0, 0), True, 0))
            if a == "/VMC/Ext/Blend/Val"}
    assert set(vals) == {"neutral", "happy", "angry", "sad", "relaxed", "surprised", "aa", "ih",
                         "ou", "ee", "oh", "blink", "blinkLeft", "blinkRight", "Sneer"}
    assert vals["happy"] == pytest.approx(0.6) and vals["oh"] == pytest.approx(0.4)
    with pytest.raises(ValueError):
        VmcEncoder(TARGETS, names="vrm2")


def test_perfect_sync_sends_the_52_arkit_clips_from_the_camera():
    enc = VmcEncoder(TARGETS, perfect_sync=True)
    weights, arkit = frame()
    arkit[INDEX["jawOpen"]] = 0.55
    arkit[INDEX["eyeBlinkLeft"]] = 0.9
    datagrams = enc.encode(weights, arkit, (0, 0, 0), True, 0)
    vals = {v[0]: v[1] for a, _, v in all_messages(datagrams) if a == "/VMC/Ext/Blend/Val"}
    assert len(PERFECT_SYNC) == 52
    assert set(PERFECT_SYNC) <= set(vals)
    assert vals["JawOpen"] == pytest.approx(0.55)
    assert vals["EyeBlinkLeft"] == pytest.approx(0.9)
    assert vals["TongueOut"] == 0.0 and vals["MouthSmileLeft"] == 0.0
    assert len(datagrams) > 1  # too much for one datagram: split, never over the limit
    assert all(len(d) <= MAX_DATAGRAM for d in datagrams)
    last = [decode(d) for d in datagrams]
    assert all(m[0] != "/VMC/Ext/Blend/Apply" for ms in last[:-1] for m in ms)
    assert last[-1][-1][0] == "/VMC/Ext/Blend/Apply"


def test_every_datagram_keeps_to_the_size_limit_with_many_custom_labels():
    labels = tuple(f"My very own expression {i:02d}" for i in range(40))
    enc = VmcEncoder(TARGETS + labels, perfect_sync=True, head=True, max_datagram=600)
    datagrams = enc.encode(*frame(TARGETS + labels), (0, 0, 0), True, 0)
    assert all(len(d) <= 600 for d in datagrams)
    names = [v[0] for a, _, v in all_messages(datagrams) if a == "/VMC/Ext/Blend/Val"]
    assert names[15:55] == list(labels)  # 14 presets, Sneer, then the rest in order


def test_frames_reuse_one_buffer_and_rewrite_only_values():
    enc = VmcEncoder(TARGETS, head=True)
    weights, arkit = frame()
    buffer = enc.buffer
    first = enc.encode(weights, arkit, (0, 0, 0), True, 1.0)
    before = bytes(buffer)
    weights[TARGETS.index("sad")] = 0.5
    second = enc.encode(weights, arkit, (0.3, 0, 0), False, 2.0)
    assert enc.buffer is buffer and len(buffer) == len(before)
    assert [len(d) for d in second] == [len(d) for d in first]
    assert b"".join(second) == bytes(buffer)  # the datagrams are the buffer's slices, in order
    assert [b - a for a, b in enc.bounds] == [len(d) for d in second]
    # exactly the words of T, the head's rotation, Sorrow's value and the tracking flag moved
    changed = {i // 4 for i in range(len(buffer)) if buffer[i] != before[i]}
    msgs = all_messages(second)
    assert len(changed) <= 1 + 4 + 1 + 1
    assert msgs[0] == ("/VMC/Ext/OK", ",iiii", [1, 3, 0, 0])
    vals = {v[0]: v[1] for a, _, v in msgs if a == "/VMC/Ext/Blend/Val"}
    assert vals["Sorrow"] == pytest.approx(0.5)
    assert [m[2][0] for m in msgs if m[0] == "/VMC/Ext/T"] == [pytest.approx(2.0)]


def test_fill_reads_one_frame_vector_as_the_page_keeps_it():
    enc = VmcEncoder(TARGETS, perfect_sync=True, head=True)
    weights, arkit = frame()
    weights[TARGETS.index("happy")] = 0.75
    weights[TARGETS.index("sad")] = float("nan")  # never reaches the wire: sent as 0
    arkit[INDEX["jawOpen"]] = 0.4
    expected = [bytes(d) for d in enc.encode(weights, arkit, (0.25, 0.125, 0.0), True, 3.0)]
    other = VmcEncoder(TARGETS, perfect_sync=True, head=True)
    n = len(TARGETS)
    values = np.zeros(source_size(n) + 2, np.float32)  # the page's frame: two gaze slots more
    values[:n] = weights
    values[n:n + COUNT] = arkit
    values[head_at(n):] = (0.25, 0.125, 0.0, 0.5, 0.5)
    other.fill(values.tolist(), True, 3.0)
    assert [bytes(other.buffer[a:b]) for a, b in other.bounds] == expected
    vals = {v[0]: v[1] for a, _, v in all_messages(expected) if a == "/VMC/Ext/Blend/Val"}
    assert vals["Joy"] == pytest.approx(0.75) and vals["Sorrow"] == 0.0
    assert vals["JawOpen"] == pytest.approx(0.4)


def test_head_bone_in_unity_space():
    enc = VmcEncoder(TARGETS, head=True)
    yaw = math.radians(90)
    msgs = all_messages(enc.encode(*frame(), (yaw, 0.0, 0.0), True, 0))
    bone = [m for m in msgs if m[0] == "/VMC/Ext/Bone/Pos"]
    assert len(bone) == 1
    _, tags, values = bone[0]
    assert tags == ",sfffffff" and values[0] == "Head"
    assert values[1:4] == pytest.approx(list(HEAD_POSITION))
    # hand-worked: turning to the character's own left by 90 degrees is, in three.js, a turn
    # of +90 degrees about +Y: (0, sin 45, 0, cos 45). Unity negates X, so y and z of the
    # quaternion flip: (0, -0.7071, 0, 0.7071), a -90 degree turn about Unity's Y, which
    # takes the facing direction +Z to -X, the character's left in Unity.
    s = math.sqrt(0.5)
    assert values[4:] == pytest.approx([0.0, -s, 0.0, s], abs=1e-6)
    vmc_names = [m[0] for m in VmcEncoder(TARGETS).encode(*frame(), (0, 0, 0), True, 0)]
    assert vmc_names  # without the option, no bone message at all:
    assert not any(m[0] == "/VMC/Ext/Bone/Pos"
                   for m in all_messages(VmcEncoder(TARGETS).encode(*frame(), (1, 0, 0), True, 0)))


def test_head_quaternion_hand_worked_pitch_and_roll():
    s = math.sqrt(0.5)
    # chin up 90 degrees: three.js turns by -90 about +X: (-s, 0, 0, s); Unity keeps x and w
    assert head_quaternion(0, math.radians(90), 0) == pytest.approx((-s, 0, 0, s), abs=1e-9)
    # tilt to the character's own left 90 degrees: three.js -90 about +Z: (0, 0, -s, s);
    # Unity flips z: (0, 0, s, s)
    assert head_quaternion(0, 0, math.radians(90)) == pytest.approx((0, 0, s, s), abs=1e-9)


def _rotate(q, v):
    x, y, z, w = q
    u = np.array([x, y, z])
    v = np.asarray(v, float)
    return 2 * u.dot(v) * u + (w * w - u.dot(u)) * v + 2 * w * np.cross(u, v)


def test_head_quaternion_matches_the_pages_euler_turn_for_a_mixed_pose():
    yaw, pitch, roll = 0.5, -0.3, 0.2
    cy, sy, cx, sx = math.cos(yaw), math.sin(yaw), math.cos(-pitch), math.sin(-pitch)
    cz, sz = math.cos(-roll), math.sin(-roll)
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    flip = np.diag([-1.0, 1.0, 1.0])
    unity = flip @ (ry @ rx @ rz) @ flip  # three.js "YXZ", then seen in Unity's space
    q = head_quaternion(yaw, pitch, roll)
    assert sum(c * c for c in q) == pytest.approx(1.0)
    for axis in np.eye(3):
        assert list(_rotate(q, axis)) == pytest.approx(list(unity @ axis), abs=1e-9)


def test_blend_names_sources():
    clips, src = blend_names(("Happy", "aa"), "vrm0", perfect_sync=True)
    n = 2
    assert clips[1] == "Joy" and src[1] == 0  # any spelling of a preset
    assert clips[6] == "A" and src[6] == 1
    assert src[clips.index("Angry")] == n + COUNT  # the trailing zero
    assert src[clips.index("JawOpen")] == n + INDEX["jawOpen"]
    assert src[clips.index("TongueOut")] == n + COUNT


def test_osc_message_types():
    assert osc.message("/a", 1.0)[-8:] == b",f\0\0" + struct.pack(">f", 1.0)
    assert osc.message("/a", 2)[-8:] == b",i\0\0" + struct.pack(">i", 2)
    assert len(osc.padded("abcd")) == 8 and len(osc.padded("abc")) == 4
    with pytest.raises(TypeError):
        osc.message("/a", b"raw")
