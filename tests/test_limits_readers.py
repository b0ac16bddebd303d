"""The core limits (predport.limits) applied in the readers and writers (issue 12, item 4).

Each case failed before: the Lightly reader built a table indexed by category id (id
2**40: MemoryError; 3e8: 2.4 GB), COCO and Aquarium detection/reading hit RecursionError
on JSON nested ~1000 deep, an Aquarium mask PNG declaring 50000 x 50000 went straight to
Pillow (DecompressionBombError, a crash), and the masks writer allocated the canvas a
100-byte RLE declared (50000 x 50000: 2.5 GB) before any check.
"""
from __future__ import annotations

import json
import shutil
import struct
import tracemalloc
import zlib
from pathlib import Path

import pytest

import predport
from predport import ParseError

ROOT = Path(__file__).resolve().parents[1]
AQUARIUM_DATA = ROOT / "plugins" / "aquarium" / "tests" / "data"


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR (valid CRC) declares ``width x height`` and whose IDAT is a small bomb."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * (1 << 20), 9))
            + chunk(b"IEND", b""))


# -- Lightly: ids far apart ------------------------------------------------------------
def test_lightly__category_ids_far_beyond_the_count_cost_no_memory(tmp_path):
    big = 2**40
    task = tmp_path / "datasource" / ".lightly" / "predictions" / "det"
    task.mkdir(parents=True)
    (task / "schema.json").write_text(json.dumps(
        {"task_type": "object-detection", "categories": [{"id": 3, "name": "car"}, {"id": big, "name": "bus"}]}))
    (task / "a.json").write_text(json.dumps({"file_name": "a.jpg", "predictions": [
        {"category_id": big, "bbox": [1, 2, 3, 4], "score": 0.5},
        {"category_id": 3, "bbox": [5, 6, 7, 8], "score": 0.25}]}))
    (task / "b.json").write_text(json.dumps({"file_name": "b.jpg", "predictions": [
        {"category_id": 7, "bbox": [1, 2, 3, 4], "score": 0.5}]}))
    tracemalloc.start()
    try:
        stream = predport.open_stream(task.parent, format="lightly", policy="skip")
        ps = stream.collect()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20  # a table indexed by id: 8 TB (MemoryError) for 2**40
    frame = ps.frame("a.jpg")
    names = {c.id: c.name for c in ps.categories}
    assert [names[int(c)] for c in frame.predictions.category_id] == ["bus", "car"]
    assert frame.predictions.box.tolist() == [[1, 2, 3, 4], [5, 6, 7, 8]]
    # an id not in schema.json is still refused (and counted under skip)
    assert stream.report.skipped_total == 1 and "category_id 7" in str(stream.report.skipped[0])
    with pytest.raises(ParseError, match="category_id 7 is not in the schema.json"):
        predport.load(task.parent, format="lightly")


# -- JSON depth in COCO and Aquarium ------------------------------------------------------
def _deep(n: int) -> bytes:
    return b"[" * n + b"]" * n


@pytest.mark.parametrize("fmt", ["coco", "aquarium"])
def test_json_readers__nesting_1000_deep_is_a_located_error_and_hides_nothing_from_detection(tmp_path, fmt):
    path = tmp_path / "results.json"
    path.write_bytes(b'[{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 0.5, "x": '
                     + _deep(1000) + b'}]')
    hub = predport.get_hub()
    before = {r.name: len(r.reasons) for r in hub.plugins()}
    votes = predport.detect(path)
    grew = {r.name: r.reasons[before.get(r.name, 0):] for r in hub.plugins() if len(r.reasons) > before.get(r.name, 0)}
    assert not grew, grew  # a RecursionError in detect_format degraded the plugin
    assert votes and votes[0].format == "coco"
    with pytest.raises(ParseError, match="nested more than 256 levels") as info:
        predport.load(path, format=fmt)
    assert info.value.file == str(path) and info.value.json_path.startswith("$[0].x[0]")


def test_aquarium_lines__a_deep_line_is_refused_at_its_line_and_counted_under_skip(tmp_path):
    src = AQUARIUM_DATA / "v1_1.0.7.jsonl"
    lines = src.read_bytes().splitlines()
    bad = lines[0][:-1] + b', "deep": ' + _deep(700) + b'}'
    path = tmp_path / "frames.jsonl"
    path.write_bytes(b"\n".join([lines[1], bad] + lines[2:]) + b"\n")
    with pytest.raises(ParseError, match="nested more than") as info:
        predport.load(path, format="aquarium")
    assert info.value.line == 2
    stream = predport.open_stream(path, format="aquarium", policy="skip")
    assert len(stream.collect().frames) == len(lines) - 1 and stream.report.skipped_total == 1


# -- Aquarium mask PNGs -----------------------------------------------------------------
def test_aquarium__mask_png_declaring_50000_squared_is_refused_from_its_header(tmp_path):
    shutil.copy(AQUARIUM_DATA / "v1_1.0.7.jsonl", tmp_path / "frames.jsonl")
    (tmp_path / "masks").mkdir()
    shutil.copy(AQUARIUM_DATA / "masks" / "frame_0002_instances.png", tmp_path / "masks")
    (tmp_path / "masks" / "frame_0002_semseg.png").write_bytes(_png_header_only(50000, 50000))
    tracemalloc.start()
    try:
        stream = predport.open_stream(tmp_path / "frames.jsonl", format="aquarium")
        frames = {f.data_id: f for f in stream.frames}
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 256 << 20
    [kept] = frames["frame_0002"].attributes["unresolved_masks"]
    assert "50000 x 50000" in kept["reason"]
    assert "above the limit" in kept["reason"]
    # the instance mask of the same frame is still read
    assert any(r.get("mask") for r in frames["frame_0002"].predictions.to_records())


# -- masks writer -------------------------------------------------------------------------
def _rle_string(runs):
    """pycocotools' compressed RLE string of ``runs`` (rleToString), without any mask."""
    out = bytearray()
    for i, x in enumerate(runs):
        if i > 2:
            x -= runs[i - 2]
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = (x != -1) if c & 0x10 else (x != 0)
            out.append((c | 0x20 if more else c) + 48)
    return out.decode("ascii")


def test_masks__rle_declaring_50000_squared_is_refused_before_allocating(tmp_path):
    counts = _rle_string([50000 * 50000])  # 8 bytes: one run covering the whole (empty) mask
    assert predport.check_rle([3, 4], _rle_string([12])) == (3, 4)
    doc = {"schema": "predport/prediction-set/1", "categories": [{"id": 1, "name": "car"}],
           "frames": [{"data_id": "a", "predictions": [
               {"category_id": 1, "score": 0.5, "mask": {"size": [50000, 50000], "counts": counts}}]}]}
    src = tmp_path / "in.json"
    src.write_text(json.dumps(doc))
    # read: refused by the canonical reader (check_rle applies the pixel limit)
    with pytest.raises(ParseError, match=r"50000 x 50000 = 2500000000 pixels is above the limit") as info:
        predport.load(src, format="canonical")
    assert info.value.file == str(src)
    # write: data made in Python, never read, is refused by the masks writer before its canvas
    ps = predport.PredictionSet(
        source=predport.SourceInfo(format="x", uri="x", plugin="t"), categories=[predport.Category(id=1, name="car")],
        frames=[predport.Frame(data_id="a", predictions=predport.Detections(
            category_id=[1], score=[0.5], mask=[{"size": [50000, 50000], "counts": counts}]))])
    tracemalloc.start()
    try:
        with pytest.raises(ParseError, match=r"50000 x 50000 = 2500000000 pixels is above the limit") as info:
            predport.save(ps, tmp_path / "out", "masks", allow_loss=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20 and info.value.file == "a.png"  # the canvas alone would be 2.5 GB
    assert not (tmp_path / "out").exists()


# -- integers beyond int64 and beyond Python's int-string limit ------------------------------
def test_canonical__ids_of_2_63_are_refused_by_validate_and_convert_alike(tmp_path):
    from predport.cli import main

    big = 2**63
    doc = tmp_path / "p.json"
    doc.write_text(json.dumps({"schema": "predport/prediction-set/1", "categories": [{"id": big, "name": "car"}],
                               "frames": [{"data_id": "a", "predictions": [
                                   {"category_id": big, "score": 0.5, "box": [1, 2, 3, 4]}]}]}))
    assert main(["validate", str(doc)]) == 1
    assert main(["convert", str(doc), str(tmp_path / "o.json"), "--to", "coco"]) == 1
    with pytest.raises(ParseError, match="64-bit") as info:
        predport.load(doc, format="canonical")
    assert info.value.json_path == "$.categories[0].id"
    doc.write_text(json.dumps({"schema": "predport/prediction-set/1", "categories": [{"id": 1, "name": "car"}],
                               "frames": [{"data_id": "a", "predictions": [
                                   {"category_id": big, "score": 0.5, "box": [1, 2, 3, 4]}]}]}))
    with pytest.raises(ParseError, match="64-bit") as info:
        predport.load(doc, format="canonical")
    assert info.value.json_path == "$.frames[0].predictions[0].category_id"


def test_yolo__a_class_of_5000_digits_is_a_located_error_not_the_int_string_limit(tmp_path):
    labels = tmp_path / "ds" / "labels"
    labels.mkdir(parents=True)
    (labels / "a.txt").write_text("0 0.5 0.5 0.1 0.1\n" + "9" * 5000 + " 0.5 0.5 0.1 0.1\n")
    sizes = tmp_path / "sizes.json"
    sizes.write_text('{"a": [10, 10]}')
    with pytest.raises(ParseError) as info:
        predport.load(tmp_path / "ds", format="yolo", image_sizes=str(sizes))
    assert info.value.line == 2 and not isinstance(info.value, predport.PluginError)


def test_coco__an_integer_of_5000_digits_is_a_located_error(tmp_path):
    """Found by the long fuzz profile: the standard-library fallback hit the int-string limit."""
    path = tmp_path / "results.json"
    path.write_text('[{"image_id": 1, "category_id": ' + "9" * 5000 + ', "bbox": [1, 2, 3, 4], "score": 0.5}]')
    with pytest.raises(ParseError, match="too long") as info:
        predport.load(path, format="coco")
    assert info.value.file == str(path) and not isinstance(info.value, predport.PluginError)


def test_frame_sizes_and_indices_beyond_int64_are_refused_where_read(tmp_path):
    """Found by the long fuzz profile: an Encord height of 2**64 + 1 was read, then no writer could write it."""
    big = 2**64 + 1
    doc = tmp_path / "p.json"
    doc.write_text(json.dumps({"schema": "predport/prediction-set/1", "categories": [],
                               "frames": [{"data_id": "a", "height": big, "width": 4, "predictions": []}]}))
    with pytest.raises(predport.SchemaValidationError) as info:
        predport.load(doc, format="canonical")
    assert info.value.json_path == "$.frames[0].height"
    with pytest.raises(Exception) as info:
        predport.Frame(data_id="a", frame_index=big)
    assert "less than or equal" in str(info.value)
    if "encord" in predport.get_hub().formats():
        rows = tmp_path / "encord.json"
        rows.write_text(json.dumps([{"data_hash": "a.jpg", "frame": 0, "confidence": 0.9, "width": 64, "height": big,
                                     "object": {"feature_hash": "car", "format": "bounding-box",
                                                "data": {"x": 0.1, "y": 0.1, "w": 0.3, "h": 0.2}}}]))
        with pytest.raises(predport.ParseError) as info:
            predport.load(rows, format="encord")
        assert not isinstance(info.value, predport.PluginError)


def test_image_sizes_beyond_int64_are_refused():
    """Found by the long fuzz profile: a sizes file saying [64, 1e308] gave a frame no writer could write."""
    with pytest.raises(predport.ConfigError, match="positive integers"):
        predport.ImageSizes({"a.jpg": [64, 1e308]})
    with pytest.raises(predport.ConfigError, match="positive integers"):
        predport.ImageSizes({"a.jpg": [64, float("inf")]})
    assert predport.ImageSizes({"a.jpg": [64, 48.0]}).get("a.jpg") == (64, 48)


def test_masks__a_class_map_key_of_5000_digits_is_ignored_with_a_warning(tmp_path):
    """Found by the long fuzz profile: int() of the key hit Python's int-string limit."""
    import numpy as np
    from PIL import Image

    root = tmp_path / "m"
    root.mkdir()
    Image.fromarray(np.array([[0, 1], [1, 0]], dtype=np.uint8)).save(root / "a.png")
    (root / "class_map.json").write_text(json.dumps({"9" * 5000: {"id": 1, "name": "car"}}))
    stream = predport.open_stream(root, format="masks")
    assert len(stream.collect().frames) == 1
    assert any("class_map.json" in w and "ignored" in w for w in stream.report.warnings)
