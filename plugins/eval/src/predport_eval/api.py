"""``evaluate``: predictions against ground truth, any format against any format; ``attach``."""
from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

import predport

from . import coco as C
from .inputs import Side, finite_or_none, lookup, match_classes, match_frames, read_side
from .result import ConfusionMatrix, EvaluationResult, FrameResult, worst_first_key

IOU_TYPES = ("bbox", "segm", "keypoints", "semantic", "kitti")
BACKENDS = ("numpy", "pycocotools", "faster-coco-eval")


def evaluate(
    predictions: Any,
    ground_truth: Any,
    *,
    iou_type: str = "bbox",
    from_format: str | None = None,
    gt_format: str | None = None,
    score_threshold: float | None = None,
    iou_threshold: float = 0.5,
    class_map: Any = None,
    max_dets: int | None = None,
    backend: str = "numpy",
    options: Mapping[str, Any] | None = None,
    gt_options: Mapping[str, Any] | None = None,
    images: Any = None,
    image_sizes: Any = None,
    sigmas: Any = None,
    ignore_values: Any = (255,),
    per_detection: bool = False,
    engine: str | None = None,
    scheduler: str | None = None,
    shards: int | None = None,
) -> EvaluationResult:
    """Evaluate ``predictions`` against ``ground_truth`` (each a path, a PredictionSet or a stream).

    ``iou_type`` — ``bbox``, ``segm``, ``keypoints`` (COCO metrics, equal to pycocotools'
    ``COCOeval``), ``kitti`` (KITTI 2-D AP by difficulty) or ``semantic`` (per-class IoU,
    mIoU, pixel accuracy). With KITTI ground truth, ``bbox`` adds the KITTI metrics.
    ``from_format``/``gt_format`` name the formats (detected otherwise; the ground truth
    is read with ``role="ground_truth"``). ``score_threshold`` keeps detections scoring at
    least that much for the per-frame counts and the confusion matrix (the COCO metrics use
    every detection, as COCOeval does); ``iou_threshold`` is their IoU threshold.
    ``class_map`` maps prediction classes (applied by their reader). ``max_dets``: COCO's
    largest maxDets (100; keypoints 20; at least 1: below 10, ``AR10`` counts that many). ``backend``: ``numpy`` (ours, default),
    ``pycocotools`` or ``faster-coco-eval`` for the COCO metrics. ``options``/``gt_options``:
    reader options of each side; ``images``/``image_sizes``: image sizes for formats that
    store normalised coordinates (YOLO). ``sigmas``: keypoint OKS sigmas (COCO's 17 by
    default). ``ignore_values``: semantic class values left out. ``per_detection=True``
    fills ``result.per_detection``. ``engine="local"|"dask"`` (``scheduler=ADDRESS``,
    ``shards=N``): COCO matching shard by shard, on a Dask cluster for ``"dask"``; the same
    figures (:mod:`.distributed`).
    """
    if iou_type not in IOU_TYPES:
        raise predport.ConfigError(f"unknown iou_type {iou_type!r}; choose one of {', '.join(IOU_TYPES)}")
    if backend not in BACKENDS:
        raise predport.ConfigError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if max_dets is not None and (isinstance(max_dets, bool) or not isinstance(max_dets, int) or max_dets < 1):
        raise predport.ConfigError(f"max_dets must be a whole number of at least 1, not {max_dets!r}",
                                   field="max_dets")
    if not (0.0 < float(iou_threshold) <= 1.0):
        raise predport.ConfigError(f"iou_threshold must be in (0, 1], not {iou_threshold}")
    if engine is not None and (iou_type not in ("bbox", "segm", "keypoints") or backend != "numpy"):
        raise predport.ConfigError(f"engine={engine!r} shards COCO matching (iou_type bbox, segm, keypoints; "
                                   f"backend numpy), not iou_type {iou_type!r} with backend {backend!r}",
                                   hint="evaluate without --engine")
    sharding = None if engine is None else {"engine": engine, "scheduler": scheduler, "shards": shards}
    common: dict[str, Any] = {}
    if images is not None:
        common["images"] = images
    if image_sizes is not None:
        common["image_sizes"] = image_sizes
    if iou_type == "semantic":
        from .semantic import evaluate_semantic

        return evaluate_semantic(predictions, ground_truth, from_format=from_format, gt_format=gt_format,
                                 options=options, gt_options=gt_options, class_map=class_map,
                                 ignore_values=ignore_values, **common)
    need = iou_type
    gt = read_side(ground_truth, role="ground_truth", format=gt_format, need=need, options=gt_options, **common)
    pred = read_side(predictions, role="predictions", format=from_format, need=need, options=options,
                     class_map=class_map, **common)
    if iou_type == "kitti":
        from .kitti import evaluate_kitti

        return evaluate_kitti(pred, gt, score_threshold=score_threshold)
    gt_coco = gt
    if gt.format == "kitti":
        from .kitti import without_dontcare

        gt_coco = without_dontcare(gt)  # DontCare regions are not a class (the KITTI metrics use them)
    result = evaluate_coco(pred, gt_coco, iou_type=iou_type, score_threshold=score_threshold,
                           iou_threshold=float(iou_threshold), max_dets=max_dets, backend=backend, sigmas=sigmas,
                           per_detection=per_detection, sharding=sharding)
    if iou_type == "bbox" and gt.format == "kitti":
        from .kitti import evaluate_kitti

        k = evaluate_kitti(pred, gt, score_threshold=None)
        result.metrics.update(k.metrics)
        by_name = {row["category"]: row for row in k.per_class}
        for row in result.per_class:
            row.update({key: v for key, v in by_name.get(row["category"], {}).items()
                        if key not in ("category", "category_id")})
    return result


# -- COCO ------------------------------------------------------------------------------------
def _attr(side: Side, name: str, default: float) -> np.ndarray:
    """A numeric per-row attribute (``iscrowd``, ``area``...), ``default`` where a row lacks it."""
    out = np.full(len(side), default, dtype=np.float64)
    if side.attributes is None:
        return out
    for i, a in enumerate(side.attributes):
        if a and name in a:
            v = a[name]
            if isinstance(v, bool):
                v = float(v)
            if isinstance(v, (int, float)) and math.isfinite(v):
                out[i] = v
    return out


def _rle_of(side: Side, i: int, what: str) -> Any:
    """Row ``i``'s mask as compressed RLE (a polygon is rasterised at its frame's size)."""
    from pycocotools import mask as mask_utils

    if side.mask is not None and side.mask[i] is not None:
        return side.mask[i]
    if side.polygon is not None and side.polygon[i] is not None:
        w, h = side.sizes[int(side.frame[i])]
        if w is None or h is None:
            data_id = side.frames[int(side.frame[i])][0]
            raise predport.ConfigError(
                f"segm evaluation: the {what} of {data_id!r} has a polygon but its image size is unknown",
                file=side.source, hint="give image sizes (image_sizes=... / --sizes, images=... / --images)")
        rles = mask_utils.frPyObjects(side.polygon[i], h, w)
        rle = mask_utils.merge(rles)
        return {"size": [h, w], "counts": rle["counts"].decode("ascii")}
    return None


def _keypoint_array(side: Side, rows: np.ndarray, k: int, what: str, gt: bool) -> np.ndarray:
    out = np.zeros((rows.shape[0], k, 3))
    for n, i in enumerate(rows.tolist()):
        kp = side.keypoints[i] if side.keypoints is not None else None
        if not kp:
            continue
        if len(kp) != k:
            data_id = side.frames[int(side.frame[i])][0]
            raise predport.ConfigError(
                f"keypoint evaluation: a {what} row of {data_id!r} has {len(kp)} keypoints, the sigmas are for {k}",
                file=side.source, hint="pass sigmas=[...] (one per keypoint) for a skeleton other than COCO's 17")
        for j, (x, y, v) in enumerate(kp):
            out[n, j] = (x, y, (2.0 if gt else 0.0) if v is None else v)
    return out


class Prepared:
    """Both sides as :class:`coco.Rows` over the ground truth's frames and classes, and the counts."""

    def __init__(self, pred: Side, gt: Side, *, iou_type: str, sigmas: Any = None) -> None:
        self.pred, self.gt, self.iou_type = pred, gt, iou_type
        fm = match_frames(pred, gt)
        self.links = {pred.frames[i]: gt.frames[j] for i, j in enumerate(fm.pred_to_gt.tolist()) if j >= 0}
        cmap, gt_ids = match_classes(pred, gt)
        self.gt_ids = gt_ids
        self.names = [gt.categories[c] for c in gt_ids]
        K = len(gt_ids)
        unmatched: dict[str, Any] = {}
        pframe = fm.pred_to_gt[pred.frame] if len(pred) else np.zeros(0, np.int64)
        pcat = lookup(cmap, pred.category)
        no_frame = pframe < 0
        unmatched["prediction_frames_without_ground_truth"] = int((fm.pred_to_gt < 0).sum())
        unmatched["predictions_on_frames_without_ground_truth"] = int(no_frame.sum())
        matched_gt_frames = set(fm.pred_to_gt[fm.pred_to_gt >= 0].tolist())
        unmatched["ground_truth_frames_without_predictions"] = len(gt.frames) - len(matched_gt_frames)
        lost = {}
        for cid in np.unique(pred.category[(pcat < 0) & ~no_frame]).tolist():
            name = pred.categories.get(cid, str(cid))
            lost[name] = int(((pred.category == cid) & ~no_frame).sum())
        unmatched["prediction_classes_not_in_ground_truth"] = lost
        used = set(cmap.values())
        unmatched["ground_truth_classes_without_prediction_class"] = [self.names[k] for k in range(K) if k not in used]
        unmatched["frames_matched_by"] = {k: v for k, v in fm.how.items() if v}
        # Ground truth rows: every row of a ground-truth class (a class the id table lacks is counted).
        gcat = lookup({c: k for k, c in enumerate(gt_ids)}, gt.category)
        if (gcat < 0).any():
            unmatched["ground_truth_rows_of_undeclared_classes"] = int((gcat < 0).sum())
        keep_p = (~no_frame) & (pcat >= 0)
        if len(pred) and np.isnan(pred.score[keep_p]).any():
            bad = int(np.isnan(pred.score[keep_p]).sum())
            raise predport.ConfigError(f"{bad} prediction(s) have no score: COCO evaluation ranks detections by score",
                                       file=pred.source)
        prow = np.flatnonzero(keep_p)
        grow = np.flatnonzero(gcat >= 0)
        # Geometry per evaluation type; rows without it are counted and left out.
        prow, grow = self._geometry(prow, grow, unmatched)
        self.prow, self.grow = prow, grow
        self.unmatched = unmatched
        # Image order for score ties: COCO image ids when every ground-truth frame has one.
        ids = gt.image_ids
        if ids and all(isinstance(v, int) and not isinstance(v, bool) for v in ids):
            order = np.argsort(np.array(ids, dtype=np.int64), kind="stable")
        else:
            order = np.arange(len(gt.frames))
        self.image_order = np.empty(len(gt.frames), dtype=np.int64)
        self.image_order[order] = np.arange(len(gt.frames))
        g_crowd = _attr(gt, "iscrowd", 0.0)[grow] > 0
        g_area = _attr(gt, "area", np.nan)[grow]
        self.dt = C.Rows(image=pframe[prow], category=pcat[prow], score=pred.score[prow],
                         area=np.zeros(prow.shape[0]))
        self.gtr = C.Rows(image=gt.frame[grow], category=gcat[grow], score=np.full(grow.shape[0], np.nan),
                          area=g_area, crowd=g_crowd)
        self.K = K
        self._fill(sigmas)

    def _geometry(self, prow: np.ndarray, grow: np.ndarray, unmatched: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        pred, gt = self.pred, self.gt
        if self.iou_type == "bbox":
            pok = ~np.isnan(pred.box[prow, 0])
            gok = ~np.isnan(gt.box[grow, 0])
        elif self.iou_type == "segm":
            def has(side: Side, rows: np.ndarray) -> np.ndarray:
                m = side.mask or [None] * len(side)
                p = side.polygon or [None] * len(side)
                return np.array([m[i] is not None or p[i] is not None for i in rows.tolist()], dtype=bool)

            pok, gok = has(pred, prow), has(gt, grow)
        else:
            def has_kp(side: Side, rows: np.ndarray) -> np.ndarray:
                k = side.keypoints or [None] * len(side)
                return np.array([bool(k[i]) for i in rows.tolist()], dtype=bool)

            pok, gok = has_kp(pred, prow), has_kp(gt, grow)
        if (~pok).any():
            unmatched[f"predictions_without_{self.iou_type}"] = int((~pok).sum())
        if (~gok).any():
            unmatched[f"ground_truth_without_{self.iou_type}"] = int((~gok).sum())
        return prow[pok], grow[gok]

    def _fill(self, sigmas: Any) -> None:
        pred, gt, dt, g = self.pred, self.gt, self.dt, self.gtr
        prow, grow = self.prow, self.grow
        if self.iou_type == "bbox":
            dt.box = pred.box[prow]
            g.box = gt.box[grow]
            dt.area = dt.box[:, 2] * dt.box[:, 3]
            missing = np.isnan(g.area)
            g.area[missing] = g.box[missing, 2] * g.box[missing, 3]
        elif self.iou_type == "segm":
            from pycocotools import mask as mask_utils

            dt.mask = [_rle_of(pred, i, "prediction") for i in prow.tolist()]
            g.mask = [_rle_of(gt, i, "ground truth") for i in grow.tolist()]
            dt.area = np.array([float(mask_utils.area(C._rle(m))) for m in dt.mask]) if dt.mask else np.zeros(0)
            missing = np.flatnonzero(np.isnan(g.area))
            for j in missing.tolist():
                g.area[j] = float(mask_utils.area(C._rle(g.mask[j])))
            g.crowd = g.crowd  # crowd IoU is computed by pycocotools from the flags
        else:
            self.sigmas = C.KPT_SIGMAS if sigmas is None else np.asarray(sigmas, dtype=np.float64)
            k = self.sigmas.shape[0]
            dt.keypoints = _keypoint_array(pred, prow, k, "prediction", gt=False)
            g.keypoints = _keypoint_array(gt, grow, k, "ground truth", gt=True)
            g.box = gt.box[grow]
            nk = _attr(gt, "num_keypoints", np.nan)[grow]
            counted = (g.keypoints[:, :, 2] > 0).sum(axis=1)
            g.num_keypoints = np.where(np.isnan(nk), counted, nk).astype(np.int64)
            x, y = dt.keypoints[:, :, 0], dt.keypoints[:, :, 1]
            dt.area = (x.max(axis=1) - x.min(axis=1)) * (y.max(axis=1) - y.min(axis=1)) if len(prow) else np.zeros(0)
            missing = np.isnan(g.area)
            if missing.any():
                gb = np.nan_to_num(g.box)
                g.area[missing] = gb[missing, 2] * gb[missing, 3]
            g.box = np.nan_to_num(g.box)
            dt.box = None
        if g.crowd is None:
            g.crowd = np.zeros(len(g), dtype=bool)


def evaluate_coco(pred: Side, gt: Side, *, iou_type: str, score_threshold: float | None, iou_threshold: float,
                  max_dets: int | None, backend: str, sigmas: Any, per_detection: bool,
                  sharding: dict[str, Any] | None = None) -> EvaluationResult:
    prep = Prepared(pred, gt, iou_type=iou_type, sigmas=sigmas)
    K = prep.K
    md: tuple[int, ...]
    labels: tuple[str, ...]
    stats: tuple[Any, ...]
    if iou_type == "keypoints":
        md = (max_dets or 20,)
        ranges = [C.AREA_ALL, C.AREA_RANGES["medium"], C.AREA_RANGES["large"]]
        labels = ("all", "medium", "large")
        stats = C.STATS_KEYPOINTS
    else:
        top = max_dets or 100
        # pycocotools' maxDets [1, 10, top]: below 10 detections an image keeps only ``top``, so
        # the AR10 column counts those (the same figures as COCOeval with maxDets [1, 10, top]).
        md = (1, min(10, top), top)
        ranges = list(C.AREA_RANGES.values())
        labels = tuple(C.AREA_RANGES)
        stats = C.STATS_DETECTION if top == 100 else tuple(
            (n if n != "AR100" else f"AR{top}", ap, iou, area, mi) for n, ap, iou, area, mi in C.STATS_DETECTION)
    sig = getattr(prep, "sigmas", None)
    hit = np.flatnonzero(np.isclose(C.IOU_THRS, iou_threshold, rtol=0, atol=1e-12))
    detail = int(hit[0]) if hit.size else 0
    if sharding is None:
        m = C.match(prep.dt, prep.gtr, n_categories=K, iou_type=iou_type, area_ranges=ranges, max_dets=md[-1],
                    sigmas=sig, detail=detail)
    else:
        from .distributed import match as match_sharded

        timing: dict[str, Any] = {}
        m = match_sharded(prep.dt, prep.gtr, n_categories=K, iou_type=iou_type, area_ranges=ranges,
                          max_dets=md[-1], sigmas=sig, detail=detail, timing=timing, **sharding)
    if backend == "numpy":
        acc = C.accumulate(prep.dt, prep.gtr, m, n_categories=K, image_order=prep.image_order, max_dets=md,
                           area_labels=labels)
    else:
        from .backends import reference_accumulate

        acc = reference_accumulate(prep, backend=backend, iou_type=iou_type, max_dets=md, area_labels=labels,
                                   sigmas=sig)
    metrics = C.summarize(acc, stats)
    per_class = []
    for k in range(K):
        row: dict[str, Any] = {"category": prep.names[k], "category_id": prep.gt_ids[k]}
        row.update(C.summarize(acc, stats, category=k))
        row["ground_truth"] = int(((prep.gtr.category == k) & ~m.gt_ignore[0]).sum())
        row["predictions"] = int((prep.dt.category == k).sum())
        per_class.append(row)
    pr_curves = {}
    t50 = int(np.argmin(np.abs(C.IOU_THRS - 0.5)))
    for k in range(K):
        p = acc.precision[t50, :, k, 0, -1]
        if (p > -1).any():
            pr_curves[prep.names[k]] = {"iou": 0.5, "recall": C.REC_THRS.round(2).tolist(),
                                        "precision": [float(v) for v in p]}
    # Per frame at the requested threshold: the main matching unless a threshold or score filter differs.
    frames, det_rows = _per_frame(prep, m, iou_threshold=iou_threshold, score_threshold=score_threshold,
                                  max_det=md[-1], sigmas=sig, want_detections=per_detection)
    confusion = (lambda: _confusion(prep, iou_threshold=iou_threshold, score_threshold=score_threshold)) \
        if iou_type in ("bbox", "segm") else None  # computed when first read
    settings = {"iou_type": iou_type, "iou_threshold": iou_threshold, "score_threshold": score_threshold,
                "max_dets": list(md), "backend": backend, "predictions": pred.source, "ground_truth": gt.source,
                "prediction_format": pred.format, "ground_truth_format": gt.format}
    if sharding is not None:
        settings["engine"] = timing
    return EvaluationResult(iou_type=iou_type, metrics=metrics, per_class=per_class, per_frame=frames,
                            unmatched=prep.unmatched, confusion=confusion,  # type: ignore[arg-type]  # lazy: a callable until read
                            pr_curves=pr_curves, settings=settings,
                            per_detection=None if det_rows is None else (lambda: _rows_of(det_rows)),  # type: ignore[arg-type]
                            per_detection_columns=det_rows, links=prep.links)


def _rows_of(columns: dict[str, list]) -> list[dict[str, Any]]:
    keys = list(columns)
    return [dict(zip(keys, values)) for values in zip(*columns.values())]


def _per_frame(prep: Prepared, m: C.Matching, *, iou_threshold: float, score_threshold: float | None,
               max_det: int, sigmas: Any, want_detections: bool) -> tuple[list[FrameResult], dict[str, list] | None]:
    dt, g = prep.dt, prep.gtr
    t_hit = [t for t in m.detail if abs(float(m.thresholds[t]) - iou_threshold) <= 1e-12]
    if score_threshold is None and t_hit:
        col = t_hit[0]  # area range "all" is row block 0
        row = m.detail.index(col)
        dt_gt, dt_ig, dt_iou = m.dt_gt[row], m.dt_ignore[col], m.dt_iou[row]
        gt_matched, gt_ig = m.gt_matched[:, col], m.gt_ignore[0]
        live = m.dt_rank < max_det
        rows_dt = dt
    else:
        keep = np.ones(len(dt), dtype=bool) if score_threshold is None else dt.score >= score_threshold
        idx = np.flatnonzero(keep)
        rows_dt = C.Rows(image=dt.image[idx], category=dt.category[idx], score=dt.score[idx], area=dt.area[idx],
                         box=None if dt.box is None else dt.box[idx],
                         mask=None if dt.mask is None else [dt.mask[i] for i in idx.tolist()],
                         keypoints=None if dt.keypoints is None else dt.keypoints[idx])
        mm = C.match(rows_dt, g, n_categories=prep.K, iou_type=prep.iou_type, thresholds=np.array([iou_threshold]),
                     area_ranges=[C.AREA_ALL], max_dets=max_det, sigmas=sigmas)
        dt_gt, dt_ig, dt_iou = mm.dt_gt[0], mm.dt_ignore[0], mm.dt_iou[0]
        gt_matched, gt_ig = mm.gt_matched[:, 0], mm.gt_ignore[0]
        live = mm.dt_rank < max_det
    nf = len(prep.gt.frames)
    tp_mask = live & (dt_gt >= 0) & ~dt_ig
    fp_mask = live & (dt_gt < 0) & ~dt_ig
    tp = np.bincount(rows_dt.image[tp_mask], minlength=nf)
    fp = np.bincount(rows_dt.image[fp_mask], minlength=nf)
    fn = np.bincount(g.image[~gt_ig & ~gt_matched], minlength=nf)
    iou_sum = np.bincount(rows_dt.image[tp_mask], weights=dt_iou[tp_mask], minlength=nf)
    out = []
    for j, (data_id, fi) in enumerate(prep.gt.frames):
        t = int(tp[j])
        out.append(FrameResult(data_id=data_id, frame_index=fi, tp=t, fp=int(fp[j]), fn=int(fn[j]),
                               mean_iou=finite_or_none(iou_sum[j] / t) if t else None))
    out.sort(key=worst_first_key)
    dets: dict[str, list[Any]] | None = None
    if want_detections:
        prow = prep.prow if rows_dt is dt else prep.prow[np.flatnonzero(
            np.ones(len(dt), bool) if score_threshold is None else dt.score >= score_threshold)]
        pred = prep.pred
        rows = (prow - np.searchsorted(pred.frame, pred.frame[prow], side="left")).tolist()
        status = np.select([tp_mask, fp_mask, live], ["tp", "fp", "ignored"], "beyond_max_dets").tolist()
        matched = dt_gt >= 0
        ious = np.where(matched, dt_iou, 0.0).tolist()
        frames = prep.gt.frames
        names = prep.names
        image = rows_dt.image.tolist()
        dets = {"data_id": [frames[j][0] for j in image], "frame_index": [frames[j][1] for j in image],
                "row": rows, "category": [names[k] for k in rows_dt.category.tolist()],
                "score": rows_dt.score.tolist(), "status": status,
                "iou": [v if hit else None for v, hit in zip(ious, matched.tolist())]}
    return out, dets


_PAIRS_AT_ONCE = 1 << 18


def _confusion(prep: Prepared, *, iou_threshold: float, score_threshold: float | None) -> ConfusionMatrix:
    """Class-agnostic greedy matching per image (highest IoU first), background row and column."""
    dt, g = prep.dt, prep.gtr
    K = prep.K
    keep = np.ones(len(dt), dtype=bool) if score_threshold is None else dt.score >= score_threshold
    di = np.flatnonzero(keep)
    gi = np.arange(len(g))
    matrix = np.zeros((K + 1, K + 1), dtype=np.int64)
    # Every (detection, ground truth) pair of an image, class-agnostic.
    dorder = di[np.argsort(dt.image[di], kind="stable")]
    gorder = gi[np.argsort(g.image, kind="stable")]
    gimg = g.image[gorder]
    lo = np.searchsorted(gimg, dt.image[dorder], side="left")
    hi = np.searchsorted(gimg, dt.image[dorder], side="right")
    cnt = hi - lo
    from .coco import _pair_ious, _ragged_arange

    # Pairs at or above the threshold, computed a slice of detections at a time (memory).
    ends = np.cumsum(cnt)
    hits_d, hits_g, hits_v = [], [], []
    start = 0
    while start < dorder.shape[0]:
        stop = int(np.searchsorted(ends, (ends[start - 1] if start else 0) + _PAIRS_AT_ONCE, side="right"))
        stop = max(stop, start + 1)
        c = cnt[start:stop]
        pd = np.repeat(dorder[start:stop], c)
        pg = gorder[np.repeat(lo[start:stop], c) + _ragged_arange(c)]
        ious = _pair_ious(dt, g, pd, pg, prep.iou_type, None, dt.image[pd]) if pd.size else np.zeros(0)
        hit = ious >= iou_threshold
        hits_d.append(pd[hit])
        hits_g.append(pg[hit])
        hits_v.append(ious[hit])
        start = stop
    pd = np.concatenate(hits_d) if hits_d else np.zeros(0, np.int64)
    pg = np.concatenate(hits_g) if hits_g else np.zeros(0, np.int64)
    ious = np.concatenate(hits_v) if hits_v else np.zeros(0)
    crowd = g.crowd[pg]
    # A detection on a crowd region is left out; crowds match nothing.
    on_crowd = np.zeros(len(dt), dtype=bool)
    on_crowd[pd[crowd]] = True
    pd, pg, ious = pd[~crowd], pg[~crowd], ious[~crowd]
    # Greedy by IoU (ties: detection, then ground-truth row): in the pairs' total order, a pair
    # that is the first left for both its detection and its ground truth is what the greedy
    # walk takes; take all of those at once, drop the pairs they rule out, repeat.
    order = np.lexsort((pg, pd, -ious))
    pd, pg = pd[order], pg[order]
    used_d = np.zeros(len(dt), dtype=bool)
    used_g = np.zeros(len(g), dtype=bool)
    while pd.size:
        first_d = np.zeros(pd.size, dtype=bool)
        first_d[np.unique(pd, return_index=True)[1]] = True
        first_g = np.zeros(pd.size, dtype=bool)
        first_g[np.unique(pg, return_index=True)[1]] = True
        take = first_d & first_g
        td, tg = pd[take], pg[take]
        used_d[td] = used_g[tg] = True
        np.add.at(matrix, (g.category[tg], dt.category[td]), 1)
        left = ~used_d[pd] & ~used_g[pg]
        pd, pg = pd[left], pg[left]
    free_g = ~used_g & ~g.crowd
    np.add.at(matrix, (g.category[free_g], K), 1)
    free_d = keep & ~used_d & ~on_crowd
    np.add.at(matrix, (K, dt.category[free_d]), 1)  # type: ignore[arg-type]  # numpy's stubs: no (int, array) index
    return ConfusionMatrix(labels=[*prep.names, "background"], matrix=matrix.tolist(), iou_threshold=iou_threshold,
                           score_threshold=score_threshold)


# -- writing back ------------------------------------------------------------------------------
def attach(predictions: Any, result: EvaluationResult) -> Any:
    """``predictions`` (a PredictionSet or a path) with the ``eval.*`` attributes on every evaluated frame.

    A prediction frame gets the results of the ground-truth frame the evaluation paired it
    with (``result.links``); a frame the evaluation did not pair is left as it was.
    """
    if not isinstance(predictions, predport.PredictionSet):
        predictions = predport.load(predictions)
    by_key = result.frame_attributes()
    frames = []
    for f in predictions.frames:
        gt_key = result.links.get((f.data_id, f.frame_index), (f.data_id, f.frame_index))
        extra = by_key.get(gt_key)
        frames.append(f.model_copy(update={"attributes": {**f.attributes, **extra}}) if extra else f)
    return predictions.model_copy(update={"frames": frames})
