"""Fuzz `unpack`: whatever the bytes, it returns or raises ModelFileError, never anything else.

CPython only (hypothesis does not run in Pyodide). Mutations are applied to a valid file, and
half the time the checksum is recomputed afterwards so the structural validation behind the
CRC gets exercised too, not just the CRC.
"""

import json
import struct
import zlib

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mimic.modelfile import MAGIC, ModelFileError, pack, unpack

VALID = pack({"kind": "fuzz", "targets": ["happy", "aa"]}, {
    "w": np.arange(12, dtype=np.float32).reshape(3, 4),
    "b": np.arange(3, dtype=np.int32),
    "s": np.array(1.5, np.float32),
})
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def reseal(data: bytes) -> bytes:
    body = data[:-4] if len(data) >= 4 else data
    return body + struct.pack("<I", zlib.crc32(body))


def check(data: bytes) -> None:
    try:
        header, arrays = unpack(data)
    except ModelFileError as exc:
        assert str(exc)
        return
    assert isinstance(header, dict) and "arrays" not in header
    assert all(isinstance(a, np.ndarray) for a in arrays.values())


def maybe_reseal(data: bytes, reseal_it: bool) -> bytes:
    return reseal(data) if reseal_it else data


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes(data):
    check(data)


@FUZZ
@given(st.binary(max_size=200))
def test_random_bytes_behind_a_valid_prefix(tail):
    check(MAGIC + tail)
    check(reseal(MAGIC + struct.pack("<HI", 1, len(tail)) + tail + b"\0\0\0\0"))


@FUZZ
@given(st.integers(0, len(VALID)), st.booleans())
def test_truncation(length, reseal_it):
    check(maybe_reseal(VALID[:length], reseal_it))


@FUZZ
@given(st.lists(st.integers(0, len(VALID) * 8 - 1), min_size=1, max_size=8), st.booleans())
def test_bit_flips(bits, reseal_it):
    data = bytearray(VALID)
    for bit in bits:
        data[bit // 8] ^= 1 << (bit % 8)
    check(maybe_reseal(bytes(data), reseal_it))


@FUZZ
@given(st.integers(0, len(VALID)), st.binary(min_size=1, max_size=16), st.booleans())
def test_inserted_bytes(at, extra, reseal_it):
    check(maybe_reseal(VALID[:at] + extra + VALID[at:], reseal_it))


@FUZZ
@given(st.integers(0, len(VALID) - 1), st.integers(1, 16), st.booleans())
def test_deleted_bytes(at, count, reseal_it):
    check(maybe_reseal(VALID[:at] + VALID[at + count:], reseal_it))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(1 << 70), 1 << 70) | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=4),
    max_leaves=12,
)
ENTRY = st.fixed_dictionaries({}, optional={
    "name": st.text(max_size=3) | JSON_VALUES,
    "dtype": st.sampled_from(["float32", "int32", "float64", "", None]) | JSON_VALUES,
    "shape": st.lists(st.integers(-2, 1 << 40), max_size=4) | JSON_VALUES,
    "offset": st.integers(-8, 1 << 40) | JSON_VALUES,
})


@FUZZ
@given(st.lists(ENTRY, max_size=4) | JSON_VALUES, st.integers(0, 64))
def test_hostile_manifests_with_valid_checksums(manifest, payload_len):
    head = json.dumps({"arrays": manifest}).encode()
    pad = bytes(-(14 + len(head)) % 4)
    body = struct.pack("<8sHI", MAGIC, 1, len(head)) + head + pad + bytes(payload_len)
    check(body + struct.pack("<I", zlib.crc32(body)))
