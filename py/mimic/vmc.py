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

import itertools
import math
import struct
from collections.abc import Sequence

import numpy as np

from mimic import osc
from mimic.blendshapes import ARKIT_NAMES, COUNT
from mimic.targets import canonical

__all__ = ["HEAD_POSITION", "MAX_DATAGRAM", "NAME_SETS", "PERFECT_SYNC", "VRM0", "VRM1",
           "VmcEncoder", "blend_names", "head_quaternion"]

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
    """Datagrams for one name set, laid out once; `encode` rewrites only their values.

    The returned bytearrays are the encoder's own and are overwritten by the next `encode`:
    send them before encoding again.
    """

    def __init__(self, targets: Sequence[str], names: str = "vrm0",
                 perfect_sync: bool = False, head: bool = False,
                 max_datagram: int = MAX_DATAGRAM) -> None:
        self.targets = tuple(targets)
        self.clips, self._src = blend_names(self.targets, names, perfect_sync)
        self.head = head
        n = len(self.targets)
        self._source = np.zeros(n + COUNT + 1, np.float32)  # [weights | arkit | 0]
        self._weights = self._source[:n]
        self._arkit = self._source[n:n + COUNT]
        # every float slot of every datagram, in order: T, [head 7], one per clip
        messages: list[tuple[bytes, int]] = [(osc.message(_OK, 1, 3, 0, 0), 0),
                                             (osc.message(_T, 0.0), 1)]
        if head:
            messages.append((osc.message(_BONE, "Head", *[0.0] * 7), 7))
        messages += [(osc.message(_VAL, clip, 0.0), 1) for clip in self.clips]
        messages.append((osc.message(_APPLY), 0))
        self.datagrams, offsets = _pack(messages, max_datagram)
        # OSC keeps every argument 4-byte aligned: a datagram seen as big-endian float32s
        # has each float slot at one index, so a frame's values go in with one put each
        self._views = [np.frombuffer(d, ">f4") for d in self.datagrams]
        self._slots = [np.array([o // 4 for o in offs], np.intp) for offs in offsets]
        bounds = np.cumsum([0] + [len(offs) for offs in offsets])
        self._parts = [(int(a), int(b)) for a, b in itertools.pairwise(bounds)]
        self._tracking_at = _find_tracking(self.datagrams[0])
        self.values = np.zeros(int(bounds[-1]), np.float32)
        first = 1 + (7 if head else 0)
        self._head = self.values[1:first]
        self._blend = self.values[first:]
        if head:
            self._head[:3] = HEAD_POSITION

    def encode(self, weights: np.ndarray, arkit: np.ndarray, head: Sequence[float],
               face: bool, t: float) -> list[bytearray]:
        """This frame's datagrams: `weights` in `targets` order, the 52 ARKit weights, head
        (yaw, pitch, roll) in radians, whether a face is in view, the time in seconds."""
        self._weights[:] = weights
        self._arkit[:] = arkit
        np.take(self._source, self._src, out=self._blend)
        np.minimum(self._blend, 1.0, out=self._blend)  # ufuncs: np.clip costs more in Pyodide
        np.maximum(self._blend, 0.0, out=self._blend)
        self.values[0] = t
        if self.head:
            self._head[3:] = head_quaternion(float(head[0]), float(head[1]), float(head[2]))
        values = self.values
        for view, slots, (a, b) in zip(self._views, self._slots, self._parts, strict=True):
            view[slots] = values[a:b]
        struct.pack_into(">i", self.datagrams[0], self._tracking_at, 1 if face else 0)
        return self.datagrams


def _pack(messages: list[tuple[bytes, int]],
          max_datagram: int) -> tuple[list[bytearray], list[list[int]]]:
    """Messages into bundles of at most `max_datagram` bytes, in order; the byte offset of
    every float slot (a message's floats are its last 4 * count bytes)."""
    datagrams: list[bytearray] = []
    offsets: list[list[int]] = []
    current = bytearray(osc.BUNDLE_HEAD)
    slots: list[int] = []
    for data, floats in messages:
        size = 4 + len(data)
        if len(osc.BUNDLE_HEAD) + size > max_datagram:
            raise ValueError(f"one VMC message of {size} bytes cannot fit {max_datagram}")
        if len(current) + size > max_datagram:
            datagrams.append(current)
            offsets.append(slots)
            current, slots = bytearray(osc.BUNDLE_HEAD), []
        current += struct.pack(">i", len(data)) + data
        end = len(current)
        slots += [end - 4 * (floats - k) for k in range(floats)]
    datagrams.append(current)
    offsets.append(slots)
    return datagrams, offsets


def _find_tracking(datagram: bytearray) -> int:
    """Offset of /VMC/Ext/OK's fourth int (tracking), the first message of the first bundle."""
    return len(osc.BUNDLE_HEAD) + 4 + len(osc.message(_OK, 1, 3, 0, 0)) - 4
