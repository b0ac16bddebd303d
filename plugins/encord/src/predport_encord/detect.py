"""Detection of Encord prediction records from a file's head (bounded, no numpy)."""
from __future__ import annotations

import re
from typing import Any

import predport

from .spec import FORMAT, NOT_PICKLE_REASON, is_pickle_head, looks_like_pickle

_PREDICTIONS_KEY = re.compile(rb'"predictions"\s*:\s*\[\s*')
_WS = b" \t\r\n"


def first_object(buf: bytes, start: int) -> bytes | None:
    """The complete JSON object that starts at ``buf[start]`` (a ``{``), or ``None`` when
    it does not end inside ``buf``. Strings and escapes are honoured."""
    depth = 0
    in_str = esc = False
    for i in range(start, len(buf)):
        c = buf[i]
        if in_str:
            if esc:
                esc = False
            elif c == 0x5C:  # backslash
                esc = True
            elif c == 0x22:
                in_str = False
        elif c == 0x22:
            in_str = True
        elif c == 0x7B or c == 0x5B:
            depth += 1
        elif c == 0x7D or c == 0x5D:
            depth -= 1
            if depth == 0:
                return buf[start : i + 1]
    return None


def _skip_ws(buf: bytes, i: int) -> int:
    while i < len(buf) and buf[i] in _WS:
        i += 1
    return i


def _first_record(head: bytes) -> tuple[str, Any] | None:
    """``(layout, first record or raw bytes)`` of a JSON list, a ``{"predictions": [...]}``
    document or JSON Lines; ``None`` when the head shows none of them."""
    import orjson

    i = _skip_ws(head, 0)
    if i >= len(head):
        return None
    if head[i] == 0x5B:  # '[': a JSON list of records
        j = _skip_ws(head, i + 1)
        if j >= len(head) or head[j] != 0x7B:
            return None
        layout, raw = "JSON list", first_object(head, j)
    elif head[i] == 0x7B:
        line = head[i:].split(b"\n", 1)[0]
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            obj = None
        if isinstance(obj, dict) and "predictions" not in obj:
            return "JSON Lines", obj
        m = _PREDICTIONS_KEY.search(head, i)
        if m is None or m.end() >= len(head) or head[m.end()] != 0x7B:
            return None
        layout, raw = '{"predictions": [...]}', first_object(head, m.end())
    else:
        return None
    if raw is None:
        return layout, None
    try:
        return layout, orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


_num = predport.is_number  # int or float, never bool


def detect(source: "predport.Source") -> "predport.FormatMatch | None":
    if not source.is_file:
        return None
    head = source.head()
    if looks_like_pickle(head, source.suffix):
        return _pickle(head)
    found = _first_record(head)
    if found is None:
        return None
    layout, rec = found
    if rec is None:
        # The first record is longer than the head (a large mask): fall back to keys.
        if b'"data_hash"' in head and (b'"object"' in head or b'"classification"' in head):
            return predport.FormatMatch(
                FORMAT, predport.Confidence.MEDIUM,
                f"{layout} whose first record mentions data_hash and object/classification",
            )
        return None
    if not isinstance(rec, dict) or "data_hash" not in rec:
        return None
    obj, cls = rec.get("object"), rec.get("classification")
    if not (obj or cls):
        return predport.FormatMatch(
            FORMAT, predport.Confidence.NO,
            "records have data_hash but neither 'object' nor 'classification'",
        )
    complete = isinstance(rec["data_hash"], str) and _num(rec.get("confidence"))
    if obj:
        complete = complete and isinstance(obj, dict) and all(k in obj for k in ("feature_hash", "format", "data"))
        what = "an object (feature_hash, format, data)"
    else:
        complete = complete and isinstance(cls, dict) and all(
            k in cls for k in ("feature_hash", "attribute_hash", "option_hash")
        )
        what = "a classification (feature, attribute and option hashes)"
    if complete:
        return predport.FormatMatch(
            FORMAT, predport.Confidence.HIGH,
            f"{layout} whose first record has data_hash, confidence and {what}",
        )
    return predport.FormatMatch(
        FORMAT, predport.Confidence.MEDIUM,
        f"{layout} whose first record has data_hash and object/classification, but not every field",
    )


def _pickle(head: bytes) -> "predport.FormatMatch":
    """A pickle is Encord's when its protocol is 2 to 5 and its first global, in the first
    bytes, is an Encord Active ``Prediction`` class; anything else is refused with why."""
    if not is_pickle_head(head):
        return predport.FormatMatch(FORMAT, predport.Confidence.NO, NOT_PICKLE_REASON)
    from .unpickle import MODELS, PREFIX_BYTES, first_global

    protocol, name, whole = first_global(head)
    ours = {f"{module}.Prediction" for module in MODELS}
    if name in ours:
        return predport.FormatMatch(
            FORMAT, predport.Confidence.HIGH,
            f"pickle (protocol {protocol}) of {name} objects: Encord Active's predictions.pkl, read "
            "with a restricted unpickler that runs nothing from the file",
        )
    if name is None:
        what = "holds no Encord Active Prediction" if whole else \
            f"names no Encord Active Prediction class in its first {PREFIX_BYTES} bytes"
    else:
        what = f"names {name} first, not an Encord Active Prediction class"
    return predport.FormatMatch(
        FORMAT, predport.Confidence.NO,
        f"Python pickle (protocol {protocol}) that {what}; predport unpickles only Encord Active "
        "prediction lists, with a restricted unpickler, and nothing else",
    )
