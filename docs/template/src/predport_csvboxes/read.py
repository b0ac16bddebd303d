"""Reading csvboxes: ``rows`` parses the file into the format's own records (``Row``),
``frames`` groups the rows of one image into one canonical frame.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Iterable, Iterator, NamedTuple

import predport

from .hooks import HEADER


class Row(NamedTuple):
    """One parsed CSV row: the format's own record, handed from parse to to_canonical."""

    file: str
    line: int  # 1-based line in the file, for error messages
    image: str
    cls: str | None  # None: an image without predictions
    box: tuple[float, float, float, float] | None  # x, y, w, h in pixels
    score: float | None


def _number(text: str, *, file: str, line: int, field: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise predport.ParseError(f"{text!r} is not a number", file=file, line=line, field=field) from None
    if value != value or value in (float("inf"), float("-inf")):
        raise predport.ParseError(f"{text!r} is not a finite number", file=file, line=line, field=field)
    return value


def rows(path: Path, context: predport.Context) -> Iterator[Row]:
    file = str(path)
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None or tuple(c.strip().lower() for c in header) != HEADER:
            raise predport.ParseError(f"the first line must be {','.join(HEADER)}", file=file, line=1)
        current, done = None, set()
        for fields in reader:
            line = reader.line_num
            if not any(f.strip() for f in fields):
                continue  # blank line
            try:
                row = _row(fields, file=file, line=line)
                if row.image != current:
                    if row.image in done:
                        raise predport.ParseError(f"rows of image {row.image!r} are not consecutive",
                                                  file=file, line=line, field="image")
                    if current is not None:
                        done.add(current)
                    current = row.image
            except predport.ParseError as err:
                # fail: raise; skip/clamp: count it in the report and go on with the next row
                context.problem(err)
                continue
            yield row


def _row(fields: list[str], *, file: str, line: int) -> Row:
    if len(fields) != len(HEADER):
        raise predport.ParseError(f"expected {len(HEADER)} columns, found {len(fields)}", file=file, line=line)
    image, cls, *numbers, score = (f.strip() for f in fields)
    if not image:
        raise predport.ParseError("empty image name", file=file, line=line, field="image")
    if not cls:
        if any(numbers) or score:
            raise predport.ParseError("a row without a class must have no box and no score",
                                      file=file, line=line, field="class")
        return Row(file, line, image, None, None, None)
    x, y, w, h = (_number(t, file=file, line=line, field=n) for t, n in zip(numbers, HEADER[2:6]))
    if w < 0 or h < 0:
        raise predport.ParseError("negative box size", file=file, line=line, field="w" if w < 0 else "h")
    value = _number(score, file=file, line=line, field="score") if score else None
    return Row(file, line, image, cls, (x, y, w, h), value)


def frames(records: Iterable[Row], context: predport.Context) -> Iterator[predport.Frame]:
    # Consecutive rows of one image make one frame: memory holds one image's rows at a time.
    keep_empty = context.options["empty_frames"]  # a bool: the hub parsed "-o empty_frames=no"
    image: str | None = None
    group: list[Row] = []
    for row in records:
        if row.image != image:
            if image is not None:
                frame = _frame(image, group, context)
                if keep_empty or len(frame.predictions):
                    yield frame
            image, group = row.image, []
        group.append(row)
    if image is not None:
        frame = _frame(image, group, context)
        if keep_empty or len(frame.predictions):
            yield frame


def _frame(image: str, rows: list[Row], context: predport.Context) -> predport.Frame:
    import numpy as np  # heavy: imported where it is used, never at module level

    ids, scores, boxes = [], [], []
    for row in rows:
        if row.cls is None:
            continue
        cid = context.categories.resolve(name=row.cls)  # applies the user's class map
        if cid is None:
            context.problem(predport.ParseError(f"class {row.cls!r} is not in the class map",
                                                file=row.file, line=row.line, field="class"))
            continue
        ids.append(cid)
        scores.append(np.nan if row.score is None else row.score)
        boxes.append(row.box)
    detections = predport.Detections(
        category_id=np.asarray(ids, dtype=np.int64),
        score=np.asarray(scores, dtype=np.float64),
        box=np.asarray(boxes, dtype=np.float64).reshape(-1, 4),
    )
    # The user's id lookup (file name -> data hash, frame) applies to the image column.
    data_id, frame_index = context.data_id_for(Path(image), (image, None))
    return predport.Frame(data_id=data_id, frame_index=frame_index, predictions=detections)
