"""COCO detection metrics (``bbox``, ``segm``, ``keypoints``), vectorised with numpy.

This is pycocotools' ``COCOeval`` (``evaluate`` + ``accumulate`` + ``summarize``)
restated over flat columns instead of one Python dict per annotation; the tests
compare every statistic and every image's matches with pycocotools itself. What
is kept exactly as ``COCOeval`` does it:

* detections of one (image, class) are taken in score order (a stable sort, so
  equal scores keep file order), at most ``max_dets[-1]`` of them;
* a ground-truth row is *ignored* when it is a crowd (``iscrowd``; pycocotools
  overrides an ``ignore`` flag with ``iscrowd``), for keypoints when it has no
  labelled keypoint, and per area range when its ``area`` is outside the range;
* greedy matching per IoU threshold: a detection takes the unmatched
  non-ignored ground truth of highest IoU (>= the threshold, the later one on a
  tie), else an ignored one; crowds can be matched any number of times; a
  detection matched to an ignored row, or unmatched and outside the area range,
  is ignored (neither TP nor FP);
* crowd IoU is intersection over the detection's area; OKS uses the COCO
  sigmas and the ground truth's area;
* precision is made monotone from the right and read at 101 recall points;
  detections of all images are merged in score order, ties in image-id order.

The matcher walks detection ranks (at most 100 steps), each step deciding every
(image, class) block at once for all area ranges and thresholds.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

IOU_THRS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
REC_THRS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
AREA_ALL = (0.0, 1e5 ** 2)
AREA_RANGES = {"all": AREA_ALL, "small": (0.0, 32.0 ** 2), "medium": (32.0 ** 2, 96.0 ** 2),
               "large": (96.0 ** 2, 1e5 ** 2)}
KPT_SIGMAS = np.array([.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89]) / 10.0

#: The 12 statistics of ``COCOeval.summarize`` (bbox, segm): (name, ap, iou, area, max_dets index).
STATS_DETECTION = (
    ("AP", True, None, "all", -1), ("AP50", True, 0.5, "all", -1), ("AP75", True, 0.75, "all", -1),
    ("APs", True, None, "small", -1), ("APm", True, None, "medium", -1), ("APl", True, None, "large", -1),
    ("AR1", False, None, "all", 0), ("AR10", False, None, "all", 1), ("AR100", False, None, "all", 2),
    ("ARs", False, None, "small", -1), ("ARm", False, None, "medium", -1), ("ARl", False, None, "large", -1),
)
#: The 10 statistics for keypoints (max 20 detections, no small range).
STATS_KEYPOINTS = (
    ("AP", True, None, "all", -1), ("AP50", True, 0.5, "all", -1), ("AP75", True, 0.75, "all", -1),
    ("APm", True, None, "medium", -1), ("APl", True, None, "large", -1),
    ("AR", False, None, "all", -1), ("AR50", False, 0.5, "all", -1), ("AR75", False, 0.75, "all", -1),
    ("ARm", False, None, "medium", -1), ("ARl", False, None, "large", -1),
)


@dataclass
class Rows:
    """One side of an evaluation as columns (row ``i`` is one detection or one ground-truth object).

    ``image`` — int64 index into the evaluation's image list (``image_order`` ranks them as
    pycocotools sorts image ids); ``category`` — int64 class index; ``score`` — float64
    (ground truth: NaN); ``area`` — float64 pixels²; ``crowd``/``ignore`` — bool (ground truth);
    ``box`` — (N, 4) ``[x, y, w, h]`` pixels; ``mask`` — list of compressed RLE dicts (segm);
    ``keypoints`` — (N, K, 3) float64 (keypoints); ``order`` — position in the source
    (ties keep it).
    """

    image: np.ndarray
    category: np.ndarray
    score: np.ndarray
    area: np.ndarray
    # Present for the iou_type that needs them (None otherwise): Any, as the matching code
    # reads the one its iou_type guarantees.
    box: Any = None
    crowd: Any = None
    ignore: np.ndarray | None = None
    mask: Any = None
    keypoints: Any = None
    num_keypoints: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.image.shape[0])


@dataclass
class Matching:
    """Greedy COCO matching of detections to ground truth, for every area range and threshold.

    Rows ``c = a * T + t`` (area range ``a``, threshold ``t``): ``dt_matched[c, d]`` whether
    detection ``d`` is matched, ``dt_ignore[c, d]`` whether it is ignored; ``gt_matched[g, c]``;
    in the first area range ("all") only and for the threshold indices ``detail``, ``dt_gt[i, d]``
    the matched ground-truth row (-1: none) and ``dt_iou[i, d]`` the IoU of the match (0 when
    none) at threshold ``detail[i]``; ``dt_rank`` the detection's
    rank in its (image, class) block (>= max_dets: never evaluated); ``gt_ignore[a, g]``.
    """

    dt_matched: np.ndarray
    dt_gt: np.ndarray
    dt_ignore: np.ndarray
    dt_iou: np.ndarray
    gt_matched: np.ndarray
    gt_ignore: np.ndarray
    dt_rank: np.ndarray
    thresholds: np.ndarray
    area_ranges: list[tuple[float, float]]
    detail: tuple[int, ...] = ()


def _ragged_arange(counts: np.ndarray) -> np.ndarray:
    """``concatenate([arange(c) for c in counts])`` without a Python loop."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(counts)
    out = np.arange(total, dtype=np.int64)
    out -= np.repeat(ends - counts, counts)
    return out


def _box_iou(d: np.ndarray, g: np.ndarray, crowd: np.ndarray) -> np.ndarray:
    """IoU of paired boxes ``[x, y, w, h]`` as pycocotools' ``bbIou`` computes it (crowd: over the det area)."""
    w = np.minimum(d[:, 0] + d[:, 2], g[:, 0] + g[:, 2]) - np.maximum(d[:, 0], g[:, 0])
    h = np.minimum(d[:, 1] + d[:, 3], g[:, 1] + g[:, 3]) - np.maximum(d[:, 1], g[:, 1])
    inter = np.where((w > 0) & (h > 0), w * h, 0.0)
    da = d[:, 2] * d[:, 3]
    union = np.where(crowd, da, da + g[:, 2] * g[:, 3] - inter)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = inter / union
    return np.where(inter > 0, out, 0.0)


def _oks(dk: np.ndarray, gk: np.ndarray, gbox: np.ndarray, garea: np.ndarray,
         sigmas: np.ndarray) -> np.ndarray:
    """Object keypoint similarity of paired (detection, ground truth), as ``COCOeval.computeOks``."""
    var = (sigmas * 2) ** 2
    xg, yg, vg = gk[:, :, 0], gk[:, :, 1], gk[:, :, 2]
    xd, yd = dk[:, :, 0], dk[:, :, 1]
    visible = vg > 0
    labelled = (visible.sum(axis=1) > 0)[:, None]
    x0 = (gbox[:, 0] - gbox[:, 2])[:, None]
    x1 = (gbox[:, 0] + gbox[:, 2] * 2)[:, None]
    y0 = (gbox[:, 1] - gbox[:, 3])[:, None]
    y1 = (gbox[:, 1] + gbox[:, 3] * 2)[:, None]
    dx = np.where(labelled, xd - xg, np.maximum(0, x0 - xd) + np.maximum(0, xd - x1))
    dy = np.where(labelled, yd - yg, np.maximum(0, y0 - yd) + np.maximum(0, yd - y1))
    e = (dx ** 2 + dy ** 2) / var / (garea[:, None] + np.spacing(1)) / 2
    use = np.where(labelled, visible, True)
    terms = np.where(use, np.exp(-e), 0.0)
    return terms.sum(axis=1) / use.sum(axis=1)


def _pair_ious(dt: Rows, gt: Rows, di: np.ndarray, gi: np.ndarray, iou_type: str,
               sigmas: np.ndarray | None, block_of_pair: np.ndarray) -> np.ndarray:
    if iou_type == "bbox":
        return _box_iou(dt.box[di], gt.box[gi], gt.crowd[gi])
    if iou_type == "keypoints":
        return _oks(dt.keypoints[di], gt.keypoints[gi], gt.box[gi], gt.area[gi],
                    KPT_SIGMAS if sigmas is None else sigmas)
    # segm: pycocotools' RLE IoU (C), one call per (image, class) block.
    from pycocotools import mask as mask_utils

    out = np.zeros(di.shape[0])
    if not di.shape[0]:
        return out
    bounds = np.flatnonzero(np.diff(block_of_pair)) + 1
    starts = np.concatenate(([0], bounds)).tolist()
    ends = np.concatenate((bounds, [di.shape[0]])).tolist()
    for s, e in zip(starts, ends):
        dset = list(dict.fromkeys(di[s:e].tolist()))
        gset = list(dict.fromkeys(gi[s:e].tolist()))
        m = mask_utils.iou([_rle(dt.mask[i]) for i in dset], [_rle(gt.mask[i]) for i in gset],
                           [int(gt.crowd[i]) for i in gset])
        m = np.asarray(m, dtype=np.float64).reshape(len(dset), len(gset))
        dpos = {v: k for k, v in enumerate(dset)}
        gpos = {v: k for k, v in enumerate(gset)}
        out[s:e] = m[[dpos[i] for i in di[s:e].tolist()], [gpos[i] for i in gi[s:e].tolist()]]
    return out


def _rle(m: Any) -> dict[str, Any]:
    counts = m["counts"]
    return {"size": list(m["size"]), "counts": counts.encode("ascii") if isinstance(counts, str) else counts}


def gt_ignored(gt: Rows, iou_type: str, area_ranges: Sequence[tuple[float, float]]) -> np.ndarray:
    """``[area range, gt row]``: ignored rows as ``COCOeval.evaluateImg`` decides them."""
    base = gt.crowd.copy()
    if iou_type == "keypoints" and gt.num_keypoints is not None:
        base |= gt.num_keypoints == 0
    out = np.empty((len(area_ranges), len(gt)), dtype=bool)
    for a, (lo, hi) in enumerate(area_ranges):
        out[a] = base | (gt.area < lo) | (gt.area > hi)
    return out


_BIG = 1 << 20  # above any block's ground-truth count: "non-ignored" ranks above every position
_CHUNK = 1 << 17  # (pair, column) cells decided at once in a rank step
_ROWS = 5  # thresholds accumulated at once


def match(dt: Rows, gt: Rows, *, n_categories: int, iou_type: str = "bbox",
          thresholds: np.ndarray = IOU_THRS, area_ranges: Sequence[tuple[float, float]] = tuple(AREA_RANGES.values()),
          max_dets: int = 100, sigmas: np.ndarray | None = None, detail: int | None = None) -> Matching:
    """Match every (image, class) block at once; see the module docstring for the rules.

    ``detail``: the one threshold index whose matched rows and IoUs (``dt_gt``, ``dt_iou``)
    are kept (all thresholds when ``None``; one saves memory on large sets).
    """
    area_ranges = [(float(r[0]), float(r[1])) for r in area_ranges]
    A, T = len(area_ranges), len(thresholds)
    AT = A * T
    nd, ng = len(dt), len(gt)
    dblock = dt.image * n_categories + dt.category
    gblock = gt.image * n_categories + gt.category
    # Detections in score order within a block (stable: equal scores keep source order).
    dorder = np.lexsort((np.arange(nd), -dt.score, dblock))
    dsorted_block = dblock[dorder]
    if nd:
        starts = np.flatnonzero(np.r_[True, dsorted_block[1:] != dsorted_block[:-1]])
        rank_sorted = _ragged_arange(np.diff(np.r_[starts, nd]))
    else:
        rank_sorted = np.zeros(0, dtype=np.int64)
    dt_rank = np.empty(nd, dtype=np.int64)
    dt_rank[dorder] = rank_sorted
    gorder = np.argsort(gblock, kind="stable")
    gsorted_block = gblock[gorder]
    glo = np.searchsorted(gsorted_block, dsorted_block, side="left")
    ghi = np.searchsorted(gsorted_block, dsorted_block, side="right")
    gcount = np.where(rank_sorted < max_dets, ghi - glo, 0)
    # Every (detection, ground truth) pair of a block; detections by position in dorder.
    pair_ds = np.repeat(np.arange(nd), gcount)
    pair_gpos = _ragged_arange(gcount)  # the ground truth's position in its block (file order)
    pair_g = gorder[np.repeat(glo, gcount) + pair_gpos]
    ious = _pair_ious(dt, gt, dorder[pair_ds], pair_g, iou_type, sigmas, dsorted_block[pair_ds])
    useful = ious >= min(float(np.min(thresholds)), 1 - 1e-10)  # lower pairs never match
    pair_ds, pair_gpos, pair_g, ious = pair_ds[useful], pair_gpos[useful], pair_g[useful], ious[useful]
    # Ranks in turn; within a detection its pairs by (IoU, position): the last eligible one wins,
    # which is pycocotools' "highest IoU, the later ground truth on a tie".
    pair_rank = rank_sorted[pair_ds]
    porder = np.lexsort((pair_gpos, ious, pair_ds, pair_rank))
    pair_ds, pair_g, ious, pair_rank = pair_ds[porder], pair_g[porder], ious[porder], pair_rank[porder]
    pair_d = dorder[pair_ds]
    g_ig = gt_ignored(gt, iou_type, area_ranges)  # [A, ng]
    g_keep_col = np.repeat(~g_ig, T, axis=0).T.astype(np.int32) * _BIG  # [ng, AT]: bonus of non-ignored
    crowd = gt.crowd
    thr = np.minimum(np.asarray(thresholds, dtype=np.float64), 1 - 1e-10)
    thr_col = np.tile(thr, A)  # [AT]
    gt_matched = np.zeros((ng, AT), dtype=bool)
    dt_matched = np.zeros((AT, nd), dtype=bool)
    dt_ig = np.zeros((AT, nd), dtype=bool)  # first: matched to an ignored ground truth
    kept = tuple(range(T)) if detail is None else (int(detail),)
    dt_gt = np.full((len(kept), nd), -1, dtype=np.int32)
    dt_iou = np.zeros((len(kept), nd))
    rank_bounds = np.searchsorted(pair_rank, np.arange(max_dets + 1)).tolist()
    for r in range(max_dets):
        s, e = rank_bounds[r], rank_bounds[r + 1]
        if s == e:
            if s == len(pair_rank):
                break
            continue
        g = pair_g[s:e]
        v = ious[s:e]
        ds = pair_ds[s:e]
        seg = np.flatnonzero(np.r_[True, ds[1:] != ds[:-1]])
        local = np.arange(e - s, dtype=np.int32)[:, None]
        g_crowd = crowd[g]
        # Columns are independent: a few at a time when the rank has many pairs (memory).
        step = max(1, min(AT, _CHUNK // (e - s)))
        for c0 in range(0, AT, step):
            c1 = min(AT, c0 + step)
            free = ~gt_matched[g, c0:c1]
            free[g_crowd] = True
            eligible = free & (v[:, None] >= thr_col[None, c0:c1])
            key = np.where(eligible, local + g_keep_col[g, c0:c1], -1)
            best = np.maximum.reduceat(key, seg, axis=0)  # [ndet, c1 - c0]
            di_, ci_ = np.nonzero(best >= 0)
            p = best[di_, ci_] % _BIG
            ci_ += c0
            gsel = g[p]
            dsel = pair_d[s:e][p]
            gt_matched[gsel, ci_] = True
            dt_matched[ci_, dsel] = True
            dt_ig[ci_, dsel] = g_keep_col[gsel, ci_] == 0
            first = ci_ < T if detail is None else ci_ == detail
            row = ci_[first] if detail is None else 0
            dt_gt[row, dsel[first]] = gsel[first]
            dt_iou[row, dsel[first]] = v[p[first]]
    for a, (lo, hi) in enumerate(area_ranges):  # unmatched and outside the area range: ignored
        rows = slice(a * T, (a + 1) * T)
        out = (dt.area < lo) | (dt.area > hi)
        dt_ig[rows] |= ~dt_matched[rows] & out[None, :]
    return Matching(dt_matched=dt_matched, dt_gt=dt_gt, dt_ignore=dt_ig, dt_iou=dt_iou, gt_matched=gt_matched,
                    gt_ignore=g_ig, dt_rank=dt_rank, thresholds=np.asarray(thresholds),
                    area_ranges=list(area_ranges), detail=kept)


@dataclass
class Accumulated:
    """``COCOeval.eval``: ``precision[T, R, K, A, M]`` and ``recall[T, K, A, M]`` (-1: no ground truth)."""

    precision: np.ndarray
    recall: np.ndarray
    max_dets: tuple[int, ...]
    area_labels: tuple[str, ...]


def accumulate(dt: Rows, gt: Rows, m: Matching, *, n_categories: int, image_order: np.ndarray,
               max_dets: Sequence[int], area_labels: Sequence[str]) -> Accumulated:
    """Precision at 101 recall points and recall, per threshold, class, area range and max detections.

    ``COCOeval.accumulate`` walks every detection; this reads only the true positives: the
    precision at recall point ``r`` is the largest ``tp / (tp + fp)`` at or after the first
    detection where ``tp / n_gt >= r``, and that maximum is reached at a true positive (a
    false positive lowers it, an ignored detection repeats it). The arithmetic is the same
    floating-point operations as pycocotools', so the figures are equal, not close.
    """
    A, T = len(m.area_ranges), len(m.thresholds)
    K, M, R = n_categories, len(max_dets), len(REC_THRS)
    precision = -np.ones((T, R, K, A, M))
    recall = -np.ones((T, K, A, M))
    npig = np.zeros((A, K), dtype=np.int64)  # non-ignored ground truth per (area range, class)
    for a in range(A):
        npig[a] = np.bincount(gt.category[~m.gt_ignore[a]], minlength=K)[:K]
    img_rank = image_order[dt.image] if len(dt) else np.zeros(0, np.int64)
    # For each class with ground truth: the smallest true-positive count j with j / n >= r.
    need = _first_counts(npig)  # [A, K, R]
    for mi, md in enumerate(max_dets):
        sel = np.flatnonzero(m.dt_rank < md)
        # All images merged in score order; ties in image order, then rank (pycocotools
        # concatenates images in id order and sorts with a stable mergesort).
        order = sel[np.lexsort((m.dt_rank[sel], img_rank[sel], -dt.score[sel], dt.category[sel]))]
        cats = dt.category[order]
        bounds = np.searchsorted(cats, np.arange(K + 1))
        nd = np.diff(bounds)  # detections per class
        for a in range(A):  # one area range at a time: T rows of the [AT, n] tables
            ks = np.flatnonzero(npig[a] > 0)
            if not ks.size:
                continue
            for t0 in range(0, T, _ROWS):  # a few thresholds at a time (memory)
                t1 = min(T, t0 + _ROWS)
                rr = slice(a * T + t0, a * T + t1)
                count, first, pr = _true_positive_precision(np.take(m.dt_matched[rr], order, axis=1),
                                                            np.take(m.dt_ignore[rr], order, axis=1), cats, bounds,
                                                            K)
                cnt = count[:, ks]  # [t, k]
                rec = cnt / npig[a, ks][None, :]
                rec = np.where(nd[ks][None, :] > 0, rec, 0.0)
                recall[t0:t1, ks, a, mi] = rec
                jn = need[a, ks]  # [k, R]
                ok = (jn[None, :, :] <= cnt[:, :, None]) & (nd[ks][None, :, None] > 0) & (cnt[:, :, None] > 0)
                pos = first[:, ks][:, :, None] + np.maximum(jn[None, :, :], 1) - 1
                q = np.where(ok, pr[np.where(ok, pos, 0)] if pr.size else 0.0, 0.0)  # [t, k, R]
                precision[t0:t1, :, ks, a, mi] = q.transpose(0, 2, 1)
    return Accumulated(precision=precision, recall=recall, max_dets=tuple(max_dets), area_labels=tuple(area_labels))


def _true_positive_precision(matched: np.ndarray, ignored: np.ndarray, cats: np.ndarray, bounds: np.ndarray,
                             K: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Over detections in evaluation order (``[rows, n]`` tables): per (row, class) the number of
    true positives and where its run starts in ``pr``, and ``pr`` the interpolated precision
    (monotone from the right) at each true positive, row-major, class runs contiguous."""
    counted = ~ignored
    fp_cum = np.cumsum(~matched & counted, axis=1, dtype=np.int32)
    rows, cols = np.nonzero(matched & counted)  # the true positives, row-major
    kk = cats[cols]
    # True positives per (row, class) in order; j = 1, 2, ... within each group.
    group = rows * K + kk
    gstart = np.flatnonzero(np.r_[True, group[1:] != group[:-1]]) if group.size else np.zeros(0, np.int64)
    gcount = np.diff(np.r_[gstart, group.size])
    j = (_ragged_arange(gcount) + 1).astype(np.float64)
    seg0 = bounds[kk]
    fp = fp_cum[rows, cols].astype(np.int64)
    before = np.where(seg0 > 0, fp_cum[rows, np.maximum(seg0 - 1, 0)], 0)
    fp = (fp - before).astype(np.float64)
    pr = j / (fp + j + np.spacing(1))
    for s, c in zip(gstart.tolist(), gcount.tolist()):  # monotone from the right, per group
        if c > 1:
            pr[s:s + c] = np.maximum.accumulate(pr[s:s + c][::-1])[::-1]
    count = np.zeros((matched.shape[0], K), dtype=np.int64)
    first = np.zeros((matched.shape[0], K), dtype=np.int64)
    if group.size:
        count[rows[gstart], kk[gstart]] = gcount
        first[rows[gstart], kk[gstart]] = gstart
    return count, first, pr


def _first_counts(npig: np.ndarray) -> np.ndarray:
    """``[A, K, R]``: the least integer ``j`` with ``j / n >= REC_THRS[r]`` in floating point
    (``n = npig[a, k]``), which is where ``searchsorted(tp / n, r, "left")`` lands."""
    n = np.maximum(npig, 1).astype(np.float64)[:, :, None]
    j = np.maximum(np.floor(REC_THRS[None, None, :] * n) - 2, 0)
    for _ in range(5):
        j = np.where(j / n < REC_THRS[None, None, :], j + 1, j)
    return j.astype(np.int64)


def summarize(acc: Accumulated, stats: Sequence[tuple[str, bool, float | None, str, int]],
              category: int | None = None) -> dict[str, float]:
    """The summary statistics (``COCOeval.summarize``), over all classes or one (``category``)."""
    out: dict[str, float] = {}
    for name, ap, iou, area, mindex in stats:
        a = acc.area_labels.index(area)
        arr = acc.precision if ap else acc.recall
        if iou is not None:
            t = np.where(np.isclose(IOU_THRS, iou, atol=1e-12, rtol=0))[0]
            arr = arr[t]
        if ap:
            s = arr[:, :, :, a, mindex] if category is None else arr[:, :, category, a, mindex]
        else:
            s = arr[:, :, a, mindex] if category is None else arr[:, category, a, mindex]
        valid = s[s > -1]
        out[name] = float(np.mean(valid)) if valid.size else -1.0
    return out
