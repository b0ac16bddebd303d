"""``Writer``: collect predictions in a model's prediction loop, write them validated on close.

The analogue of Encord Active's ``PredictionWriter``::

    with predport.Writer("preds.json", format="canonical", categories=["car", "person"]) as w:
        for image, out in model_outputs:
            for box, score, label in out:
                w.add(data_id=image.name, box=box, score=score, category=label)

Nothing is written if the block raises, or if validation fails.

Fail fast: the output path is checked when the writer is made (it exists without
``overwrite``, it is not writable, the format cannot be written), and the first
:meth:`Writer.add` that the target format could not hold raises
:class:`~predport.LossError` at the caller's line, not after a long inference run.
When :meth:`Writer.close` still refuses (a loss the writer itself reports, the output
appeared meanwhile), everything added so far stays in the writer: change
``allow_loss``, ``overwrite``, ``dest`` or ``format`` and call ``close()`` again.
"""
from __future__ import annotations

import numbers
import os
from typing import Any, Iterable, Mapping

from .errors import ConfigError

__all__ = ["Writer"]


class Writer:
    """Buffer predictions frame by frame and write them in ``format`` on :meth:`close`.

    ``categories`` declares the category table: a list of names (ids 0..n-1),
    a mapping ``{id: name}``, or a list of :class:`~predport.Category` or dicts.
    ``add(category=...)`` accepts a declared name or id; unknown names are
    added unless ``strict_categories=True``.
    """

    def __init__(
        self,
        dest: str | os.PathLike[str],
        *,
        format: str = "canonical",
        categories: Iterable[Any] | Mapping[int, str] | None = None,
        overwrite: bool = False,
        allow_loss: bool = False,
        strict_categories: bool = False,
        options: Mapping[str, Any] | None = None,
        write_options: Mapping[str, Any] | None = None,
    ) -> None:
        from .categories import CategoryTable

        if options is not None:  # the old name of write_options
            import warnings

            if write_options is not None:
                from .errors import ConfigError

                raise ConfigError("Writer() got both options= and write_options=; use write_options= only")
            warnings.warn("Writer(options=...) is deprecated; use write_options=... (the same options)",
                          DeprecationWarning, stacklevel=2)
            write_options = options

        self._info = _check_target(dest, format, overwrite)  # fail now, not at close()
        self._policy: Any = None
        self._fields_seen: set[str] = set()
        self.dest = dest
        self.format = format
        self.overwrite = overwrite
        self.allow_loss = allow_loss
        self.strict_categories = strict_categories
        self.options = dict(write_options or {})
        self.table = CategoryTable()
        if isinstance(categories, Mapping):
            for cid, name in categories.items():
                self.table.declare(int(cid), str(name))
        else:
            for i, c in enumerate(categories or []):
                if isinstance(c, str):
                    self.table.declare(i, c)
                elif isinstance(c, Mapping):
                    self.table.declare(int(c["id"]), str(c["name"]), c.get("external_id"), c.get("attributes"))
                else:
                    self.table.declare(c.id, c.name, c.external_id, c.attributes)
        self._frames: dict[tuple[str, int | None], dict[str, Any]] = {}
        self.summary: dict[str, Any] | None = None
        self._closed = False

    def _category(self, category: Any, category_id: Any) -> int:
        if category_id is not None:
            cid = int(category_id)
            if cid not in self.table and self.strict_categories:
                raise ConfigError(f"unknown category id {cid}")
            return int(self.table.resolve(id=cid))  # type: ignore[arg-type]
        if category is None:
            raise ConfigError("add() needs category= (a name or id) or category_id=")
        if isinstance(category, numbers.Integral) and not isinstance(category, bool):
            return self._category(None, int(category))  # numpy labels are ids too
        cat = self.table.by_name(str(category))
        if cat is None:
            if self.strict_categories:
                raise ConfigError(f"unknown category {category!r}")
            return int(self.table.resolve(name=str(category)))  # type: ignore[arg-type]
        return int(cat.id)

    def add(
        self,
        *,
        data_id: str,
        category: Any = None,
        category_id: int | None = None,
        score: float | None = None,
        box: Any = None,
        box_format: str = "xywh",
        polygon: Any = None,
        mask: Any = None,
        keypoints: Any = None,
        probabilities: Any = None,
        attributes: Mapping[str, Any] | None = None,
        frame: int | None = None,
        width: int | None = None,
        height: int | None = None,
    ) -> None:
        """Add one prediction.

        ``box`` is 4 numbers (a list, tuple, numpy array or tensor) in ``box_format``,
        stated, never guessed: ``"xywh"`` (left, top, width, height; the default and
        predport's own), ``"xyxy"`` (corners), ``"cxcywh"`` (centre, width, height;
        what Ultralytics calls ``xywh``), each in pixels, or with an ``n`` suffix
        (``"xyxyn"``, ``"xywhn"``, ``"cxcywhn"``) normalised to the image size, which
        then needs ``width=`` and ``height=`` (in this call or an earlier one for the
        frame). ``mask`` is a COCO RLE dict or a binary H x W array (encoded with
        pycocotools). A bad value raises a :class:`~predport.ConfigError` naming the
        field and showing the value as passed.
        """
        if self._closed:
            raise ConfigError("Writer is closed")
        from pydantic import ValidationError

        from .model import Prediction, prediction_error

        where = f"add(data_id={str(data_id)!r})"
        try:
            row, shown = self._row(data_id, frame, width, height, category, category_id, score, box, box_format,
                                   polygon, mask, keypoints, probabilities, attributes)
        except ConfigError as err:
            err.message = f"{where}: {err.message}"
            err.args = (err.message,)
            raise
        try:
            Prediction.model_validate(row)  # fail here, at the caller's line, not at close
        except ValidationError as exc:
            raise prediction_error(exc, where=where, shown=shown, error=ConfigError) from None
        self._check_loss(row, frame, width, height)
        key = (str(data_id), frame)
        buf = self._frames.setdefault(key, {"rows": [], "width": width, "height": height})
        if width is not None:
            buf["width"] = width
        if height is not None:
            buf["height"] = height
        buf["rows"].append(row)

    def _check_loss(self, row: dict[str, Any], frame: int | None, width: int | None, height: int | None) -> None:
        """Raise :class:`~predport.LossError` now when ``format`` cannot hold a field of this
        prediction that earlier ones did not have (checked once per new field: cheap)."""
        fields = {k for k, v in row.items() if v is not None and k != "category_id"}
        if frame is not None:
            fields.add("frame_index")
        if width is not None or height is not None:
            fields.add("size")
        new = fields - self._fields_seen
        if not new:
            return
        from .loss import LossPolicy, LossTracker, kind_of
        from .model import Detections, Frame

        if self._info is None or self._info.id != self.format:
            from .hub import get_hub

            self._info = get_hub().format_info(self.format)
        probe = Frame(data_id="probe", frame_index=frame, width=width, height=height,
                      predictions=Detections.from_records([row]))
        from .errors import LossError

        tracker = LossTracker(self._info, policy=LossPolicy(self.allow_loss), dest=os.fspath(self.dest))
        try:
            for _ in tracker.watch([probe]):
                pass  # raises LossError when a refused field is counted
        except LossError as err:
            kinds = sorted({kind_of(k) for k in (err.report or {})})
            kept = sum(len(v["rows"]) for v in self._frames.values())
            raise LossError(
                f"format {self.format!r} cannot hold the {', '.join(kinds)} of this prediction; it was not added "
                f"(the {kept} added before are kept)", file=os.fspath(self.dest), report=err.report,
                hint=f"make the Writer with allow_loss=True (or allow_loss={','.join(kinds)!r}), "
                     "or choose a format that holds them") from None
        self._fields_seen |= new

    def _row(self, data_id: Any, frame: int | None, width: int | None, height: int | None, category: Any,
             category_id: Any, score: Any, box: Any, box_format: str, polygon: Any, mask: Any, keypoints: Any,
             probabilities: Any, attributes: Mapping[str, Any] | None) -> tuple[dict[str, Any], dict[str, str]]:
        """The canonical row of one ``add`` call, and how the user's values read (for errors)."""
        shown: dict[str, str] = {}
        row: dict[str, Any] = {"category_id": self._category(category, category_id),
                               "score": None if score is None else _number(score, "score")}
        if box is not None:
            buf = self._frames.get((str(data_id), frame))
            size = (width if width is not None else buf and buf["width"],
                    height if height is not None else buf and buf["height"])
            row["box"] = to_xywh(box, box_format, size)
            shown["box"] = f"box={_shown(box)}, box_format={box_format!r}"
        if polygon is not None:
            rings = polygon if len(polygon) and (isinstance(polygon[0], (list, tuple))
                                                 or getattr(polygon[0], "ndim", 0) >= 1) else [polygon]
            row["polygon"] = [[_number(v, "polygon") for v in ring] for ring in rings]
        if mask is not None:
            row["mask"] = _mask_to_rle(mask)
        if keypoints is not None:
            row["keypoints"] = [list(k) if len(k) == 3 else [*k, None] for k in keypoints]
        if probabilities is not None:
            row["probabilities"] = [_number(p, "probabilities") for p in probabilities]
        if attributes:
            row["attributes"] = dict(attributes)
        return row, shown

    def add_frame(self, *, data_id: str, frame: int | None = None, width: int | None = None,
                  height: int | None = None) -> None:
        """Record a frame with no predictions (so that "nothing found" is written too)."""
        buf = self._frames.setdefault((str(data_id), frame), {"rows": [], "width": width, "height": height})
        buf["width"] = buf["width"] if width is None else width
        buf["height"] = buf["height"] if height is None else height

    def close(self) -> dict[str, Any]:
        """Validate and write everything; returns the write summary."""
        if self.summary is not None:
            return self.summary
        from .hub import get_hub
        from .context import Context
        from .model import Detections, Frame, SourceInfo
        from .stream import PredictionStream

        frames = [
            Frame(data_id=k[0], frame_index=k[1], width=v["width"], height=v["height"],
                  predictions=Detections.from_records(v["rows"]))
            for k, v in self._frames.items()
        ]
        from . import __version__

        stream = PredictionStream(frames, self.table, SourceInfo(format="writer", uri="predport.Writer",
                                                                  plugin=f"predport {__version__}"))
        self.summary = get_hub().write(stream, self.dest, format=self.format, overwrite=self.overwrite,
                                       allow_loss=self.allow_loss, context=Context(options=self.options))
        self._closed = True  # only now: a failed close (e.g. a loss refused) can be retried
        return self.summary

    def __enter__(self) -> "Writer":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self._closed = True  # an error in the loop: write nothing


def _check_target(dest: Any, format: str, overwrite: bool) -> Any:
    """The :class:`~predport.FormatInfo` of ``format``, after the checks ``close()`` would fail on:
    the format can be written, and a local ``dest`` is not in the way and can be written."""
    from pathlib import Path

    from .errors import OutputError
    from .hub import get_hub
    from .limits import is_url
    from .output import STAGING_PREFIX, dest_refusal

    info = get_hub().format_info(format)
    if not info.can_write:
        raise ConfigError(f"format {format!r} can be read but not written", plugin=info.plugin)
    if is_url(dest):
        return info  # remote outputs are checked by the store when written
    d = Path(dest)
    # Staging folders are left to the write: it recovers a killed run's before it looks.
    found = dest_refusal(d, kind=info.target, overwrite=overwrite,
                         is_staging=lambda p: p.name.startswith(STAGING_PREFIX),
                         hint="pass overwrite=True to replace it, or choose another dest")
    if found is not None and not (found[0] == "not_empty" and info.in_place):
        raise found[1]
    parent = d if d.is_dir() else d.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(f"{parent} is a file, not a folder to write into", file=str(d))
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write into {parent} (permission denied)", file=str(d))
    return info

BOX_FORMATS = ("xywh", "xyxy", "cxcywh", "xywhn", "xyxyn", "cxcywhn")


def _shown(value: Any) -> str:
    """A value as the user passed it, readable (numpy arrays and tensors as lists)."""
    tolist = getattr(value, "tolist", None)
    return repr(tolist() if callable(tolist) else list(value) if isinstance(value, tuple) else value)


def _number(value: Any, field: str) -> float:
    if isinstance(value, (str, bytes, bool)) or value is None:
        raise ConfigError(f"{field}: a number is needed (got {value!r})", field=field)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{field}: a number is needed (got {value!r})", field=field) from None


def to_xywh(box: Any, box_format: str, size: tuple[Any, Any] = (None, None)) -> list[float]:
    """``box`` in ``box_format`` (one of :data:`BOX_FORMATS`) as predport's ``[x, y, w, h]`` pixels.

    ``size`` is the image ``(width, height)``, needed by the normalised formats. Corners
    in the wrong order are refused, not swapped.
    """
    if box_format not in BOX_FORMATS:
        raise ConfigError(f"unknown box_format {box_format!r}: one of {', '.join(BOX_FORMATS)}",
                          field="box_format")
    try:
        values = list(box)
    except TypeError:
        raise ConfigError(f"box needs 4 numbers, got {_shown(box)}", field="box") from None
    if len(values) != 4:
        raise ConfigError(f"box needs 4 numbers, got {len(values)}: {_shown(box)}", field="box")
    a, b, c, d = (_number(v, "box") for v in values)
    fmt = box_format
    if fmt.endswith("n"):
        w, h = size
        if not w or not h:
            raise ConfigError(f"box_format {box_format!r} is normalised to the image size: pass width= "
                              f"and height= (box={_shown(box)})", field="box_format")
        a, b, c, d, fmt = a * w, b * h, c * w, d * h, fmt[:-1]
    if fmt == "xyxy":
        if c < a or d < b:
            raise ConfigError(f"box={_shown(box)}, box_format={box_format!r}: the second corner is "
                              f"{'left' if c < a else 'above'} of the first (x2 < x1 or y2 < y1)", field="box")
        return [a, b, c - a, d - b]
    if fmt == "cxcywh":
        return [a - c / 2, b - d / 2, c, d]
    return [a, b, c, d]


def _mask_to_rle(mask: Any) -> dict[str, Any]:
    if isinstance(mask, Mapping):
        counts = mask.get("counts")
        if isinstance(counts, bytes):
            counts = counts.decode("ascii")
        if not isinstance(counts, str):
            raise ConfigError("mask RLE needs compressed string counts", field="mask")
        return {"size": [int(mask["size"][0]), int(mask["size"][1])], "counts": counts}
    import numpy as np

    try:
        from pycocotools import mask as mask_utils
    except ImportError:  # pragma: no cover - pycocotools comes with predport-coco
        raise ConfigError("encoding a binary mask needs pycocotools (pip install pycocotools)", field="mask") from None
    arr = np.asfortranarray(np.asarray(mask).astype(np.uint8))
    if arr.ndim != 2:
        raise ConfigError("a mask must be a 2-D binary array", field="mask")
    rle = mask_utils.encode(arr)
    return {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": rle["counts"].decode("ascii")}
