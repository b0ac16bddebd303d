"""Aquarium inference rows to canonical frames.

Conventions (canonical side): boxes ``[x, y, w, h]`` = ``[left, top, width, height]`` in
pixels; polygons one flat ring per Aquarium polygon; keypoints ``[x, y, v]`` with ``v``
null (Aquarium keypoints have no visibility); cuboids as ``box3d`` with the rotation
quaternion in x, y, z, w order; masks as COCO compressed RLE. ``confidence`` is the
score, kept as given.

What the canonical fields cannot say stays in ``attributes`` (keys in docs/formats/aquarium.md):
the entry's ``uuid``; ``label_type`` when the geometry does not imply it; ``sensor_id``
(``label_coordinate_frame``) when it is not ``"DEFAULT"``; entry fields with non-default
values; every Aquarium attribute that is not geometry (``iscrowd``, ``area``, ``user__*``,
``link__*``, ``center``, ``index``/``token``/``visible``, ``x1``...). Frame-level fields go
to ``Frame.attributes``. Rows that cannot become predictions (masks whose PNG is not
here, partial ``MODIFY`` entries) are kept verbatim in ``Frame.attributes`` with their
position, so that the writer reproduces every row.
"""
from __future__ import annotations

import os
from collections import Counter
from itertools import chain
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import orjson

import predport

from . import spec
from .fast import FastRow
from .detect import generation_of

# -- records ------------------------------------------------------------------------------
Record = tuple[str, "int | None", "int | None", Any]  # (file, line, array index, row)


def iter_records(path: Path, context: Any) -> Iterator[Record]:
    """The rows of a JSON Lines file (``line`` set) or of a JSON array (``index`` set)."""
    file = str(path)
    with predport.open_regular(path, file=file) as fh:  # a FIFO is refused, not waited on
        start = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if start == b"[":
        yield from _array_records(path, context)
        return
    if start == b"{" and path.suffix.lower() == ".json":
        data = predport.read_bytes(path, file=file)
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            obj = None  # several objects: JSON Lines in a .json file
        if isinstance(obj, dict):
            predport.check_json_depth(obj, raw=data, file=file)
            yield (file, None, None, obj)
            return
        del data
    from . import fast as fast_rows

    typed = fast_rows.decode if fast_rows.ENABLED else None
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if typed is not None:
                fast = typed(raw)
                if fast is not None:
                    yield (file, lineno, None, fast)
                    continue
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                if not raw.strip():
                    continue
                context.problem(predport.ParseError(f"invalid JSON: {exc}", file=file, line=lineno))
                continue
            try:
                predport.check_json_depth(obj, raw=raw, file=file, line=lineno)
            except predport.PredportError as err:
                context.problem(err)
                continue
            yield (file, lineno, None, obj)


def _array_records(path: Path, context: Any) -> Iterator[Record]:
    file = str(path)
    doc = predport.load_json(predport.read_bytes(path, file=file), file=file)
    for i in range(len(doc)):
        row, doc[i] = doc[i], None  # release each row once handed on
        yield (file, None, i, row)


# -- class maps ---------------------------------------------------------------------------
def load_classes(value: Any) -> dict[str, int]:
    """The Aquarium project class map given as option ``classes``: name -> class id.

    Accepted: a JSON/YAML path or an object, either ``[{"name": ..., "class_id": ...}]``
    (the client's ``ClassMapEntry`` fields; ``id`` is accepted for ``class_id``) or
    ``{"name": class_id}``.
    """
    if value is None:
        return {}
    origin = None
    if isinstance(value, (str, os.PathLike)):
        origin = str(value)
        value = predport.load_mapping_file(value)
    out: dict[str, int] = {}
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, list):
        items = []
        for i, entry in enumerate(value):
            if not isinstance(entry, dict) or "name" not in entry:
                raise predport.ConfigError("each class entry needs 'name' and 'class_id'", file=origin,
                                           json_path=[i])
            items.append((entry["name"], entry.get("class_id", entry.get("id"))))
    else:
        raise predport.ConfigError("option 'classes' is a list of {name, class_id} or {name: class_id}",
                                   file=origin)
    for name, cid in items:
        if type(cid) is not int or not isinstance(name, str) or not name:
            raise predport.ConfigError(f"class {name!r}: class_id must be an integer", file=origin,
                                       field="class_id")
        out[name] = cid
    return out


# -- shared by reader and writer ------------------------------------------------------------
def derived_type(*, box: bool, polygon: bool, mask: bool, keypoints: bool, box3d: bool) -> str | None:
    """The label type a prediction's geometry implies (``None``: a mask, which needs its row)."""
    if box3d:
        return spec.CUBOID
    if keypoints:
        return spec.KEYPOINTS
    if polygon:
        return spec.POLYGONS
    if mask:
        return None
    if box:
        return spec.BBOX
    return spec.CLASS_2D


_is_num = predport.is_number  # int or float, never bool (not a coordinate)


_BBOX_KEYS = frozenset({"top", "left", "width", "height", "confidence"})
_BOX_FIELDS = ("top", "left", "width", "height")
_CUBOID_FIELDS = ("pos_x", "pos_y", "pos_z", "dim_x", "dim_y", "dim_z", "rot_x", "rot_y", "rot_z", "rot_w")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1  # canonical category ids are int64
_NAN4 = (np.nan, np.nan, np.nan, np.nan)

_get_attrs = itemgetter("attributes")
_get_box5 = itemgetter("left", "top", "width", "height", "confidence")
#: Entry fields pulled in one pass per frame; the last one is always "attributes".
_FAST_GET = {
    "legacy": itemgetter("uuid", "label", "label_type", "label_coordinate_frame", "change",
                         "reuse_latest_embedding", "linked_labels", "attributes"),
    "v1": itemgetter("uuid", "label", "label_type", "label_coordinate_frame", "change",
                     "reuse_latest_embedding", "class_id", "attributes"),
    "oldest": itemgetter("uuid", "label", "label_type", "label_coordinate_frame", "linked_labels", "attributes"),
}
_get_attrs_attr = attrgetter("attributes")
_get_box5_attr = attrgetter("left", "top", "width", "height", "confidence")
_get_uuid_attr = attrgetter("uuid")
_get_label_attr = attrgetter("label")
_get_class_id_attr = attrgetter("class_id")
_FAST_ROW_LEN = {"legacy": 8, "v1": 8, "oldest": 6}


class _Columns:
    """Per-prediction values of one frame, in row order (the slow, general path)."""

    def __init__(self) -> None:
        self.cid: list[int] = []
        self.score: list[float | None] = []
        self.attrs: list[dict[str, Any]] = []
        self.geo: dict[str, list[Any]] = {k: [] for k in ("box", "polygon", "mask", "keypoints", "box3d")}
        self.present: set[str] = set()

    def add(self, cid: int, score: float | None, attrs: dict[str, Any], **geo: Any) -> None:
        self.cid.append(cid)
        self.score.append(score)
        self.attrs.append(attrs)
        for name, col in self.geo.items():
            v = geo.get(name)
            col.append(v)
            if v is not None:
                self.present.add(name)

    def build(self) -> Any:
        if not self.cid:
            return predport.Detections.empty()
        box = None
        if "box" in self.present:
            box = np.array([b if b is not None else _NAN4 for b in self.geo["box"]], dtype=np.float64)
        cols = {k: self.geo[k] for k in ("polygon", "mask", "keypoints", "box3d") if k in self.present}
        return predport.Detections(
            np.array(self.cid, dtype=np.int64), self.score, box, attributes=self.attrs, **cols
        )


class _Group:
    """An instance mask row and what became of it."""

    __slots__ = ("index", "row", "array", "reason", "resolved")

    def __init__(self, index: int, row: dict[str, Any]) -> None:
        self.index = index
        self.row = row
        self.array: Any = None
        self.reason: str | None = None  # None: not looked at yet
        self.resolved = 0


class Mapper:
    """Turns rows into :class:`predport.Frame` objects for one source file.

    Options (``context.options``): ``classes`` (the Aquarium project class map, names
    pixel values of semantic masks and gives legacy labels their class ids),
    ``mask_root`` (folder that relative mask URLs are relative to; default: the
    file's folder), ``resolve_masks`` (default true; false keeps every mask row
    unresolved without opening PNGs).
    """

    MAX_WARNINGS = 50

    def __init__(self, file: str, context: Any) -> None:
        self.file = file
        self.context = context
        self.cats = context.categories
        root = context.option("mask_root")
        self.base = Path(root) if root else Path(file).parent
        # Declared in hooks.READ_OPTIONS: the hub parsed them (booleans are bools).
        self.resolve_masks = context.option("resolve_masks", True) is not False
        self.classes = load_classes(context.option("classes"))
        self.class_names = {cid: name for name, cid in self.classes.items()}
        for name, cid in self.classes.items():
            self.cats.declare(cid, name)
        self.v1_names: dict[int, str] = {}
        self.keep_uuids = bool(context.option("keep_uuids"))
        self._suffixes: list[str] = []
        self.warnings = 0
        self._lut: dict[Any, int] = {}
        self._size: tuple[int, int] | None = None
        self._defaults = {g: spec.frame_defaults(g) for g in spec.GENERATIONS}

    # -- frames -------------------------------------------------------------------------
    def frame(self, obj: Any, line: int | None, index: int | None) -> Any:
        base: list[Any] = [] if index is None else [index]
        fast = None
        if type(obj) is FastRow:  # a line of plain boxes, decoded into typed entries
            fast, obj = obj, obj.frame

        def err(message: str, path: list[Any], field: str | None = None) -> predport.ParseError:
            return predport.ParseError(message, file=self.file, line=line, json_path=base + path, field=field)

        if not isinstance(obj, dict):
            self.context.problem(err("a frame row must be a JSON object", []))
            return None
        task_id = obj.get("task_id")
        if not isinstance(task_id, str) or not task_id:
            self.context.problem(err("task_id (the frame id) must be a non-empty string", ["task_id"], "task_id"))
            return None
        rows = obj.get("inference_data") if fast is None else fast.entries
        if not isinstance(rows, list):
            if rows is None and "label_data" in obj:
                msg = "an Aquarium ground-truth row (label_data, no inference_data), not inferences"
            else:
                msg = "inference_data must be a list of inference entries"
            self.context.problem(err(msg, ["inference_data"], "inference_data"))
            return None
        gen = generation_of(obj) if fast is None else fast.gen
        attrs = self.frame_attributes(obj, gen)
        if not isinstance(attrs.get("user_metadata", {}), dict):  # the writer could not write it back
            self.context.problem(err("user_metadata must be a JSON object", ["inference_metadata", "user_metadata"],
                                     "user_metadata"))
            return None
        self._size = size = self.context.image_size(task_id)
        if not rows:
            dets = predport.Detections.empty()
        elif fast is None:
            dets = self.fast_boxes(rows, gen, task_id)
        else:
            dets = self.typed_boxes(rows, gen, task_id)
            if dets is None:
                rows = orjson.loads(fast.raw)["inference_data"]  # the general path reads dicts
        if dets is None:
            dets = self.general(rows, gen, task_id, attrs, err)
        change = attrs.get("change")
        if change == "DELETE":
            self.context.report.count("aquarium DELETE frames (attributes.change)")
        elif change == "MODIFY":
            self.context.report.count("aquarium MODIFY frames (attributes.change)")
        return predport.Frame.model_construct(
            data_id=task_id,
            frame_index=None,
            width=None if size is None else size[0],
            height=None if size is None else size[1],
            predictions=dets,
            attributes=attrs,
        )

    def frame_attributes(self, obj: dict[str, Any], gen: str) -> dict[str, Any]:
        """Frame-level fields with non-default values, by their row names (metadata flattened)."""
        defaults = self._defaults[gen]
        attrs: dict[str, Any] = {"aquarium_generation": gen}
        extra: dict[str, Any] = {}
        for key, value in obj.items():
            if key == "task_id" or key == "inference_data":
                continue
            if key in spec.FRAME_ATTRIBUTE_KEYS:
                if key not in defaults or value != defaults[key]:
                    attrs[key] = value
            elif key == "inference_metadata" and isinstance(value, dict):
                for mkey, mvalue in value.items():
                    if mkey == "user_metadata" or mkey == "visualization_assets":
                        if mvalue != defaults.get(mkey):
                            attrs[mkey] = mvalue
                    else:
                        extra.setdefault("inference_metadata", {})[mkey] = mvalue
            elif key == "label_data" and gen == "v1":
                # 1.0.x repeats inference_data as label_data; keep it only if it differs.
                if value != obj.get("inference_data"):
                    extra["label_data"] = value
            else:
                extra[key] = value
        if extra:
            attrs["aquarium_extra"] = extra
        return attrs

    # -- categories -----------------------------------------------------------------------
    def category(self, label: str, class_id: Any) -> int | None:
        if class_id is None:
            class_id = self.classes.get(label)
        return self.cats.resolve(name=label, id=class_id)

    def _category_column(self, keys: list[Any], v1: bool) -> np.ndarray:
        """Canonical ids (-1 = unmapped) for labels (or (label, class_id) pairs).

        ``resolve`` gives the same answer for the same key for the whole run, so each
        distinct key is resolved once per file, not once per box.
        """
        lut = self._lut
        fresh: set[Any] = set()
        try:
            ids = list(map(lut.__getitem__, keys))
        except KeyError:
            for key in dict.fromkeys(keys):
                if key not in lut:
                    label: Any
                    class_id: Any
                    label, class_id = key if v1 else (key, None)
                    if type(label) is not str or not label or label == spec.MASK_LABEL:
                        raise ValueError(f"not a class name: {label!r}")
                    if v1:
                        self.v1_names.setdefault(class_id, label)
                    cid = self.category(label, class_id)  # counts one row when unmapped
                    lut[key] = -1 if cid is None else cid
                    fresh.add(key)
            ids = list(map(lut.__getitem__, keys))
        arr = np.array(ids, dtype=np.int64)
        if (arr < 0).any():
            for key, n in Counter(k for k, i in zip(keys, ids) if i < 0).items():
                n -= key in fresh
                if n:
                    self.cats.unmapped[str(key[0] if v1 else key)] += n
        return arr

    def pixel_category(self, value: int, gen: str) -> tuple[int | None, str | None]:
        """Category of a semantic-mask pixel value, or ``(None, reason)`` when it cannot be named."""
        name = self.class_names.get(value)
        if name is None:
            name = self.v1_names.get(value)
        if name is None and gen != "v1" and self.cats.class_map is None and not self.classes:
            return None, ("pixel values of a 0.0.x semantic mask are class ids of the project's class "
                          "map, which the file does not carry (give classes=PATH)")
        return self.cats.resolve(name=name, id=value), None

    # -- the fast path: a frame of plain boxes ----------------------------------------------
    def fast_boxes(self, rows: list[Any], gen: str, task_id: str) -> Any:
        """Columns for a frame whose every entry is a ``BBOX_2D`` with default entry fields and
        exactly top/left/width/height/confidence; ``None`` sends the frame down the general path.

        Columns are pulled with ``itemgetter`` (C loops) and checked as sets, so no Python
        code runs per box beyond the small ``{"uuid": ...}`` attributes dict.
        """
        n = len(rows)
        try:
            if set(map(len, rows)) != {_FAST_ROW_LEN[gen]}:
                return None  # an extra or a missing key
            # One C-level pass pulls the fields, zip(*) turns the rows into columns.
            cols = list(zip(*map(_FAST_GET[gen], rows)))
            uuids, labels, types, sensors = cols[0], cols[1], cols[2], cols[3]
            attrs = cols[-1]
            if set(types) != {spec.BBOX} or set(sensors) != {spec.DEFAULT_SENSOR}:
                return None
            class_ids = None
            if gen != "oldest" and (set(cols[4]) != {"ADD"} or set(map(type, cols[5])) != {bool} or any(cols[5])):
                return None
            if gen == "v1":
                class_ids = cols[6]
                if set(map(type, class_ids)) != {int} or min(class_ids) < _INT64_MIN or max(class_ids) > _INT64_MAX:
                    return None
            elif any(cols[-2]):  # linked_labels
                return None
            if set(map(len, attrs)) != {5}:
                return None
            boxes5 = list(map(_get_box5, attrs))
            if not set(map(type, chain.from_iterable(boxes5))) <= {float, int}:
                return None  # a bool among numbers would become 0.0/1.0: the general path rejects it
            values = np.array(boxes5)
        except (KeyError, TypeError):
            return None
        if values.dtype.kind not in "fi" or values.shape != (n, 5):
            return None
        values = values.astype(np.float64, copy=False)
        if (values[:, 2:4] < 0).any():
            return None
        if set(map(type, uuids)) != {str} or "" in uuids:
            return None
        return self._box_detections(uuids=uuids, labels=labels, class_ids=class_ids, values=values,
                                    task_id=task_id)

    def typed_boxes(self, entries: list[Any], gen: str, task_id: str) -> Any:
        """:meth:`fast_boxes` for entries decoded by :mod:`.fast`, whose decoder has checked
        the keys and types already; ``None`` (a negative size, an empty uuid, a label that is
        not a class name) sends the frame down the general path. Same columns, same checks
        in the same order."""
        n = len(entries)
        # C-level passes: one attrgetter per entry, the tuples flattened into fromiter
        # (half the time of fromiter with a (5,) sub-array dtype or np.array of tuples).
        values = np.fromiter(chain.from_iterable(map(_get_box5_attr, map(_get_attrs_attr, entries))),
                             dtype=np.float64, count=5 * n).reshape(n, 5)
        if (values[:, 2:4] < 0).any():
            return None
        uuids = tuple(map(_get_uuid_attr, entries))
        if "" in uuids:
            return None
        return self._box_detections(
            uuids=uuids,
            labels=tuple(map(_get_label_attr, entries)),
            class_ids=tuple(map(_get_class_id_attr, entries)) if gen == "v1" else None,
            values=values,
            task_id=task_id,
        )

    def _box_detections(self, *, uuids: tuple[str, ...], labels: Any, class_ids: Any, values: np.ndarray,
                        task_id: str) -> Any:
        """Detections of checked box columns: ``values`` is (n, 5) float64 left, top, width,
        height, confidence; ``class_ids`` only for 1.0.x rows."""
        n = len(uuids)
        # A uuid <frame>_inf_<position> is not stored: the writer regenerates it. When no
        # uuid even contains that prefix (one C-level search), no per-box comparison is needed.
        attributes: list[dict[str, str] | None] | None
        if self.keep_uuids or task_id + "_inf_" not in "\n".join(uuids):
            attributes = [{"uuid": u} for u in uuids]
        else:
            expected = self.position_uuids(task_id, n)
            if uuids == expected:
                attributes = None
            else:
                attributes = [None if u == e else {"uuid": u} for u, e in zip(uuids, expected)]
        keys = labels if class_ids is None else list(zip(labels, class_ids))
        try:
            cid = self._category_column(keys, v1=class_ids is not None)
        except (TypeError, ValueError):
            return None  # a label that is not a class name: the general path says where
        dets = predport.Detections(cid, values[:, 4], values[:, :4], attributes=attributes)
        if (cid < 0).any():
            dets = dets.take(cid >= 0)
        return dets

    def position_uuids(self, task_id: str, n: int) -> tuple[str, ...]:
        """``<task_id>_inf_<i>`` for i < n: uuids equal to these are not stored (``keep_uuids`` off)."""
        if self.keep_uuids:
            return ()
        if len(self._suffixes) < n:
            self._suffixes = [str(i) for i in range(max(n, 2 * len(self._suffixes)))]
        return tuple(map((task_id + "_inf_").__add__, self._suffixes[:n]))

    # -- the general path -------------------------------------------------------------------
    def general(self, rows: list[Any], gen: str, task_id: str, fattrs: dict[str, Any], err: Any) -> Any:
        cols = _Columns()
        kept: list[dict[str, Any]] = []  # unresolved mask rows
        partial: list[dict[str, Any]] = []
        groups: dict[str, _Group] = {}
        for i, row in enumerate(rows):
            if isinstance(row, dict) and isinstance(row.get("label_type"), str) \
                    and row["label_type"] in spec.INSTANCE_MASK_TYPES:
                uuid = row.get("uuid")
                if isinstance(uuid, str) and isinstance(row.get("attributes"), dict):
                    groups[uuid] = _Group(i, row)
            if gen == "v1" and isinstance(row, dict):
                cid, label = row.get("class_id"), row.get("label")
                if type(cid) is int and isinstance(label, str) and label != spec.MASK_LABEL:
                    self.v1_names.setdefault(cid, label)
        expected = self.position_uuids(task_id, len(rows))
        for i, row in enumerate(rows):
            try:
                self.entry(row, i, gen, cols, kept, groups, err, expected[i] if expected else None)
            except predport.ParseError as exc:
                if isinstance(row, dict) and row.get("change") == "MODIFY":
                    # 0.0.x `_update_*` entries carry only the changed fields: not a prediction.
                    partial.append({"index": i, "row": row})
                    self.context.report.count("aquarium partial MODIFY entries kept in attributes.partial_rows")
                    continue
                self.context.problem(exc)
        for group in groups.values():
            if group.resolved == 0:
                reason = group.reason or "none of its INSTANCE_LABEL_2D entries has pixels in it"
                kept.append({"index": group.index, "reason": reason, "row": group.row})
        if kept:
            kept.sort(key=itemgetter("index"))
            fattrs["unresolved_masks"] = kept
            self.context.report.count("aquarium mask rows unresolved (kept in attributes.unresolved_masks)",
                                      len(kept))
            for item in kept:
                where = f" (relative URLs are read from {self.base})" if "not found" in item["reason"] else ""
                self.warn(f"frame {task_id!r}: mask row {item['row'].get('uuid')!r} unresolved: {item['reason']}{where}")
        if partial:
            fattrs["partial_rows"] = partial
        return cols.build()

    def warn(self, message: str) -> None:
        self.warnings += 1
        if self.warnings <= self.MAX_WARNINGS:
            self.context.report.warn(message)
        elif self.warnings == self.MAX_WARNINGS + 1:
            self.context.report.warn("more unresolved masks: see the count in the summary")

    def entry(self, row: Any, i: int, gen: str, cols: _Columns, kept: list[dict[str, Any]],
              groups: dict[str, _Group], err: Any, position_uuid: str | None = None) -> None:
        path: list[Any] = ["inference_data", i]
        if not isinstance(row, dict):
            raise err("an inference entry must be a JSON object", path)
        uuid = row.get("uuid")
        if not isinstance(uuid, str) or not uuid:
            raise err("uuid (the label id) must be a non-empty string", path + ["uuid"], "uuid")
        lt = row.get("label_type")
        if lt not in spec.LABEL_TYPES:
            raise err(f"unknown label_type {lt!r}", path + ["label_type"], "label_type")
        a = row.get("attributes")
        if not isinstance(a, dict):
            raise err("attributes must be an object", path + ["attributes"], "attributes")
        sensor = row.get("label_coordinate_frame", spec.DEFAULT_SENSOR)
        if not isinstance(sensor, str) or not sensor:
            raise err("label_coordinate_frame must be a string", path + ["label_coordinate_frame"],
                      "label_coordinate_frame")
        apath = path + ["attributes"]
        base = _entry_fields(row, "")
        if lt in spec.SEMANTIC_TYPES or lt in spec.INSTANCE_MASK_TYPES:
            if lt in spec.SEMANTIC_TYPES:
                self.semantic(row, i, lt, a, sensor, base, gen, cols, kept)
            return  # instance mask rows are handled with their entries
        label = row.get("label")
        if not isinstance(label, str) or not label:
            raise err("label (the class name) must be a non-empty string", path + ["label"], "label")
        class_id = row.get("class_id")
        if class_id is not None and type(class_id) is not int:
            raise err("class_id must be an integer or null", path + ["class_id"], "class_id")
        if class_id is not None and not _INT64_MIN <= class_id <= _INT64_MAX:
            raise err(f"class_id {class_id} does not fit in 64 bits", path + ["class_id"], "class_id")
        if gen == "v1" and class_id is None:
            base["class_id"] = None  # 1.0.x writes the class id of every labelled entry
        if sensor != spec.DEFAULT_SENSOR and lt != spec.CUBOID:
            base["sensor_id"] = sensor
        if lt == spec.INSTANCE:
            self.instance(row, i, a, base, label, class_id, groups, cols, kept, err)
            return
        score = _confidence(a, apath, err)
        geo: dict[str, Any] = {}
        consumed: set[str] = {"confidence"}
        if lt == spec.BBOX:
            top, left, width, height = _numbers(a, _BOX_FIELDS, apath, err)
            _non_negative(width=width, height=height, path=apath, err=err)
            geo["box"] = (left, top, width, height)
            consumed.update(_BOX_FIELDS)
        elif lt == spec.LINE:
            _numbers(a, ("x1", "y1", "x2", "y2"), apath, err)  # kept as attributes: no line type in canonical
        elif lt == spec.KEYPOINTS:
            self.keypoints(a, apath, err, geo, consumed, base)
        elif lt == spec.POLYGONS:
            rings = _rings(a.get("polygons"), apath + ["polygons"], err)
            if rings:
                geo["polygon"] = rings
                consumed.add("polygons")
            if a.get("center", 0) is None:
                consumed.add("center")  # the writer restores center: null
        elif lt == spec.CUBOID:
            v = _numbers(a, _CUBOID_FIELDS, apath, err)
            _non_negative(dim_x=v[3], dim_y=v[4], dim_z=v[5], path=apath, err=err)
            geo["box3d"] = {"position": list(v[0:3]), "dimensions": list(v[3:6]), "rotation": list(v[6:10]),
                            "coordinate_frame": sensor}
            consumed.update(_CUBOID_FIELDS)
        elif lt == spec.TEXT_TOKEN:
            for key in ("index", "token"):
                if key not in a:
                    raise err(f"TEXT_TOKEN without {key!r}", apath + [key], key)
        attrs = base
        if uuid == position_uuid:
            del attrs["uuid"]  # <frame>_inf_<position>: regenerated by the writer
        if derived_type(box="box" in geo, polygon="polygon" in geo, mask=False, keypoints="keypoints" in geo,
                        box3d="box3d" in geo) != lt:
            attrs["label_type"] = lt
        for key, value in a.items():
            if key not in consumed:
                attrs[key] = value
        cid = self.category(label, class_id)
        if cid is None:
            return  # unmapped by the user's class map: counted by the category table
        cols.add(cid, score, attrs, **geo)

    def keypoints(self, a: dict[str, Any], apath: list[Any], err: Any, geo: dict[str, Any],
                  consumed: set[str], base: dict[str, Any]) -> None:
        kps = a.get("keypoints")
        if not isinstance(kps, list):
            raise err("KEYPOINTS_2D needs a keypoints list", apath + ["keypoints"], "keypoints")
        points: list[Any] = []
        names: list[Any] = []
        for j, kp in enumerate(kps):
            if not isinstance(kp, dict):
                raise err("a keypoint is an object {x, y, name}", apath + ["keypoints", j])
            for key in ("x", "y"):
                if not _is_num(kp.get(key)):
                    raise err(f"keypoint {key} must be a number", apath + ["keypoints", j, key], key)
            if not kp.keys() <= {"x", "y", "name"}:
                points = []  # unknown keypoint fields: keep the list as given
                break
            points.append([kp["x"], kp["y"], None])
            names.append(kp.get("name"))
        if points:
            vis = a.get(spec.KEYPOINT_V_KEY)
            if isinstance(vis, list) and len(vis) == len(points) and all(v is None or _is_num(v) for v in vis):
                for p, v in zip(points, vis):
                    p[2] = v
                consumed.add(spec.KEYPOINT_V_KEY)
            geo["keypoints"] = points
            base["keypoint_names"] = names
            consumed.add("keypoints")
        if all(_is_num(a.get(k)) for k in _BOX_FIELDS) and a["width"] >= 0 and a["height"] >= 0:
            geo["box"] = (a["left"], a["top"], a["width"], a["height"])
            consumed.update(_BOX_FIELDS)

    # -- masks ----------------------------------------------------------------------------
    def _load(self, lt: str, a: dict[str, Any], size: tuple[int, int] | None) -> tuple[Any, str]:
        if not self.resolve_masks:
            return None, "mask resolution is off (resolve_masks=false)"
        if lt in (spec.SEM_ASSET, spec.INST_ASSET):
            return None, (f"asset {a.get('asset_uuid')!r}: the PNG bytes are in the client's separate Arrow "
                          "label-assets file, which is not read")
        from .masks import locate, read_png

        path, reason = locate(a.get("url"), self.base)
        if path is None:
            return None, reason
        return read_png(path, size=size, resize_mode=a.get("resize_mode"))

    def semantic(self, row: dict[str, Any], i: int, lt: str, a: dict[str, Any], sensor: str,
                 base: dict[str, Any], gen: str, cols: _Columns, kept: list[dict[str, Any]]) -> None:
        arr, reason = self._load(lt, a, self._size)
        preds = []
        if arr is not None:
            from .masks import encode, present_values

            values = present_values(arr)
            cids = []
            for v in values:
                cid, why = self.pixel_category(v, gen)
                if why is not None:
                    arr, reason = None, why
                    break
                cids.append(cid)
            if arr is not None:
                keep = [(v, c) for v, c in zip(values, cids) if c is not None]
                preds = list(zip([c for _, c in keep], encode(arr, [v for v, _ in keep])))
                if not preds:
                    reason = "no pixel value of the mask maps to a class"
        if not preds:
            kept.append({"index": i, "reason": reason, "row": row})
            return
        attrs = base
        attrs["label_type"] = lt
        if sensor != spec.DEFAULT_SENSOR:
            attrs["sensor_id"] = sensor
        for key, value in a.items():
            if not (key == "resize_mode" and value is None):
                attrs[key] = value
        for cid, (rle, box) in preds:
            # A semantic mask has no confidence: score null, never an invented 1.0.
            cols.add(cid, None, dict(attrs), mask=rle, box=box)

    def instance(self, row: dict[str, Any], i: int, a: dict[str, Any], base: dict[str, Any], label: str,
                 class_id: Any, groups: dict[str, _Group], cols: _Columns, kept: list[dict[str, Any]],
                 err: Any) -> None:
        apath = ["inference_data", i, "attributes"]
        inst = a.get("id")
        if type(inst) is not int or inst < 0:
            raise err("instance id must be a non-negative integer", apath + ["id"], "id")
        uuid = base["uuid"]
        suffix = f"_{inst}"
        mask_uuid = uuid[: -len(suffix)] if uuid.endswith(suffix) else None
        group = None if mask_uuid is None else groups.get(mask_uuid)
        if group is None:
            reason = (f"no instance mask row {mask_uuid!r} in this frame" if mask_uuid is not None
                      else f"uuid {uuid!r} does not end in _{inst} (<mask uuid>_<instance id>)")
            kept.append({"index": i, "reason": reason, "row": row})
            return
        if group.reason is None:
            garr, why = self._load(group.row["label_type"], group.row["attributes"], self._size)
            group.array, group.reason = garr, (why or "")
        if group.array is None:
            kept.append({"index": i, "reason": group.reason, "row": row})
            return
        if not (group.array == inst).any():
            # Never an empty mask: an instance without pixels stays a row, not a prediction.
            kept.append({"index": i, "reason": f"instance id {inst} has no pixels in the mask", "row": row})
            return
        cid = self.category(label, class_id)
        if cid is None:
            return
        from .masks import encode

        rle, box = encode(group.array, [inst])[0]
        attrs = base
        attrs["label_type"] = spec.INSTANCE
        attrs["instance_id"] = inst
        for key, value in a.items():
            if key != "id" and not (key == "resize_mode" and value is None):
                attrs[key] = value
        mrow = group.row
        ma = mrow.get("attributes") or {}
        attrs["mask_uuid"] = mrow["uuid"]
        attrs["mask_label_type"] = mrow["label_type"]
        attrs["mask_url"] = ma.get("url")
        if ma.get("resize_mode") != a.get("resize_mode"):
            attrs["mask_resize_mode"] = ma.get("resize_mode")
        msensor = mrow.get("label_coordinate_frame", spec.DEFAULT_SENSOR)
        if msensor != spec.DEFAULT_SENSOR:
            attrs["mask_sensor_id"] = msensor
        mextra = _entry_fields(mrow, "mask_")
        mextra.pop("mask_uuid", None)
        attrs.update(mextra)
        other = {k: v for k, v in ma.items() if k not in ("url", "resize_mode")}
        if other:
            attrs["mask_attributes_extra"] = other
        group.resolved += 1
        cols.add(cid, None, attrs, mask=rle, box=box)


def _entry_fields(row: dict[str, Any], prefix: str) -> dict[str, Any]:
    """The entry's uuid and its entry-level fields that differ from the client's defaults."""
    out: dict[str, Any] = {prefix + "uuid": row.get("uuid")}
    linked = row.get("linked_labels")
    if linked:
        out[prefix + "linked_labels"] = linked
    reuse = row.get("reuse_latest_embedding")
    if reuse is not None and reuse is not False:
        out[prefix + "reuse_latest_embedding"] = reuse
    change = row.get("change")
    if change is not None and change != "ADD":
        out[prefix + "change"] = change
    unknown = {k: v for k, v in row.items() if k not in spec.KNOWN_ROW_KEYS}
    if unknown:
        out[prefix + "row_extra"] = unknown
    return out


def _confidence(a: dict[str, Any], apath: list[Any], err: Any) -> float | None:
    c = a.get("confidence")
    if c is None:
        return None
    if not _is_num(c):
        raise err(f"confidence must be a number, not {c!r}", apath + ["confidence"], "confidence")
    return float(c)


def _numbers(a: dict[str, Any], keys: tuple[str, ...], apath: list[Any], err: Any) -> tuple[Any, ...]:
    out = []
    for key in keys:
        v = a.get(key)
        if not _is_num(v):
            what = "missing" if key not in a else f"{v!r} is not a number"
            raise err(f"{key}: {what}", apath + [key], key)
        out.append(v)
    return tuple(out)


def _non_negative(*, path: list[Any], err: Any, **values: float) -> None:
    for key, v in values.items():
        if v < 0:
            raise err(f"{key} must be >= 0, got {v}", path + [key], key)


def _rings(polys: Any, ppath: list[Any], err: Any) -> list[list[float]] | None:
    """Flat rings of an Aquarium polygon list; ``None`` when one has fewer than 3 vertices or
    extra keys (then the list is kept as given in the attributes)."""
    if not isinstance(polys, list):
        raise err("POLYGON_LIST_2D needs a polygons list", ppath, "polygons")
    rings = []
    convertible = bool(polys)
    for j, poly in enumerate(polys):
        if not isinstance(poly, dict) or not isinstance(poly.get("vertices"), list):
            raise err("a polygon is an object {vertices: [[x, y], ...]}", ppath + [j], "vertices")
        ring: list[float] = []
        for k, vertex in enumerate(poly["vertices"]):
            if not (isinstance(vertex, list) and len(vertex) == 2 and _is_num(vertex[0]) and _is_num(vertex[1])):
                raise err("a vertex is [x, y] in pixels", ppath + [j, "vertices", k], "vertices")
            ring += vertex
        if len(ring) < 6 or len(poly) != 1:
            convertible = False
        rings.append(ring)
    return rings if convertible else None


def frames(records: Iterator[Record], context: Any) -> Iterator[Any]:
    """Canonical frames of the records of one file."""
    mapper: Mapper | None = None
    for file, line, index, obj in records:
        if mapper is None:
            mapper = Mapper(file, context)
        frame = mapper.frame(obj, line, index)
        if frame is not None:
            yield frame
