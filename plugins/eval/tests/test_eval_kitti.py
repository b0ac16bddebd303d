"""KITTI 2-D AP by difficulty against the official devkit's rules (cpp/evaluate_object.cpp), on
cases computed by hand.

With at most 40 countable ground-truth objects every true positive's score is a recall
threshold (``getThresholds`` keeps each: the recall step 1/n is at least 1/40), so with
``P[t]`` the monotone precision at the t-th true positive (in score order) the devkit's
``AP_R40`` is ``sum(P[1:]) / 40`` — the first point (recall 0) is not counted. With no
false positive above a threshold ``P[t] = 1`` and ``AP = (TP - 1) / 40``.
"""
from __future__ import annotations

from pathlib import Path

import pytest

import predport
import predport_eval
from predport_eval import kitti as K

CLEAR = (0.0, 0)  # truncation, occlusion


def gt_line(cls, box, trunc=0.0, occ=0):
    x1, y1, x2, y2 = box
    return f"{cls} {trunc:.2f} {occ} -10 {x1:.2f} {y1:.2f} {x2:.2f} {y2:.2f} -1 -1 -1 -1000 -1000 -1000 -10"


def det_line(cls, box, score):
    x1, y1, x2, y2 = box
    return f"{cls} -1 -1 -10 {x1:.2f} {y1:.2f} {x2:.2f} {y2:.2f} -1 -1 -1 -1000 -1000 -1000 -10 {score:.3f}"


def write(tmp_path: Path, gt: dict[str, list[str]], det: dict[str, list[str]]) -> tuple[Path, Path]:
    g, d = tmp_path / "gt" / "label_2", tmp_path / "results" / "data"
    g.mkdir(parents=True)
    d.mkdir(parents=True)
    for name, lines in gt.items():
        (g / f"{name}.txt").write_text("".join(f"{ln}\n" for ln in lines))
    for name in gt:
        (d / f"{name}.txt").write_text("".join(f"{ln}\n" for ln in det.get(name, [])))
    return d, g


def run(tmp_path, gt, det, **kw):
    d, g = write(tmp_path, gt, det)
    return predport_eval.evaluate(d, g, iou_type="kitti", **kw)


def ap(res, cls, difficulty):
    (row,) = [r for r in res.per_class if r["category"].casefold() == cls.casefold()]
    return row[f"AP_{difficulty}"]


BOX = (100.0, 100.0, 200.0, 150.0)  # height 50: countable at every difficulty when clear


def test_kitti__thirty_of_forty_found_is_29_over_40(tmp_path):
    gt = {f"{i:06d}": [gt_line("Car", BOX)] for i in range(40)}
    det = {f"{i:06d}": [det_line("Car", BOX, 0.90 - 0.01 * i)] for i in range(30)}
    # False positives scoring below every true positive never lower the precision.
    det["000035"] = [det_line("Car", (300, 100, 400, 150), 0.10)]
    res = run(tmp_path, gt, det)
    for d in K.DIFFICULTIES:
        assert ap(res, "Car", d) == pytest.approx(29 / 40, abs=1e-12)
        assert res.metrics[f"AP_{d}"] == pytest.approx(29 / 40, abs=1e-12)
    # Per frame (moderate): 30 TP, 10 FN, the low false positive counted on its frame.
    counts = {r.data_id: (r.tp, r.fp, r.fn) for r in res.per_frame}
    assert counts["000000"] == (1, 0, 0) and counts["000031"] == (0, 0, 1) and counts["000035"] == (0, 1, 1)
    assert res.per_frame[0].data_id == "000035"  # worst first
    assert res.per_frame[-1].mean_iou == pytest.approx(1.0)


def test_kitti__false_positive_after_ten_true_positives(tmp_path):
    gt = {f"{i:06d}": [gt_line("Car", BOX)] for i in range(40)}
    det = {f"{i:06d}": [det_line("Car", BOX, 0.90 - 0.01 * i)] for i in range(30)}
    det["000035"] = [det_line("Car", (300, 100, 400, 150), 0.805)]  # between the 10th (0.81) and 11th (0.80)
    res = run(tmp_path, gt, det)
    # P[t] = 1 for t < 10, (t+1)/(t+2) for t >= 10, monotone from the right: 30/31 for t in 10..29.
    want = (9 * 1.0 + 20 * (30 / 31)) / 40
    assert ap(res, "Car", "moderate") == pytest.approx(want, abs=1e-12)


def test_kitti__dontcare_absorbs_a_false_positive_inside_it(tmp_path):
    gt = {f"{i:06d}": [gt_line("Car", BOX)] for i in range(3)}
    det = {f"{i:06d}": [det_line("Car", BOX, s)] for i, s in enumerate((0.9, 0.8, 0.7))}
    det["000001"].append(det_line("Car", (300, 100, 400, 150), 0.95))  # a FP above every TP
    # Without a DontCare region: P = 1/2, 2/3, 3/4 -> monotone 3/4 each; AP = 2 * 3/4 / 40.
    res = run(tmp_path / "a", gt, det)
    assert ap(res, "Car", "easy") == pytest.approx(2 * 0.75 / 40, abs=1e-12)
    # The FP wholly inside a DontCare box (overlap over its own area 1 > 0.7): not counted.
    gt["000001"].append(gt_line("DontCare", (290, 90, 410, 160), -1, -1))
    res = run(tmp_path / "b", gt, det)
    assert ap(res, "Car", "easy") == pytest.approx(2 / 40, abs=1e-12)
    assert {r.data_id: r.fp for r in res.per_frame}["000001"] == 0
    # Only a quarter inside (300..340 of 300..400 wide, 100..150 of 100..150 high = 0.4): still a FP.
    gt["000001"][-1] = gt_line("DontCare", (250, 90, 340, 160), -1, -1)
    res = run(tmp_path / "c", gt, det)
    assert ap(res, "Car", "easy") == pytest.approx(2 * 0.75 / 40, abs=1e-12)


def test_kitti__difficulty_limits_height_occlusion(tmp_path):
    gt, det = {}, {}
    small = (100.0, 100.0, 200.0, 130.0)  # height 30: moderate and hard only
    for i in range(40):
        name = f"{i:06d}"
        if i < 20:
            gt[name] = [gt_line("Car", BOX)]
        elif i < 30:
            gt[name] = [gt_line("Car", small)]
        else:
            gt[name] = [gt_line("Car", BOX, 0.0, 2)]  # occluded 2: hard only
    found = list(range(0, 15)) + list(range(20, 25)) + [30, 31]
    for n, i in enumerate(found):
        name = f"{i:06d}"
        det[name] = [det_line("Car", small if 20 <= i < 30 else BOX, 0.99 - 0.01 * n)]
    res = run(tmp_path, gt, det)
    # easy: 20 countable, 15 TP (small detections are ignored, those on occluded cars take ignored GT).
    assert ap(res, "Car", "easy") == pytest.approx(14 / 40, abs=1e-12)
    assert ap(res, "Car", "moderate") == pytest.approx(19 / 40, abs=1e-12)  # 30 countable, 20 TP
    assert ap(res, "Car", "hard") == pytest.approx(21 / 40, abs=1e-12)  # 40 countable, 22 TP
    (row,) = res.per_class
    assert (row["ground_truth_easy"], row["ground_truth_moderate"], row["ground_truth_hard"]) == (20, 30, 40)


def test_kitti__truncation_limits(tmp_path):
    gt = {"000000": [gt_line("Car", BOX, 0.15, 0)], "000001": [gt_line("Car", BOX, 0.30, 1)],
          "000002": [gt_line("Car", BOX, 0.45, 0)], "000003": [gt_line("Car", BOX, 0.60, 0)],
          "000004": [gt_line("Car", BOX)]}
    det = {n: [det_line("Car", BOX, 0.9 - 0.1 * i)] for i, n in enumerate(gt)}
    res = run(tmp_path, gt, det)
    # easy counts truncation <= 0.15 and occlusion 0 (000000, 000004): 2 TP -> 1/40;
    # moderate <= 0.3 and occlusion <= 1: 3 TP -> 2/40; hard <= 0.5: 4 TP -> 3/40; 0.60 never counts.
    assert [ap(res, "Car", d) for d in K.DIFFICULTIES] == pytest.approx([1 / 40, 2 / 40, 3 / 40], abs=1e-12)


def test_kitti__detection_and_ground_truth_heights_at_the_limit(tmp_path):
    gt = {"000000": [gt_line("Car", BOX)], "000001": [gt_line("Car", BOX)],
          "000002": [gt_line("Car", BOX)], "000003": [gt_line("Car", (100, 100, 200, 140))]}  # GT height 40.00
    det = {"000000": [det_line("Car", BOX, 0.9)], "000001": [det_line("Car", BOX, 0.8)],
           "000003": [det_line("Car", (100, 100, 200, 140), 0.6)]}
    # 000002: a detection 39.9 px high (IoU 0.798 > 0.7) is under 40: ignored at easy, and the
    # ground truth it takes is neither TP nor FN; 40.0 px counts. Ground truth 40.00 px high
    # counts at easy (the devkit ignores height < 40; kitti-object-eval-python's <= would not).
    det["000002"] = [det_line("Car", (100, 100, 200, 139.9), 0.7)]
    res = run(tmp_path / "a", gt, det)
    assert ap(res, "Car", "easy") == pytest.approx(2 / 40, abs=1e-12)  # 3 TP of 4 countable
    det["000002"] = [det_line("Car", (100, 100, 200, 140), 0.7)]  # IoU 0.8
    res = run(tmp_path / "b", gt, det)
    assert ap(res, "Car", "easy") == pytest.approx(3 / 40, abs=1e-12)


def test_kitti__overlap_must_exceed_the_class_minimum(tmp_path):
    gt = {f"{i:06d}": [gt_line("Car", (0, 0, 100, 50))] for i in range(3)}
    det = {"000000": [det_line("Car", (0, 0, 100, 50), 0.9)], "000001": [det_line("Car", (0, 0, 100, 50), 0.8)],
           "000002": [det_line("Car", (0, 0, 70, 50), 0.95)]}  # IoU 3500/5000 = 0.7: not > 0.7
    res = run(tmp_path / "a", gt, det)
    # thresholds 0.9, 0.8: P = 1/2, 2/3 -> monotone 2/3, 2/3; AP = (2/3) / 40.
    assert ap(res, "Car", "moderate") == pytest.approx((2 / 3) / 40, abs=1e-12)
    det["000002"] = [det_line("Car", (0, 0, 71, 50), 0.95)]  # IoU 0.71
    res = run(tmp_path / "b", gt, det)
    assert ap(res, "Car", "moderate") == pytest.approx(2 / 40, abs=1e-12)
    # Pedestrian and Cyclist need 0.5 only: IoU 0.6 matches.
    gt = {f"{i:06d}": [gt_line("Pedestrian", (0, 0, 100, 50)), gt_line("Cyclist", (200, 0, 300, 50))]
          for i in range(2)}
    det = {f"{i:06d}": [det_line("Pedestrian", (0, 0, 60, 50), 0.9 - 0.1 * i),
                        det_line("cyclist", (200, 0, 250, 50), 0.9 - 0.1 * i)] for i in range(2)}
    res = run(tmp_path / "c", gt, det)
    assert ap(res, "Pedestrian", "moderate") == pytest.approx(1 / 40, abs=1e-12)
    assert ap(res, "Cyclist", "moderate") == 0.0  # IoU exactly 0.5: no match, 2 FP
    assert res.metrics["AP_moderate"] == pytest.approx((1 / 40 + 0.0) / 2, abs=1e-12)


def test_kitti__neighbouring_classes_take_detections_without_a_false_positive(tmp_path):
    gt = {f"{i:06d}": [gt_line("Car", BOX)] for i in range(3)}
    gt["000003"] = [gt_line("Van", BOX)]
    gt["000004"] = [gt_line("Person_sitting", BOX), gt_line("Pedestrian", (300, 100, 330, 160))]
    det = {f"{i:06d}": [det_line("Car", BOX, s)] for i, s in enumerate((0.9, 0.8, 0.7))}
    det["000003"] = [det_line("Car", BOX, 0.95)]  # on the Van: ignored, not a FP
    det["000004"] = [det_line("Pedestrian", BOX, 0.95), det_line("Pedestrian", (300, 100, 330, 160), 0.5)]
    res = run(tmp_path, gt, det)
    assert ap(res, "Car", "easy") == pytest.approx(2 / 40, abs=1e-12)
    # The Pedestrian on the Person_sitting is ignored too: one TP at 0.5 -> AP 0 (the first point).
    assert ap(res, "Pedestrian", "moderate") == 0.0
    assert {r.data_id: (r.tp, r.fp, r.fn) for r in res.per_frame}["000004"] == (1, 0, 0)
    # Van and Person_sitting are no class of their own; Cyclist absent from both sides is not listed.
    assert [r["category"] for r in res.per_class] == ["Car", "Pedestrian"]


def test_kitti__rule_functions_by_hand():
    # imageBoxOverlap: union and over-the-detection's-area criteria.
    det = [[0.0, 0.0, 10.0, 10.0]]
    other = [[5.0, 0.0, 15.0, 10.0], [20.0, 20.0, 30.0, 30.0]]
    import numpy as np

    assert K.overlap(np.array(det), np.array(other)).tolist() == [[50 / 150, 0.0]]
    assert K.overlap(np.array(det), np.array(other), 0).tolist() == [[0.5, 0.0]]
    # getThresholds with 80 ground truth (recall step 1/80, half a sample step): of 6 TP scores
    # the 1st, 2nd, 4th and 6th are kept (the 3rd and 5th fall between sample points).
    assert K.thresholds([0.9, 0.8, 0.7, 0.6, 0.5, 0.4], 80) == [0.9, 0.8, 0.6, 0.4]
    img = K.Image(gt_name=["car", "van", "car", "dontcare"],
                  gt_box=np.array([[0, 0, 10, 50], [0, 0, 10, 50], [0, 0, 10, 30], [0, 0, 5, 5]], float),
                  truncation=np.array([0.0, 0.0, 0.2, -1]), occlusion=np.array([0, 0, 1, -1]),
                  dt_name=["car", "car", "pedestrian"],
                  dt_box=np.array([[0, 0, 10, 50], [0, 0, 10, 24.99], [0, 0, 10, 50]], float),
                  dt_score=np.array([0.9, 0.8, 0.7]))
    ign_gt, ign_dt, dc, n = K.clean(img, "car", 1)  # moderate
    assert ign_gt.tolist() == [0, 1, 0, -1] and n == 2
    assert ign_dt.tolist() == [0, 1, -1] and dc.tolist() == [[0, 0, 5, 5]]
    ign_gt, ign_dt, dc, n = K.clean(img, "car", 0)  # easy: the 30 px car is ignored
    assert ign_gt.tolist() == [0, 1, 1, -1] and n == 1


def test_kitti__ground_truth_must_carry_difficulty_fields(tmp_path):
    import json

    gt = {"images": [{"id": 1, "file_name": "a.png", "width": 100, "height": 100}],
          "categories": [{"id": 1, "name": "Car"}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 50, 50], "area": 2500,
                           "iscrowd": 0}]}
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "res.json").write_text(json.dumps([{"image_id": 1, "category_id": 1, "bbox": [0, 0, 50, 50],
                                                     "score": 0.9}]))
    with pytest.raises(predport.ConfigError, match="truncation and occlusion"):
        predport_eval.evaluate(tmp_path / "res.json", tmp_path / "gt.json", iou_type="kitti")


def test_kitti__bbox_on_kitti_ground_truth_adds_kitti_metrics_and_leaves_dontcare_out(tmp_path):
    gt = {f"{i:06d}": [gt_line("Car", BOX), gt_line("DontCare", (300, 100, 400, 150), -1, -1)] for i in range(3)}
    det = {f"{i:06d}": [det_line("Car", BOX, 0.9 - 0.1 * i)] for i in range(3)}
    d, g = write(tmp_path, gt, det)
    res = predport_eval.evaluate(d, g)  # iou_type bbox, the ground truth is KITTI: both metric families
    assert res.metrics["AP"] == pytest.approx(1.0) and res.metrics["AP_easy"] == pytest.approx(2 / 40)
    assert [r["category"] for r in res.per_class] == ["Car"]
    assert res.per_class[0]["AP_moderate"] == pytest.approx(2 / 40)
    assert "DontCare" not in res.confusion.labels


def test_kitti__unscored_predictions_are_refused(tmp_path):
    gt = {"000000": [gt_line("Car", BOX)]}
    d, g = write(tmp_path, gt, {"000000": [gt_line("Car", BOX)]})
    with pytest.raises(predport.ConfigError, match="no score"):
        predport_eval.evaluate(d, g, iou_type="kitti")


def test_kitti__cli_gt_from_kitti_json_and_table(tmp_path, capsys):
    import json

    from predport.cli import main

    gt = {f"{i:06d}": [gt_line("Car", BOX)] for i in range(3)}
    det = {f"{i:06d}": [det_line("Car", BOX, 0.9 - 0.1 * i)] for i in range(2)}
    d, g = write(tmp_path, gt, det)
    assert main(["evaluate", str(d), str(g), "--from", "kitti", "--gt-from", "kitti", "--iou-type", "kitti",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["metrics"] == {"AP_easy": pytest.approx(1 / 40), "AP_moderate": pytest.approx(1 / 40),
                              "AP_hard": pytest.approx(1 / 40)}
    assert out["per_class"][0]["category"] == "Car" and out["per_class"][0]["ground_truth_moderate"] == 3
    assert sorted((r["data_id"], r["tp"], r["fn"]) for r in out["per_frame"]) == [
        ("000000", 1, 0), ("000001", 1, 0), ("000002", 0, 1)]
    assert main(["evaluate", str(d), str(g), "--iou-type", "kitti"]) == 0
    table = capsys.readouterr().out
    assert "AP_moderate" in table and "Car" in table
    # A results folder given as ground truth: refused with the reason, no traceback.
    assert main(["evaluate", str(d), str(d), "--gt-from", "kitti", "--iou-type", "kitti"]) != 0
    err = capsys.readouterr().err
    assert "read as ground truth, but this is predictions" in err and "Traceback" not in err
