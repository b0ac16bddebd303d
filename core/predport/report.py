"""What happened in one conversion: :class:`Report` (counts, skipped records, warnings, loss)."""
from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from .errors import PredportError

if TYPE_CHECKING:
    from .categories import CategoryTable

__all__ = ["Report"]


class Report:
    """What happened in one conversion: counts, skipped records, warnings.

    ``skipped`` keeps the first 100 errors in full and counts the rest.
    """

    MAX_KEPT = 100

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.skipped: list[PredportError] = []
        self.skipped_total = 0
        self.warnings: list[str] = []
        self._warned: Counter[str] = Counter()
        self.lost: Counter[str] = Counter()
        self.held: set[str] = set()

    def hold(self, *fields: str) -> None:
        """The writer holds ``fields`` (names of ``HOLDABLE``) in this conversion although its
        format declaration does not: a writer option made room for them (the COCO writer's
        ``categories`` file holds category names, sizes and frames without predictions).
        Call it before reading the frames."""
        self.held.update(fields)

    def loss(self, field: str, n: int = 1) -> None:
        """A writer could not hold ``n`` values of ``field`` (e.g. ``"predictions.polygon (extra rings)"``).

        The hub adds these to its loss table: the conversion is refused unless the
        user allows loss, exactly as for fields the format does not hold at all.
        """
        if n:
            self.lost[field] += n

    def count(self, key: str, n: int = 1) -> None:
        self.counts[key] += n

    def skip(self, error: PredportError) -> None:
        self.skipped_total += 1
        if len(self.skipped) < self.MAX_KEPT:
            self.skipped.append(error)

    def warn(self, message: str) -> None:
        """Record a warning; the same message is kept once and counted."""
        self._warned[message] += 1
        if self._warned[message] == 1:
            self.warnings.append(message)

    def to_dict(self, categories: "CategoryTable | None" = None) -> dict[str, Any]:
        """Counts, skipped records (first 10 in full), warnings, and unmapped classes."""
        return {
            "counts": dict(self.counts),
            "unmapped_classes": {} if categories is None else dict(categories.unmapped),
            "skipped": self.skipped_total,
            "skipped_examples": [str(e) for e in self.skipped[:10]],
            "lost": dict(self.lost),
            "warnings": [
                m if self._warned[m] == 1 else f"{m} (x{self._warned[m]})" for m in self.warnings
            ],
        }
