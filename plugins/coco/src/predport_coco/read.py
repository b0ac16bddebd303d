"""Read COCO results into per-image column chunks (the records of ``parse``).

Units and conventions: ``bbox`` is ``[x, y, width, height]`` in pixels, origin
top-left (the canonical box, unchanged); ``segmentation`` is COCO compressed RLE
(``size`` = ``[height, width]``, column-major) or a list of polygon rings
``[[x0, y0, x1, y1, ...], ...]`` in pixels; ``keypoints`` is the flat
``[x1, y1, v1, ...]`` list, regrouped as ``[[x, y, v], ...]``.

Three paths build the columns, fastest first:

* *typed*: a results list whose records all hold exactly ``image_id``,
  ``category_id``, ``bbox`` and ``score`` (what detectors write) is decoded by
  ``msgspec`` straight into small typed structs (types, the four keys and the
  length of ``bbox`` are checked while decoding; about half the time and memory
  of generic dicts), then turned into columns with ``fromiter`` and checked with
  numpy (finite values, width and height >= 0);
* *columnar*: any other file is loaded with ``orjson``; ``image_id``,
  ``category_id``, ``score`` and ``bbox`` are checked over whole columns
  (Python types first: numpy alone would turn booleans into numbers and mixed
  ids into strings), segmentation and keypoints record by record, and extra keys
  are copied into prediction attributes;
* *record by record*: when either of those finds anything wrong (or the file
  needed the standard library's lenient parser, see :mod:`.jsonload`), every
  record is checked on its own, so that the first bad one is reported with its
  JSON path and field, or skipped and counted under policy ``skip``.

Frames are images, in order of first appearance of their ``image_id``;
predictions keep the source order within an image. When the source is not
grouped by image (records of one image interleaved with others), each frame
gets the source positions of its records in ``attributes["record_index"]`` so
the COCO writer can restore the source order; a grouped source (the common
case) needs nothing per prediction.
"""
from __future__ import annotations

import gc
import math
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import chain
from operator import itemgetter
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

import predport

from . import gt as gtmod
from .jsonload import find_nonstrict, loads, read_bytes

#: Record keys with a canonical home; every other key goes to prediction attributes.
STANDARD_KEYS = frozenset({"image_id", "category_id", "bbox", "score", "segmentation", "keypoints"})
_NUMBER = (int, float)
_NUMBER_TYPES = frozenset(_NUMBER)
_SCORE_TYPES = frozenset({int, float, type(None)})
#: Report key: uncompressed RLE segmentations converted to compressed RLE.
CONVERTED_RLE = "uncompressed RLE converted to compressed"
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
#: The compressed-RLE alphabet: ASCII 48 ('0') to 111 ('o'), backslash included.
_RLE_COUNTS = re.compile(r"[0-o]*")


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a results file becomes columns.

    Measured on the 1M-box benchmark file: ``orjson.loads`` builds ~7 million
    objects, every one of them reachable, and the collector's repeated passes
    over them more than double the load time (3.9 s against 1.7 s); the list
    comprehensions that make columns and the per-record dicts of the other paths
    pay the same tax. Nothing here creates reference cycles, and the previous
    state is restored on exit, so the pause is local to :func:`prepare` and
    never spans a ``yield``.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass
class Columns:
    """All predictions of a file as columns (row ``i`` is one record)."""

    image_id: Any  # int64 ndarray (integer ids) or a list of the ids as given
    category_id: np.ndarray
    score: np.ndarray  # float64, NaN = no score
    box: np.ndarray | None  # (N, 4) float64, NaN rows = no box
    source_index: np.ndarray  # int64: position of each row in the source list
    polygon: list[Any] | None = None
    mask: list[Any] | None = None
    keypoints: list[Any] | None = None
    attributes: list[Any] | None = None

    def __len__(self) -> int:
        return int(self.category_id.shape[0])

    def take(self, index: np.ndarray) -> "Columns":
        idx_list = index.tolist()

        def pick(col: list[Any] | None) -> list[Any] | None:
            return None if col is None else [col[i] for i in idx_list]

        ids = self.image_id[index] if isinstance(self.image_id, np.ndarray) else pick(self.image_id)
        return Columns(
            image_id=ids,
            category_id=self.category_id[index],
            score=self.score[index],
            box=None if self.box is None else self.box[index],
            source_index=self.source_index[index],
            polygon=pick(self.polygon),
            mask=pick(self.mask),
            keypoints=pick(self.keypoints),
            attributes=pick(self.attributes),
        )


@dataclass
class FrameChunk:
    """One image's predictions, ready for ``Frame`` (what ``parse`` yields)."""

    data_id: str
    width: int | None
    height: int | None
    attributes: dict[str, Any]
    category_id: np.ndarray
    score: np.ndarray
    box: np.ndarray | None
    objects: dict[str, list[Any]] = field(default_factory=dict)
    #: The file's score and box columns passed ``Detections.columns_ok`` (once for all images).
    checked: bool = False


# -- the typed path -----------------------------------------------------------------------
_TYPED: dict[str, Any] = {}


def _typed_decoders() -> list[Any]:
    """msgspec decoders for a list of plain box results: integer image ids, then string ids."""
    if not _TYPED:
        import msgspec

        # gc=False: the structs hold only numbers, strings and a tuple of floats, never a cycle.
        class IntBox(msgspec.Struct, gc=False, forbid_unknown_fields=True):
            image_id: int
            category_id: int
            bbox: tuple[float, float, float, float]
            score: float

        class StrBox(msgspec.Struct, gc=False, forbid_unknown_fields=True):
            image_id: str
            category_id: int
            bbox: tuple[float, float, float, float]
            score: float

        _TYPED["int"] = msgspec.json.Decoder(list[IntBox])
        _TYPED["str"] = msgspec.json.Decoder(list[StrBox])
        _TYPED["errors"] = (msgspec.ValidationError, msgspec.DecodeError)
    return [_TYPED["int"], _TYPED["str"]]


def _decode_typed(raw: bytes) -> list[Any] | None:
    """The records of a plain box-results list as structs, or ``None`` when the file is anything else."""
    decoders = _typed_decoders()
    for decoder in decoders:
        try:
            return decoder.decode(raw) or None  # an empty list: nothing to gain here
        except _TYPED["errors"] as exc:
            # Only a string image_id is worth a second try; anything else takes the general path.
            if decoder is decoders[0] and str(exc).startswith("Expected `int`, got `str` - at `$[0].image_id`"):
                continue
            return None
    return None


def _typed_columns(recs: list[Any]) -> Columns | None:
    """Columns from decoded structs (types, keys and bbox length already checked by the decoder)."""
    n = len(recs)
    if n == 0:
        return None
    ids = _id_column([r.image_id for r in recs])
    try:
        cat = np.fromiter([r.category_id for r in recs], dtype=np.int64, count=n)
    except OverflowError:
        return None  # integers beyond 64 bits
    if ids is None:
        return None
    score = np.fromiter([r.score for r in recs], dtype=np.float64, count=n)
    box = np.fromiter(chain.from_iterable([r.bbox for r in recs]), dtype=np.float64, count=4 * n).reshape(n, 4)
    if not (np.isfinite(box).all() and np.isfinite(score).all() and (box[:, 2:] >= 0).all()):
        return None
    return Columns(image_id=ids, category_id=cat, score=score, box=box, source_index=np.arange(n, dtype=np.int64))


# -- the columnar and record-by-record paths ----------------------------------------------
class _Bad(Exception):
    """A record check failed: ``path`` below the record, ``field``, message."""

    def __init__(self, message: str, path: Sequence[Any], field: str | None) -> None:
        super().__init__(message)
        self.path = tuple(path)
        self.field = field


_is_number = predport.is_number  # int or float, never bool


def _check_id(value: Any, key: str, *, allow_str: bool) -> Any:
    if type(value) is int:
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise _Bad(f"{key} {value} does not fit in 64 bits", [key], key)
        return value
    if allow_str and type(value) is str and value:
        return value
    kinds = "an integer or a non-empty string" if allow_str else "an integer"
    raise _Bad(f"{key} must be {kinds}, not {_describe(value)}", [key], key)


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    text = repr(value)
    return f"{type(value).__name__} {text[:40]}{'...' if len(text) > 40 else ''}"


def _check_box(b: Any) -> list[float]:
    if type(b) is not list or len(b) != 4 or not all(map(_is_number, b)):
        raise _Bad(f"bbox must be [x, y, width, height]: 4 numbers, not {_describe(b)}", ["bbox"], "bbox")
    if not all(map(math.isfinite, b)):
        raise _Bad("bbox values must be finite numbers", ["bbox"], "bbox")
    if b[2] < 0 or b[3] < 0:
        raise _Bad(f"bbox width and height must be >= 0, got {b[2]} and {b[3]}", ["bbox"], "bbox")
    return b


def _check_rle(seg: dict[str, Any]) -> dict[str, Any]:
    """A compressed RLE as given, or an uncompressed one converted by pycocotools (``frPyObjects``)."""
    size = seg.get("size")
    counts = seg.get("counts")
    if (type(size) is not list or len(size) != 2 or not all(type(v) is int and v >= 0 for v in size)):
        raise _Bad(f"RLE size must be [height, width], 2 integers >= 0, not {_describe(size)}",
                   ["segmentation", "size"], "segmentation")
    if type(counts) is str:
        if not _RLE_COUNTS.fullmatch(counts):
            raise _Bad("compressed RLE counts may hold only the characters '0' to 'o'",
                       ["segmentation", "counts"], "segmentation")
        if len(seg) != 2:
            raise _Bad(f"unknown keys in an RLE: {sorted(set(seg) - {'size', 'counts'})}",
                       ["segmentation"], "segmentation")
        try:  # the runs must cover height x width (pycocotools would fail on it in a writer)
            predport.check_rle(size, counts)
        except predport.ParseError as err:
            raise _Bad(err.message, ["segmentation", "counts"], "segmentation") from None
        return seg
    if type(counts) is list:
        if not all(type(c) is int and c >= 0 for c in counts):
            raise _Bad("uncompressed RLE counts must be integers >= 0", ["segmentation", "counts"], "segmentation")
        h, w = size
        if sum(counts) != h * w:
            raise _Bad(f"uncompressed RLE counts sum to {sum(counts)}, not height*width = {h * w}",
                       ["segmentation", "counts"], "segmentation")
        from pycocotools import mask as mask_utils

        rle = mask_utils.frPyObjects({"size": [h, w], "counts": counts}, h, w)
        return {"size": [h, w], "counts": rle["counts"].decode("ascii")}
    raise _Bad(f"RLE counts must be a string (compressed) or a list of integers, not {_describe(counts)}",
               ["segmentation", "counts"], "segmentation")


def _check_polygon(seg: list[Any]) -> list[list[Any]]:
    for j, ring in enumerate(seg):
        if type(ring) is not list or not all(map(_is_number, ring)):
            raise _Bad("polygon segmentation must be a list of rings, each a flat list of numbers "
                       "[x0, y0, x1, y1, ...]", ["segmentation", j], "segmentation")
        if len(ring) < 6 or len(ring) % 2:
            raise _Bad(f"a polygon ring needs an even count of at least 6 numbers (3 points), got {len(ring)}",
                       ["segmentation", j], "segmentation")
        if not all(map(math.isfinite, ring)):
            raise _Bad("polygon coordinates must be finite numbers", ["segmentation", j], "segmentation")
    return seg


def _check_keypoints(kp: Any) -> list[list[Any]]:
    if type(kp) is not list or not all(map(_is_number, kp)):
        raise _Bad("keypoints must be a flat list of numbers [x1, y1, v1, ...]", ["keypoints"], "keypoints")
    if len(kp) % 3:
        raise _Bad(f"keypoints length {len(kp)} is not a multiple of 3 (x, y, v triplets)",
                   ["keypoints"], "keypoints")
    if not all(map(math.isfinite, kp)):
        raise _Bad("keypoints must be finite numbers", ["keypoints"], "keypoints")
    return [kp[j:j + 3] for j in range(0, len(kp), 3)]


_NAN_BOX = (math.nan,) * 4


def _geometry(r: dict[str, Any]) -> tuple[Any, Any, Any, Any, dict[str, Any] | None]:
    """``(box, polygon, mask, keypoints, verbatim)`` of one record; ``verbatim`` holds the geometry
    keys whose value is ``null`` or ``[]`` ("none"), kept so that the writer restores them."""
    box = polygon = mask = keypoints = None
    verbatim: dict[str, Any] | None = None
    for key in ("bbox", "segmentation", "keypoints"):
        value = r.get(key)
        if value is None or value == []:
            if key in r:
                verbatim = {**(verbatim or {}), key: value}
            continue
        if key == "bbox":
            box = _check_box(value)
        elif key == "keypoints":
            keypoints = _check_keypoints(value)
        elif type(value) is dict:
            mask = _check_rle(value)
        elif type(value) is list:
            polygon = _check_polygon(value)
        else:
            raise _Bad(f"segmentation must be an RLE object or a list of polygon rings, not {_describe(value)}",
                       ["segmentation"], "segmentation")
    return box, polygon, mask, keypoints, verbatim


def _parse_record(r: Any, *, strict: bool) -> tuple[Any, ...]:
    """Check one record; returns the row (image_id, category_id, score, box, polygon, mask, keypoints, extras)."""
    if type(r) is not dict:
        raise _Bad(f"a result must be a JSON object, not {_describe(r)}", [], None)
    if not strict:
        found = find_nonstrict(r)
        if found:
            path, why = found
            raise _Bad(why, path, str(path[0]) if path else None)
    if "image_id" not in r:
        raise _Bad("missing image_id", [], "image_id")
    image_id = _check_id(r["image_id"], "image_id", allow_str=True)
    if "category_id" not in r:
        if "caption" in r:
            raise _Bad("captions are not predictions: a caption result has no category_id", ["caption"], "caption")
        raise _Bad("missing category_id", [], "category_id")
    category_id = _check_id(r["category_id"], "category_id", allow_str=False)
    score = r.get("score")
    if score is None:
        score = math.nan
    elif type(score) not in _NUMBER or not math.isfinite(score):
        raise _Bad(f"score must be a finite number, not {_describe(score)}", ["score"], "score")
    extras = {k: v for k, v in r.items() if k not in STANDARD_KEYS} or None
    box, polygon, mask, keypoints, verbatim = _geometry(r)
    if verbatim:
        extras = {**(extras or {}), **verbatim}
    return image_id, category_id, float(score), box, polygon, mask, keypoints, extras


def _id_column(ids: list[Any]) -> Any:
    """Image ids as an int64 array (all integers) or the list (all non-empty strings), else ``None``."""
    types = set(map(type, ids))
    if types == {int}:
        try:
            return np.fromiter(ids, dtype=np.int64, count=len(ids))
        except OverflowError:
            return None  # integers beyond 64 bits
    if types == {str} and "" not in set(ids):
        return ids
    return None


def _box_column(bbox: list[Any]) -> np.ndarray | None:
    """An (N, 4) array when every bbox is a list of 4 finite numbers with width, height >= 0, else ``None``."""
    n = len(bbox)
    try:
        if set(map(type, bbox)) != {list} or set(map(len, bbox)) != {4} \
                or not set(map(type, chain.from_iterable(bbox))) <= _NUMBER_TYPES:
            return None
    except TypeError:
        return None
    box = np.fromiter(chain.from_iterable(bbox), dtype=np.float64, count=4 * n).reshape(n, 4)
    if not (np.isfinite(box).all() and (box[:, 2:] >= 0).all()):
        return None
    return box


def _columnar_columns(recs: list[Any]) -> tuple[Columns, int] | None:
    """Columns of well-formed records of any kind, checked column by column where possible.

    Returns the columns and the number of uncompressed RLEs converted, or ``None``
    when anything is off: the record-by-record path then finds and reports it.
    ``image_id``, ``category_id``, ``score`` and ``bbox`` are checked over whole
    columns; segmentation and keypoints record by record; extra keys are copied
    into attributes.
    """
    n = len(recs)
    if n == 0 or set(map(type, recs)) != {dict}:
        return None
    keys = set(chain.from_iterable(recs))
    try:
        ids = _id_column(list(map(itemgetter("image_id"), recs)))
        cat = list(map(itemgetter("category_id"), recs))
    except KeyError:
        return None
    if ids is None or set(map(type, cat)) != {int}:
        return None
    try:
        cat_a = np.fromiter(cat, dtype=np.int64, count=n)
    except OverflowError:
        return None
    del cat
    score = np.full(n, np.nan)
    if "score" in keys:
        values = [r.get("score") for r in recs]
        if not set(map(type, values)) <= _SCORE_TYPES:
            return None
        score = np.array(values, dtype=np.float64)  # None -> NaN: "no score"
        if np.isinf(score).any():
            return None
    attributes: list[Any] | None = None
    if keys - STANDARD_KEYS:
        attributes = [{k: v for k, v in r.items() if k not in STANDARD_KEYS} or None for r in recs]
    box = _box_column([r.get("bbox") for r in recs]) if "bbox" in keys else None
    objects: dict[str, list[Any] | None] = {"polygon": None, "mask": None, "keypoints": None}
    converted = 0
    if ("bbox" in keys and box is None) or keys & {"segmentation", "keypoints"}:
        rows: list[Any] = []
        cols: dict[str, list[Any]] = {"polygon": [], "mask": [], "keypoints": []}
        try:
            for i, r in enumerate(recs):
                b, polygon, mask, keypoints, verbatim = _geometry(r)
                rows.append(_NAN_BOX if b is None else b)
                cols["polygon"].append(polygon)
                cols["mask"].append(mask)
                cols["keypoints"].append(keypoints)
                if mask is not None and type(r["segmentation"]["counts"]) is list:
                    converted += 1
                if verbatim:
                    if attributes is None:
                        attributes = [None] * n
                    attributes[i] = {**(attributes[i] or {}), **verbatim}
        except _Bad:
            return None
        if box is None and any(b is not _NAN_BOX for b in rows):
            box = np.array(rows, dtype=np.float64)
        objects = {name: (col if any(v is not None for v in col) else None) for name, col in cols.items()}
    if attributes is not None and not any(attributes):
        attributes = None
    columns = Columns(image_id=ids, category_id=cat_a, score=score, box=box,
                      source_index=np.arange(n, dtype=np.int64), attributes=attributes, **objects)
    return columns, converted


def _general_columns(recs: list[Any], *, base: tuple[Any, ...], file: str, context: Any, strict: bool) -> Columns:
    """Record by record: every problem is reported with its JSON path (and skipped under ``skip``)."""
    report = context.report
    img: list[Any] = []
    cat: list[int] = []
    score: list[float] = []
    src: list[int] = []
    boxes: list[Any] = []
    objects: dict[str, list[Any]] = {"polygon": [], "mask": [], "keypoints": [], "attributes": []}
    present = dict.fromkeys(("box", "polygon", "mask", "keypoints", "attributes"), False)
    for i, r in enumerate(recs):
        try:
            row = _parse_record(r, strict=strict)
        except _Bad as bad:
            context.problem(predport.ParseError(str(bad), file=file, json_path=[*base, i, *bad.path],
                                                field=bad.field))
            continue
        image_id, category_id, sc, box, polygon, mask, keypoints, extras = row
        if mask is not None and type(r["segmentation"]["counts"]) is list:
            report.count(CONVERTED_RLE, 1)
        img.append(image_id)
        cat.append(category_id)
        score.append(sc)
        src.append(i)
        boxes.append(_NAN_BOX if box is None else box)
        for name, value in (("polygon", polygon), ("mask", mask), ("keypoints", keypoints), ("attributes", extras)):
            objects[name].append(value)
            if value is not None:
                present[name] = True
        if box is not None:
            present["box"] = True
    ids: Any = img
    if img and all(type(x) is int for x in img):
        ids = np.array(img, dtype=np.int64)
    return Columns(
        image_id=ids,
        category_id=np.array(cat, dtype=np.int64),
        score=np.array(score, dtype=np.float64),
        box=np.array(boxes, dtype=np.float64).reshape(-1, 4) if present["box"] else None,
        source_index=np.array(src, dtype=np.int64),
        **{name: (col if present[name] else None) for name, col in objects.items()},
    )


# -- frames ----------------------------------------------------------------------------------
def _group(ids: Any) -> tuple[np.ndarray | None, np.ndarray]:
    """``(order, starts)``: the stable permutation grouping rows by image in order of first
    appearance (``None`` when the rows already are), and the first row of each group."""
    n = len(ids)
    if n == 0:
        return None, np.zeros(0, dtype=np.int64)
    if isinstance(ids, np.ndarray) and bool((ids[1:] >= ids[:-1]).all()):
        codes = ids  # sorted: grouped, and sorted order is the order of first appearance
    elif isinstance(ids, np.ndarray):
        _, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
        rank = np.empty_like(first)
        rank[np.argsort(first)] = np.arange(first.shape[0])
        codes = rank[inverse]
    else:
        seen: dict[Any, int] = {}
        codes = np.fromiter((seen.setdefault(x, len(seen)) for x in ids), dtype=np.int64, count=n)
    order = None
    if not bool((codes[1:] >= codes[:-1]).all()):
        order = np.argsort(codes, kind="stable")
        codes = codes[order]
    starts = np.concatenate(([0], np.flatnonzero(codes[1:] != codes[:-1]) + 1))
    return order, starts


#: Category ids below this bound are mapped with a lookup table instead of a sort.
_LUT_LIMIT = 1 << 16


def _unique(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Distinct ids and, when they were found by sorting, the inverse index (else ``None``)."""
    if ids.shape[0] and 0 <= int(ids.min()) and int(ids.max()) < _LUT_LIMIT:
        return np.flatnonzero(np.bincount(ids)), None  # O(N), no sort: ids are small (COCO: 1..90)
    uniq, inverse = np.unique(ids, return_inverse=True)
    return uniq, inverse


def _lookup(ids: np.ndarray, uniq: np.ndarray, mapped: list[int]) -> np.ndarray:
    table = np.full(int(uniq[-1]) + 1, -1, dtype=np.int64)
    table[uniq] = mapped
    return table[ids]


def _resolve_categories(cols: Columns, gt: gtmod.GroundTruth | None, context: Any) -> Columns:
    """Map category ids through the category table (class map, GT names); drop unmapped rows."""
    table = context.categories
    names = gt.category_names() if gt is not None else {}
    if gt is not None:
        for gt_id, name, attrs in gt.categories:
            table.declare(gt_id, name, None, attrs or None)
    if not len(cols):
        return cols
    uniq, inverse = _unique(cols.category_id)
    # Rows per distinct id: an unmapped class is counted once per prediction it drops.
    rows = (np.bincount(inverse) if inverse is not None else np.bincount(cols.category_id)[uniq]).tolist()
    mapped = []
    unknown = []
    for u, n in zip(uniq.tolist(), rows):
        if gt is not None and u not in names:
            unknown.append(u)
        resolved = table.resolve(name=names.get(u), id=u, rows=n)
        mapped.append(-1 if resolved is None else resolved)
    if unknown and gt is not None:
        context.report.warn(f"category ids not in the categories of {gt.origin}: "
                            f"{', '.join(map(str, unknown[:10]))}{' ...' if len(unknown) > 10 else ''}")
    cid = np.array(mapped, dtype=np.int64)[inverse] if inverse is not None else _lookup(cols.category_id, uniq, mapped)
    dropped = cid < 0
    if dropped.any():
        keep = np.flatnonzero(~dropped)
        cols = cols.take(keep)
        cid = cid[keep]
    cols.category_id = cid
    return cols


@dataclass
class Prepared:
    """Columns grouped by image, and what each frame needs besides them."""

    cols: Columns
    starts: np.ndarray
    regrouped: bool
    gt: gtmod.GroundTruth | None
    file: str
    base: tuple[Any, ...]
    truth: bool = False  # read as ground truth: one frame per image, annotated or not

    def _groups(self) -> Iterator[tuple[int, Any]]:
        """``(start, end)`` row ranges, one per frame: per image group, and for ground truth
        one per image of the dataset in its order (empty ranges for images without annotations)."""
        cols = self.cols
        bounds = self.starts.tolist() + [len(cols)]
        ranges = [(bounds[k], bounds[k + 1]) for k in range(len(bounds) - 1)]
        # Ground truth, and a companion file predport wrote beside results: every image is a
        # frame, those without annotations (results) frames without predictions.
        if self.gt is None or not (self.truth or self.gt.companion):
            yield from ranges
            return
        int_ids = isinstance(cols.image_id, np.ndarray)
        by_image: dict[Any, tuple[int, int]] = {}
        for s, e in ranges:
            image_id = int(cols.image_id[s]) if int_ids else cols.image_id[s]
            by_image[image_id] = (s, e)
        for image_id in self.gt.images:
            found = by_image.pop(image_id, None)
            if found is None and isinstance(image_id, str) and image_id.isdigit():
                found = by_image.pop(int(image_id), None)
            yield found if found is not None else (-1, image_id)  # an image without annotations
        yield from by_image.values()  # annotations of unknown images: reported in chunks()

    def chunks(self, context: Any) -> Iterator[FrameChunk]:
        cols, gt = self.cols, self.gt
        int_ids = isinstance(cols.image_id, np.ndarray)
        # The core's column check, once for the whole file; when it fails the frames are
        # checked one by one, and the bad one raises its located error.
        checked = predport.Detections.columns_ok(cols.score, cols.box)
        for s, e in self._groups():
            if s < 0:  # ground truth: an image with no annotation is a frame with none
                data_id, width, height = gt.image(e)  # type: ignore[union-attr,misc]
                if width is None or height is None:
                    size = context.image_size(data_id or str(e))
                    if size is not None:
                        width, height = size
                data_id = data_id or str(e)
                yield FrameChunk(data_id=data_id, width=width, height=height,
                                 attributes={} if _same_id(_id_from_data_id(data_id), e) else {"image_id": e},
                                 category_id=cols.category_id[:0], score=cols.score[:0],
                                 box=None if cols.box is None else cols.box[:0], objects={})
                continue
            image_id = int(cols.image_id[s]) if int_ids else cols.image_id[s]
            width = height = None
            data_id = None
            if gt is not None:
                found = gt.image(image_id)
                if found is None:
                    context.problem(predport.ParseError(
                        f"image_id {image_id!r} is not among the {len(gt.images)} images of {gt.origin}",
                        file=self.file, json_path=[*self.base, int(cols.source_index[s]), "image_id"],
                        field="image_id"))
                    context.report.count("records skipped: image not in the ground truth", e - s)
                    continue
                data_id, width, height = found
            if data_id is None:
                data_id = str(image_id)
            if width is None or height is None:
                size = context.image_size(data_id) or context.image_size(f"#id:{image_id}")
                if size is None and cols.mask is not None:
                    size = self._rle_size(s, e, image_id, context)
                if size is not None:
                    width, height = size
            # The image id is kept only where the data id cannot give it back: the writer turns
            # a data id of digits ("42") into the integer 42, any other into the string itself.
            attributes: dict[str, Any] = {} if _same_id(_id_from_data_id(data_id), image_id) else {"image_id": image_id}
            if self.regrouped:
                attributes["record_index"] = cols.source_index[s:e].tolist()
            objects = {}
            for name in ("polygon", "mask", "keypoints", "attributes"):
                col = getattr(cols, name)
                if col is not None:
                    part = col[s:e]
                    if any(v is not None for v in part):
                        objects[name] = part
            box = None
            if cols.box is not None:
                box = cols.box[s:e]
                if objects and np.isnan(box[:, 0]).all():
                    box = None
            yield FrameChunk(
                data_id=data_id,
                width=width,
                height=height,
                attributes=attributes,
                category_id=cols.category_id[s:e],
                score=cols.score[s:e],
                box=box,
                objects=objects,
                checked=checked,
            )

    def _rle_size(self, s: int, e: int, image_id: Any, context: Any) -> tuple[int, int] | None:
        """The image size every RLE of one image carries (``size`` is ``[height, width]``); two
        that disagree are an error."""
        found: tuple[int, int] | None = None
        masks = self.cols.mask
        assert masks is not None  # called for images with RLE masks
        for j, m in enumerate(masks[s:e]):
            if not m:
                continue
            h, w = (int(v) for v in m["size"])
            if found is None:
                found = (w, h)
            elif found != (w, h):
                context.problem(predport.ParseError(
                    f"the masks of image_id {image_id!r} disagree on the image size: {found[0]}x{found[1]} "
                    f"and {w}x{h} (width x height)",
                    file=self.file, json_path=[*self.base, int(self.cols.source_index[s + j]), "segmentation", "size"],
                    field="size"))
                return None
        return found


def _id_from_data_id(data_id: str) -> int | str:
    """The image id the COCO writer derives from a data id (``writer._image_id``): the integer
    a data id of digits without leading zeros names (``"42"`` -> 42), else the data id itself."""
    if data_id.isascii() and data_id.isdigit() and str(int(data_id)) == data_id:
        return int(data_id)
    return data_id


def _same_id(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def prepare(path: Path, context: Any) -> Prepared:
    """Load ``path``, check every record, build and group the columns (the heavy part of a read)."""
    gt_option = context.option("gt")
    gt = gtmod.load(gt_option) if gt_option else None
    file = str(path)
    with gc_paused():
        raw = read_bytes(path)
        typed = _decode_typed(raw)
        if typed is not None:
            del raw  # the bytes are not needed any more: lower peak memory
            cols = _typed_columns(typed)
            del typed
            if cols is not None:
                return _finish(cols, gt=gt, file=file, base=(), context=context)
            raw = read_bytes(path)  # a value check failed (rare): the other paths will say where
        doc, strict = loads(raw, file=file)
        del raw
        base: tuple[Any, ...] = ()
        truth = context.ground_truth
        if isinstance(doc, dict):
            recs = doc.get("annotations")
            if not isinstance(recs, list):
                raise predport.ParseError("a COCO dataset dict without an 'annotations' list holds no "
                                          + ("ground truth" if truth else "results"),
                                          file=file, json_path="$", field="annotations")
            scored = next((i for i, a in enumerate(recs) if isinstance(a, dict) and "score" in a), None)
            if truth and scored is not None:
                raise context.wrong_role("COCO results stored as a dataset: annotations carry a score",
                                         file=file, json_path=["annotations", scored, "score"], field="score")
            if not truth and recs and scored is None:
                raise predport.ParseError("COCO ground truth, not results: no annotation carries a score",
                                          file=file, json_path="$.annotations", field="score",
                                          hint="read it with role='ground_truth' (--gt-from on predport evaluate)")
            if gt is None or truth:
                gt = gtmod.from_document(doc, origin=file, error=predport.ParseError)
            base = ("annotations",)
        elif truth:
            raise context.wrong_role("a JSON array of COCO results (ground truth is a dataset dict with "
                                     "'images', 'annotations' and 'categories')", file=file, json_path="$")
        elif isinstance(doc, list):
            recs = doc
        else:
            raise predport.ParseError("COCO results are a JSON array of result objects", file=file, json_path="$")
        del doc
        found = _columnar_columns(recs) if strict else None
        if found is not None:
            cols, converted = found
            if converted:
                context.report.count(CONVERTED_RLE, converted)
        else:
            cols = _general_columns(recs, base=base, file=file, context=context, strict=strict)
        # The parsed records are the bulk of the memory: let them go before grouping.
        del recs
        return _finish(cols, gt=gt, file=file, base=base, context=context, truth=truth)


def _finish(cols: Columns, *, gt: gtmod.GroundTruth | None, file: str, base: tuple[Any, ...],
            context: Any, truth: bool = False) -> Prepared:
    cols = _resolve_categories(cols, gt, context)
    order, starts = _group(cols.image_id)
    if order is not None:
        cols = cols.take(order)
    return Prepared(cols=cols, starts=starts, regrouped=order is not None, gt=gt, file=file, base=base,
                    truth=truth)


def chunks(path: Path, context: Any) -> Iterator[FrameChunk]:
    """The ``parse`` stage: the file's records as chunks of columns, one per image (lazily: nothing is read yet)."""
    yield from prepare(path, context).chunks(context)


def frames(records: Iterable[FrameChunk]) -> Iterator[predport.Frame]:
    """The ``to_canonical`` stage: one frame per chunk, its columns already checked by ``prepare``."""
    Frame, Detections = predport.Frame, predport.Detections
    for chunk in records:
        yield Frame.model_construct(
            data_id=chunk.data_id,
            width=chunk.width,
            height=chunk.height,
            predictions=Detections(chunk.category_id, chunk.score, chunk.box, **chunk.objects,
                                   checked=chunk.checked),
            attributes=chunk.attributes,
        )
