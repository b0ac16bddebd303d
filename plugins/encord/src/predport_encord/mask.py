"""Binary masks (Encord's ``"format": "mask"``) to COCO compressed RLE, with numpy only.

Encord Active stores a mask prediction as a binary ``height x width`` array in
pixels (not normalised). predport's canonical mask is COCO compressed RLE:
column-major (Fortran) order, the first run counts zeros, counts encoded as
pycocotools' ``rleToString`` does. Writing that here keeps pycocotools out of
this plugin's dependencies; the tests check it against pycocotools.
"""
from __future__ import annotations

from typing import Any

import numpy as np


def counts_to_string(counts: list[int]) -> str:
    """pycocotools ``rleToString``: 5-bit groups, continuation bit 0x20, offset 48,
    and from the fourth count on the difference to the count two places back."""
    out = bytearray()
    for i, x in enumerate(counts):
        if i > 2:
            x -= counts[i - 2]
        more = True
        while more:
            c = x & 0x1F
            x >>= 5  # arithmetic shift, as C's on a signed long
            more = (x != -1) if (c & 0x10) else (x != 0)
            if more:
                c |= 0x20
            out.append(c + 48)
    return out.decode("ascii")


def mask_to_rle(mask: np.ndarray) -> dict[str, Any]:
    """``{"size": [h, w], "counts": str}`` of a 2-D binary array."""
    h, w = mask.shape
    flat = mask.astype(bool, copy=False).ravel(order="F")
    if flat.size == 0:
        return {"size": [int(h), int(w)], "counts": ""}
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate(([0], change, [flat.size]))
    runs = np.diff(bounds).tolist()
    if flat[0]:
        runs.insert(0, 0)  # the first run always counts zeros
    return {"size": [int(h), int(w)], "counts": counts_to_string(runs)}


def mask_box(mask: np.ndarray) -> list[float] | None:
    """``[x, y, w, h]`` in pixels of the set pixels (pixel edges, as pycocotools ``toBbox``);
    ``None`` for an empty mask."""
    cols = np.flatnonzero(mask.any(axis=0))
    if cols.size == 0:
        return None
    rows = np.flatnonzero(mask.any(axis=1))
    x0, x1 = int(cols[0]), int(cols[-1]) + 1
    y0, y1 = int(rows[0]), int(rows[-1]) + 1
    return [float(x0), float(y0), float(x1 - x0), float(y1 - y0)]
