"""predport hooks for YOLO label files (format id ``yolo``), written from the plugin template.

Reads and writes YOLO text labels, one ``.txt`` per image, normalised coordinates:
``class cx cy w h [conf]`` boxes and ``class x1 y1 x2 y2 ... [conf]`` polygons
(see :mod:`predport_yolo.lines` for how lines are told apart).

Reader options (``read_options={...}`` / ``-o KEY=VALUE``; declared in ``READ_OPTIONS``):

* ``names`` — class names: a data.yaml / classes.txt path, or a list or mapping
  (default: ``data.yaml``/``classes.txt`` found beside the labels);
* ``task`` — ``auto`` (default), ``detect`` (box lines only) or ``segment`` (polygons only);
* ``split`` — with a data.yaml or a dataset root: read only ``labels/<split>``.

Image sizes (needed for pixels): ``images=DIR`` / ``--images``, ``image_sizes=FILE`` /
``--sizes``, else ``sizes.json`` or the images found beside ``labels/``.

Writer options (``write_options={...}`` / ``-w KEY=VALUE``; declared in ``WRITE_OPTIONS``): ``names``
(``data.yaml`` or ``classes.txt``), ``geometry`` (``auto`` or ``box``), ``decimals`` (an integer),
``classes`` (``contiguous`` or ``ids``).

Cheap to import: numpy and yaml are imported by the reader and writer, when used.
"""
from __future__ import annotations

from typing import Any, Iterable, Iterator, Mapping

import predport

FORMAT = "yolo"

Option = predport.Option
#: Every option of the reader and the writer, declared once (the hub parses and checks them).
READ_OPTIONS = (
    Option("names", "json", None, "class names: a data.yaml or classes.txt path, or a list or mapping "
           "(default: the one beside the labels)"),
    Option("task", "enum", "auto", "which lines to accept", choices=("auto", "detect", "segment", "obb", "pose")),
    Option("split", "str", None, "with a data.yaml or a dataset root: read only this split (labels/<split>)"),
    Option("kpt_shape", "json", None, "pose keypoints per line, [K, D] or K,D (default: data.yaml's kpt_shape)"),
)
WRITE_OPTIONS = (
    Option("names", "enum", "data.yaml", "the class-names file to write", choices=("data.yaml", "classes.txt")),
    Option("geometry", "enum", "auto", "auto (polygon if present, else box) or box (boxes only)",
           choices=("auto", "box")),
    Option("decimals", "int", None, "fixed decimals for coordinates (default: 12 significant digits)", minimum=0),
    Option("classes", "enum", "contiguous", "class indices: contiguous (0..N-1) or ids (the category ids)",
           choices=("contiguous", "ids")),
    *predport.NAMING_OPTIONS,
)


@predport.hookimpl
def formats() -> list[predport.FormatInfo]:
    return [
        predport.FormatInfo(
            id=FORMAT,
            title="YOLO labels (normalised boxes and polygons, one .txt per image)",
            can_read=True,
            can_write=True,
            target="folder",
            # "size": the label files cannot hold it, but the writer records the sizes it
            # normalised by in sizes.json, which the reader uses: nothing is lost.
            holds=frozenset({"score", "box", "polygon", "keypoints", "attributes", "size", "category_names",
                             "empty_frames"}),
            patterns=("labels/*.txt", "data.yaml", "classes.txt"),
            tasks=("detection", "segmentation"),
            description="Ultralytics/Darknet text labels: class cx cy w h [conf], or a polygon",
            # Read as ground truth: label folders (5 values, no conf); a scored line is refused.
            roles=("predictions", "ground_truth"),
            read_options=READ_OPTIONS,
            write_options=WRITE_OPTIONS,
        )
    ]


@predport.hookimpl
def schemas() -> list[dict[str, Any]]:
    return predport.package_schemas("predport_yolo")


@predport.hookimpl
def detect_format(source: predport.Source) -> predport.FormatMatch | None:
    from .detect import detect

    return detect(source)


@predport.hookimpl
def parse(source: predport.Source, format: str, options: Mapping[str, Any],
          context: predport.Context) -> Iterator[Any] | None:
    from . import read

    return read.parse(source, options, context)


@predport.hookimpl
def to_canonical(records: Iterable[Any], format: str, context: predport.Context) -> Iterator[Any] | None:
    from . import read

    return read.to_canonical(records, context)


@predport.hookimpl
def from_canonical(stream: predport.PredictionStream, format: str, target: predport.OutputTarget,
                   context: predport.Context) -> dict[str, Any] | None:
    from . import write

    return write.write(stream, target, context)
