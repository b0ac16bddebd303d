"""COCO metrics equal pycocotools' COCOeval on the corpus acceptance case and on crafted cases."""
from __future__ import annotations

import json

import numpy as np
import pytest

import predport
import predport_eval

GT = "faster_coco_eval/instances_val2014_100.json"
BBOX = "cocoapi/instances_val2014_fakebbox100_results.json"
SEGM = "cocoapi/instances_val2014_fakesegm100_results.json"
STAT_NAMES = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]


@pytest.mark.parametrize("iou_type,results", [("bbox", BBOX), ("segm", SEGM)])
def test_coco__corpus_stats_equal_pycocotools(coco_corpus, iou_type, results, ref):
    e = ref.eval(coco_corpus(GT), coco_corpus(results), iou_type)
    got = predport_eval.evaluate(coco_corpus(results), coco_corpus(GT), iou_type=iou_type)
    assert list(got.metrics) == STAT_NAMES
    assert np.allclose([got.metrics[k] for k in STAT_NAMES], e.stats, atol=1e-4, rtol=0)
    # Per class: COCOeval's precision for each category, IoU .5:.95, area all, 100 dets.
    prec = e.eval["precision"][:, :, :, 0, -1]
    for k, row in enumerate(got.per_class):
        assert row["category_id"] == e.params.catIds[k]
        p = prec[:, :, k]
        want = float(np.mean(p[p > -1])) if (p > -1).any() else -1.0
        assert row["AP"] == pytest.approx(want, abs=1e-4)


@pytest.mark.parametrize("top", [1, 5, 20])
def test_coco__max_dets_below_and_above_ten_equal_pycocotools(coco_corpus, ref, top):
    # COCOeval run with maxDets [1, min(10, top), top] (an image keeps ``top`` detections), its
    # statistics read from its precision and recall arrays: its summarize() hard-codes 100
    # detections for AP and the area rows, so it prints -1 for them whenever top != 100.
    md = [1, min(10, top), top]
    e = ref.eval(coco_corpus(GT), coco_corpus(BBOX), "bbox", max_dets=md)
    prec, rec = e.eval["precision"], e.eval["recall"]
    areas = list(e.params.areaRngLbl)
    want: dict[str, float] = {}
    for name, (iou, area, m) in zip(STAT_NAMES, [
            (None, "all", 2), (0.5, "all", 2), (0.75, "all", 2), (None, "small", 2), (None, "medium", 2),
            (None, "large", 2), (None, "all", 0), (None, "all", 1), (None, "all", 2), (None, "small", 2),
            (None, "medium", 2), (None, "large", 2)]):
        t = slice(None) if iou is None else [int(np.argmin(abs(e.params.iouThrs - iou)))]
        arr = prec[t, :, :, areas.index(area), m] if name.startswith("AP") else rec[t, :, areas.index(area), m]
        want[name if name != "AR100" else f"AR{top}"] = float(np.mean(arr[arr > -1]))
    assert e.stats[6] == pytest.approx(want["AR1"], abs=1e-12)  # the reading is pycocotools' own where it works
    got = predport_eval.evaluate(coco_corpus(BBOX), coco_corpus(GT), max_dets=top)
    assert list(got.metrics) == list(want)
    assert np.allclose([got.metrics[k] for k in want], list(want.values()), atol=1e-4, rtol=0)


def test_coco__max_dets_below_one_is_refused(coco_corpus):
    with pytest.raises(predport.ConfigError, match="max_dets"):
        predport_eval.evaluate(coco_corpus(BBOX), coco_corpus(GT), max_dets=0)


@pytest.mark.parametrize("iou_type,results", [("bbox", BBOX), ("segm", SEGM)])
def test_coco__per_frame_counts_equal_pycocotools_per_image_matching(coco_corpus, iou_type, results, ref):
    e = ref.eval(coco_corpus(GT), coco_corpus(results), iou_type)
    want = ref.per_image_counts(e)
    got = predport_eval.evaluate(coco_corpus(results), coco_corpus(GT), iou_type=iou_type)
    doc = json.loads(coco_corpus(GT).read_text())
    name_to_id = {im["file_name"]: im["id"] for im in doc["images"]}
    assert len(got.per_frame) == len(doc["images"])
    for r in got.per_frame:
        assert (r.tp, r.fp, r.fn) == want.get(name_to_id[r.data_id], (0, 0, 0)), r
    errors = [r.fp + r.fn for r in got.per_frame]
    assert errors == sorted(errors, reverse=True)  # worst first


def test_coco__mean_iou_of_matched_pairs_by_hand(tmp_path, ref):
    gt = {"images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 100}],
          "categories": [{"id": 1, "name": "car"}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100, "iscrowd": 0},
                          {"id": 2, "image_id": 1, "category_id": 1, "bbox": [50, 50, 10, 10], "area": 100,
                           "iscrowd": 0}]}
    # IoU 1 with the first; 50/150 = 1/3 with the second (a miss at 0.5); one far off (FP).
    res = [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9},
           {"image_id": 1, "category_id": 1, "bbox": [55, 50, 10, 10], "score": 0.8},
           {"image_id": 1, "category_id": 1, "bbox": [80, 0, 5, 5], "score": 0.7}]
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "res.json").write_text(json.dumps(res))
    got = predport_eval.evaluate(tmp_path / "res.json", tmp_path / "gt.json")
    (frame,) = got.per_frame
    assert (frame.tp, frame.fp, frame.fn) == (1, 2, 1) and frame.mean_iou == pytest.approx(1.0)
    loose = predport_eval.evaluate(tmp_path / "res.json", tmp_path / "gt.json", iou_threshold=0.3)
    (frame,) = loose.per_frame
    assert (frame.tp, frame.fp, frame.fn) == (2, 1, 0) and frame.mean_iou == pytest.approx((1 + 1 / 3) / 2)
    strict = predport_eval.evaluate(tmp_path / "res.json", tmp_path / "gt.json", score_threshold=0.85)
    (frame,) = strict.per_frame
    assert (frame.tp, frame.fp, frame.fn) == (1, 0, 1)
    # Confusion at IoU 0.5: car->car 1, the missed car in the background column, 2 detections on background.
    cm = got.confusion
    assert cm.labels == ["car", "background"] and cm.matrix == [[1, 1], [2, 0]]
    e = ref.eval(tmp_path / "gt.json", tmp_path / "res.json", "bbox")
    assert np.allclose([got.metrics[k] for k in STAT_NAMES], e.stats, atol=1e-12)


def test_coco__crowd_absorbs_detections_as_pycocotools_does(tmp_path, ref):
    gt = {"images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 100},
                     {"id": 2, "file_name": "b.jpg", "width": 100, "height": 100}],
          "categories": [{"id": 1, "name": "person"}, {"id": 2, "name": "dog"}],
          "annotations": [
              {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 50, 50], "area": 2500, "iscrowd": 1},
              {"id": 2, "image_id": 1, "category_id": 1, "bbox": [60, 60, 20, 20], "area": 400, "iscrowd": 0},
              {"id": 3, "image_id": 2, "category_id": 2, "bbox": [10, 10, 30, 30], "area": 900, "iscrowd": 0,
               "ignore": 1}]}
    res = [{"image_id": 1, "category_id": 1, "bbox": [5, 5, 10, 10], "score": 0.9},     # inside the crowd
           {"image_id": 1, "category_id": 1, "bbox": [20, 20, 10, 10], "score": 0.8},   # inside the crowd too
           {"image_id": 1, "category_id": 1, "bbox": [60, 60, 20, 20], "score": 0.7},   # TP
           {"image_id": 2, "category_id": 2, "bbox": [10, 10, 30, 30], "score": 0.6},
           {"image_id": 2, "category_id": 2, "bbox": [70, 70, 5, 5], "score": 0.95}]
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "res.json").write_text(json.dumps(res))
    got = predport_eval.evaluate(tmp_path / "res.json", tmp_path / "gt.json")
    e = ref.eval(tmp_path / "gt.json", tmp_path / "res.json", "bbox")
    assert np.allclose([got.metrics[k] for k in STAT_NAMES], e.stats, atol=1e-12)
    want = ref.per_image_counts(e)
    by_name = {r.data_id: (r.tp, r.fp, r.fn) for r in got.per_frame}
    assert by_name == {"a.jpg": want[1], "b.jpg": want[2]}
    assert by_name["a.jpg"] == (1, 0, 0)  # the crowd absorbs both detections: neither TP nor FP


def test_coco__backends_agree(coco_corpus):
    pytest.importorskip("faster_coco_eval")
    ours = predport_eval.evaluate(coco_corpus(BBOX), coco_corpus(GT))
    for backend in ("pycocotools", "faster-coco-eval"):
        other = predport_eval.evaluate(coco_corpus(BBOX), coco_corpus(GT), backend=backend)
        assert np.allclose([other.metrics[k] for k in STAT_NAMES], [ours.metrics[k] for k in STAT_NAMES],
                           atol=1e-4), backend


def test_coco__keypoints_equal_pycocotools(coco_corpus, ref):
    gt, dt = coco_corpus("faster_coco_eval/keypoints_gt_dataset.json"), coco_corpus(
        "faster_coco_eval/keypoints_dt_dataset.json")
    e = ref.eval(gt, dt, "keypoints")
    got = predport_eval.evaluate(dt, gt, iou_type="keypoints")
    assert list(got.metrics) == ["AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl"]
    assert np.allclose(list(got.metrics.values()), e.stats, atol=1e-4)


def test_coco__json_layout_has_the_documented_keys(coco_corpus):
    got = predport_eval.evaluate(coco_corpus(BBOX), coco_corpus(GT)).to_dict()
    assert {"metrics", "per_class", "per_frame", "unmatched"} <= set(got)
    assert set(got["per_frame"][0]) >= {"data_id", "tp", "fp", "fn", "mean_iou"}
    assert {"category", "AP"} <= set(got["per_class"][0])
    json.dumps(got, allow_nan=False)  # strict JSON: no NaN


def test_coco__unmatched_frames_and_classes_are_counted(tmp_path):
    gt = {"images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 100},
                     {"id": 2, "file_name": "b.jpg", "width": 100, "height": 100}],
          "categories": [{"id": 1, "name": "car"}, {"id": 2, "name": "bus"}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100,
                           "iscrowd": 0}]}
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    preds = predport.PredictionSet(
        categories=[predport.Category(id=5, name="CAR"), predport.Category(id=6, name="tram")],
        frames=[predport.Frame(data_id="a.png", predictions=predport.Detections([5, 6], [0.9, 0.8],
                                                                                [[0, 0, 10, 10], [0, 0, 5, 5]])),
                predport.Frame(data_id="zzz.png", predictions=predport.Detections([5], [0.5], [[1, 1, 2, 2]]))])
    got = predport_eval.evaluate(preds, tmp_path / "gt.json")
    u = got.unmatched
    assert u["prediction_frames_without_ground_truth"] == 1
    assert u["predictions_on_frames_without_ground_truth"] == 1
    assert u["ground_truth_frames_without_predictions"] == 1
    assert u["prediction_classes_not_in_ground_truth"] == {"tram": 1}
    assert u["ground_truth_classes_without_prediction_class"] == ["bus"]
    assert u["frames_matched_by"] == {"base_name": 1}
    assert got.metrics["AP"] == pytest.approx(1.0)  # "CAR" matched "car" case-insensitively


def test_coco__attach_writes_eval_attributes_on_prediction_frames(coco_corpus, tmp_path):
    res = predport_eval.evaluate(coco_corpus(BBOX), coco_corpus(GT))
    preds = predport.load(coco_corpus(BBOX))
    out = predport_eval.attach(preds, res)
    by_name = {(r.data_id): r for r in res.per_frame}
    doc = json.loads(coco_corpus(GT).read_text())
    id_to_name = {im["id"]: im["file_name"] for im in doc["images"]}
    for f in out.frames:
        r = by_name[id_to_name[int(f.data_id)]]
        assert (f.attributes["eval.tp"], f.attributes["eval.fp"], f.attributes["eval.fn"]) == (r.tp, r.fp, r.fn)
        assert f.attributes["eval.mean_iou"] == r.mean_iou
    predport.save(out, tmp_path / "with_eval.json")
    back = predport.load(tmp_path / "with_eval.json")
    assert back.frames[0].attributes["eval.tp"] == out.frames[0].attributes["eval.tp"]


def test_coco__confusion_matrix_equals_a_plain_greedy_walk(tmp_path):
    """Random scenes: the confusion matrix equals the greedy walk written out pair by pair."""
    rng = np.random.default_rng(3)
    images, anns, res = [], [], []
    for i in range(1, 41):
        images.append({"id": i, "file_name": f"{i}.jpg", "width": 200, "height": 200})
        for _ in range(rng.integers(0, 6)):
            x, y, w, h = rng.uniform(0, 150, 2).tolist() + rng.uniform(5, 50, 2).tolist()
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": int(rng.integers(1, 4)),
                         "bbox": [x, y, w, h], "area": w * h, "iscrowd": int(rng.random() < 0.05)})
            for _ in range(rng.integers(0, 3)):
                j = rng.normal(0, 4, 4)
                res.append({"image_id": i, "category_id": int(rng.integers(1, 4)),
                            "bbox": [x + j[0], y + j[1], max(w + j[2], 1), max(h + j[3], 1)],
                            "score": float(rng.random())})
        for _ in range(rng.integers(0, 3)):
            res.append({"image_id": i, "category_id": int(rng.integers(1, 4)),
                        "bbox": rng.uniform(0, 150, 2).tolist() + rng.uniform(5, 50, 2).tolist(),
                        "score": float(rng.random())})
    cats = [{"id": c, "name": n} for c, n in ((1, "a"), (2, "b"), (3, "c"))]
    (tmp_path / "gt.json").write_text(json.dumps({"images": images, "annotations": anns, "categories": cats}))
    (tmp_path / "res.json").write_text(json.dumps(res))

    def iou(d, g, crowd):
        w = min(d[0] + d[2], g[0] + g[2]) - max(d[0], g[0])
        h = min(d[1] + d[3], g[1] + g[3]) - max(d[1], g[1])
        inter = w * h if w > 0 and h > 0 else 0.0
        return inter / (d[2] * d[3] if crowd else d[2] * d[3] + g[2] * g[3] - inter)

    for score_threshold in (None, 0.5):
        want = np.zeros((4, 4), dtype=int)
        for i in range(1, 41):
            gts = [a for a in anns if a["image_id"] == i]
            dts = [(k, r) for k, r in enumerate(res) if r["image_id"] == i
                   and (score_threshold is None or r["score"] >= score_threshold)]
            pairs = []
            on_crowd = set()
            for k, r in dts:
                for a in gts:
                    v = iou(r["bbox"], a["bbox"], a["iscrowd"])
                    if v >= 0.5:
                        if a["iscrowd"]:
                            on_crowd.add(k)
                        else:
                            pairs.append((-v, k, a["id"]))
            used_d, used_g = set(), set()
            for _, k, gid in sorted(pairs):
                if k in used_d or gid in used_g:
                    continue
                used_d.add(k)
                used_g.add(gid)
                want[anns[gid - 1]["category_id"] - 1, res[k]["category_id"] - 1] += 1
            for a in gts:
                if not a["iscrowd"] and a["id"] not in used_g:
                    want[a["category_id"] - 1, 3] += 1
            for k, r in dts:
                if k not in used_d and k not in on_crowd:
                    want[3, r["category_id"] - 1] += 1
        got = predport_eval.evaluate(tmp_path / "res.json", tmp_path / "gt.json", score_threshold=score_threshold)
        assert got.confusion.labels == ["a", "b", "c", "background"]
        assert got.confusion.matrix == want.tolist(), score_threshold


def test_coco__long_dataset_detected_as_ground_truth_results_in_one_refused(tmp_path, ref):
    """A dataset whose annotations come after a long images list (instances_val2017.json):
    its head cannot tell labels from results; read as ground truth it is tried as COCO, and
    scored annotations are refused, not evaluated."""
    images = [{"id": i, "file_name": f"{i:012d}.jpg", "width": 640, "height": 480} for i in range(1, 5001)]
    anns = [{"id": 1, "image_id": 7, "category_id": 1, "bbox": [10, 10, 50, 50], "area": 2500, "iscrowd": 0}]
    doc = {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "cat"}]}
    (tmp_path / "instances.json").write_text(json.dumps(doc))
    assert not any(v.confidence > predport.Confidence.EXTENSION for v in predport.detect(tmp_path / "instances.json"))
    res = [{"image_id": 7, "category_id": 1, "bbox": [12, 10, 50, 50], "score": 0.9}]
    (tmp_path / "res.json").write_text(json.dumps(res))
    got = predport_eval.evaluate(tmp_path / "res.json", tmp_path / "instances.json")
    assert got.settings["ground_truth_format"] == "coco"
    e = ref.eval(tmp_path / "instances.json", tmp_path / "res.json", "bbox")
    assert np.allclose([got.metrics[k] for k in STAT_NAMES], e.stats, atol=1e-12)
    doc["annotations"][0]["score"] = 0.5
    (tmp_path / "scored.json").write_text(json.dumps(doc))
    with pytest.raises(predport.ParseError, match="read as ground truth, but this is predictions"):
        predport_eval.evaluate(tmp_path / "res.json", tmp_path / "scored.json")
