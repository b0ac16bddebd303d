"""Filters applied while converting: ``--min-score`` and ``--classes`` (``min_score=``, ``classes=``).

They run between the reader and the writer, on the canonical columns of each frame, so
they mean the same for every format. A frame whose predictions are all filtered out stays,
without predictions (the image was read). What was left out is counted in the report
(:data:`MIN_SCORE_KEY`, :data:`NO_SCORE_KEY`, :data:`CLASSES_KEY`), and a class given to
``classes`` that no prediction had is warned about (a typo would otherwise empty the output).
"""
from __future__ import annotations

from typing import Any, Iterable, Iterator

from .errors import ConfigError
from .values import is_number

__all__ = ["FrameFilter", "parse_classes", "MIN_SCORE_KEY", "NO_SCORE_KEY", "CLASSES_KEY"]

#: Report keys (core constants): predictions left out by each filter.
MIN_SCORE_KEY = "filter.below_min_score"
NO_SCORE_KEY = "filter.no_score"
CLASSES_KEY = "filter.other_classes"


def parse_classes(value: Any) -> list[str]:
    """The ``classes`` filter as a list of class names or ids (text): ``"car,person"``, ``["car", 3]``."""
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    out = [str(v).strip() for v in items if str(v).strip()]
    if not out:
        raise ConfigError("classes= names no class", field="classes", hint="e.g. --classes car,person or 1,3")
    return out


class FrameFilter:
    """Keeps the predictions with a score of at least ``min_score`` and of one of ``classes``.

    ``classes`` match a category's name (case-insensitively) or its id (a number). The category
    table is the conversion's (after the class map), so the names are the ones written.
    """

    def __init__(self, *, min_score: float | None = None, classes: Iterable[Any] | str | None = None,
                 categories: Any, report: Any) -> None:
        if min_score is not None:
            if not is_number(min_score, finite=True):
                raise ConfigError(f"min_score must be a finite number, not {min_score!r}", field="min_score")
        self.min_score = None if min_score is None else float(min_score)
        self.wanted = parse_classes(classes) if classes is not None else None
        self._names = {w.casefold() for w in self.wanted or ()}
        self._ids = {int(w) for w in self.wanted or () if w.lstrip("-").isdigit()}
        self._matched: set[str] = set()
        self.categories = categories
        self.report = report
        self._keep: dict[int, bool] = {}

    @property
    def active(self) -> bool:
        return self.min_score is not None or self.wanted is not None

    def _class_kept(self, cid: int) -> bool:
        kept = self._keep.get(cid)
        if kept is None:
            cat = self.categories.get(cid)
            name = None if cat is None else cat.name
            kept = cid in self._ids or (name is not None and name.casefold() in self._names)
            if kept:
                self._matched.update(w for w in self.wanted or ()
                                     if w.casefold() == (name or "").casefold() or w == str(cid))
            self._keep[cid] = kept
        return kept

    def __call__(self, frames: Iterable[Any]) -> Iterator[Any]:
        import numpy as np

        try:
            for frame in frames:
                dets = frame.predictions
                if not len(dets):
                    yield frame
                    continue
                keep = np.ones(len(dets), dtype=bool)
                if self.min_score is not None:
                    unscored = np.isnan(dets.score)
                    below = ~unscored & (dets.score < self.min_score)
                    if unscored.any():
                        self.report.count(NO_SCORE_KEY, int(unscored.sum()))
                    if below.any():
                        self.report.count(MIN_SCORE_KEY, int(below.sum()))
                    keep &= ~(unscored | below)
                if self.wanted is not None:
                    by_class = np.fromiter((self._class_kept(c) for c in dets.category_id.tolist()), dtype=bool,
                                           count=len(dets))
                    other = keep & ~by_class
                    if other.any():
                        self.report.count(CLASSES_KEY, int(other.sum()))
                    keep &= by_class
                yield frame if keep.all() else frame.model_copy(update={"predictions": dets.take(keep)})
        finally:
            close = getattr(frames, "close", None)
            if close is not None:
                close()
        if self.wanted is not None:
            missing = [w for w in self.wanted if w not in self._matched]
            if missing:
                known = sorted({c.name for c in self.categories})
                self.report.warn(f"--classes: no prediction of class(es) {', '.join(map(repr, missing))} was read "
                                 f"(classes read: {', '.join(known[:20]) or 'none'})")
