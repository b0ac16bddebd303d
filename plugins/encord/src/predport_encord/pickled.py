"""Encord Active's ``predictions.pkl`` into the same records the JSON reader makes.

The restricted unpickler (:mod:`.unpickle`) gives back stand-ins; each pickled
``Prediction`` becomes the JSON record it would have been — the flat schema of
v0.1.13–v0.1.32 (``class_id``, ``format``, ``data`` on the prediction) is read as an
``object`` whose ``feature_hash`` is the ``class_id`` — and goes through the JSON
reader's checks (``read._Checker``), so both inputs share every rule, error message
and the conversion to pixels.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Mapping

import predport

from .read import _Bad
from .unpickle import MODULE_APP, Array, Limits, Model, PickleRefused, fields_of, loads

_NESTED = frozenset({"data_hash", "frame", "confidence", "object", "classification"})
_FLAT = frozenset({"data_hash", "frame", "class_id", "confidence", "format", "data", "track_id"})
_OBJECT = frozenset({"format", "data", "feature_hash", "track_id"})
_BOX = frozenset({"x", "y", "h", "w", "theta"})
_CLASSIFICATION = frozenset({"feature_hash", "attribute_hash", "option_hash"})

HINT = ("predport reads pickles of Encord Active Prediction lists only, and runs nothing from them; "
        "see 'Pickles' in docs/formats/encord.md for what to do with another pickle")


def limits(options: Mapping[str, Any]) -> Limits:
    """The caps, from the read options ``max_bytes``, ``max_objects``, ``max_elements``."""
    values = {}
    for name in Limits._fields:
        if options.get(name) is None:
            continue
        raw = options[name]
        text = str(raw).strip().replace("_", "")
        if isinstance(raw, bool) or not text.isascii() or not text.isdigit() or int(text) <= 0:
            raise predport.ConfigError(f"option {name}={raw!r} is not a positive integer")
        values[name] = int(text)
    return Limits(**values)


def load_pickle(path: Path, caps: Limits) -> list[Any]:
    """The pickled list of predictions, as stand-ins; a located ``ParseError`` otherwise."""
    file = str(path)
    size = path.stat().st_size
    if size > caps.max_bytes:
        raise predport.ParseError(f"the pickle is {size:,} bytes, more than the {caps.max_bytes:,} allowed",
                                  file=file, hint="raise the read option max_bytes if the file is trusted")
    data = predport.read_bytes(path, file=file)  # a regular file that fits in memory
    try:
        top = loads(data, caps)
    except PickleRefused as exc:
        raise predport.ParseError(exc.message + exc.where(), file=file, hint=HINT) from None
    del data
    if type(top) not in (list, tuple):
        raise predport.ParseError(f"the pickle holds a {_kind(top)}, not a list of Prediction objects",
                                  file=file, json_path="$", hint=HINT)
    return top if type(top) is list else list(top)


def records(items: list[Any], checker: Any) -> Iterator[Any]:
    """Check each pickled prediction as a JSON record; bad ones go to ``context.problem``."""
    for i in range(len(items)):
        item, items[i] = items[i], None  # release each prediction once read
        try:
            rec = _record(item)
            out = checker._fast_box(rec, i)  # the common box, in one pass
            if out is None:
                _plain(rec)
        except _Bad as bad:
            checker.context.problem(predport.ParseError(bad.message, file=checker.file,
                                                        json_path=(i,) + bad.path, field=bad.field))
            continue
        if out is None:
            out = checker.check(rec, pos=i, line=None, base=(i,))
        if out is not None:
            yield out


_PLAIN = (str, int, float, bool, type(None))


def _plain(rec: dict[str, Any]) -> None:
    """Every field a number, string, bool or None before the JSON checks print any of
    them: a pickle can share objects, and the repr of a shared nested list (a "billion
    laughs") grows exponentially."""
    obj, cls = rec.get("object"), rec.get("classification")
    data = obj.get("data") if type(obj) is dict else None
    for path, fields, nested in (((), rec, ("object", "classification")), (("object",), obj, ("data",)),
                                 (("classification",), cls, ()), (("object", "data"), data, ())):
        if type(fields) is not dict:
            continue
        for key, value in fields.items():
            if type(value) not in _PLAIN and key not in nested:
                raise _Bad(f"{key} is a {_kind(value)}, not a number, string or None", path + (key,), key)


def _kind(v: Any) -> str:
    if isinstance(v, Model):
        return f"{v.module}.{v.name}"
    return "numpy array" if isinstance(v, Array) else type(v).__name__


def _model(v: Any, name: str, keys: frozenset[str], path: tuple[Any, ...]) -> dict[str, Any]:
    if not isinstance(v, Model) or v.name != name:
        raise _Bad(f"expected a {name}, found a {_kind(v)}", path)
    fields = fields_of(v)
    if fields is None:
        raise _Bad(f"a {name} without its state", path)
    if not fields.keys() <= keys:
        extra = ", ".join(sorted(k[:40] if type(k) is str else f"a {_kind(k)}" for k in fields.keys() - keys))
        raise _Bad(f"{name} has fields no Encord Active release defines: {extra}", path)
    return fields


def _record(item: Any) -> dict[str, Any]:
    if not isinstance(item, Model) or item.name != "Prediction":
        raise _Bad(f"expected a Prediction, found a {_kind(item)}")
    fields = fields_of(item)
    if fields is not None and (item.module == MODULE_APP or "class_id" in fields):
        fields = _model(item, "Prediction", _FLAT, ())
        obj: dict[str, Any] = {k: fields[k] for k in ("format", "track_id") if k in fields}
        if "class_id" in fields:
            obj["feature_hash"] = fields["class_id"]
        if "data" in fields:
            obj["data"] = _data(fields["data"])
        rec: dict[str, Any] = {k: fields[k] for k in ("data_hash", "frame", "confidence") if k in fields}
        rec["object"] = obj
        return rec
    fields = _model(item, "Prediction", _NESTED, ())
    rec = dict(fields)
    nested = fields.get("object")
    if nested is not None:
        of = _model(nested, "ObjectDetection", _OBJECT, ("object",))
        rec["object"] = dict(of)
        if "data" in of:
            rec["object"]["data"] = _data(of["data"])
    cls = fields.get("classification")
    if cls is not None:
        rec["classification"] = _model(cls, "FrameClassification", _CLASSIFICATION, ("classification",))
    return rec


def _data(v: Any) -> Any:
    """A BoundingBox's fields, or a polygon or mask array decoded (its size was capped)."""
    if isinstance(v, Array):
        try:
            return v.decode()
        except PickleRefused as exc:
            raise _Bad(exc.message, ("object", "data"), "data") from None
    if isinstance(v, Model) and v.name == "BoundingBox":
        return _model(v, "BoundingBox", _BOX, ("object", "data"))
    raise _Bad(f"data is a {_kind(v)}; Encord Active's data is a BoundingBox or a numpy array",
               ("object", "data"), "data")
