"""Writing csvboxes: one CSV file, every row validated against the plugin's row schema."""
from __future__ import annotations

import csv
import io

import predport

from .hooks import HEADER, ROW_SCHEMA


def _text(value: float, decimals: int | None = None) -> str:
    if decimals is not None:
        return f"{float(value):.{decimals}f}"
    return repr(float(value))  # the shortest text that reads back to the same float


def write(stream: predport.PredictionStream, target: predport.OutputTarget,
          context: predport.Context) -> dict[str, int]:
    """Every frame of ``stream`` as rows of one CSV file, each row validated before it is written."""
    import numpy as np

    decimals = context.options["decimals"]  # an int or None (declared above, parsed by the hub)
    out = io.TextIOWrapper(target.open(None), encoding="utf-8", newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    rows = without_box = 0
    for frame in stream.frames:  # once: it may be a generator
        dets = frame.predictions
        has_box = np.zeros(len(dets), dtype=bool) if dets.box is None else ~np.isnan(dets.box[:, 0])
        without_box += int(np.count_nonzero(~has_box))
        if not has_box.any():
            row = {"image": frame.data_id, "class": None, "x": None, "y": None, "w": None, "h": None, "score": None}
            target.validate(ROW_SCHEMA, row)
            writer.writerow([frame.data_id, "", "", "", "", "", ""])
            rows += 1
            continue
        for i in np.flatnonzero(has_box).tolist():
            x, y, w, h = dets.box[i].tolist()
            score = None if np.isnan(dets.score[i]) else float(dets.score[i])
            row = {"image": frame.data_id, "class": stream.category_name(int(dets.category_id[i])),
                   "x": x, "y": y, "w": w, "h": h, "score": score}
            target.validate(ROW_SCHEMA, row)  # fails before anything is committed
            writer.writerow([row["image"], row["class"], *(_text(v, decimals) for v in (x, y, w, h)),
                             "" if score is None else _text(score, decimals)])
            rows += 1
    out.flush()
    out.detach()  # the target owns the file handle and closes it on commit
    if without_box:
        context.report.count("csvboxes: predictions without a box (not written)", without_box)
        # Their class and score vanish too: a loss the hub refuses unless the user allows it.
        context.report.loss("predictions (no box)", without_box)
    return {"rows": rows}
