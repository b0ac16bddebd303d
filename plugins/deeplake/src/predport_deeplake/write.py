"""Write canonical frames into a Deep Lake 4.x dataset: a new one, or an existing one on a branch.

All-or-nothing: every frame is read, checked and turned into columns first. A new
dataset is created in the output's staging folder (``target.stage_folder()``) and
committed there, then moved into place by the hub like any staged output. An
existing dataset is changed only in the step registered with ``target.on_commit``,
which runs after the loss check passed: it creates the branch when missing, adds the
group's columns and commits **once**; an interrupted step leaves the branch at its
previous commit (Deep Lake shows only committed versions) and ``main`` untouched.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import predport

from . import layout

SCHEMA_ID = "urn:predport:schema:deeplake:columns:1"


class _Columns:
    """The prediction columns of every frame, in frame order, built while the stream is read."""

    def __init__(self) -> None:
        self.data_ids: list[str] = []
        self.widths: list[int] = []
        self.heights: list[int] = []
        self.cids: list[Any] = []
        self.scores: list[Any] = []
        self.boxes: list[Any] = []
        self.polygons: list[list[Any]] | None = None
        #: Per frame, its predictions' masks (RLE dicts / None) or None (no mask in the frame).
        self.masks: list[list[Any] | None] | None = None
        self.attrs: list[str] | None = None
        #: Evaluation column -> {frame position: value}, only for frames that carry one.
        self.evals: dict[str, dict[int, Any]] = {c: {} for c in layout.EVAL_COLUMNS}
        self.any_size = False

    @property
    def any_attrs(self) -> bool:
        return self.attrs is not None

    @property
    def any_eval(self) -> set[str]:
        return {c for c, v in self.evals.items() if v}


def _collect(stream: Any, context: Any) -> _Columns:
    """One pass over the frames; per frame only list appends (the columns are checked and
    converted in bulk afterwards), so the writer keeps pace with Deep Lake's batched append."""
    import numpy as np
    import orjson

    cols = _Columns()
    empty_box = np.zeros((0, 4))
    eval_attrs = {a: c for c, a in layout.EVAL_COLUMNS.items()}
    evals = cols.evals
    lost_rings = lost_precision = lost_masked = 0
    data_ids, widths, heights = cols.data_ids, cols.widths, cols.heights
    cids, scores, boxes = cols.cids, cols.scores, cols.boxes
    for pos, frame in enumerate(stream.frames):
        dets = frame.predictions
        data_ids.append(frame.data_id)
        w, h = frame.width, frame.height
        if w is not None and h is not None:
            widths.append(w)
            heights.append(h)
        else:
            widths.append(0)
            heights.append(0)
        cid = dets.category_id
        cids.append(cid)
        scores.append(dets.score)
        box = dets.box
        if box is None:
            n = cid.shape[0]
            box = np.full((n, 4), np.nan) if n else empty_box
        boxes.append(box)
        fattrs = frame.attributes
        other: dict[str, Any] | None = None
        if fattrs:
            other = {}
            for key, value in fattrs.items():
                col = eval_attrs.get(key)
                if col is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
                    evals[col][pos] = value
                else:
                    other[key] = value
        if dets.polygon is not None:
            if cols.polygons is None:
                cols.polygons = [[np.zeros((0, 2), dtype=np.float32)] * len(c) for c in cids[:-1]]
            row = []
            pmasks = dets.mask
            for k, poly in enumerate(dets.polygon):
                if poly is None:
                    row.append(np.zeros((0, 2), dtype=np.float32))
                    continue
                if len(poly) > 1:
                    if pmasks is not None and pmasks[k] is not None:
                        # The mask holds the whole shape (holes too): no truncated polygon next to it.
                        lost_masked += 1
                        row.append(np.zeros((0, 2), dtype=np.float32))
                        continue
                    lost_rings += 1
                ring = np.asarray(poly[0], dtype=np.float64).reshape(-1, 2)
                as32 = ring.astype(np.float32)
                if not np.array_equal(as32.astype(np.float64), ring):
                    lost_precision += 1
                row.append(as32)
            cols.polygons.append(row)
        elif cols.polygons is not None:
            cols.polygons.append([np.zeros((0, 2), dtype=np.float32)] * cid.shape[0])
        if dets.mask is not None:
            if cols.masks is None:
                cols.masks = [None] * pos
            cols.masks.append(dets.mask)
        elif cols.masks is not None:
            cols.masks.append(None)
        pattrs = dets.attributes
        if other or pattrs is not None:
            if cols.attrs is None:
                cols.attrs = [""] * pos
            doc: dict[str, Any] = {"frame": other or {}}
            if pattrs is not None:
                doc["predictions"] = [a or {} for a in pattrs]
            try:
                cols.attrs.append(orjson.dumps(doc).decode())
            except TypeError as exc:
                raise predport.OutputError(f"frame {frame.data_id!r}: attributes are not JSON: {exc}") from None
        elif cols.attrs is not None:
            cols.attrs.append("")
    cols.any_size = any(widths) or any(heights)
    if lost_rings:
        context.report.loss("predictions.polygon (rings after the first)", lost_rings)
    if lost_masked:
        context.report.loss("predictions.polygon (more than one ring; the prediction's mask is written)", lost_masked)
    if lost_precision:
        context.report.loss("predictions.polygon (points not exact in float32)", lost_precision)
    return cols


def _categories(stream: Any, cols: _Columns) -> tuple[list[int], list[dict[str, Any]]]:
    """Canonical ids in label order, and the ``category_info`` metadata (id, name, ...)."""
    ids = sorted({c.id for c in stream.categories} | set(_all_ids(cols)))
    info = []
    for cid in ids:
        cat = stream.categories.get(cid)
        entry: dict[str, Any] = {"id": cid, "name": cat.name if cat is not None else str(cid)}
        if cat is not None and cat.external_id is not None:
            entry["external_id"] = cat.external_id
        if cat is not None and cat.attributes:
            entry["attributes"] = cat.attributes
        info.append(entry)
    return ids, info


def _all_ids(cols: _Columns) -> list[int]:
    import numpy as np

    if not cols.cids:
        return []
    flat = np.concatenate(cols.cids)
    if not flat.size:
        return []
    lo, hi = int(flat.min()), int(flat.max())
    if hi - lo <= 4 * flat.size + 1024:  # the usual case: a dense range, counted instead of sorted
        return (np.flatnonzero(np.bincount(flat - lo, minlength=hi - lo + 1)) + lo).tolist()
    return np.unique(flat).tolist()


def _label_rows(cols: _Columns, ids: list[int]) -> list[Any]:
    """Per frame, the uint32 label indices (positions of the category ids in ``ids``)."""
    import numpy as np

    if not ids:  # no category at all: every frame is empty
        return [c.astype(np.uint32) for c in cols.cids]
    lo, hi = ids[0], ids[-1]
    if hi - lo <= 1 << 20:  # a lookup table over the id range: one gather per frame
        lut = np.zeros(hi - lo + 1, dtype=np.uint32)
        lut[np.asarray(ids, dtype=np.int64) - lo] = np.arange(len(ids), dtype=np.uint32)
        if lo == 0 and len(ids) == hi + 1 and hi < 1 << 31:
            return cols.cids  # ids 0..k-1 are their own indices (Deep Lake stores them as uint32)
        return [lut[c - lo] if lo else lut[c] for c in cols.cids]
    sorted_ids = np.asarray(ids, dtype=np.int64)
    return [np.searchsorted(sorted_ids, c).astype(np.uint32) for c in cols.cids]


def _check_boxes(cols: _Columns, target: Any) -> None:
    """Every box finite with w, h >= 0 (or a NaN row: no box). Checked in blocks of frames that
    stay in cache; the first bad box is named with its frame."""
    import numpy as np

    boxes = cols.boxes
    for start in range(0, len(boxes), 256):
        flat = np.concatenate(boxes[start:start + 256])
        if not flat.size or (np.isfinite(flat).all() and flat[:, 2:].min() >= 0):
            continue
        ok = np.isnan(flat).all(axis=1) | (np.isfinite(flat).all(axis=1) & (flat[:, 2] >= 0) & (flat[:, 3] >= 0))
        if ok.all():
            continue
        bad = int(np.flatnonzero(~ok)[0])
        counts = np.cumsum([len(b) for b in boxes[start:start + 256]])
        frame = start + int(np.searchsorted(counts, bad, side="right"))
        raise predport.OutputError(f"frame {cols.data_ids[frame]!r}: box {flat[bad].tolist()} is not "
                                   "[x, y, w, h] with finite values and w, h >= 0", file=str(target))


def _eval_values(cols: _Columns, name: str) -> list[Any]:
    """Per frame, the evaluation value (NaN / -1 where the frame carries none)."""
    values = cols.evals[name]
    if name in layout.EVAL_FLOAT:
        return [float(values[i]) if i in values else float("nan") for i in range(len(cols.data_ids))]
    return [int(values[i]) if i in values else -1 for i in range(len(cols.data_ids))]


def _group_columns(cols: _Columns, labels: list[Any], info: list[dict[str, Any]],
                   order: list[int] | None, n_rows: int) -> list[tuple[str, Any, list[Any], dict[str, Any]]]:
    """``(name, type, values, metadata)`` per group column; ``order`` maps frames to rows."""
    import deeplake
    import numpy as np

    T = deeplake.types

    def rows(values: list[Any], empty: Any) -> list[Any]:
        if order is None:
            return values
        out = [empty] * n_rows
        for frame, row in enumerate(order):
            out[row] = values[frame]
        return out

    no_u32, no_f64, no_box = np.zeros(0, np.uint32), np.zeros(0), np.zeros((0, 4))
    names = [c["name"] for c in info]
    out: list[tuple[str, Any, list[Any], dict[str, Any]]] = [
        (layout.BOXES, T.BoundingBox("float64", format="ltwh", bbox_type="pixel"), rows(cols.boxes, no_box),
         {"coords": dict(layout.COORDS)}),
        (layout.LABELS, T.ClassLabel(T.Array("uint32", dimensions=1)), rows(labels, no_u32),
         {"class_names": names, "category_info": info}),
        (layout.SCORES, T.Array("float64", dimensions=1), rows(cols.scores, no_f64), {}),
    ]
    if cols.polygons is not None:
        out.append((layout.POLYGONS, T.Polygon(), rows(cols.polygons, []), {}))
    if cols.masks is not None:
        out.extend(_mask_columns(cols, cols.masks, rows))
    if cols.any_attrs:
        assert cols.attrs is not None  # any_attrs says there is a column
        out.append((layout.ATTRIBUTES, T.Text(), rows(cols.attrs, ""), {}))
    for name in layout.EVAL_COLUMNS:
        if name in cols.any_eval:
            kind = T.Float64() if name in layout.EVAL_FLOAT else T.Int64()
            out.append((name, kind, rows(_eval_values(cols, name), float("nan") if name in layout.EVAL_FLOAT
                                         else -1), {}))
    return out


def _mask_columns(cols: _Columns, frames: list[Any], rows: Any) -> list[tuple[str, Any, Any, dict[str, Any]]]:
    """The ``masks`` column (and ``has_mask`` when some frame mixes predictions with and without a
    mask), in row order. Every frame's masks are checked for one shared size here, before anything
    is written; pixels are decoded only while the column is written, a block of rows at a time."""
    import deeplake
    import numpy as np

    from . import masks as mask_mod

    T = deeplake.types
    sizes: list[tuple[int, int]] = []
    flags: list[Any] = []
    mixed = False
    for i, row in enumerate(frames):
        if row is None:
            h, w = cols.heights[i], cols.widths[i]
            sizes.append((h, w))
            flags.append(np.zeros(len(cols.cids[i]), dtype=bool))
            continue
        sizes.append(mask_mod.frame_size(cols.data_ids[i], row))
        flag = np.array([m is not None for m in row], dtype=bool)
        mixed = mixed or not flag.all()
        flags.append(flag)
    planes = mask_mod.MaskRows(rows(frames, None), rows(sizes, (0, 0)), [len(c) for c in cols.cids])
    out: list[tuple[str, Any, Any, dict[str, Any]]] = [
        (layout.MASKS, T.BinaryMask(sample_compression="lz4"), planes, {})]
    if mixed:
        out.append((layout.HAS_MASK, T.Array("bool", dimensions=1), rows(flags, np.zeros(0, dtype=bool)), {}))
    return out


def _fill(ds: Any, name: str, values: Any, where: str) -> None:
    """Set a column on every row: lists at once, masks a block of rows at a time."""
    from .masks import MaskRows

    if isinstance(values, MaskRows):
        for start, block in values.blocks(where):
            ds[name][start:start + len(block)] = block
    elif len(values):
        ds[name][0:len(values)] = values


def _validate(target: Any, group: str, columns: list[tuple[str, Any, list[Any], dict[str, Any]]]) -> None:
    """The column metadata against the plugin's schema (the values were checked as columns)."""
    target.validate(SCHEMA_ID, {"group": group, "columns": {name: meta for name, _t, _v, meta in columns}})


def _add(ds: Any, pre: str, columns: list[tuple[str, Any, list[Any], dict[str, Any]]]) -> None:
    for name, kind, _values, meta in columns:
        ds.add_column(pre + name, kind)
        for key, value in meta.items():
            ds[pre + name].metadata[key] = value


def _lazy(column: tuple[str, Any, Any, dict[str, Any]]) -> bool:
    from .masks import MaskRows

    return isinstance(column[2], MaskRows)


def _commit_version(ds: Any, message: str) -> None:
    """The one commit that makes a write visible (a separate function: the kill test stops here)."""
    ds.commit(message)


def is_dataset(path: Path) -> bool:
    from .hooks import detect_format

    if not path.is_dir():
        return False
    vote = detect_format(predport.Source(path))
    return vote is not None and vote.confidence >= predport.Confidence.HIGH


def write(stream: Any, target: Any, context: Any) -> dict[str, Any]:
    remote = target.remote()
    cred: dict[str, Any] | None = None
    at: str | None = None  # Deep Lake's URL of a remote output (gs:// -> gcs://, az:// names the account)
    if remote is not None:  # s3://, gs://, az://: Deep Lake writes the store itself (see remote.py)
        from . import remote as remote_mod

        at, cred = remote_mod.locate(*remote)
        dest: Any = target.in_place()
    else:
        dest = Path(target.dest)
    group = layout.parse_group(context.option("group"), layout.DEFAULT_GROUP)
    pre = layout.prefix(group)
    branch = context.option("branch")
    branch = str(branch) if branch else None
    id_opt = context.option("id_column")
    message = str(context.option("message") or f"predport: {stream.source.format if stream.source else 'canonical'}"
                  f" {'predictions' if group else 'labels'} into {group or 'top-level columns'}")
    eval_only = context.option("columns") == "eval"  # declared (hooks.WRITE_OPTIONS): all or eval
    existing = is_dataset(dest) if remote is None else remote_mod.state(remote[0], remote[1], cred or {}, at) == "dataset"
    if eval_only and not existing:
        raise predport.OutputError("columns=eval adds evaluation columns to an existing dataset; "
                                   "this output is not one", file=str(dest))
    if existing and branch is None:
        raise predport.OutputError(
            "the output is an existing Deep Lake dataset: it is written on a branch", file=str(dest),
            hint="pass -w branch=NAME (created from main when missing; branch=main adds a commit on main)")
    if existing:
        # Before the stream is read: a wrong id column or group is found at once.
        assert branch is not None  # refused above without one
        plan = _InPlace(dest, branch, pre, id_opt, target, context, eval_only, cred, at)
    cols = _collect(stream, context)
    ids, info = _categories(stream, cols)
    labels = _label_rows(cols, ids)
    _check_boxes(cols, dest)
    if existing:
        return plan.prepare(cols, labels, info, message, group)
    columns = _group_columns(cols, labels, info, None, len(cols.data_ids))
    _validate(target, group, columns)
    summary = _create(target, cols, columns, pre, branch, message, id_opt)
    folder = summary.pop("folder")
    if remote is not None:  # built and committed locally, copied up (its log last) at commit
        target.on_commit(lambda: remote_mod.publish(folder, *remote))
    return summary


def _create(target: Any, cols: _Columns, columns: list[Any], pre: str, branch: str | None, message: str,
            id_opt: Any) -> dict[str, Any]:
    import deeplake

    T = deeplake.types
    folder = target.stage_folder()
    ds = deeplake.create(str(folder))
    id_col = str(id_opt or layout.ID_COLUMN)
    top: dict[str, Any] = {id_col: cols.data_ids}
    ds.add_column(id_col, T.Text())
    if cols.any_size:
        ds.add_column(layout.WIDTH, T.UInt32())
        ds.add_column(layout.HEIGHT, T.UInt32())
        top[layout.WIDTH] = cols.widths
        top[layout.HEIGHT] = cols.heights
    if branch and branch != "main":
        # The playbook's layout: the data on main, the model's predictions on their branch.
        ds.append(top)
        _commit_version(ds, "predport: data ids")
        ds.branch(branch)
        root, ds = ds, ds.branches[branch].open()  # the root stays referenced: the branch expires with it
        _add(ds, pre, columns)
        for name, _kind, values, _meta in columns:
            _fill(ds, pre + name, values, str(target.dest))
    else:
        # Mask columns join after the rows exist (Deep Lake's append needs every column's values;
        # masks are decoded a block at a time, so they are set by row ranges afterwards).
        plain = [c for c in columns if not _lazy(c)]
        _add(ds, pre, plain)
        top.update({pre + name: values for name, _kind, values, _meta in plain})
        ds.append(top)
        lazy = [c for c in columns if _lazy(c)]
        _add(ds, pre, lazy)
        for name, _kind, values, _meta in lazy:
            _fill(ds, pre + name, values, str(target.dest))
    _commit_version(ds, message)
    return {"rows": len(cols.data_ids), "branch": branch or "main", "columns": len(columns) + len(top),
            "folder": folder}


class _InPlace:
    """A write onto a branch of an existing dataset: rows aligned by data id, one commit."""

    def __init__(self, dest: Any, branch: str, pre: str, id_opt: Any, target: Any, context: Any,
                 eval_only: bool = False, cred: dict[str, Any] | None = None, at: str | None = None) -> None:
        from . import read as reader_mod

        self.dest, self.branch, self.pre, self.target, self.context = dest, branch, pre, target, context
        self.eval_only, self.cred = eval_only, cred
        root = target.in_place()  # the folder, or the remote URL (Deep Lake's form of it: ``at``)
        root = at or root
        self.path = root
        ds, view = reader_mod.open_dataset(root, creds=cred)
        self.branch_exists = branch in ds.branches.names()
        if self.branch_exists and branch != "main":
            view = ds.branches[branch].open()
        kinds = reader_mod.column_kinds(view)
        id_col = str(id_opt) if id_opt else (layout.ID_COLUMN if layout.ID_COLUMN in kinds else None)
        if id_col is not None and kinds.get(id_col) != "text":
            raise predport.OutputError(f"the dataset has no text data-id column {id_col!r}", file=str(dest),
                                       field="id_column", hint="name it with -w id_column=NAME")
        self.n_rows = len(view)
        self.id_col = id_col
        self.sizes = reader_mod.row_sizes(view, kinds, layout.IMAGES)
        self.row_of: dict[str, int] = {}
        self.dupes: set[str] = set()
        if id_col is None:
            self.row_of = {str(i): i for i in range(self.n_rows)}
        else:
            for i, value in enumerate(view[id_col][0:self.n_rows] if self.n_rows else []):
                if self.row_of.setdefault(str(value), i) != i:
                    self.dupes.add(str(value))
        own = frozenset(layout.EVAL_COLUMNS) if eval_only else _OWN_COLUMNS
        if eval_only and pre + layout.LABELS not in kinds:
            raise predport.OutputError(f"columns=eval: branch {branch!r} has no predictions in group "
                                       f"{pre.rstrip('/') or '(top level)'!r} to attach evaluation columns to",
                                       file=str(dest), hint="write the predictions first, or name -w group=NAME")
        self.taken = sorted(n for n in kinds if n.startswith(pre) and n[len(pre):] in own)
        if self.taken and not target.overwrite:
            raise predport.OutputError(
                f"branch {branch!r} already has the columns {', '.join(self.taken)}", file=str(dest),
                hint="pass --overwrite to replace them in a new commit, or write another -w group=NAME")

    def prepare(self, cols: _Columns, labels: list[Any], info: list[dict[str, Any]], message: str,
                group: str) -> dict[str, Any]:
        missing = [d for d in cols.data_ids if d not in self.row_of]
        if missing:
            how = f"data-id column {self.id_col!r}" if self.id_col else "row index (the dataset has no data-id column)"
            raise predport.OutputError(
                f"{len(missing)} frame(s) have no row in the dataset (matched by {how}): "
                + ", ".join(repr(m) for m in missing[:10]) + (" ..." if len(missing) > 10 else ""),
                file=str(self.dest), hint="rows are matched by data id; add the rows first, or choose -w id_column")
        order = [self.row_of[d] for d in cols.data_ids]
        self._check_sizes(cols, order)
        ambiguous = sorted({d for d in cols.data_ids if d in self.dupes})
        if ambiguous:
            raise predport.OutputError(f"data ids name more than one row: {', '.join(map(repr, ambiguous[:10]))}",
                                       file=str(self.dest))
        if len(set(order)) != len(order):
            counts: dict[int, int] = {}
            for r in order:
                counts[r] = counts.get(r, 0) + 1
            twice = sorted({d for d, r in zip(cols.data_ids, order) if counts[r] > 1})
            raise predport.OutputError(f"two frames for the same row: {', '.join(map(repr, twice[:10]))}",
                                       file=str(self.dest))
        columns = _group_columns(cols, labels, info, order, self.n_rows)
        _validate(self.target, group, columns)
        if self.eval_only:
            columns = [c for c in columns if c[0] in layout.EVAL_COLUMNS]
            if not columns:
                raise predport.OutputError("columns=eval: no frame carries eval.* attributes "
                                           "(run predport evaluate and attach its results)", file=str(self.dest))
        self.target.on_commit(lambda: self._commit(columns, message))
        return {"rows": len(order), "dataset_rows": self.n_rows, "branch": self.branch,
                "columns": len(columns), "matched_by": self.id_col or "row index"}

    def _check_sizes(self, cols: _Columns, order: list[int]) -> None:
        """Frame sizes stay with the dataset's own rows (images, width/height): report any that differ."""
        if not cols.any_size:
            return
        differ = unknown = 0
        for frame, row in enumerate(order):
            w, h = cols.widths[frame], cols.heights[frame]
            if not w:
                continue
            if self.sizes is None or not self.sizes[0][row]:
                unknown += 1
            elif (self.sizes[0][row], self.sizes[1][row]) != (w, h):
                differ += 1
        if differ:
            self.context.report.loss("frames.width/height (differ from the dataset's image size)", differ)
        if unknown:
            self.context.report.loss("frames.width/height (the dataset's rows have no size)", unknown)

    def _commit(self, columns: list[Any], message: str) -> None:
        import deeplake

        root = ds = deeplake.open(str(self.path), creds=self.cred) if self.cred is not None \
            else deeplake.open(str(self.path))
        if self.branch != "main":
            if self.branch not in root.branches.names():
                root.branch(self.branch)
            ds = root.branches[self.branch].open()
        if len(ds) != self.n_rows:
            raise predport.OutputError(f"the dataset changed while writing ({len(ds)} rows, was {self.n_rows})",
                                       file=str(self.dest))
        for name in self.taken:
            ds.remove_column(name)
        _add(ds, self.pre, columns)
        for name, _kind, values, _meta in columns:
            if self.n_rows:
                _fill(ds, self.pre + name, values, str(self.dest))
        _commit_version(ds, message)


_OWN_COLUMNS = frozenset({layout.BOXES, layout.LABELS, layout.SCORES, layout.POLYGONS, layout.ATTRIBUTES,
                          layout.MASKS, layout.HAS_MASK,
                          *layout.EVAL_COLUMNS})
