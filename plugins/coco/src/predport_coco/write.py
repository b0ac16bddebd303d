"""Write canonical frames as a COCO results list (one JSON array, streamed image by image).

Per prediction: ``image_id``, ``category_id`` (the canonical id), ``bbox``
``[x, y, width, height]`` pixels, ``segmentation`` (compressed RLE
``{"size": [h, w], "counts": str}``, else the polygon rings), ``keypoints`` (flat
``[x1, y1, v1, ...]``), ``score``, then the prediction's attributes as extra keys
(what the reader kept: ``area``, ``id``, ``iscrowd``, ``category_name``...).

``image_id`` comes from the frame attribute ``image_id`` (set by the COCO reader:
an integer stays an integer, a string stays a string), else from the ground
truth given with option ``gt`` (by file name), else from the data id (an integer
when it is one written without leading zeros, else the string).

With option ``categories=FILE`` a companion file is written as well: a COCO dataset dict
without annotations (``images`` with ``file_name``/``width``/``height``, ``categories``
with names and ``supercategory``/``keypoints``/``skeleton``) — the category names, image
sizes and images without predictions a results list has no place for. Read the results
back with ``-o gt=FILE``: every image of the companion comes back, the empty ones as
frames without predictions. It is committed together with the results (or not at all).

A prediction without a score is written without the ``score`` key (COCO has no
null score) and counted in the summary. Frames whose attribute ``record_index``
holds the source positions of their records are written in source order.
"""
from __future__ import annotations

import math
from collections import Counter
from typing import Any

import predport

from . import gt as gtmod

RESULTS_SCHEMA_ID = "urn:predport:schema:coco:results:1"
COMPANION_SCHEMA_ID = "urn:predport:schema:coco:companion:1"
_OWN_KEYS = ("image_id", "category_id", "score")
_FRAME_KEYS = frozenset({"image_id", "record_index"})


def _image_id(frame: Any, gt: gtmod.GroundTruth | None) -> Any:
    value = frame.attributes.get("image_id")
    if (type(value) is int) or (type(value) is str and value):
        return value
    if gt is not None:
        found = gt.image_id_for(frame.data_id)
        if found is not None:
            return found
    data_id = frame.data_id
    if data_id.isascii() and data_id.isdigit() and str(int(data_id)) == data_id:
        return int(data_id)
    return data_id


def _companion_image(images: dict[Any, dict[str, Any]], image_id: Any, frame: Any, lost: Counter[str]) -> None:
    entry = {"id": image_id, "file_name": frame.data_id}
    if frame.width is not None and frame.height is not None:
        entry.update(width=frame.width, height=frame.height)
    known = images.setdefault(image_id, entry)
    if known is not entry and known != entry:
        lost["frames.width/height (two frames of one image_id)"] += 1


def _write_companion(out: Any, images: dict[Any, dict[str, Any]], categories: Any) -> None:
    """The companion file: a COCO dataset dict without annotations (what ``-o gt=`` reads)."""
    cats = []
    for c in categories:
        entry = {"id": c.id, "name": c.name}
        entry.update({k: v for k, v in (c.attributes or {}).items() if k in gtmod.CATEGORY_ATTRIBUTES})
        cats.append(entry)
    doc = {"info": {"description": gtmod.COMPANION_DESCRIPTION}, "images": list(images.values()),
           "annotations": [], "categories": cats}
    out.write_json(None, doc, schema=COMPANION_SCHEMA_ID)


def _records(frame: Any, image_id: Any, stats: dict[str, int], lost: dict[str, int]) -> list[dict[str, Any]]:
    """The COCO records of one frame, in prediction order."""
    dets = frame.predictions
    n = len(dets)
    cid = dets.category_id.tolist()
    score = dets.score.tolist()
    box = dets.box.tolist() if dets.box is not None else None
    if box is not None and dets.polygon is None and dets.mask is None and dets.keypoints is None \
            and dets.attributes is None and not any(math.isnan(s) for s in score) \
            and not any(b[0] != b[0] for b in box):
        # Boxes only, every score present: the common detector output, in one comprehension.
        return [{"image_id": image_id, "category_id": c, "bbox": b, "score": s} for c, b, s in zip(cid, box, score)]
    masks, polys, kps, attrs = dets.mask, dets.polygon, dets.keypoints, dets.attributes
    out = []
    for i in range(n):
        rec: dict[str, Any] = {"image_id": image_id, "category_id": cid[i]}
        if box is not None and box[i][0] == box[i][0]:  # a NaN row means "no box"
            rec["bbox"] = box[i]
        mask = masks[i] if masks is not None else None
        poly = polys[i] if polys is not None else None
        if mask is not None:
            rec["segmentation"] = {"size": list(mask["size"]), "counts": mask["counts"]}
            if poly is not None:
                lost["predictions.polygon (a mask took the segmentation)"] += 1
        elif poly is not None:
            rec["segmentation"] = poly
        kp = kps[i] if kps is not None else None
        if kp is not None:
            flat: list[Any] = []
            for x, y, v in kp:
                if v is None:
                    v = 1  # COCO wants a number; its results guidance is to set v to 1
                    stats["keypoint visibilities missing, written as 1"] += 1
                    lost["predictions.keypoints (visibility null written as 1)"] += 1
                flat += (x, y, v)
            rec["keypoints"] = flat
        s = score[i]
        if s == s:
            rec["score"] = s
        else:
            stats["scores missing (score key omitted)"] += 1
        extra = attrs[i] if attrs is not None else None
        if extra:
            for k, v in extra.items():
                if k not in rec and k not in _OWN_KEYS:
                    rec[k] = v
                else:
                    lost[f"predictions.attributes ({k!r} is a COCO key in use)"] += 1
        out.append(rec)
    return out


def _record_index(frame: Any, n: int) -> list[int] | None:
    """The source positions of a frame's records (``attributes["record_index"]``), when usable."""
    index = frame.attributes.get("record_index")
    if isinstance(index, list) and len(index) == n and all(type(p) is int for p in index):
        return index
    return None


class _Sink:
    """Validate and stream records into the output array, keeping their absolute positions."""

    def __init__(self, target: Any) -> None:
        self.target = target
        self.out = target.open(None)
        self.out.write(b"[")
        self.written = 0

    def write(self, recs: list[dict[str, Any]]) -> None:
        if not recs:
            return
        import orjson

        try:
            self.target.validate(RESULTS_SCHEMA_ID, recs)
        except predport.SchemaValidationError as err:
            # The error's path is relative to this chunk; say where the record lands in the file.
            path = err.json_path or "$"
            if path.startswith("$["):
                k, _, rest = path[2:].partition("]")
                if k.isdigit():
                    err.json_path = f"$[{int(k) + self.written}]{rest}"
            raise
        blob = orjson.dumps(recs)
        self.out.write(blob[1:-1] if not self.written else b"," + blob[1:-1])
        self.written += len(recs)

    def close(self) -> None:
        self.out.write(b"]")
        self.out.close()


def write(stream: Any, target: Any, context: Any) -> dict[str, Any]:
    """The ``from_canonical`` body for format ``coco``."""
    gt_option = context.option("gt")
    gt = gtmod.load(gt_option) if gt_option else None
    companion_path = context.option("categories")
    companion = target.companion(companion_path) if companion_path else None
    if companion is not None:
        # The companion file holds what a results list cannot (read back with -o gt=FILE).
        context.report.hold("category_names", "category_attributes", "empty_frames", "size")
    elif gt is not None:
        context.report.hold("category_names")  # the ground truth names them (checked below)
    images: dict[Any, dict[str, Any]] = {}
    stats: Counter[str] = Counter()
    lost: Counter[str] = Counter()
    sink = _Sink(target)
    pending: list[tuple[tuple[int, int], dict[str, Any]]] | None = None
    unindexed = 0
    dropped_keys: set[str] = set()
    for frame in stream.frames:
        image_id = _image_id(frame, gt)
        if companion is not None:
            _companion_image(images, image_id, frame, lost)
        recs = _records(frame, image_id, stats, lost)
        extra_keys = set(frame.attributes) - _FRAME_KEYS
        if extra_keys:
            dropped_keys |= extra_keys
            for key in extra_keys:
                lost[f"frames.attributes.{key}"] += 1
        index = _record_index(frame, len(recs))
        if pending is None and index is not None:
            pending = []
        if pending is None:
            sink.write(recs)
            continue
        # From the first frame that knows its source positions on, records are held and
        # sorted at the end: indexed records by source position, the others after them in
        # the order met (records written before that frame stay first).
        if index is not None:
            pending.extend(((0, p), r) for p, r in zip(index, recs))
        else:
            pending.extend(((1, unindexed + j), r) for j, r in enumerate(recs))
            unindexed += len(recs)
    if pending:
        pending.sort(key=lambda item: item[0])
        sink.write([r for _, r in pending])
    sink.close()
    if companion is not None:
        _write_companion(companion, images, stream.categories)
    elif gt is not None:
        names = gt.category_names()
        for cat in stream.categories:
            if cat.name != str(cat.id) and names.get(cat.id) != cat.name:
                lost["categories.name (not the ground truth's name for the id)"] += 1
    if dropped_keys:
        context.report.warn(f"COCO results have no place for frame attributes {sorted(dropped_keys)}")
    for key, n in lost.items():
        context.report.loss(key, n)  # the hub refuses the conversion unless loss is allowed
    for key, n in stats.items():
        context.report.count(key, n)
    return {"records": sink.written}
