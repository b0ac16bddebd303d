"""The canonical model: categories, frames, predictions.

Conventions (stated once, here and in the JSON Schema):

* Coordinates are **pixels**, origin at the **top-left** corner, x to the right,
  y downwards. Normalised coordinates are derived on export from a frame's
  ``width``/``height`` and never stored.
* ``box`` is ``[x, y, width, height]`` (COCO order), width and height >= 0.
* ``polygon`` is a list of rings, each a flat list ``[x0, y0, x1, y1, ...]``.
  The first ring is an outer boundary; rings listed in ``attributes["holes"]``
  (indices) are holes. Without that attribute every ring is an outer part.
* ``mask`` is COCO **compressed** RLE: ``{"size": [height, width], "counts": str}``,
  column-major (Fortran) order, first run counts zeros.
* ``keypoints`` is a list of ``[x, y, v]`` triplets; ``v`` is what the source
  gave (COCO visibility 0/1/2, a Lightly per-point score) or ``null``.
* ``score`` is kept exactly as given (KITTI scores are often outside [0, 1]);
  ``None`` (JSON ``null``) means the source has no score. Never invented.
* ``frame_index`` is 0-based.

In memory the predictions of a frame are columns (:class:`Detections`): numpy
arrays for category ids, scores and boxes, and Python lists for the rarer
geometry. Per-prediction :class:`Prediction` objects are a convenience view.
"""
from __future__ import annotations

import math
from typing import Annotated, Any, Iterable, Iterator, Literal, Mapping, NoReturn, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic_core import core_schema

from .format_detection import PREDICTION_FIELDS
from .errors import ParseError, PredportError

__all__ = [
    "SCHEMA_NAME",
    "RLE",
    "Box3D",
    "Prediction",
    "Category",
    "SourceInfo",
    "Frame",
    "PredictionSet",
    "Detections",
    "PREDICTION_FIELDS",
]

SCHEMA_NAME: Literal["predport/prediction-set/1"] = "predport/prediction-set/1"

_STRICT = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

Coord = Annotated[float, Field(description="pixels")]
NonNeg = Annotated[float, Field(ge=0, description="pixels, >= 0")]
Box = Annotated[
    tuple[Coord, Coord, NonNeg, NonNeg],
    Field(description="[x, y, width, height] in pixels, origin top-left"),
]
Ring = Annotated[
    list[float],
    Field(min_length=6, description="flat [x0, y0, x1, y1, ...] in pixels, at least 3 points"),
]
Keypoint = Annotated[
    tuple[float, float, float | None],
    Field(description="[x, y, v]: pixels, and the source's visibility or score (or null)"),
]
JsonValue = Any


class RLE(BaseModel):
    """A binary mask as COCO compressed RLE (column-major, first run counts zeros)."""

    model_config = _STRICT
    size: Annotated[
        tuple[Annotated[int, Field(ge=0)], Annotated[int, Field(ge=0)]],
        Field(description="[height, width] in pixels"),
    ]
    counts: Annotated[str, Field(description="pycocotools compressed counts string")]


class Box3D(BaseModel):
    """A 3-D box: centre position, dimensions along its own axes, rotation quaternion."""

    model_config = _STRICT
    position: Annotated[tuple[float, float, float], Field(description="centre, in the source coordinate frame")]
    dimensions: Annotated[
        tuple[Annotated[float, Field(ge=0)], Annotated[float, Field(ge=0)], Annotated[float, Field(ge=0)]],
        Field(description="size along the box axes, in the units of the source (metres for 3-D data)"),
    ]
    rotation: Annotated[
        tuple[float, float, float, float], Field(description="quaternion in x, y, z, w order")
    ]
    coordinate_frame: str | None = None


class Prediction(BaseModel):
    """One prediction: a category, a score, and any of the geometries."""

    model_config = _STRICT
    category_id: int
    score: Annotated[
        float | None,
        Field(description="as given by the source; null when the source has no score"),
    ]
    box: Box | None = None
    polygon: list[Ring] | None = None
    mask: RLE | None = None
    keypoints: list[Keypoint] | None = None
    probabilities: list[float] | None = None
    box3d: Box3D | None = None
    attributes: dict[str, JsonValue] = Field(default_factory=dict)


_OBJECT_FIELDS = PREDICTION_FIELDS[1:]  # the fields held as lists (all but the box)
_INT64 = np.dtype(np.int64)
_FLOAT64 = np.dtype(np.float64)


class Category(BaseModel):
    """A category: integer id, name, and an optional external id (ontology hash)."""

    model_config = _STRICT
    id: int
    name: Annotated[str, Field(min_length=1)]
    external_id: str | None = None
    attributes: dict[str, JsonValue] = Field(default_factory=dict)


class SourceInfo(BaseModel):
    """Where a prediction set came from."""

    model_config = _STRICT
    format: str
    uri: str
    plugin: str


def _finite_or_none(value: Any) -> float | None:
    if value is None:
        return None
    f = float(value)
    return None if math.isnan(f) else f


def _column_error(message: str, field: str, row: int | None = None) -> ParseError:
    where = "" if row is None else f"prediction {row}: "
    return ParseError(f"{where}{message}", field=field)


def prediction_error(exc: Any, *, row: int | None = None, where: str | None = None,
                     shown: Mapping[str, str] | None = None, error: type[PredportError] = ParseError) -> PredportError:
    """The located error for a prediction pydantic refused (``exc``, a ValidationError).

    One wording for every path (a list of prediction dicts, columns, ``Writer.add``):
    ``prediction <row>: <field>: <what> (got <value>)``. ``where`` replaces the
    ``prediction <row>`` prefix; ``shown`` replaces the refused value by what the caller
    passed for that field (the ``Writer`` shows the user's box, not the converted one).
    """
    first = exc.errors()[0]
    loc = [str(p) for p in first.get("loc", ())]
    field = loc[0] if loc else None
    if len(loc) == 2 and loc[0] == "box" and loc[1] in "0123":
        what = f"box {('x', 'y', 'width', 'height')[int(loc[1])]}"
    else:
        what = loc[0] + "".join(f"[{p}]" for p in loc[1:]) if loc else "prediction"
    if shown is not None and field is not None and field in shown:
        got = shown[field]
    else:
        got = f"got {first.get('input')!r}"
    head = where if where is not None else f"prediction {row}"
    return error(f"{head}: {what}: {first.get('msg')} ({got})", field=field)


def _id_column(values: Any) -> np.ndarray:
    """Category ids as int64 (N,): integral numbers only (a float 1.5 is refused, not truncated)."""
    arr = np.asarray(values)
    if arr.ndim > 1:
        raise _column_error(f"category_id must be one-dimensional, got shape {arr.shape}", "category_id")
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64).reshape(-1)
    try:
        as_float = arr.astype(np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise _column_error(f"category ids must be integers, got {arr.dtype} values", "category_id") from None
    bad = ~np.isfinite(as_float) | (as_float != np.round(as_float)) if arr.dtype.kind != "b" else None
    if bad is not None and bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise _column_error(f"category_id: not an integer (got {arr.reshape(-1)[i].item()!r})", "category_id", i)
    return as_float.astype(np.int64)


def _float_column(values: Any, field: str, ndim: int = 1) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise _column_error(f"{field} must be numbers: {exc}", field) from None
    if ndim == 1:
        if arr.ndim > 1:
            raise _column_error(f"{field} must be one-dimensional, got shape {arr.shape}", field)
        return arr.reshape(-1)
    return arr


def _score_list(score: Sequence[Any]) -> np.ndarray:
    """Scores from a list: ``None`` is "no score" (NaN in the column); a NaN given as a number is refused."""
    sc = _float_column([np.nan if s is None else s for s in score], "score")
    nan = np.isnan(sc)
    if nan.any():
        for i in np.flatnonzero(nan).tolist():
            if score[i] is not None:
                raise _column_error(f"score: Input should be a finite number (got {score[i]!r}; "
                                    "None means no score)", "score", i)
    return sc


def _columns_ok(sc: np.ndarray, bx: np.ndarray | None) -> bool:
    """Whether score and box columns hold only what the canonical model allows.

    Scores: finite, or NaN for "no score". Boxes: each row all finite with width and
    height >= 0, or all NaN (no box). The common case costs three reductions (a sum is
    finite only when every value is); only a frame with NaN rows or a bad value looks
    at the rows one by one (still vectorised).
    """
    if sc.shape[0] and not math.isfinite(float(sc.sum())) and bool(np.isinf(sc).any()):
        return False
    if bx is None or not bx.shape[0]:
        return True
    if math.isfinite(float(bx.sum())) and bx[:, 2:].min() >= 0:
        return True
    return not _bad_boxes(bx).any()


def _bad_boxes(bx: np.ndarray) -> np.ndarray:
    nan = np.isnan(bx)
    return (nan.any(axis=1) & ~nan.all(axis=1)) | np.isinf(bx).any(axis=1) | (bx[:, 2:] < 0).any(axis=1)


def _check_columns(sc: np.ndarray, bx: np.ndarray | None) -> None:
    """Refuse what the canonical model refuses, vectorised, once per Detections: a bad row
    is located and described exactly as the same prediction given as a dict would be."""
    if _columns_ok(sc, bx):
        return
    inf = np.isinf(sc)
    if inf.any():
        _refuse_row(int(np.flatnonzero(inf)[0]), sc, bx)
    assert bx is not None
    _refuse_row(int(np.flatnonzero(_bad_boxes(bx))[0]), sc, bx)


def _refuse_row(i: int, sc: np.ndarray, bx: np.ndarray | None) -> NoReturn:
    from pydantic import ValidationError

    s = float(sc[i])
    rec: dict[str, Any] = {"category_id": 0, "score": None if math.isnan(s) else s}
    if bx is not None and not np.isnan(bx[i]).all():
        rec["box"] = bx[i].tolist()
    try:
        Prediction.model_validate(rec)
    except ValidationError as exc:
        raise prediction_error(exc, row=i) from None
    raise _column_error(f"invalid values (score {s!r}, box {rec.get('box')!r})", "box", i)  # pragma: no cover


class Detections:
    """The predictions of one frame, as columns. Row ``i`` is one prediction.

    * ``category_id`` — int64 array, shape (N,)
    * ``score`` — float64 array, shape (N,); NaN means "no score" (``null``)
    * ``box`` — float64 array (N, 4) ``[x, y, w, h]`` pixels, or ``None`` when there
      are rows and none has a box; a row of NaN means that row has none. With no rows
      all three are empty arrays (``box`` of shape (0, 4)), never ``None``
    * ``polygon``, ``mask``, ``keypoints``, ``probabilities``, ``box3d``,
      ``attributes`` — ``None`` when no row has one, else a list of length N
      holding the JSON-ready value or ``None`` per row

    Detections are immutable by convention: build a new one instead of editing.
    """

    __slots__ = ("category_id", "score", "box") + _OBJECT_FIELDS

    def __init__(
        self,
        category_id: Any,
        score: Any = None,
        box: Any = None,
        polygon: Sequence[Any] | None = None,
        mask: Sequence[Any] | None = None,
        keypoints: Sequence[Any] | None = None,
        probabilities: Sequence[Any] | None = None,
        box3d: Sequence[Any] | None = None,
        attributes: Sequence[Any] | None = None,
        *,
        checked: bool = False,
    ) -> None:
        # Readers hand in arrays of the right dtype already: check them cheaply (this
        # runs once per frame, 50,000 times for a Lightly folder). Native int64/float64
        # arrays mostly share numpy's dtype singletons, so ``is`` decides the common case
        # (an unpickled array has an equal dtype of its own: ``==``, still no copy); any
        # other array (a byte-swapped one, say) is converted. Whatever the path, the
        # columns are then checked once, vectorised (:func:`_check_columns`): the same
        # values a list of prediction dicts is refused for are refused here.
        if type(category_id) is np.ndarray and category_id.ndim == 1 and (
                category_id.dtype is _INT64 or category_id.dtype == _INT64):
            cid = category_id
        else:
            cid = _id_column(category_id)
        n = cid.shape[0]
        if score is None:
            sc = np.full(n, np.nan)
        elif type(score) is np.ndarray:
            sc = score if score.ndim == 1 and (score.dtype is _FLOAT64 or score.dtype == _FLOAT64) \
                else _float_column(score, "score")
        else:
            sc = _score_list(score)
        if sc.shape[0] != n:
            raise _column_error(f"score has {sc.shape[0]} rows, category_id has {n}", "score")
        bx: np.ndarray | None
        if box is not None:
            bx = box if type(box) is np.ndarray and (box.dtype is _FLOAT64 or box.dtype == _FLOAT64) \
                else _float_column(box, "box", ndim=2)
            if bx.size == 0:
                bx = bx.reshape(0, 4)
            if bx.shape != (n, 4):
                raise _column_error(f"box must have shape ({n}, 4), got {bx.shape}", "box")
        else:
            # No predictions: an empty (0, 4) array, so that ``box[:2]`` works on every
            # empty frame; ``None`` only says "rows, none of them with a box".
            bx = None if n else np.zeros((0, 4))
        if not checked:
            _check_columns(sc, bx)
        self.category_id = cid
        self.score = sc
        self.box = bx
        self.polygon = self.mask = self.keypoints = self.probabilities = self.box3d = self.attributes = None
        if polygon is None and mask is None and keypoints is None and probabilities is None \
                and box3d is None and attributes is None:
            return
        for name, col in (
            ("polygon", polygon),
            ("mask", mask),
            ("keypoints", keypoints),
            ("probabilities", probabilities),
            ("box3d", box3d),
            ("attributes", attributes),
        ):
            if col is not None:
                col = list(col)
                if len(col) != n:
                    raise _column_error(f"{name} has {len(col)} rows, category_id has {n}", name)
                if all(v is None or (name == "attributes" and not v) for v in col):
                    col = None
                setattr(self, name, col)

    # -- construction -------------------------------------------------------------
    @staticmethod
    def columns_ok(score: np.ndarray, box: np.ndarray | None) -> bool:
        """Whether float64 ``score`` (N,) and ``box`` (N, 4) columns pass the checks every
        ``Detections`` makes (finite scores or NaN; box rows finite with width, height >= 0,
        or all NaN), vectorised.

        For a reader that decodes a batch of frames into one set of arrays: check the batch
        once, and build each frame from slices with ``Detections(..., checked=True)``,
        which skips the per-frame check (shapes are still checked). When the batch fails,
        build the frames without ``checked`` so that the bad one raises its located error.
        """
        return _columns_ok(score, box)

    @classmethod
    def empty(cls) -> "Detections":
        return cls(np.zeros(0, dtype=np.int64))

    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, Any] | Prediction]) -> "Detections":
        """Build columns from prediction dicts (canonical JSON shape) or :class:`Prediction` objects."""
        recs = [
            r.model_dump(mode="json", exclude_none=True) if isinstance(r, Prediction) else r for r in records
        ]
        n = len(recs)
        cid = [r["category_id"] for r in recs]
        score = [r.get("score") for r in recs]
        # One pass to learn which keys occur at all: most sets hold boxes and nothing else.
        present = set().union(*recs) if recs else set()
        box = None
        if "box" in present and any(r.get("box") is not None for r in recs):
            box = [r["box"] if r.get("box") is not None else (np.nan,) * 4 for r in recs]
        cols: dict[str, Any] = {}
        for name in _OBJECT_FIELDS:
            if name in present and any(r.get(name) for r in recs):
                vals = []
                for r in recs:
                    v = r.get(name)
                    if isinstance(v, BaseModel):
                        v = v.model_dump()
                    vals.append(v)
                cols[name] = vals
        return cls(np.asarray(cid, dtype=np.int64).reshape(n), score, box, **cols)

    @classmethod
    def concat(cls, parts: Sequence["Detections"]) -> "Detections":
        """Stack several column sets (rows of the first come first)."""
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        if len(parts) == 1:
            return parts[0]
        cid = np.concatenate([p.category_id for p in parts])
        sc = np.concatenate([p.score for p in parts])
        box = None
        if any(p.box is not None for p in parts):
            box = np.concatenate(
                [p.box if p.box is not None else np.full((len(p), 4), np.nan) for p in parts]
            )
        cols: dict[str, Any] = {}
        for name in _OBJECT_FIELDS:
            if any(getattr(p, name) is not None for p in parts):
                merged: list[Any] = []
                for p in parts:
                    col = getattr(p, name)
                    merged.extend(col if col is not None else [None] * len(p))
                cols[name] = merged
        return cls(cid, sc, box, **cols)

    # -- access -------------------------------------------------------------------
    def __len__(self) -> int:
        return self.category_id.shape[0]

    def has(self, name: str) -> bool:
        """Whether any row carries field ``name`` (``score`` counts non-null scores)."""
        if name == "score":
            return bool(np.any(~np.isnan(self.score)))
        if name == "box":
            return self.box is not None and bool(np.any(~np.isnan(self.box[:, 0])))
        return getattr(self, name) is not None

    def count(self, name: str) -> int:
        """How many rows carry field ``name``."""
        if name == "score":
            return int(np.count_nonzero(~np.isnan(self.score)))
        if name == "box":
            return 0 if self.box is None else int(np.count_nonzero(~np.isnan(self.box[:, 0])))
        if name == "category_id":
            return len(self)
        col = getattr(self, name)
        if col is None:
            return 0
        return sum(1 for v in col if v)

    def take(self, index: Any) -> "Detections":
        """A new Detections of the rows selected by a boolean mask or an index array."""
        idx = np.asarray(index)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        cols: dict[str, Any] = {}
        for name in _OBJECT_FIELDS:
            col = getattr(self, name)
            cols[name] = None if col is None else [col[i] for i in idx.tolist()]
        return Detections(
            self.category_id[idx],
            self.score[idx],
            None if self.box is None else self.box[idx],
            **cols,
        )

    def to_records(self) -> list[dict[str, Any]]:
        """The rows as canonical JSON dicts (``score`` always present, ``null`` when absent).

        This is the hot path of every JSON writer: columns are turned into Python
        lists once, and the common boxes-only case is built in one comprehension.
        """
        cid = self.category_id.tolist()
        nan = np.isnan(self.score)
        score = self.score.tolist()
        if nan.any():
            score = [None if m else s for s, m in zip(score, nan.tolist())]
        others = [name for name in _OBJECT_FIELDS if getattr(self, name) is not None]
        box = self.box
        if box is not None and not others and not np.isnan(box[:, 0]).any():
            return [
                {"category_id": c, "score": s, "box": b}
                for c, s, b in zip(cid, score, box.tolist())
            ]
        recs = [{"category_id": c, "score": s} for c, s in zip(cid, score)]
        if box is not None:
            for r, b in zip(recs, box.tolist()):
                if b[0] == b[0]:  # not NaN
                    r["box"] = b
        for name in others:
            for r, v in zip(recs, getattr(self, name)):
                if v is not None and not (name == "attributes" and not v):
                    r[name] = v
        return recs

    def __iter__(self) -> Iterator[Prediction]:
        """Per-prediction view (validated :class:`Prediction` objects). Slow; for convenience."""
        for rec in self.to_records():
            yield Prediction.model_validate(rec)

    def __getitem__(self, i: int) -> Prediction:
        return Prediction.model_validate(self.take([i]).to_records()[0])

    def equals(self, other: "Detections") -> bool:
        """Exact equality of every column (NaN equals NaN)."""
        if not isinstance(other, Detections) or len(self) != len(other):
            return False
        return self.to_records() == other.to_records()

    __eq__ = equals  # type: ignore[assignment]
    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        present = [n for n in ("box",) + _OBJECT_FIELDS if self.has(n)]
        return f"Detections(n={len(self)}, fields={present})"

    # -- pydantic integration -------------------------------------------------------
    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> Any:
        def validate(value: Any) -> "Detections":
            if isinstance(value, Detections):
                return value
            if isinstance(value, (list, tuple)):
                from pydantic import ValidationError

                checked = []
                for i, v in enumerate(value):
                    try:
                        checked.append(v if isinstance(v, Prediction) else Prediction.model_validate(v))
                    except ValidationError as exc:
                        # A PredportError (not a ValueError) leaves pydantic as it is: the same
                        # located error as for the same values given as columns.
                        raise prediction_error(exc, row=i) from None
                return cls.from_records(checked)
            raise TypeError("predictions must be a list of predictions or a Detections")

        return core_schema.no_info_plain_validator_function(
            validate,
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda d: d.to_records(), when_used="always"
            ),
        )

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: Any, handler: GetJsonSchemaHandler) -> Any:
        return handler(core_schema.list_schema(Prediction.__pydantic_core_schema__))


class Frame(BaseModel):
    """One data unit (an image, or one frame of a video) and its predictions."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)
    data_id: Annotated[
        str, Field(min_length=1, description="file name, data hash or frame id of the data unit")
    ]
    # within int64, like every id (predport.limits): what every writer and numpy column can hold
    frame_index: Annotated[int | None, Field(ge=0, le=2**63 - 1, description="0-based video frame")] = None
    width: Annotated[int | None, Field(gt=0, le=2**63 - 1, description="image width in pixels")] = None
    height: Annotated[int | None, Field(gt=0, le=2**63 - 1, description="image height in pixels")] = None
    predictions: Detections = Field(default_factory=Detections.empty)
    attributes: dict[str, JsonValue] = Field(default_factory=dict)

    def to_json_dict(self, *, with_predictions: bool = True) -> dict[str, Any]:
        """The frame as a canonical JSON dict (fast path: no pydantic serialisation).

        ``with_predictions=False`` leaves ``predictions`` an empty list, for writers
        that serialise the prediction columns themselves (the canonical writer does
        for boxes-only frames).
        """
        out: dict[str, Any] = {
            "data_id": self.data_id,
            "frame_index": self.frame_index,
            "width": self.width,
            "height": self.height,
            "predictions": self.predictions.to_records() if with_predictions else [],
        }
        if self.attributes:
            out["attributes"] = self.attributes
        return out

    @property
    def key(self) -> tuple[str, int | None]:
        return (self.data_id, self.frame_index)


class PredictionSet(BaseModel):
    """A whole canonical document: source, categories and frames."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
    schema_name: Literal["predport/prediction-set/1"] = Field(default=SCHEMA_NAME, alias="schema")
    source: SourceInfo | None = None
    categories: list[Category] = Field(default_factory=list)
    frames: list[Frame] = Field(default_factory=list)

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def num_predictions(self) -> int:
        return sum(len(f.predictions) for f in self.frames)

    def category(self, category_id: int) -> Category | None:
        for c in self.categories:
            if c.id == category_id:
                return c
        return None

    def frame(self, data_id: str, frame_index: int | None = None) -> Frame | None:
        for f in self.frames:
            if f.data_id == data_id and f.frame_index == frame_index:
                return f
        return None

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "schema": self.schema_name,
            "source": None if self.source is None else self.source.model_dump(),
            "categories": [c.model_dump() for c in self.categories],
            "frames": [f.to_json_dict() for f in self.frames],
        }

    def summary(self) -> dict[str, Any]:
        """Counts for humans and scripts: frames, predictions, and predictions per field."""
        fields = {n: 0 for n in ("score", "box") + _OBJECT_FIELDS}
        for f in self.frames:
            for n in fields:
                fields[n] += f.predictions.count(n)
        return {
            "frames": len(self.frames),
            "predictions": self.num_predictions,
            "categories": len(self.categories),
            "with": {k: v for k, v in fields.items() if v},
        }
