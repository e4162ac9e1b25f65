"""The versioned binary file a trained model is saved in and shared as.

Layout (all integers little-endian):

    8 bytes   magic b"MIMICMDL"
    u16       format version (1)
    u32       header length N
    N bytes   UTF-8 JSON header: the caller's dict plus "arrays", a manifest of
              {"name", "dtype" ("float32" | "int32"), "shape", "offset"}; offsets count from
              the start of the payload
    0-3 bytes zero padding, so the payload starts 4-byte aligned
    payload   the arrays, little-endian, C order, each starting 4-byte aligned
    u32       CRC-32 (zlib) of every byte before it

Files arrive from users (downloads, drag and drop, old versions of the app), so `unpack` treats
every byte as hostile: whatever is wrong, it raises one `ModelFileError` saying what, and it
checks every declared size against the real length before allocating anything.
"""

from __future__ import annotations

import json
import math
import struct
import zlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from mimic.safejson import json_depth

if TYPE_CHECKING:
    from mimic.model import ExpressionModel

__all__ = ["FORMAT_VERSION", "MAGIC", "MAX_HEADER_DEPTH", "ModelFileError", "dumps", "json_depth",
           "loads", "pack", "unpack"]

MAGIC = b"MIMICMDL"
FORMAT_VERSION = 1
MODEL_KIND = "mimic.ExpressionModel"
_PREFIX = struct.Struct("<8sHI")  # magic, version, header length
_CRC = struct.Struct("<I")
_DTYPES = {"float32": np.dtype("<f4"), "int32": np.dtype("<i4")}
_RESERVED = "arrays"
# Headers are shallow; deeper JSON is refused before parsing (see mimic.safejson).
MAX_HEADER_DEPTH = 64


class ModelFileError(ValueError):
    """A model file that cannot be loaded; the message says why, for the user to read."""


def _align4(n: int) -> int:
    return (n + 3) & ~3


# --- writing --------------------------------------------------------------------------------


def _as_storable(name: Any, array: Any) -> tuple[str, np.ndarray]:
    """(dtype name, little-endian C-order copy) of one array; other dtypes are refused rather
    than silently converted, so a float64 model never loses precision unnoticed."""
    if not isinstance(name, str):
        raise ModelFileError(f"array names must be strings, got {name!r}")
    array = np.asarray(array)
    for dtype_name, dtype in _DTYPES.items():
        if array.dtype.kind == dtype.kind and array.dtype.itemsize == dtype.itemsize:
            return dtype_name, np.asarray(array, dtype=dtype, order="C")
    raise ModelFileError(
        f"array {name!r} has dtype {array.dtype}; only float32 and int32 can be stored")


def pack(header: dict, arrays: dict[str, np.ndarray]) -> bytes:
    """Serialize a JSON-able header and named float32/int32 arrays into one file."""
    if not isinstance(header, dict):
        raise ModelFileError(f"header must be a dict, got {type(header).__name__}")
    if _RESERVED in header:
        raise ModelFileError(f"header key {_RESERVED!r} is reserved for the array manifest")
    if not isinstance(arrays, Mapping):
        raise ModelFileError(f"arrays must be a mapping, got {type(arrays).__name__}")
    stored = {name: _as_storable(name, a) for name, a in arrays.items()}
    manifest, offset = [], 0
    for name, (dtype_name, array) in stored.items():
        manifest.append({"name": name, "dtype": dtype_name,
                         "shape": list(array.shape), "offset": offset})
        offset = _align4(offset + array.nbytes)
    try:
        text = json.dumps({**header, _RESERVED: manifest}, allow_nan=False,
                          ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"header is not JSON-serializable: {exc}") from exc
    head = text.encode("utf-8")
    if json_depth(head) > MAX_HEADER_DEPTH:
        raise ModelFileError(f"header is nested deeper than {MAX_HEADER_DEPTH} levels")
    parts = [_PREFIX.pack(MAGIC, FORMAT_VERSION, len(head)), head]
    parts.append(bytes(_align4(_PREFIX.size + len(head)) - _PREFIX.size - len(head)))
    for _, array in stored.values():
        parts += [array.tobytes(), bytes(_align4(array.nbytes) - array.nbytes)]
    body = b"".join(parts)
    return body + _CRC.pack(zlib.crc32(body))


# --- reading --------------------------------------------------------------------------------


def _read_prefix(data: bytes) -> int:
    """Check magic and version; return the header length."""
    if len(data) == 0:
        raise ModelFileError("model file is empty")
    if len(data) < len(MAGIC):
        if MAGIC.startswith(data):
            raise ModelFileError("model file is truncated")
        raise ModelFileError("not a Mimic model file")
    if data[:len(MAGIC)] != MAGIC:
        raise ModelFileError("not a Mimic model file")
    if len(data) < _PREFIX.size:
        raise ModelFileError("model file is truncated")
    _, version, header_len = _PREFIX.unpack_from(data)
    if version > FORMAT_VERSION:
        raise ModelFileError(f"model file version {version} is newer than this app supports "
                             f"({FORMAT_VERSION})")
    if version < 1:
        raise ModelFileError(f"model file version {version} is not supported")
    if _align4(_PREFIX.size + header_len) + _CRC.size > len(data):
        raise ModelFileError("model file is truncated")
    return header_len


def _parse_header(data: bytes, header_len: int) -> dict:
    raw = data[_PREFIX.size:_PREFIX.size + header_len]
    if json_depth(raw) > MAX_HEADER_DEPTH:
        raise ModelFileError("model file header is nested too deeply")
    try:
        header = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise ModelFileError("model file header is not valid JSON") from exc
    if not isinstance(header, dict):
        raise ModelFileError("model file header is not a JSON object")
    return header


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _entry(item: Any, payload_len: int) -> tuple[str, np.dtype, tuple[int, ...], int]:
    """Validate one manifest entry against the payload before anything is allocated."""
    if not isinstance(item, dict):
        raise ModelFileError("model file manifest entry is not an object")
    name, dtype, shape, offset = (item.get(k) for k in ("name", "dtype", "shape", "offset"))
    if not isinstance(name, str):
        raise ModelFileError("model file manifest entry has no name")
    if not isinstance(dtype, str) or dtype not in _DTYPES:
        raise ModelFileError(f"model file array {name!r} has unsupported dtype {dtype!r}")
    if not isinstance(shape, list) or not all(_is_count(d) for d in shape) or len(shape) > 32:
        raise ModelFileError(f"model file array {name!r} has an invalid shape")
    if not _is_count(offset) or offset % 4:
        raise ModelFileError(f"model file array {name!r} has an invalid offset")
    nbytes = math.prod(shape) * 4
    if offset + nbytes > payload_len:
        raise ModelFileError(f"model file array {name!r} lies outside the payload")
    return name, _DTYPES[dtype], tuple(shape), offset


def _manifest(header: dict, payload_len: int) -> list[tuple[str, np.dtype, tuple, int]]:
    items = header.get(_RESERVED)
    if not isinstance(items, list):
        raise ModelFileError("model file has no array manifest")
    entries = [_entry(item, payload_len) for item in items]
    if len({e[0] for e in entries}) != len(entries):
        raise ModelFileError("model file manifest names an array twice")
    return entries


def _payload_end(header: dict) -> int | None:
    """Payload length the manifest implies, or None if the manifest is unreadable."""
    try:
        entries = _manifest(header, payload_len=1 << 62)
    except ModelFileError:
        return None
    return max((_align4(off + math.prod(shape) * 4) for _, _, shape, off in entries), default=0)


def _diagnose_checksum(data: bytes, header_len: int) -> ModelFileError:
    """A checksum mismatch from a cut-off download deserves a clearer word than 'corrupted'."""
    try:
        end = _payload_end(_parse_header(data, header_len))
    except ModelFileError:
        end = None
    if end is not None:
        expected = _align4(_PREFIX.size + header_len) + end + _CRC.size
        if expected > len(data):
            return ModelFileError("model file is truncated")
        if expected < len(data):
            return ModelFileError("model file has unexpected data after its end")
    return ModelFileError("model file is corrupted (checksum mismatch)")


def unpack(data: bytes) -> tuple[dict, dict[str, np.ndarray]]:
    """Parse a file written by `pack`; returns (header without "arrays", arrays)."""
    if isinstance(data, (bytearray, memoryview)):
        data = bytes(data)
    if not isinstance(data, bytes):
        raise ModelFileError(f"model file must be bytes, got {type(data).__name__}")
    header_len = _read_prefix(data)
    (crc,) = _CRC.unpack_from(data, len(data) - _CRC.size)
    if zlib.crc32(memoryview(data)[:-_CRC.size]) != crc:
        raise _diagnose_checksum(data, header_len)
    header = _parse_header(data, header_len)
    start = _align4(_PREFIX.size + header_len)
    payload_len = len(data) - _CRC.size - start
    entries = _manifest(header, payload_len)
    if _payload_end(header) != payload_len:
        raise ModelFileError("model file payload size does not match its manifest")
    arrays = {}
    for name, dtype, shape, offset in entries:
        count = math.prod(shape)
        flat = np.frombuffer(data, dtype=dtype, count=count, offset=start + offset)
        arrays[name] = flat.astype(dtype.newbyteorder("="), copy=True).reshape(shape)
    del header[_RESERVED]
    return header, arrays


# --- models ---------------------------------------------------------------------------------


def dumps(model: ExpressionModel) -> bytes:
    """Serialize a trained model (anything with `to_state() -> (header, arrays)`)."""
    header, arrays = model.to_state()
    return pack({**header, "kind": MODEL_KIND}, arrays)


def loads(data: bytes) -> ExpressionModel:
    """Load a model saved by `dumps`; every failure is a `ModelFileError`."""
    header, arrays = unpack(data)
    kind = header.get("kind")
    if kind != MODEL_KIND:
        raise ModelFileError(f"model file holds {kind!r}, not an expression model")
    from mimic.model import ExpressionModel  # lazy: prediction-only pages skip its imports

    try:
        return ExpressionModel.from_state(header, arrays)
    except ModelFileError:
        raise
    except (KeyError, ValueError, TypeError, IndexError) as exc:
        raise ModelFileError(f"model file is incomplete: {exc}") from exc
