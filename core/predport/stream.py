"""A prediction set that may still be arriving: frames as an iterator."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Iterator

if TYPE_CHECKING:
    from .categories import CategoryTable
    from .report import Report
    from .model import Frame, PredictionSet, SourceInfo

__all__ = ["PredictionStream"]


class PredictionStream:
    """Frames flowing from a reader to a writer, with the categories table they refer to.

    ``frames`` may be consumed once. ``categories`` grows while frames are read
    (some formats only name their classes as they go) and is complete once
    ``frames`` is exhausted. ``source`` describes where the data came from.
    """

    def __init__(
        self,
        frames: Iterable["Frame"],
        categories: "CategoryTable",
        source: "SourceInfo | None" = None,
        report: "Report | None" = None,
    ) -> None:
        self._frames = iter(frames)
        self.categories = categories
        self.source = source
        self.report = report
        self.frames_seen = 0
        self.predictions_seen = 0
        #: The core's ``clamp`` policy already clamped these frames (when read): a writer's
        #: side does not clamp them again.
        self.clamped = False

    @property
    def frames(self) -> Iterator["Frame"]:
        for frame in self._frames:
            self.frames_seen += 1
            self.predictions_seen += len(frame.predictions)
            yield frame

    @classmethod
    def from_set(cls, prediction_set: "PredictionSet") -> "PredictionStream":
        from .categories import CategoryTable

        table = CategoryTable()
        for c in prediction_set.categories:
            table.declare(c.id, c.name, c.external_id, c.attributes)
        return cls(prediction_set.frames, table, prediction_set.source)

    def collect(self) -> "PredictionSet":
        """Read every frame into a :class:`PredictionSet`."""
        from .model import PredictionSet

        frames = list(self.frames)
        return PredictionSet(source=self.source, categories=self.categories.as_list(), frames=frames)

    def category_name(self, category_id: int) -> str:
        cat = self.categories.get(category_id)
        return str(category_id) if cat is None else cat.name

    def __iter__(self) -> Iterator[Any]:
        return self.frames

    def close(self) -> None:
        """Stop reading: the reader's iterator is closed, so a plugin's clean-up runs now
        (open files, worker processes) instead of whenever it is garbage collected."""
        close = getattr(self._frames, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> "PredictionStream":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
