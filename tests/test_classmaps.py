"""The built-in COCO-80 <-> COCO-91 class maps (issue #13, deliverable 8)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import predport
from predport.classmaps import COCO80_TO_COCO91
from predport.testing import corpus_dir


def test_classmaps__the_table_by_hand() -> None:
    assert len(COCO80_TO_COCO91) == 80 and list(COCO80_TO_COCO91) == sorted(set(COCO80_TO_COCO91))
    # COCO 2017 leaves ids 12, 26, 29, 30, 45, 66, 68, 69, 71 and 83 unused (and has none above 90).
    assert set(range(1, 91)) - set(COCO80_TO_COCO91) == {12, 26, 29, 30, 45, 66, 68, 69, 71, 83}
    to80 = predport.ClassMap.load("coco91-to-coco80")
    to91 = predport.ClassMap.load("coco80-to-coco91")
    assert (to91.lookup(0).id, to91.lookup(11).id, to91.lookup(79).id) == (1, 13, 90)  # person, stop sign, toothbrush
    assert all(to91.lookup(to80.lookup(c).id).id == c for c in COCO80_TO_COCO91)
    assert to80.lookup(12) is None and to91.lookup(80) is None


def test_classmaps__the_order_is_cocos_own() -> None:
    """Against an independent reading: the categories of a COCO instances file, by ascending id."""
    path = corpus_dir("coco", "faster_coco_eval", "instances_val2014_100.json")
    if path is None:
        pytest.skip("../shared/corpus is not present")
    cats = sorted(json.loads(path.read_text())["categories"], key=lambda c: c["id"])
    assert tuple(c["id"] for c in cats) == COCO80_TO_COCO91
    names = [c["name"] for c in cats]
    assert (names[0], names[11], names[79]) == ("person", "stop sign", "toothbrush")


def test_classmaps__a_file_of_that_name_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "coco91-to-coco80").write_text('{"1": 5}')
    assert predport.ClassMap.load("coco91-to-coco80").lookup(1).id == 5


def test_classmaps__coco_results_to_yolo_indices_and_back(tmp_path: Path) -> None:
    results = [{"image_id": 1, "category_id": 1, "bbox": [10, 20, 30, 40], "score": 0.9},
               {"image_id": 1, "category_id": 13, "bbox": [50, 60, 10, 10], "score": 0.8},
               {"image_id": 2, "category_id": 90, "bbox": [5, 5, 20, 20], "score": 0.7}]
    src = tmp_path / "results.json"
    src.write_text(json.dumps(results))
    sizes = {"1": [640, 480], "2": [320, 240]}
    yolo = tmp_path / "yolo"
    predport.convert(src, yolo, to="yolo", class_map="coco91-to-coco80", image_sizes=sizes,
                     write_options={"classes": "ids"}, allow_loss=True)
    first = [line.split()[0] for line in (yolo / "labels" / "1.txt").read_text().splitlines()]
    assert first == ["0", "11"] and (yolo / "labels" / "2.txt").read_text().split()[0] == "79"
    # A class *named* "13" (a COCO results file has no names) is still looked up by id only.
    back = predport.load(yolo, format="yolo", class_map="coco80-to-coco91")
    got = sorted(r["category_id"] for f in back.frames for r in f.predictions.to_records())
    assert got == [1, 13, 90]


def test_classmaps__cli_accepts_the_name(tmp_path: Path) -> None:
    from predport.cli import main

    src = tmp_path / "results.json"
    src.write_text(json.dumps([{"image_id": 3, "category_id": 90, "bbox": [1, 2, 3, 4], "score": 0.5}]))
    out = tmp_path / "out.json"
    assert main(["convert", str(src), str(out), "--class-map", "coco91-to-coco80", "--allow-loss", "-q"]) == 0
    doc = json.loads(out.read_text())
    assert [p["category_id"] for f in doc["frames"] for p in f["predictions"]] == [79]
