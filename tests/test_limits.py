"""The core limits: pixels, int64 ids, JSON depth, file size, regular files, URLs."""
from __future__ import annotations

import os
import tracemalloc

import numpy as np
import orjson
import pytest

import predport
from predport import ConfigError, ParseError


def test_check_pixels__huge_declared_size_is_refused_before_allocation():
    with pytest.raises(ParseError, match=r"50000 x 50000 = 2500000000 pixels .*PREDPORT_MAX_PIXELS") as info:
        predport.check_pixels(50000, 50000, file="r.json", json_path=[0, "segmentation", "size"])
    assert info.value.file == "r.json" and info.value.json_path == "$[0].segmentation.size"
    assert predport.check_pixels(640, 480) == (640, 480)


def test_check_pixels__the_environment_raises_the_limit(monkeypatch):
    monkeypatch.setenv("PREDPORT_MAX_PIXELS", str(1 << 32))
    assert predport.check_pixels(50000, 50000) == (50000, 50000)
    monkeypatch.setenv("PREDPORT_MAX_PIXELS", "lots")
    with pytest.raises(ConfigError, match="PREDPORT_MAX_PIXELS"):
        predport.check_pixels(1, 1)


@pytest.mark.parametrize("bad", [2**63, -(2**63) - 1, True, 1.5, "3", None])
def test_check_id__outside_int64_or_not_an_integer_is_refused(bad):
    with pytest.raises(ParseError):
        predport.check_id(bad, field="category_id")


def test_check_id__int64_edges_and_numpy_integers_pass():
    assert predport.check_id(2**63 - 1) == 2**63 - 1
    assert predport.check_id(np.uint8(7)) == 7


def test_parse_int__thousands_of_digits_is_a_clear_error_not_the_int_string_limit():
    with pytest.raises(ParseError, match="64-bit"):
        predport.parse_int("9" * 5000, line=3)
    with pytest.raises(ParseError, match="integer"):
        predport.parse_int("1e3")
    assert predport.parse_int(b" -12 ") == -12 and predport.parse_int("0009") == 9


def test_id_index__memory_does_not_scale_with_the_id_value():
    tracemalloc.start()
    idx = predport.IdIndex([3, 300_000_000, 2**62])
    pos = idx.positions(np.array([300_000_000, 5, 3, 2**62], dtype=np.int64))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert pos.tolist() == [1, -1, 0, 2]
    assert peak < 1 << 20  # a table indexed by id would take 2.4 GB for id 3e8
    assert idx.positions(np.array([2**64 - 1], dtype=np.uint64)).tolist() == [-1]


def test_load_json__deep_nesting_is_refused_without_recursion():
    deep = b"[" * 1000 + b"]" * 1000
    with pytest.raises(ParseError, match="nested more than 256 levels") as info:
        predport.load_json(deep, file="x.json")
    assert info.value.file == "x.json" and info.value.json_path.startswith("$[0][0]")
    assert predport.load_json(b'{"a": [[1]], "s": "[[[[[[[[[[[["}') == {"a": [[1]], "s": "[" * 12}


def test_load_json__brackets_in_strings_do_not_hide_depth():
    # closing brackets inside a string must not lower the count of the real nesting
    doc = b'{"s": "' + b"]" * 600 + b'", "d": ' + b"[" * 300 + b"]" * 300 + b"}"
    with pytest.raises(ParseError, match="nested"):
        predport.load_json(doc)
    escaped = orjson.dumps({"q": '"]]]]', "d": [[[[1]]]]})
    assert predport.load_json(escaped)["d"] == [[[[1]]]]


def test_read_bytes__fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "labels.txt"
    os.mkfifo(fifo)
    with pytest.raises(ParseError, match="not a regular file"):
        predport.read_bytes(fifo)
    assert not predport.is_regular(fifo) and not predport.is_regular(tmp_path)


def test_read_bytes__file_larger_than_the_limit_is_refused(tmp_path, monkeypatch):
    p = tmp_path / "big.json"
    with open(p, "wb") as fh:
        fh.truncate(2 << 30)  # 2 GiB sparse: nothing is read
    monkeypatch.setenv("PREDPORT_MAX_FILE_BYTES", str(1 << 30))
    with pytest.raises(ParseError, match="PREDPORT_MAX_FILE_BYTES") as info:
        predport.read_bytes(p)
    assert info.value.file == str(p)


@pytest.mark.parametrize("path,url", [("s3://bucket/out.json", True), ("gs://b/k", True),
                                      ("https://x/y.json", True), ("file:///tmp/x", False),
                                      ("C:\\data\\x.json", False), ("out.json", False), ("a:b/c", False)])
def test_is_url__remote_looking_paths(path, url):
    assert predport.is_url(path) is url


def test_is_url__a_path_object_normalised_from_a_url_is_still_one():
    from pathlib import Path

    assert predport.is_url(Path("s3://bucket/key")) and not predport.is_url(Path("data/s3/key"))
