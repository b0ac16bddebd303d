"""Real third-party Lightly folders, read in place (skipped when ../shared/corpus is absent)."""
from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

import predport
from predport.testing import require_corpus

LT = ("lightly", "lightly_dataset_examples", "coco_subset_128_images", "predictions")
LF = ("lightly", "labelformat", "detection-task-name")
SCHEMAS = Path(__file__).resolve().parents[1] / "src" / "predport_lightly" / "schemas"


def _source_files(folder: Path) -> dict[str, dict]:
    """file_name -> parsed JSON of every prediction file, read with the standard library."""
    out = {}
    for p in sorted(folder.glob("*.json")):
        if p.name != "schema.json":
            doc = json.loads(p.read_text(encoding="utf-8"))
            out[doc["file_name"]] = doc
    return out


def test_corpus__lightlytrain_128_files_every_box_and_score_equal_source() -> None:
    folder = require_corpus(*LT)
    source = _source_files(folder)
    assert len(source) == 128
    ps = predport.load(folder)
    assert len(ps.frames) == 128
    assert {f.data_id for f in ps.frames} == set(source)
    total = 0
    for frame in ps.frames:
        expected = source[frame.data_id]["predictions"]
        got = frame.predictions.to_records()
        assert [r["category_id"] for r in got] == [p["category_id"] for p in expected]
        assert [r["box"] for r in got] == [[float(v) for v in p["bbox"]] for p in expected]
        assert [r["score"] for r in got] == [p["score"] for p in expected]
        total += len(got)
    assert total == 732


def test_corpus__lightlytrain_categories_from_schema_json() -> None:
    folder = require_corpus(*LT)
    schema = json.loads((folder / "schema.json").read_text())
    ps = predport.load(folder)
    assert [(c.id, c.name) for c in ps.categories] == [(c["id"], c["name"]) for c in schema["categories"]]
    assert ps.categories[3].name == "motorbike"  # VOC-style names kept as given
    assert ps.categories[0].attributes == {"task": "predictions", "task_type": "object-detection"}


def test_corpus__lightlytrain_write_back_and_read_again_gives_same_data(tmp_path: Path) -> None:
    folder = require_corpus(*LT)
    first = predport.load(folder)
    summary = predport.save(first, tmp_path / "out", format="lightly")
    assert summary["prediction_files"] == 128
    assert json.loads((tmp_path / "out" / "tasks.json").read_text()) == ["predictions"]
    again = predport.load(tmp_path / "out")
    assert again.categories == first.categories
    assert [f.to_json_dict() for f in again.frames] == [f.to_json_dict() for f in first.frames]


def test_corpus__lightlytrain_sizes_from_coco_ground_truth_and_boxes_inside() -> None:
    folder = require_corpus(*LT)
    gt = require_corpus("coco", "lightly_coco_subset_128", "instances_train2017.json")
    sizes = {im["file_name"]: (im["width"], im["height"]) for im in json.loads(gt.read_text())["images"]}
    ps = predport.load(folder, image_sizes=gt)
    for frame in ps.frames:
        assert (frame.width, frame.height) == sizes[frame.data_id]
        box = frame.predictions.box
        assert (box[:, 0] + box[:, 2] <= frame.width).all() and (box[:, 1] + box[:, 3] <= frame.height).all()


def test_corpus__fast_columnar_path_equals_per_prediction_path(monkeypatch: pytest.MonkeyPatch) -> None:
    from predport_lightly import read as reader

    folder = require_corpus(*LT)
    fast = predport.load(folder)
    monkeypatch.setattr(reader._Task, "__init__", _slow_init(reader._Task.__init__))
    slow = predport.load(folder)
    assert [f.to_json_dict() for f in slow.frames] == [f.to_json_dict() for f in fast.frames]


def _slow_init(init):  # type: ignore[no-untyped-def]
    def wrapped(self, spec, lut):  # type: ignore[no-untyped-def]
        init(self, spec, lut)
        self.fast = False

    return wrapped


def test_corpus__labelformat_weird_file_names_and_zero_scores() -> None:
    folder = require_corpus(*LF)
    images = require_corpus("lightly", "labelformat", "images")
    ps = predport.load(folder, images=images)
    by_id = {f.data_id: f for f in ps.frames}
    assert set(by_id) == {"a-weird Filename.asdf.jpg", "aNother-weird__ filename.with.many.characters.jpg"}
    assert (by_id["a-weird Filename.asdf.jpg"].width, by_id["a-weird Filename.asdf.jpg"].height) == (640, 416)
    assert all(f.frame_index is None for f in ps.frames)  # "-weird" is not a video frame name
    weird = json.loads((folder / "a-weird Filename.asdf.json").read_text())
    recs = by_id["a-weird Filename.asdf.jpg"].predictions.to_records()
    assert [r["box"] for r in recs] == [[float(v) for v in p["bbox"]] for p in weird["predictions"]]
    assert all(r["score"] == 0.0 for r in recs)  # labelformat writes score 0 for ground truth: kept
    assert ps.category(1).name == "bicycle with space"


def test_corpus__labelformat_round_trip_keeps_task_name(tmp_path: Path) -> None:
    folder = require_corpus(*LF)
    first = predport.load(folder)
    predport.save(first, tmp_path / "out", format="lightly")
    assert json.loads((tmp_path / "out" / "tasks.json").read_text()) == ["detection-task-name"]
    assert (tmp_path / "out" / "detection-task-name" / "a-weird Filename.asdf.json").is_file()
    again = predport.load(tmp_path / "out")
    assert [f.to_json_dict() for f in again.frames] == [f.to_json_dict() for f in first.frames]


def test_detect__corpus_task_folders_are_certain() -> None:
    for parts in (LT, LF):
        votes = predport.detect(require_corpus(*parts))
        assert votes[0].format == "lightly" and votes[0].confidence == predport.Confidence.CERTAIN
    parent = require_corpus(*LT[:-1])  # a folder whose sub-folder "predictions" holds schema.json
    assert predport.detect(parent)[0].format == "lightly"


def test_detect__single_corpus_file_is_medium() -> None:
    f = require_corpus(*LT, "000000001732.json")
    vote = [v for v in predport.detect(f) if v.format == "lightly"][0]
    assert vote.confidence == predport.Confidence.MEDIUM
    ps = predport.load(f)  # the schema.json beside it gives the categories
    assert ps.frames[0].data_id == "000000001732.jpg" and len(ps.frames[0].predictions) == 3


def test_coco_results_to_lightly__every_file_validates_and_boxes_match(tmp_path: Path) -> None:
    if "coco" not in predport.get_hub().formats():
        pytest.skip("predport-coco is not installed")
    results = require_corpus("coco", "cocoapi", "instances_val2014_fakebbox100_results.json")
    gt = require_corpus("coco", "faster_coco_eval", "instances_val2014_100.json")
    out = tmp_path / "predictions"
    summary = predport.convert(results, out, to="lightly", options={"gt": str(gt)}, allow_loss=True)
    # Lightly keeps no image size and no COCO image id: both reported as loss, nothing else.
    assert set(summary["loss"]) == {"frames.width/height", "frames.attributes.image_id"}
    file_schema = json.loads((SCHEMAS / "lightly-prediction-file-1.schema.json").read_text())
    od = jsonschema.Draft202012Validator({**file_schema, "$ref": "#/$defs/object-detection"})
    schema_doc = json.loads((out / "object_detection" / "schema.json").read_text())
    jsonschema.validate(schema_doc, json.loads((SCHEMAS / "lightly-schema-1.schema.json").read_text()))
    assert schema_doc["task_type"] == "object-detection"
    gt_doc = json.loads(gt.read_text())
    assert {c["id"] for c in schema_doc["categories"]} == {c["id"] for c in gt_doc["categories"]}
    names = {im["id"]: im["file_name"] for im in gt_doc["images"]}
    expected: dict[str, list] = {}
    for r in json.loads(results.read_text()):
        expected.setdefault(names[r["image_id"]], []).append((r["category_id"], r["bbox"], r["score"]))
    files = sorted((out / "object_detection").glob("*.json"))
    files = [f for f in files if f.name != "schema.json"]
    assert len(files) == len(expected) == 99
    for f in files:
        doc = json.loads(f.read_text())
        od.validate(doc)
        assert f.name == doc["file_name"].rsplit(".", 1)[0] + ".json"
        got = [(p["category_id"], p["bbox"], p["score"]) for p in doc["predictions"]]
        assert sorted(got) == sorted(expected[doc["file_name"]])
    assert json.loads((out / "tasks.json").read_text()) == ["object_detection"]
