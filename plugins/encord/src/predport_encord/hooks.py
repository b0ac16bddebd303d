"""Hook implementations of predport-encord (cheap to import: numpy loads on first use).

Format ``encord``: Encord Active prediction records, one per prediction, in a
JSON list, a ``{"predictions": [...]}`` document or JSON Lines, or Encord Active's
``predictions.pkl`` (read by a restricted unpickler). Coordinates in the file are
normalised to [0, 1]; canonical frames carry pixels.
"""
from __future__ import annotations

from typing import Any, Iterator, Mapping

import predport

from .spec import FORMAT, READ_OPTIONS, WRITE_OPTIONS


@predport.hookimpl
def formats() -> list["predport.FormatInfo"]:
    return [
        predport.FormatInfo(
            id=FORMAT,
            title="Encord Active prediction records",
            can_read=True,
            can_write=True,
            target="file",
            # "attributes": the Encord ones (theta, track_id, attribute_hash, option_hash);
            # other keys, extra polygon rings and boxes beside polygons are counted in the
            # report as not written (predport cannot declare holds per key).
            holds=frozenset({"score", "box", "polygon", "attributes", "frame_index", "size", "category_external_id",
                             "category_names"}),
            patterns=("*.json", "*.jsonl", "*.pkl"),
            tasks=("detection", "segmentation", "classification"),
            description="data_hash, frame, confidence and a normalised box, polygon or classification "
                        "(JSON, JSON Lines, or Encord Active's predictions.pkl, read without running it)",
            read_options=READ_OPTIONS,
            write_options=WRITE_OPTIONS,
        )
    ]


@predport.hookimpl
def detect_format(source: "predport.Source") -> "predport.FormatMatch | None":
    from .detect import detect

    return detect(source)


@predport.hookimpl
def parse(source: "predport.Source", format: str, context: "predport.Context") -> Iterator[Any] | None:
    from .read import parse as parse_records

    return parse_records(source, context)


@predport.hookimpl
def to_canonical(records: Any, format: str, context: "predport.Context") -> Iterator[Any] | None:
    from .read import to_canonical as frames

    return frames(records, context)


@predport.hookimpl
def from_canonical(stream: Any, format: str, target: Any, context: "predport.Context") -> Mapping[str, Any] | None:
    from .write import write

    return write(stream, target, context)


@predport.hookimpl
def schemas() -> list[Mapping[str, Any]]:
    return predport.package_schemas("predport_encord")
