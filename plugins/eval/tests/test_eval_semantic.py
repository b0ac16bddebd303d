"""Semantic mask scores: a hand-computed case and an independent per-class computation on corpus masks."""
from __future__ import annotations

import numpy as np
import pytest

import predport
from predport.testing import require_corpus
from predport_eval.semantic import semantic_scores


def test_hand_computed_case():
    gt = np.array([[0, 0, 1, 1],
                   [0, 0, 1, 255]])
    pred = np.array([[0, 1, 1, 1],
                     [0, 0, 2, 2]])
    # counted pixels: 7 (the 255 ground-truth pixel is left out, with the 2 predicted on it)
    # class 0: gt 4, pred 3 (all correct)  -> TP 3, union 4      -> IoU 0.75
    # class 1: gt 3, pred 3 on counted pixels (one is gt 0)  -> TP 2, union 3+3-2=4 -> IoU 0.5
    # class 2: gt 0, pred 1 (on gt 1)     -> TP 0, union 1      -> IoU 0.0
    # mIoU = (0.75 + 0.5 + 0) / 3; pixel accuracy = 5 / 7; mean accuracy over gt classes (3/4 + 2/3) / 2
    metrics, rows = semantic_scores([(pred, gt)])
    assert [r["IoU"] for r in rows] == [0.75, 0.5, 0.0]
    assert metrics["mIoU"] == pytest.approx(1.25 / 3)
    assert metrics["pixel_accuracy"] == pytest.approx(5 / 7)
    assert metrics["mean_accuracy"] == pytest.approx((0.75 + 2 / 3) / 2)
    assert rows[2]["accuracy"] is None


def test_ignore_option_and_shape_refusal():
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


def _reference(pairs, ignore):
    """mmseg's intersect_and_union formula, written independently with histograms per pair."""
    inter = {}
    union = {}
    for p, g in pairs:
        keep = g != ignore
        p, g = p[keep], g[keep]
        hit = p[p == g]
        n = int(max(p.max(initial=0), g.max(initial=0))) + 1
        ai = np.histogram(hit, bins=n, range=(0, n))[0]
        ap = np.histogram(p, bins=n, range=(0, n))[0]
        ag = np.histogram(g, bins=n, range=(0, n))[0]
        for c in range(n):
            inter[c] = inter.get(c, 0) + ai[c]
            union[c] = union.get(c, 0) + ap[c] + ag[c] - ai[c]
    ious = {c: inter[c] / union[c] for c in union if union[c] and c != ignore}
    return ious


def test_against_independent_formula_on_corpus_masks():
    from PIL import Image

    root = require_corpus("png_masks")
    masks = [np.asarray(Image.open(p)) for p in sorted(root.rglob("*.png"))]
    masks = [m for m in masks if m.ndim == 2][:12]
    if len(masks) < 2:
        pytest.skip("fewer than two single-channel corpus masks")
    rng = np.random.default_rng(0)
    pairs = []
    for g in masks:
        g = g.astype(np.int64)
        p = g.copy()
        flip = rng.random(g.shape) < 0.2
        p[flip] = rng.integers(0, max(int(g[g != 255].max(initial=0)), 1) + 1, size=int(flip.sum()))
        pairs.append((p, g))
    metrics, rows = semantic_scores(pairs)
    ref = _reference(pairs, 255)
    assert {r["category_id"]: r["IoU"] for r in rows} == pytest.approx(ref)
    assert metrics["mIoU"] == pytest.approx(np.mean(list(ref.values())))
