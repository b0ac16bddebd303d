"""Semantic mask scores: hand-computed cases and an independent reading of corpus masks.

The reference here never goes through predport: masks are decoded with Pillow and scored
with mmseg's ``intersect_and_union`` formula written out with numpy histograms.
"""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

import predport
import predport_eval
from predport.testing import require_corpus
from predport_eval.semantic import semantic_scores


def _png(path, array):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(path)


GT = np.array([[0, 0, 1, 1],
               [0, 0, 1, 255]])
PRED = np.array([[0, 1, 1, 1],
                 [0, 0, 2, 2]])
# counted pixels: 7 (the 255 ground-truth pixel is left out, with the 2 predicted on it)
# class 0: gt 4, pred 3 (all correct)  -> TP 3, union 4      -> IoU 0.75
# class 1: gt 3, pred 3 on counted pixels (one is gt 0)  -> TP 2, union 3+3-2=4 -> IoU 0.5
# class 2: gt 0, pred 1 (on gt 1)     -> TP 0, union 1      -> IoU 0.0
# mIoU = (0.75 + 0.5 + 0) / 3; pixel accuracy = 5 / 7; mean accuracy over gt classes (3/4 + 2/3) / 2
HAND = {"mIoU": 1.25 / 3, "pixel_accuracy": 5 / 7, "mean_accuracy": (0.75 + 2 / 3) / 2}


def test_semantic__arrays_hand_computed():
    metrics, rows = semantic_scores([(PRED, GT)])
    assert [r["IoU"] for r in rows] == [0.75, 0.5, 0.0]
    assert metrics == pytest.approx(HAND)
    assert rows[2]["accuracy"] is None


def test_semantic__arrays_ignore_values_and_shape_refusal():
    gt = np.array([[0, 1], [2, 2]])
    pred = np.array([[0, 1], [1, 1]])
    m, rows = semantic_scores([(pred, gt)], ignore_values=(2,))
    # class 2 ignored: only the two top pixels count, both right
    assert m["mIoU"] == 1.0 and m["pixel_accuracy"] == 1.0
    m, _ = semantic_scores([(pred, gt)], ignore_values=())
    # class 2 counted: class 1 TP 1 union 3 -> 1/3; class 2 0; class 0 1 -> mIoU 4/9
    assert m["mIoU"] == pytest.approx((1 + 1 / 3 + 0) / 3)
    with pytest.raises(predport.ConfigError, match="shape"):
        semantic_scores([(pred, gt[:1])])


def test_semantic__evaluate_png_masks_hand_computed(tmp_path):
    _png(tmp_path / "gt" / "a.png", GT)
    _png(tmp_path / "pred" / "a.png", PRED)
    _png(tmp_path / "gt" / "b.png", np.ones((2, 2)))  # no prediction: every pixel a miss of class 1
    res = predport_eval.evaluate(tmp_path / "pred", tmp_path / "gt", iou_type="semantic")
    # b adds 4 gt pixels of class 1, none predicted: class 1 gt 7, TP 2, pred 3 -> IoU 2/8
    # class 0 unchanged 0.75; class 2 0; counted 11, right 5
    assert res.metrics == pytest.approx({"mIoU": (0.75 + 0.25 + 0) / 3, "pixel_accuracy": 5 / 11,
                                         "mean_accuracy": (0.75 + 2 / 7) / 2})
    assert [(r["category"], r["IoU"]) for r in res.per_class] == [("0", 0.75), ("1", 0.25), ("2", 0.0)]
    by_id = {r.data_id: r for r in res.per_frame}
    assert (by_id["a"].tp, by_id["a"].fp, by_id["a"].fn) == (5, 2, 2)
    assert by_id["a"].mean_iou == pytest.approx(1.25 / 3) and by_id["a"].pixel_accuracy == pytest.approx(5 / 7)
    assert (by_id["b"].tp, by_id["b"].fp, by_id["b"].fn, by_id["b"].mean_iou) == (0, 0, 4, 0.0)
    assert res.per_frame[0].data_id == "b"  # lowest mIoU first
    assert res.confusion.labels == ["0", "1", "2", "unlabelled"]
    assert res.confusion.matrix == [[3, 1, 0, 0], [0, 2, 1, 4], [0, 0, 0, 0], [0, 0, 0, 0]]
    u = res.unmatched
    assert u["prediction_classes_not_in_ground_truth"] == {"2": 1}
    assert u["ground_truth_frames_without_predictions"] == 1
    assert u["ignored_ground_truth_classes"] == [255]
    # Ignore values: none (255 becomes a class; the 2 predicted on it is wrong) and 0 as well.
    res = predport_eval.evaluate(tmp_path / "pred", tmp_path / "gt", iou_type="semantic", ignore_values=())
    assert {r["category"]: r["IoU"] for r in res.per_class}["255"] == 0.0
    assert res.metrics["pixel_accuracy"] == pytest.approx(5 / 12)
    res = predport_eval.evaluate(tmp_path / "pred", tmp_path / "gt", iou_type="semantic", ignore_values=(0, 255))
    assert [r["category"] for r in res.per_class] == ["1", "2"]
    assert res.metrics["pixel_accuracy"] == pytest.approx(2 / 7)  # counted: class 1 only, 3 + 4 pixels


def test_semantic__shape_mismatch_is_refused(tmp_path):
    _png(tmp_path / "gt" / "a.png", GT)
    _png(tmp_path / "pred" / "a.png", PRED[:, :3])
    with pytest.raises(predport.ConfigError, match="3x2.*4x2"):
        predport_eval.evaluate(tmp_path / "pred", tmp_path / "gt", iou_type="semantic")


def _reference(pairs, ignore=255):
    """mmseg's intersect_and_union, summed over pairs, with numpy histograms: {class: IoU}, aAcc."""
    inter, area_p, area_g = {}, {}, {}
    for p, g in pairs:
        keep = g != ignore
        p, g = p[keep], g[keep]
        hit = p[p == g]
        n = int(max(p.max(initial=0), g.max(initial=0))) + 1
        for store, values in ((inter, hit), (area_p, p), (area_g, g)):
            counts = np.histogram(values, bins=n, range=(0, n))[0]
            for c in range(n):
                store[c] = store.get(c, 0) + int(counts[c])
    ious = {c: inter[c] / (area_p[c] + area_g[c] - inter[c]) for c in inter
            if area_p[c] + area_g[c] - inter[c] and c != ignore}
    acc = sum(inter.values()) / sum(area_g.values())
    return ious, acc


def _voc_masks():
    from PIL import Image

    out = {}
    for sub in ("labelme_voc", "labelformat_voc"):
        root = require_corpus("png_masks", sub, "SegmentationClass")
        for p in sorted(root.rglob("*.png")):
            out[p.stem] = (p, np.asarray(Image.open(p)).astype(np.int64))
    return out


def test_semantic__corpus_voc_masks_equal_the_mmseg_formula(tmp_path):
    """Real VOC class-index masks (255 void) as ground truth; predictions perturbed from them."""
    masks = _voc_masks()
    rng = np.random.default_rng(7)
    pairs = []
    (tmp_path / "gt").mkdir()
    for stem, (path, g) in masks.items():
        os.symlink(path, tmp_path / "gt" / f"{stem}.png")
        p = np.where(g == 255, 0, g)
        flip = rng.random(g.shape) < 0.15
        p[flip] = rng.choice([0, 1, 5, 15, 7], size=int(flip.sum()))
        p[: g.shape[0] // 4, : g.shape[1] // 3] = 15  # a block of one wrong class
        _png(tmp_path / "pred" / f"{stem}.png", p)
        pairs.append((p, g))
    ious, acc = _reference(pairs)
    res = predport_eval.evaluate(tmp_path / "pred", tmp_path / "gt", iou_type="semantic")
    assert {r["category_id"]: r["IoU"] for r in res.per_class} == pytest.approx(ious, abs=1e-12)
    assert res.metrics["mIoU"] == pytest.approx(np.mean(list(ious.values())), abs=1e-12)
    assert res.metrics["pixel_accuracy"] == pytest.approx(acc, abs=1e-12)
    for (p, g), stem in zip(pairs, masks):
        f = next(r for r in res.per_frame if r.data_id == stem)
        fi, fa = _reference([(p, g)])
        assert f.mean_iou == pytest.approx(np.mean(list(fi.values())), abs=1e-12)
        assert f.pixel_accuracy == pytest.approx(fa, abs=1e-12)
        assert f.tp == int(((p == g) & (g != 255)).sum())


def _voc_colormap(n=256):
    """PASCAL VOC's palette (bit interleaving of the label), as the VOC devkit builds it."""
    cmap = np.zeros((n, 3), dtype=np.uint8)
    for i in range(n):
        c, r, g, b = i, 0, 0, 0
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        cmap[i] = (r, g, b)
    return cmap


def test_semantic__corpus_deeplab_colour_pair_with_a_colour_map(tmp_path):
    """A real DeepLabV3+ VOC prediction and its target, both colour-coded PNGs, through colors=..."""
    from PIL import Image

    root = require_corpus("png_masks", "deeplabv3plus_vainf")
    (tmp_path / "pred").mkdir()
    (tmp_path / "gt").mkdir()
    os.symlink(root / "1_pred.png", tmp_path / "pred" / "1.png")
    os.symlink(root / "1_target.png", tmp_path / "gt" / "1.png")
    cmap = _voc_colormap()
    colors = {f"{r},{g},{b}": i for i, (r, g, b) in enumerate(cmap[:21].tolist())}
    colors["224,224,192"] = 255  # VOC's void border colour
    (tmp_path / "colors.json").write_text(json.dumps(colors))

    def labels(path):
        rgb = np.asarray(Image.open(path).convert("RGB")).astype(np.int64)
        packed = rgb[..., 0] << 16 | rgb[..., 1] << 8 | rgb[..., 2]
        out = np.full(packed.shape, -1)
        for key, v in colors.items():
            r, g, b = map(int, key.split(","))
            out[packed == (r << 16 | g << 8 | b)] = v
        assert (out >= 0).all()
        return out

    ious, acc = _reference([(labels(root / "1_pred.png"), labels(root / "1_target.png"))])
    opt = {"colors": str(tmp_path / "colors.json")}
    res = predport_eval.evaluate(tmp_path / "pred", tmp_path / "gt", iou_type="semantic", options=opt,
                                 gt_options=opt)
    assert {r["category_id"]: r["IoU"] for r in res.per_class} == pytest.approx(ious, abs=1e-12)
    assert res.metrics["pixel_accuracy"] == pytest.approx(acc, abs=1e-12)
    assert 0.5 < res.metrics["mIoU"] < 1.0  # a real, imperfect prediction
