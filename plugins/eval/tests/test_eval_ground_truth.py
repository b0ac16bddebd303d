"""Ground truth through the same readers: ``predport.load(path, role="ground_truth")`` for
KITTI, YOLO, PNG masks, Lightly and canonical files (COCO: plugins/coco/tests), score null,
wrong roles refused with a reason."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import predport

KITTI_LABELS = (
    "Car 0.10 1 -1.57 100.00 120.00 300.00 180.00 1.50 1.60 3.90 1.00 1.50 20.00 -1.60\n"
    "DontCare -1 -1 -10 400.00 100.00 450.00 130.00 -1 -1 -1 -1000 -1000 -1000 -10\n"
    "Pedestrian 0.00 0 0.20 500.00 140.00 530.00 230.50 1.80 0.60 0.80 2.00 1.60 12.00 0.10\n"
)


def _kitti(tmp_path: Path, text: str = KITTI_LABELS) -> Path:
    (tmp_path / "label_2").mkdir(parents=True)
    (tmp_path / "label_2" / "000007.txt").write_text(text)
    return tmp_path / "label_2"


def test_gt__kitti_labels_keep_difficulty_fields_and_dontcare_as_ignore(tmp_path):
    got = predport.load(_kitti(tmp_path), role="ground_truth")
    (frame,) = got.frames
    d = frame.predictions
    names = {c.id: c.name for c in got.categories}
    assert [names[int(c)] for c in d.category_id] == ["Car", "DontCare", "Pedestrian"]
    assert np.isnan(d.score).all()
    car, dc, ped = d.attributes
    assert car["truncated"] == pytest.approx(0.10) and car["occluded"] == 1 and "ignore" not in car
    assert ped["truncated"] == 0 and ped["occluded"] == 0
    assert dc["ignore"] is True and "truncated" not in dc  # -1: the devkit's "unknown"
    # Box height (difficulty) is bottom - top as written.
    assert d.box[:, 3].tolist() == pytest.approx([60.0, 30.0, 90.5])


def test_gt__kitti_read_as_predictions_still_drops_dontcare(tmp_path):
    got = predport.load(_kitti(tmp_path))
    names = {c.id: c.name for c in got.categories}
    assert [names[int(c)] for c in got.frames[0].predictions.category_id] == ["Car", "Pedestrian"]


def test_gt__kitti_results_read_as_ground_truth_are_refused(tmp_path):
    scored = "Car -1 -1 -10 100.00 120.00 300.00 180.00 -1 -1 -1 -1000 -1000 -1000 -10 0.93\n"
    folder = _kitti(tmp_path, scored)
    with pytest.raises(predport.ParseError, match="read as ground truth, but this is predictions"):
        predport.load(folder, "kitti", role="ground_truth")
    # Detection tells them apart: scored KITTI lines are predictions, never picked as ground truth.
    with pytest.raises(predport.UnknownFormatError, match=r"\[predictions, not ground truth\]"):
        predport.load(folder, role="ground_truth")
    assert predport.load(folder).frames[0].predictions.score.tolist() == [0.93]


def _labels(categories, frames):
    return predport.PredictionSet(categories=[predport.Category(id=i, name=n) for i, n in categories], frames=frames)


def test_gt__yolo_label_folder(tmp_path):
    labels = tmp_path / "labels"
    labels.mkdir()
    (labels / "a.txt").write_text("0 0.5 0.5 0.25 0.5\n1 0.125 0.25 0.25 0.5\n")
    (tmp_path / "classes.txt").write_text("car\nperson\n")
    got = predport.load(tmp_path, "yolo", role="ground_truth", image_sizes={"a": [200, 100]})
    (frame,) = got.frames
    assert np.isnan(frame.predictions.score).all()
    assert np.allclose(frame.predictions.box, [[75, 25, 50, 50], [0, 0, 50, 50]], atol=1e-9)
    assert [c.name for c in got.categories] == ["car", "person"]
    (labels / "a.txt").write_text("0 0.5 0.5 0.25 0.5 0.87\n")
    with pytest.raises(predport.ParseError, match="read as ground truth, but this is predictions"):
        predport.load(tmp_path, "yolo", role="ground_truth", image_sizes={"a": [200, 100]})


def test_gt__png_class_index_masks(tmp_path):
    from PIL import Image

    pixels = np.zeros((4, 6), dtype=np.uint8)
    pixels[0:2, 0:3] = 1
    pixels[2:4, 3:6] = 2
    (tmp_path / "m").mkdir()
    Image.fromarray(pixels).save(tmp_path / "m" / "a.png")
    got = predport.load(tmp_path / "m", "masks", role="ground_truth")
    (frame,) = got.frames
    d = frame.predictions
    assert (frame.width, frame.height) == (6, 4)
    assert sorted(int(c) for c in d.category_id) == [1, 2] and np.isnan(d.score).all()
    by_class = {int(c): b for c, b in zip(d.category_id, d.box.tolist())}
    assert by_class[1] == [0, 0, 3, 2] and by_class[2] == [3, 2, 3, 2]


def test_gt__lightly_without_scores_and_with_scores_refused(tmp_path):
    s = _labels([(1, "car"), (2, "person")], [predport.Frame(
        data_id="a.png", width=64, height=48,
        predictions=predport.Detections([1, 2], [0.9, 0.8], [[2, 4, 20, 10], [30, 8, 16, 30]]))])
    predport.save(s, tmp_path / "l", "lightly")
    with pytest.raises(predport.ParseError, match="read as ground truth, but this is predictions"):
        predport.load(tmp_path / "l", role="ground_truth")
    (per_image,) = [p for p in (tmp_path / "l").rglob("a.json")]
    doc = json.loads(per_image.read_text())
    for p in doc["predictions"]:
        del p["score"]
    per_image.write_text(json.dumps(doc))
    got = predport.load(tmp_path / "l", role="ground_truth")
    assert np.isnan(got.frames[0].predictions.score).all()
    assert got.frames[0].predictions.box.tolist() == [[2, 4, 20, 10], [30, 8, 16, 30]]


def test_gt__canonical_jsonl_reads_as_ground_truth(tmp_path):
    s = _labels([(1, "car")], [predport.Frame(data_id="a.png", predictions=predport.Detections(
        [1], None, [[0, 0, 2, 2]], attributes=[{"iscrowd": 0, "truncated": 0.5}]))])
    predport.save(s, tmp_path / "gt.jsonl")
    got = predport.load(tmp_path / "gt.jsonl", role="ground_truth")
    assert np.isnan(got.frames[0].predictions.score).all()
    assert got.frames[0].predictions.attributes == [{"iscrowd": 0, "truncated": 0.5}]


def test_gt__every_label_format_declares_the_ground_truth_role():
    fmts = {f.id: f for f in predport.formats()} if hasattr(predport, "formats") else None
    if fmts is None:
        from predport.hub import get_hub

        fmts = get_hub().formats()
    for fid in ("coco", "kitti", "yolo", "masks", "lightly", "canonical", "canonical-jsonl"):
        assert "ground_truth" in fmts[fid].roles, fid
