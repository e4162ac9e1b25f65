"""One frame of Mimic's output as VMC protocol datagrams (OSC over UDP).

VSeeFace, VNyan, Warudo, VMagicMirror and the VMC plugins for Unity, Unreal and Blender all
receive the VMC protocol: per frame a `/VMC/Ext/Blend/Val (s name, f value)` for every
blendshape clip, then `/VMC/Ext/Blend/Apply`; optionally the head bone. What a receiver
gets is a fixed, documented name set, whatever avatar the page shows:

- VRM 0.x names (the default): Neutral, Joy, Angry, Sorrow, Fun, Surprised, A, I, U, E, O,
  Blink, Blink_L, Blink_R; or VRM 1.0 names (neutral, happy, angry, sad, relaxed, surprised,
  aa, ih, ou, ee, oh, blink, blinkLeft, blinkRight), which recent Warudo expects for VRM 1.0
  models. A preset the model was not trained on goes out as 0.
- every custom label of the model, as the user typed it;
- optionally the 52 ARKit "perfect sync" clips in PascalCase (EyeBlinkLeft, JawOpen, ...;
  TongueOut, which the camera cannot see, is always 0);
- optionally `/VMC/Ext/Bone/Pos "Head"`: the avatar's smoothed head turn as a quaternion
  in Unity's left-handed space.

Every frame also carries `/VMC/Ext/OK 1 3 0 tracking` (loaded, calibrated, normal mode,
face in view) and `/VMC/Ext/T` (seconds). Every value is a float32 (EVMC4U, the receiver
VSeeFace's is built on, silently drops a double or an int), every datagram is a bundle of at
most 1500 bytes, and Apply is the last message of the last one. The datagrams are laid out
once per name set and only their value bytes are rewritten per frame.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from operator import itemgetter

import numpy as np

from mimic import osc
from mimic.blendshapes import ARKIT_NAMES, COUNT
from mimic.targets import canonical

__all__ = ["HEAD_POSITION", "MAX_DATAGRAM", "NAME_SETS", "PERFECT_SYNC", "VRM0", "VRM1",
           "VmcEncoder", "blend_names", "head_at", "head_quaternion", "source_size"]

MAX_DATAGRAM = 1500  # a bundle that fits one Ethernet frame: what VMC senders keep to
NAME_SETS = ("vrm0", "vrm1")
VRM0: dict[str, str] = {
    "neutral": "Neutral", "happy": "Joy", "angry": "Angry", "sad": "Sorrow", "relaxed": "Fun",
    "surprised": "Surprised", "aa": "A", "ih": "I", "ou": "U", "ee": "E", "oh": "O",
    "blink": "Blink", "blinkLeft": "Blink_L", "blinkRight": "Blink_R",
}
VRM1: dict[str, str] = {name: name for name in VRM0}
PERFECT_SYNC: tuple[str, ...] = (*(n for n in ARKIT_NAMES if n), "TongueOut")
# The head bone's local position, which the protocol requires beside its rotation: a typical
# VRM neck-to-head offset (metres, Unity space). Receivers that apply bone positions use it.
HEAD_POSITION = (0.0, 0.08, 0.0)

_OK = "/VMC/Ext/OK"
_T = "/VMC/Ext/T"
_BONE = "/VMC/Ext/Bone/Pos"
_VAL = "/VMC/Ext/Blend/Val"
_APPLY = "/VMC/Ext/Blend/Apply"


def blend_names(targets: Sequence[str], names: str = "vrm0",
                perfect_sync: bool = False) -> tuple[tuple[str, ...], np.ndarray]:
    """The clip names sent for a model with `targets`, and where each value comes from.

    Sources index [target weights | 52 ARKit weights | 0]: a preset the model lacks and
    TongueOut read the trailing 0.
    """
    if names not in NAME_SETS:
        raise ValueError(f"unknown VMC name set {names!r}: use one of {NAME_SETS}")
    table = VRM0 if names == "vrm0" else VRM1
    n = len(targets)
    zero = n + COUNT
    where: dict[str, int] = {}
    customs: list[tuple[str, int]] = []
    for i, target in enumerate(targets):
        try:
            key = canonical(target)
        except ValueError:
            continue
        if key in table:
            where.setdefault(key, i)
        else:
            customs.append((target.strip(), i))
    out = [(clip, where.get(key, zero)) for key, clip in table.items()]
    taken = {clip.lower() for clip, _ in out}
    out += [(label, i) for label, i in customs if label.lower() not in taken]
    if perfect_sync:
        out += [(name, n + ARKIT_NAMES.index(name) if name in ARKIT_NAMES else zero)
                for name in PERFECT_SYNC]
    return tuple(c for c, _ in out), np.array([s for _, s in out], np.intp)


def head_quaternion(yaw: float, pitch: float, roll: float) -> tuple[float, float, float, float]:
    """The avatar's head turn as a quaternion (x, y, z, w) in Unity's left-handed space.

    The page turns the head by the Euler angles (-pitch, yaw, -roll) in three.js's order YXZ,
    in glTF's right-handed space (Y up, the character facing +Z); Unity's space is glTF's with
    X negated, which turns a quaternion (x, y, z, w) into (x, -y, -z, w).
    """
    sy, cy = math.sin(0.5 * yaw), math.cos(0.5 * yaw)
    sx, cx = math.sin(-0.5 * pitch), math.cos(-0.5 * pitch)
    sz, cz = math.sin(-0.5 * roll), math.cos(-0.5 * roll)
    x, y, z, w = cy * sx, sy * cx, -sy * sx, cy * cx  # q_yaw * q_pitch
    qx, qy = x * cz + y * sz, y * cz - x * sz  # ... * q_roll
    qz, qw = w * sz + z * cz, w * cz - z * sz
    return qx, -qy, -qz, qw


class VmcEncoder:
    """A frame's datagrams, laid out once back to back in one buffer; `fill` rewrites the
    whole buffer in place with one precompiled `struct.Struct.pack_into`.

    The Struct covers the buffer: every byte that never changes (bundle heads, sizes,
    addresses, type tags, clip names, the head's position) is a constant chunk of it and only
    the values are fields, so a frame costs one pick of the values, one clipping pass on
    Python floats and one C call, no numpy call at all: in the page's camera loop, where
    MediaPipe has just run and every distinct numpy path starts cold, each numpy call cost
    20-35 us. `buffer` holds every datagram in order and `bounds` the (start, end) of each:
    the page hands the buffer to its socket once and sends the slices each frame. `encode`
    gives the same frame as separate bytearrays (copies), for callers that want them.
    """

    def __init__(self, targets: Sequence[str], names: str = "vrm0",
                 perfect_sync: bool = False, head: bool = False,
                 max_datagram: int = MAX_DATAGRAM) -> None:
        self.targets = tuple(targets)
        self.clips, src = blend_names(self.targets, names, perfect_sync)
        self.head = head
        self._head_at = head_at(len(self.targets))
        messages: list[tuple[bytes, int]] = [(osc.message(_OK, 1, 3, 0, 0), 0),
                                             (osc.message(_T, 0.0), 1)]
        if head:
            messages.append((osc.message(_BONE, "Head", *HEAD_POSITION, 0.0, 0.0, 0.0, 1.0), 7))
        messages += [(osc.message(_VAL, clip, 0.0), 1) for clip in self.clips]
        messages.append((osc.message(_APPLY), 0))
        self.buffer, self.bounds, offsets = _pack(messages, max_datagram)
        # the fields, in buffer order: tracking (OK's last int), T, [rotation x y z w], clips
        fields = [(_find_tracking(), "i"), (offsets[0], "f")]
        if head:
            fields += [(o, "f") for o in offsets[4:8]]  # the bone's position stays constant
        fields += [(o, "f") for o in offsets[(8 if head else 1):]]
        self._struct, self._args = _template(self.buffer, fields)
        first = 5 + (8 if head else 0)  # args alternate chunk, value: tracking 1, T 3, ...
        self._blend_at = slice(first, first + 2 * len(self.clips), 2)
        self._pick = itemgetter(*src.tolist()) if len(src) > 1 else lambda v: (v[src[0]],)

    def fill(self, values: Sequence[float], face: bool, t: float) -> None:
        """Write this frame into `buffer`. `values` is [weights in `targets` order | the 52
        ARKit weights | 0 | yaw, pitch, roll in radians, ...] (`source_size`), best a list of
        Python floats; `face`, whether a face is in view; `t`, the time in seconds. A value
        outside 0..1 (or NaN, which fails both tests) goes out clipped."""
        args = self._args
        args[self._blend_at] = [0.0 if not x > 0.0 else 1.0 if not x < 1.0 else x
                                for x in self._pick(values)]
        args[1] = 1 if face else 0
        args[3] = t
        if self.head:
            h = self._head_at
            args[5:13:2] = head_quaternion(values[h], values[h + 1], values[h + 2])
        self._struct.pack_into(self.buffer, 0, *args)

    def encode(self, weights: Sequence[float], arkit: Sequence[float], head: Sequence[float],
               face: bool, t: float) -> list[bytearray]:
        """This frame's datagrams, each a copy: `weights` in `targets` order, the 52 ARKit
        weights, head (yaw, pitch, roll) in radians, whether a face is in view, the time in
        seconds."""
        values = [*_floats(weights), *_floats(arkit), 0.0, *_floats(head)[:3]]
        self.fill(values, face, t)
        return [self.buffer[a:b] for a, b in self.bounds]


def head_at(targets: int) -> int:
    """Where yaw, pitch and roll start in the values `VmcEncoder.fill` reads."""
    return targets + COUNT + 1


def source_size(targets: int) -> int:
    """Length of the values `VmcEncoder.fill` reads for a model with `targets`."""
    return head_at(targets) + 3


def _floats(x: Sequence[float]) -> list[float]:
    return np.asarray(x, np.float32).tolist()


def _template(buffer: bytearray, fields: list[tuple[int, str]]) -> tuple[struct.Struct, list]:
    """A Struct that writes all of `buffer`: the bytes between fields as constant chunks, each
    field (byte offset, "i" or "f") a value; and its arguments as the buffer holds them now,
    chunk and value alternating (values at the odd indices)."""
    fmt, args, at = [">"], [], 0
    for offset, kind in sorted(fields):
        chunk = bytes(buffer[at:offset])
        (value,) = struct.unpack_from(">" + kind, buffer, offset)
        fmt.append(f"{len(chunk)}s{kind}")
        args += [chunk, value]
        at = offset + 4
    tail = bytes(buffer[at:])
    fmt.append(f"{len(tail)}s")
    args.append(tail)
    packer = struct.Struct("".join(fmt))
    if packer.size != len(buffer):
        raise AssertionError("VMC template does not cover its buffer")
    return packer, args


def _pack(messages: list[tuple[bytes, int]],
          max_datagram: int) -> tuple[bytearray, list[tuple[int, int]], list[int]]:
    """Messages into bundles of at most `max_datagram` bytes, in order, back to back in one
    buffer: the buffer, each bundle's (start, end), and the byte offset of every float slot
    (a message's floats are its last 4 * count bytes)."""
    buffer = bytearray(osc.BUNDLE_HEAD)
    bounds: list[tuple[int, int]] = []
    offsets: list[int] = []
    start = 0
    for data, floats in messages:
        size = 4 + len(data)
        if len(osc.BUNDLE_HEAD) + size > max_datagram:
            raise ValueError(f"one VMC message of {size} bytes cannot fit {max_datagram}")
        if len(buffer) - start + size > max_datagram:
            bounds.append((start, len(buffer)))
            start = len(buffer)
            buffer += osc.BUNDLE_HEAD
        buffer += struct.pack(">i", len(data)) + data
        end = len(buffer)
        offsets += [end - 4 * (floats - k) for k in range(floats)]
    bounds.append((start, len(buffer)))
    return buffer, bounds, offsets


def _find_tracking() -> int:
    """Offset of /VMC/Ext/OK's fourth int (tracking), the first message of the first bundle."""
    return len(osc.BUNDLE_HEAD) + 4 + len(osc.message(_OK, 1, 3, 0, 0)) - 4
