"""KITTI files to canonical frames: one frame per label file, streamed.

Per prediction (row):

* ``category_id`` — from ``context.categories.resolve(name=<class as written>)``; with a
  class map (the user's, else the Encord map file) names match case-insensitively;
* ``box`` — ``[left, top, right - left, bottom - top]`` in pixels (KITTI writes corners);
* ``score`` — column 16 exactly as written (any range); ``None`` for 15-field lines;
* ``attributes`` — ``truncated``, ``occluded``, ``alpha``, ``dimensions`` ``[h, w, l]``,
  ``location`` ``[x, y, z]``, ``rotation_y``; a key is absent when the file holds the
  devkit's "unknown" value (-1 for truncated/occluded/dimensions, -10 for alpha/rotation_y,
  -1000 for location); ``extra`` (strings) for fields after the 16th; ``class_name`` (as
  written) when the category is named differently (a class map renamed it or matched it
  with another case).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np

import predport
from predport import ConfigError, ParseError

from .layout import ImageFinder, LabelFile, Layout, find_image_folder, resolve
from .ontology import load_map
from .lines import ATTR_COLUMNS, BATCH_BYTES, BATCH_FILES, UNKNOWN, FileParser, ParsedFile

_DROP = -2  # DontCare, dropped by default
_UNMAPPED = -1  # not in the class map
_BAD = -3  # class name that is not UTF-8

#: The devkit's "unknown" value of each attribute, as it appears in a column list (a triple
#: is unknown only when all three values are).
_UNKNOWN = {key: ([UNKNOWN[key]] * 3 if last > first + 1 else UNKNOWN[key]) for key, first, last in ATTR_COLUMNS}


#: The records ``parse`` yields: one label file (where, which data unit) and its rows.
Record = tuple[LabelFile, ParsedFile]


def parse_source(source: Any, options: Mapping[str, Any], context: Any) -> Iterator[Record]:
    """Resolve the layout and class map now (errors surface at ``load``), then stream files."""
    path = Path(source.path)
    if path.is_file() and path.suffix.lower() not in (".txt", ".csv"):
        raise ParseError("not a KITTI label file (expected .txt)", file=str(path))
    layout = resolve(path, options, context)
    id_mode = options.get("data_id") or "auto"  # declared (hooks.READ_OPTIONS): checked by the hub
    if not layout.kind.startswith("encord"):
        folder = find_image_folder(layout, options, context)
        if folder is not None:
            layout.images = ImageFinder(folder)
        elif id_mode == "image":
            raise ConfigError("data_id='image' needs an image folder (images=...)", field="data_id")
    _install_class_map(layout, options, context)
    return _stream(layout, id_mode, context)


def _install_class_map(layout: Layout, options: Mapping[str, Any], context: Any) -> None:
    """Use the Encord map file as the class map unless the user gave one (the user's wins)."""
    map_file = options.get("ontology_map") or layout.map_file
    if not map_file:
        return
    map_file = Path(map_file)
    if context.class_map is not None:
        context.report.warn(f"{map_file.name} ignored: the class map you gave takes precedence")
        return
    if context.categories.class_map is not None or len(context.categories):
        return  # a table shared with another reader: leave it alone
    seen: list[str] = []
    old_style = layout.kind != "encord-new"
    if old_style:
        seen = _peek_names(layout, context)
    context.use_class_map(load_map(map_file, old_style=old_style, seen_names=seen, context=context))


def _peek_names(layout: Layout, context: Any, files: int = 3) -> list[str]:
    """Class names of the first few label files (to tell the two old map styles apart)."""
    if layout.single is not None:
        paths = [str(layout.single)]
    else:
        paths = []
        for path, rel in layout.walk(recursive=False):  # the old importer does not recurse either
            if rel.lower().endswith((".txt", ".csv")):
                paths.append(path)
                if len(paths) >= files:
                    break
    names: list[str] = []
    for path in paths:
        try:
            with predport.open_regular(path) as fh:
                head = fh.read(64 * 1024)
        except (OSError, predport.PredportError):
            continue
        for line in head.splitlines():
            toks = line.split()
            if toks:
                names.append(toks[0].decode("utf-8", errors="replace"))
    return names


def _read(path: str) -> bytes:
    """The whole file (raw ``os`` calls); a FIFO or device is a ParseError, never a hang."""
    return predport.read_bytes(path)


def _stream(layout: Layout, id_mode: str, context: Any) -> Iterator[Record]:
    """Records in file order. Files are read and parsed in small batches (at most
    ``BATCH_FILES`` files or about ``BATCH_BYTES`` bytes ahead), so memory stays flat while
    numpy is called once per batch rather than once per file."""
    parser = FileParser(context)
    batch: list[LabelFile] = []
    blobs: list[tuple[bytes, str]] = []
    size = 0
    for lf in layout.files(context, id_mode):
        try:
            data = _read(lf.path)
        except predport.PredportError as err:  # unreadable, or not a regular file
            context.problem(err)
            continue
        batch.append(lf)
        blobs.append((data, lf.path))
        size += len(data)
        if len(batch) >= BATCH_FILES or size >= BATCH_BYTES:
            yield from zip(batch, parser.parse_batch(blobs))
            batch, blobs, size = [], [], 0
    if batch:
        yield from zip(batch, parser.parse_batch(blobs))
    layout.report_unmatched(context)


class FrameBuilder:
    """Turns parsed files into :class:`predport.Frame` objects (columns, no per-row objects)."""

    def __init__(self, context: Any) -> None:
        self.context = context
        self.ground_truth = context.ground_truth
        # Unset: ground truth keeps DontCare rows as ignore regions (``ignore: true``), as the
        # devkit uses them; predictions drop them.
        keep = context.option("keep_dontcare")
        self.keep_dontcare = self.ground_truth if keep is None else bool(keep)
        self._dontcare: set[int] = set()
        self._codes: dict[bytes, int] = {}
        self._renamed: dict[bytes, str] = {}
        self._Frame = predport.Frame
        self._Detections = predport.Detections
        self._sizes = context.has_sizes  # a sizes mapping/file or an image folder was given

    # -- categories -------------------------------------------------------------------
    def _learn(self, name: bytes) -> int:
        try:
            text = name.decode("utf-8")
        except UnicodeDecodeError:
            self._codes[name] = _BAD  # each row is reported (and skipped by policy) in _keep
            return _BAD
        if not self.keep_dontcare and text.casefold() == "dontcare":
            code = _DROP
        else:
            cid = self.context.resolve(name=text, rows=0)  # unmapped rows are counted in _keep
            code = _UNMAPPED if cid is None else int(cid)
            if cid is not None and text.casefold() == "dontcare":
                self._dontcare.add(code)
            if cid is not None:
                cat = self.context.categories.get(cid)
                if cat is not None and cat.name != text:
                    self._renamed[name] = text
        self._codes[name] = code
        return code

    def _codes_of(self, names: list[bytes]) -> list[int]:
        codes = self._codes
        try:
            return [codes[n] for n in names]
        except KeyError:
            for n in names:
                if n not in codes:
                    self._learn(n)
            return [codes[n] for n in names]

    def _keep(self, codes: list[int], rows: ParsedFile, file: str) -> Any:
        """Indices of rows to keep: DontCare is dropped (counted); unmapped classes are left out
        and counted per class under every policy (the core's rule); undecodable names fail or
        are skipped by policy."""
        arr = np.array(codes, dtype=np.int64)
        dropped = int(np.count_nonzero(arr == _DROP))
        if dropped:
            self.context.report.count("kitti.dontcare_dropped", dropped)
        for i in np.flatnonzero(arr == _BAD).tolist():
            self.context.problem(
                ParseError("class name is not UTF-8", file=file, line=rows.line_of(i), column=1, field="type")
            )
        for i in np.flatnonzero(arr == _UNMAPPED).tolist():
            self.context.left_out(name=rows.names[i].decode("utf-8", errors="replace"))
        return np.flatnonzero(arr >= 0)

    # -- frames -----------------------------------------------------------------------
    def frame(self, rec: tuple[LabelFile, ParsedFile]) -> Any:
        lf, rows = rec
        size = self._size(lf)
        n = len(rows.names)
        if not n:
            return self._make_frame(lf, size, self._Detections.empty())
        batch = rows.batch
        assert batch is not None  # parse_batch gives every non-empty file its batch
        if batch.codes is None:  # the first file of its batch: map every row's class at once
            batch.codes = np.array(self._codes_of(batch.names), dtype=np.int64)
            batch.negative = bool((batch.codes < 0).any())
        codes = batch.codes[rows.start:rows.start + n]
        box, score, cols, index = rows.box, rows.score, rows.cols, None
        if batch.negative and (codes < 0).any():
            index = self._keep(codes.tolist(), rows, lf.path)
            if not len(index):
                return self._make_frame(lf, size, self._Detections.empty())
            keep = index.tolist()
            codes = codes[index]
            box, score = box[index], score[index]
            cols = [[c[i] for i in keep] for c in cols]
        attrs = self._attributes(cols, rows, index)
        if self.ground_truth and self._dontcare:
            attrs = self._mark_ignored(codes, attrs)
        dets = self._Detections(codes, score, box, attributes=attrs)
        return self._make_frame(lf, size, dets)

    def _mark_ignored(self, codes: Any, attrs: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        """Ground truth: DontCare rows carry ``ignore: true`` (regions the devkit does not count)."""
        rows = [i for i, c in enumerate(codes.tolist()) if c in self._dontcare]
        if not rows:
            return attrs
        out = [{} for _ in range(len(codes))] if attrs is None else attrs
        for i in rows:
            out[i]["ignore"] = True
        return out

    def _make_frame(self, lf: LabelFile, size: tuple[int, int] | None, dets: Any) -> Any:
        # Validated construction (pydantic-core) is faster than model_construct here.
        if size is None:
            return self._Frame(data_id=lf.data_id, frame_index=lf.frame_index, predictions=dets)
        return self._Frame(data_id=lf.data_id, frame_index=lf.frame_index, width=size[0], height=size[1],
                           predictions=dets)

    def _size(self, lf: LabelFile) -> tuple[int, int] | None:
        size = lf.size
        if size is None and lf.image is None and not self._sizes:
            return None
        if size is None and lf.image is not None:
            try:
                size = predport.read_image_size(lf.image)
            except (OSError, ValueError) as exc:
                self.context.report.warn(f"cannot read the size of {lf.image}: {exc}")
        if size is None:
            size = self.context.image_size(lf.data_id)
        if size is not None and (size[0] <= 0 or size[1] <= 0):
            size = None
        return size

    def _attributes(self, cols: list[list[Any]], rows: ParsedFile, index: Any) -> list[dict[str, Any]] | None:
        """Per-row attribute dicts (keys absent for the devkit's "unknown" values), or ``None``.

        The batch already knows which keys are known in every row; that usual case is built
        by one comprehension compiled for the set of keys. Otherwise each row gets the keys
        whose values are known in that row.
        """
        keys = rows.keys
        if not keys:
            out = None
        elif not rows.mixed:
            out = _row_builder(keys)(*cols)
        else:
            n = len(cols[0])
            known = [[v != _UNKNOWN[k] for v in c] for k, c in zip(keys, cols)]
            out = [{k: c[i] for k, c, m in zip(keys, cols, known) if m[i]} for i in range(n)]
            if not any(out):
                out = None
        extra_rows = rows.extras
        renamed = self._renamed
        if extra_rows is None and not renamed:
            return out
        src = range(len(rows)) if index is None else index.tolist()
        if out is None:
            out = [{} for _ in src]
        for j, i in enumerate(src):
            if renamed:
                text = renamed.get(rows.names[i])
                if text is not None:
                    out[j]["class_name"] = text
            if extra_rows is not None and extra_rows[i] is not None:
                out[j]["extra"] = extra_rows[i]
        return out


_BUILDERS: dict[tuple[str, ...], Any] = {}


def _row_builder(keys: tuple[str, ...]) -> Any:
    """A function ``(*columns) -> [ {key: value, ...} per row ]`` for a fixed key set.

    A dict display in a comprehension is about three times faster than ``dict(zip(...))``;
    the keys come from ``ATTR_COLUMNS`` only, so the generated source holds no outside text.
    """
    fn = _BUILDERS.get(keys)
    if fn is None:
        args = [f"c{i}" for i in range(len(keys))]
        items = ", ".join(f"{k!r}: v{i}" for i, k in enumerate(keys))
        loop = ", ".join(f"v{i}" for i in range(len(keys)))
        src = f"lambda {', '.join(args)}: [{{{items}}} for {loop}{',' if len(keys) == 1 else ''} in zip({', '.join(args)})]"
        fn = eval(src, {"zip": zip})  # noqa: S307 - source built from the constant key table above
        _BUILDERS[keys] = fn
    return fn


def frames(records: Iterator[Record], context: Any) -> Iterator[Any]:
    builder = FrameBuilder(context)
    for rec in records:
        yield builder.frame(rec)
