"""Writing canonical frames as a YOLO folder.

Output (a folder)::

    labels/<data id without its image suffix>.txt   one line per prediction, normalised
    data.yaml                                      names: {index: name}   (or classes.txt)
    sizes.json                                     {data_id: [width, height]}

* Class indices are contiguous and 0-based, as an Ultralytics training run expects
  (option ``classes=contiguous``, the default): the categories known when the first frame
  arrives, by id, then new ones in order of appearance; the names file maps index to name.
  A source whose ids are 0..N-1 already (YOLO, KITTI) keeps them. ``classes=ids`` writes the
  canonical ids as they are (COCO's 1..90 stay 1..90). COCO's 91 ids and Ultralytics' 80
  indices: the built-in class maps ``--class-map coco91-to-coco80`` / ``coco80-to-coco91``
  (see the guide, "Class maps"), written with ``classes=ids`` so that the mapped indices stay.
* A prediction with keypoints and a box is written as a pose line (``class cx cy w h`` + K
  keypoints ``x y v`` or ``x y`` + score), and data.yaml gets ``kpt_shape: [K, D]``; else a
  prediction with a polygon as a polygon line, else one with a box as a box line; a score is
  the last value. A prediction with both a polygon and a box keeps the polygon (option
  ``geometry="box"`` keeps the box instead) and the count is reported.
* A ``track_id`` attribute (an integer) is written after the score of a box or pose line, as
  Ultralytics writes tracked boxes; other attributes have no place (reported as loss).
* Normalising needs each frame's size: the frame's ``width``/``height``, else the
  user's sizes (``images=``/``image_sizes=``). ``sizes.json`` records the sizes used,
  so that the folder reads back to the same pixels without the images.
* Coordinates are written with 12 significant digits (option ``decimals=N``: N fixed
  decimals, as Ultralytics' own files have 6); scores exactly (the shortest text that
  reads back to the same float).
"""
from __future__ import annotations

from typing import Any

import numpy as np

import predport

from . import lines as L

LABELS_SCHEMA = "urn:predport:schema:yolo:labels:1"
NAMES_SCHEMA = "urn:predport:schema:yolo:names:1"
SIZES_SCHEMA = "urn:predport:schema:yolo:sizes:1"


def _bridge(rings: list[list[float]]) -> list[float]:
    """Several rings as one polygon joined by zero-width bridges (what YOLO can hold).

    Each ring is closed back to its first point; the path then returns through the
    first points of the earlier rings (the approach of Ultralytics and labelformat).
    """
    out: list[float] = []
    for ring in rings:
        out += ring + ring[:2]
    for ring in reversed(rings[:-1]):
        out += ring[:2]
    return out


def write(stream: Any, target: Any, context: Any) -> dict[str, Any]:
    # Options declared in hooks.WRITE_OPTIONS: parsed and checked by the hub.
    names_file = context.option("names") or "data.yaml"
    geometry = context.option("geometry") or "auto"
    decimals = context.option("decimals")
    # Coordinates: 12 significant digits (at most 5e-13 of the image size, far below 1e-6 px)
    # keep files readable (0.2, not 0.20000000000000004); scores are written exactly as held.
    coord = "%.12g" if decimals is None else f"%.{decimals}f"
    classes = context.option("classes") or "contiguous"
    index = _ClassIndex(stream.categories, contiguous=classes == "contiguous")
    kpt: list[Any] = []  # [K, D] of the first pose line written
    clamp = context.policy == "clamp"
    stats = {"labels": 0, "lines": 0}
    counts: dict[str, int] = {}

    def count(key: str, n: int = 1) -> None:
        if n:
            counts[key] = counts.get(key, 0) + n

    sizes: dict[str, list[int]] = {}
    names = predport.FrameNames.from_context(context)  # the core's one naming rule (paths, root)
    for frame in stream.frames:
        rel = names.file(frame.data_id, ".txt", frame_index=frame.frame_index, prefix="labels/")
        size = (frame.width, frame.height) if frame.width and frame.height else context.image_size(frame.data_id)
        if size:
            # Keyed by the written name (its image suffix kept), which reading gives back as the data id.
            key = names.path(frame.data_id) if frame.frame_index is None else rel[len("labels/"):-len(".txt")]
            sizes[key] = [int(size[0]), int(size[1])]
        if len(frame.predictions) and not size:
            context.problem(predport.ConfigError(
                f"no image size for {frame.data_id!r}: YOLO coordinates are normalised by the image size",
                file=rel, hint="pass images=DIR (--images) or image_sizes=FILE (--sizes)",
            ))
            continue
        rows = _rows(frame, size, rel=rel, geometry=geometry, clamp=clamp, context=context, count=count,
                     index=index, kpt=kpt)
        target.validate(LABELS_SCHEMA, [_plain(r) for r in rows], relpath=rel)  # before anything is staged
        text = "".join(_line(r, coord) for r in rows)
        target.write_bytes(rel, text.encode("ascii"))
        stats["labels"] += 1
        stats["lines"] += len(rows)
    _write_names(index.names(stream.categories), target, names_file, kpt)
    if sizes:
        target.write_json("sizes.json", sizes, schema=SIZES_SCHEMA)
    for key, n in counts.items():
        context.report.count(f"yolo: {key}", n)
        lost = _LOSSES.get(key)
        if lost:
            # Partial losses join the hub's loss table: refused unless the user allows loss.
            context.report.loss(lost, n)
    return {**stats, **counts, **names.summary("yolo")}


#: Counted cases in which a value the format holds in general is not written.
_LOSSES = {
    "boxes not written (the polygon was)": "predictions.box (beside a polygon)",
    "predictions without a box or polygon (not written)": "predictions (no box or polygon)",
    "polygons with several rings joined into one": "predictions.polygon (rings joined into one)",
    "attributes other than track_id (not written)": "predictions.attributes (keys other than track_id)",
    "track ids of predictions without a score or box line (not written)":
        "predictions.attributes (track_id without a score, or on a polygon)",
    "keypoints without a box (not written)": "predictions.keypoints (without a box)",
    "polygons not written (the pose line was)": "predictions.polygon (beside keypoints)",
    "keypoint visibilities missing, written as 0": "predictions.keypoints (visibility null written as 0)",
    "keypoints of another shape (not written)": "predictions.keypoints (another kpt_shape)",
}


class _ClassIndex:
    """Canonical category id -> YOLO class index: contiguous from 0, or the id itself."""

    def __init__(self, categories: Any, *, contiguous: bool) -> None:
        self.contiguous = contiguous
        self.of: dict[int, int] = {}
        self._categories = categories
        self._started = False

    def _start(self) -> None:
        # The categories known when the first frame arrives (a ground truth's, a names file's),
        # by id: a source whose ids are 0..N-1 keeps them.
        self._started = True
        for c in sorted(self._categories, key=lambda c: c.id):
            if c.id >= 0:
                self.of.setdefault(c.id, len(self.of))

    def indices(self, cids: list[int]) -> list[int]:
        if not self.contiguous:
            return cids
        if not self._started:
            self._start()
        out = []
        for c in cids:
            if c < 0:
                out.append(c)
                continue
            idx = self.of.get(c)
            if idx is None:
                idx = self.of[c] = len(self.of)
            out.append(idx)
        return out

    def names(self, categories: Any) -> dict[int, str]:
        cats = [c for c in categories if c.id >= 0]  # complete now that the frames were read
        if not self.contiguous:
            return {c.id: c.name for c in cats}
        if not self._started:
            self._start()
        for c in sorted(cats, key=lambda c: c.id):
            self.of.setdefault(c.id, len(self.of))
        by_id = {c.id: c.name for c in cats}
        return {idx: by_id.get(cid, str(cid)) for cid, idx in sorted(self.of.items(), key=lambda kv: kv[1])}


def _rows(frame: Any, size: Any, *, rel: str, geometry: str, clamp: bool, context: Any,
          count: Any, index: _ClassIndex, kpt: list[Any]) -> list[list[Any]]:
    """The label rows of one frame: ``[class, normalised values..., score?]``, in prediction order."""
    dets = frame.predictions
    n = len(dets)
    if not n:
        return []
    width, height = float(size[0]), float(size[1])
    polys = dets.polygon if geometry == "auto" else None
    has_poly = np.array([bool(p) for p in polys], dtype=bool) if polys is not None else np.zeros(n, dtype=bool)
    has_box: np.ndarray = ~np.isnan(dets.box[:, 0]) if dets.box is not None else np.zeros(n, dtype=bool)
    count("boxes not written (the polygon was)", int(np.count_nonzero(has_poly & has_box)))
    count("predictions without a box or polygon (not written)", int(np.count_nonzero(~has_poly & ~has_box)))
    box_rows: np.ndarray = has_box & ~has_poly
    values = np.full((n, 4), np.nan)
    if box_rows.any():
        x, y, w, h = dets.box[box_rows].T
        if clamp:  # the corners, to the image
            x1, y1 = np.clip(x, 0.0, width), np.clip(y, 0.0, height)
            x2, y2 = np.clip(x + w, 0.0, width), np.clip(y + h, 0.0, height)
            count("boxes clamped to the image", int(np.count_nonzero(
                (x1 != x) | (y1 != y) | (x2 != x + w) | (y2 != y + h))))
            x, y, w, h = x1, y1, x2 - x1, y2 - y1
        # Top-left corner and size in pixels -> centre and size, normalised.
        values[box_rows] = np.column_stack(((x + w / 2) / width, (y + h / 2) / height, w / width, h / height))
    inside = np.asarray(((values >= -L.EPS) & (values <= 1 + L.EPS)).all(axis=1))
    cid, score, vals = dets.category_id.tolist(), dets.score.tolist(), values.tolist()
    classes = index.indices(cid)
    kps = dets.keypoints
    attrs = dets.attributes
    rows: list[list[Any]] = []
    for i in range(n):
        if cid[i] < 0:
            context.problem(predport.OutputError(f"category id {cid[i]} is negative: not a YOLO class index",
                                                 file=rel, field="class"))
            continue
        attr = (attrs[i] if attrs is not None else None) or {}
        track = attr.get("track_id")
        if type(track) is not int or track < 0:
            track = None
        if set(attr) - {"track_id"} or ("track_id" in attr and track is None):
            count("attributes other than track_id (not written)")
        kp = kps[i] if kps is not None else None
        pose = None
        if kp:
            if not box_rows[i] and not has_box[i]:
                count("keypoints without a box (not written)")
            else:
                pose = _pose_values(kp, width, height, kpt=kpt, count=count)
        if pose is not None:
            if not inside[i] and box_rows[i]:
                bad = next(j for j, v in enumerate(vals[i]) if not L.in_unit(v))
                _outside(vals[i][bad], L.BOX_FIELDS[bad], i=i, frame=frame, size=size, rel=rel, context=context)
                continue
            if not box_rows[i]:  # the pose line needs the box the polygon took
                x, y, w, h = dets.box[i].tolist()
                vals[i] = [(x + w / 2) / width, (y + h / 2) / height, w / width, h / height]
                count("boxes not written (the polygon was)", -1)
                count("polygons not written (the pose line was)")
            row = [classes[i], *vals[i], *pose]
        elif has_poly[i]:
            assert polys is not None  # has_poly is all False without them
            ring_row = _polygon_row(polys[i], width, height, i=i, frame=frame, rel=rel, clamp=clamp,
                                    context=context, count=count)
            if ring_row is None:
                continue
            row = [classes[i], *ring_row]
        elif box_rows[i]:
            if not inside[i]:
                bad = next(j for j, v in enumerate(vals[i]) if not L.in_unit(v))
                _outside(vals[i][bad], L.BOX_FIELDS[bad], i=i, frame=frame, size=size, rel=rel, context=context)
                continue
            row = [classes[i], *vals[i]]
        else:
            continue
        scored = score[i] == score[i]  # not NaN: the model gave a score
        if scored:
            row.append(_Score(score[i]))
        if track is not None:
            if scored and not has_poly[i] or scored and pose is not None:
                row.append(_Track(track))
            else:
                count("track ids of predictions without a score or box line (not written)")
        rows.append(row)
    return rows


class _Track(int):
    """A track id at the end of a row: written as an integer, after the score."""


class _Score(float):
    """A score in a row: written exactly (the shortest text that reads back to the same float)."""


class _Exact(float):
    """A keypoint's third value: written exactly, as a score is."""


def _plain(row: list[Any]) -> list[Any]:
    """The row with its marked numbers as plain ones (for the schema validator)."""
    return [float(v) if type(v) in (_Score, _Exact) else int(v) if type(v) is _Track else v for v in row]


def _pose_values(kp: Any, width: float, height: float, *, kpt: list[Any], count: Any) -> list[float] | None:
    """The normalised ``x y [v]`` values of a pose line (``kpt``: the output's ``[K, D]``, set by the first)."""
    if not kpt:
        kpt += [len(kp), 3 if any(v is not None for _, _, v in kp) else 2]
    k, d = kpt
    if len(kp) != k:
        count("keypoints of another shape (not written)")
        return None
    out: list[float] = []
    for x, y, v in kp:
        out += [x / width, y / height]
        if d == 3:
            if v is None:
                count("keypoint visibilities missing, written as 0")
                v = 0.0
            out.append(_Exact(v))  # a visibility or confidence: written exactly, like a score
        elif v is not None:
            count("keypoints of another shape (not written)")
            return None
    return out


def _polygon_row(rings: Any, width: float, height: float, *, i: int, frame: Any, rel: str, clamp: bool,
                 context: Any, count: Any) -> list[float] | None:
    if len(rings) > 1:
        count("polygons with several rings joined into one")
    flat = _bridge([list(r) for r in rings]) if len(rings) > 1 else list(rings[0])
    if len(flat) % 2:
        context.problem(predport.OutputError(
            f"prediction {i} of {frame.data_id!r}: a polygon ring has an odd number of values",
            file=rel, field="polygon"))
        return None
    values = np.asarray(flat, dtype=np.float64) / np.tile(np.array([width, height]), len(flat) // 2)
    inside = (values >= -L.EPS) & (values <= 1 + L.EPS)
    if not inside.all():
        if not clamp:
            bad = int(np.flatnonzero(~inside)[0])
            _outside(float(values[bad]), L.field_name(L.POLYGON, bad + 1, len(flat) + 1), i=i, frame=frame,
                     size=(width, height), rel=rel, context=context)
            return None
        values = np.clip(values, 0.0, 1.0)
        count("polygon points clamped to the image")
    return values.tolist()


def _outside(value: float, field: str, *, i: int, frame: Any, size: Any, rel: str, context: Any) -> None:
    context.problem(predport.OutputError(
        f"prediction {i} of {frame.data_id!r}: {field} {value!r} is outside [0, 1] "
        f"for a {size[0]:g}x{size[1]:g} image",
        file=rel, field=field, hint="policy='clamp' clamps it to the image",
    ))


def _line(row: list[Any], coord: str) -> str:
    # Class, coordinates, then the score written exactly (repr) and the track id as an integer.
    tail = ""
    if type(row[-1]) is _Track:
        tail = f" {int(row[-1])}"
        row = row[:-1]
    if any(type(v) is _Exact for v in row):  # a pose line: keypoint values written exactly
        return " ".join([str(row[0])] + [repr(float(v)) if type(v) in (_Score, _Exact) else coord % v
                                         for v in row[1:]]) + tail + "\n"
    if type(row[-1]) is _Score:
        return f"{row[0]} {' '.join([coord] * (len(row) - 2)) % tuple(row[1:-1])} {float(row[-1])!r}{tail}\n"
    return f"{row[0]} {' '.join([coord] * (len(row) - 1)) % tuple(row[1:])}{tail}\n"


def _write_names(names: dict[int, str], target: Any, names_file: str, kpt: list[Any]) -> None:
    target.validate(NAMES_SCHEMA, {"names": {str(k): v for k, v in names.items()}}, relpath=names_file)
    if names_file == "classes.txt":
        top = max(names, default=-1)
        # The line number is the class index: gaps in the ids are empty lines.
        text = "".join(names.get(i, "").replace("\n", " ") + "\n" for i in range(top + 1))
        target.write_bytes("classes.txt", text.encode("utf-8"))
        return
    import yaml

    data: dict[str, Any] = {"names": names}
    if kpt:
        data["kpt_shape"] = list(kpt)
    doc = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    target.write_bytes("data.yaml", doc.encode("utf-8"))
