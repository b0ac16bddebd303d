"""KITTI 2-D object detection AP by difficulty, as the official devkit computes it.

The rules are those of the devkit's ``cpp/evaluate_object.cpp`` (``cleanData``,
``computeStatistics``, ``getThresholds``, ``eval_class``; metric IMAGE), restated over
the rows predport reads:

* classes ``Car``, ``Pedestrian``, ``Cyclist`` (names compared case-insensitively, as
  ``strcasecmp``), minimum overlap 0.7 / 0.5 / 0.5, an overlap must be *greater* than it;
* difficulties easy / moderate / hard: ground truth counts when its box height
  (``bottom - top``) is at least 40 / 25 / 25 px, its occlusion at most 0 / 1 / 2 and its
  truncation at most 0.15 / 0.3 / 0.5; otherwise it is *ignored* (neither TP nor FN,
  but a detection it takes is not a FP). ``Van`` is ignored for ``Car`` and
  ``Person_sitting`` for ``Pedestrian`` (neighbouring classes); an unknown
  truncation/occlusion (the reader drops the devkit's -1) is -1, which passes every limit;
* a detection lower than the difficulty's minimum height is ignored (the devkit stores its
  height in an ``int32_t``; truncating a positive height changes no comparison with the
  whole-number limits); a detection of another class takes no part;
* ``DontCare`` regions: after matching, a detection (not of an ignored kind) whose area
  lies more than the class's minimum overlap inside a DontCare box (intersection over the
  detection's area) is not a false positive;
* recall thresholds: the scores of the true positives of a score-greedy matching, thinned
  to 41 recall points (``getThresholds``); at each, TP/FP/FN of an overlap-greedy matching
  of the detections scoring at least that much; precision made monotone from the right;
  AP is the mean of the 40 points after the first (``AP_R40``, the devkit since 2019).

Values are fractions (the devkit prints them times 100). A class without countable ground
truth at a difficulty has AP ``None`` (the devkit's arithmetic would print 0); the means
``AP_easy``/``AP_moderate``/``AP_hard`` are over the classes that have some.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

import predport

from .inputs import Side, finite_or_none, lookup, match_classes, match_frames
from .result import EvaluationResult, FrameResult, worst_first_key

CLASSES = ("Car", "Pedestrian", "Cyclist")
NEIGHBOURS = {"car": "van", "pedestrian": "person_sitting"}
MIN_OVERLAP = {"car": 0.7, "pedestrian": 0.5, "cyclist": 0.5}
DIFFICULTIES = ("easy", "moderate", "hard")
MIN_HEIGHT = (40, 25, 25)
MAX_OCCLUSION = (0, 1, 2)
MAX_TRUNCATION = (0.15, 0.3, 0.5)
N_SAMPLE_PTS = 41
DONTCARE = "dontcare"
_NO_DETECTION = -10000000.0


@dataclass
class Image:
    """One image: ground truth and detections as corner boxes ``[x1, y1, x2, y2]``."""

    gt_name: list[str]  # casefolded class names
    gt_box: np.ndarray
    truncation: np.ndarray
    occlusion: np.ndarray
    dt_name: list[str]
    dt_box: np.ndarray
    dt_score: np.ndarray


@dataclass
class Stats:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    scores: list[float] = field(default_factory=list)  # scores of the true positives (recall thresholds)
    ious: list[float] = field(default_factory=list)  # overlaps of the true positives


def overlap(det: np.ndarray, other: np.ndarray, criterion: int = -1) -> np.ndarray:
    """``[n_det, n_other]`` overlaps as ``imageBoxOverlap``: -1 union, 0 over the detection's area."""
    if not det.shape[0] or not other.shape[0]:
        return np.zeros((det.shape[0], other.shape[0]))
    a = det[:, None, :]
    b = other[None, :, :]
    w = np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0])
    h = np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1])
    inter = w * h
    a_area = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    b_area = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        o = inter / (a_area + b_area - inter) if criterion == -1 else inter / a_area
    return np.where((w <= 0) | (h <= 0), 0.0, o)


def flags(gt_name: Any, gt_box: np.ndarray, truncation: np.ndarray, occlusion: np.ndarray, dt_name: Any,
          dt_box: np.ndarray, cls: str, difficulty: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``cleanData``'s rules over any number of rows (one image's or many images' at once):
    ignored flags of ground truth and detections (0 counted, 1 ignored, -1 another class)
    and which ground-truth rows are DontCare regions."""
    gt_name = np.asarray(gt_name, dtype=str)
    dt_name = np.asarray(dt_name, dtype=str)
    neighbour = NEIGHBOURS.get(cls)
    valid = np.where(gt_name == cls, 1, np.where(gt_name == neighbour, 0, -1) if neighbour else -1)
    height = gt_box[:, 3] - gt_box[:, 1]
    ignore = ((occlusion > MAX_OCCLUSION[difficulty]) | (truncation > MAX_TRUNCATION[difficulty])
              | (height < MIN_HEIGHT[difficulty]))
    ign_gt = np.where((valid == 1) & ~ignore, 0, np.where((valid == 0) | ((valid == 1) & ignore), 1, -1))
    dt_height = np.trunc(np.abs(dt_box[:, 1] - dt_box[:, 3]))  # int32_t height = fabs(y1 - y2)
    ign_dt = np.where(dt_height < MIN_HEIGHT[difficulty], 1, np.where(dt_name == cls, 0, -1))
    return ign_gt.astype(np.int64), ign_dt.astype(np.int64), gt_name == DONTCARE


def clean(img: Image, cls: str, difficulty: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """``cleanData`` for one image: :func:`flags`, the DontCare boxes and the number of counted
    ground truth."""
    ign_gt, ign_dt, dc = flags(img.gt_name, img.gt_box, img.truncation, img.occlusion, img.dt_name, img.dt_box,
                               cls, difficulty)
    return ign_gt, ign_dt, img.gt_box[dc], int((ign_gt == 0).sum())


def candidates(ov: np.ndarray, ign_dt: np.ndarray, ign_gt: np.ndarray, min_overlap: float) -> list[list[int]]:
    """Per ground truth (of the class or a neighbour), the detections in file order that can
    take it: of the class or ignored by height, overlap greater than the class's minimum. The
    devkit's loop skips every other detection, so ``statistics`` only walks these."""
    out: list[list[int]] = [[] for _ in range(ov.shape[1])]
    ok = (ov > min_overlap) & (ign_dt >= 0)[:, None] & (ign_gt >= 0)[None, :]
    gi, dj = np.nonzero(ok.T)
    for g, d in zip(gi.tolist(), dj.tolist()):
        out[g].append(d)
    return out


def statistics(cands: list[list[int]], ov: np.ndarray, in_dc: Any, scores: np.ndarray, ign_gt: np.ndarray,
               ign_dt: np.ndarray, *, compute_fp: bool, thresh: float = 0.0) -> Stats:
    """``computeStatistics`` for one image: ``cands`` from :func:`candidates`, ``ov[det, gt]``,
    ``in_dc[det]`` whether the detection lies more than the minimum overlap inside a DontCare box."""
    nd = ign_dt.shape[0]
    assigned = [False] * nd
    sc = scores.tolist()
    below = [compute_fp and v < thresh for v in sc]
    st = Stats(scores=[], ious=[])
    ign_dt_l = ign_dt.tolist()
    for i, gi in enumerate(ign_gt.tolist()):
        if gi == -1:
            continue
        det_idx = -1
        valid = _NO_DETECTION
        max_ov = 0.0
        assigned_ignored = False
        for j in cands[i]:
            if assigned[j] or below[j]:
                continue
            dj = ign_dt_l[j]
            o = ov[j, i]
            if not compute_fp:
                if sc[j] > valid:
                    det_idx, valid = j, sc[j]
            elif (o > max_ov or assigned_ignored) and dj == 0:
                max_ov, det_idx, valid, assigned_ignored = o, j, 1.0, False
            elif valid == _NO_DETECTION and dj == 1:
                det_idx, valid, assigned_ignored = j, 1.0, True
        if valid == _NO_DETECTION:
            if gi == 0:
                st.fn += 1
        elif gi == 1 or ign_dt_l[det_idx] == 1:
            assigned[det_idx] = True
        else:
            st.tp += 1
            st.scores.append(sc[det_idx])
            st.ious.append(float(ov[det_idx, i]))
            assigned[det_idx] = True
    if compute_fp:
        # Unassigned detections of the class (not ignored, not under the threshold) are FP,
        # less those assigned to a DontCare region.
        free = [j for j in range(nd) if not assigned[j] and ign_dt_l[j] == 0 and not below[j]]
        st.fp = len(free) - sum(1 for j in free if in_dc[j])
    return st


def thresholds(scores: list[float], n_gt: int) -> list[float]:
    """``getThresholds``: the scores at which recall passes each of the 41 sample points."""
    v = sorted(scores, reverse=True)
    out: list[float] = []
    current = 0.0
    for i, s in enumerate(v):
        left = (i + 1) / n_gt
        right = (i + 2) / n_gt if i < len(v) - 1 else left
        if (right - current) < (current - left) and i < len(v) - 1:
            continue
        out.append(s)
        current += 1.0 / (N_SAMPLE_PTS - 1.0)
    return out[:N_SAMPLE_PTS]


@dataclass
class ClassCurve:
    precision: list[float]
    recall: list[float]
    n_gt: int

    @property
    def ap(self) -> float | None:
        """``AP_R40``: the mean of the precision at the 40 recall points after 0."""
        if not self.n_gt:
            return None
        return float(sum(self.precision[1:N_SAMPLE_PTS]) / (N_SAMPLE_PTS - 1))


class _Prepared:
    """The images' rows concatenated (rules applied to all at once), and per image the
    detection/ground-truth overlaps and the detection/DontCare overlaps, computed once."""

    def __init__(self, images: list[Image]) -> None:
        self.images = images
        self.ov = [overlap(im.dt_box, im.gt_box) for im in images]

        def cat(xs: list[np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
            return np.concatenate(xs) if xs else np.zeros(shape)

        self.gt_name = np.array([n for im in images for n in im.gt_name], dtype=str)
        self.dt_name = np.array([n for im in images for n in im.dt_name], dtype=str)
        self.gt_box = cat([im.gt_box for im in images], (0, 4))
        self.dt_box = cat([im.dt_box for im in images], (0, 4))
        self.truncation = cat([im.truncation for im in images], (0,))
        self.occlusion = cat([im.occlusion for im in images], (0,))
        self.g_off = np.r_[0, np.cumsum([len(im.gt_name) for im in images])].astype(np.int64)
        self.d_off = np.r_[0, np.cumsum([len(im.dt_name) for im in images])].astype(np.int64)
        self.ov_dc: list[np.ndarray | None] = []
        for im in images:
            dc = im.gt_box[np.array([n == DONTCARE for n in im.gt_name], dtype=bool)] if im.gt_name else None
            self.ov_dc.append(overlap(im.dt_box, dc, 0) if dc is not None and dc.shape[0] else None)

    def in_dontcare(self, n: int, min_overlap: float) -> np.ndarray:
        """Per detection of image ``n``: lies more than ``min_overlap`` inside a DontCare box."""
        o = self.ov_dc[n]
        return np.zeros(self.images[n].dt_score.shape[0], dtype=bool) if o is None else np.asarray((o > min_overlap).any(axis=1))

    def flags(self, cls: str, difficulty: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:func:`flags` of every row, and the images holding a row of ``cls`` (or a neighbour)."""
        ign_gt, ign_dt, _ = flags(self.gt_name, self.gt_box, self.truncation, self.occlusion, self.dt_name,
                                  self.dt_box, cls, difficulty)
        g = np.r_[0, np.cumsum(ign_gt >= 0)]
        d = np.r_[0, np.cumsum(ign_dt >= 0)]
        busy = (g[self.g_off[1:]] - g[self.g_off[:-1]]) + (d[self.d_off[1:]] - d[self.d_off[:-1]]) > 0
        return ign_gt, ign_dt, np.flatnonzero(busy)

    def rows(self, n: int, ign_gt: np.ndarray, ign_dt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return ign_gt[self.g_off[n]:self.g_off[n + 1]], ign_dt[self.d_off[n]:self.d_off[n + 1]]


def eval_class(prep: _Prepared, cls: str, difficulty: int) -> ClassCurve:
    """``eval_class``: the precision (41 points, monotone) of one class at one difficulty."""
    min_ov = MIN_OVERLAP[cls]
    all_gt, all_dt, busy = prep.flags(cls, difficulty)
    n_gt = int((all_gt == 0).sum())
    v: list[float] = []
    work = []
    for n in busy.tolist():  # an image without a row of the class adds no TP, FP or FN at any threshold
        ign_gt, ign_dt = prep.rows(n, all_gt, all_dt)
        in_dc = prep.in_dontcare(n, min_ov)
        cands = candidates(prep.ov[n], ign_dt, ign_gt, min_ov)
        scores = prep.images[n].dt_score
        work.append((cands, prep.ov[n], in_dc, scores, ign_gt, ign_dt))
        v.extend(statistics(cands, prep.ov[n], in_dc, scores, ign_gt, ign_dt, compute_fp=False).scores)
    ts = thresholds(v, n_gt) if n_gt else []
    T = len(ts)
    ts_arr = np.asarray(ts, dtype=np.float64)
    # Difference arrays: an image adds the same counts over each run of thresholds.
    dtp, dfp, dfn = [0] * (T + 1), [0] * (T + 1), [0] * (T + 1)
    for cands, ov, in_dc, scores, ign_gt, ign_dt in work:
        # The result depends only on which detections score >= t (other classes' never take
        # part): thresholds descend, so that set grows in runs; each run is computed once.
        relevant = np.sort(scores[ign_dt >= 0])
        keys = (relevant.shape[0] - np.searchsorted(relevant, ts_arr, side="left")).tolist()
        t = 0
        while t < T:
            t1 = t + 1
            while t1 < T and keys[t1] == keys[t]:
                t1 += 1
            st = statistics(cands, ov, in_dc, scores, ign_gt, ign_dt, compute_fp=True, thresh=ts[t])
            dtp[t] += st.tp
            dtp[t1] -= st.tp
            dfp[t] += st.fp
            dfp[t1] -= st.fp
            dfn[t] += st.fn
            dfn[t1] -= st.fn
            t = t1
    tp, fp, fn = (np.cumsum(x[:T]).tolist() for x in (dtp, dfp, dfn))
    precision = [0.0] * N_SAMPLE_PTS
    recall = [0.0] * N_SAMPLE_PTS
    for t in range(T):
        precision[t] = tp[t] / (tp[t] + fp[t]) if tp[t] + fp[t] else 0.0
        recall[t] = tp[t] / (tp[t] + fn[t]) if tp[t] + fn[t] else 0.0
    for t in range(T):
        precision[t] = max(precision[t:])
    return ClassCurve(precision=precision, recall=recall, n_gt=n_gt)


# -- from predport's columns ------------------------------------------------------------------
def is_dontcare(name: str) -> bool:
    return name.strip().casefold() == DONTCARE


def without_dontcare(side: Side) -> Side:
    """``side`` without its DontCare rows and class (for COCO metrics on KITTI ground truth)."""
    drop = {cid for cid, name in side.categories.items() if is_dontcare(name)}
    if not drop:
        return side
    keep = ~np.isin(side.category, list(drop))
    idx = np.flatnonzero(keep).tolist()

    def take(col: Any) -> Any:
        return None if col is None else [col[i] for i in idx]

    return replace(side, frame=side.frame[keep], category=side.category[keep], score=side.score[keep],
                   box=side.box[keep], categories={c: n for c, n in side.categories.items() if c not in drop},
                   mask=take(side.mask), polygon=take(side.polygon), keypoints=take(side.keypoints),
                   attributes=take(side.attributes))


def _number(attrs: list[Any] | None, rows: np.ndarray, key: str) -> np.ndarray:
    out = np.full(rows.shape[0], -1.0)
    if attrs is None:
        return out
    for n, i in enumerate(rows.tolist()):
        a = attrs[i]
        v = a.get(key) if a else None
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            out[n] = float(v)
    return out


def _corners(box: np.ndarray) -> np.ndarray:
    return np.stack([box[:, 0], box[:, 1], box[:, 0] + box[:, 2], box[:, 1] + box[:, 3]], axis=1)


def _images(pred: Side, gt: Side) -> tuple[list[Image], dict[str, Any], Any, dict[int, str]]:
    fm = match_frames(pred, gt)
    cmap, gt_ids = match_classes(pred, gt)
    gt_names = {cid: gt.categories[cid] for cid in gt_ids}
    unmatched: dict[str, Any] = {}
    pframe = fm.pred_to_gt[pred.frame] if len(pred) else np.zeros(0, np.int64)
    pcat = lookup(cmap, pred.category)
    on_gt = pframe >= 0
    unmatched["prediction_frames_without_ground_truth"] = int((fm.pred_to_gt < 0).sum())
    unmatched["predictions_on_frames_without_ground_truth"] = int((~on_gt).sum())
    matched = fm.pred_to_gt[fm.pred_to_gt >= 0]
    unmatched["ground_truth_frames_without_predictions"] = len(gt.frames) - len(set(matched.tolist()))
    # Prediction classes by the ground-truth name they matched (case-insensitive, ids, class map).
    name_of_pred = {cid: gt_names[gt_ids[k]] for cid, k in cmap.items()}
    lost: dict[str, int] = {}
    for cid in np.unique(pred.category[(pcat < 0) & on_gt]).tolist():
        lost[pred.categories.get(cid, str(cid))] = int(((pred.category == cid) & on_gt).sum())
    unmatched["prediction_classes_not_in_ground_truth"] = lost
    unmatched["frames_matched_by"] = {k: v for k, v in fm.how.items() if v}
    keep = on_gt & ~np.isnan(pred.box[:, 0]) if len(pred) else on_gt
    if (on_gt & ~keep).any():
        unmatched["predictions_without_bbox"] = int((on_gt & ~keep).sum())
    if len(pred) and np.isnan(pred.score[keep]).any():
        raise predport.ConfigError(f"{int(np.isnan(pred.score[keep]).sum())} prediction(s) have no score: KITTI "
                                   "evaluation ranks detections by score", file=pred.source)
    g_ok = ~np.isnan(gt.box[:, 0]) if len(gt) else np.zeros(0, bool)
    if (~g_ok).any():
        unmatched["ground_truth_without_bbox"] = int((~g_ok).sum())
    prow = np.flatnonzero(keep)
    prow = prow[np.argsort(pframe[prow], kind="stable")]
    grow = np.flatnonzero(g_ok)
    grow = grow[np.argsort(gt.frame[grow], kind="stable")]
    trunc, occ = _number(gt.attributes, grow, "truncated"), _number(gt.attributes, grow, "occluded")
    occ = np.trunc(occ)  # the devkit reads occlusion into an int32_t
    gname = [gt.categories.get(int(c), str(c)).casefold() for c in gt.category[grow].tolist()]
    pname = [name_of_pred.get(int(c), pred.categories.get(int(c), str(c))).casefold()
             for c in pred.category[prow].tolist()]
    gbox, pbox = _corners(gt.box[grow]), _corners(pred.box[prow])
    pscore = pred.score[prow]
    nf = len(gt.frames)
    gb = np.searchsorted(gt.frame[grow], np.arange(nf + 1))
    pb = np.searchsorted(pframe[prow], np.arange(nf + 1))
    images = []
    for j in range(nf):
        gs, ge, ps, pe = int(gb[j]), int(gb[j + 1]), int(pb[j]), int(pb[j + 1])
        images.append(Image(gt_name=gname[gs:ge], gt_box=gbox[gs:ge], truncation=trunc[gs:ge], occlusion=occ[gs:ge],
                            dt_name=pname[ps:pe], dt_box=pbox[ps:pe], dt_score=pscore[ps:pe]))
    evaluated = {c.casefold() for c in CLASSES} | set(NEIGHBOURS.values()) | {DONTCARE}
    others: dict[str, int] = {}
    for name in gname:
        if name not in evaluated:
            others[name] = others.get(name, 0) + 1
    if others:
        unmatched["ground_truth_classes_kitti_does_not_evaluate"] = others
    links = {pred.frames[i]: gt.frames[j] for i, j in enumerate(fm.pred_to_gt.tolist()) if j >= 0}
    return images, unmatched, links, gt_names


def evaluate_kitti(pred: Side, gt: Side, *, score_threshold: float | None = None) -> EvaluationResult:
    """KITTI 2-D AP by difficulty (see the module docstring), per class and per frame.

    Per frame: TP/FP/FN at the moderate difficulty, each class at its own minimum overlap,
    the detections scoring at least ``score_threshold`` (all when ``None``); ``mean_iou``
    over its true positives.
    """
    have = {k for a in (gt.attributes or []) if a for k in a}
    if not ({"truncated", "occluded"} & have) and gt.format != "kitti":
        raise predport.ConfigError(
            f"KITTI AP by difficulty needs the ground truth's truncation and occlusion; the ground truth "
            f"({gt.format or gt.source}) has neither", file=gt.source,
            hint="use iou_type='bbox' (COCO metrics), or give KITTI label files as ground truth")
    images, unmatched, links, gt_names = _images(pred, gt)
    prep = _Prepared(images)
    present = {n for im in images for n in im.gt_name} | {n for im in images for n in im.dt_name}
    by_cf = {n.casefold(): (cid, n) for cid, n in gt_names.items()}
    metrics: dict[str, float | None] = {}
    per_class: list[dict[str, Any]] = []
    pr_curves: dict[str, dict[str, Any]] = {}
    sums: dict[str, list[Any]] = {d: [] for d in DIFFICULTIES}
    for cls_name in CLASSES:
        cls = cls_name.casefold()
        if cls not in present:
            continue
        cid, shown = by_cf.get(cls, (None, cls_name))
        row: dict[str, Any] = {"category": shown, "category_id": cid}
        counts = {}
        for d, dname in enumerate(DIFFICULTIES):
            curve = eval_class(prep, cls, d)
            ap = curve.ap
            row[f"AP_{dname}"] = ap
            counts[f"ground_truth_{dname}"] = curve.n_gt
            if ap is not None:
                sums[dname].append(ap)
            if dname == "moderate" and curve.n_gt:
                pr_curves[shown] = {"iou": MIN_OVERLAP[cls], "difficulty": "moderate",
                                    "recall": [i / (N_SAMPLE_PTS - 1) for i in range(N_SAMPLE_PTS)],
                                    "precision": curve.precision}
        row.update(counts)
        row["min_overlap"] = MIN_OVERLAP[cls]
        per_class.append(row)
    for dname in DIFFICULTIES:
        metrics[f"AP_{dname}"] = float(np.mean(sums[dname])) if sums[dname] else None
    frames = _per_frame(prep, gt, score_threshold)
    settings = {"iou_type": "kitti", "score_threshold": score_threshold, "difficulty_of_per_frame": "moderate",
                "iou_threshold": "0.7/0.5/0.5 (Car/Pedestrian/Cyclist), moderate",
                "min_overlap": dict(zip(CLASSES, (MIN_OVERLAP[c.casefold()] for c in CLASSES))),
                "recall_points": N_SAMPLE_PTS - 1, "predictions": pred.source, "ground_truth": gt.source,
                "prediction_format": pred.format, "ground_truth_format": gt.format}
    return EvaluationResult(iou_type="kitti", metrics=metrics, per_class=per_class, per_frame=frames,
                            unmatched=unmatched, confusion=None, pr_curves=pr_curves, settings=settings, links=links)


def _per_frame(prep: _Prepared, gt: Side, score_threshold: float | None) -> list[FrameResult]:
    thresh = -math.inf if score_threshold is None else float(score_threshold)
    moderate = DIFFICULTIES.index("moderate")
    counts = np.zeros((len(prep.images), 3), dtype=np.int64)
    ious: list[list[float]] = [[] for _ in prep.images]
    for cls_name in CLASSES:
        cls = cls_name.casefold()
        min_ov = MIN_OVERLAP[cls]
        all_gt, all_dt, busy = prep.flags(cls, moderate)
        for n in busy.tolist():
            ign_gt, ign_dt = prep.rows(n, all_gt, all_dt)
            st = statistics(candidates(prep.ov[n], ign_dt, ign_gt, min_ov), prep.ov[n], prep.in_dontcare(n, min_ov),
                            prep.images[n].dt_score, ign_gt, ign_dt, compute_fp=True, thresh=thresh)
            counts[n] += (st.tp, st.fp, st.fn)
            ious[n].extend(st.ious)
    out = []
    for n, (data_id, fi) in enumerate(gt.frames):
        tp, fp, fn = (int(c) for c in counts[n])
        out.append(FrameResult(data_id=data_id, frame_index=fi, tp=tp, fp=fp, fn=fn,
                               mean_iou=finite_or_none(sum(ious[n]) / len(ious[n])) if ious[n] else None))
    out.sort(key=worst_first_key)
    return out
