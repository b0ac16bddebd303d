"""Fixtures for predport-eval tests: corpus paths and pycocotools as the reference."""
from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

from predport.testing import require_corpus


@pytest.fixture
def coco_corpus() -> Callable[[str], Path]:
    def _path(rel: str) -> Path:
        return require_corpus("coco", *rel.split("/"))

    return _path


def pycocotools_eval(gt_path: Any, dt: Any, iou_type: str, max_dets: list[int] | None = None) -> Any:
    """``COCOeval`` run the documented way (``loadRes`` + evaluate/accumulate/summarize), quietly;
    ``max_dets`` sets ``params.maxDets`` (default ``[1, 10, 100]``)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(gt_path))
        res = gt.loadRes(str(dt) if isinstance(dt, Path) else dt)
        e = COCOeval(gt, res, iou_type)
        if max_dets is not None:
            e.params.maxDets = list(max_dets)
        e.evaluate()
        e.accumulate()
        e.summarize()
    return e


def per_image_counts(e: Any) -> dict[int, tuple[int, int, int]]:
    """``{image_id: (tp, fp, fn)}`` at IoU 0.5, area 'all', 100 detections, from ``COCOeval.evalImgs``."""
    out: dict[int, list[int]] = {}
    n_area = len(e.params.areaRng)
    n_img = len(e.params.imgIds)
    for ci in range(len(e.params.catIds)):
        for ii in range(n_img):
            ev = e.evalImgs[ci * n_area * n_img + ii]  # area range index 0: "all"
            if ev is None:
                continue
            dtm, dtig = np.asarray(ev["dtMatches"])[0], np.asarray(ev["dtIgnore"])[0]
            gtm, gtig = np.asarray(ev["gtMatches"])[0], np.asarray(ev["gtIgnore"])
            c = out.setdefault(ev["image_id"], [0, 0, 0])
            c[0] += int(((dtm > 0) & ~dtig.astype(bool)).sum())
            c[1] += int(((dtm == 0) & ~dtig.astype(bool)).sum())
            c[2] += int(((gtm == 0) & (gtig == 0)).sum())
    return {k: tuple(v) for k, v in out.items()}


class Reference:
    """pycocotools, the reference the tests compare with (a fixture: tests cannot import conftest)."""

    eval = staticmethod(pycocotools_eval)
    per_image_counts = staticmethod(per_image_counts)


@pytest.fixture
def ref() -> Reference:
    return Reference()
