"""The column layout predport reads and writes, and box coordinate conventions.

A dataset holds one row per data unit (an image). Ground truth lives in the top-level
columns, predictions in a column group (``model_evaluation/`` by default), as in Deep
Lake's "Evaluating Model Performance" playbook:

* ``data_id`` — Text, the data unit's id (file name); without it rows are named by index;
* ``width``/``height`` — UInt32 image size in pixels (0 = unknown), in datasets predport creates;
* ``<group>/boxes`` — ``BoundingBox(float64, format="ltwh", bbox_type="pixel")``, an (N, 4)
  array per row; a row of NaN is a prediction without a box. ``metadata["coords"]`` repeats
  the format (``{"type": "pixel", "mode": "LTWH"}``, the 3.x convention) because the 4.x type
  object does not report it back to Python;
* ``<group>/labels`` — ``ClassLabel(Array("uint32", 1))``: indices into
  ``metadata["class_names"]``; ``metadata["category_info"]`` lists ``{"id", "name", ...}`` in
  the same order (Deep Lake's own COCO ingestion does the same), so category ids survive;
* ``<group>/scores`` — ``Array("float64", 1)``; NaN = no score;
* ``<group>/polygons`` — ``Polygon()`` (float32 points), one polygon per prediction, an empty
  one where a prediction has none;
* ``<group>/masks`` — ``BinaryMask(sample_compression="lz4")``, an (H, W, N) bool array per row
  (Deep Lake's own COCO layout), 0 planes where a row's predictions have no mask;
  ``<group>/has_mask`` — ``Array("bool", 1)``, only when some rows mix predictions with and
  without a mask (see :mod:`predport_deeplake.masks`);
* ``<group>/attributes`` — Text, JSON ``{"frame": {...}, "predictions": [...]}`` for what has
  no column (COCO's ``image_id``, ``area``...), only when there is any;
* ``<group>/iou``, ``tp``, ``fp``, ``fn`` — per-frame evaluation (Float64 / Int64; NaN / -1 on
  rows that were not evaluated), from the frame attributes ``eval.mean_iou``, ``eval.tp``...
"""
from __future__ import annotations

from typing import Any

DEFAULT_GROUP = "model_evaluation"
ID_COLUMN = "data_id"
WIDTH, HEIGHT = "width", "height"
BOXES, LABELS, SCORES, POLYGONS, ATTRIBUTES = "boxes", "labels", "scores", "polygons", "attributes"
MASKS, HAS_MASK = "masks", "has_mask"
IMAGES = "images"
#: Evaluation columns and the frame attributes they come from (predport-eval's names).
EVAL_COLUMNS: dict[str, str] = {"iou": "eval.mean_iou", "tp": "eval.tp", "fp": "eval.fp", "fn": "eval.fn"}
EVAL_FLOAT = frozenset({"iou"})

#: Box formats of Deep Lake (4.x ``format=``, 3.x ``coords["mode"]``) and pixel types.
BOX_FORMATS = ("ltwh", "ltrb", "ccwh")
BOX_TYPES = ("pixel", "fractional")
COORDS = {"type": "pixel", "mode": "LTWH"}


def prefix(group: str) -> str:
    """``"model_evaluation/"`` for a group, ``""`` for the top-level columns."""
    group = group.strip("/")
    return f"{group}/" if group else ""


def parse_group(value: Any, default: str) -> str:
    """The ``group`` option: a group name, or ``""``/``"/"`` for the top-level columns."""
    if value is None:
        return default
    text = str(value).strip()
    return "" if text in ("", "/", ".") else text.strip("/")


def to_xywh(boxes: Any, mode: str) -> Any:
    """``(N, 4)`` boxes in Deep Lake ``mode`` to canonical ``[x, y, w, h]`` (float64, new array)."""
    import numpy as np

    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4).copy()
    if mode == "ltrb":
        b[:, 2] -= b[:, 0]
        b[:, 3] -= b[:, 1]
    elif mode == "ccwh":
        b[:, 0] -= b[:, 2] / 2
        b[:, 1] -= b[:, 3] / 2
    return b
