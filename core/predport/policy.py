"""The policies, applied by the core to every frame of every reader (and before every writer).

One rule for every format (docs/guide.md, "Policies"; docs/hooks.md, "The context"):

* a bad record is a located :class:`~predport.PredportError` a plugin hands to
  :meth:`Context.problem <predport.Context.problem>` (or raises): ``fail`` stops the run,
  ``skip`` and ``clamp`` count it and leave the record out;
* a coordinate outside the image is a located error a plugin hands to
  :meth:`Context.outside_image <predport.Context.outside_image>`: under ``clamp`` the value
  is kept and the core clamps the frame's boxes and polygons to the image here, when the
  frame has its size (:data:`BOXES_CLAMPED`, :data:`POLYGONS_CLAMPED`; a frame without a
  size is counted as :data:`FRAMES_WITHOUT_SIZE`); under ``fail`` and ``skip`` it is a bad
  record;
* a class the user's class map does not list is left out and counted per class
  (``unmapped_classes`` in the report) under every policy: it is the user's choice of
  classes, not a bad record. :meth:`Context.resolve <predport.Context.resolve>` returns
  ``None`` for it and counts it; the reader leaves the row out.
"""
from __future__ import annotations

from typing import Any, Iterable, Iterator

__all__ = ["POLICIES", "BOXES_CLAMPED", "POLYGONS_CLAMPED", "FRAMES_WITHOUT_SIZE", "clamp_frame", "clamp_frames"]

#: ``fail`` — the first bad record stops the run (default); ``skip`` — bad records
#: are counted, reported and left out; ``clamp`` — like ``skip``, and boxes that
#: leave the image are clamped to it where the image size is known.
POLICIES = ("fail", "skip", "clamp")

#: Report key: boxes the ``clamp`` policy clamped to the image.
BOXES_CLAMPED = "clamp.boxes"
#: Report key: polygons with a point the ``clamp`` policy moved onto the image.
POLYGONS_CLAMPED = "clamp.polygons"
#: Report key: frames with predictions but no image size, which ``clamp`` could not clamp.
FRAMES_WITHOUT_SIZE = "clamp.frames_without_size"


def _clamp_boxes(box: Any, width: float, height: float) -> tuple[Any, int]:
    """``[x, y, w, h]`` boxes clamped to the image: ``(boxes, changed)``, by the shared rule
    (:func:`predport.clamp_boxes`); rows of NaN stay NaN."""
    from .values import clamp_boxes

    return clamp_boxes(box, width, height)


def _clamp_rings(rings: Any, width: float, height: float) -> tuple[Any, bool]:
    changed = False
    out = []
    for ring in rings:
        new = []
        for k, v in enumerate(ring):
            top = width if k % 2 == 0 else height
            c = 0.0 if v < 0 else top if v > top else v
            changed = changed or c != v
            new.append(c)
        out.append(new)
    return (out, True) if changed else (rings, False)


def clamp_frame(frame: Any, report: Any = None, size_of: Any = None, *, count_unsized: bool = True) -> Any:
    """``frame`` with its boxes and polygons clamped to its image (``width`` x ``height``, else
    ``size_of(data_id)``, the user's sizes); the frame itself when nothing leaves the image.
    Counts what changed in ``report``."""
    dets = frame.predictions
    if not len(dets):
        return frame
    width, height = frame.width, frame.height
    if (width is None or height is None) and size_of is not None:
        width, height = size_of(frame.data_id) or (None, None)
    if width is None or height is None:
        if report is not None and count_unsized:
            report.count(FRAMES_WITHOUT_SIZE)
        return frame
    box, nbox = (dets.box, 0) if dets.box is None else _clamp_boxes(dets.box, width, height)
    polygon, npoly = dets.polygon, 0
    if polygon is not None:
        polygon = list(polygon)
        for i, rings in enumerate(polygon):
            if rings:
                polygon[i], moved = _clamp_rings(rings, width, height)
                npoly += moved
    if not nbox and not npoly:
        return frame
    if report is not None:
        if nbox:
            report.count(BOXES_CLAMPED, nbox)
        if npoly:
            report.count(POLYGONS_CLAMPED, npoly)
    from .model import Detections

    new = Detections(dets.category_id, dets.score, box, polygon=polygon, mask=dets.mask,
                     keypoints=dets.keypoints, probabilities=dets.probabilities, box3d=dets.box3d,
                     attributes=dets.attributes)
    return frame.model_copy(update={"predictions": new})


def clamp_frames(frames: Iterable[Any], report: Any = None, size_of: Any = None, *,
                 count_unsized: bool = True) -> Iterator[Any]:
    """:func:`clamp_frame` over a stream of frames (the hub wraps every read and write under ``clamp``;
    a frame without a size is counted once, when read: ``count_unsized=False`` before a writer)."""
    for frame in frames:
        yield clamp_frame(frame, report, size_of, count_unsized=count_unsized)
