"""Loss reports: what a target format cannot hold, per field and count.

A writer declares in :class:`~predport.FormatInfo` ``holds`` the canonical
fields it keeps. While frames stream to it, :class:`LossTracker` counts every
value present in the data that the target does not hold. The hub refuses the
conversion (and leaves nothing behind) when anything would be lost, unless the
user allows loss; either way the same table is reported.
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Iterable, Iterator, Mapping

from .detection import PREDICTION_FIELDS, FormatInfo

__all__ = ["LossTracker", "format_loss_table"]

_PRED_FIELDS = ("score",) + PREDICTION_FIELDS


class LossTracker:
    def __init__(self, info: FormatInfo) -> None:
        self.info = info
        self.counts: Counter[str] = Counter()

    def watch(self, frames: Iterable[Any]) -> Iterator[Any]:
        holds = self.info.holds
        pred_fields = [f for f in _PRED_FIELDS if f not in holds]
        for frame in frames:
            dets = frame.predictions
            for name in pred_fields:
                n = dets.count(name)
                if n:
                    self.counts[f"predictions.{name}"] += n
            if "frame_index" not in holds and frame.frame_index is not None:
                self.counts["frames.frame_index"] += 1
            if "size" not in holds and (frame.width is not None or frame.height is not None):
                self.counts["frames.width/height"] += 1
            if "frame_attributes" not in holds and frame.attributes:
                self.counts["frames.attributes"] += 1
            yield frame

    def report(self, categories: Iterable[Any] = (), partial: Mapping[str, int] | None = None) -> dict[str, int]:
        """The loss table: fields the target does not hold, plus the ``partial`` losses a
        writer reported through ``context.report.loss`` (values of held fields it could not keep)."""
        out = dict(self.counts)
        for key, n in (partial or {}).items():
            out[key] = out.get(key, 0) + n
        cats = list(categories)
        for field, key in (("category_external_id", "external_id"), ("category_attributes", "attributes")):
            if field not in self.info.holds:
                n = sum(1 for c in cats if getattr(c, key, None))
                if n:
                    out[f"categories.{key}"] = n
        return dict(sorted(out.items()))


def format_loss_table(loss: dict[str, int]) -> str:
    """A two-column text table: field, count."""
    if not loss:
        return "nothing lost"
    width = max(len(k) for k in loss)
    lines = [f"{'field'.ljust(width)}  lost"]
    lines += [f"{k.ljust(width)}  {v}" for k, v in loss.items()]
    return "\n".join(lines)
