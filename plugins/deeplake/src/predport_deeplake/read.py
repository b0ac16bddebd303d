"""Read a Deep Lake 4.x dataset's rows as canonical frames, column by column.

Predictions come from a column group (``model_evaluation`` by default, option
``group``), ground truth (``context.role == "ground_truth"``) from the top-level
columns. Rows are read in blocks of :data:`BLOCK` so memory stays flat.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Iterator

import predport

from . import layout
from . import masks as mask_mod

BLOCK = 4096


def _err(message: str, path: Path, field: str | None = None, hint: str | None = None) -> predport.ParseError:
    return predport.ParseError(message, file=str(path), field=field, hint=hint)


def open_dataset(path: Any, branch: str | None = None, creds: dict[str, Any] | None = None) -> tuple[Any, Any]:
    """``(root, view)``: the dataset at ``path`` (a folder or an s3:// URL with Deep Lake ``creds``)
    read-only, and the head of ``branch`` (default ``main``). Keep ``root`` referenced while
    ``view`` is used: a branch's dataset expires with it."""
    import deeplake

    try:
        ds = deeplake.open_read_only(str(path), creds=creds) if creds is not None \
            else deeplake.open_read_only(str(path))
    except Exception as exc:  # deeplake raises its own exception types for unreadable datasets
        raise _err(f"cannot open the Deep Lake dataset: {type(exc).__name__}: {exc}", path) from None
    if branch and branch != "main":
        if branch not in ds.branches.names():
            raise _err(f"the dataset has no branch {branch!r} (branches: {', '.join(ds.branches.names())})",
                       path, field="branch")
        return ds, ds.branches[branch].open()
    return ds, ds


def column_kinds(ds: Any) -> dict[str, Any]:
    """Column name -> ``deeplake.types.TypeKind`` (as a lower-case string: ``"boundingbox"``...)."""
    return {c.name: str(c.dtype.kind).rsplit(".", 1)[-1].lower() for c in ds.schema.columns}


def box_coords(ds: Any, name: str, path: Path, context: Any) -> tuple[str, str]:
    """``(format, type)`` of a box column: its ``coords`` metadata, else the options, else refused."""
    meta = ds[name].metadata
    coords = meta["coords"] if "coords" in meta.keys() else None
    mode = kind = None
    if isinstance(coords, dict):
        mode = str(coords.get("mode", "")).lower() or None
        kind = str(coords.get("type", "")).lower() or None
    mode = str(context.option("box_format") or mode or "").lower() or None
    kind = str(context.option("box_type") or kind or "").lower() or None
    if mode is None or kind is None:
        raise _err(
            f"box column {name!r} does not say its format: no metadata['coords'] "
            "(the 4.x type does not report format/bbox_type to Python)", path, field=name,
            hint="name it: -o box_format=ltwh|ltrb|ccwh -o box_type=pixel|fractional")
    if mode not in layout.BOX_FORMATS:
        raise _err(f"box column {name!r} has format {mode!r}; known: {', '.join(layout.BOX_FORMATS)}",
                   path, field=name)
    if kind not in layout.BOX_TYPES:
        raise _err(f"box column {name!r} has type {kind!r}; known: pixel, fractional", path, field=name)
    return mode, kind


def row_sizes(ds: Any, kinds: dict[str, str], image_col: str) -> tuple[Any, Any] | None:
    """Per row ``(widths, heights)`` (0 = unknown): the ``width``/``height`` columns, else the
    image column's shapes (TQL ``shape()``, which reads no pixels), else ``None``."""
    import numpy as np

    n = len(ds)
    if kinds.get(layout.WIDTH) == "generic" and kinds.get(layout.HEIGHT) == "generic":
        if not n:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return (np.asarray(ds[layout.WIDTH][0:n], dtype=np.int64).reshape(-1),
                np.asarray(ds[layout.HEIGHT][0:n], dtype=np.int64).reshape(-1))
    if kinds.get(image_col) == "image":
        if not n:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        shapes = np.asarray(ds.query(f'select shape("{image_col}") as s')["s"][0:n], dtype=np.int64)
        if shapes.shape == (n, 3) or shapes.shape == (n, 2):
            return shapes[:, 1].copy(), shapes[:, 0].copy()
    return None


def _label_table(ds: Any, name: str, context: Any) -> tuple[Any, list[str]] | None:
    """Per label index: the canonical category id (-1 = not in the class map), and the names."""
    import numpy as np

    meta = ds[name].metadata
    keys = meta.keys()
    names = meta["class_names"] if "class_names" in keys else None
    if not isinstance(names, list) or not names:
        return None
    info = meta["category_info"] if "category_info" in keys else None
    if not (isinstance(info, list) and len(info) == len(names)):
        info = [{} for _ in names]
    lut = np.empty(len(names), dtype=np.int64)
    for i, (cname, cat) in enumerate(zip(names, info)):
        cat = cat if isinstance(cat, dict) else {}
        cid = cat.get("id")
        cid = cid if type(cid) is int else i
        ext = cat.get("external_id")
        lut[i] = context.categories.declare(cid, str(cname) or str(cid), ext if isinstance(ext, str) else None,
                                            cat.get("attributes") if isinstance(cat.get("attributes"), dict) else None)
    return lut, [str(n) for n in names]


def read(path: Path, context: Any) -> Iterator[Any]:
    import numpy as np
    import orjson

    Frame, Detections = predport.Frame, predport.Detections
    ground_truth = context.ground_truth
    group = layout.parse_group(context.option("group"), "" if ground_truth else layout.DEFAULT_GROUP)
    pre = layout.prefix(group)
    root, ds = open_dataset(path, context.option("branch"))
    kinds = column_kinds(ds)
    boxes_col = pre + str(context.option("boxes") or layout.BOXES)
    labels_col = pre + str(context.option("labels") or layout.LABELS)
    scores_col = pre + str(context.option("scores") or layout.SCORES)
    poly_col, attr_col = pre + layout.POLYGONS, pre + layout.ATTRIBUTES
    if labels_col not in kinds:
        groups = sorted({n.split("/", 1)[0] for n in kinds if "/" in n})
        where = f"column group {group!r}" if group else "the top-level columns"
        raise _err(f"{where} has no labels column {labels_col!r} (columns: {', '.join(sorted(kinds))})",
                   path, field=labels_col,
                   hint=(f"groups in this dataset: {', '.join(groups)}; choose with -o group=NAME" if groups
                         else "name the column with -o labels=NAME"))
    if kinds[labels_col] not in ("classlabel", "generic"):
        raise _err(f"column {labels_col!r} is a {kinds[labels_col]} column, not class labels", path,
                   field=labels_col)
    has_boxes = boxes_col in kinds
    mode = kind = None
    if has_boxes:
        if kinds[boxes_col] not in ("boundingbox", "generic"):
            raise _err(f"column {boxes_col!r} is a {kinds[boxes_col]} column, not boxes", path, field=boxes_col)
        mode, kind = box_coords(ds, boxes_col, path, context)
    has_scores = scores_col in kinds
    if ground_truth and has_scores:
        context.report.warn(f"ground truth read from {path} has a scores column {scores_col!r}: scores kept")
    has_polys = poly_col in kinds and kinds[poly_col] == "polygon"
    has_attrs = attr_col in kinds and kinds[attr_col] == "text"
    evals = [(c, a) for c, a in layout.EVAL_COLUMNS.items() if pre + c in kinds]
    mask_col = pre + str(context.option("masks") or layout.MASKS)
    has_masks = mask_col in kinds
    if has_masks and kinds[mask_col] != "binarymask":
        raise _err(f"column {mask_col!r} is a {kinds[mask_col]} column, not a BinaryMask", path, field=mask_col,
                   hint="name the instance-mask column with -o masks=NAME")
    flag_col = pre + layout.HAS_MASK
    has_flags = has_masks and kinds.get(flag_col) == "generic"
    others = sorted(n for n, k in kinds.items() if k in ("binarymask", "segmentmask") and n != mask_col
                    and n.startswith(pre) and "/" not in n[len(pre):])
    if others:
        context.report.warn(
            f"{path}: mask column(s) {', '.join(others)} not read: predictions' masks are read from "
            f"{mask_col!r} (a BinaryMask, one plane per label); a SegmentMask is one class map per image, "
            "not per prediction (choose another BinaryMask with -o masks=NAME)")
    table = _label_table(ds, labels_col, context)

    id_opt = context.option("id_column")
    id_col = str(id_opt) if id_opt else (layout.ID_COLUMN if layout.ID_COLUMN in kinds else None)
    if id_col is not None and id_col not in kinds:
        raise _err(f"no data-id column {id_col!r} (columns: {', '.join(sorted(kinds))})", path, field="id_column")
    if id_col is not None and kinds[id_col] != "text":
        raise _err(f"data-id column {id_col!r} is a {kinds[id_col]} column, not text", path, field=id_col)
    n_rows = len(ds)
    if id_col is None:
        context.report.warn(f"{path} has no data-id column ({layout.ID_COLUMN!r}): frames are named by row "
                            f"index 0..{max(n_rows - 1, 0)}; name one with -o id_column=NAME")
    sizes = row_sizes(ds, kinds, str(context.option("images") or layout.IMAGES))
    unmapped = context.categories.unmapped

    block = mask_mod.BLOCK if has_masks else BLOCK  # mask rows are pixels: smaller blocks
    for start in range(0, n_rows, block):
        stop = min(start + block, n_rows)
        ids = ds[id_col][start:stop] if id_col else [str(i) for i in range(start, stop)]
        labels = ds[labels_col][start:stop]
        boxes = ds[boxes_col][start:stop] if has_boxes else None
        scores = ds[scores_col][start:stop] if has_scores else None
        polys = ds[poly_col][start:stop] if has_polys else None
        attrs = ds[attr_col][start:stop] if has_attrs else None
        mask_rows = ds[mask_col][start:stop] if has_masks else None
        flag_rows = ds[flag_col][start:stop] if has_flags else None
        ev = {c: ds[pre + c][start:stop] for c, _ in evals}
        for j in range(stop - start):
            row = start + j
            data_id = str(ids[j])
            if not data_id:
                context.problem(_err(f"row {row} has an empty data id", path, field=id_col))
                continue
            lab = np.asarray(labels[j]).reshape(-1).astype(np.int64, copy=False)
            n = lab.shape[0]
            if table is not None:
                lut, names = table
                if n and (lab.min() < 0 or lab.max() >= len(lut)):
                    context.problem(_err(f"row {row}: label index {int(lab.max())} is not in class_names "
                                         f"({len(lut)} classes)", path, field=labels_col))
                    continue
                cid = lut[lab]
            else:
                cid = context.categories.resolve_ids(lab) if n else lab
            width = height = None
            if sizes is not None and sizes[0][row] > 0 and sizes[1][row] > 0:
                width, height = int(sizes[0][row]), int(sizes[1][row])
            elif (size := context.image_size(data_id)) is not None:
                width, height = size
            box = None
            if boxes is not None:
                raw = np.asarray(boxes[j], dtype=np.float64)
                if raw.size != 4 * n:
                    context.problem(_err(f"row {row}: {raw.size // 4 if raw.size % 4 == 0 else raw.size} boxes "
                                         f"for {n} labels", path, field=boxes_col))
                    continue
                assert mode is not None  # set with the box column
                box = layout.to_xywh(raw, mode)
                if kind == "fractional" and n:
                    if width is None or height is None:
                        context.problem(predport.ConfigError(
                            f"row {row} ({data_id!r}): fractional boxes need the image size", file=str(path),
                            field=boxes_col, hint="give --images or --sizes, or an image column (-o images=NAME)"))
                        continue
                    box *= np.array([width, height, width, height], dtype=np.float64)
                if n and np.isnan(box).all():
                    box = None
            score = None
            if scores is not None:
                score = np.asarray(scores[j], dtype=np.float64).reshape(-1)
                if score.shape[0] != n:
                    context.problem(_err(f"row {row}: {score.shape[0]} scores for {n} labels", path,
                                         field=scores_col))
                    continue
            polygon = None
            if polys is not None:
                rows = polys[j]
                if len(rows) != n:
                    context.problem(_err(f"row {row}: {len(rows)} polygons for {n} labels", path, field=poly_col))
                    continue
                polygon = [[np.asarray(p, dtype=np.float64).reshape(-1).tolist()] if len(p) else None for p in rows]
            mask = None
            if mask_rows is not None:
                planes = np.asarray(mask_rows[j])
                count = planes.shape[2] if planes.ndim == 3 else 0
                if count and count != n:
                    context.problem(_err(f"row {row}: {count} mask planes for {n} labels", path, field=mask_col))
                    continue
                if count:
                    mask = mask_mod.encode(planes)
                    if flag_rows is not None:
                        flags = np.asarray(flag_rows[j], dtype=bool).reshape(-1)
                        if flags.shape[0] != n:
                            context.problem(_err(f"row {row}: {flags.shape[0]} has_mask flags for {n} labels",
                                                 path, field=flag_col))
                            continue
                        mask = [m if f else None for m, f in zip(mask, flags.tolist())]  # type: ignore[misc]
            frame_attrs: dict[str, Any] = {}
            pred_attrs = None
            if attrs is not None and attrs[j]:
                try:
                    doc = orjson.loads(attrs[j])
                except orjson.JSONDecodeError as exc:
                    context.problem(_err(f"row {row}: attributes are not JSON: {exc}", path, field=attr_col))
                    continue
                if not isinstance(doc, dict):
                    context.problem(_err(f"row {row}: attributes must be a JSON object", path, field=attr_col))
                    continue
                if isinstance(doc.get("frame"), dict):
                    frame_attrs.update(doc["frame"])
                pa = doc.get("predictions")
                if isinstance(pa, list) and len(pa) == n:
                    pred_attrs = [a if isinstance(a, dict) else {} for a in pa]
            for c, attr in evals:
                value = ev[c][j]
                if c in layout.EVAL_FLOAT:
                    value = float(value)
                    if not math.isnan(value):
                        frame_attrs[attr] = value
                elif int(value) >= 0:
                    frame_attrs[attr] = int(value)
            keep = cid >= 0
            if not keep.all():
                if table is not None:
                    for name_index in lab[~keep].tolist():
                        unmapped[table[1][name_index]] += 1
                cid = cid[keep]
                box = box[keep] if box is not None else None
                score = score[keep] if score is not None else None
                polygon = [p for p, k in zip(polygon, keep.tolist()) if k] if polygon is not None else None
                mask = [m for m, k in zip(mask, keep.tolist()) if k] if mask is not None else None
                pred_attrs = [a for a, k in zip(pred_attrs, keep.tolist()) if k] if pred_attrs is not None else None
            yield Frame.model_construct(
                data_id=data_id, frame_index=None, width=width, height=height,
                predictions=Detections(cid, score, box, polygon=polygon, mask=mask, attributes=pred_attrs),
                attributes=frame_attrs,
            )
