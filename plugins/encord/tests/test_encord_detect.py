"""Detection: Encord records are recognised; other formats' inputs are not claimed."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import predport
from predport.testing import require_corpus


def encord_votes(path: Path) -> list["predport.FormatMatch"]:
    return [v for v in predport.detect(path) if v.format == "encord"]


def confidence(path: Path) -> int | None:
    votes = encord_votes(path)
    return votes[0].confidence if votes else None


BOX = {"data_hash": "a", "frame": 0, "confidence": 0.9,
       "object": {"feature_hash": "f", "format": "bounding-box", "data": {"x": 0.1, "y": 0.1, "w": 0.1, "h": 0.1}}}
CLS = {"data_hash": "a", "frame": 0, "confidence": 0.9,
       "classification": {"feature_hash": "f", "attribute_hash": "a", "option_hash": "o"}}


@pytest.mark.parametrize(
    ("name", "text"),
    [("list.json", json.dumps([BOX, CLS])),
     ("pretty.json", json.dumps([BOX], indent=2)),
     ("cls-first.json", json.dumps([CLS, BOX])),
     ("doc.json", json.dumps({"predictions": [BOX]})),
     ("lines.jsonl", json.dumps(BOX) + "\n" + json.dumps(CLS) + "\n"),
     ("no-suffix", json.dumps(BOX) + "\n")],
)
def test_detect__full_record_structure_is_high_and_wins(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    assert confidence(path) == predport.Confidence.HIGH
    assert predport.get_hub().pick(path).id == "encord"


def test_detect__committed_sample_is_encord(data_dir: Path) -> None:
    assert predport.get_hub().pick(data_dir / "predictions.json").id == "encord"


def test_detect__incomplete_record_is_medium_so_the_parser_can_explain(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps([{"data_hash": "a", "object": {"feature_hash": "f"}}]))
    assert confidence(path) == predport.Confidence.MEDIUM
    with pytest.raises(predport.ParseError, match="confidence"):
        predport.load(path)


def test_detect__first_record_longer_than_the_head_falls_back_to_keys(tmp_path: Path) -> None:
    mask = [[0] * 400 for _ in range(200)]  # ~160 kB: beyond the 64 kB head
    rec = {"data_hash": "a", "frame": 0, "confidence": 1.0,
           "object": {"feature_hash": "f", "format": "mask", "data": mask}}
    path = tmp_path / "masks.json"
    path.write_text(json.dumps([rec]))
    assert confidence(path) == predport.Confidence.MEDIUM
    assert predport.load(path).frames[0].width == 400


def test_detect__data_hash_without_object_or_classification_is_rejected_with_reason(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps([{"data_hash": "a", "confidence": 0.5}]))
    vote = encord_votes(path)[0]
    assert vote.confidence == predport.Confidence.NO and "neither" in vote.reason


@pytest.mark.parametrize(
    ("name", "text"),
    [("coco_results.json", json.dumps([{"image_id": 1, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 0.5}])),
     ("coco_gt.json", json.dumps({"images": [], "annotations": [], "categories": []})),
     ("aquarium.jsonl", json.dumps({"task_id": "t1", "inference_data": {"label_data": []}}) + "\n"),
     ("canonical.json", json.dumps({"schema": "predport/prediction-set/1", "categories": [], "frames": []})),
     ("lightly.json", json.dumps({"file_name": "a.jpg", "predictions": [
         {"category_id": 0, "bbox": [1, 2, 3, 4], "score": 0.5}]})),
     ("empty.json", "[]"),
     ("numbers.json", "[1, 2, 3]"),
     ("text.txt", "Car 0.00 0 -1.58 587.01 173.33 614.12 200.12 1.65 1.67 3.64 -0.65 1.71 46.70 -1.59\n")],
)
def test_detect__other_formats_are_not_claimed(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    assert confidence(path) in (None, predport.Confidence.NO)


def test_detect__folders_are_not_claimed(tmp_path: Path) -> None:
    (tmp_path / "000001.txt").write_text("Car 0 0 0 1 2 3 4 1 1 1 0 0 0 0 0.9\n")
    assert confidence(tmp_path) is None


@pytest.mark.parametrize("fmt", ["coco", "lightly", "kitti"])
def test_detect__corpus_files_of_other_formats_are_not_claimed(fmt: str) -> None:
    root = require_corpus(fmt)
    checked = 0
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix.lower() in (".json", ".jsonl", ".txt"):
            assert confidence(path) in (None, predport.Confidence.NO), path
            checked += 1
    assert checked


def test_hooks__import_is_cheap() -> None:
    import subprocess
    import sys

    code = ("import sys, predport_encord.hooks as h; h.formats(); "
            "print(sorted(m for m in ('numpy', 'orjson', 'PIL', 'cv2', 'pycocotools') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
