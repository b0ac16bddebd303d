"""Class-index label image -> per-region (or per-class) predictions, and back.

Conventions (those of the canonical model):

* Pixel ``(col, row)`` covers ``[col, col + 1) x [row, row + 1)``; its centre is
  ``(col + 0.5, row + 0.5)``. Boxes are ``[x, y, w, h]`` of the pixel extent, so a
  one-pixel region at column 3, row 4 has the box ``[3, 4, 1, 1]``.
* Polygon vertices are the **centres of boundary pixels** (OpenCV contour points
  plus 0.5). A region's polygon is its outer ring followed by its hole rings.
* The **rasterisation rule** that gives back exactly the pixels of a region from
  its rings (:func:`rasterize_rings`): a pixel belongs to the region when its
  centre lies inside *or on* an outer ring and not *strictly* inside a hole ring;
  centres on a hole ring belong to the region. (OpenCV traces hole borders along
  the region's own pixels, so a hole ring passes through region pixels.)
* Masks are COCO compressed RLE over the whole image (column-major, first run
  counts zeros), byte-identical to ``pycocotools.mask.encode``.

Connectivity is OpenCV's: regions are 8-connected, holes 4-connected. Two blobs of
one class that touch only at a corner are one region.
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

import cv2
import numpy as np
from pycocotools import mask as mask_utils

__all__ = [
    "Region",
    "crop_rle",
    "instance_regions",
    "parity_regions",
    "semantic_region",
    "rasterize_rings",
    "decode_rle",
]

#: Encord Active's filter: contours with fewer points, or a smaller contour area
#: (pixel-centre polygon area, px^2), are dropped.
ENCORD_MIN_POINTS = 3
ENCORD_MIN_AREA = 4.0


class Region:
    """One prediction's geometry: box, optional rings (OpenCV int32 arrays), RLE."""

    __slots__ = ("box", "rings", "rle")

    def __init__(self, box: tuple[int, int, int, int], rings: list[np.ndarray] | None, rle: dict[str, Any]) -> None:
        self.box = box
        self.rings = rings
        self.rle = rle

    def polygon(self) -> list[list[float]] | None:
        """Rings as canonical flat lists (pixel centres: contour point + 0.5), padded to 3 points."""
        if self.rings is None:
            return None
        return [ring_to_list(r) for r in self.rings]


def ring_to_list(contour: np.ndarray) -> list[float]:
    """An OpenCV contour (N, 1, 2) as a flat ``[x0, y0, ...]`` of pixel centres.

    A region one pixel thin can have a contour of one or two points; the ring
    repeats its points to the three a canonical ring needs (a degenerate ring
    covers exactly the pixel centres on it under the rasterisation rule).
    """
    pts = contour.reshape(-1, 2)
    n = pts.shape[0]
    if n == 1:
        pts = np.repeat(pts, 3, axis=0)
    elif n == 2:
        pts = pts[[0, 1, 0]]
    return (pts.reshape(-1) + 0.5).tolist()


def crop_rle(crop: np.ndarray, x: int, y: int, height: int, width: int) -> dict[str, Any]:
    """COCO compressed RLE of a full ``height x width`` mask that is zero outside ``crop``.

    ``crop`` is a 2-D array (non-zero = set) placed with its top-left pixel at
    column ``x``, row ``y``. Runs are computed column-major on the crop only and
    shifted into whole-image positions, so the cost follows the crop's area, not
    the image's; pycocotools then compresses the counts. The result equals
    ``pycocotools.mask.encode`` on the full mask.
    """
    h, w = crop.shape
    # Column-major order of the crop = row-major order of its transpose. A zero
    # guard row above and below the crop makes every run start and end inside its
    # column; OpenCV pads and transposes several times faster than numpy.
    cols = cv2.transpose(cv2.copyMakeBorder(crop, 1, 1, 0, 0, cv2.BORDER_CONSTANT, value=0)).reshape(-1)
    edges = np.flatnonzero(cols[1:] != cols[:-1]) + 1  # first pixel of a run, first one after it
    total = height * width
    if edges.size == 0:
        counts = np.array([total], dtype=np.uint32)
        return _compress(counts, height, width)
    j, i = np.divmod(edges, h + 2)
    pos = (j + x) * height + (i - 1 + y)
    starts = pos[0::2]
    ends = pos[1::2]
    if h == height and starts.size > 1:
        # A run ending at the bottom of one column and one starting at the top of
        # the next are one run in column-major order.
        keep = np.ones(starts.size, dtype=bool)
        keep[1:] = starts[1:] != ends[:-1]
        starts = starts[keep]
        ends = ends[np.r_[keep[1:], True]]
    n = starts.size
    counts = np.empty(2 * n + 1, dtype=np.int64)
    counts[0] = starts[0]
    counts[1::2] = ends - starts
    counts[2:-1:2] = starts[1:] - ends[:-1]
    counts[-1] = total - ends[-1]
    if counts[-1] == 0:  # pycocotools ends on the last run of ones
        counts = counts[:-1]
    return _compress(counts.astype(np.uint32), height, width)


def _compress(counts: np.ndarray, height: int, width: int) -> dict[str, Any]:
    rle = mask_utils.frPyObjects({"size": [height, width], "counts": counts}, height, width)
    return {"size": [height, width], "counts": rle["counts"].decode("ascii")}


def decode_rle(rle: Any) -> np.ndarray:
    """A canonical RLE (``counts`` str) as an ``H x W`` uint8 array."""
    counts = rle["counts"]
    obj = {"size": list(rle["size"]), "counts": counts.encode("ascii") if isinstance(counts, str) else counts}
    return mask_utils.decode(obj)


def _children(hierarchy: np.ndarray, index: int) -> list[int]:
    out = []
    j = int(hierarchy[index, 2])
    while j != -1:
        out.append(j)
        j = int(hierarchy[j, 0])
    return out


def _fill(shape: tuple[int, int], outer: Sequence[np.ndarray], holes: Sequence[np.ndarray]) -> np.ndarray:
    """The rasterisation rule on integer pixel-centre contours (already offset into the crop)."""
    out = np.zeros(shape, dtype=np.uint8)
    cv2.fillPoly(out, list(outer), 1)
    if holes:
        cv2.fillPoly(out, list(holes), 0)
        cv2.polylines(out, list(holes), True, 1)
    return out


def instance_regions(binary: np.ndarray) -> list[Region]:
    """Every 8-connected region of ``binary`` (uint8, non-zero = class) with holes.

    Regions come in row-major order of their first pixel (top to bottom, then
    left to right). Each has its box, its rings (outer, then holes) and its
    exact RLE.
    """
    height, width = binary.shape
    contours, hierarchy = cv2.findContours(binary, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return []
    hier = hierarchy[0]
    outers = np.flatnonzero(hier[:, 3] == -1)
    # OpenCV starts each outer contour at the region's first pixel in raster order.
    firsts = np.array([contours[i][0, 0] for i in outers.tolist()], dtype=np.int64).reshape(-1, 2)
    order = outers[np.lexsort((firsts[:, 0], firsts[:, 1]))] if len(outers) else outers
    regions = []
    for i in order.tolist():
        outer = contours[i]
        x, y, w, h = cv2.boundingRect(outer)
        holes = [contours[k] for k in _children(hier, i)]
        off = np.array([x, y], dtype=np.int32)
        crop = _fill((h, w), [outer - off], [c - off for c in holes])
        regions.append(Region((x, y, w, h), [outer, *holes], crop_rle(crop, x, y, height, width)))
    return regions


def parity_regions(binary: np.ndarray) -> list[Region]:
    """Encord Active's extraction, exactly (FORMATS.md section 2.2).

    Outer contours only (``RETR_EXTERNAL``, ``CHAIN_APPROX_SIMPLE``), in OpenCV's
    order; a contour with fewer than 3 points or a contour area under 4 is
    dropped; the mask is ``fillPoly`` of the contour, so holes (and whatever lies
    in them, other classes included) are filled.
    """
    height, width = binary.shape
    contours, _ = cv2.findContours(binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    regions = []
    for c in contours:
        if len(c) < ENCORD_MIN_POINTS or cv2.contourArea(c) < ENCORD_MIN_AREA:
            continue
        x, y, w, h = cv2.boundingRect(c)
        crop = _fill((h, w), [c - np.array([x, y], dtype=np.int32)], [])
        regions.append(Region((x, y, w, h), [c], crop_rle(crop, x, y, height, width)))
    return regions


def semantic_region(binary: np.ndarray) -> Region | None:
    """All pixels of ``binary`` as one region (box and RLE, no rings); ``None`` when empty."""
    x, y, w, h = cv2.boundingRect(binary)
    if w == 0 or h == 0:
        return None
    height, width = binary.shape
    return Region((x, y, w, h), None, crop_rle(binary[y : y + h, x : x + w], x, y, height, width))


def _scanline(pts: np.ndarray, height: int, width: int) -> np.ndarray:
    """Pixels whose centre is inside one ring (even-odd), as an ``H x W`` bool array.

    ``pts`` are canonical vertices (pixel-corner origin). A centre exactly on a
    vertical or sloped edge counts as inside; on a horizontal edge, inside for the
    ring's upper edges only (half-open rows avoid counting a vertex twice).
    """
    out = np.zeros((height, width + 1), dtype=np.int32)
    x0, y0 = pts[:, 0], pts[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    sloped = y0 != y1
    x0, y0, x1, y1 = x0[sloped], y0[sloped], x1[sloped], y1[sloped]
    lo = np.clip(np.ceil(np.minimum(y0, y1) - 0.5), 0, height).astype(np.int64)
    hi = np.clip(np.ceil(np.maximum(y0, y1) - 0.5), 0, height).astype(np.int64)
    n = np.maximum(hi - lo, 0)
    if not n.sum():
        return out[:, :width] > 0
    edge = np.repeat(np.arange(n.size), n)
    rows = lo[edge] + (np.arange(edge.size) - np.repeat(np.cumsum(n) - n, n))
    cy = rows + 0.5
    xs = x0[edge] + (cy - y0[edge]) * (x1[edge] - x0[edge]) / (y1[edge] - y0[edge])
    order = np.lexsort((xs, rows))
    rows, xs = rows[order], xs[order]
    r, xa, xb = rows[0::2], xs[0::2], xs[1::2]
    start = np.clip(np.ceil(xa - 0.5), 0, width).astype(np.int64)
    stop = np.clip(np.floor(xb - 0.5) + 1, 0, width).astype(np.int64)
    span = stop > start
    np.add.at(out, (r[span], start[span]), 1)
    np.add.at(out, (r[span], stop[span]), -1)
    return np.cumsum(out, axis=1)[:, :width] > 0


def rasterize_rings(
    rings: Iterable[Sequence[float]],
    *,
    height: int,
    width: int,
    holes: Iterable[int] = (),
) -> np.ndarray:
    """Pixels of a canonical polygon as an ``H x W`` uint8 0/1 array.

    Rings whose indices are in ``holes`` are holes; every other ring is an outer
    part (outer parts are united, holes then removed). When every vertex is a
    pixel centre (``k + 0.5``), as in the polygons this plugin reads, the result
    is exact under the rule in the module docstring. Other polygons (COCO-style,
    with vertices on pixel corners) are sampled at pixel centres: a pixel is in
    when its centre is inside the ring (see :func:`_scanline`).
    """
    hole_set = set(int(h) for h in holes)
    parts = [(idx in hole_set, np.asarray(ring, dtype=np.float64).reshape(-1, 2)) for idx, ring in enumerate(rings)]
    out = np.zeros((height, width), dtype=np.uint8)
    if not parts:
        return out
    centred = [pts - 0.5 for _, pts in parts]
    if all(np.array_equal(c, np.round(c)) for c in centred):
        outer = [c.astype(np.int32).reshape(-1, 1, 2) for (is_hole, _), c in zip(parts, centred) if not is_hole]
        inner = [c.astype(np.int32).reshape(-1, 1, 2) for (is_hole, _), c in zip(parts, centred) if is_hole]
        if outer:
            cv2.fillPoly(out, outer, 1)
        if inner:
            cv2.fillPoly(out, inner, 0)
            cv2.polylines(out, inner, True, 1)
        return out
    for is_hole, pts in sorted(parts, key=lambda p: p[0]):  # outer parts first
        inside = _scanline(pts, height, width)
        out[inside] = 0 if is_hole else 1
    return out
