"""Reading Encord Active prediction records (JSON list, ``{"predictions": [...]}``, JSON Lines).

One record is one prediction, in the shape of Encord Active's ``Prediction``
model (``encord_active.lib.db.predictions``)::

    {"data_hash": "<uuid>", "frame": 0, "confidence": 0.93,
     "object": {"feature_hash": "OTk2MzM3", "format": "bounding-box",
                "data": {"x": 0.1, "y": 0.2, "w": 0.3, "h": 0.4}}}

Units: box and polygon coordinates in the file are **normalised** (x / image
width, y / image height, origin top-left); masks are binary ``height x width``
arrays in pixels. predport's frames carry **pixels**, so every box and polygon
needs its image size: from ``width``/``height`` keys in the record (a predport
extension), the user's sizes or image folder, else a :class:`predport.ConfigError`.
``frame`` is kept as given (0-based; Encord uses 0 for images too).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Iterable, Iterator, NamedTuple

import numpy as np
import orjson

import predport

from .spec import (
    BOX,
    EPS,
    MASK,
    NOT_PICKLE_REASON,
    POLYGON,
    SUFFIXES_LINES,
    is_pickle_head,
    load_data_mapping,
    load_ontology,
    looks_like_pickle,
)
from .mask import mask_box, mask_to_rle

K_BOX, K_POLYGON, K_MASK, K_CLASS = 0, 1, 2, 3
_KINDS = {BOX: K_BOX, POLYGON: K_POLYGON, MASK: K_MASK}


class Header(NamedTuple):
    """The first item of the record stream: where records come from and the read options."""

    file: str
    lines: bool
    base: tuple[Any, ...]  # JSON path prefix of the record list: () or ("predictions",)
    names: dict[str, str]  # featureNodeHash -> name (ontology option)
    data_mapping: dict[str, str]  # data_hash -> file name (data_mapping option)


class Record(NamedTuple):
    """One checked Encord prediction. ``geom``: ``(x, y, w, h)`` normalised for a box, a
    flat float64 array ``[x0, y0, x1, y1, ...]`` normalised for a polygon, a bool
    ``H x W`` array for a mask, ``None`` for a classification."""

    data_hash: str
    frame: int | None
    confidence: float
    feature_hash: str
    kind: int
    geom: Any
    attrs: dict[str, Any] | None
    size: tuple[int, int] | None  # (width, height) in pixels from the record, if given
    pos: int  # 1-based line (JSON Lines) or 0-based index in the list (JSON)


class _Bad(Exception):
    """A broken record: message, JSON path inside the record, field."""

    def __init__(self, message: str, path: tuple[Any, ...] = (), field: str | None = None) -> None:
        super().__init__(message)
        self.message, self.path, self.field = message, path, field


_NUM = (int, float)  # exact types: bool is not a number here


_num = predport.is_number  # int or float, never bool


def _frame_option(options: Any) -> bool:
    """Whether frame 0 reads as "no frame" (the ``frame0`` option, declared and parsed by the hub)."""
    return options.get("frame0") == "none"


# -- parse ----------------------------------------------------------------------------------
def parse(source: "predport.Source", context: "predport.Context") -> Iterator[Any]:
    """Check the file eagerly (the hub checked the options), then return the lazy record stream."""
    file = str(source.path)
    if source.is_dir:
        raise predport.ParseError(
            "this is a folder; Encord prediction records are one .json or .jsonl file", file=file
        )
    head = source.head(size=16)
    if looks_like_pickle(head, source.suffix):
        if not is_pickle_head(head):
            raise predport.ParseError(NOT_PICKLE_REASON, file=file)
        return _pickled_records(source.path, context, file)
    lines = context.options.get("lines")
    if lines is None:
        lines = source.suffix in SUFFIXES_LINES
    frame0_none = _frame_option(context.options)
    names, mapping = _maps(context)
    checker = _Checker(context, file=file, frame0_none=frame0_none)
    return _records(source.path, lines, checker, names, mapping)


def _maps(context: "predport.Context") -> tuple[dict[str, str], dict[str, str]]:
    """The ``ontology`` and ``data_mapping`` options, loaded."""
    names = load_ontology(context.options["ontology"]) if context.options.get("ontology") else {}
    mapping = load_data_mapping(context.options["data_mapping"]) if context.options.get("data_mapping") else {}
    return names, mapping


def _pickled_records(path: Path, context: "predport.Context", file: str) -> Iterator[Any]:
    """Encord Active's ``predictions.pkl``, unpickled by the restricted reader and checked
    as records eagerly (a refused pickle fails before the first frame; the stand-ins are
    released before the records are handed on)."""
    from .pickled import limits, load_pickle, records
    from .unpickle import paused_collection

    frame0_none = _frame_option(context.options)
    names, mapping = _maps(context)
    caps = limits(context.options)
    checker = _Checker(context, file=file, frame0_none=frame0_none)
    with paused_collection():
        items = load_pickle(path, caps)
        checked = list(records(items, checker))
        del items
    return iter([Header(file, False, (), names, mapping), *checked])


def _records(path: Path, lines: bool, checker: "_Checker", names: dict[str, str],
             mapping: dict[str, str]) -> Iterator[Any]:
    file = str(path)
    if lines:
        yield Header(file, True, (), names, mapping)
        with open(path, "rb") as fh:
            yield from checker.lines(fh)
        return
    raw = path.read_bytes()
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if _first_line_is_record(raw):
            # JSON Lines saved as .json: read it as lines rather than fail.
            yield Header(file, True, (), names, mapping)
            yield from checker.lines(raw.splitlines())
            return
        raise predport.ParseError(f"invalid JSON: {exc}", file=file, hint="JSON Lines? pass lines=true") from None
    del raw
    base: tuple[str, ...]
    if isinstance(doc, dict):
        items, base = doc.get("predictions"), ("predictions",)
        if not isinstance(items, list):
            raise predport.ParseError(
                "expected a list of prediction records or {\"predictions\": [...]}", file=file, json_path="$"
            )
    elif isinstance(doc, list):
        items, base = doc, ()
    else:
        raise predport.ParseError("expected a list of prediction records", file=file, json_path="$")
    yield Header(file, False, base, names, mapping)
    for i in range(len(items)):
        obj, items[i] = items[i], None  # release each record once checked
        rec = checker.check(obj, pos=i, line=None, base=base + (i,))
        if rec is not None:
            yield rec


def _first_line_is_record(raw: bytes) -> bool:
    for line in raw.splitlines():
        if line.strip():
            try:
                return isinstance(orjson.loads(line), dict)
            except orjson.JSONDecodeError:
                return False
    return False


class _Checker:
    """Checks records against Encord's rules; bad ones go to ``context.problem``."""

    def __init__(self, context: "predport.Context", *, file: str, frame0_none: bool) -> None:
        self.context = context
        self.file = file
        self.frame0_none = frame0_none

    def lines(self, lines: Iterable[bytes]) -> Iterator[Record]:
        for lineno, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                self.context.problem(predport.ParseError(f"invalid JSON: {exc}", file=self.file, line=lineno))
                continue
            rec = self.check(obj, pos=lineno, line=lineno, base=())
            if rec is not None:
                yield rec

    def check(self, obj: Any, *, pos: int, line: int | None, base: tuple[Any, ...]) -> Record | None:
        rec = self._fast_box(obj, pos)
        if rec is not None:
            return rec
        try:
            return self._record(obj, pos)
        except _Bad as bad:
            self.context.problem(
                predport.ParseError(bad.message, file=self.file, line=line, json_path=base + bad.path,
                                    field=bad.field)
            )
            return None

    # -- one record -----------------------------------------------------------------------
    def _fast_box(self, rec: Any, pos: int) -> Record | None:
        """The common case in one pass: a well-formed bounding box inside the image, without
        ``track_id`` or a rotation. ``None`` sends the record through the full checks,
        which also produce the error messages; both paths accept the same records."""
        if type(rec) is not dict or rec.get("classification"):
            return None
        obj = rec.get("object")
        if type(obj) is not dict or obj.get("format") != BOX or obj.get("track_id") is not None:
            return None
        # Checked by type() below, which mypy does not narrow by: the values are Any here.
        data: Any
        frame: Any
        conf: Any
        x: Any
        y: Any
        w: Any
        h: Any
        theta: Any
        width: Any
        height: Any
        data, dh, fh = obj.get("data"), rec.get("data_hash"), obj.get("feature_hash")
        if type(data) is not dict or type(dh) is not str or not dh or type(fh) is not str or not fh:
            return None
        frame, conf = rec.get("frame", 0), rec.get("confidence")
        if not ((frame is None or (type(frame) is int and frame >= 0)) and type(conf) in _NUM):
            return None
        x, y, w, h, theta = data.get("x"), data.get("y"), data.get("w"), data.get("h"), data.get("theta")
        if not (type(x) in _NUM and type(y) in _NUM and type(w) in _NUM and type(h) in _NUM
                and (theta is None or (type(theta) in _NUM and theta == 0))):
            return None
        if not (-EPS <= x <= 1 + EPS and -EPS <= y <= 1 + EPS and -EPS <= w <= 1 + EPS
                and -EPS <= h <= 1 + EPS and x + w <= 1 + EPS and y + h <= 1 + EPS):
            return None
        size = None
        if "width" in rec or "height" in rec:
            width, height = rec.get("width"), rec.get("height")
            if not (type(width) is int and type(height) is int and width > 0 and height > 0):
                return None
            size = (width, height)
        if frame == 0 and self.frame0_none:
            frame = None
        return Record(dh, frame, float(conf), fh, K_BOX, (float(x), float(y), float(w), float(h)), None, size, pos)

    def _record(self, rec: Any, pos: int) -> Record:
        if not isinstance(rec, dict):
            raise _Bad(f"a prediction record is an object, not {type(rec).__name__}")
        dh = rec.get("data_hash")
        if not isinstance(dh, str) or not dh:
            raise _Bad("data_hash must be a non-empty string" if "data_hash" in rec else "missing data_hash",
                       ("data_hash",), "data_hash")
        frame = self._frame(rec)
        conf: Any = rec.get("confidence")
        if not _num(conf):
            raise _Bad("missing confidence (Encord requires a number)" if conf is None
                       else "confidence must be a number", ("confidence",), "confidence")
        size = self._size(rec)
        obj, cls = rec.get("object"), rec.get("classification")
        if bool(obj) == bool(cls):
            # Encord's own root validator: exactly one of the two, judged by truthiness.
            raise _Bad('a record needs exactly one of "object" or "classification"')
        attrs: dict[str, Any] | None
        if cls:
            fh, attrs = self._classification(cls)
            return Record(dh, frame, float(conf), fh, K_CLASS, None, attrs, size, pos)
        fh, kind, geom, attrs = self._object(obj)
        return Record(dh, frame, float(conf), fh, kind, geom, attrs, size, pos)

    def _frame(self, rec: dict[str, Any]) -> int | None:
        if "frame" not in rec:
            frame: int | None = 0  # Encord's default: Prediction.frame = 0
        else:
            v = rec["frame"]
            if v is None:
                frame = None
            elif _num(v) and float(v).is_integer() and v >= 0:
                frame = int(v)
            else:
                raise _Bad(f"frame must be an integer >= 0, not {v!r}", ("frame",), "frame")
        if frame == 0 and self.frame0_none:
            return None
        return frame

    @staticmethod
    def _size(rec: dict[str, Any]) -> tuple[int, int] | None:
        w: Any = rec.get("width")
        h: Any = rec.get("height")
        if w is None and h is None:
            return None
        for key, v in (("width", w), ("height", h)):
            if not (_num(v) and float(v).is_integer() and v > 0):
                raise _Bad(f"{key} must be a positive integer (pixels), not {v!r}", (key,), key)
        return int(w), int(h)

    @staticmethod
    def _classification(cls: Any) -> tuple[str, dict[str, Any]]:
        if not isinstance(cls, dict):
            raise _Bad("classification must be an object", ("classification",), "classification")
        for key in ("feature_hash", "attribute_hash", "option_hash"):
            v = cls.get(key)
            if not isinstance(v, str) or not v:
                raise _Bad(f"classification.{key} must be a non-empty string", ("classification", key), key)
        return cls["feature_hash"], {"attribute_hash": cls["attribute_hash"], "option_hash": cls["option_hash"]}

    def _object(self, obj: Any) -> tuple[str, int, Any, dict[str, Any] | None]:
        if not isinstance(obj, dict):
            raise _Bad("object must be an object", ("object",), "object")
        fh = obj.get("feature_hash")
        if not isinstance(fh, str) or not fh:
            raise _Bad("object.feature_hash must be a non-empty string", ("object", "feature_hash"), "feature_hash")
        fmt = obj.get("format")
        kind = _KINDS.get(fmt) if isinstance(fmt, str) else None
        if kind is None:
            raise _Bad(f"unknown format {fmt!r}; Encord's formats are {BOX}, {POLYGON} and {MASK}",
                       ("object", "format"), "format")
        if "data" not in obj:
            raise _Bad("missing object.data", ("object", "data"), "data")
        data = obj["data"]
        if isinstance(data, str):
            # Encord's pydantic model serialises numpy data as a JSON string and parses it back.
            try:
                data = orjson.loads(data)
            except orjson.JSONDecodeError as exc:
                raise _Bad(f"data is a string but not JSON: {exc}", ("object", "data"), "data") from None
        attrs: dict[str, Any] = {}
        track = obj.get("track_id")
        if track is not None:
            if isinstance(track, bool) or not isinstance(track, (str, int)):
                raise _Bad("track_id must be a string or an integer", ("object", "track_id"), "track_id")
            attrs["track_id"] = track
        geom: Any
        if kind == K_BOX:
            geom = self._box(data, attrs)
        elif kind == K_POLYGON:
            geom = self._polygon(data)
        else:
            geom = self._mask(data)
        return fh, kind, geom, attrs or None

    def _box(self, data: Any, attrs: dict[str, Any]) -> tuple[float, float, float, float]:
        path = ("object", "data")
        if not isinstance(data, dict):
            raise _Bad("a bounding box is an object {x, y, w, h} (normalised)", path, "data")
        vals = []
        for key in ("x", "y", "w", "h"):
            if key not in data:
                raise _Bad(f"bounding box without {key!r}", path, key)
            v = data[key]
            if not _num(v):
                raise _Bad(f"{key} must be a number, not {v!r}", path + (key,), key)
            vals.append(float(v))
        x, y, w, h = vals
        theta = data.get("theta")
        if theta is not None:
            if not _num(theta) or not 0 <= theta <= 360:
                raise _Bad(f"theta must be a number of degrees in [0, 360], not {theta!r}", path + ("theta",), "theta")
            if theta:
                attrs["theta"] = float(theta)
        problem = _box_problem(x, y, w, h)
        if problem is None:
            return x, y, w, h
        key, message = problem
        if w >= 0 and h >= 0:  # clamp: kept, and the core clamps the box to the image; else a bad record
            self.context.outside_image(_Bad(message, path + (key,), key))
            return x, y, w, h
        raise _Bad(message, path + (key,), key)

    def _polygon(self, data: Any) -> np.ndarray:
        path = ("object", "data")
        if isinstance(data, np.ndarray):  # a pickled polygon (its own copy, any numeric dtype)
            if data.dtype.kind not in "biuf":
                raise _Bad(f"a polygon array of {data.dtype} is not numbers", path, "data")
            arr = data.astype(np.float64)
        elif not isinstance(data, list):
            raise _Bad("a polygon is a list of normalised [x, y] points", path, "data")
        else:
            try:
                arr = np.asarray(data, dtype=np.float64)
            except (TypeError, ValueError):
                raise _Bad("a polygon is a list of [x, y] number pairs", path, "data") from None
        if arr.ndim != 2 or arr.shape[1] != 2:
            raise _Bad(f"a polygon is a list of [x, y] pairs, got shape {list(arr.shape)}", path, "data")
        if arr.shape[0] < 3:
            raise _Bad(f"a polygon needs at least 3 points, got {arr.shape[0]}", path, "data")
        if not np.isfinite(arr).all():
            raise _Bad("polygon coordinates must be finite", path, "data")
        outside = (arr < -EPS) | (arr > 1 + EPS)
        if outside.any():  # clamp: kept, and the core clamps the polygon to the image; else a bad record
            i, j = (int(v) for v in np.argwhere(outside)[0])
            self.context.outside_image(_Bad(f"point {i} has {'xy'[j]} = {arr[i, j]!r}, outside [0, 1] "
                                            "(Encord polygons are normalised)", path + (i, j), "data"))
        return arr.ravel()

    @staticmethod
    def _mask(data: Any) -> np.ndarray:
        path = ("object", "data")
        try:
            arr = np.asarray(data)
        except (TypeError, ValueError):
            arr = None
        if arr is None or arr.ndim != 2 or arr.size == 0 or arr.dtype.kind not in "biuf":
            raise _Bad("a mask is a non-empty binary height x width array (pixels)", path, "data")
        if arr.dtype.kind != "b" and not np.isin(arr, (0, 1)).all():
            raise _Bad("a mask holds only 0 and 1", path, "data")
        return arr.astype(bool)


def _box_problem(x: float, y: float, w: float, h: float) -> tuple[str, str] | None:
    """Encord's rule for a relative box: each value in [0, 1], x + w <= 1, y + h <= 1."""
    for key, v in (("x", x), ("y", y), ("w", w), ("h", h)):
        if not -EPS <= v <= 1 + EPS:
            return key, f"{key} = {v!r} is outside [0, 1] (Encord boxes are normalised)"
    if x + w > 1 + EPS:
        return "w", f"x + w = {x + w!r} > 1: the box leaves the image on the right"
    if y + h > 1 + EPS:
        return "h", f"y + h = {y + h!r} > 1: the box leaves the image at the bottom"
    return None


# -- to canonical --------------------------------------------------------------------------
class _Group:
    __slots__ = ("rows", "size")

    def __init__(self) -> None:
        self.rows: list[tuple[int, Record]] = []  # (category id, record)
        self.size: tuple[int, int] | None = None


class _Categories:
    """Feature hashes to canonical category ids, through the context's table and class map.

    Without a class map each feature hash becomes one category: ``external_id`` is the
    hash, ``name`` its ontology name (or the hash), ids count up in order of appearance.
    With a class map the hash is looked up first, then the ontology name.
    """

    def __init__(self, context: "predport.Context", names: dict[str, str]) -> None:
        self.table = context.categories
        self.class_map = context.class_map
        self.names = names
        self.memo: dict[str, int] = {}

    def __call__(self, fh: str) -> int | None:
        cid = self.memo.get(fh)
        if cid is not None:
            return cid
        name = self.names.get(fh, fh)
        if self.class_map is not None:
            key = fh if (fh in self.class_map or name not in self.class_map) else name
            # The table memoises and counts unmapped classes; a category it creates keeps
            # the feature hash as external id unless the class map names one.
            return self.table.resolve(name=key, external_id=fh)
        for cat in self.table:
            if cat.external_id == fh:
                self.memo[fh] = cat.id
                return cat.id
        cid = max((c.id for c in self.table), default=-1) + 1
        self.table.declare(cid, name, fh)
        self.memo[fh] = cid
        return cid


def to_canonical(records: Iterable[Any], context: "predport.Context") -> Iterator["predport.Frame"]:
    """Group records by ``(data_hash, frame)`` in order of first appearance; one frame each."""
    it = iter(records)
    header = next(it, None)
    if header is None:
        return
    if not isinstance(header, Header):
        raise TypeError("encord records must come from the encord parser")
    categories = _Categories(context, header.names)
    groups: dict[tuple[str, int | None], _Group] = {}
    for rec in it:
        cid = categories(rec.feature_hash)
        if cid is None:  # unmapped: left out, counted per class by the table (the core's rule)
            continue
        group = groups.get((rec.data_hash, rec.frame))
        if group is None:
            group = groups[(rec.data_hash, rec.frame)] = _Group()
        if rec.size is not None:
            if group.size is None:
                group.size = rec.size
            elif group.size != rec.size:
                context.problem(predport.ParseError(
                    f"width x height {rec.size[0]}x{rec.size[1]} differs from {group.size[0]}x{group.size[1]} "
                    f"given earlier for data_hash {rec.data_hash!r}",
                    field="width", **_where(header, rec.pos, ("width",)),
                ))
                continue
        group.rows.append((cid, rec))
    while groups:
        key = next(iter(groups))
        group = groups.pop(key)  # release each group once its frame is built
        frame = _frame(key, group, header, context)
        if frame is not None:
            yield frame


def _where(header: Header, pos: int, path: tuple[Any, ...] = ()) -> dict[str, Any]:
    if header.lines:
        return {"file": header.file, "line": pos, "json_path": list(path) if path else None}
    return {"file": header.file, "json_path": list(header.base) + [pos] + list(path)}


def _image_size(data_hash: str, header: Header, context: "predport.Context") -> tuple[int, int] | None:
    size = context.image_size(data_hash)
    if size is None and data_hash in header.data_mapping:
        size = context.image_size(header.data_mapping[data_hash])
    return size


def _frame(key: tuple[str, int | None], group: _Group, header: Header,
           context: "predport.Context") -> "predport.Frame | None":
    data_hash, frame_index = key
    rows = group.rows
    size = group.size or _image_size(data_hash, header, context)
    if size is None:
        # Encord masks are image-sized arrays: the first one gives the size.
        size = next(((r.geom.shape[1], r.geom.shape[0]) for _, r in rows if r.kind == K_MASK), None)
    keep = [True] * len(rows)
    if size is None and any(r.kind in (K_BOX, K_POLYGON) for _, r in rows):
        frame_text = "" if frame_index is None else f", frame {frame_index}"
        context.problem(predport.ConfigError(
            f"no image size for data_hash {data_hash!r}{frame_text}: normalised coordinates need "
            "the image width and height",
            file=header.file,
            hint="give image_sizes={data_hash: [width, height]} or a sizes file, images=FOLDER "
                 "(files named by data hash, or data_mapping=PATH to map hashes to file names), "
                 "or width/height keys in the records",
        ))
        keep = [r.kind not in (K_BOX, K_POLYGON) for _, r in rows]  # skip policy: keep the rest
    n = len(rows)
    cid = np.fromiter((c for c, _ in rows), dtype=np.int64, count=n)
    score = np.fromiter((r.confidence for _, r in rows), dtype=np.float64, count=n)
    box: Any = None
    polygon: list[Any] | None = None
    mask: list[Any] | None = None
    box_idx = [i for i, (_, r) in enumerate(rows) if r.kind == K_BOX and keep[i]]
    if box_idx or any(r.kind == K_MASK for _, r in rows):
        box = np.full((n, 4), math.nan)
    if box_idx:
        w, h = size  # type: ignore[misc]
        norm = np.array([rows[i][1].geom for i in box_idx], dtype=np.float64)
        box[box_idx] = norm * np.array([w, h, w, h], dtype=np.float64)
    for i, (_, r) in enumerate(rows):
        if not keep[i]:
            continue
        if r.kind == K_POLYGON:
            w, h = size  # type: ignore[misc]
            scale = np.tile(np.array([w, h], dtype=np.float64), r.geom.shape[0] // 2)
            if polygon is None:
                polygon = [None] * n
            polygon[i] = [(r.geom * scale).tolist()]
        elif r.kind == K_MASK:
            if (r.geom.shape[1], r.geom.shape[0]) != tuple(size):  # type: ignore[arg-type]
                context.problem(predport.ParseError(
                    f"mask is {r.geom.shape[1]}x{r.geom.shape[0]} (width x height) but the image is "
                    f"{size[0]}x{size[1]}",  # type: ignore[index]
                    field="data", **_where(header, r.pos, ("object", "data")),
                ))
                keep[i] = False
                continue
            if mask is None:
                mask = [None] * n
            mask[i] = mask_to_rle(r.geom)
            b = mask_box(r.geom)
            if b is not None:
                box[i] = b  # type: ignore[index]
    attrs = [r.attrs for _, r in rows]
    dets = predport.Detections(
        category_id=cid, score=score, box=box, polygon=polygon, mask=mask,
        attributes=attrs if any(attrs) else None,
    )
    if not all(keep):
        dets = dets.take(np.array(keep, dtype=bool))
    width, height = size if size is not None else (None, None)
    return predport.Frame(data_id=data_hash, frame_index=frame_index, width=width, height=height,
                          predictions=dets)
