"""Hooks of predport-csvboxes: one CSV file of boxes, read and written.

The format (a small but real one, to copy from)::

    image,class,x,y,w,h,score
    a.jpg,car,10,20,30.5,40,0.93
    a.jpg,person,1,2,3,4,
    b.jpg,,,,,,

* The header is exactly ``image,class,x,y,w,h,score``.
* ``x, y`` are the top-left corner and ``w, h`` the size of the box, in **pixels**
  (origin top-left) - the canonical ``[x, y, w, h]`` convention, so nothing is converted.
* ``score`` may be empty: the model gave none (canonical ``score: null``).
* A row whose ``class`` and numbers are empty is an image without predictions.
* The rows of one image are consecutive; one image is one canonical frame.

This module is imported by ``predport formats`` and ``predport detect``: it must stay
cheap, so numpy is imported inside the functions that need it.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, Iterable, Iterator, NamedTuple

import predport

FORMAT = "csvboxes"
HEADER = ("image", "class", "x", "y", "w", "h", "score")
ROW_SCHEMA = "urn:predport:schema:csvboxes:row:1"


@predport.hookimpl
def formats() -> list[predport.FormatInfo]:
    return [
        predport.FormatInfo(
            id=FORMAT,
            title="CSV boxes (image,class,x,y,w,h,score)",
            can_read=True,
            can_write=True,
            target="file",
            # Be honest: a row holds a box and a score, nothing else. Everything else in the
            # data (polygons, masks, attributes, frame indices, image sizes) is reported as loss.
            holds=frozenset({"box", "score", "category_names", "empty_frames"}),
            patterns=("*.csv",),
            tasks=("detection",),
            # Every option, declared once: the hub parses -o/-w text and API values against
            # these (types, unknown keys, "did you mean"), fills in the defaults, and
            # `predport formats csvboxes` prints them. `()` would say "takes none".
            read_options=(
                predport.Option("empty_frames", "bool", True,
                                "images without predictions become frames (false: left out)"),
            ),
            write_options=(
                predport.Option("decimals", "int", None,
                                "fixed decimals for numbers (default: the shortest exact text)", minimum=0),
            ),
        )
    ]


@predport.hookimpl
def schemas() -> list[dict[str, Any]]:
    return predport.package_schemas("predport_csvboxes")


@predport.hookimpl
def detect_format(source: predport.Source) -> predport.FormatMatch | None:
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


# -- reading ---------------------------------------------------------------------------

class Row(NamedTuple):
    """One parsed CSV row: the format's own record, handed from parse to to_canonical."""

    file: str
    line: int  # 1-based line in the file, for error messages
    image: str
    cls: str | None  # None: an image without predictions
    box: tuple[float, float, float, float] | None  # x, y, w, h in pixels
    score: float | None


@predport.hookimpl
def parse(source: predport.Source, format: str, context: predport.Context) -> Iterator[Row] | None:
    if format != FORMAT:
        return None  # "not mine" is None, always checked first
    return _rows(source.path, context)  # a generator: nothing is read until the hub iterates


def _number(text: str, *, file: str, line: int, field: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise predport.ParseError(f"{text!r} is not a number", file=file, line=line, field=field) from None
    if value != value or value in (float("inf"), float("-inf")):
        raise predport.ParseError(f"{text!r} is not a finite number", file=file, line=line, field=field)
    return value


def _rows(path: Path, context: predport.Context) -> Iterator[Row]:
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


@predport.hookimpl
def to_canonical(records: Iterable[Row], format: str, context: predport.Context) -> Iterator[predport.Frame] | None:
    if format != FORMAT:
        return None
    return _frames(records, context)


def _frames(records: Iterable[Row], context: predport.Context) -> Iterator[predport.Frame]:
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


# -- writing ---------------------------------------------------------------------------

def _text(value: float, decimals: int | None = None) -> str:
    if decimals is not None:
        return f"{float(value):.{decimals}f}"
    return repr(float(value))  # the shortest text that reads back to the same float


@predport.hookimpl
def from_canonical(stream: predport.PredictionStream, format: str, target: predport.OutputTarget,
                   context: predport.Context) -> dict[str, int] | None:
    if format != FORMAT:
        return None
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
