"""Recorded takes: frames of blendshapes with labels, and their two file formats.

Clips are the user's training data and the only thing that cannot be regenerated, so both
formats round-trip bit for bit and loading is strict: a damaged or hand-edited file is refused
with a message naming the problem instead of quietly training a model on garbage.

JSON is for people and other tools. The binary format is compact and checksummed:

    b"MIMICCLP" | u16 version | u32 header length | header JSON (utf-8)
    | frames float32 LE (n x 52) | timestamps float64 LE (n)
    | [audio features float32 LE (n x w), when the header says "audio": w]
    | u32 CRC32 of all the above

A take recorded with the microphone on keeps the voice's features frame by frame
(`mimic.voice`: level and band shapes, never the sound itself); older files have none. Their
width names the layout that recorded them (`mimic.voice.LAYOUTS`): 25 today (eight bands, with
the two hops before), 6 in takes from before 2026-12 (five bands).

`dump_clips` stores many clips in one container:

    b"MIMICCLS" | u16 version | u32 count | (u32 length | clip bytes) * count | u32 CRC32
"""

from __future__ import annotations

import json
import math
import struct
import uuid
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from mimic import safejson
from mimic.blendshapes import COUNT, NAMES
from mimic.targets import canonical, group_of
from mimic.voice import FEATURES as AUDIO_FEATURES
from mimic.voice import LAYOUTS

__all__ = ["WEIGHT_SLACK", "Clip", "ClipFormatError", "dump_clips", "first_outside_weights",
           "load_clips"]

FORMAT = "mimic-clip"
VERSION = 1
CLIP_MAGIC = b"MIMICCLP"
SET_MAGIC = b"MIMICCLS"
_PREFIX = struct.Struct("<8sHI")  # magic, version, header length (clip) or count (set)
_U32 = struct.Struct("<I")
_META_FIELDS = {"labels": list, "fps": (int, float), "take_id": str, "session_id": str,
                "created_at": str, "name": str}
# Weights are 0..1; a little past either end is rounding, beyond it is not blendshape data.
WEIGHT_SLACK = 0.01
_F32 = np.dtype("<f4")
_F64 = np.dtype("<f8")


class ClipFormatError(ValueError):
    """A clip or clip file that is malformed; the message names what is wrong."""


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _check_labels(labels: Any) -> None:
    if not isinstance(labels, tuple) or not 1 <= len(labels) <= 2:
        raise ClipFormatError(f"clip labels must be one or two labels, got {labels!r}")
    groups = []
    for label in labels:
        try:
            name = canonical(label)
        except ValueError as e:
            raise ClipFormatError(f"invalid clip label: {e}") from None
        if name != label:
            raise ClipFormatError(f"clip label {label!r} is not canonical; use {name!r}")
        groups.append("expression" if group_of(label) == "expression" else "face part")
    if len(set(groups)) != len(groups):
        raise ClipFormatError(
            f"clip labels {labels!r} must be one expression and/or one mouth or eyes target")


def _check_fps(fps: Any) -> None:
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not (
            math.isfinite(fps) and fps > 0):
        raise ClipFormatError(f"clip fps must be a positive number, got {fps!r}")


def first_outside_weights(values: np.ndarray) -> tuple[int, int] | None:
    """(row, column) of the first value outside 0..1 beyond rounding, or None."""
    outside = (values < -WEIGHT_SLACK) | (values > 1 + WEIGHT_SLACK)
    if not outside.any():
        return None
    row, col = np.argwhere(outside)[0]
    return int(row), int(col)


def _check_arrays(frames: Any, timestamps: Any) -> None:
    if not isinstance(frames, np.ndarray) or frames.dtype != np.float32:
        raise ClipFormatError("clip frames must be a float32 array")
    if frames.ndim != 2 or frames.shape[1] != COUNT:
        raise ClipFormatError(f"clip frames must have shape (n, {COUNT}), got {frames.shape}")
    n = len(frames)
    if n == 0:
        raise ClipFormatError("clip has no frames")
    if not isinstance(timestamps, np.ndarray) or timestamps.dtype != np.float64:
        raise ClipFormatError("clip timestamps must be a float64 array")
    if timestamps.shape != (n,):
        raise ClipFormatError(f"clip has {n} frames but timestamps of shape {timestamps.shape}")
    if not np.isfinite(frames).all():
        row = int(np.flatnonzero(~np.isfinite(frames).all(axis=1))[0])
        raise ClipFormatError(f"clip frame {row} contains NaN or infinite values")
    bad = first_outside_weights(frames)
    if bad is not None:
        row, col = bad
        raise ClipFormatError(
            f"clip frame {row}: {NAMES[col]} is {float(frames[row, col]):g}; blendshape "
            f"weights lie between 0 and 1, so these are not blendshape weights")
    if not np.isfinite(timestamps).all():
        raise ClipFormatError("clip timestamps contain NaN or infinite values")
    back = np.flatnonzero(np.diff(timestamps) < 0)
    if len(back):
        raise ClipFormatError(f"clip timestamps are not monotonic: frame {int(back[0]) + 1} "
                              "is earlier than the frame before it")


@dataclass(eq=False)
class Clip:
    """One take: what the face did (`frames`), when (`timestamps`) and what it meant (`labels`)."""

    labels: tuple[str, ...]
    frames: np.ndarray
    timestamps: np.ndarray
    fps: float
    take_id: str
    session_id: str
    created_at: str
    name: str = ""
    audio: np.ndarray | None = None  # (n, 6) voice features per frame, or None

    def __post_init__(self) -> None:
        if isinstance(self.labels, str):
            self.labels = (self.labels,)
        elif isinstance(self.labels, list):
            self.labels = tuple(self.labels)
        try:
            self.frames = np.asarray(self.frames, dtype=np.float32)
            self.timestamps = np.asarray(self.timestamps, dtype=np.float64)
            if self.audio is not None:
                self.audio = np.asarray(self.audio, dtype=np.float32)
        except (TypeError, ValueError):
            raise ClipFormatError("clip frames and timestamps must be arrays of numbers") from None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Clip):
            return NotImplemented
        return (self._meta() == other._meta()
                and _same_array(self.frames, other.frames)
                and _same_array(self.timestamps, other.timestamps)
                and (self.audio is None) == (other.audio is None)
                and (self.audio is None or _same_array(self.audio, other.audio)))

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by content

    @classmethod
    def from_frames(cls, labels: str | Iterable[str], frames: Any, fps: float = 30.0,
                    session_id: str = "s0", take_id: str | None = None, *,
                    timestamps: Any = None, name: str = "", audio: Any = None) -> Clip:
        """A clip from code: labels canonicalised, timestamps at `fps` unless given, new ids."""
        labels = (labels,) if isinstance(labels, str) else tuple(labels)
        try:
            labels = tuple(canonical(label) for label in labels)
        except ValueError as e:
            raise ClipFormatError(f"invalid clip label: {e}") from None
        frames = np.array(frames, dtype=np.float32, copy=True)
        _check_fps(fps)
        if timestamps is None:
            timestamps = np.arange(len(frames), dtype=np.float64) / float(fps)
        clip = cls(labels, frames, np.array(timestamps, dtype=np.float64), float(fps),
                   take_id or uuid.uuid4().hex, session_id, _now_iso(), name,
                   None if audio is None else np.array(audio, dtype=np.float32, copy=True))
        clip.validate()
        return clip

    def validate(self) -> Clip:
        """Raise ClipFormatError unless every field is well formed; returns self to chain."""
        _check_labels(self.labels)
        _check_fps(self.fps)
        _check_arrays(self.frames, self.timestamps)
        _check_audio(self.audio, len(self.frames))
        for key in ("take_id", "session_id", "created_at", "name"):
            if not isinstance(getattr(self, key), str):
                raise ClipFormatError(f"clip {key} must be a string")
        if not self.take_id:
            raise ClipFormatError("clip take_id must not be empty")
        try:
            datetime.fromisoformat(self.created_at)
        except ValueError:
            raise ClipFormatError(
                f"clip created_at {self.created_at!r} is not an ISO 8601 time") from None
        return self

    def _meta(self) -> dict[str, Any]:
        return {"labels": list(self.labels), "fps": self.fps, "take_id": self.take_id,
                "session_id": self.session_id, "created_at": self.created_at, "name": self.name}

    # JSON ------------------------------------------------------------------------------------

    def to_json(self) -> str:
        """JSON text; Python's float repr of each float32 value reads back to the same float32."""
        self.validate()
        data = {"format": FORMAT, "version": VERSION, **self._meta(),
                "timestamps": self.timestamps.tolist(),
                "frames": self.frames.astype(np.float64).tolist()}
        if self.audio is not None:
            data["audio"] = self.audio.astype(np.float64).tolist()
        return json.dumps(data, allow_nan=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> Clip:
        try:
            data = safejson.loads(text)
        except (ValueError, UnicodeDecodeError) as e:
            raise ClipFormatError(f"clip is not valid JSON: {e}") from None
        return cls._from_dict(data)

    @classmethod
    def _from_dict(cls, data: Any) -> Clip:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ClipFormatError(f"not a Mimic clip: expected \"format\": \"{FORMAT}\"")
        _check_version(data.get("version"))
        for key in ("frames", "timestamps"):
            if key not in data:
                raise ClipFormatError(f"clip is missing {key!r}")
        frames = _numbers(data["frames"], np.float32, "frames")
        if frames.ndim == 1 and frames.size == 0:
            frames = frames.reshape(0, COUNT)
        timestamps = _numbers(data["timestamps"], np.float64, "timestamps")
        audio = None
        if data.get("audio") is not None:
            audio = _numbers(data["audio"], np.float32, "audio")
            if audio.ndim == 1 and audio.size == 0:
                audio = audio.reshape(0, AUDIO_FEATURES)
        return _from_meta(data, frames, timestamps, audio)

    # Binary ----------------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        self.validate()
        meta = {**self._meta(), "n": len(self.frames)}
        if self.audio is not None:
            meta["audio"] = self.audio.shape[1]
        header = json.dumps(meta, allow_nan=False, separators=(",", ":")).encode()
        body = b"".join((
            _PREFIX.pack(CLIP_MAGIC, VERSION, len(header)), header,
            self.frames.astype(_F32, copy=False).tobytes(),
            self.timestamps.astype(_F64, copy=False).tobytes(),
            b"" if self.audio is None else self.audio.astype(_F32, copy=False).tobytes(),
        ))
        return body + _U32.pack(zlib.crc32(body))

    @classmethod
    def from_bytes(cls, data: bytes) -> Clip:
        data = bytes(data)
        _check_prefix(data, CLIP_MAGIC, "clip")
        header_len = _PREFIX.unpack_from(data)[2]
        start = _PREFIX.size + header_len
        if len(data) < start + 4:
            raise ClipFormatError("clip is truncated: header cut short")
        meta = _parse_header(data[_PREFIX.size:start])
        n = meta.get("n") if meta else None
        cols = meta.get("audio", 0) if meta else 0
        if cols not in (0, *LAYOUTS) or isinstance(cols, bool):
            raise ClipFormatError(f"clip header has {cols!r} audio features per frame; this "
                                  f"Mimic reads {' or '.join(map(str, LAYOUTS))}")
        expected = start + n * (COUNT + cols) * 4 + n * 8 + 4 if _is_count(n) else None
        _check_crc(data, expected, "clip")
        if meta is None:
            raise ClipFormatError("clip header is not a valid JSON object")
        if expected is None:
            raise ClipFormatError(f"clip header has an invalid frame count {n!r}")
        frames = np.frombuffer(data, _F32, n * COUNT, start).reshape(n, COUNT).astype(np.float32)
        at = start + n * COUNT * 4
        times = np.frombuffer(data, _F64, n, at).astype(np.float64)
        audio = None
        if cols:
            audio = np.frombuffer(data, _F32, n * cols, at + n * 8).reshape(n, cols).astype(
                np.float32)
        return _from_meta(meta, frames, times, audio)


def _check_audio(audio: Any, n: int) -> None:
    if audio is None:
        return
    if not isinstance(audio, np.ndarray) or audio.dtype != np.float32:
        raise ClipFormatError("clip audio features must be a float32 array")
    if audio.ndim != 2 or audio.shape[0] != n or audio.shape[1] not in LAYOUTS:
        raise ClipFormatError(f"clip has {n} frames but audio features of shape {audio.shape}; "
                              f"expected ({n}, {AUDIO_FEATURES})")
    if not np.isfinite(audio).all():
        row = int(np.flatnonzero(~np.isfinite(audio).all(axis=1))[0])
        raise ClipFormatError(f"clip frame {row}: audio features contain NaN or infinite values")


def _same_array(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _check_version(version: Any) -> None:
    if version != VERSION or isinstance(version, bool):
        raise ClipFormatError(f"unsupported clip version {version!r} (this Mimic reads {VERSION})")


def _is_count(n: Any) -> bool:
    return isinstance(n, int) and not isinstance(n, bool) and n >= 0


def _numbers(value: Any, dtype: type, what: str) -> np.ndarray:
    """A JSON list as an array, refusing strings, booleans, nulls and ragged rows."""
    try:
        raw = np.asarray(value)
    except ValueError:
        raise ClipFormatError(f"clip {what} must be a rectangular array of numbers") from None
    if raw.dtype.kind not in "fiu" and raw.size:
        raise ClipFormatError(f"clip {what} must contain only numbers")
    with np.errstate(over="ignore", invalid="ignore"):  # out-of-range values fail validation
        return raw.astype(dtype)


def _from_meta(meta: dict, frames: np.ndarray, timestamps: np.ndarray,
               audio: np.ndarray | None = None) -> Clip:
    for key, kind in _META_FIELDS.items():
        if key not in meta:
            raise ClipFormatError(f"clip is missing {key!r}")
        if not isinstance(meta[key], kind) or isinstance(meta[key], bool):
            raise ClipFormatError(f"clip {key!r} has the wrong type")
    clip = Clip(tuple(meta["labels"]), frames, timestamps, float(meta["fps"]), meta["take_id"],
                meta["session_id"], meta["created_at"], meta["name"], audio)
    return clip.validate()


def _check_prefix(data: bytes, magic: bytes, what: str) -> None:
    if len(data) < len(magic) or data[:len(magic)] != magic:
        raise ClipFormatError(f"not a Mimic {what} file (bad magic {data[:8]!r})")
    if len(data) < _PREFIX.size + 4:
        raise ClipFormatError(f"{what} file is truncated")
    _check_version(_PREFIX.unpack_from(data)[1])


def _check_crc(data: bytes, expected: int | None, what: str) -> None:
    """Tell truncation and trailing junk apart from corruption: each needs a different fix."""
    if expected is not None and len(data) < expected:
        raise ClipFormatError(f"{what} file is truncated: {len(data)} of {expected} bytes")
    if expected is not None and len(data) > expected:
        raise ClipFormatError(f"{what} file has {len(data) - expected} unexpected trailing bytes")
    if zlib.crc32(data[:-4]) != _U32.unpack_from(data, len(data) - 4)[0]:
        raise ClipFormatError(f"{what} file is corrupted: checksum mismatch")


def _parse_header(raw: bytes) -> dict | None:
    try:
        meta = safejson.loads(raw.decode())
    except (ValueError, UnicodeDecodeError):
        return None
    return meta if isinstance(meta, dict) else None


def dump_clips(clips: Iterable[Clip]) -> bytes:
    """All clips in one checksummed file, e.g. a user's whole recording library."""
    parts = [c.to_bytes() for c in clips]
    body = b"".join([_PREFIX.pack(SET_MAGIC, VERSION, len(parts)),
                     *(_U32.pack(len(p)) + p for p in parts)])
    return body + _U32.pack(zlib.crc32(body))


def _split_set(data: bytes) -> tuple[list[bytes], int | None]:
    """Clip payloads and the total size the lengths add up to (None when they overrun)."""
    count = _PREFIX.unpack_from(data)[2]
    parts, pos, end = [], _PREFIX.size, len(data) - 4
    for _ in range(count):
        if pos + 4 > end:
            return parts, None
        size = _U32.unpack_from(data, pos)[0]
        if pos + 4 + size > end:
            return parts, None
        parts.append(data[pos + 4:pos + 4 + size])
        pos += 4 + size
    return parts, pos + 4


def load_clips(data: bytes) -> list[Clip]:
    """Clips from `dump_clips` output; a single binary or JSON clip is accepted too."""
    data = bytes(data)
    if data.startswith(CLIP_MAGIC):
        return [Clip.from_bytes(data)]
    if data.lstrip()[:1] == b"{":
        return [Clip.from_json(data)]
    _check_prefix(data, SET_MAGIC, "clip set")
    parts, total = _split_set(data)
    if total is None:
        raise ClipFormatError("clip set file is truncated")
    _check_crc(data, total, "clip set")
    clips = []
    for i, part in enumerate(parts):
        try:
            clips.append(Clip.from_bytes(part))
        except ClipFormatError as e:
            raise ClipFormatError(f"clip {i}: {e}") from None
    return clips
