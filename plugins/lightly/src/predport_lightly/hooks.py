"""predport hooks for Lightly prediction folders (format id ``lightly``).

Cheap to import: numpy, orjson and pycocotools load only when a folder is read or written.
"""
from __future__ import annotations

from typing import Any, Mapping

import predport

FORMAT = "lightly"
TASK_TYPES = (
    "classification",
    "object-detection",
    "semantic-segmentation",
    "instance-segmentation",
    "keypoint-detection",
)
Option = predport.Option
#: Every option of the reader and the writer, declared once (the hub parses and checks them).
READ_OPTIONS = (
    Option("tasks", "list", None, "the tasks to read (names; default: every task)"),
    Option("schema", "path", None, "the schema.json of a single-file source (default: found beside it)"),
    Option("workers", "int", "auto", "worker processes decoding a one-task object-detection folder "
           "(0: this process)", choices=("auto",), minimum=0),
)
WRITE_OPTIONS = (
    Option("task", "str", None, "put every prediction in this task"),
    Option("task_type", "enum", None, "the type of the task option's task (default: from the predictions)",
           choices=TASK_TYPES),
    Option("missing_score", "float", None, "the score written for predictions without one, in [0, 1] "
           "(default: refuse them)", minimum=0),
    Option("frame_counts", "json", None, "video frame counts: {video data id: count}, or a JSON/YAML file"),
    *predport.NAMING_OPTIONS,
)


@predport.hookimpl
def formats() -> list[Any]:
    return [
        predport.FormatInfo(
            id=FORMAT,
            title="Lightly prediction folder (.lightly/predictions)",
            can_read=True,
            can_write=True,
            target="folder",
            # What a Lightly folder can carry. "attributes": only the keys this
            # plugin defines (category task/task_type/lightly_id and schema extras,
            # the virtual frame name); any other attribute is reported as loss
            # through context.report.loss, which the hub refuses unless allowed.
            # Image sizes are not stored: Lightly takes them from the images.
            holds=frozenset(
                {"score", "box", "mask", "keypoints", "probabilities", "frame_index", "attributes",
                 "frame_attributes", "category_external_id", "category_attributes", "category_names",
                 "empty_frames"}
            ),
            patterns=(".lightly/predictions/tasks.json", "<task>/schema.json", "<task>/<image path>.json"),
            tasks=("classification", "detection", "segmentation", "keypoints"),
            description="tasks.json, one schema.json per task, one JSON per image or video frame",
            # Read as ground truth: predictions without a score; a scored one is refused.
            roles=("predictions", "ground_truth"),
            read_options=READ_OPTIONS,
            write_options=WRITE_OPTIONS,
        )
    ]


@predport.hookimpl
def schemas() -> list[Mapping[str, Any]]:
    return predport.package_schemas("predport_lightly")


@predport.hookimpl
def detect_format(source: Any) -> Any:
    from .detect import detect

    return detect(source)


# ---------------------------------------------------------------------------- read and write
@predport.hookimpl
def parse(source: Any, format: str, options: Mapping[str, Any], context: Any) -> Any:
    from . import read

    return read.parse(source.path, options, context)


@predport.hookimpl
def to_canonical(records: Any, format: str, context: Any) -> Any:
    from . import read

    return read.to_canonical(records, context)


@predport.hookimpl
def from_canonical(stream: Any, format: str, target: Any, context: Any) -> Any:
    from . import write

    return write.write(stream, target, context)
