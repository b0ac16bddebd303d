"""predport hooks for Deep Lake 4.x datasets (format id ``deeplake``).

Cheap to import: ``deeplake`` and numpy are imported by the reader and the writer,
when a dataset is actually read or written. Detection reads only the dataset's own
log files (``_deeplake_log/_meta/*.jsonl``), never a folder name.

Reader options (``-o KEY=VALUE``; declared in ``READ_OPTIONS``): ``group`` (the predictions' column group, default
``model_evaluation``; ground truth is read from the top-level columns), ``id_column``
(the data ids; default ``data_id`` when present, else the row index, said in the
report), ``branch``, ``boxes``/``labels``/``scores``/``masks`` (column names), ``box_format`` and
``box_type`` (for box columns without ``coords`` metadata), ``images`` (image column
for sizes).

Writer options (``-w KEY=VALUE``; declared in ``WRITE_OPTIONS``): ``branch`` (write an existing
dataset on this branch, created from ``main`` when missing), ``group``, ``id_column``, ``message``,
``columns`` (``all`` or ``eval``).
"""
from __future__ import annotations

from typing import Any, Iterable, Iterator

import predport

FORMAT_ID = "deeplake"

Option = predport.Option
#: Every option of the reader and the writer, declared once (the hub parses and checks them).
READ_OPTIONS = (
    Option("group", "str", None, "the predictions' column group (default model_evaluation; empty: top level; "
           "ground truth reads the top level unless given)"),
    Option("branch", "str", None, "read this branch's head (default main)"),
    Option("id_column", "str", None, "the text column naming rows (default data_id when present, else the row "
           "index)"),
    Option("boxes", "str", None, "box column name inside the group (default boxes)"),
    Option("labels", "str", None, "label column name inside the group (default labels)"),
    Option("scores", "str", None, "score column name inside the group (default scores)"),
    Option("masks", "str", None, "BinaryMask column name inside the group (default masks)"),
    Option("box_format", "enum", None, "for box columns without coords metadata", choices=("ltwh", "ltrb", "ccwh")),
    Option("box_type", "enum", None, "for box columns without coords metadata", choices=("pixel", "fractional")),
    Option("images", "str", None, "the image column whose shapes give sizes (default images)"),
)
WRITE_OPTIONS = (
    Option("branch", "str", None, "write on this branch (required for an existing dataset; created from main)"),
    Option("group", "str", None, "the column group (default model_evaluation; empty: top-level columns)"),
    Option("id_column", "str", None, "the column that names rows (default data_id)"),
    Option("message", "str", None, "the commit message"),
    Option("columns", "enum", "all", "all, or eval: add only evaluation columns to an existing dataset",
           choices=("all", "eval")),
)


@predport.hookimpl
def formats() -> list[predport.FormatInfo]:
    return [
        predport.FormatInfo(
            id=FORMAT_ID,
            title="Deep Lake dataset (4.x)",
            can_read=True,
            can_write=True,
            target="folder",
            in_place=True,
            roles=("predictions", "ground_truth"),
            holds=frozenset({"score", "box", "polygon", "mask", "attributes", "size", "frame_attributes",
                             "category_external_id", "category_attributes", "category_names", "empty_frames"}),
            patterns=("_deeplake_log/",),
            tasks=("detection", "segmentation"),
            description="Deep Lake 4.x dataset: predictions in a column group (model_evaluation/boxes, "
            "labels, scores, iou), ground truth in the top-level columns; existing datasets "
            "are written on a branch (-w branch=NAME) and committed once",
            read_options=READ_OPTIONS,
            write_options=WRITE_OPTIONS,
        )
    ]


@predport.hookimpl
def detect_format(source: predport.Source) -> predport.FormatMatch | None:
    from .detect import detect

    return detect(source)


@predport.hookimpl
def parse(source: predport.Source, format: str, context: predport.Context) -> Iterator[Any] | None:
    from .read import read

    return read(source.path, context)  # a generator: nothing is read yet


@predport.hookimpl
def to_canonical(records: Iterable[Any], format: str) -> Iterable[predport.Frame] | None:
    return records  # the reader builds canonical frames column by column already


@predport.hookimpl
def from_canonical(stream: Any, format: str, target: Any, context: predport.Context) -> dict[str, Any] | None:
    from .write import write

    return write(stream, target, context)


@predport.hookimpl
def schemas() -> list[dict[str, Any]]:
    return predport.package_schemas("predport_deeplake")
