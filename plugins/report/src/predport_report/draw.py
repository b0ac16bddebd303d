"""Draw canonical predictions (and ground truth) on an image with Pillow.

Conventions are the canonical model's: pixels, origin top-left, boxes
``[x, y, width, height]``. A box covers the pixel columns ``round(x)`` to
``round(x + width) - 1`` and the rows ``round(y)`` to ``round(y + height) - 1``; its
outline is drawn *inside* those pixels, so the outline's outer edge is exactly the
box. A mask's translucent fill covers exactly the mask's pixels (its outline is drawn
on the mask's own boundary pixels); polygons are filled as Pillow rasterises them
(edges inclusive, within a pixel of pycocotools), rings listed in
``attributes["holes"]`` cut holes.

Predictions are drawn solid, with a label of the class name and score on a box of
the class colour (black or white text, whichever contrasts more, so labels read on
any picture). Ground truth is drawn dashed, without fill, labelled ``GT name`` in
white on black below its box.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable, Mapping, Sequence

from .colors import class_colour, text_colour

__all__ = ["Style", "draw_frame", "select", "category_name", "format_score", "box_pixels",
           "decode_mask", "font"]


@dataclass(frozen=True)
class Style:
    """How frames are drawn. ``line_width`` and ``font_size`` of ``None`` scale with the image."""

    line_width: int | None = None
    font_size: int | None = None
    fill_alpha: float = 0.4
    labels: bool = True
    keypoint_radius: int | None = None

    def sizes(self, width: int, height: int) -> tuple[int, int, int]:
        longest = max(width, height)
        lw = self.line_width or max(1, round(longest / 320))
        fs = self.font_size or min(28, max(11, round(longest / 48)))
        kr = self.keypoint_radius or max(2, round(longest / 200))
        return lw, fs, kr


@lru_cache(maxsize=16)
def font(size: int) -> Any:
    """Pillow's bundled FreeType font (no font file needed) at ``size`` pixels."""
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def category_name(categories: Any, category_id: int) -> str:
    """The name of a category id from a mapping ``{id: Category}`` or a table with ``get``."""
    cat = categories.get(int(category_id)) if categories is not None else None
    if cat is None:
        return str(int(category_id))
    return cat.name if hasattr(cat, "name") else str(cat)


def _skeleton(categories: Any, category_id: int) -> list[tuple[int, int]]:
    """COCO-style skeleton (1-based keypoint index pairs) from the category's attributes."""
    cat = categories.get(int(category_id)) if categories is not None else None
    attrs = getattr(cat, "attributes", None) or {}
    pairs = attrs.get("skeleton") or []
    out = []
    for pair in pairs:
        if isinstance(pair, (list, tuple)) and len(pair) == 2 and all(isinstance(v, int) for v in pair):
            out.append((pair[0] - 1, pair[1] - 1))
    return out


def format_score(score: float) -> str:
    if math.isnan(score):
        return ""
    if 0.0 <= score <= 1.0:
        return f"{score:.2f}"
    return f"{score:.3g}"


def select(
    predictions: Any,
    categories: Any,
    *,
    score_threshold: float | None = None,
    classes: Iterable[str] | None = None,
) -> Any:
    """The rows of ``predictions`` (a ``predport.Detections``) with a score at or above
    ``score_threshold`` and a class among ``classes`` (names, case-insensitive, or ids).

    Rows without a score (NaN) are kept by a threshold: "no score" is not a low score.
    """
    import numpy as np

    n = len(predictions)
    if n == 0 or (score_threshold is None and classes is None):
        return predictions
    keep = np.ones(n, dtype=bool)
    if score_threshold is not None:
        sc = predictions.score
        keep &= np.isnan(sc) | (sc >= score_threshold)
    if classes is not None:
        wanted = {c.strip().lower() for c in classes}
        ids = predictions.category_id
        keep &= np.array([category_name(categories, c).lower() in wanted or str(c) in wanted for c in ids.tolist()],
                         dtype=bool)
    return predictions if keep.all() else predictions.take(keep)


def box_pixels(box: Sequence[float]) -> tuple[int, int, int, int]:
    """The inclusive pixel rectangle ``(x0, y0, x1, y1)`` a canonical ``[x, y, w, h]`` box covers."""
    x, y, w, h = box
    x0, y0 = round(x), round(y)
    x1, y1 = round(x + w) - 1, round(y + h) - 1
    return x0, y0, max(x0, x1), max(y0, y1)


def decode_mask(rle: Mapping[str, Any]) -> Any:
    """A COCO compressed RLE as an ``(h, w)`` uint8 array of 0/1."""
    from pycocotools import mask as mask_utils

    counts = rle["counts"]
    return mask_utils.decode({"size": list(rle["size"]), "counts": counts.encode() if isinstance(counts, str)
                              else counts})


def _dashed(draw: Any, points: Sequence[tuple[float, float]], fill: Any, width: int, closed: bool = True,
            dash: float = 7.0, gap: float = 5.0) -> None:
    """A dashed polyline (Pillow has no dash pattern): dashes of ``dash`` pixels every ``dash + gap``."""
    pts = list(points) + ([points[0]] if closed else [])
    period = dash + gap
    phase = 0.0  # position along the current period, carried across segments
    for (xa, ya), (xb, yb) in zip(pts, pts[1:]):
        length = math.hypot(xb - xa, yb - ya)
        if length == 0:
            continue
        ux, uy = (xb - xa) / length, (yb - ya) / length
        t = 0.0
        while t < length:
            in_dash = phase < dash
            step = min((dash - phase) if in_dash else (period - phase), length - t)
            if in_dash:
                draw.line([(xa + ux * t, ya + uy * t), (xa + ux * (t + step), ya + uy * (t + step))],
                          fill=fill, width=width)
            t += step
            phase = (phase + step) % period


class _Canvas:
    """One frame being drawn: the image, its draw handle, and the pending labels."""

    def __init__(self, image: Any, style: Style) -> None:
        from PIL import ImageDraw

        self.image = image
        self.draw = ImageDraw.Draw(image)
        self.width, self.height = image.size
        self.lw, self.fs, self.kr = style.sizes(*image.size)
        self.alpha = max(0, min(255, round(style.fill_alpha * 255)))
        self.style = style
        self.labels: list[tuple[str, tuple[float, float, float, float], tuple[int, int, int], bool]] = []

    # -- fills ------------------------------------------------------------------------
    def mask(self, rle: Mapping[str, Any], colour: tuple[int, int, int], *, fill: bool,
             data_id: str) -> tuple[int, int, int, int] | None:
        import numpy as np
        from PIL import Image, ImageFilter

        h, w = int(rle["size"][0]), int(rle["size"][1])
        if (w, h) != (self.width, self.height):
            from predport import PredportError

            raise PredportError(f"mask is {w}x{h} pixels but the image is {self.width}x{self.height}",
                                file=data_id, field="mask.size",
                                hint="check that --images holds the images these predictions were made on")
        m = decode_mask(rle)
        rows, cols = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))
        if rows.size == 0:
            return None
        y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
        crop = np.ascontiguousarray(m[y0:y1, x0:x1], dtype=np.uint8) * 255
        full = Image.fromarray(crop, mode="L")
        # The outline is the mask's own boundary pixels (mask minus its 3x3 erosion): the
        # drawing never leaves the mask, so its fill covers exactly the mask's pixels.
        padded = Image.new("L", (full.width + 2, full.height + 2))
        padded.paste(full, (1, 1))
        edge = np.asarray(full, dtype=np.uint8) - np.asarray(padded.filter(ImageFilter.MinFilter(3)))[1:-1, 1:-1]
        if fill:
            self.image.paste(colour, (x0, y0), Image.fromarray((crop // 255) * self.alpha, mode="L"))
        self.image.paste(colour, (x0, y0), Image.fromarray(edge, mode="L"))
        return (x0, y0, x1, y1)

    def polygon(self, rings: Sequence[Sequence[float]], holes: set[int], colour: tuple[int, int, int], *,
                gt: bool) -> tuple[float, float, float, float] | None:
        from PIL import Image, ImageDraw

        pts = [[(r[i], r[i + 1]) for i in range(0, len(r) - 1, 2)] for r in rings]
        pts = [p for p in pts if len(p) >= 3]
        if not pts:
            return None
        xs = [x for p in pts for x, _ in p]
        ys = [y for p in pts for _, y in p]
        bx = (min(xs), min(ys), max(xs), max(ys))
        if not gt and self.alpha:
            ox, oy = max(0, math.floor(bx[0])), max(0, math.floor(bx[1]))
            ex, ey = min(self.width, math.ceil(bx[2]) + 1), min(self.height, math.ceil(bx[3]) + 1)
            if ex > ox and ey > oy:
                layer = Image.new("L", (ex - ox, ey - oy))
                ld = ImageDraw.Draw(layer)
                order = [i for i in range(len(pts)) if i not in holes] + [i for i in range(len(pts)) if i in holes]
                for i in order:
                    ld.polygon([(x - ox, y - oy) for x, y in pts[i]], fill=0 if i in holes else self.alpha)
                self.image.paste(colour, (ox, oy), layer)
        for ring in pts:
            if gt:
                _dashed(self.draw, ring, colour, self.lw)
            else:
                self.draw.line(ring + [ring[0]], fill=colour, width=self.lw, joint="curve")
        return bx

    # -- outlines ---------------------------------------------------------------------
    def box(self, box: Sequence[float], colour: tuple[int, int, int], *, gt: bool) -> tuple[int, int, int, int]:
        x0, y0, x1, y1 = box_pixels(box)
        if gt:
            # Dashes centred on the box's own border pixels (inside the box, like the solid outline).
            half = (self.lw - 1) / 2
            corners = [(x0 + half, y0 + half), (x1 - half, y0 + half), (x1 - half, y1 - half), (x0 + half, y1 - half)]
            _dashed(self.draw, corners, (0, 0, 0), self.lw + 2)
            _dashed(self.draw, corners, colour, self.lw)
        elif min(x1 - x0, y1 - y0) + 1 <= 2 * self.lw:
            # Thinner than two outlines: Pillow would widen the outline outwards; fill it instead.
            self.draw.rectangle((x0, y0, x1, y1), fill=colour)
        else:
            self.draw.rectangle((x0, y0, x1, y1), outline=colour, width=self.lw)
        return (x0, y0, x1 + 1, y1 + 1)

    def keypoints(self, points: Sequence[Sequence[Any]], skeleton: list[tuple[int, int]],
                  colour: tuple[int, int, int], *, gt: bool) -> tuple[float, float, float, float] | None:
        # COCO visibility 0 (and a per-point score of 0) means "not labelled": not drawn.
        shown: list[Any] = [None if (p[2] is not None and p[2] <= 0) else (p[0], p[1]) for p in points]
        for a, b in skeleton:
            if 0 <= a < len(shown) and 0 <= b < len(shown) and shown[a] and shown[b]:
                self.draw.line([shown[a], shown[b]], fill=colour, width=self.lw)
        r = self.kr
        for p in shown:
            if p is None:
                continue
            x, y = p
            if gt:
                self.draw.ellipse((x - r, y - r, x + r, y + r), outline=colour, width=max(1, self.lw))
            else:
                self.draw.ellipse((x - r, y - r, x + r, y + r), fill=colour, outline=(0, 0, 0))
        vis = [p for p in shown if p]
        if not vis:
            return None
        return (min(x for x, _ in vis), min(y for _, y in vis), max(x for x, _ in vis), max(y for _, y in vis))

    # -- labels -----------------------------------------------------------------------
    def label(self, text: str, anchor: tuple[float, float, float, float], colour: tuple[int, int, int],
              gt: bool) -> None:
        if self.style.labels and text:
            self.labels.append((text, anchor, colour, gt))

    def flush_labels(self) -> None:
        f = font(self.fs)
        pad = max(1, self.fs // 6)
        for text, (ax0, ay0, ax1, ay1), colour, gt in self.labels:
            l, t, r, b = f.getbbox(text)
            tw, th = r - l + 2 * pad, b - t + 2 * pad
            x = min(max(0, round(ax0)), max(0, self.width - tw))
            if gt:  # ground truth labels sit below the box, predictions' above it
                y = round(ay1) if ay1 + th <= self.height else round(ay1) - th
            else:
                y = round(ay0) - th if ay0 - th >= 0 else round(ay0)
            y = min(max(0, y), max(0, self.height - th))
            bg, fg = ((0, 0, 0), (255, 255, 255)) if gt else (colour, text_colour(colour))
            self.draw.rectangle((x, y, x + tw - 1, y + th - 1), fill=bg)
            self.draw.text((x + pad - l, y + pad - t), text, font=f, fill=fg)
        self.labels.clear()


def _draw_set(canvas: _Canvas, dets: Any, categories: Any, *, gt: bool, data_id: str) -> None:
    import numpy as np

    n = len(dets)
    if n == 0:
        return
    names = [category_name(categories, c) for c in dets.category_id.tolist()]
    colours = [class_colour(nm) for nm in names]
    boxes = dets.box
    attrs = dets.attributes or [None] * n
    anchors: list[Any] = [None] * n
    # Fills first, outlines over them, labels over everything.
    for i in range(n):
        rle = dets.mask[i] if dets.mask is not None else None
        if rle:
            anchors[i] = canvas.mask(rle, colours[i], fill=not gt, data_id=data_id)
        rings = dets.polygon[i] if dets.polygon is not None else None
        if rings:
            holes = set((attrs[i] or {}).get("holes") or [])
            anchors[i] = canvas.polygon(rings, holes, colours[i], gt=gt) or anchors[i]
    for i in range(n):
        if boxes is not None and not np.isnan(boxes[i, 0]):
            anchors[i] = canvas.box(boxes[i].tolist(), colours[i], gt=gt)
        kps = dets.keypoints[i] if dets.keypoints is not None else None
        if kps:
            kb = canvas.keypoints(kps, _skeleton(categories, dets.category_id[i]), colours[i], gt=gt)
            anchors[i] = anchors[i] or kb
    scores = dets.score.tolist()
    for i in range(n):
        if anchors[i] is None:
            continue
        if gt:
            text = f"GT {names[i]}"
        else:
            s = format_score(scores[i])
            text = f"{names[i]} {s}" if s else names[i]
        canvas.label(text, anchors[i], colours[i], gt)


def draw_frame(
    image: Any,
    predictions: Any,
    categories: Any,
    *,
    ground_truth: Any = None,
    gt_categories: Any = None,
    style: Style = Style(),
    data_id: str = "",
) -> Any:
    """Draw ``predictions`` (a ``predport.Detections``) and optional ``ground_truth`` on ``image``.

    ``image`` is a Pillow image; it is converted to RGB (a copy) when it is not RGB,
    else drawn on in place. ``categories`` maps ids to categories (a mapping or a
    ``predport.CategoryTable``); ``gt_categories`` those of the ground truth (default:
    the same). Returns the drawn RGB image.
    """
    if image.mode != "RGB":
        image = image.convert("RGB")
    canvas = _Canvas(image, style)
    if ground_truth is not None:
        _draw_set(canvas, ground_truth, gt_categories if gt_categories is not None else categories, gt=True,
                  data_id=data_id)
    _draw_set(canvas, predictions, categories, gt=False, data_id=data_id)
    canvas.flush_labels()
    return image
