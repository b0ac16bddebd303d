"""JSON straight from prediction columns: :func:`columns_json`.

A JSON writer's hot path is turning a frame's predictions into bytes. For the common
frame of boxes (category, score, box and optional per-row attributes) the bytes can be
built from the numpy columns at once, with no per-row dict and no per-row schema
validation, because the column checks already are the schema's rules for such rows.
"""
from __future__ import annotations

from typing import Any

__all__ = ["columns_json"]

_GEOMETRY = ("polygon", "mask", "keypoints", "probabilities", "box3d")


def columns_json(detections: Any) -> bytes | None:
    """The canonical JSON of a boxes-only prediction list, built from the columns, or ``None``.

    ``detections`` is a :class:`predport.Detections`. When every row has a category, a
    score (a number, or NaN for ``null``), a finite box with width and height >= 0 and
    optionally attributes (a JSON object; empty ones are left out), and no row has any
    other field, the result is exactly ``orjson.dumps(detections.to_records())`` — the
    list of canonical prediction objects, ``[{"category_id":1,"score":0.5,"box":[...]}]``
    — and each row is valid against the schema's Prediction by construction (the
    checks made here are the schema's rules for such rows), so a writer needs no
    per-row validation. orjson writes numpy float64 and int64 exactly as Python floats
    and ints (shortest round-trip form).

    ``None`` means "take the general path" (per-row dicts, validated): no rows, rows
    without a box, polygons, masks, keypoints, probabilities or 3-D boxes, an attribute
    value that is not a dict or JSON cannot hold.

        >>> import numpy as np, predport
        >>> d = predport.Detections([1, 2], [0.5, None], [[0, 0, 2, 3], [1, 1, 1, 1]])
        >>> columns_json(d)
        b'[{"category_id":1,"score":0.5,"box":[0.0,0.0,2.0,3.0]},{"category_id":2,"score":null,"box":[1.0,1.0,1.0,1.0]}]'
    """
    import numpy as np
    import orjson

    from .model import _columns_ok

    box = detections.box
    n = len(detections)
    if n == 0 or box is None or any(getattr(detections, name) is not None for name in _GEOMETRY):
        return None
    attrs = detections.attributes
    if attrs is not None and not all(a is None or type(a) is dict for a in attrs):
        return None
    score = detections.score
    # No "no box" rows (the general path leaves their key out), and the model's column rules.
    if np.isnan(box).any() or not _columns_ok(score, box):
        return None
    numpy_option = orjson.OPT_SERIALIZE_NUMPY
    parts: list[bytes] = [b""] * (6 * n)
    parts[0::6] = orjson.dumps(np.ascontiguousarray(detections.category_id), option=numpy_option)[1:-1].split(b",")
    parts[1::6] = [b',"score":'] * n
    parts[2::6] = orjson.dumps(np.ascontiguousarray(score), option=numpy_option)[1:-1].split(b",")  # NaN -> null
    parts[3::6] = [b',"box":['] * n
    parts[4::6] = orjson.dumps(np.ascontiguousarray(box), option=numpy_option)[2:-2].split(b"],[")
    if attrs is None:
        parts[5::6] = [b']},{"category_id":'] * n
        parts[-1] = b"]}]"
    else:
        # Per-row attributes (label ids, sensors...) are any JSON object: the schema asks
        # nothing more of them, so each is dumped as is, after the box, where the general
        # path puts it. Empty dicts are left out there too.
        try:
            tails = [b'],"attributes":' + orjson.dumps(a) + b'},{"category_id":' if a else b']},{"category_id":'
                     for a in attrs]
        except TypeError:
            return None  # not serialisable: the general path raises the located error
        tails[-1] = tails[-1][: -len(b',{"category_id":')] + b"]"
        parts[5::6] = tails
    return b'[{"category_id":' + b"".join(parts)
