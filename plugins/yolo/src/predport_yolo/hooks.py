"""predport hooks for YOLO label files (format id ``yolo``), written from the plugin template.

Reads and writes YOLO text labels, one ``.txt`` per image, normalised coordinates:
``class cx cy w h [conf]`` boxes and ``class x1 y1 x2 y2 ... [conf]`` polygons
(see :mod:`predport_yolo.lines` for how lines are told apart).

Reader options (``options={...}`` / ``-o KEY=VALUE``):

* ``names`` — class names: a data.yaml / classes.txt path, or a list or mapping
  (default: ``data.yaml``/``classes.txt`` found beside the labels);
* ``task`` — ``auto`` (default), ``detect`` (box lines only) or ``segment`` (polygons only);
* ``split`` — with a data.yaml or a dataset root: read only ``labels/<split>``.

Image sizes (needed for pixels): ``images=DIR`` / ``--images``, ``image_sizes=FILE`` /
``--sizes``, else ``sizes.json`` or the images found beside ``labels/``.

Writer options (``write_options={...}`` / ``-w KEY=VALUE``): ``names`` (``data.yaml``
or ``classes.txt``), ``geometry`` (``auto`` or ``box``), ``decimals`` (an integer).

Cheap to import: numpy and yaml are imported by the reader and writer, when used.
"""
from __future__ import annotations

from typing import Any, Iterable, Iterator, Mapping

import predport

FORMAT = "yolo"


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
    if format != FORMAT:
        return None
    from . import reader

    return reader.parse(source, options, context)


@predport.hookimpl
def to_canonical(records: Iterable[Any], format: str, context: predport.Context) -> Iterator[Any] | None:
    if format != FORMAT:
        return None
    from . import reader

    return reader.to_canonical(records, context)


@predport.hookimpl
def from_canonical(stream: predport.PredictionStream, format: str, target: predport.OutputTarget,
                   context: predport.Context) -> dict[str, Any] | None:
    if format != FORMAT:
        return None
    from . import writer

    return writer.write(stream, target, context)
