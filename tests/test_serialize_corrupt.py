"""Damaged checkpoints: truncation at every offset, flipped header bytes, malformed JSON, bad
dtypes/shapes/offsets, broken structure metadata. Each raises CheckpointError (a ValueError)
naming the file; none crashes or loads garbage."""
import io
import json
import re
import struct

import numpy as np
import pytest

import ranvier
from ranvier.serialization import CheckpointError
from helpers import to_np


def valid_bytes():
    buf = io.BytesIO()
    ranvier.save({"w": ranvier.arange(6, dtype=ranvier.float32).reshape(2, 3),
                  "step": ranvier.tensor(3), "mask": ranvier.tensor([True, False]),
                  "lr": 0.5, "keys": {1: "a"}}, buf)
    return buf.getvalue()


def build(header, data=b""):
    """A file with the given header (dict -> JSON, or raw str/bytes) and data section."""
    if isinstance(header, dict):
        header = json.dumps(header)
    if isinstance(header, str):
        header = header.encode()
    return struct.pack("<Q", len(header)) + header + data


def load_bytes(tmp_path, blob, name="bad.safetensors"):
    p = tmp_path / name
    p.write_bytes(blob)
    return ranvier.load(p)


def expect_error(tmp_path, blob, match):
    with pytest.raises(CheckpointError) as info:
        load_bytes(tmp_path, blob)
    msg = str(info.value)
    assert str(tmp_path / "bad.safetensors") in msg
    # (the folder's name echoes the test id, so match only the rest of the message)
    assert re.search(match, msg.replace(str(tmp_path), "")), msg
    with pytest.raises(CheckpointError, match=match):  # the same checks on in-memory bytes
        ranvier.load(io.BytesIO(blob))
    return info.value


def test_valid_file_loads(tmp_path):
    out = load_bytes(tmp_path, valid_bytes())
    np.testing.assert_array_equal(to_np(out["w"]), np.arange(6, dtype=np.float32).reshape(2, 3))
    assert out["lr"] == 0.5 and out["keys"] == {1: "a"}


def test_checkpoint_error_is_a_value_error():
    assert issubclass(CheckpointError, ValueError)


def test_truncated_at_every_offset(tmp_path):
    blob = valid_bytes()
    for cut in range(len(blob)):
        with pytest.raises(CheckpointError, match="bad.safetensors") as info:
            load_bytes(tmp_path, blob[:cut])
        msg = str(info.value).replace(str(tmp_path), "")
        assert ("truncated" in msg or "too short" in msg or "past the end" in msg
                or "only" in msg), (cut, msg)


def test_trailing_bytes(tmp_path):
    expect_error(tmp_path, valid_bytes() + b"\0", "trailing bytes")


def test_flipped_header_bytes_never_crash(tmp_path):
    blob = valid_bytes()
    (n,) = struct.unpack("<Q", blob[:8])
    outcomes = {"error": 0, "loaded": 0}
    rng = np.random.default_rng(0)
    for pos in range(0, 8 + n):
        for new in (blob[pos] ^ 0x01, blob[pos] ^ 0x80, int(rng.integers(0, 256))):
            if new == blob[pos]:
                continue
            bad = bytearray(blob)
            bad[pos] = new
            try:
                load_bytes(tmp_path, bytes(bad))
                outcomes["loaded"] += 1  # e.g. a changed metadata digit: not detectable
            except CheckpointError as e:
                assert "bad.safetensors" in str(e)
                outcomes["error"] += 1
    assert outcomes["error"] > outcomes["loaded"]


def test_header_length_problems(tmp_path):
    expect_error(tmp_path, b"", "0 bytes long, too short")
    expect_error(tmp_path, b"\x01\x02\x03", "too short")
    expect_error(tmp_path, struct.pack("<Q", 2**64 - 1) + b"{}",
                 "header length is 18446744073709551615")
    expect_error(tmp_path, struct.pack("<Q", 2**63) + b"{}", "header length")
    expect_error(tmp_path, struct.pack("<Q", 100) + b"{}", "only 2 bytes follow")
    expect_error(tmp_path, struct.pack("<Q", 0), "too short to hold")


def test_huge_header_length_refused_without_reading_it(tmp_path):
    p = tmp_path / "bad.safetensors"
    with open(p, "wb") as f:  # a sparse file: 8 + 200 MB
        f.write(struct.pack("<Q", 200_000_000) + b"{")
        f.truncate(8 + 200_000_000)
    with pytest.raises(CheckpointError, match="exceeds the limit"):
        ranvier.load(p)


@pytest.mark.parametrize("text,match", [
    ("{ ", "expected a string key"),
    ('{"a', "unterminated string"),
    ("{} x", "unexpected data after"),
    ('{"a":1,}', "expected a string key"),
    ('{"a" 1}', "expected ':'"),
    ("[1, 2]", "does not start with"),
    ('{"a": NaN}', "unexpected character"),
    ('{"a": 01}', "leading zeros"),
    ('{"a": "\\x"}', "unknown escape"),
    ('{"a": "\\ud800"}', "lone high surrogate"),
    ('{"a": "tab\there"}', "control character"),
    ('{"a": 99999999999999999999}', "int64 range"),
    ('{"a": {}, "a": {}}', 'duplicate key "a"'),
    ('{"x": ' + "[" * 100 + "]" * 100 + "}", "nesting deeper"),
    (b'{"\xff": {}}', "invalid UTF-8"),
    (b'{"\xc0\x80": {}}', "invalid UTF-8"),
])
def test_bad_json(tmp_path, text, match):
    expect_error(tmp_path, build(text), match)


def entry(dtype="F32", shape=(1,), offsets=(0, 4)):
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


@pytest.mark.parametrize("header,data,match", [
    ({"t": entry(dtype="F99")}, b"\0" * 4, "unknown dtype 'F99'"),
    ({"t": entry(dtype="I16", shape=(2,))}, b"\0" * 4, "dtype I16, which ranvier does not support"),
    ({"t": entry(dtype=3)}, b"\0" * 4, "dtype must be a string"),
    ({"t": entry(shape=(-1,))}, b"\0" * 4, "non-negative"),
    ({"t": entry(shape=(1.0,))}, b"\0" * 4, "non-negative integers"),
    ({"t": entry(shape=(2**40, 2**40))}, b"\0" * 4, "needs|too large"),
    ({"t": entry(shape=(0, 2**62, 2**62), offsets=(0, 0))}, b"", "too large for int64"),
    ({"t": entry(shape=[1] * 17)}, b"\0" * 4, "17 dimensions"),
    ({"t": entry(shape=(2,))}, b"\0" * 4, "needs 8 bytes but data_offsets give 4"),
    ({"t": entry(offsets=(4, 0))}, b"\0" * 4, "before begin"),
    ({"t": entry(offsets=(0, -4))}, b"\0" * 4, "non-negative integers"),
    ({"t": entry(offsets=(0,))}, b"\0" * 4, r"\[begin, end\]"),
    ({"t": entry(offsets=(0, 4)), "u": entry(offsets=(2, 6))}, b"\0" * 8, "overlap"),
    ({"t": entry(offsets=(0, 4)), "u": entry(offsets=(0, 4))}, b"\0" * 4, "overlap"),
    ({"t": entry(offsets=(4, 8))}, b"\0" * 8, "belong to no tensor"),
    ({"t": entry(offsets=(0, 4))}, b"\0" * 2, "go past the end"),
    ({"t": entry(offsets=(2**62, 2**62 + 4))}, b"\0" * 4, "belong to no tensor"),
    ({"t": entry()}, b"\0" * 8, "trailing bytes"),
    ({"t": {"dtype": "F32", "shape": [1]}}, b"\0" * 4, "missing data_offsets"),
    ({"t": dict(entry(), extra=1)}, b"\0" * 4, "unexpected field 'extra'"),
    ({"t": [1]}, b"", "expected an object"),
    ({"__metadata__": {"a": 1}}, b"", "not a string"),
    ({"__metadata__": []}, b"", "must be an object"),
    ({"t": entry(dtype="BOOL", offsets=(0, 1))}, b"\x02", "holds the byte 2"),
])
def test_bad_entries(tmp_path, header, data, match):
    expect_error(tmp_path, build(header, data), match)


def structure_file(structure, tensors=(), version="1"):
    names = [("t%d" % i) for i in range(len(tensors))]
    meta = {"ranvier.structure": structure if isinstance(structure, str) else json.dumps(structure)}
    if version is not None:
        meta["ranvier.format_version"] = version
    return ranvier._C._st_save_bytes(list(zip(names, tensors)), meta)


@pytest.mark.parametrize("structure,match", [
    ({"$tensor": "missing"}, "does not hold"),
    ({"$tensor": 3}, "does not hold"),
    ({"$tensor": "t0", "requires_grad": "yes"}, "bad tensor flags"),
    ({"$tensor": "t0", "evil": 1}, "unexpected fields"),
    ({"$pickle": "cos\nsystem"}, "unknown tag '\\$pickle'"),
    ({"a": 1}, "one \\$tag"),
    ({"$tuple": [], "$dict": {}}, "one \\$tag"),
    ({"$float": "1.5"}, "\\$float must be"),
    ({"$tuple": 3}, "needs a list"),
    ({"$dict": 3}, "needs an object or a list"),
    ({"$dict": [[1]]}, "pairs"),
    ({"$dict": [[[1], 2]]}, "dict key must be"),
    ({"$dict": [[1, 2], [1, 3]]}, "duplicate key 1"),
    ({"$size": [-1]}, "non-negative"),
    ({"$dtype": "complex128"}, "unknown dtype"),
    ({"$device": "tpu"}, "bad device"),
    ("{not json", "not valid JSON"),
    ('{"$dict": {"a": NaN}}', "NaN"),
    ('{"$dict": {"a": 1, "a": 2}}', "duplicate key 'a'"),
    ("[" * 100000 + "]" * 100000, "nested too deeply"),
])
def test_bad_structure(tmp_path, structure, match):
    blob = structure_file(structure, [ranvier.ones(1)])
    expect_error(tmp_path, blob, match)


def test_unknown_format_version(tmp_path):
    expect_error(tmp_path, structure_file(1, version="99"), "format version '99'")
    expect_error(tmp_path, structure_file(1, version=None), "format version None")


def test_pytorch_pickle_files_get_a_hint(tmp_path):
    for head in (b"PK\x03\x04" + b"\0" * 60, b"\x80\x02" + b"\0" * 60):
        with pytest.raises(CheckpointError, match="PyTorch pickle/zip checkpoint"):
            load_bytes(tmp_path, head)
