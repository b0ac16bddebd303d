"""Frames and classes matched across formats (KITTI predictions against COCO ground truth):
frames by data id, then base name without extension, then the number a name ends in; classes
by name case-insensitively, through a class map, by id when names are absent. What does not
match is counted and shown."""
from __future__ import annotations

import json

import pytest

import predport
import predport_eval


def _gt(tmp_path, images):
    doc = {"images": [{"id": i, "file_name": n, "width": 640, "height": 480} for i, n in images],
           "categories": [{"id": 1, "name": "car"}, {"id": 2, "name": "person"}, {"id": 3, "name": "bus"}],
           "annotations": [{"id": k + 1, "image_id": i, "category_id": 1, "bbox": [10, 10, 100, 50], "area": 5000,
                            "iscrowd": 0} for k, (i, _) in enumerate(images)]}
    (tmp_path / "gt.json").write_text(json.dumps(doc))
    return tmp_path / "gt.json"


def _kitti(tmp_path, files):
    d = tmp_path / "pred"
    d.mkdir()
    for name, rows in files.items():
        (d / f"{name}.txt").write_text("".join(
            f"{cls} -1 -1 -10 10.00 10.00 110.00 60.00 -1 -1 -1 -1000 -1000 -1000 -10 {score}\n"
            for cls, score in rows))
    return d


def test_matching__frames_by_data_id_base_name_and_number_classes_by_name(tmp_path):
    gt = _gt(tmp_path, [(42, "COCO_val2014_000000000042.jpg"), (123, "frames/000123.png"), (7, "b.jpg"),
                        (8, "never.jpg")])
    pred = _kitti(tmp_path, {"42": [("CAR", 0.9)], "000123": [("Car", 0.8), ("tram", 0.7)], "b": [("car", 0.6)],
                             "zzz": [("car", 0.5), ("car", 0.4)]})
    res = predport_eval.evaluate(pred, gt)
    u = res.unmatched
    assert u["frames_matched_by"] == {"base_name": 2, "number": 1}
    assert u["prediction_frames_without_ground_truth"] == 1  # zzz
    assert u["predictions_on_frames_without_ground_truth"] == 2
    assert u["ground_truth_frames_without_predictions"] == 1  # never.jpg
    assert u["prediction_classes_not_in_ground_truth"] == {"tram": 1}
    assert sorted(u["ground_truth_classes_without_prediction_class"]) == ["bus", "person"]
    # Three of the four cars found ("CAR", "Car", "car" are one class), never.jpg's missed.
    frames = {r.data_id: (r.tp, r.fp, r.fn) for r in res.per_frame}
    assert frames == {"COCO_val2014_000000000042.jpg": (1, 0, 0), "frames/000123.png": (1, 0, 0),
                      "b.jpg": (1, 0, 0), "never.jpg": (0, 0, 1)}
    assert res.metrics["AR100"] == pytest.approx(0.75)
    shown = res.table()
    assert "not matched (counted, not evaluated):" in shown
    assert "prediction classes not in ground truth: {'tram': 1}" in shown
    assert "prediction frames without ground truth: 1" in shown


def test_matching__a_number_two_ground_truth_frames_end_in_is_not_guessed(tmp_path):
    gt = _gt(tmp_path, [(1, "left_000042.jpg"), (2, "right_000042.jpg")])
    pred = _kitti(tmp_path, {"42": [("car", 0.9)]})
    res = predport_eval.evaluate(pred, gt)
    assert res.unmatched["prediction_frames_without_ground_truth"] == 1
    assert res.unmatched["ground_truth_frames_without_predictions"] == 2


def test_matching__class_map_renames_prediction_classes(tmp_path):
    gt = _gt(tmp_path, [(1, "a.jpg")])
    pred = _kitti(tmp_path, {"a": [("automobile", 0.9)]})
    res = predport_eval.evaluate(pred, gt)
    assert res.unmatched["prediction_classes_not_in_ground_truth"] == {"automobile": 1}
    assert res.per_frame[0].fn == 1
    res = predport_eval.evaluate(pred, gt, class_map={"automobile": "car"})
    assert res.unmatched["prediction_classes_not_in_ground_truth"] == {}
    assert (res.per_frame[0].tp, res.per_frame[0].fn) == (1, 0) and res.metrics["AP"] == pytest.approx(1.0)


def test_matching__classes_by_id_when_names_are_absent(tmp_path):
    gt = _gt(tmp_path, [(1, "a.jpg")])
    # COCO results read without their ground truth name classes by id only ("1", "2").
    (tmp_path / "res.json").write_text(json.dumps([
        {"image_id": 1, "category_id": 1, "bbox": [10, 10, 100, 50], "score": 0.9},
        {"image_id": 1, "category_id": 2, "bbox": [300, 10, 100, 50], "score": 0.8}]))
    assert [c.name for c in predport.load(tmp_path / "res.json").categories] == ["1", "2"]
    res = predport_eval.evaluate(tmp_path / "res.json", gt)
    assert res.unmatched["prediction_classes_not_in_ground_truth"] == {}
    assert (res.per_frame[0].tp, res.per_frame[0].fp) == (1, 1)
    assert res.confusion.labels == ["car", "person", "bus", "background"]
    assert res.confusion.matrix[3][1] == 1  # the "2" detection is a person on background


def test_matching__separator_spelling_matches_only_when_unambiguous(tmp_path):
    gt = _gt(tmp_path, [(1, "a.jpg")])
    doc = json.loads(gt.read_text())
    doc["categories"][0]["name"] = "traffic light"
    gt.write_text(json.dumps(doc))
    pred = _kitti(tmp_path, {"a": [("Traffic_Light", 0.9)]})
    assert predport_eval.evaluate(pred, gt).metrics["AP"] == pytest.approx(1.0)
    doc["categories"][1]["name"] = "traffic-light"  # two ground-truth classes spell the same: no guess
    gt.write_text(json.dumps(doc))
    res = predport_eval.evaluate(pred, gt)
    assert res.unmatched["prediction_classes_not_in_ground_truth"] == {"Traffic_Light": 1}
