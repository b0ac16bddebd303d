"""Reading YOLO label folders: one label file is one record, one record is one frame.

Coordinates in the files are normalised (x by the image width, y by the image
height); canonical frames hold pixels, so every frame with predictions needs its
image's size: from the user (``images=``/``image_sizes=``), from ``sizes.json``
(written by predport-yolo), or from the headers of the images found beside
``labels/``. Files are read one at a time: memory does not grow with their number.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

import numpy as np

import predport

from . import lines as L
from .layout import IMAGE_SUFFIXES, Layout, read_names, resolve, strip_image_suffix

FORMAT = "yolo"
_UNKNOWN, _UNMAPPED = -2, -1


class Dataset:
    """What every file of one read shares: the layout, class names, sizes, data ids."""

    def __init__(self, layout: Layout, options: Mapping[str, Any], context: Any) -> None:
        self.layout = layout
        self.task = str(options.get("task", "auto"))
        if self.task not in L.TASKS:
            raise predport.ConfigError(f"unknown task {self.task!r}; choose one of {', '.join(L.TASKS)}",
                                       field="task")
        self.names, self.names_origin = read_names(layout, options)
        folder = getattr(context.sizes, "folder", None)
        self.images: Path | None = Path(folder) if folder is not None else layout.images
        self._image_index: dict[str, str] | None = None
        self._sizes: dict[str, tuple[int, int]] | None = None
        self._ids_by_stem: dict[str, str] = {}
        self._lut = np.full(0, _UNKNOWN, dtype=np.int64)  # class index -> canonical id (-1: unmapped)
        self._declared = False
        self._named: np.ndarray | None = None

    # -- class names -> canonical ids ----------------------------------------------------
    def declare(self, context: Any) -> None:
        """Declare the named classes once (so that unused classes are in the table too)."""
        if self._declared:
            return
        self._declared = True
        for idx, name in sorted((self.names or {}).items()):
            cid = context.categories.declare(idx, name)
            self._grow(idx)
            self._lut[idx] = max(cid, _UNMAPPED)

    def named(self, cls: np.ndarray) -> bool:
        """Whether every class index has a name."""
        if self._named is None:
            self._named = np.zeros(max(self.names or {0: ""}) + 1, dtype=bool)
            self._named[list(self.names or {})] = True
        return bool(cls.max() < len(self._named) and self._named[cls].all())

    def _grow(self, idx: int) -> None:
        if idx >= len(self._lut):
            more = np.full(max(idx + 1, 2 * len(self._lut)) - len(self._lut), _UNKNOWN, dtype=np.int64)
            self._lut = np.concatenate([self._lut, more])

    def category_ids(self, cls: np.ndarray, context: Any) -> np.ndarray:
        """Canonical ids of class indices (vectorised; ``-1``: unmapped by the class map)."""
        if not len(cls):
            return cls
        self._grow(int(cls.max()))
        ids = self._lut[cls]
        if (ids == _UNKNOWN).any():
            for idx in np.unique(cls[ids == _UNKNOWN]).tolist():
                cid = context.categories.resolve(id=idx)  # unnamed classes: the index is the id
                self._lut[idx] = _UNMAPPED if cid is None else cid
            ids = self._lut[cls]
        return ids

    # -- data ids and sizes ------------------------------------------------------------------
    def _load_sizes(self) -> dict[str, tuple[int, int]]:
        if self._sizes is None:  # read once, when the first frame needs it
            self._sizes = {}
            if self.layout.sizes_file is not None:
                sizes = predport.load_mapping_file(self.layout.sizes_file)
                if not isinstance(sizes, dict):
                    raise predport.ConfigError("expected {data_id: [width, height]}", file=str(self.layout.sizes_file))
                for key, value in sizes.items():
                    try:
                        w, h = (int(v) for v in value)
                    except (TypeError, ValueError):
                        raise predport.ConfigError("expected [width, height]", file=str(self.layout.sizes_file),
                                                   json_path=[str(key)]) from None
                    self._sizes[str(key)] = (w, h)
                    self._ids_by_stem.setdefault(strip_image_suffix(str(key)), str(key))
        return self._sizes

    def _index(self) -> dict[str, str]:
        """Images below the image folder, by path without suffix (walked once, names only)."""
        if self._image_index is None:
            index: dict[str, str] = {}
            root = self.images
            if root is not None and root.is_dir():
                skip = self.layout.labels.resolve()
                for dirpath, dirnames, filenames in os.walk(root):
                    dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")
                                         and (Path(dirpath) / d).resolve() != skip)
                    rel_dir = Path(dirpath).relative_to(root).as_posix()
                    for name in sorted(filenames):
                        stem, ext = os.path.splitext(name)
                        if ext.lower() in IMAGE_SUFFIXES:
                            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
                            index.setdefault(rel[: len(rel) - len(ext)], rel)
            self._image_index = index
        return self._image_index

    def data_id(self, stem: str) -> str:
        """The default data id of the label file ``<stem>.txt``: the image's name when known."""
        self._load_sizes()
        if stem in self._ids_by_stem:
            return self._ids_by_stem[stem]
        return self._index().get(stem, stem)

    def size(self, data_id: str, stem: str, context: Any) -> tuple[int, int] | None:
        found = context.image_size(data_id)
        if found:
            return found
        sizes = self._load_sizes()
        if data_id in sizes:
            return sizes[data_id]
        rel = self._index().get(stem)
        if rel is not None and self.images is not None:
            path = self.images / rel
            try:
                return predport.read_image_size(path)
            except (OSError, ValueError) as exc:
                raise predport.ConfigError(f"cannot read the image size: {exc}", file=str(path)) from None
        return None


@dataclass
class LabelFile:
    """One label file's rows, normalised as in the file (the format's own record)."""

    dataset: Dataset
    path: str
    stem: str  # path below the labels folder, without ".txt"
    lines: list[int]  # 1-based line of each row
    cls: np.ndarray  # int64 class indices
    box: np.ndarray | None  # (n, 4) float64 cx, cy, w, h normalised; NaN rows: polygon rows
    score: np.ndarray  # float64, NaN: no score
    polygon: list[list[float] | None] | None  # flat normalised x1 y1 x2 y2 ... per row


def parse(source: Any, options: Mapping[str, Any], context: Any) -> Iterator[LabelFile]:
    layout = resolve(Path(source.path), options)
    dataset = Dataset(layout, options, context)
    for path, stem in layout.label_files():
        record = _read(path, stem, dataset, context)
        if record is not None:
            yield record


def _read(path: str, stem: str, ds: Dataset, context: Any) -> LabelFile | None:
    file = path
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise predport.ParseError(f"cannot read: {exc.strerror}", file=file) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        context.problem(predport.ParseError("not UTF-8 text", file=file, line=raw[: exc.start].count(b"\n") + 1))
        return None
    lines = text.splitlines()
    widths = [len(ln.split()) for ln in lines]
    fast = _fast(text, widths, ds)
    if fast is not None:
        cls, box, score = fast
        return LabelFile(ds, path, stem, [i for i, w in enumerate(widths, start=1) if w], cls, box, score, None)
    rows = [(i, ln.split()) for i, (ln, w) in enumerate(zip(lines, widths), start=1) if w]
    return _slow(rows, path, stem, ds, context)


def _fast(text: str, widths: list[int], ds: Dataset) -> tuple[Any, Any, Any] | None:
    """Columns for the common file: only box lines of one width, every value valid. Else ``None``."""
    n = max(widths, default=0)
    if n == 0:
        return np.zeros(0, dtype=np.int64), None, np.zeros(0)
    if L.kind_of(n, ds.task) not in (L.BOX, L.BOX_SCORE) or any(w not in (0, n) for w in widths):
        return None
    try:
        arr = np.array(text.split(), dtype=np.float64).reshape(-1, n)
    except ValueError:
        return None
    cls, coords = arr[:, 0], arr[:, 1:5]
    cls_i = cls.astype(np.int64)
    # Few whole-array checks (NaN fails every comparison): anything odd goes to the slow
    # path, which names the bad value, line and field.
    if not (coords.min() >= -L.EPS and coords.max() <= 1 + L.EPS and cls.min() >= 0
            and (cls_i == cls).all() and (n == 5 or np.isfinite(arr[:, 5]).all())):
        return None
    if ds.names is not None and not ds.named(cls_i):
        return None
    score = arr[:, 5].copy() if n == 6 else np.full(len(arr), np.nan)
    return cls_i, coords.copy(), score


def _slow(rows: list[tuple[int, list[str]]], path: str, stem: str, ds: Dataset, context: Any) -> LabelFile:
    """Row by row, with a located error for each bad value (and the policy applied)."""
    file = path
    clamp = context.policy == "clamp"
    lines: list[int] = []
    cls: list[int] = []
    boxes: list[tuple[float, ...]] = []
    scores: list[float] = []
    polygons: list[list[float] | None] = []
    nan4 = (np.nan,) * 4
    for line, toks in rows:
        try:
            parsed = _row(toks, ds, file=file, line=line, clamp=clamp)
        except predport.PredportError as err:
            context.problem(err)  # fail: raises; skip/clamp: counted and left out
            continue
        if parsed is None:
            continue
        idx, box, poly, score, clamped = parsed
        if clamped:
            context.report.count("yolo: values clamped to [0, 1]")
        lines.append(line)
        cls.append(idx)
        boxes.append(box if box is not None else nan4)
        polygons.append(poly)
        scores.append(np.nan if score is None else score)
    has_box = any(p is None for p in polygons)
    return LabelFile(
        ds, path, stem, lines,
        np.asarray(cls, dtype=np.int64),
        np.asarray(boxes, dtype=np.float64).reshape(-1, 4) if has_box else None,
        np.asarray(scores, dtype=np.float64),
        polygons if any(p is not None for p in polygons) else None,
    )


def _row(toks: list[str], ds: Dataset, *, file: str, line: int, clamp: bool) -> tuple[Any, ...]:
    n = len(toks)
    kind = L.kind_of(n, ds.task)
    if kind is None:
        raise predport.ParseError(f"expected {L.expected(ds.task)}, found {n} values", file=file, line=line)
    idx = L.class_index(toks[0])
    if idx is None:
        raise predport.ParseError(f"class {toks[0]!r} is not a class index (a non-negative integer)",
                                  file=file, line=line, column=1, field="class")
    if ds.names is not None and idx not in ds.names:
        raise predport.ParseError(f"class {idx} is not among the names in {ds.names_origin}",
                                  file=file, line=line, field="class")
    values: list[float] = []
    for i, tok in enumerate(toks[1:], start=1):
        v = L.number(tok)
        if v is None:
            raise predport.ParseError(f"{tok!r} is not a finite number", file=file, line=line,
                                      field=L.field_name(kind, i, n))
        values.append(v)
    score = values.pop() if kind in (L.BOX_SCORE, L.POLYGON_SCORE) else None
    clamped = False
    if kind in (L.BOX, L.BOX_SCORE):
        cx, cy, w, h = values
        if w < 0 or h < 0:
            raise predport.ParseError("negative box size", file=file, line=line, field="width" if w < 0 else "height")
        bad = next((j for j, v in enumerate(values) if not L.in_unit(v)), None)
        if bad is not None:
            if not clamp:
                raise _outside(values[bad], file=file, line=line, field=L.BOX_FIELDS[bad])
            x1, y1 = min(max(cx - w / 2, 0.0), 1.0), min(max(cy - h / 2, 0.0), 1.0)
            x2, y2 = min(max(cx + w / 2, 0.0), 1.0), min(max(cy + h / 2, 0.0), 1.0)
            cx, cy, w, h = (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1
            clamped = True
        return idx, (cx, cy, w, h), None, score, clamped
    bad = next((j for j, v in enumerate(values) if not L.in_unit(v)), None)
    if bad is not None:
        if not clamp:
            raise _outside(values[bad], file=file, line=line, field=L.field_name(kind, bad + 1, n))
        values = [min(max(v, 0.0), 1.0) for v in values]
        clamped = True
    return idx, None, values, score, clamped


def _outside(value: float, *, file: str, line: int, field: str) -> predport.ParseError:
    return predport.ParseError(
        f"{value!r} is outside [0, 1]: YOLO coordinates are normalised by the image size",
        file=file, line=line, field=field,
        hint="pixel coordinates are not YOLO; policy='clamp' clamps values that slightly leave the image",
    )


def to_canonical(records: Iterable[LabelFile], context: Any) -> Iterator[Any]:
    for rec in records:
        frame = _frame(rec, context)
        if frame is not None:
            yield frame


def _frame(rec: LabelFile, context: Any) -> Any:
    ds = rec.dataset
    ds.declare(context)
    default = ds.data_id(rec.stem)
    if context.id_lookup is not None:
        data_id, frame_index = context.data_id_for(Path(rec.path), (default, None))
    else:
        data_id, frame_index = default, None
    n = len(rec.cls)
    size = ds.size(data_id, rec.stem, context) if (n or ds.layout.sizes_file or ds.images) else None
    if size is None and data_id != default:
        size = ds.size(default, rec.stem, context)
    if n and size is None:
        context.problem(predport.ConfigError(
            f"no image size for {data_id!r}: YOLO coordinates are normalised, so predport needs each image's "
            "width and height",
            file=rec.path,
            hint="pass images=DIR (--images) with the images, or image_sizes=FILE (--sizes) with "
                 "{name: [width, height]}; an images/ folder beside labels/ is found automatically",
        ))
        return None
    cids = ds.category_ids(rec.cls, context)
    keep = cids >= 0
    for i in np.flatnonzero(~keep).tolist():
        context.problem(predport.ParseError(f"class {int(rec.cls[i])} is not in the class map", file=rec.path,
                                            line=rec.lines[i], field="class"))
    width, height = size if size is not None else (None, None)
    box = polygon = None
    if rec.box is not None:
        # Centre and size, normalised -> top-left corner and size, pixels.
        box = rec.box * np.array([width, height, width, height], dtype=np.float64)
        box[:, :2] -= box[:, 2:] / 2
    if rec.polygon is not None:
        scale = None
        polygon = []
        for p in rec.polygon:
            if p is None:
                polygon.append(None)
                continue
            if scale is None or len(scale) != len(p):
                scale = np.tile(np.array([width, height], dtype=np.float64), len(p) // 2)
            polygon.append([(np.asarray(p, dtype=np.float64) * scale).tolist()])  # one ring, pixels
    dets = predport.Detections(category_id=cids, score=rec.score, box=box, polygon=polygon)
    if not keep.all():
        dets = dets.take(keep)
    return predport.Frame(data_id=data_id, frame_index=frame_index, width=width, height=height, predictions=dets)
