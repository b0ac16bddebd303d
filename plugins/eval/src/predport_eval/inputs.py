"""Both sides of an evaluation as columns, with frames and classes matched across formats.

* Frames match by data id (and frame index), then by base name without extension
  (``000123.txt`` ~ ``000123.png``, ``images/a.jpg`` ~ ``a``), then by a COCO ``image_id``
  both frames carry, then by the number a name ends in when it is unique on the ground
  truth side (``42`` ~ ``COCO_val2014_000000000042.jpg``).
* Classes match by name (case-insensitive; then ignoring ``_``/``-``/space differences
  when unambiguous, as KITTI writes ``traffic_light``); a class whose name is only its id (COCO
  results read without ground truth) matches by id. A class map given for the
  predictions is applied by their reader first.
* Prediction frames without ground truth, ground-truth frames without predictions, and
  prediction classes the ground truth does not have are counted in ``unmatched``.
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import numpy as np

import predport


@dataclass
class Side:
    """One side read into columns: frames, rows (one per prediction or object) and classes."""

    frames: list[tuple[str, int | None]]
    sizes: list[tuple[int | None, int | None]]
    image_ids: list[Any]
    frame: np.ndarray  # int64 frame index per row
    category: np.ndarray  # int64 category id per row (the side's own ids)
    score: np.ndarray
    box: np.ndarray  # (N, 4), NaN rows where a row has no box
    categories: dict[int, str]
    mask: list[Any] | None = None
    polygon: list[Any] | None = None
    keypoints: list[Any] | None = None
    attributes: list[Any] | None = None
    source: str = ""
    format: str | None = None

    def __len__(self) -> int:
        return int(self.frame.shape[0])


def _frames_and_categories(obj: Any, *, role: str, format: str | None, kwargs: Mapping[str, Any]) -> tuple[
        Iterable[Any], Any, str, str | None]:
    """Frames (an iterable), a categories source, a label and the format of what the user gave."""
    if isinstance(obj, (str, os.PathLike)):
        kwargs = dict(kwargs)
        options = kwargs.pop("options", None)
        if options:
            kwargs["read_options"] = options
        if format is None and role == "ground_truth":
            format = _ground_truth_format(obj, kwargs.get("storage_options"))
        stream = predport.open_stream(obj, format, role=role, **kwargs)
        return stream.frames, stream, str(obj), stream.source.format if stream.source else format
    if isinstance(obj, predport.PredictionSet):
        return obj.frames, obj, "prediction set", obj.source.format if obj.source else None
    if isinstance(obj, predport.PredictionStream):
        return obj.frames, obj, "stream", obj.source.format if obj.source else None
    raise predport.ConfigError(f"cannot evaluate a {type(obj).__name__}: give a path, a PredictionSet or a "
                               "PredictionStream")


def _ground_truth_format(path: Any, storage_options: Any) -> str | None:
    """The format to read ``path`` as ground truth: detection's pick, else the one format that
    claims it only at extension level (a COCO dataset whose annotations come after a long
    ``images`` list, as ``instances_val2017.json``: its head cannot tell results from labels).

    Trying that format is safe: read as ground truth, a file with scored rows is refused
    ("read as ground truth, but this is predictions"), and a file it cannot parse is a
    parse error; nothing is read as something it is not.
    """
    hub = predport.get_hub()
    votes = hub.detect(path, storage_options=storage_options)
    try:
        return hub.pick(path, votes, role="ground_truth").id
    except predport.UnknownFormatError:
        fmts = hub.formats()
        weak = {v.format for v in votes if v.confidence == predport.Confidence.EXTENSION and v.role is None
                and v.format in fmts and "ground_truth" in fmts[v.format].roles}
        strong = [v for v in votes if v.confidence > predport.Confidence.EXTENSION]
        if len(weak) == 1 and not strong:
            return weak.pop()
        raise


def read_side(obj: Any, *, role: str, format: str | None = None, need: str = "box",
              **kwargs: Any) -> Side:
    """Read predictions or ground truth into columns (frames streamed, columns concatenated)."""
    frames_iter, cats_src, label, fmt = _frames_and_categories(obj, role=role, format=format, kwargs=kwargs)
    frames: list[tuple[str, int | None]] = []
    sizes: list[tuple[int | None, int | None]] = []
    image_ids: list[Any] = []
    parts: list[Any] = []
    keep_objects = need in ("segm", "keypoints", "semantic", "kitti") or role == "ground_truth"
    try:
        for frame in frames_iter:
            i = len(frames)
            frames.append((frame.data_id, frame.frame_index))
            sizes.append((frame.width, frame.height))
            image_ids.append(_image_id(frame, fmt))
            dets = frame.predictions
            if len(dets):
                parts.append((i, dets))
    finally:
        close = getattr(cats_src, "close", None)
        if close is not None:
            close()
    cats_list = cats_src.categories if isinstance(cats_src, predport.PredictionSet) else list(cats_src.categories)
    categories = {c.id: c.name for c in cats_list}
    n = sum(len(d) for _, d in parts)
    frame_col = np.repeat(np.array([i for i, _ in parts], dtype=np.int64),
                          np.array([len(d) for _, d in parts], dtype=np.int64)) if parts else np.zeros(0, np.int64)
    category = np.concatenate([d.category_id for _, d in parts]) if parts else np.zeros(0, np.int64)
    score = np.concatenate([d.score for _, d in parts]) if parts else np.zeros(0)
    box = np.concatenate([d.box if d.box is not None else np.full((len(d), 4), np.nan) for _, d in parts]) \
        if parts else np.zeros((0, 4))
    side = Side(frames=frames, sizes=sizes, image_ids=image_ids, frame=frame_col, category=category, score=score,
                box=box, categories=categories, source=label, format=fmt)
    for name in ("mask", "polygon", "keypoints", "attributes"):
        if name in ("mask", "polygon") and need not in ("segm", "semantic") and role != "ground_truth":
            continue
        if name == "keypoints" and need != "keypoints":
            continue
        if name == "attributes" and not keep_objects:
            continue
        if any(getattr(d, name) is not None for _, d in parts):
            col: list[Any] = []
            for _, d in parts:
                v = getattr(d, name)
                col.extend(v if v is not None else [None] * len(d))
            setattr(side, name, col)
    assert len(side) == n
    return side


# -- frames --------------------------------------------------------------------------------
_TRAILING = re.compile(r"(\d+)$")


def _stem(data_id: str) -> str:
    base = data_id.replace("\\", "/").rsplit("/", 1)[-1]
    return base.rsplit(".", 1)[0] if "." in base[1:] else base


def _image_id(frame: Any, fmt: str | None) -> Any:
    """A frame's COCO ``image_id``: its attribute, or (COCO results without an images list,
    whose reader does not repeat an id the data id gives back) the data id itself."""
    iid = frame.attributes.get("image_id") if frame.attributes else None
    if iid is None and fmt is not None and fmt.startswith("coco") and _CANONICAL_INT.fullmatch(frame.data_id):
        iid = int(frame.data_id)
    return iid


_CANONICAL_INT = re.compile(r"0|[1-9][0-9]*")


def _number(data_id: str) -> int | None:
    m = _TRAILING.search(_stem(data_id))
    return int(m.group(1)) if m else None


@dataclass
class FrameMatch:
    """``pred_to_gt[i]``: the ground-truth frame of prediction frame ``i`` (-1: none); how each matched."""

    pred_to_gt: np.ndarray
    how: dict[str, int] = field(default_factory=dict)


def match_frames(pred: Side, gt: Side) -> FrameMatch:
    """Pair prediction frames with ground-truth frames (see the module docstring for the rules)."""
    exact: dict[tuple[str, int | None], int] = {}
    stems: dict[tuple[str, int | None], int] = {}
    ids: dict[Any, int] = {}
    numbers: dict[tuple[int, int | None], int] = {}
    dup_numbers: set[tuple[int, int | None]] = set()
    for j, (data_id, fi) in enumerate(gt.frames):
        exact.setdefault((data_id, fi), j)
        stems.setdefault((_stem(data_id), fi), j)
        iid = gt.image_ids[j]
        if iid is not None and fi is None:
            ids.setdefault(iid, j)
        num = _number(data_id)
        if num is not None:
            key = (num, fi)
            if key in numbers:
                dup_numbers.add(key)
            numbers.setdefault(key, j)
    out = np.full(len(pred.frames), -1, dtype=np.int64)
    how = {"data_id": 0, "base_name": 0, "image_id": 0, "number": 0}
    for i, (data_id, fi) in enumerate(pred.frames):
        gj = exact.get((data_id, fi))
        tier = "data_id"
        if gj is None:
            gj, tier = stems.get((_stem(data_id), fi)), "base_name"
        if gj is None and fi is None and pred.image_ids[i] is not None:
            gj, tier = ids.get(pred.image_ids[i]), "image_id"
        if gj is None:
            num = _number(data_id)
            if num is not None and (num, fi) not in dup_numbers:
                gj, tier = numbers.get((num, fi)), "number"
        if gj is not None:
            out[i] = gj
            how[tier] += 1
    return FrameMatch(pred_to_gt=out, how=how)


# -- classes -------------------------------------------------------------------------------
def _nameless(cid: int, name: str) -> bool:
    return name == str(cid)


def match_classes(pred: Side, gt: Side) -> tuple[dict[int, int], list[int]]:
    """``(pred id -> index into gt_ids, gt_ids)``: classes by name, or by id when a name is only its id."""
    gt_ids = sorted(gt.categories)
    index = {cid: k for k, cid in enumerate(gt_ids)}
    by_name: dict[str, int] = {}
    for cid in gt_ids:
        by_name.setdefault(gt.categories[cid].strip().casefold(), index[cid])
    # Names that differ only in separators (KITTI and YOLO files write "traffic light" as
    # "traffic_light"), when that is unambiguous on the ground-truth side.
    loose: dict[str, int | None] = {}
    for cid in gt_ids:
        key = _loose(gt.categories[cid])
        loose[key] = index[cid] if key not in loose else None
    mapping: dict[int, int] = {}
    for cid, name in pred.categories.items():
        k = by_name.get(name.strip().casefold())
        if k is None:
            k = loose.get(_loose(name))
        if k is None and (_nameless(cid, name) or _nameless_side(gt)) and cid in index:
            k = index[cid]
        if k is not None:
            mapping[cid] = k
    return mapping, gt_ids


_SEPARATORS = re.compile(r"[\s_-]+")


def _loose(name: str) -> str:
    return _SEPARATORS.sub(" ", name.strip().casefold())


def _nameless_side(side: Side) -> bool:
    return bool(side.categories) and all(_nameless(c, n) for c, n in side.categories.items())


def lookup(mapping: Mapping[int, int], ids: np.ndarray) -> np.ndarray:
    """``mapping[id]`` per element, -1 where an id is unmapped."""
    if not ids.shape[0]:
        return np.zeros(0, dtype=np.int64)
    uniq, inverse = np.unique(ids, return_inverse=True)
    mapped = np.array([mapping.get(int(u), -1) for u in uniq], dtype=np.int64)
    return mapped[inverse]


def finite_or_none(v: float) -> float | None:
    return None if v is None or not math.isfinite(v) else float(v)
