"""``predport validate``: any format predport reads, every error reported (bounded), in the user's terms."""
from __future__ import annotations

import json

import orjson
import pytest

import predport
from predport.cli import main

COCO_RESULTS = [
    {"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 0.9},
    {"image_id": 1, "category_id": 1, "bbox": [1, 2, -3, 4], "score": 0.9},
    {"image_id": 2, "category_id": 1, "bbox": [1, 2, 3, 4], "score": "high"},
    {"image_id": 2, "category_id": 1, "bbox": [1, 2, 3], "score": 0.5},
]
KITTI_LINE = "Car 0.00 0 -1.57 10 20 50 60 1.5 1.6 3.9 1 2 3 -1.5 0.9\n"


def _errors(capsys) -> tuple[list[str], str]:
    err = capsys.readouterr().err.splitlines()
    return [e for e in err if e.startswith("predport: error: ")], err[-1]


@pytest.fixture
def bad_canonical(tmp_path, hub):
    """A prediction set with five errors of five kinds (the schema's words would be anyOf/oneOf)."""
    results = tmp_path / "results.json"
    results.write_text(json.dumps([{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 0.5},
                                   {"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 0.6},
                                   {"image_id": 2, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 0.7}]))
    path = tmp_path / "bad.json"
    predport.convert(results, path)
    doc = orjson.loads(path.read_bytes())
    first, second = doc["frames"][0]["predictions"]
    first["score"], first["box"][2] = "high", -5
    del second["category_id"]
    doc["frames"][1]["width"] = 0
    doc["frames"][1]["bogus"] = 1
    path.write_bytes(orjson.dumps(doc))
    return path


def test_validate__a_prediction_set_reports_every_error_in_the_users_terms(bad_canonical, capsys):
    assert main(["validate", str(bad_canonical)]) == 1
    errors, last = _errors(capsys)
    # Each message is what the field must be, not "is not valid under any of the given schemas".
    assert [e.split(": ", 2)[2] for e in errors] == [
        f"{bad_canonical}, at $.frames[0].predictions[0].box[2], field 'box': must be at least 0 (got -5)",
        f"{bad_canonical}, at $.frames[0].predictions[0].score, field 'score': must be a number or null (got \"high\")",
        f"{bad_canonical}, at $.frames[0].predictions[1], field 'category_id': missing field 'category_id'",
        f"{bad_canonical}, at $.frames[1], field 'bogus': unknown field 'bogus'",
        f"{bad_canonical}, at $.frames[1].width, field 'width': must be more than 0 (got 0)",
    ]
    assert last == f"predport: {bad_canonical}: 5 errors (canonical)"
    assert not any("anyOf" in e or "oneOf" in e or "any of the given schemas" in e for e in errors)


def test_validate__errors_shown_are_bounded_and_all_are_counted(bad_canonical, capsys):
    assert main(["validate", str(bad_canonical), "--max-errors", "2"]) == 1
    errors, last = _errors(capsys)
    assert len(errors) == 2
    assert last == f"predport: {bad_canonical}: 5 errors (canonical); the first 2 are shown (--max-errors)"


def test_validate__json_lists_errors_located(bad_canonical, capsys):
    assert main(["validate", str(bad_canonical), "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["valid"] is False and out["errors_total"] == 5 and out["schema"] == predport.PREDICTION_SET_ID
    assert [(e["json_path"], e["field"]) for e in out["errors"]] == [
        ("$.frames[0].predictions[0].box[2]", "box"), ("$.frames[0].predictions[0].score", "score"),
        ("$.frames[0].predictions[1]", "category_id"), ("$.frames[1]", "bogus"), ("$.frames[1].width", "width")]


def test_validate__a_coco_results_file_is_recognised_and_every_bad_record_reported(tmp_path, hub, capsys):
    path = tmp_path / "results.json"
    path.write_text(json.dumps(COCO_RESULTS))
    assert main(["validate", str(path)]) == 1
    errors, last = _errors(capsys)
    assert [e.split(", at ")[1].split(",")[0] for e in errors] == ["$[1].bbox", "$[2].score", "$[3].bbox"]
    assert "got -3 and 4" in errors[0] and "'high'" in errors[1] and "[1, 2, 3]" in errors[2]
    assert last == f"predport: {path}: 3 errors (coco)"
    path.write_text(json.dumps(COCO_RESULTS[:1]))
    assert main(["validate", str(path)]) == 0
    assert capsys.readouterr().out.strip() == f"{path}: valid coco (1 frames)"


def test_validate__a_kitti_folder_reports_each_files_line_and_column(tmp_path, hub, capsys):
    folder = tmp_path / "label_2"
    folder.mkdir()
    (folder / "000001.txt").write_text(KITTI_LINE + KITTI_LINE.replace(" 50 60 ", " 5 60 "))
    (folder / "000002.txt").write_text(KITTI_LINE.replace(" 0.9\n", " zz\n"))
    assert main(["validate", str(folder), "--from", "kitti"]) == 1
    errors, last = _errors(capsys)
    assert len(errors) == 2
    assert f"{folder}/000001.txt:2:7, field 'bbox.right'" in errors[0]
    assert f"{folder}/000002.txt:1:16, field 'score'" in errors[1] and "'zz' is not a number" in errors[1]
    assert last == f"predport: {folder}: 2 errors (kitti)"
    (folder / "000001.txt").write_text(KITTI_LINE)
    (folder / "000002.txt").write_text(KITTI_LINE)
    assert main(["validate", str(folder)]) == 0  # detected
    assert capsys.readouterr().out.strip() == f"{folder}: valid kitti (2 frames)"


def test_validate__ground_truth_is_checked_through_its_reader(tmp_path, hub, capsys):
    gt = {"images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 50}],
          "categories": [{"id": 1, "name": "car"}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "area": 12, "iscrowd": 0},
                          {"id": 2, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3, -4], "area": 12,
                           "iscrowd": 0}]}
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(gt))
    assert main(["validate", str(path), "--role", "ground_truth"]) == 1
    errors, last = _errors(capsys)
    assert len(errors) == 1 and "$.annotations[1].bbox" in errors[0]
    assert last == f"predport: {path}: 1 error (coco)"


def test_validate__counts_what_convert_would_skip(tmp_path, hub, capsys):
    """The count validate reports is the count ``convert --policy skip`` skips."""
    path = tmp_path / "results.json"
    path.write_text(json.dumps(COCO_RESULTS * 7))
    assert main(["validate", str(path)]) == 1
    assert capsys.readouterr().err.splitlines()[-1].startswith(f"predport: {path}: 21 errors (coco); the first 20")
    summary = predport.convert(path, tmp_path / "out.json", policy="skip")
    assert summary["report"]["skipped"] == 21


def test_validate__unrecognised_input_and_bad_options_exit_without_a_traceback(tmp_path, hub, capsys):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01\x02")
    assert main(["validate", str(junk)]) == 1
    err = capsys.readouterr().err
    assert "no format recognised" in err and "Traceback" not in err
    path = tmp_path / "results.json"
    path.write_text(json.dumps(COCO_RESULTS[:1]))
    assert main(["validate", str(path), "-o", "no_such_option=1"]) == 2
    assert "no_such_option" in capsys.readouterr().err
