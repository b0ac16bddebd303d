"""Detection of csvboxes files: a vote from the first line (the header), never from the name alone.

Imported by ``predport detect`` on every source: it must stay cheap (no numpy).
"""
from __future__ import annotations

import predport

from .hooks import FORMAT, HEADER


def detect(source: predport.Source) -> predport.FormatMatch | None:
    if not source.is_file:
        return None
    first_line = source.head(size=1024).decode("utf-8-sig", errors="replace").splitlines()[:1]
    if not first_line:
        return None
    columns = tuple(c.strip().lower() for c in first_line[0].split(","))
    if columns == HEADER:
        return predport.FormatMatch(FORMAT, predport.Confidence.HIGH, "CSV header image,class,x,y,w,h,score")
    if source.suffix == ".csv" and "image" in columns and "class" in columns:
        # Close to ours but not ours: say why, for `predport detect --explain`.
        return predport.FormatMatch(
            FORMAT, predport.Confidence.NO, f"CSV header {','.join(columns)} is not image,class,x,y,w,h,score"
        )
    return None
