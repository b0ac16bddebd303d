"""One YOLO label line: what its token count means, and its checks (standard library only).

A line is a class index followed by normalised numbers (0..1, relative to the image
width for x and the image height for y):

* 5 tokens ``class cx cy w h`` — a box (centre, width, height);
* 6 tokens ``class cx cy w h conf`` — a box and its score (Ultralytics ``save_conf``);
* an odd count >= 7 ``class x1 y1 x2 y2 x3 y3 ...`` — a polygon of (n - 1) / 2 points;
* an even count >= 8 — a polygon followed by its score.

Token counts are unambiguous between boxes and polygons because a polygon has at
least three points. They are *not* unambiguous against YOLO pose labels (``class cx cy
w h`` + keypoints), which predport-yolo does not read: with ``task="detect"`` only
box lines are accepted, with ``task="segment"`` only polygon lines.
"""
from __future__ import annotations

import math

BOX, BOX_SCORE, POLYGON, POLYGON_SCORE = "box", "box+score", "polygon", "polygon+score"
BOX_FIELDS = ("x_center", "y_center", "width", "height")
TASKS = ("auto", "detect", "segment")
#: Normalised values may leave [0, 1] by this much (float rounding) without being an error.
EPS = 1e-9


def kind_of(n_tokens: int, task: str = "auto") -> str | None:
    """The kind of a line with ``n_tokens`` tokens, or ``None`` when no kind has that many."""
    if task != "segment" and n_tokens in (5, 6):
        return BOX if n_tokens == 5 else BOX_SCORE
    if task != "detect" and n_tokens >= 7:
        return POLYGON if n_tokens % 2 == 1 else POLYGON_SCORE
    return None


def expected(task: str) -> str:
    if task == "detect":
        return "5 or 6 values (class cx cy w h [conf])"
    if task == "segment":
        return "a class and at least 3 points (class x1 y1 x2 y2 x3 y3 ... [conf])"
    return "5 or 6 values (class cx cy w h [conf]) or a polygon (class x1 y1 x2 y2 x3 y3 ... [conf])"


def field_name(kind: str, index: int, n_tokens: int) -> str:
    """The name of token ``index`` (0-based) of a line, for error messages."""
    if index == 0:
        return "class"
    if kind in (BOX, BOX_SCORE):
        return BOX_FIELDS[index - 1] if index <= 4 else "score"
    if kind == POLYGON_SCORE and index == n_tokens - 1:
        return "score"
    point, axis = divmod(index - 1, 2)
    return f"{'xy'[axis]}{point + 1}"


def class_index(token: str) -> int | None:
    """The class index of a token (``3``, or ``3.0`` as some exporters write it), else ``None``."""
    if token.isdigit():
        return int(token)
    try:
        value = float(token)
    except ValueError:
        return None
    if value >= 0 and value.is_integer():
        return int(value)
    return None


def number(token: str) -> float | None:
    """A finite float, else ``None``."""
    try:
        value = float(token)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def in_unit(value: float) -> bool:
    return -EPS <= value <= 1 + EPS
