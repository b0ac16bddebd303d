"""``predport evaluate``: the --json layout, --per-frame tables, --plots files and errors, as the issue states them."""
from __future__ import annotations

import contextlib
import csv
import io
import json

import numpy as np
import pytest

GT = "faster_coco_eval/instances_val2014_100.json"
BBOX = "cocoapi/instances_val2014_fakebbox100_results.json"
STAT_NAMES = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]


def run(argv):
    from predport.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["evaluate", *map(str, argv)])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def coco(coco_corpus):
    return coco_corpus(BBOX), coco_corpus(GT)


def test_cli__json_has_the_issue_keys_and_coco_stat_names(coco, ref):
    code, out, err = run([*coco, "--json"])
    assert code == 0, err
    doc = json.loads(out)
    assert {"metrics", "per_class", "per_frame", "unmatched"} <= set(doc)
    assert list(doc["metrics"]) == STAT_NAMES
    e = ref.eval(coco[1], coco[0], "bbox")
    assert np.allclose([doc["metrics"][k] for k in STAT_NAMES], e.stats, atol=1e-4)
    assert all({"category", "AP"} <= set(r) for r in doc["per_class"])
    assert len(doc["per_frame"]) == 100
    assert all({"data_id", "tp", "fp", "fn", "mean_iou"} <= set(r) for r in doc["per_frame"])
    errors = [r["fp"] + r["fn"] for r in doc["per_frame"]]
    assert errors == sorted(errors, reverse=True)
    assert isinstance(doc["unmatched"], dict)


def test_cli__table_by_default(coco):
    code, out, _ = run(coco)
    assert code == 0
    assert out.startswith("bbox evaluation") and "AP50" in out and "worst frames (of 100" in out


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_cli__per_frame_file_by_suffix(coco, tmp_path, suffix):
    import predport_eval

    want = [r.to_dict() for r in predport_eval.evaluate(*coco).per_frame]
    path = tmp_path / f"frames{suffix}"
    code, _, err = run([*coco, "--per-frame", path])
    assert code == 0, err
    if suffix == ".csv":
        rows = list(csv.DictReader(path.open()))
        assert list(rows[0]) == ["data_id", "frame_index", "tp", "fp", "fn", "mean_iou"]
        got = [(r["data_id"], int(r["tp"]), int(r["fp"]), int(r["fn"]),
                None if r["mean_iou"] == "" else float(r["mean_iou"])) for r in rows]
    else:
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        got = [(r["data_id"], r["tp"], r["fp"], r["fn"], r["mean_iou"]) for r in rows]
    assert got == [(w["data_id"], w["tp"], w["fp"], w["fn"], w["mean_iou"]) for w in want]


def test_cli__per_frame_other_suffix_refused_before_reading(coco, tmp_path):
    code, out, err = run([*coco, "--per-frame", tmp_path / "frames.txt"])
    assert code != 0 and "Traceback" not in err
    assert "--per-frame writes .csv or .jsonl" in err
    assert not (tmp_path / "frames.txt").exists()


def test_cli__plots_pr_curve_per_class_and_confusion_png(coco, tmp_path):
    pytest.importorskip("matplotlib")
    from PIL import Image

    import predport_eval

    res = predport_eval.evaluate(*coco)
    code, _, err = run([*coco, "--plots", tmp_path / "plots"])
    assert code == 0, err
    files = sorted(p.name for p in (tmp_path / "plots").iterdir())
    # one curve per class with ground truth (COCOeval's precision is -1 for the others)
    with_gt = [r["category"] for r in res.per_class if r["ground_truth"] > 0]
    assert "confusion.png" in files
    assert sorted(f for f in files if f.startswith("pr_")) == sorted(
        "pr_" + "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in c) + ".png" for c in with_gt)
    for name in files:
        with Image.open(tmp_path / "plots" / name) as im:
            assert im.format == "PNG"
            pixels = np.asarray(im.convert("L"))
            assert pixels.min() < 128  # something is drawn


def test_cli__bad_ground_truth_is_an_error_without_traceback(coco, tmp_path):
    bad = tmp_path / "gt.json"
    bad.write_text('{"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": [{"image_id": 1, "bbox": "x"}]')
    code, out, err = run([coco[0], bad])
    assert code != 0 and "Traceback" not in err and str(bad) in err


def test_cli__semantic_json_and_per_frame(tmp_path):
    from PIL import Image

    for side, arr in (("gt", [[0, 0, 1, 1], [0, 0, 1, 255]]), ("pred", [[0, 1, 1, 1], [0, 0, 2, 2]])):
        (tmp_path / side).mkdir()
        Image.fromarray(np.array(arr, dtype=np.uint8)).save(tmp_path / side / "a.png")
    frames = tmp_path / "frames.csv"
    code, out, err = run([tmp_path / "pred", tmp_path / "gt", "--iou-type", "semantic", "--json",
                          "--per-frame", frames])
    assert code == 0, err
    doc = json.loads(out)
    assert doc["metrics"] == pytest.approx({"mIoU": 1.25 / 3, "pixel_accuracy": 5 / 7,
                                            "mean_accuracy": (0.75 + 2 / 3) / 2})
    assert [r["IoU"] for r in doc["per_class"]] == [0.75, 0.5, 0.0]
    (row,) = csv.DictReader(frames.open())
    assert (row["tp"], row["fp"], row["fn"]) == ("5", "2", "2")
    assert float(row["pixel_accuracy"]) == pytest.approx(5 / 7)
    # --ignore-value none: 255 is a class, the pixel predicted 2 on it is wrong
    code, out, err = run([tmp_path / "pred", tmp_path / "gt", "--iou-type", "semantic", "--json",
                          "--ignore-value", "none"])
    assert code == 0, err
    assert json.loads(out)["metrics"]["pixel_accuracy"] == pytest.approx(5 / 8)


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_cli__per_detection_file_agrees_with_the_per_frame_counts(coco, tmp_path, suffix, ref):
    import predport_eval

    res = predport_eval.evaluate(*coco, per_detection=True)
    path = tmp_path / f"dets{suffix}"
    code, _, err = run([*coco, "--per-detection", path])
    assert code == 0, err
    if suffix == ".csv":
        rows = list(csv.DictReader(path.open()))
        assert list(rows[0]) == ["data_id", "frame_index", "row", "category", "score", "status", "iou"]
    else:
        lines = path.read_text().splitlines()
        rows = [json.loads(line) for line in lines]
        # the same text json.dumps gives for each row
        assert lines == [json.dumps(r) for r in res.per_detection]
    e = ref.eval(coco[1], coco[0], "bbox")
    assert len(rows) == len(e.cocoDt.anns)  # one row per detection
    tp = {}
    for r in rows:
        tp[r["data_id"]] = tp.get(r["data_id"], 0) + (r["status"] == "tp")
    for f in res.per_frame:
        assert tp.get(f.data_id, 0) == f.tp
    matched = [r for r in rows if r["status"] == "tp"]
    assert all(float(r["iou"]) >= 0.5 for r in matched)
