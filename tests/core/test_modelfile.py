"""The binary model file: exact round trips, and one clear error for every kind of bad file."""

import json
import struct
import sys
import zlib

import numpy as np
import pytest

from mimic.modelfile import FORMAT_VERSION, MAGIC, ModelFileError, dumps, loads, pack, unpack

PREFIX = struct.Struct("<8sHI")


def sample_arrays():
    rng = np.random.default_rng(0)
    return {
        "weights": rng.standard_normal((52, 7)).astype(np.float32),
        "bias": rng.standard_normal(7).astype(np.float32),
        "labels": np.arange(-3, 4, dtype=np.int32),
        "odd": np.arange(3, dtype=np.float32),  # 12 bytes: the next array needs no padding
        "scalar": np.array(2.5, np.float32),
        "empty": np.zeros((0, 4), np.float32),
        "cube": np.arange(24, dtype=np.int32).reshape(2, 3, 4),
    }


def sample_file():
    return pack({"kind": "test", "targets": ["happy", "aa"], "note": "é ✓"}, sample_arrays())


def reseal(body: bytes) -> bytes:
    """Recompute the checksum so structural checks, not the CRC, must catch a problem."""
    return body + struct.pack("<I", zlib.crc32(body))


def with_header(header: dict, payload: bytes = b"", version: int = FORMAT_VERSION) -> bytes:
    head = json.dumps(header).encode()
    pad = bytes(-(PREFIX.size + len(head)) % 4)
    return reseal(PREFIX.pack(MAGIC, version, len(head)) + head + pad + payload)


def test_round_trip_keeps_header_names_dtypes_shapes_and_values():
    arrays = sample_arrays()
    header, back = unpack(sample_file())
    assert header == {"kind": "test", "targets": ["happy", "aa"], "note": "é ✓"}
    assert list(back) == list(arrays)
    for name, array in arrays.items():
        assert back[name].dtype == array.dtype, name
        assert back[name].shape == array.shape, name
        assert np.array_equal(back[name], array), name
        assert back[name].flags.writeable


def test_layout_starts_with_magic_version_and_is_4_byte_aligned():
    data = sample_file()
    magic, version, header_len = PREFIX.unpack_from(data)
    assert (magic, version) == (b"MIMICMDL", 1)
    header = json.loads(data[PREFIX.size:PREFIX.size + header_len])
    assert all(entry["offset"] % 4 == 0 for entry in header["arrays"])
    assert len(data) % 4 == 0
    assert struct.unpack("<I", data[-4:])[0] == zlib.crc32(data[:-4])


def test_non_native_byte_order_and_views_are_stored_correctly():
    big = np.arange(6, dtype=">f4").reshape(2, 3)
    _, back = unpack(pack({}, {"big": big, "view": big[:, ::2]}))
    assert np.array_equal(back["big"], big) and np.array_equal(back["view"], big[:, ::2])


def test_empty_file_without_arrays_round_trips():
    assert unpack(pack({}, {})) == ({}, {})


@pytest.mark.parametrize("header, arrays, word", [
    ({"arrays": 1}, {}, "reserved"),
    ({}, {"w": np.zeros(2, np.float64)}, "float64"),
    ({}, {"w": np.zeros(2, bool)}, "bool"),
    ({}, {3: np.zeros(2, np.float32)}, "names"),
    ({"x": float("nan")}, {}, "JSON"),
    ({"x": object()}, {}, "JSON"),
])
def test_pack_refuses_what_it_cannot_store(header, arrays, word):
    with pytest.raises(ModelFileError, match=word):
        pack(header, arrays)


def test_pack_refuses_a_header_too_deep_to_read_back():
    header: dict = {"x": []}
    for _ in range(80):
        header = {"x": [header]}
    with pytest.raises(ModelFileError, match="nested deeper"):
        pack(header, {})


# --- every way a file can be bad -----------------------------------------------------------


@pytest.mark.parametrize("data, message", [
    (b"", "model file is empty"),
    (b"\x89PNG\r\n\x1a\n" + bytes(100), "not a Mimic model file"),
    (b'{"clips": []}', "not a Mimic model file"),
    (b"MIMICCLP" + bytes(40), "not a Mimic model file"),
    (b"MIMI", "model file is truncated"),
    (b"MIMICMDL\x01", "model file is truncated"),
])
def test_foreign_and_tiny_inputs(data, message):
    with pytest.raises(ModelFileError, match=message):
        unpack(data)


def test_truncation_at_every_length_is_reported_as_truncated():
    data = sample_file()
    for n in range(1, len(data)):
        with pytest.raises(ModelFileError, match="truncated"):
            unpack(data[:n])


def test_flipped_payload_bit_is_a_checksum_mismatch():
    data = bytearray(sample_file())
    data[-10] ^= 0x10
    with pytest.raises(ModelFileError, match=r"corrupted \(checksum mismatch\)"):
        unpack(bytes(data))


def test_flipped_checksum_bit_is_a_checksum_mismatch():
    data = bytearray(sample_file())
    data[-1] ^= 0x01
    with pytest.raises(ModelFileError, match="checksum mismatch"):
        unpack(bytes(data))


def test_trailing_data_is_reported():
    with pytest.raises(ModelFileError, match="after its end"):
        unpack(sample_file() + b"\0\0\0\0")


def test_newer_version_names_both_versions():
    data = bytearray(sample_file())
    data[8:10] = struct.pack("<H", 7)
    with pytest.raises(ModelFileError,
                       match=r"model file version 7 is newer than this app supports \(1\)"):
        unpack(bytes(data))


def test_version_zero_is_refused():
    with pytest.raises(ModelFileError, match="version 0"):
        unpack(with_header({"arrays": []}, version=0))


def test_huge_declared_header_length_is_truncation_not_memory_error():
    body = PREFIX.pack(MAGIC, 1, 0xFFFFFFFF) + b"{}"
    with pytest.raises(ModelFileError, match="truncated"):
        unpack(reseal(body))


@pytest.mark.parametrize("raw_header, message", [
    (b"\xff\xfe{}", "not valid JSON"),
    (b"{nope", "not valid JSON"),
    (b"[" * 50000 + b"]" * 50000, "nested too deeply"),  # would overflow Pyodide's stack
    (b'{"a": ' + b"[" * 70 + b"]" * 70 + b"}", "nested too deeply"),
    (b"[1, 2]", "not a JSON object"),
    (b'{"a": 1}', "no array manifest"),
    (b'{"arrays": {}}', "no array manifest"),
])
def test_bad_headers_with_a_valid_checksum(raw_header, message):
    pad = bytes(-(PREFIX.size + len(raw_header)) % 4)
    data = reseal(PREFIX.pack(MAGIC, 1, len(raw_header)) + raw_header + pad)
    with pytest.raises(ModelFileError, match=message):
        unpack(data)


def entry(**changes):
    item = {"name": "w", "dtype": "float32", "shape": [2], "offset": 0}
    item.update(changes)
    return item


@pytest.mark.parametrize("items, message", [
    ([entry(dtype="float64")], "unsupported dtype"),
    ([entry(dtype=None)], "unsupported dtype"),
    ([entry(shape=[1 << 40, 1 << 40])], "outside the payload"),
    ([entry(shape=[3])], "outside the payload"),
    ([entry(shape=[-1])], "invalid shape"),
    ([entry(shape=[2.0])], "invalid shape"),
    ([entry(shape="2")], "invalid shape"),
    ([entry(offset=4, shape=[2])], "outside the payload"),
    ([entry(offset=2)], "invalid offset"),
    ([entry(offset=-4)], "invalid offset"),
    ([entry(offset=True)], "invalid offset"),
    ([entry(name=None)], "no name"),
    (["w"], "not an object"),
    ([entry(), entry()], "twice"),
    ([entry(shape=[1])], "payload size does not match"),
])
def test_inconsistent_manifests_with_a_valid_checksum(items, message):
    data = with_header({"arrays": items}, payload=np.zeros(2, np.float32).tobytes())
    with pytest.raises(ModelFileError, match=message):
        unpack(data)


def test_brackets_inside_strings_do_not_count_as_nesting():
    header = {"label": "[[[[" * 100, "quote": 'a \\"[[[ \\'}
    assert unpack(pack(header, {}))[0] == header


def test_error_is_a_value_error():
    assert issubclass(ModelFileError, ValueError)


# --- models ---------------------------------------------------------------------------------


class FakeModel:
    """Just enough of `ExpressionModel` for dumps: the state protocol."""

    def __init__(self, header, arrays):
        self.header, self.arrays = header, arrays

    def to_state(self):
        return dict(self.header), dict(self.arrays)

    @classmethod
    def from_state(cls, header, arrays):
        if "targets" not in header:
            raise KeyError("targets")
        return cls(header, arrays)


def test_dumps_marks_the_kind_and_loads_rebuilds(tmp_path):
    model = FakeModel({"targets": ["happy"]}, {"w": np.ones((2, 2), np.float32)})
    data = dumps(model)
    path = tmp_path / "me.mimic"
    path.write_bytes(data)
    header, arrays = unpack(path.read_bytes())
    assert header == {"targets": ["happy"], "kind": "mimic.ExpressionModel"}
    assert np.array_equal(arrays["w"], np.ones((2, 2), np.float32))
    with _fake_model_module():
        back = loads(data)
    assert isinstance(back, FakeModel) and back.header["targets"] == ["happy"]


def test_loads_refuses_other_kinds_and_wraps_incomplete_state():
    with pytest.raises(ModelFileError, match="not an expression model"):
        loads(pack({"kind": "something else"}, {}))
    incomplete = pack({"kind": "mimic.ExpressionModel"}, {})
    with _fake_model_module(), pytest.raises(ModelFileError, match=r"incomplete.*targets"):
        loads(incomplete)


class _fake_model_module:
    """Stand in for `mimic.model` (written elsewhere) so `loads` is tested on its own."""

    def __enter__(self):
        import types

        self.saved = sys.modules.get("mimic.model")
        module = types.ModuleType("mimic.model")
        module.ExpressionModel = FakeModel
        sys.modules["mimic.model"] = module
        return module

    def __exit__(self, *exc):
        if self.saved is None:
            sys.modules.pop("mimic.model", None)
        else:
            sys.modules["mimic.model"] = self.saved
        return False
