"""Acceptance: the corpus COCO fake bbox results converted to KITTI and to YOLO (with sizes)
and evaluated against the COCO ground truth give the COCO stats, within what the target
format's printed precision allows."""
from __future__ import annotations

import json

import numpy as np
import pytest

import predport
import predport_eval

GT = "faster_coco_eval/instances_val2014_100.json"
BBOX = "cocoapi/instances_val2014_fakebbox100_results.json"
STATS = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]
THRESHOLDS = np.linspace(0.5, 0.95, 10)


def _convert(results, gt, out, fmt):
    s = predport.load(results, "coco", read_options={"gt": str(gt)})
    # KITTI and YOLO keep class names only (no COCO ids / supercategories): that loss is allowed.
    predport.save(s, out, fmt, allow_loss=True)
    return out


def _stats(res):
    return np.array([res.metrics[k] for k in STATS])


def test_across__kitti_gives_the_coco_stats(coco_corpus, tmp_path, ref):
    gt, results = coco_corpus(GT), coco_corpus(BBOX)
    want = ref.eval(gt, results, "bbox").stats
    folder = _convert(results, gt, tmp_path / "kitti", "kitti")
    # Boxes are written as corners with 2 decimals; the results have 2 decimals: nothing is rounded.
    got = predport_eval.evaluate(folder, gt)
    assert np.allclose(_stats(got), want, atol=1e-4, rtol=0)
    assert got.unmatched["prediction_classes_not_in_ground_truth"] == {}  # "traffic_light" ~ "traffic light"
    assert got.unmatched["frames_matched_by"] == {"base_name": 99}  # COCO_..._000000000042.txt ~ .jpg
    direct = predport_eval.evaluate(results, gt)
    assert {(r.data_id, r.tp, r.fp, r.fn) for r in got.per_frame} == \
        {(r.data_id, r.tp, r.fp, r.fn) for r in direct.per_frame}


def _readback_results(folder, gt_doc):
    """The YOLO files' boxes as a COCO results list (full float precision), by file name."""
    s = predport.load(folder, "yolo")
    ids = {im["file_name"]: im["id"] for im in gt_doc["images"]}
    cats = {c["name"]: c["id"] for c in gt_doc["categories"]}
    names = {c.id: c.name for c in s.categories}
    out = []
    for f in s.frames:
        d = f.predictions
        for c, sc, b in zip(d.category_id.tolist(), d.score.tolist(), d.box.tolist()):
            out.append({"image_id": ids[f.data_id], "category_id": cats[names[c]], "bbox": b, "score": sc})
    return out


def test_across__yolo_gives_the_coco_stats_within_its_printed_precision(coco_corpus, tmp_path, ref):
    gt, results = coco_corpus(GT), coco_corpus(BBOX)
    gt_doc = json.loads(gt.read_text())
    folder = _convert(results, gt, tmp_path / "yolo", "yolo")
    got = predport_eval.evaluate(folder, gt)  # sizes from the writer's sizes.json
    # 1. Nothing but the representation changes: pycocotools on the boxes the YOLO files hold.
    back = _readback_results(folder, gt_doc)
    assert np.allclose(_stats(got), ref.eval(gt, back, "bbox").stats, atol=1e-4, rtol=0)
    # 2. Those boxes are the original ones to YOLO's printed precision (12 significant digits).
    orig = json.loads(results.read_text())
    key = lambda r: (r["image_id"], r["score"], r["category_id"])  # noqa: E731
    a = np.array([r["bbox"] for r in sorted(orig, key=key)])
    b = np.array([r["bbox"] for r in sorted(back, key=key)])
    assert a.shape == b.shape and np.abs(a - b).max() < 1e-6
    # 3. Against COCO directly: the fake results are ground truth shifted by whole pixels, so
    # some IoUs sit on a COCO threshold (0.6000000000000004 >= 0.6); a 1e-10 px change moves
    # them across. Without the detections whose IoU is that close to a threshold, equal.
    direct = predport_eval.evaluate(results, gt)
    assert np.abs(_stats(got) - _stats(direct)).max() < 2e-3
    anns: dict[tuple[int, int], list] = {}
    for g in gt_doc["annotations"]:
        anns.setdefault((g["image_id"], g["category_id"]), []).append(g["bbox"])

    def on_threshold(r):
        for g in anns.get((r["image_id"], r["category_id"]), []):
            x, y, w, h = r["bbox"]
            iw = min(x + w, g[0] + g[2]) - max(x, g[0])
            ih = min(y + h, g[1] + g[3]) - max(y, g[1])
            if iw > 0 and ih > 0:
                iou = iw * ih / (w * h + g[2] * g[3] - iw * ih)
                if np.abs(THRESHOLDS - iou).min() < 1e-9:
                    return True
        return False

    kept = [r for r in orig if not on_threshold(r)]
    assert 0 < len(orig) - len(kept) < len(orig) // 10
    (tmp_path / "kept.json").write_text(json.dumps(kept))
    direct = predport_eval.evaluate(tmp_path / "kept.json", gt)
    via = predport_eval.evaluate(_convert(tmp_path / "kept.json", gt, tmp_path / "yolo2", "yolo"), gt)
    assert np.allclose(_stats(via), _stats(direct), atol=1e-4, rtol=0)
    assert np.allclose(_stats(direct), ref.eval(gt, kept, "bbox").stats, atol=1e-4, rtol=0)
