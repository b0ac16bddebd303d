"""What an evaluation returns: :class:`EvaluationResult` and its parts (plain data, JSON-ready)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterator

#: The frame attributes per-frame results are written back as (``attach``).
FRAME_ATTRIBUTES = ("eval.tp", "eval.fp", "eval.fn", "eval.mean_iou")


@dataclass(frozen=True)
class FrameResult:
    """One data unit at the per-frame IoU threshold: true and false positives, misses,
    and the mean IoU of its matched pairs (``None`` when nothing matched)."""

    data_id: str
    frame_index: int | None
    tp: int
    fp: int
    fn: int
    mean_iou: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"data_id": self.data_id, "frame_index": self.frame_index, "tp": self.tp, "fp": self.fp,
                "fn": self.fn, "mean_iou": self.mean_iou}

    def attributes(self) -> dict[str, Any]:
        """The ``eval.*`` frame attributes."""
        return {"eval.tp": self.tp, "eval.fp": self.fp, "eval.fn": self.fn, "eval.mean_iou": self.mean_iou}

    @property
    def errors(self) -> int:
        return self.fp + self.fn


@dataclass(frozen=True)
class SemanticFrameResult(FrameResult):
    """A frame of a semantic evaluation, in pixels: ``tp`` pixels of the right class, ``fp`` pixels
    predicted as another class, ``fn`` counted pixels not given their class (``fp`` plus pixels no
    prediction paints); ``mean_iou`` the frame's mIoU; ``pixel_accuracy`` ``tp`` / counted pixels."""

    pixel_accuracy: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "pixel_accuracy": self.pixel_accuracy}

    def attributes(self) -> dict[str, Any]:
        return {**super().attributes(), "eval.pixel_accuracy": self.pixel_accuracy}


def worst_first_key(r: FrameResult) -> tuple[Any, ...]:
    """Most errors first; then the lowest mean IoU (no match counts as 0); then by name."""
    return (-(r.fp + r.fn), r.mean_iou if r.mean_iou is not None else 0.0, r.data_id, r.frame_index or 0)


@dataclass(frozen=True)
class ConfusionMatrix:
    """Counts ``matrix[true][predicted]`` over ``labels`` (the classes, then ``"background"``).

    A ground-truth object without a detection counts in its row's background column; a
    detection without a ground-truth object counts in the background row. Matching is
    class-agnostic, greedy by IoU (>= ``iou_threshold``), detections with a score >=
    ``score_threshold`` (all when ``None``); crowd and ignored regions take no part, and a
    detection that overlaps one (as COCO measures a crowd) is left out, not counted.

    Semantic evaluation: pixel counts over the classes, then ``"unlabelled"`` (pixels no
    prediction paints); ``iou_threshold`` and ``score_threshold`` are ``None``.
    """

    labels: list[str]
    matrix: list[list[int]]
    iou_threshold: float | None
    score_threshold: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"labels": list(self.labels), "matrix": [list(r) for r in self.matrix],
                "iou_threshold": self.iou_threshold, "score_threshold": self.score_threshold}


class _Computed:
    """A dataclass field that may be given as a function of no arguments: called on first read.

    The confusion matrix needs a matching of its own (class-agnostic); an evaluation asked
    only for the metrics does not pay for it until ``result.confusion`` is read.
    """

    def __set_name__(self, owner: Any, name: str) -> None:
        self._slot = "_" + name

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return None  # the field's default
        value = obj.__dict__.get(self._slot)
        if callable(value):
            value = value()
            obj.__dict__[self._slot] = value
        return value

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self._slot] = value


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass
class EvaluationResult:
    """The result of :func:`predport_eval.evaluate`.

    * ``metrics`` — the summary statistics by name (COCO: ``AP`` ... ``ARl``; keypoints: ``AP``
      ... ``ARl`` of ``COCOeval``'s ten; KITTI: ``AP_easy`` ...; semantic: ``mIoU`` ...), -1 where
      the reference tool gives -1 (no ground truth in that range);
    * ``per_class`` — one dict per ground-truth class: ``category``, ``category_id`` and its metrics;
    * ``per_frame`` — :class:`FrameResult` per data unit, worst first (semantic:
      :class:`SemanticFrameResult`, in pixels, lowest mIoU first);
    * ``unmatched`` — counts of what only one side has (frames, classes, rows);
    * ``confusion`` — :class:`ConfusionMatrix` (pixels for semantic evaluation; ``None`` for keypoints);
    * ``pr_curves`` — per class: ``recall``, ``precision`` (101 points, COCO's interpolation), ``iou``.
    """

    iou_type: str
    metrics: dict[str, Any]  # numbers, None where a metric is undefined
    per_class: list[dict[str, Any]]
    per_frame: list[FrameResult]
    unmatched: dict[str, Any]
    confusion: ConfusionMatrix | None = _Computed()  # type: ignore[assignment]
    pr_curves: dict[str, dict[str, Any]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    per_detection: list[dict[str, Any]] | None = _Computed()  # type: ignore[assignment]
    #: The same as columns (``{"data_id": [...], "status": [...], ...}``), what the CLI writes.
    per_detection_columns: dict[str, list[Any]] | None = field(default=None, repr=False)
    #: Prediction frame ``(data_id, frame_index)`` -> the ground-truth frame it was paired with.
    links: dict[tuple[str, int | None], tuple[str, int | None]] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The ``predport evaluate --json`` object."""
        out = {
            "iou_type": self.iou_type,
            "metrics": {k: _clean(v) for k, v in self.metrics.items()},
            "per_class": [{k: _clean(v) for k, v in row.items()} for row in self.per_class],
            "per_frame": [r.to_dict() for r in self.per_frame],
            "unmatched": self.unmatched,
            "confusion": None if self.confusion is None else self.confusion.to_dict(),
            "pr_curves": self.pr_curves,
            "settings": self.settings,
        }
        return out

    def frame_attributes(self) -> dict[tuple[str, int | None], dict[str, Any]]:
        """``{(data_id, frame_index): {"eval.tp": ..., "eval.fp": ..., "eval.fn": ..., "eval.mean_iou": ...}}``."""
        return {(r.data_id, r.frame_index): r.attributes() for r in self.per_frame}

    def __iter__(self) -> Iterator[FrameResult]:
        return iter(self.per_frame)

    def table(self) -> str:
        """A readable summary: the metrics, then per class, then what did not match."""
        lines = [f"{self.iou_type} evaluation"]
        width = max((len(k) for k in self.metrics), default=0)
        for k, v in self.metrics.items():
            lines.append(f"  {k.ljust(width)}  {_fmt(v)}")
        if self.per_class:
            keys = [k for k in self.per_class[0] if k not in ("category", "category_id")]
            shown = keys[:6]
            name_w = max(len("category"), *(len(str(r["category"])) for r in self.per_class))
            lines.append("")
            lines.append("  " + "category".ljust(name_w) + "".join(f"  {k:>8}" for k in shown))
            for r in self.per_class:
                lines.append("  " + str(r["category"]).ljust(name_w) + "".join(f"  {_fmt(r.get(k)):>8}" for k in shown))
        if self.per_frame:
            worst = self.per_frame[:5]
            lines.append("")
            if self.iou_type == "semantic":
                lines.append(f"  worst frames (of {len(self.per_frame)}; pixels right (tp), wrong class (fp), "
                             "not given their class (fn), mIoU):")
            else:
                lines.append(f"  worst frames (of {len(self.per_frame)}; tp/fp/fn at IoU "
                             f"{self.settings.get('iou_threshold', 0.5)}, mean IoU):")
            for fr in worst:
                lines.append(f"    {fr.data_id}{'' if fr.frame_index is None else f'#{fr.frame_index}'}  "
                             f"tp {fr.tp}  fp {fr.fp}  fn {fr.fn}  mean IoU {_fmt(fr.mean_iou)}")
        unmatched = {k: v for k, v in self.unmatched.items() if v}
        if unmatched:
            lines.append("")
            lines.append("  not matched (counted, not evaluated):")
            for k, n in unmatched.items():
                lines.append(f"    {k.replace('_', ' ')}: {n}")
        return "\n".join(lines)


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if not math.isfinite(v):
            return "-"
        return f"{v:.4f}"
    return str(v)
