"""COCO -> Deep Lake -> COCO, the columns' types, detection, and the reader's conventions."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import predport




def _records(path: Path) -> list[dict]:
    return json.loads(path.read_text())


def test_roundtrip__coco_results_with_gt_give_back_the_same_records(tmp_path: Path, coco_files) -> None:
    res, gt = coco_files
    ds_path = tmp_path / "ds"
    summary = predport.convert(res, ds_path, to="deeplake", options={"gt": str(gt)})
    assert summary["frames"] == 2 and summary["rows"] == 2
    # COCO results hold neither image sizes nor category attributes (they belong to the GT):
    # the same loss as COCO -> COCO with a GT, allowed here.
    predport.convert(ds_path, tmp_path / "back.json", to="coco", allow_loss=True)
    assert _records(tmp_path / "back.json") == _records(res)


def test_roundtrip__dataset_opens_read_only_with_the_playbooks_types(tmp_path: Path, coco_files) -> None:
    import deeplake

    res, gt = coco_files
    predport.convert(res, tmp_path / "ds", to="deeplake", options={"gt": str(gt)})
    ds = deeplake.open_read_only(str(tmp_path / "ds"))
    kinds = {c.name: c.dtype.kind for c in ds.schema.columns}
    assert kinds["model_evaluation/boxes"] == deeplake.types.TypeKind.BoundingBox
    assert kinds["model_evaluation/labels"] == deeplake.types.TypeKind.ClassLabel
    assert ds["model_evaluation/boxes"].metadata["coords"] == {"type": "pixel", "mode": "LTWH"}
    labels = ds["model_evaluation/labels"]
    assert labels.metadata["class_names"] == ["car", "dog"]          # sorted by category id: 3, 18
    assert [c["id"] for c in labels.metadata["category_info"]] == [3, 18]
    assert ds["data_id"][0:2] == ["a.jpg", "b.jpg"]
    assert labels[0].tolist() == [1, 0]                               # dog, car
    np.testing.assert_array_equal(ds["model_evaluation/scores"][0], [0.236, 0.9])
    np.testing.assert_array_equal(ds["model_evaluation/boxes"][1], [[0.1, 0.2, 0.3, 0.4]])
    assert (ds["width"][0], ds["height"][0]) == (640, 427)


def test_detect__a_dataset_is_known_by_its_log_not_its_name(tmp_path: Path, coco_files) -> None:
    res, gt = coco_files
    predport.convert(res, tmp_path / "results.json.d", to="deeplake", options={"gt": str(gt)})
    votes = predport.detect(tmp_path / "results.json.d")
    assert votes[0].format == "deeplake" and votes[0].confidence == predport.Confidence.CERTAIN
    assert "deeplake 4.7.4" in votes[0].reason
    named = tmp_path / "my_deeplake_dataset"
    named.mkdir()
    (named / "boxes").mkdir()
    assert not [v for v in predport.detect(named) if v.format == "deeplake"]


def test_detect__a_3x_dataset_is_a_reasoned_rejection(tmp_path: Path) -> None:
    old = tmp_path / "v3"
    old.mkdir()
    (old / "dataset_meta.json").write_text('{"version": "3.9.52", "tensors": ["boxes"]}')
    (old / "version_control_info.json").write_text("{}")
    vote = next(v for v in predport.detect(old) if v.format == "deeplake")
    assert vote.confidence == predport.Confidence.NO and "3.x" in vote.reason


def _dataset(path: Path, boxes: list, fmt: str | None, kind: str | None, *, scores=None, images=None,
             class_names=("car", "dog"), info=None, ids=("a.jpg", "b.jpg")) -> Path:
    import deeplake

    T = deeplake.types
    ds = deeplake.create(str(path))
    ds.add_column("data_id", T.Text())
    if images is not None:
        ds.add_column("images", T.Image(dtype="uint8"))
    ds.add_column("p/boxes", T.BoundingBox("float32", format=fmt or "ltwh", bbox_type=kind or "pixel"))
    if fmt:
        ds["p/boxes"].metadata["coords"] = {"type": kind, "mode": fmt.upper()}
    ds.add_column("p/labels", T.ClassLabel(T.Array("uint32", dimensions=1)))
    ds["p/labels"].metadata["class_names"] = list(class_names)
    if info is not None:
        ds["p/labels"].metadata["category_info"] = info
    row = {"data_id": list(ids), "p/boxes": [np.asarray(b, np.float32).reshape(-1, 4) for b in boxes],
           "p/labels": [np.zeros(len(b), np.uint32) for b in boxes]}
    if scores is not None:
        ds.add_column("p/scores", T.Array("float32", dimensions=1))
        row["p/scores"] = [np.asarray(s, np.float32) for s in scores]
    if images is not None:
        row["images"] = images
    ds.append(row)
    ds.commit()
    return path


def test_read__ltrb_pixel_boxes_become_xywh(tmp_path: Path) -> None:
    p = _dataset(tmp_path / "d", [[[10, 20, 30, 60]], []], "ltrb", "pixel")
    preds = predport.load(p, options={"group": "p"})
    assert preds.frames[0].predictions.box.tolist() == [[10, 20, 20, 40]]
    assert len(preds.frames[1].predictions) == 0


def test_read__ccwh_fractional_boxes_use_the_image_columns_shape(tmp_path: Path) -> None:
    images = [np.zeros((50, 200, 3), np.uint8), np.zeros((10, 10, 3), np.uint8)]
    p = _dataset(tmp_path / "d", [[[0.5, 0.5, 0.25, 0.5]], []], "ccwh", "fractional", images=images)
    frame = predport.load(p, options={"group": "p"}).frames[0]
    assert (frame.width, frame.height) == (200, 50)
    # centre (100, 25), size 50 x 25 -> left 75, top 12.5
    assert frame.predictions.box.tolist() == [[75.0, 12.5, 50.0, 25.0]]


def test_read__fractional_boxes_without_any_size_are_refused(tmp_path: Path) -> None:
    p = _dataset(tmp_path / "d", [[[0.5, 0.5, 0.25, 0.5]], []], "ccwh", "fractional")
    with pytest.raises(predport.ConfigError, match="fractional boxes need the image size"):
        predport.load(p, options={"group": "p"})
    frame = predport.load(p, options={"group": "p"}, image_sizes={"a.jpg": (100, 100)}).frames[0]
    assert frame.predictions.box.tolist() == [[37.5, 25.0, 25.0, 50.0]]


def test_read__a_box_column_without_coords_is_refused_unless_named(tmp_path: Path) -> None:
    p = _dataset(tmp_path / "d", [[[10, 20, 30, 60]], []], None, None)
    with pytest.raises(predport.ParseError, match="does not say its format") as err:
        predport.load(p, options={"group": "p"})
    assert err.value.field == "p/boxes"
    preds = predport.load(p, options={"group": "p", "box_format": "ltrb", "box_type": "pixel"})
    assert preds.frames[0].predictions.box.tolist() == [[10, 20, 20, 40]]


def test_read__no_scores_column_gives_null_scores(tmp_path: Path) -> None:
    p = _dataset(tmp_path / "d", [[[1, 2, 3, 4]], []], "ltwh", "pixel")
    rec = predport.load(p, options={"group": "p"}).frames[0].predictions.to_records()
    assert rec == [{"category_id": 0, "score": None, "box": [1.0, 2.0, 3.0, 4.0]}]


def test_read__scores_and_category_info_ids(tmp_path: Path) -> None:
    p = _dataset(tmp_path / "d", [[[1, 2, 3, 4]], []], "ltwh", "pixel", scores=[[0.5], []],
                 info=[{"id": 3, "name": "car"}, {"id": 18, "name": "dog"}])
    preds = predport.load(p, options={"group": "p"})
    assert preds.frames[0].predictions.to_records() == [{"category_id": 3, "score": 0.5, "box": [1.0, 2.0, 3.0, 4.0]}]
    assert [(c.id, c.name) for c in preds.categories] == [(3, "car"), (18, "dog")]


def test_read__class_names_without_ids_number_classes_by_index(tmp_path: Path) -> None:
    p = _dataset(tmp_path / "d", [[[1, 2, 3, 4]], []], "ltwh", "pixel")
    preds = predport.load(p, options={"group": "p"})
    assert [(c.id, c.name) for c in preds.categories] == [(0, "car"), (1, "dog")]


def test_read__without_a_data_id_column_rows_are_named_by_index_and_said_so(playbook_dataset) -> None:
    p = playbook_dataset(id_column=None)
    stream = predport.open_stream(p, options={"group": ""})
    frames = list(stream.frames)
    assert [f.data_id for f in frames] == ["0", "1", "2"]
    assert any("row index" in w for w in stream.report.warnings)


def test_read__a_mask_column_added_without_values_gives_no_masks_and_other_masks_are_named(tmp_path: Path) -> None:
    import deeplake

    p = _dataset(tmp_path / "d", [[[1, 2, 3, 4]], []], "ltwh", "pixel")
    ds = deeplake.open(str(p))
    ds.add_column("p/masks", deeplake.types.BinaryMask())
    ds.add_column("p/semantic", deeplake.types.SegmentMask())
    ds.commit("mask columns")
    stream = predport.open_stream(p, read_options={"group": "p"})
    frames = list(stream.frames)
    assert frames[0].predictions.box.tolist() == [[1, 2, 3, 4]] and frames[0].predictions.mask is None
    assert any("p/semantic" in w and "not read" in w for w in stream.report.warnings)


def test_read__a_missing_group_names_the_groups_there_are(tmp_path: Path) -> None:
    p = _dataset(tmp_path / "d", [[[1, 2, 3, 4]], []], "ltwh", "pixel")
    with pytest.raises(predport.ParseError, match="no labels column 'model_evaluation/labels'") as err:
        predport.load(p)
    assert "groups in this dataset: p" in (err.value.hint or "")


def test_read__ground_truth_from_the_top_level_columns(playbook_dataset) -> None:
    p = playbook_dataset()
    preds = predport.load(p, options={"group": "", "id_column": "filename"})
    a = preds.frame("a.jpg")
    assert (a.width, a.height) == (640, 427)                         # from the image column's shape
    assert a.predictions.to_records() == [
        {"category_id": 1, "score": None, "box": [258.0, 41.0, 348.0, 243.0]},
        {"category_id": 0, "score": None, "box": [1.0, 2.0, 3.0, 4.0]},
    ]


def test_example__the_committed_dataset_is_what_predport_writes(tmp_path: Path) -> None:
    """plugins/deeplake/tests/data/coco-example (the matrix's Deep Lake input) is rebuilt by make_example.py."""
    import importlib.util

    here = Path(__file__).parent / "data"
    spec = importlib.util.spec_from_file_location("make_example", here / "make_example.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.build(tmp_path / "fresh")
    committed = predport.load(here / "coco-example")
    fresh = predport.load(tmp_path / "fresh")
    assert committed.to_json_dict()["frames"] == fresh.to_json_dict()["frames"]
    assert committed.to_json_dict()["categories"] == fresh.to_json_dict()["categories"]
    assert [f.data_id for f in committed.frames] == ["1", "2", "3"]
