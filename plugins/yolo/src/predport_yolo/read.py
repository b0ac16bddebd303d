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
from .layout import IMAGE_SUFFIXES, Layout, kpt_shape_of, read_kpt_shape, read_names, resolve, strip_image_suffix

FORMAT = "yolo"
_UNKNOWN, _UNMAPPED = -2, -1


def _folder_task(layout: Layout) -> str | None:
    """The task a ``runs/<task>/...`` folder names (the nearest of the last four parts), else ``None``."""
    parts = list(layout.labels.resolve().parts)[-5:]
    for part in reversed(parts):
        if part in L.FOLDER_TASKS:
            return L.FOLDER_TASKS[part]
    return None


class Dataset:
    """What every file of one read shares: the layout, class names, sizes, data ids, the task."""

    def __init__(self, layout: Layout, options: Mapping[str, Any], context: Any) -> None:
        self.layout = layout
        self.task = options.get("task") or "auto"  # declared (hooks.READ_OPTIONS): checked by the hub
        self.names, self.names_origin = read_names(layout, options)
        self.kpt = kpt_shape_of(options.get("kpt_shape"), origin="the kpt_shape option") \
            if options.get("kpt_shape") is not None else read_kpt_shape(layout)
        self.folder_task = _folder_task(layout)
        self.previous: L.Scheme | None = None  # the scheme the last decided file had
        folder = context.image_folder
        self.images: Path | None = Path(folder) if folder is not None else layout.images
        self._image_index: dict[str, str] | None = None
        self._sizes: dict[str, tuple[int, int]] | None = None
        self._ids_by_stem: dict[str, str] = {}
        # Class index -> canonical id (-1: unmapped by the class map). A dict and an IdIndex, not
        # an array indexed by class: memory follows the classes present, never the largest index.
        self._ids: dict[int, int] = {}
        self._class_pos = predport.IdIndex()
        self._cids = np.zeros(0, dtype=np.int64)
        self._declared = False

    def scheme(self, rows: list[list[str]], file: str) -> L.Scheme:
        """How this file's lines read (see :func:`lines.decide`); a refusal names the option."""
        try:
            found = L.decide(rows, task=self.task, kpt=self.kpt, folder_task=self.folder_task,
                             previous=self.previous)
        except L.Ambiguous as exc:
            raise predport.ParseError(str(exc), file=file, field="task") from None
        if found.reason != "box lines":
            self.previous = found
        return found

    # -- class names -> canonical ids ----------------------------------------------------
    def declare(self, context: Any) -> None:
        """Declare the named classes once (so that unused classes are in the table too)."""
        if self._declared:
            return
        self._declared = True
        for idx, name in sorted((self.names or {}).items()):
            self._set(idx, max(context.categories.declare(idx, name), _UNMAPPED))

    def named(self, cls: np.ndarray) -> bool:
        """Whether every class index has a name."""
        names = self.names or {}
        return all(int(c) in names for c in np.unique(cls).tolist())

    def _set(self, idx: int, cid: int) -> None:
        self._ids[idx] = cid
        pos = self._class_pos.add(idx)
        if pos >= len(self._cids):
            self._cids = np.concatenate([self._cids, np.full(max(8, len(self._cids)), _UNKNOWN, dtype=np.int64)])
        self._cids[pos] = cid

    def category_ids(self, cls: np.ndarray, context: Any) -> np.ndarray:
        """Canonical ids of class indices (vectorised; ``-1``: unmapped by the class map)."""
        if not len(cls):
            return cls
        for idx in np.unique(cls).tolist():
            if idx not in self._ids:
                cid = context.resolve(id=idx, rows=0)  # unnamed: the index is the id; rows counted in _frame
                self._set(idx, _UNMAPPED if cid is None else cid)
        return self._cids[self._class_pos.positions(cls)]

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
    keypoints: list[np.ndarray | None] | None = None  # per row (K, 3) normalised x, y and v (NaN: no v)
    track: np.ndarray | None = None  # float64 track ids, NaN: none


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
        raw = predport.read_bytes(path, file=file)  # a FIFO or device is refused, not waited on
    except predport.PredportError as err:
        context.problem(err)
        return None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        context.problem(predport.ParseError("not UTF-8 text", file=file, line=raw[: exc.start].count(b"\n") + 1))
        return None
    lines = text.splitlines()
    rows = [(i, toks) for i, toks in enumerate((ln.split() for ln in lines), start=1) if toks]
    if not rows:
        return LabelFile(ds, path, stem, [], np.zeros(0, dtype=np.int64), None, np.zeros(0), None)
    try:
        scheme = ds.scheme([t for _, t in rows], file)
    except predport.PredportError as err:
        context.problem(err)  # fail: raises; skip: the file is left out and counted
        return None
    fast = _fast(text, {len(t) for _, t in rows}, scheme, ds)
    if fast is not None:
        cls, box, score, track = fast
        return LabelFile(ds, path, stem, [i for i, _ in rows], cls, box, score, None, track=track)
    return _slow(rows, path, stem, ds, scheme, context)


def _fast(text: str, widths: set[int], scheme: L.Scheme, ds: Dataset) -> tuple[Any, Any, Any, Any] | None:
    """Columns for the common file: only box lines of one width, every value valid. Else ``None``."""
    if len(widths) != 1:
        return None
    (n,) = widths
    if scheme.kind_of(n) not in L.BOX_KINDS:
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
    if n == 7 and not (arr[:, 6] >= 0).all() or n == 7 and not (arr[:, 6] == np.floor(arr[:, 6])).all():
        return None
    if ds.names is not None and not ds.named(cls_i):
        return None
    score = arr[:, 5].copy() if n >= 6 else np.full(len(arr), np.nan)
    track = arr[:, 6].copy() if n == 7 else None
    return cls_i, coords.copy(), score, track


def _slow(rows: list[tuple[int, list[str]]], path: str, stem: str, ds: Dataset, scheme: L.Scheme,
          context: Any) -> LabelFile:
    """Row by row, with a located error for each bad value (and the policy applied)."""
    file = path
    lines: list[int] = []
    cls: list[int] = []
    boxes: list[tuple[float, ...]] = []
    scores: list[float] = []
    tracks: list[float] = []
    polygons: list[list[float] | None] = []
    kpts: list[Any] = []
    nan4 = (np.nan,) * 4
    for line, toks in rows:
        try:
            parsed = _row(toks, ds, scheme, file=file, line=line, context=context)
        except predport.PredportError as err:
            context.problem(err)  # fail: raises; skip/clamp: counted and left out
            continue
        idx, box, poly, kp, score, track = parsed
        lines.append(line)
        cls.append(idx)
        boxes.append(box if box is not None else nan4)
        polygons.append(poly)
        kpts.append(kp)
        scores.append(np.nan if score is None else score)
        tracks.append(np.nan if track is None else track)
    has_box = any(p is None for p in polygons)
    keypoints = kpts if any(k is not None for k in kpts) else None
    return LabelFile(
        ds, path, stem, lines,
        np.asarray(cls, dtype=np.int64),
        np.asarray(boxes, dtype=np.float64).reshape(-1, 4) if has_box else None,
        np.asarray(scores, dtype=np.float64),
        polygons if any(p is not None for p in polygons) else None,
        keypoints=keypoints,
        track=np.asarray(tracks, dtype=np.float64) if any(t == t for t in tracks) else None,
    )


def _row(toks: list[str], ds: Dataset, scheme: L.Scheme, *, file: str, line: int, context: Any) -> tuple[Any, ...]:
    n = len(toks)
    kind = scheme.kind_of(n)
    if kind is None:
        raise predport.ParseError(f"expected {scheme.expected()}, found {n} values"
                                  + (f" (this file reads as {scheme.task}: {scheme.reason})" if scheme.reason else ""),
                                  file=file, line=line,
                                  hint="-o task=detect|segment|obb|pose (and -o kpt_shape=K,D) says how lines read")
    idx = L.class_index(toks[0])
    if idx is None:
        raise predport.ParseError(f"class {toks[0]!r} is not a class index (a non-negative integer)",
                                  file=file, line=line, column=1, field="class")
    if ds.names is not None and idx not in ds.names:
        raise predport.ParseError(f"class {idx} is not among the names in {ds.names_origin}",
                                  file=file, line=line, field="class")
    track = None
    if kind in L.TRACKED:
        track_tok = toks[-1]
        if not track_tok.isdigit():
            raise predport.ParseError(f"track id {track_tok!r} is not a non-negative integer", file=file, line=line,
                                      field="track_id")
        track = float(int(track_tok))
        toks = toks[:-1]
    values: list[float] = []
    for i, tok in enumerate(toks[1:], start=1):
        v = L.number(tok)
        if v is None:
            raise predport.ParseError(f"{tok!r} is not a finite number", file=file, line=line,
                                      field=L.field_name(kind, i, n, scheme.kpt))
        values.append(v)
    score = values.pop() if kind in L.SCORED else None
    kp = None
    if kind in L.POSE_KINDS:
        k, d = scheme.kpt  # type: ignore[misc]
        pts = np.asarray(values[4:], dtype=np.float64).reshape(k, d)
        for j in range(k):
            for a in range(2):
                if not L.in_unit(float(pts[j, a])):
                    raise _outside(float(pts[j, a]), file=file, line=line,
                                   field=L.field_name(kind, 5 + j * d + a, n, scheme.kpt))
        kp = np.column_stack([pts[:, :2], pts[:, 2] if d == 3 else np.full(k, np.nan)])
        values = values[:4]
    if kind in L.BOX_KINDS or kind in L.POSE_KINDS:
        cx, cy, w, h = values
        if w < 0 or h < 0:
            raise predport.ParseError("negative box size", file=file, line=line, field="width" if w < 0 else "height")
        bad = next((j for j, v in enumerate(values) if not L.in_unit(v)), None)
        if bad is not None:  # clamp: kept, and the core clamps the box to the image; else a bad record
            context.outside_image(_outside(values[bad], file=file, line=line, field=L.BOX_FIELDS[bad]))
        return idx, (cx, cy, w, h), None, kp, score, track
    bad = next((j for j, v in enumerate(values) if not L.in_unit(v)), None)
    if bad is not None:  # clamp: kept, and the core clamps the polygon to the image; else a bad record
        context.outside_image(_outside(values[bad], file=file, line=line, field=L.field_name(kind, bad + 1, n)))
    return idx, None, values, None, score, track


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
    names = ds.names or {}
    for i in np.flatnonzero(~keep).tolist():  # unmapped: left out and counted per class (the core's rule)
        idx = int(rec.cls[i])
        context.left_out(name=names.get(idx), id=idx)
    width, height = size if size is not None else (None, None)
    box = None
    polygon: list[Any] | None = None
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
    keypoints = attributes = None
    if rec.keypoints is not None:
        scale = np.array([width, height, 1.0])
        keypoints = [None if row is None else [[x, y, None if v != v else v] for x, y, v in (row * scale).tolist()]
                     for row in rec.keypoints]
    if rec.track is not None:
        attributes = [None if t != t else {"track_id": int(t)} for t in rec.track.tolist()]
    dets = predport.Detections(category_id=cids, score=rec.score, box=box, polygon=polygon, keypoints=keypoints,
                               attributes=attributes)
    if not keep.all():
        dets = dets.take(keep)
    return predport.Frame(data_id=data_id, frame_index=frame_index, width=width, height=height, predictions=dets)
