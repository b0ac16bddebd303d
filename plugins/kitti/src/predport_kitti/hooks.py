"""predport hook implementations for KITTI object labels and results (format id ``kitti``).

Cheap to import: numpy and the readers load when a hook first needs them.
"""
from __future__ import annotations

from typing import Any, Iterator, Mapping

import predport

FORMAT = "kitti"

Option = predport.Option
#: Every option of the reader and the writer, declared once (the hub parses and checks them).
READ_OPTIONS = (
    Option("layout", "enum", "auto", "folder layout (detected when auto)",
           choices=("auto", "plain", "kitti", "encord-old", "encord-new")),
    Option("keep_dontcare", "bool", None, "keep DontCare rows (default: kept as ignore regions when read as "
           "ground truth, dropped otherwise)"),
    Option("drop_unmapped", "bool", False,
           "no effect, kept for old command lines: classes the class map does not list are always "
           "left out and counted per class (the core's rule for every format)"),
    Option("images", "path", None, "image folder for sizes and data ids"),
    Option("find_images", "bool", True, "look for image_2/ or images/ beside the labels"),
    Option("data_id", "enum", "auto", "auto (the image name when an image folder is known), label or image",
           choices=("auto", "label", "image")),
    Option("ontology_map", "path", None, "an Encord class-map file (default: the layout's own file)"),
)
WRITE_OPTIONS = (
    Option("naming", "enum", "auto", "file names: auto, stem (<data id stem>[__<frame>].txt) or encord",
           choices=("auto", "stem", "encord")),
    Option("keep_spaces", "bool", False,
           "keep spaces in class names (predport and labelformat read them; the devkit does not)"),
    Option("decimals", "int", None,
           "write numbers with this many fixed decimals (default: the shortest text that reads back exactly)",
           minimum=0),
    *predport.NAMING_OPTIONS,
)


@predport.hookimpl
def formats() -> list[Any]:
    return [
        predport.FormatInfo(
            id=FORMAT,
            title="KITTI object labels / results",
            can_read=True,
            can_write=True,
            target="folder",
            # Truncation, occlusion, angles and the 3-D box live in attributes; a video frame
            # index is kept in the file name (<data id>__<frame>.txt, Encord Active's naming).
            holds=frozenset({"score", "box", "attributes", "frame_index", "category_external_id",
                            "category_names", "empty_frames"}),
            patterns=("label_2/*.txt", "*.txt", "labels/<data_hash>__*.txt", "<title>__<frame>.txt"),
            tasks=("detection",),
            description="one text file per image, 15 (ground truth) or 16 (results) whitespace-separated fields",
            read_options=READ_OPTIONS,
            write_options=WRITE_OPTIONS,
            # Read as ground truth: truncated/occluded kept, DontCare rows as ``ignore: true`` regions.
            roles=("predictions", "ground_truth"),
        )
    ]


@predport.hookimpl
def detect_format(source: Any) -> Any:
    from .detect import detect

    return detect(source)


@predport.hookimpl
def parse(source: Any, format: str, options: Mapping[str, Any], context: Any) -> Iterator[Any] | None:
    from .read import parse_source

    return parse_source(source, options, context)


@predport.hookimpl
def to_canonical(records: Any, format: str, context: Any) -> Iterator[Any] | None:
    from .read import frames

    return frames(records, context)


@predport.hookimpl
def from_canonical(stream: Any, format: str, target: Any, context: Any) -> Mapping[str, Any] | None:
    from .write import write

    return write(stream, target, context)


@predport.hookimpl
def schemas() -> list[Mapping[str, Any]]:
    return predport.package_schemas("predport_kitti")
