"""COCO matching on workers, accumulation on the driver: ``evaluate(..., engine="dask")``.

COCO's greedy matching is decided per (image, class) block: rows of different images never
meet. The images are cut into ``shards`` contiguous groups (balanced by rows); each shard's
detection and ground-truth rows are matched on a worker by the same :func:`coco.match`
the single process runs, and the driver puts the shards' matchings back at their rows'
places, then accumulates and summarises over all of them as the single process does. The
figures are therefore equal, not close (the tests compare every statistic, per class and
per frame).

Engines: ``"local"`` matches the shards one after the other in this process (the unit of
work, without a cluster); ``"dask"`` on a ``distributed`` cluster (``scheduler=ADDRESS``, or
a ``LocalCluster`` of 2 processes started for the call), through :func:`predport.run_tasks`,
which imports Dask only for ``engine="dask"``. Reading both sides stays on the driver (one streaming pass each).
"""
from __future__ import annotations

import time
from typing import Any, Sequence

import numpy as np

import predport

from . import coco as C

_ARRAYS = ("image", "category", "score", "area", "box", "crowd", "ignore", "keypoints", "num_keypoints")


def _take(rows: C.Rows, idx: np.ndarray) -> C.Rows:
    out: dict[str, Any] = {name: (None if getattr(rows, name) is None else getattr(rows, name)[idx]) for name in _ARRAYS}
    out["mask"] = None if rows.mask is None else [rows.mask[i] for i in idx.tolist()]
    return C.Rows(**out)


def _cuts(dt: C.Rows, gt: C.Rows, shards: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(detection rows, ground-truth rows)`` of each shard: whole images, contiguous, balanced by rows."""
    n_images = int(max(dt.image.max(initial=-1), gt.image.max(initial=-1))) + 1
    weight = np.bincount(dt.image, minlength=n_images) + np.bincount(gt.image, minlength=n_images)
    total = int(weight.sum())
    ends = np.searchsorted(np.cumsum(weight), [total * (k + 1) / shards for k in range(shards)], side="left")
    shard_of_image = np.searchsorted(ends, np.arange(n_images), side="left").clip(0, shards - 1)
    d_shard, g_shard = shard_of_image[dt.image], shard_of_image[gt.image]
    out = []
    for s in range(shards):
        di, gi = np.flatnonzero(d_shard == s), np.flatnonzero(g_shard == s)
        if di.size or gi.size:
            out.append((di, gi))
    return out


def _match_task(dt: C.Rows, gt: C.Rows, kwargs: dict[str, Any]) -> dict[str, Any]:
    """What a worker runs: one shard's matching (module-level: workers import it by name)."""
    import os

    started = time.perf_counter()
    m = C.match(dt, gt, **kwargs)
    return {"m": m, "seconds": time.perf_counter() - started, "pid": os.getpid()}


def match(dt: C.Rows, gt: C.Rows, *, n_categories: int, engine: str, scheduler: str | None = None,
          shards: int | None = None, timing: dict[str, Any] | None = None, **kwargs: Any) -> C.Matching:
    """:func:`coco.match` of ``dt`` against ``gt``, shard by shard on ``engine``: the same :class:`coco.Matching`."""
    n = int(shards or 8)
    if n < 1:
        raise predport.ConfigError(f"shards must be at least 1, not {n}")
    kwargs["n_categories"] = n_categories
    cuts = _cuts(dt, gt, n)
    results, times = predport.run_tasks(_match_task, [(_take(dt, di), _take(gt, gi), kwargs) for di, gi in cuts],
                                        engine=engine, scheduler=scheduler)
    thresholds = np.asarray(kwargs.get("thresholds", C.IOU_THRS))
    areas: Sequence[tuple[float, float]] = kwargs.get("area_ranges", tuple(C.AREA_RANGES.values()))
    A, T = len(areas), len(thresholds)
    detail = kwargs.get("detail")
    kept = tuple(range(T)) if detail is None else (int(detail),)
    nd, ng = len(dt), len(gt)
    out = C.Matching(dt_matched=np.zeros((A * T, nd), dtype=bool), dt_gt=np.full((len(kept), nd), -1, dtype=np.int32),
                     dt_ignore=np.zeros((A * T, nd), dtype=bool), dt_iou=np.zeros((len(kept), nd)),
                     gt_matched=np.zeros((ng, A * T), dtype=bool), gt_ignore=np.zeros((A, ng), dtype=bool),
                     dt_rank=np.zeros(nd, dtype=np.int64), thresholds=thresholds,
                     area_ranges=[(float(r[0]), float(r[1])) for r in areas], detail=kept)
    for (di, gi), res in zip(cuts, results):
        m = res["m"]
        out.dt_matched[:, di] = m.dt_matched
        out.dt_gt[:, di] = np.where(m.dt_gt >= 0, gi[np.maximum(m.dt_gt, 0)] if gi.size else -1, -1)
        out.dt_ignore[:, di] = m.dt_ignore
        out.dt_iou[:, di] = m.dt_iou
        out.dt_rank[di] = m.dt_rank
        out.gt_matched[gi] = m.gt_matched
        out.gt_ignore[:, gi] = m.gt_ignore
    if timing is not None:
        timing.update(name=engine, shards=len(cuts), scheduler=scheduler, **times,
                      workers=sorted({r["pid"] for r in results}),
                      worker_seconds=[round(r["seconds"], 4) for r in results])
    return out
