"""The bugs the reader fuzz kit found (tests/fuzzing.py), one hand-made input each.

Each failed before its fix: deep JSON made the canonical readers raise a raw
AttributeError/ValueError (a "bug in the plugin", exit 70); a Latin-1 CSV made the
csvboxes template raise UnicodeDecodeError; a FIFO named like a label file, image or
``tasks.json`` blocked kitti, yolo, masks and Lightly detection forever.
"""
from __future__ import annotations

import os
import signal
from contextlib import contextmanager

import pytest

import predport
from predport import ParseError


@contextmanager
def no_hang(seconds: float = 10.0):
    """Fail (not hang) when the block blocks: a FIFO read that waits for a writer."""
    def alarm(signum, frame):
        raise AssertionError(f"blocked for more than {seconds} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _deep(n: int) -> bytes:
    return b"[" * n + b"1" + b"]" * n


def test_canonical__deep_json_in_the_head_is_a_located_parse_error(tmp_path):
    doc = tmp_path / "p.json"
    doc.write_bytes(b'{"schema": ' + _deep(1000) + b', "categories": [], "frames": []}')
    with pytest.raises(ParseError, match="nested more than 256 levels") as info:
        predport.load(doc, format="canonical")
    assert info.value.file == str(doc) and info.value.json_path.startswith("$.schema[0]")


def test_canonical__nesting_the_validator_cannot_convert_is_a_schema_error_not_a_crash(tmp_path, monkeypatch):
    # A user who raised the depth limit: what jsonschema_rs cannot convert (~255 levels) is a
    # schema error at the head, never a crash.
    monkeypatch.setenv("PREDPORT_MAX_JSON_DEPTH", "2000")
    doc = tmp_path / "p.json"
    doc.write_bytes(b'{"schema": ' + _deep(600) + b', "categories": [], "frames": []}')
    with pytest.raises(predport.SchemaValidationError, match="nested too deep") as info:
        predport.load(doc, format="canonical")
    assert info.value.file == str(doc)
    with pytest.raises(predport.SchemaValidationError, match="nested too deep"):
        predport.open_stream(doc, format="canonical", policy="skip").collect()  # the head is never skipped


def test_canonical_jsonl__deep_line_is_a_parse_error_at_its_line(tmp_path):
    doc = tmp_path / "p.jsonl"
    doc.write_bytes(b'{"schema": "predport/prediction-set/1", "categories": []}\n'
                    b'{"data_id": "a", "predictions": []}\n'
                    b'{"data_id": "b", "predictions": ' + _deep(600) + b'}\n')
    with pytest.raises(ParseError, match="nested more than") as info:
        predport.load(doc, format="canonical-jsonl")
    assert info.value.line == 3 and info.value.file == str(doc)


def test_canonical__a_fifo_is_refused_not_waited_on(tmp_path):
    fifo = tmp_path / "p.json"
    os.mkfifo(fifo)
    with no_hang(), pytest.raises(ParseError, match="not a regular file"):
        predport.load(fifo, format="canonical")


def test_csvboxes__latin1_text_is_a_parse_error_naming_the_file(tmp_path):
    if "csvboxes" not in predport.get_hub().formats():
        pytest.skip("the csvboxes template plugin is not installed")
    csv = tmp_path / "boxes.csv"
    csv.write_bytes("image,class,x,y,w,h,score\ncaf\xe9.jpg,car,1,2,3,4,0.5\n".encode("latin-1"))
    with pytest.raises(ParseError, match="not utf-8") as info:
        predport.load(csv, format="csvboxes")
    assert info.value.file == str(csv) and not isinstance(info.value, predport.PluginError)


def test_cli__latin1_csv_exits_1_not_70(tmp_path, capsys):
    if "csvboxes" not in predport.get_hub().formats():
        pytest.skip("the csvboxes template plugin is not installed")
    from predport.cli import main

    csv = tmp_path / "boxes.csv"
    csv.write_bytes("image,class,x,y,w,h,score\ncaf\xe9.jpg,car,1,2,3,4,0.5\n".encode("latin-1"))
    assert main(["convert", str(csv), str(tmp_path / "out.json"), "--from", "csvboxes"]) == 1
    assert "a bug in the plugin" not in capsys.readouterr().err
    assert not (tmp_path / "out.json").exists()


def _kitti(root):
    root.mkdir()
    (root / "000001.txt").write_text("Car 0.00 0 -1.0 10 20 110 220 1.5 1.6 3.9 1.0 1.7 20.0 0.0 0.9\n")
    os.mkfifo(root / "000002.txt")
    return root


def _yolo(root):
    from PIL import Image

    labels = root / "labels"
    labels.mkdir(parents=True)
    (root / "images").mkdir()
    for stem in "ab":
        Image.new("L", (40, 30)).save(root / "images" / f"{stem}.png")
    (root / "data.yaml").write_text("names:\n  0: car\n")
    (labels / "a.txt").write_text("0 0.5 0.5 0.2 0.2 0.9\n")
    os.mkfifo(labels / "b.txt")
    return root


def _masks(root):
    import numpy as np
    from PIL import Image

    root.mkdir()
    Image.fromarray(np.array([[0, 1], [1, 0]], dtype=np.uint8)).save(root / "a.png")
    os.mkfifo(root / "b.png")
    return root


@pytest.mark.parametrize("fmt,make", [("kitti", _kitti), ("yolo", _yolo), ("masks", _masks)])
def test_folder_readers__a_fifo_in_the_folder_is_refused_and_counted_under_skip(tmp_path, fmt, make):
    root = make(tmp_path / "in")
    with no_hang():
        with pytest.raises(ParseError, match="not a regular file") as info:
            predport.load(root, format=fmt)
        assert info.value.file.endswith(("000002.txt", "b.txt", "b.png"))
        stream = predport.open_stream(root, format=fmt, policy="skip")
        frames = stream.collect().frames
    assert len(frames) == 1 and stream.report.skipped_total == 1


def test_lightly_detection__a_fifo_named_tasks_json_does_not_block(tmp_path):
    root = tmp_path / "in"
    root.mkdir()
    os.mkfifo(root / "tasks.json")
    os.mkfifo(root / "schema.json")
    with no_hang():
        votes = predport.get_hub().detect(root)
    assert not any(v.format == "lightly" and v.confidence > predport.Confidence.LOW for v in votes)


# -- validation gaps (issue 12, item 5) -------------------------------------------------------
def test_canonical__a_category_id_declared_twice_is_refused_by_validate_and_load(tmp_path):
    from predport.cli import main

    doc = tmp_path / "p.json"
    doc.write_text('{"schema": "predport/prediction-set/1", "categories": [{"id": 1, "name": "car"}, '
                   '{"id": 2, "name": "bus"}, {"id": 1, "name": "car"}], "frames": []}')
    with pytest.raises(ParseError, match="category id 1 is declared twice") as info:
        predport.load(doc, format="canonical")
    assert info.value.json_path == "$.categories[2].id"
    assert main(["validate", str(doc)]) == 1


def test_writers__attribute_keys_that_are_not_strings_are_a_located_error(tmp_path):
    ps = predport.PredictionSet(
        source=predport.SourceInfo(format="x", uri="x", plugin="t"), categories=[predport.Category(id=1, name="a")],
        frames=[predport.Frame(data_id="a", predictions=predport.Detections(
            category_id=[1], score=[0.5], box=[[1, 2, 3, 4]], attributes=[{2: 3}]))])
    for fmt, name in (("coco", "r.json"), ("aquarium", "f.jsonl"), ("canonical", "p.json")):
        with pytest.raises(predport.PredportError) as info:
            predport.save(ps, tmp_path / name, fmt, allow_loss=True)
        assert not isinstance(info.value, predport.PluginError) and "str" in str(info.value)
        assert not (tmp_path / name).exists()


def _aquarium_rows_with(tmp_path, key, value):
    import json
    from pathlib import Path

    src = Path(__file__).resolve().parents[1] / "plugins" / "aquarium" / "tests" / "data" / "v1_1.0.7.jsonl"
    rows = [json.loads(line) for line in src.read_text().splitlines() if line.strip()]

    def walk(o):
        if isinstance(o, dict):
            if key in o:
                o[key] = value
            for v in o.values():
                walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)

    walk(rows)
    path = tmp_path / "frames.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


@pytest.mark.parametrize("key,value,where", [("label_type", ["BBOX_2D"], "label_type"),
                                             ("user_metadata", 5, "$.inference_metadata.user_metadata")])
def test_aquarium__odd_types_are_refused_by_the_reader_and_round_trip_under_skip(tmp_path, key, value, where):
    path = _aquarium_rows_with(tmp_path, key, value)
    with pytest.raises(ParseError) as info:
        predport.load(path, format="aquarium")
    assert where in str(info.value) and not isinstance(info.value, predport.PluginError)
    ps = predport.load(path, format="aquarium", policy="skip")
    predport.save(ps, tmp_path / "out.jsonl", "aquarium", allow_loss=True)  # what was read is writable


@pytest.mark.parametrize("counts", ["", "0X1", "PPYo0"])
def test_rle_counts_not_covering_height_x_width_are_refused_by_coco_canonical_and_validate(tmp_path, counts):
    import json

    from predport.cli import main

    coco = tmp_path / "results.json"
    coco.write_text(json.dumps([{"image_id": 1, "category_id": 1, "score": 0.5,
                                 "segmentation": {"size": [3, 4], "counts": counts}}]))
    with pytest.raises(ParseError, match="RLE runs cover|truncated") as info:
        predport.load(coco, format="coco")
    assert "segmentation" in str(info.value)
    doc = tmp_path / "p.json"
    doc.write_text(json.dumps({"schema": "predport/prediction-set/1", "categories": [{"id": 1, "name": "car"}],
                               "frames": [{"data_id": "a", "predictions": [
                                   {"category_id": 1, "score": 0.5, "mask": {"size": [3, 4], "counts": counts}}]}]}))
    with pytest.raises(ParseError, match="RLE runs cover|truncated") as info:
        predport.load(doc, format="canonical")
    assert info.value.json_path == "$.frames[0].predictions[0].mask.counts"
    assert main(["validate", str(doc)]) == 1


def test_check_rle__agrees_with_pycocotools_on_random_masks():
    import numpy as np
    from pycocotools import mask as mask_utils

    rng = np.random.default_rng(0)
    for t in range(200):
        h, w = (int(v) for v in rng.integers(1, 60, 2))
        m = (rng.random((h, w)) < rng.random()).astype(np.uint8)
        rle = mask_utils.encode(np.asfortranarray(m))
        assert predport.check_rle([h, w], rle["counts"].decode("ascii")) == (h, w)
        assert int(mask_utils.area(rle)) == int(m.sum())
    assert predport.check_rle([0, 0], "") == (0, 0)


def test_validate__agrees_with_convert_on_carriage_return_line_endings(tmp_path):
    """Found by the long fuzz profile: validate split lines on \\r, the reader does not."""
    from predport.cli import main

    doc = tmp_path / "p.jsonl"
    doc.write_bytes(b'{"schema": "predport/prediction-set/1", "categories": [{"id": 1, "name": "car"}]}\r'
                    b'{"data_id": "a", "predictions": [{"category_id": 1, "score": 0.5, "box": [1, 2, 3, 4]}]}\r')
    with pytest.raises(predport.PredportError):
        predport.convert(doc, tmp_path / "out.json")
    assert main(["validate", str(doc)]) == 1


def test_lightly_detection__a_task_name_too_long_for_the_file_system_degrades_nothing(tmp_path):
    """Found by the long fuzz profile: Path.exists() raised ENAMETOOLONG inside detect_format."""
    import json

    root = tmp_path / "in"
    (root / "det").mkdir(parents=True)
    (root / "det" / "schema.json").write_text('{"task_type": "object-detection", "categories": []}')
    (root / "tasks.json").write_text(json.dumps(["det", "x" * 5000]))
    hub = predport.get_hub()
    before = {r.name: len(r.reasons) for r in hub.plugins()}
    votes = predport.detect(root)
    grew = {r.name: r.reasons for r in hub.plugins() if len(r.reasons) > before.get(r.name, 0)}
    assert not grew, grew
    assert votes and votes[0].format == "lightly"
