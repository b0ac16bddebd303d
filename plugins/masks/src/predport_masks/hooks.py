"""predport hooks for PNG class-index masks (format id ``masks``).

Cheap to import: numpy, OpenCV, Pillow and pycocotools are imported inside the
functions that need them.
"""
from __future__ import annotations

from typing import Any, Iterator, Mapping

import predport

from .options import READ_OPTIONS, WRITE_OPTIONS

FORMAT = "masks"


@predport.hookimpl
def formats() -> list[Any]:
    return [
        predport.FormatInfo(
            id=FORMAT,
            title="PNG class-index masks",
            can_read=True,
            can_write=True,
            target="folder",
            # A class-index PNG stores pixels per class: masks and polygons are
            # painted, the frame's size and frame index are kept in the file name
            # and image size. Boxes are re-derived on reading from what is painted,
            # and the "holes" attribute is what the painting honours; the writer
            # reports as loss the rows it cannot paint and every other attribute.
            # Scores are not stored.
            holds=frozenset({"mask", "polygon", "box", "attributes", "size", "frame_index", "category_external_id",
                            "category_names", "empty_frames"}),
            # Polygons and boxes are traced from the masks: a target that holds masks loses neither.
            derived={"polygon": "mask", "box": "mask"},
            patterns=("*.png", "<title>__<frame>.png", "<data_hash>/<frame>.png", "ontology_mapping.json"),
            tasks=("segmentation",),
            description="one PNG per image whose pixel values are class ids (Encord Active mask predictions)",
            # Read as ground truth: class-index masks are semantic labels (never scored).
            roles=("predictions", "ground_truth"),
            read_options=READ_OPTIONS,
            write_options=WRITE_OPTIONS,
        )
    ]


@predport.hookimpl
def schemas() -> list[Mapping[str, Any]]:
    return predport.package_schemas("predport_masks")


@predport.hookimpl
def detect_format(source: Any) -> Any:
    from .detect import detect

    return detect(source)


@predport.hookimpl
def parse(source: Any, format: str, context: Any) -> Iterator[Any] | None:
    from .options import ReadOptions
    from .read import parse_masks

    opts = ReadOptions.from_context(context)  # option errors surface before any file is read
    return parse_masks(source, opts, context)


@predport.hookimpl
def to_canonical(records: Any, format: str, context: Any) -> Iterator[Any] | None:
    from .read import frames_from_records

    return frames_from_records(records, context)


@predport.hookimpl
def from_canonical(stream: Any, format: str, target: Any, context: Any) -> dict[str, Any] | None:
    from .write import write_masks

    return write_masks(stream, target, context)
