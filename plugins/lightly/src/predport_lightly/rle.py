"""Lightly segmentation RLE <-> canonical COCO compressed RLE, exactly.

* **Lightly**: a flat list of run lengths over the pixels in **row-major** (C) order,
  alternating 0s and 1s and starting with a run of **0s** (``0`` first when the
  mask starts with foreground). No size: the image gives it.
* **Canonical (COCO)**: ``{"size": [height, width], "counts": str}``, runs over the
  pixels in **column-major** (Fortran) order, compressed with pycocotools'
  ``rleToString``.

The same 3x4 mask ``[[0,0,1,1],[0,1,1,1],[0,0,0,1]]`` is Lightly ``[2, 2, 1, 3, 3, 1]``
and COCO ``[4, 1, 1, 2, 1, 3]`` = ``"411101"``. Conversions go through the binary
mask (``O(height * width)``), which keeps them exact by construction; the COCO side
is pycocotools itself.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from pycocotools import mask as mask_utils

__all__ = ["lightly_to_mask", "mask_to_lightly", "lightly_to_coco", "coco_to_lightly", "check_counts"]


def check_counts(counts: Any, height: int, width: int) -> str | None:
    """Why ``counts`` is not a valid Lightly RLE for a ``height`` x ``width`` image, or ``None``."""
    if not isinstance(counts, list):
        return f"segmentation must be a list of run lengths, not {type(counts).__name__}"
    total = 0
    for i, c in enumerate(counts):
        if type(c) is not int or c < 0:
            return f"run length [{i}] must be a non-negative integer, got {c!r}"
        total += c
    if total != height * width:
        return (
            f"run lengths sum to {total} but the image is {width}x{height} = {height * width} pixels"
        )
    return None


def lightly_to_mask(counts: Sequence[int], height: int, width: int) -> np.ndarray:
    """The ``height`` x ``width`` uint8 mask of a Lightly RLE (row-major runs, 0s first)."""
    runs = np.asarray(counts, dtype=np.int64)
    values = np.zeros(runs.shape[0], dtype=np.uint8)
    values[1::2] = 1
    return np.repeat(values, runs).reshape(height, width)


def mask_to_lightly(mask: np.ndarray) -> list[int]:
    """Lightly RLE of a binary 2-D mask: row-major run lengths, the first run counts 0s."""
    flat = np.asarray(mask).astype(bool, copy=False).ravel(order="C")
    if flat.size == 0:
        return [0]
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate(([0], change, [flat.size]))
    runs = np.diff(bounds).tolist()
    if flat[0]:
        runs.insert(0, 0)
    return runs


def lightly_to_coco(counts: Sequence[int], height: int, width: int) -> dict[str, Any]:
    """Canonical ``{"size": [h, w], "counts": str}`` of a Lightly RLE (validate with :func:`check_counts`)."""
    mask = lightly_to_mask(counts, height, width)
    rle = mask_utils.encode(np.asfortranarray(mask))
    return {"size": [int(height), int(width)], "counts": rle["counts"].decode("ascii")}


def coco_to_lightly(rle: dict[str, Any]) -> list[int]:
    """Lightly RLE of a canonical COCO compressed RLE (the image size is dropped: Lightly has none)."""
    counts = rle["counts"]
    obj = {"size": [int(rle["size"][0]), int(rle["size"][1])],
           "counts": counts.encode("ascii") if isinstance(counts, str) else counts}
    return mask_to_lightly(mask_utils.decode(obj))
