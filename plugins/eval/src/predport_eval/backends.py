"""The reference engines behind ``backend="pycocotools"`` / ``"faster-coco-eval"``.

The prepared columns are handed to the tool as COCO dicts (ground truth with its ``area``
and ``iscrowd``; results with ids in file order), and its ``eval["precision"]`` /
``eval["recall"]`` are read back, so every summary is computed the same way whichever
engine ran.
"""
from __future__ import annotations

import contextlib
import io
from typing import Any, Sequence

import numpy as np

import predport

from . import coco as C


def _datasets(prep: Any, iou_type: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    dt, gt = prep.dt, prep.gtr
    images = [{"id": int(i) + 1, "width": 1, "height": 1} for i in range(len(prep.gt.frames))]
    for i, (w, h) in enumerate(prep.gt.sizes):
        if w and h:
            images[i].update(width=w, height=h)
    cats = [{"id": k + 1, "name": name} for k, name in enumerate(prep.names)]
    anns = []
    for n in range(len(gt)):
        a: dict[str, Any] = {"id": n + 1, "image_id": int(gt.image[n]) + 1, "category_id": int(gt.category[n]) + 1,
                             "area": float(gt.area[n]), "iscrowd": int(gt.crowd[n])}
        if iou_type == "bbox":
            a["bbox"] = gt.box[n].tolist()
        elif iou_type == "segm":
            m = gt.mask[n]
            a["segmentation"] = {"size": list(m["size"]), "counts": m["counts"]}
        else:
            a["keypoints"] = gt.keypoints[n].reshape(-1).tolist()
            a["num_keypoints"] = int(gt.num_keypoints[n])
            a["bbox"] = gt.box[n].tolist()
        anns.append(a)
    res = []
    for n in range(len(dt)):
        r: dict[str, Any] = {"image_id": int(dt.image[n]) + 1, "category_id": int(dt.category[n]) + 1,
                             "score": float(dt.score[n])}
        if iou_type == "bbox":
            r["bbox"] = dt.box[n].tolist()
        elif iou_type == "segm":
            m = dt.mask[n]
            r["segmentation"] = {"size": list(m["size"]), "counts": m["counts"]}
        else:
            r["keypoints"] = dt.keypoints[n].reshape(-1).tolist()
        res.append(r)
    return {"images": images, "categories": cats, "annotations": anns}, res


def reference_accumulate(prep: Any, *, backend: str, iou_type: str, max_dets: Sequence[int],
                         area_labels: Sequence[str], sigmas: Any) -> C.Accumulated:
    """Run pycocotools or faster-coco-eval on the prepared columns; their precision and recall."""
    gt_doc, res = _datasets(prep, iou_type)
    if backend == "pycocotools":
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
    else:
        try:
            from faster_coco_eval import COCO
            from faster_coco_eval import COCOeval_faster as COCOeval
        except ImportError:
            raise predport.ConfigError("backend 'faster-coco-eval' needs the faster-coco-eval package",
                                       hint="pip install 'predport-eval[faster]'") from None
    with contextlib.redirect_stdout(io.StringIO()):
        cg = COCO()
        cg.dataset = gt_doc
        cg.createIndex()
        cd = cg.loadRes(res) if res else COCO()
        e = COCOeval(cg, cd, iou_type)
        e.params.imgIds = sorted(int(i) + 1 for i in np.argsort(prep.image_order))  # ties in image order
        e.params.maxDets = list(max_dets)
        if sigmas is not None and iou_type == "keypoints":
            e.params.kpt_oks_sigmas = np.asarray(sigmas)
        e.evaluate()
        e.accumulate()
    return C.Accumulated(precision=np.asarray(e.eval["precision"]), recall=np.asarray(e.eval["recall"]),
                         max_dets=tuple(max_dets), area_labels=tuple(area_labels))
