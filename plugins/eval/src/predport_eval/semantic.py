"""Semantic-segmentation scores: per-class IoU, mIoU, pixel accuracy, with ignore values.

Both sides are read through predport's readers (PNG class-index masks in ``mode=semantic``
by default, or any format whose rows hold masks or polygons) and painted back into one
class index per pixel. The counts are a confusion matrix over ground-truth pixels whose
class is not an ignore value (255 by default), rows ground truth, columns predicted:

* ``IoU_c = TP_c / (TP_c + FP_c + FN_c)`` for every class present in either side (a class
  absent from both has no IoU and is not averaged, as mmseg's ``nanmean`` does);
* ``mIoU`` the mean of those IoUs; ``pixel_accuracy = sum(TP) / counted pixels``;
  ``mean_accuracy`` the mean over ground-truth classes of ``TP_c / GT_c``;
* prediction pixels on ignored ground truth are left out; a counted pixel no prediction
  row paints is a miss (FN of its class, column ``unlabelled`` of the confusion matrix);
* where prediction rows overlap, the highest score wins (then the first row); where
  ground-truth rows of different classes overlap, the pixel is left out and counted.

Classes match by name (case-insensitive), or by id where names are only ids (masks
without a class map); a predicted class the ground truth lacks is scored (IoU 0) and
counted in ``unmatched``.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping

import predport

#: The options the masks reader gets for semantic evaluation (a user's options win):
#: one row per pixel value, background and 255 included, so the painting gives back the file.
MASKS_OPTIONS = {"mode": "semantic", "background": None, "ignore": "none"}
UNLABELLED = "unlabelled"


def confusion_counts(pred: Any, gt: Any, n: int) -> Any:
    """``n x n`` counts of (ground truth, predicted) over pixels where ``gt >= 0``; ``pred`` < 0 -> column ``n - 1``."""
    import numpy as np

    keep = gt >= 0
    g = gt[keep].astype(np.int64)
    p = pred[keep].astype(np.int64)
    p[p < 0] = n - 1
    return np.bincount(g * n + p, minlength=n * n).reshape(n, n)


def scores(matrix: Any, classes: Iterable[int]) -> tuple[dict[str, float | None], dict[int, dict[str, Any]]]:
    """Metrics and per-class values from a confusion matrix, over the class indices ``classes``."""
    import numpy as np

    m = np.asarray(matrix)
    classes = list(classes)
    tp = np.diag(m).astype(np.float64)
    gt_n = m.sum(axis=1).astype(np.float64)
    pr_n = m.sum(axis=0).astype(np.float64)
    rows: dict[int, dict[str, Any]] = {}
    ious, accs = [], []
    for c in classes:
        union = gt_n[c] + pr_n[c] - tp[c]
        if union == 0:
            continue
        iou = float(tp[c] / union)
        acc = float(tp[c] / gt_n[c]) if gt_n[c] else None
        ious.append(iou)
        if acc is not None:
            accs.append(acc)
        rows[c] = {"IoU": iou, "accuracy": acc, "gt_pixels": int(gt_n[c]), "pred_pixels": int(pr_n[c]),
                   "tp_pixels": int(tp[c])}
    counted = float(gt_n[classes].sum()) if classes else 0.0
    metrics = {"mIoU": float(np.mean(ious)) if ious else None,
               "pixel_accuracy": float(tp[classes].sum() / counted) if counted else None,
               "mean_accuracy": float(np.mean(accs)) if accs else None}
    return metrics, rows


def semantic_scores(pairs: Iterable[tuple[Any, Any]], ignore_values: Iterable[int] = (255,)):
    """Scores over ``(prediction, ground truth)`` pairs of class-index arrays (the values are the classes).

    Returns ``(metrics, rows)``: rows per class value present on either side, in value order.
    """
    import numpy as np

    ignore = {int(v) for v in ignore_values}
    pairs = [(np.asarray(p), np.asarray(g)) for p, g in pairs]
    for p, g in pairs:
        if p.shape != g.shape:
            raise predport.ConfigError(f"semantic masks differ in shape: prediction {p.shape}, ground truth {g.shape}")
        if (p.size and p.min() < 0) or (g.size and g.min() < 0):
            raise predport.ConfigError("semantic masks hold negative class values")
    top = max([int(a.max()) + 1 for p, g in pairs for a in (p, g) if a.size] or [0])
    n = top + 1
    total = np.zeros((n, n), dtype=np.int64)
    for p, g in pairs:
        g = g.astype(np.int64)
        g = np.where(np.isin(g, list(ignore)), -1, g) if ignore else g
        total += confusion_counts(p, g, n)
    metrics, by_class = scores(total, [c for c in range(top) if c not in ignore])
    rows = [{"category": str(c), "category_id": c, **v} for c, v in by_class.items()]
    return metrics, rows


# -- through evaluate() --------------------------------------------------------------------------
def _format_of(obj: Any, given: str | None) -> str | None:
    if given is not None or not isinstance(obj, (str, bytes)) and not hasattr(obj, "__fspath__"):
        return given
    found = predport.detect(obj)
    return found[0].format if found else None


def read_semantic(obj: Any, *, role: str, format: str | None, options: Mapping[str, Any] | None,
                  **kwargs: Any) -> tuple[Any, str]:
    """One side as :class:`inputs.Side` with its mask and polygon columns, and the role it was read with.

    PNG masks are read with :data:`MASKS_OPTIONS` under the user's options. Ground truth in a
    format whose reader reads predictions only (the masks reader, until it reads ground truth)
    is read as predictions: a mask file holds the same pixels either way and no scores.
    """
    from .inputs import read_side

    fmt = _format_of(obj, format)
    opts = dict(options or {})
    if fmt == "masks":
        opts = {**MASKS_OPTIONS, **opts}
    read_as = role
    if role == "ground_truth" and fmt is not None:
        info = predport.get_hub().formats().get(fmt)
        if info is not None and "ground_truth" not in info.roles:
            read_as = "predictions"
    side = read_side(obj, role=read_as, format=fmt, need="semantic", options=opts or None, **kwargs)
    return side, read_as


def _paint(side: Any, rows: list[int], classes: Any, shape: tuple[int, int], *, by_score: bool) -> tuple[Any, int]:
    """Class index per pixel from ``rows``: -1 where no row paints, -2 an ignored class (``classes`` -2),
    -3 where ground-truth rows of two classes overlap (``by_score=False``); and how many of those."""
    import numpy as np
    from pycocotools import mask as mask_utils

    from .coco import _rle

    h, w = shape
    out = np.full((h, w), -1, dtype=np.int64)
    if by_score:
        s = side.score[rows]
        rows = [rows[i] for i in np.argsort(np.where(np.isnan(s), -np.inf, -s), kind="stable").tolist()]
    contested = np.zeros((h, w), dtype=bool)
    for i in rows:
        k = int(classes[i])
        m = side.mask[i] if side.mask is not None else None
        if m is not None:
            if list(m["size"]) != [h, w]:
                data_id = side.frames[int(side.frame[i])][0]
                raise predport.ConfigError(
                    f"semantic evaluation: a mask of {data_id!r} is {m['size'][1]}x{m['size'][0]}, "
                    f"the image {w}x{h} (width x height)", file=side.source)
            bit = mask_utils.decode(_rle(m)).astype(bool)
        elif side.polygon is not None and side.polygon[i] is not None:
            bit = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(side.polygon[i], h, w))).astype(bool)
        else:
            continue
        free = out == -1
        if not by_score:
            contested |= bit & ~free & (out != k)
        out[bit & free] = k
    if not by_score:
        out[contested] = -3
    return out, int(contested.sum())


def _shape(side: Any, j: int, rows: list[int]) -> tuple[int, int] | None:
    w, h = side.sizes[j]
    if w is not None and h is not None:
        return int(h), int(w)
    for i in rows:
        m = side.mask[i] if side.mask is not None else None
        if m is not None:
            return int(m["size"][0]), int(m["size"][1])
    return None


def evaluate_semantic(predictions: Any, ground_truth: Any, *, from_format: str | None = None,
                      gt_format: str | None = None, options: Mapping[str, Any] | None = None,
                      gt_options: Mapping[str, Any] | None = None, class_map: Any = None,
                      ignore_values: Iterable[int] = (255,), **common: Any):
    """:func:`predport_eval.evaluate` with ``iou_type="semantic"`` (see the module docstring)."""
    import numpy as np

    from .inputs import match_classes, match_frames
    from .result import ConfusionMatrix, EvaluationResult, FrameResult, SemanticFrameResult

    ignore = {int(v) for v in ignore_values}
    gt, gt_role = read_semantic(ground_truth, role="ground_truth", format=gt_format, options=gt_options, **common)
    pred, _ = read_semantic(predictions, role="predictions", format=from_format, options=options,
                            class_map=class_map, **common)
    fm = match_frames(pred, gt)
    cmap, gt_ids = match_classes(pred, gt)
    K = len(gt_ids)
    names = [gt.categories[c] for c in gt_ids]
    extra = sorted({int(c) for c in np.unique(pred.category).tolist()} - set(cmap))
    for n_extra, cid in enumerate(extra):
        cmap[cid] = K + n_extra
        names.append(pred.categories.get(cid, str(cid)))
    n_cls = len(names)
    n = n_cls + 1  # the last column: no prediction paints the pixel
    ignored_idx = {k for k, cid in enumerate(gt_ids) if cid in ignore}
    scored = [k for k in range(n_cls) if k not in ignored_idx]
    gt_index = np.array([-2 if k in ignored_idx else k for k in range(K)], dtype=np.int64)
    gt_lookup = {cid: k for k, cid in enumerate(gt_ids)}
    g_cls = np.array([gt_index[gt_lookup[int(c)]] if int(c) in gt_lookup else -2 for c in gt.category.tolist()],
                     dtype=np.int64)
    p_cls = np.array([cmap[int(c)] for c in pred.category.tolist()], dtype=np.int64)
    g_rows = _rows_by_frame(gt)
    p_rows = _rows_by_frame(pred)
    gt_to_pred: dict[int, int] = {}
    for i, j in enumerate(fm.pred_to_gt.tolist()):
        if j >= 0:
            gt_to_pred.setdefault(j, i)
    total = np.zeros((n, n), dtype=np.int64)
    frames: list[FrameResult] = []
    overlap_gt = 0
    unlabelled_gt = 0
    for j, (data_id, fi) in enumerate(gt.frames):
        rows_g = g_rows.get(j, [])
        pi = gt_to_pred.get(j)
        rows_p = p_rows.get(pi, []) if pi is not None else []
        shape = _shape(gt, j, rows_g) or (_shape(pred, pi, rows_p) if pi is not None else None)
        if shape is None:
            continue  # nothing painted and no size: no pixels to count
        if pi is not None:
            pshape = _shape(pred, pi, rows_p)
            if pshape is not None and pshape != shape:
                raise predport.ConfigError(
                    f"semantic evaluation: the prediction of {data_id!r} is {pshape[1]}x{pshape[0]}, "
                    f"its ground truth {shape[1]}x{shape[0]} (width x height)", file=pred.source)
        g_img, contested = _paint(gt, rows_g, g_cls, shape, by_score=False)
        overlap_gt += contested
        unlabelled_gt += int((g_img == -1).sum())
        p_img, _ = _paint(pred, rows_p, p_cls, shape, by_score=True)
        m = confusion_counts(p_img, g_img, n)
        total += m
        fm_metrics, _ = scores(m, scored)
        tp = int(np.trace(m[:n_cls, :n_cls]))
        counted = int(m.sum())
        wrong = int(m[:, :n_cls].sum()) - tp
        frames.append(SemanticFrameResult(data_id=data_id, frame_index=fi, tp=tp, fp=wrong, fn=counted - tp,
                                          mean_iou=fm_metrics["mIoU"], pixel_accuracy=fm_metrics["pixel_accuracy"]))
    frames.sort(key=lambda r: (r.mean_iou if r.mean_iou is not None else math.inf, -(r.fp + r.fn), r.data_id,
                               r.frame_index or 0))
    metrics, by_class = scores(total, scored)
    per_class = []
    for k in scored:
        if k not in by_class:
            continue
        cid = gt_ids[k] if k < K else extra[k - K]
        per_class.append({"category": names[k], "category_id": cid, **by_class[k]})
    matched_gt = set(gt_to_pred)
    unmatched: dict[str, Any] = {
        "prediction_frames_without_ground_truth": int((fm.pred_to_gt < 0).sum()),
        "ground_truth_frames_without_predictions": len(gt.frames) - len(matched_gt),
        # pixels predicted as a class the ground truth does not have (on counted pixels)
        "prediction_classes_not_in_ground_truth": {names[K + e]: int(total[:, K + e].sum())
                                                   for e in range(len(extra))},
        "ignored_ground_truth_classes": sorted(gt_ids[k] for k in ignored_idx),
        "frames_matched_by": {k: v for k, v in fm.how.items() if v},
    }
    if overlap_gt:
        unmatched["ground_truth_pixels_of_two_classes"] = overlap_gt
    if unlabelled_gt:
        unmatched["ground_truth_pixels_without_class"] = unlabelled_gt
    labels = [names[k] for k in scored] + [UNLABELLED]
    keep = scored + [n - 1]
    confusion = ConfusionMatrix(labels=labels, matrix=total[np.ix_(keep, keep)].tolist(), iou_threshold=None,
                                score_threshold=None)
    settings = {"iou_type": "semantic", "ignore_values": sorted(ignore), "predictions": pred.source,
                "ground_truth": gt.source, "prediction_format": pred.format, "ground_truth_format": gt.format,
                "ground_truth_read_as": gt_role}
    links = {pred.frames[i]: gt.frames[j] for i, j in enumerate(fm.pred_to_gt.tolist()) if j >= 0}
    return EvaluationResult(iou_type="semantic", metrics=metrics, per_class=per_class, per_frame=frames,
                            unmatched=unmatched, confusion=confusion, pr_curves={}, settings=settings, links=links)


def _rows_by_frame(side: Any) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for i, f in enumerate(side.frame.tolist()):
        out.setdefault(f, []).append(i)
    return out
