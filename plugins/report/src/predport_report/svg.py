"""Inline SVG: the predictions over a thumbnail, and the report's charts (no chart library).

Overlays are drawn in the image's own pixel coordinates (``viewBox="0 0 W H"``), so
they sit exactly on the picture at any display size; strokes keep their screen width
(``vector-effect: non-scaling-stroke``). Every prediction is one ``<g class="p">``
carrying its class index (``data-c``) and score (``data-s``): the page's filters
show and hide those groups, one box at a time.
"""
from __future__ import annotations

import base64
import html
import io
import math
from typing import Any, Mapping, Sequence

from .colors import class_colour, hex_colour
from .draw import box_pixels, category_name, decode_mask, format_score

__all__ = ["overlay", "bar_chart", "histogram", "pr_chart", "esc"]


def esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _n(v: float) -> str:
    """A coordinate with at most one decimal (enough below a pixel, and short)."""
    r = round(float(v), 1)
    return str(int(r)) if r == int(r) else str(r)


def _mask_png(rle: Mapping[str, Any], rgb: tuple[int, int, int]) -> tuple[str, tuple[int, int, int, int]] | None:
    """The mask cropped to its extent as a 1-bit PNG in the class colour (transparent elsewhere)."""
    import numpy as np
    from PIL import Image

    m = decode_mask(rle)
    rows, cols = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))
    if rows.size == 0:
        return None
    y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    im = Image.fromarray(np.ascontiguousarray(m[y0:y1, x0:x1], dtype=np.uint8), mode="P")
    im.putpalette([0, 0, 0, *rgb])
    buf = io.BytesIO()
    im.save(buf, format="PNG", transparency=0, bits=1, optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii"), (x0, y0, x1 - x0, y1 - y0)


def _rows(dets: Any, categories: Any, class_index: Mapping[str, int], *, gt: bool,
          matches: Sequence[str] | None = None) -> list[str]:
    import numpy as np

    out: list[str] = []
    n = len(dets)
    if n == 0:
        return out
    boxes = dets.box
    attrs = dets.attributes or [None] * n
    scores = dets.score.tolist()
    for i, cid in enumerate(dets.category_id.tolist()):
        name = category_name(categories, cid)
        rgb = class_colour(name)
        colour = hex_colour(rgb)
        parts: list[str] = []
        anchor: tuple[float, float] | None = None
        rle = dets.mask[i] if dets.mask is not None else None
        if rle:
            png = _mask_png(rle, rgb)
            if png is not None:
                uri, (mx, my, mw, mh) = png
                parts.append(f'<image class="m" href="{uri}" x="{mx}" y="{my}" width="{mw}" height="{mh}"/>')
                anchor = (mx, my)
        rings = dets.polygon[i] if dets.polygon is not None else None
        if rings:
            d = " ".join("M" + " L".join(f"{_n(r[j])},{_n(r[j + 1])}" for j in range(0, len(r) - 1, 2)) + "Z"
                         for r in rings if len(r) >= 6)
            parts.append(f'<path class="poly" d="{d}"/>')
            xs = [v for r in rings for v in r[0::2]]
            ys = [v for r in rings for v in r[1::2]]
            anchor = (min(xs), min(ys))
        if boxes is not None and not np.isnan(boxes[i, 0]):
            x, y, w, h = boxes[i].tolist()
            parts.append(f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}"/>')
            anchor = (x, y)
        kps = dets.keypoints[i] if dets.keypoints is not None else None
        if kps:
            shown: list[Any] = [None if (p[2] is not None and p[2] <= 0) else (p[0], p[1]) for p in kps]
            cat = categories.get(int(cid)) if categories is not None else None
            for pair in (getattr(cat, "attributes", None) or {}).get("skeleton") or []:
                if isinstance(pair, (list, tuple)) and len(pair) == 2:
                    a, b = int(pair[0]) - 1, int(pair[1]) - 1
                    if 0 <= a < len(shown) and 0 <= b < len(shown) and shown[a] and shown[b]:
                        parts.append(f'<line x1="{_n(shown[a][0])}" y1="{_n(shown[a][1])}" '
                                     f'x2="{_n(shown[b][0])}" y2="{_n(shown[b][1])}"/>')
            pts = [p for p in shown if p]
            parts.extend(f'<circle class="kp" cx="{_n(x)}" cy="{_n(y)}" r="3"/>' for x, y in pts)
            if pts and anchor is None:
                anchor = (min(x for x, _ in pts), min(y for _, y in pts))
        if not parts:
            continue
        score = scores[i]
        label = f"GT {name}" if gt else (f"{name} {format_score(score)}" if not math.isnan(score) else name)
        if anchor is not None:
            parts.append(f'<text x="{_n(anchor[0])}" y="{_n(anchor[1])}">{esc(label)}</text>')
        kind = "g" if gt else "p"
        extra = f' data-r="{matches[i]}"' if matches is not None else ""
        s_attr = "" if gt or math.isnan(score) else f' data-s="{score:.6g}"'
        out.append(f'<g class="{kind}" data-c="{class_index.get(name, -1)}"{s_attr}{extra} '
                   f'style="--c:{colour}"><title>{esc(label)}</title>{"".join(parts)}</g>')
    return out


def overlay(width: int, height: int, predictions: Any, categories: Any, class_index: Mapping[str, int], *,
            ground_truth: Any = None, gt_categories: Any = None) -> str:
    """An SVG of the frame's ground truth (dashed, under) and predictions, in pixel coordinates."""
    body = []
    if ground_truth is not None:
        body += _rows(ground_truth, gt_categories if gt_categories is not None else categories, class_index,
                      gt=True)
    body += _rows(predictions, categories, class_index, gt=False)
    return (f'<svg class="ov" viewBox="0 0 {width} {height}" preserveAspectRatio="none" '
            f'xmlns="http://www.w3.org/2000/svg">{"".join(body)}</svg>')


# -- charts ----------------------------------------------------------------------------
def bar_chart(rows: Sequence[tuple[str, int, str]], *, width: int = 360, bar: int = 18) -> str:
    """Horizontal bars: ``(label, value, colour)`` per row, the value written after each bar."""
    if not rows:
        return '<p class="none">no predictions</p>'
    top = max(v for _, v, _ in rows) or 1
    label_w, gap = 120, 4
    height = len(rows) * (bar + gap) + gap
    items = []
    for k, (label, value, colour) in enumerate(rows):
        y = gap + k * (bar + gap)
        w = max(1.0, (width - label_w - 60) * value / top)
        items.append(
            f'<text class="lab" x="{label_w - 6}" y="{y + bar * 0.72:.1f}" text-anchor="end">{esc(label)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar}" fill="{colour}"><title>{esc(label)}: '
            f'{value}</title></rect><text class="val" x="{label_w + w + 4:.1f}" y="{y + bar * 0.72:.1f}">{value}</text>')
    return (f'<svg class="chart" role="img" aria-label="predictions per class" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}">{"".join(items)}</svg>')


def histogram(counts: Sequence[int], edges: Sequence[float], *, width: int = 360, height: int = 160) -> str:
    """Vertical bars of ``counts`` between ``edges`` (len(counts) + 1), with the axis ends labelled."""
    if not counts or sum(counts) == 0:
        return '<p class="none">no scores</p>'
    top = max(counts)
    pad_l, pad_b, pad_t = 36, 22, 8
    plot_w, plot_h = width - pad_l - 8, height - pad_b - pad_t
    bw = plot_w / len(counts)
    items = []
    for k, c in enumerate(counts):
        h = plot_h * c / top
        items.append(f'<rect x="{pad_l + k * bw + 0.5:.1f}" y="{pad_t + plot_h - h:.1f}" width="{max(bw - 1, 0.5):.1f}" '
                     f'height="{h:.1f}"><title>{edges[k]:.3g} to {edges[k + 1]:.3g}: {c}</title></rect>')
    axis = (f'<line x1="{pad_l}" y1="{pad_t + plot_h}" x2="{pad_l + plot_w}" y2="{pad_t + plot_h}" class="axis"/>'
            f'<text class="tick" x="{pad_l}" y="{height - 6}">{edges[0]:.3g}</text>'
            f'<text class="tick" x="{pad_l + plot_w}" y="{height - 6}" text-anchor="end">{edges[-1]:.3g}</text>'
            f'<text class="tick" x="{pad_l - 4}" y="{pad_t + 9}" text-anchor="end">{top}</text>'
            f'<text class="tick" x="{pad_l - 4}" y="{pad_t + plot_h}" text-anchor="end">0</text>')
    return (f'<svg class="chart hist" role="img" aria-label="score histogram" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}">{"".join(items)}{axis}</svg>')


def pr_chart(curves: Mapping[str, Mapping[str, Sequence[float]]], *, size: int = 320) -> str:
    """Precision (y) against recall (x), one polyline per class in its colour, with a legend."""
    if not curves:
        return '<p class="none">no precision-recall curves (no class has both predictions and ground truth)</p>'
    pad = 34
    plot = size - pad - 10
    lines = []
    for name, c in curves.items():
        rec, prec = list(c.get("recall") or []), list(c.get("precision") or [])
        if not rec:
            continue
        pts = " ".join(f"{pad + plot * r:.1f},{10 + plot * (1 - p):.1f}" for r, p in zip(rec, prec))
        lines.append(f'<polyline class="pr" data-name="{esc(name)}" points="{pts}" '
                     f'stroke="{hex_colour(class_colour(name))}"><title>{esc(name)}</title></polyline>')
    grid = "".join(
        f'<line class="grid" x1="{pad}" y1="{10 + plot * t:.1f}" x2="{pad + plot}" y2="{10 + plot * t:.1f}"/>'
        f'<text class="tick" x="{pad - 4}" y="{14 + plot * t:.1f}" text-anchor="end">{1 - t:g}</text>'
        f'<line class="grid" x1="{pad + plot * t:.1f}" y1="10" x2="{pad + plot * t:.1f}" y2="{10 + plot}"/>'
        f'<text class="tick" x="{pad + plot * t:.1f}" y="{size - 2}" text-anchor="middle">{t:g}</text>'
        for t in (0.0, 0.25, 0.5, 0.75, 1.0))
    legend = "".join(
        f'<li><span class="sw" style="background:{hex_colour(class_colour(n))}"></span>{esc(n)}</li>' for n in curves)
    return (f'<div class="prwrap"><svg class="chart" role="img" aria-label="precision-recall curves" '
            f'viewBox="0 0 {size} {size + 16}" width="{size}" height="{size + 16}">{grid}{"".join(lines)}'
            f'<text class="tick" x="{pad + plot / 2:.0f}" y="{size + 14}" text-anchor="middle">recall</text></svg>'
            f'<ul class="legend">{legend}</ul></div>')
