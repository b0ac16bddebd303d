"""Writing canonical frames as Encord Active prediction records (JSON list or JSON Lines).

Pixels become normalised coordinates with each frame's width and height
(``Frame.width``/``height``, else the user's image sizes): ``x / width``,
``y / height``. Every record is validated against
``urn:predport:schema:encord:record:1`` and against Encord's own box rule
(``x + w <= 1``, ``y + h <= 1``), which a JSON Schema cannot state.
"""
from __future__ import annotations

import math
from typing import Any, Iterator

import numpy as np
import orjson

import predport

from .spec import (
    BOX,
    EPS,
    LIST_SCHEMA,
    POLYGON,
    RECORD_SCHEMA,
    SUFFIXES_LINES,
    SUFFIXES_PICKLE,
    load_data_mapping,
)

#: Attribute keys the records hold, by kind; any other key is reported as not written.
_OBJECT_ATTRS = frozenset({"theta", "track_id"})
_CLASS_ATTRS = frozenset({"attribute_hash", "option_hash"})


def write(stream: Any, target: Any, context: "predport.Context") -> dict[str, Any]:
    options = context.options  # declared in spec.WRITE_OPTIONS: parsed and checked by the hub
    if target.final_path().suffix.lower() in SUFFIXES_PICKLE:
        # JSON under a pickle's name would be refused by every reader, predport's included.
        raise predport.OutputError(
            f"{target.final_path().name}: predport writes Encord records as JSON or JSON Lines, never pickles",
            file=str(target.final_path()), hint="name the output .json or .jsonl")
    lines = options.get("lines")
    if lines is None:
        lines = target.final_path().name.lower().endswith(SUFFIXES_LINES)
    writer = _RecordWriter(
        stream=stream,
        context=context,
        file=str(target.final_path()),
        sizes=options.get("sizes") is not False,
        default_confidence=options.get("default_confidence"),
        mapping=load_data_mapping(options["data_mapping"]) if options.get("data_mapping") else None,
    )
    if lines:
        out = target.open(None)
        n = 0
        for recs in writer.frames():
            for rec in recs:
                n += 1
                try:
                    target.validate(RECORD_SCHEMA, rec)
                except predport.SchemaValidationError as err:
                    err.line = n
                    raise
            if recs:
                out.write(b"\n".join(orjson.dumps(r) for r in recs) + b"\n")
        out.close()
    else:
        records: list[dict[str, Any]] = []
        for recs in writer.frames():
            records.extend(recs)
        n = len(records)
        target.write_json(None, records, schema=LIST_SCHEMA)
    if writer.empty_frames:
        context.report.count("encord: frames without predictions not written", writer.empty_frames)
    return {"records": n}


class _RecordWriter:
    def __init__(self, *, stream: Any, context: "predport.Context", file: str, sizes: bool,
                 default_confidence: float | None, mapping: dict[str, str] | None) -> None:
        self.stream = stream
        self.context = context
        self.report = context.report
        self.file = file
        self.sizes = sizes
        self.default_confidence = default_confidence
        self.clamp = context.policy == "clamp"
        self.hashes: dict[str, str] | None = None
        if mapping is not None:
            # {data_hash: file_name} read backwards: data ids that are file names become hashes.
            self.hashes = {h: h for h in mapping}
            for h, name in mapping.items():
                self.hashes.setdefault(name, h)
                self.hashes.setdefault(name.replace("\\", "/").rsplit("/", 1)[-1], h)
        self.feature_hashes: dict[int, str] = {}
        self.empty_frames = 0

    # -- helpers ------------------------------------------------------------------------
    def _problem(self, message: str, **kw: Any) -> None:
        self.context.problem(predport.OutputError(message, file=self.file, **kw))

    def _feature_hash(self, cid: int) -> str:
        fh = self.feature_hashes.get(cid)
        if fh is None:
            cat = self.stream.categories.get(cid)
            if cat is None:
                fh = str(cid)
                self.report.warn(f"encord: category id {cid} is not in the category table; "
                                 "its id is written as feature_hash")
            elif cat.external_id:
                fh = cat.external_id
            else:
                fh = cat.name
                self.report.warn(f"encord: category {cat.name!r} has no external id (featureNodeHash); "
                                 "its name is written as feature_hash")
            self.feature_hashes[cid] = fh
        return fh

    def _data_hash(self, data_id: str) -> str | None:
        if self.hashes is None:
            return data_id
        h = self.hashes.get(data_id) or self.hashes.get(data_id.replace("\\", "/").rsplit("/", 1)[-1])
        if h is None:
            self._problem(f"data id {data_id!r} is in neither column of the data mapping",
                          hint="add it to the data_mapping file, or use policy=skip to leave it out")
        return h

    def _size(self, frame: Any) -> tuple[int, int] | None:
        if frame.width is not None and frame.height is not None:
            return int(frame.width), int(frame.height)
        return self.context.image_size(frame.data_id)

    # -- frames -------------------------------------------------------------------------
    def frames(self) -> Iterator[list[dict[str, Any]]]:
        for frame in self.stream.frames:
            if not len(frame.predictions):
                self.empty_frames += 1
                continue
            if frame.attributes:  # counted as loss by the hub: the format does not hold frame attributes
                self.report.warn(f"encord: records have no place for frame attributes "
                                 f"{sorted(frame.attributes)}; not written")
            if not self.sizes and frame.width is not None:
                self.report.count("encord: image sizes not written (sizes=false)")
            data_hash = self._data_hash(frame.data_id)
            if data_hash is None:
                continue
            yield self._records(frame, data_hash)

    def _records(self, frame: Any, data_hash: str) -> list[dict[str, Any]]:
        dets = frame.predictions
        n = len(dets)
        where = f"frame {frame.data_id!r}" + ("" if frame.frame_index is None else f" #{frame.frame_index}")
        has_box = [False] * n if dets.box is None else (~np.isnan(dets.box[:, 0])).tolist()
        polygons = dets.polygon or [None] * n
        size = self._size(frame)
        if size is None and (any(has_box) or any(polygons)):
            self._problem(
                f"{where}: no image size, and Encord boxes and polygons are normalised by it",
                hint="give image_sizes={data_id: [width, height]} or images=FOLDER",
            )
        norm = snapped = None
        inside = [False] * n
        if size is not None and dets.box is not None:
            norm, snapped, inside_arr = _normalise_boxes(dets.box, size)
            inside = inside_arr.tolist()
        cids = dets.category_id.tolist()
        scores = dets.score.tolist()
        head: dict[str, Any] = {"data_hash": data_hash,
                                "frame": 0 if frame.frame_index is None else int(frame.frame_index)}
        if snapped is not None and dets.polygon is None and dets.attributes is None and all(inside) \
                and not np.isnan(dets.score).any():
            # Boxes only, all inside the image, every score present: the common detector output.
            fhs = [self._feature_hash(c) for c in cids]
            dh, fr = head["data_hash"], head["frame"]
            if self.sizes:
                width, height = size  # type: ignore[misc]
                return [{"data_hash": dh, "frame": fr, "confidence": s, "width": width, "height": height,
                         "object": {"feature_hash": f, "format": BOX, "data": {"x": b[0], "y": b[1], "w": b[2], "h": b[3]}}}
                        for s, f, b in zip(scores, fhs, snapped)]
            return [{"data_hash": dh, "frame": fr, "confidence": s,
                     "object": {"feature_hash": f, "format": BOX, "data": {"x": b[0], "y": b[1], "w": b[2], "h": b[3]}}}
                    for s, f, b in zip(scores, fhs, snapped)]
        attrs_col = dets.attributes or [None] * n
        out: list[dict[str, Any]] = []
        for i in range(n):
            conf = scores[i]
            if conf != conf:  # NaN: the source had no score
                if self.default_confidence is None:
                    self._problem(f"{where}, prediction {i}: no score, and Encord requires a confidence",
                                  hint="pass default_confidence=VALUE to write one, or policy=skip")
                    continue
                conf = self.default_confidence
            rec = dict(head)
            rec["confidence"] = conf
            if self.sizes and size is not None:
                rec["width"], rec["height"] = size
            attrs = attrs_col[i] or {}
            poly = polygons[i]
            if poly or has_box[i]:
                if size is None:
                    continue  # reported once for the frame above
                data: Any
                if poly:
                    data = self._polygon(poly, size, where, i, has_box[i])
                    fmt = POLYGON
                else:
                    if inside[i]:
                        b = snapped[i]  # type: ignore[index]
                        data = {"x": b[0], "y": b[1], "w": b[2], "h": b[3]}
                    else:
                        data = self._box(norm[i], dets.box[i], size, where, i)  # type: ignore[index]
                    fmt = BOX
                    if attrs.get("theta"):
                        data["theta"] = attrs["theta"]
                if data is None:
                    continue
                obj: dict[str, Any] = {"feature_hash": self._feature_hash(cids[i]), "format": fmt, "data": data}
                if attrs.get("track_id") is not None:
                    obj["track_id"] = attrs["track_id"]
                rec["object"] = obj
                held = _OBJECT_ATTRS
            elif isinstance(attrs.get("attribute_hash"), str) and isinstance(attrs.get("option_hash"), str):
                rec["classification"] = {
                    "feature_hash": self._feature_hash(cids[i]),
                    "attribute_hash": attrs["attribute_hash"],
                    "option_hash": attrs["option_hash"],
                }
                held = _CLASS_ATTRS
            else:
                self._problem(
                    f"{where}, prediction {i}: no box, no polygon and no Encord classification "
                    "(attribute_hash/option_hash); an Encord record cannot hold it",
                    hint="use policy=skip to leave such predictions out",
                )
                continue
            dropped = [k for k in attrs if k not in held]
            if dropped:
                self.report.loss("predictions.attributes (keys Encord records cannot hold)", len(dropped))
                self.report.warn(f"encord: attributes {', '.join(sorted(dropped))} have no place in "
                                 "Encord records and are not written")
            out.append(rec)
        return out

    def _box(self, norm: list[float], px: Any, size: tuple[int, int], where: str,
             i: int) -> dict[str, float] | None:
        x, y, w, h = norm
        if not (-EPS <= x and -EPS <= y and x + w <= 1 + EPS and y + h <= 1 + EPS and w >= 0 and h >= 0):
            if not self.clamp or w < 0 or h < 0:
                self._problem(
                    f"{where}, prediction {i}: box {[float(v) for v in px]} px leaves the "
                    f"{size[0]}x{size[1]} image; Encord requires 0 <= x, x + w <= 1 (and so for y)",
                    hint="policy=clamp clamps boxes to the image, policy=skip leaves them out",
                )
                return None
            self.report.count("encord: boxes clamped to the image")
        # Snap float noise (and clamped values) into Encord's exact rule.
        x0, y0 = min(max(x, 0.0), 1.0), min(max(y, 0.0), 1.0)
        w = min(max(x + w, 0.0), 1.0) - x0 if (x + w > 1 or x < 0) else w
        h = min(max(y + h, 0.0), 1.0) - y0 if (y + h > 1 or y < 0) else h
        w, h = max(w, 0.0), max(h, 0.0)
        while x0 + w > 1.0:
            w = math.nextafter(w, 0.0)
        while y0 + h > 1.0:
            h = math.nextafter(h, 0.0)
        return {"x": x0, "y": y0, "w": w, "h": h}

    def _polygon(self, rings: list[list[float]], size: tuple[int, int], where: str, i: int,
                 has_box: bool) -> list[list[float]] | None:
        if len(rings) > 1:
            self.report.loss("predictions.polygon (rings after the first)", len(rings) - 1)
        if has_box:
            self.report.loss("predictions.box (beside a polygon)")
        ring = rings[0]
        if len(ring) % 2 or len(ring) < 6:
            self._problem(f"{where}, prediction {i}: a polygon ring needs x, y pairs, at least 3 points")
            return None
        pts = np.asarray(ring, dtype=np.float64).reshape(-1, 2) / np.array(size, dtype=np.float64)
        if ((pts < -EPS) | (pts > 1 + EPS)).any():
            if not self.clamp:
                self._problem(
                    f"{where}, prediction {i}: polygon leaves the {size[0]}x{size[1]} image; "
                    "Encord polygons are normalised to [0, 1]",
                    hint="policy=clamp clamps points to the image, policy=skip leaves them out",
                )
                return None
            self.report.count("encord: polygons clamped to the image")
        np.clip(pts, 0.0, 1.0, out=pts)
        return pts.tolist()


def _normalise_boxes(box: np.ndarray, size: tuple[int, int]) -> tuple[list[list[float]], list[list[float]], np.ndarray]:
    """Pixel boxes ``(N, 4)`` to normalised ones: ``(raw, snapped, inside)``.

    ``inside`` marks rows within the image up to float noise (:data:`EPS`); for those,
    ``snapped`` satisfies Encord's rule exactly (values in [0, 1], ``x + w <= 1``,
    ``y + h <= 1``). Rows outside (or without a box) go through :meth:`_RecordWriter._box`.
    """
    w, h = size
    norm = box / np.array([w, h, w, h], dtype=np.float64)
    x, y, bw, bh = norm.T
    with np.errstate(invalid="ignore"):
        inside = (x >= -EPS) & (y >= -EPS) & (bw >= 0) & (bh >= 0) & (x + bw <= 1 + EPS) & (y + bh <= 1 + EPS)
        snap = norm.copy()
        snap[:, 0:2] = np.clip(norm[:, 0:2], 0.0, 1.0)
        for k in (0, 1):
            lo, ext = snap[:, k], snap[:, k + 2]
            over = (norm[:, k] + norm[:, k + 2] > 1) | (norm[:, k] < 0)
            ext[over] = np.clip(norm[over, k] + norm[over, k + 2], 0.0, 1.0) - lo[over]
            np.maximum(ext, 0.0, out=ext)
            # x + w computed in floats may still round above 1: step w down by ulps.
            bad = lo + ext > 1.0
            while bad.any():
                ext[bad] = np.nextafter(ext[bad], 0.0)
                bad = lo + ext > 1.0
    return norm.tolist(), snap.tolist(), inside
