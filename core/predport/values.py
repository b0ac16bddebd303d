"""Small value checks every reader needs, written once: numbers, booleans, box clamping.

* :func:`is_number` — whether a decoded JSON (or unpickled) value is a number: ``int`` or
  ``float`` but never ``bool`` (``true`` is not a coordinate), optionally finite.
* :func:`parse_number` — a text field (``str`` or ``bytes``) as a float, or ``None``.
* :func:`parse_bool` — a word as a boolean (``true/yes/on/1``, ``false/no/off/0``), or ``None``.
* :func:`clamp_boxes` — ``[x, y, w, h]`` boxes clamped to an image, and how many changed.

numpy is imported by :func:`clamp_boxes` only, so the others stay cheap to import.
"""
from __future__ import annotations

import math
from typing import Any

__all__ = ["TRUE_WORDS", "FALSE_WORDS", "clamp_boxes", "is_number", "parse_bool", "parse_number"]

#: Words :func:`parse_bool` reads as ``True`` / ``False`` (compared lower-cased, stripped).
TRUE_WORDS = frozenset({"true", "yes", "on", "1"})
FALSE_WORDS = frozenset({"false", "no", "off", "0"})


def is_number(value: Any, *, finite: bool = False) -> bool:
    """Whether ``value`` is a number: an ``int`` or ``float`` (numpy floats included), never a ``bool``.

    With ``finite=True`` NaN and infinities are not numbers either.

        >>> is_number(3), is_number(2.5), is_number(True), is_number("3")
        (True, True, False, False)
        >>> is_number(float("nan")), is_number(float("nan"), finite=True)
        (True, False)
    """
    if type(value) is int:
        return True
    if type(value) is float:
        return not finite or math.isfinite(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return not finite or math.isfinite(value)


def parse_number(text: str | bytes, *, finite: bool = True) -> float | None:
    """The float a text field spells (``"1.5"``, ``b"-2"``, ``"1e3"``), or ``None`` when it spells none.

    ``finite=True`` (the default) also answers ``None`` for ``nan`` and ``inf``; with
    ``finite=False`` they are returned as floats (for a caller that refuses them itself,
    with a better message). Surrounding white space is allowed, as ``float()`` allows it.

        >>> parse_number("2.50"), parse_number(b"-1e2"), parse_number("x"), parse_number("inf")
        (2.5, -100.0, None, None)
    """
    try:
        value = float(text)
    except ValueError:
        return None
    if finite and not math.isfinite(value):
        return None
    return value


def parse_bool(value: Any) -> bool | None:
    """A boolean from a word or a value: ``True``/``False`` as they are, ``1``/``0``, and the
    words of :data:`TRUE_WORDS` and :data:`FALSE_WORDS` in any case; ``None`` for anything
    else (never "any unknown word is true").

        >>> parse_bool("Yes"), parse_bool("off"), parse_bool(1), parse_bool("nope")
        (True, False, True, None)
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return bool(value) if value in (0, 1) else None
    if isinstance(value, (str, bytes)):
        word = (value.decode("utf-8", "replace") if isinstance(value, bytes) else value).strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    return None


def clamp_boxes(box: Any, width: float, height: float) -> tuple[Any, int]:
    """``[x, y, w, h]`` boxes (an ``(N, 4)`` float array) clamped to a ``width`` x ``height`` image.

    A box with a corner outside ``[0, width]`` x ``[0, height]`` has its corners clipped
    to the image and is rebuilt from them, so a box partly outside keeps its inside part
    and a box wholly outside becomes an empty box on the border. Boxes inside are kept
    exactly as given (never rebuilt, so no rounding creeps in), and rows of NaN ("no box")
    stay NaN. Returns ``(boxes, changed)``: ``changed`` boxes were outside; when none was,
    ``boxes`` is the array given (no copy), else a new array. The caller decides what a
    change means (policy ``clamp`` counts it in the report).

        >>> import numpy as np
        >>> out, n = clamp_boxes(np.array([[-5.0, 2.0, 10.0, 4.0], [1.0, 1.0, 2.0, 2.0]]), 8, 5)
        >>> out.tolist(), n
        ([[0.0, 2.0, 5.0, 3.0], [1.0, 1.0, 2.0, 2.0]], 1)
    """
    import numpy as np

    box = np.asarray(box, dtype=np.float64)
    if box.ndim != 2 or box.shape[1] != 4:
        raise ValueError(f"boxes must have shape (N, 4), got {box.shape}")
    x, y, w, h = box.T
    with np.errstate(invalid="ignore"):  # rows of NaN are not outside, and stay NaN
        outside = (x < 0) | (y < 0) | (x + w > width) | (y + h > height)
    changed = int(np.count_nonzero(outside))
    if not changed:
        return box, 0
    out = box.copy()
    part = box[outside]
    x0 = np.clip(part[:, 0], 0, width)
    y0 = np.clip(part[:, 1], 0, height)
    x1 = np.clip(part[:, 0] + part[:, 2], 0, width)
    y1 = np.clip(part[:, 1] + part[:, 3], 0, height)
    out[outside] = np.stack([x0, y0, x1 - x0, y1 - y0], axis=1)
    return out, changed
