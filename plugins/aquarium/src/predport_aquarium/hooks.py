"""predport hooks for Aquarium inference frames (format id ``aquarium``).

Cheap to import: numpy, orjson, Pillow and pycocotools are imported by ``read``,
``write`` and ``masks`` when a file is actually read or written.

Reader options (``read_options={...}`` / ``-o KEY=VALUE``; declared in ``READ_OPTIONS``):

* ``classes`` — the Aquarium project class map (JSON/YAML path or object:
  ``[{"name": "car", "class_id": 1}, ...]`` or ``{"car": 1}``): names semantic-mask
  pixel values and gives 0.0.x labels their project class ids.
* ``mask_root`` — the folder relative mask URLs are relative to (default: the file's folder).
* ``resolve_masks`` — ``false`` keeps every mask row unresolved without reading PNGs.
* ``keep_uuids`` — ``true`` stores every uuid, even ``<task_id>_inf_<position>``.

Writer options (declared in ``WRITE_OPTIONS``): see :mod:`predport_aquarium.write`
(``generation``, ``scores``, ``score_range``, ``default_confidence``, ``masks``, ``classes``).
"""
from __future__ import annotations

from typing import Any, Iterable, Iterator

import predport

from .spec import FORMAT_ID

_GROUND_TRUTH = "Aquarium ground-truth (label_data) rows, not inferences"

Option = predport.Option
#: Every option of the reader and the writer, declared once (the hub parses and checks them).
READ_OPTIONS = (
    Option("classes", "json", None, "the Aquarium project class map: a JSON/YAML file, "
           "[{name, class_id}, ...] or {name: class_id}"),
    Option("mask_root", "path", None, "where relative mask URLs are resolved (default: the file's folder)"),
    Option("resolve_masks", "bool", True, "false keeps every mask row unresolved without opening PNGs"),
    Option("keep_uuids", "bool", False, "store every uuid, even <task_id>_inf_<position>"),
)
WRITE_OPTIONS = (
    Option("generation", "enum", None, "client generation (default: the one each frame was read from, "
           "else legacy)", choices=("legacy", "v1", "oldest")),
    Option("scores", "enum", "error", "a score outside [0, 1]: error, clip, or rescale (min-max)",
           choices=("error", "clip", "rescale")),
    Option("score_range", "list", None, "lo,hi: the range rescale maps onto [0, 1]", item="float"),
    Option("default_confidence", "float", None, "written for predictions without a score, in [0, 1] "
           "(default: refuse them)", minimum=0),
    Option("masks", "enum", "error", "mask predictions without an Aquarium mask row: error or drop",
           choices=("error", "drop")),
    Option("classes", "json", None, "the project class map (as for reading): 1.0.x class_id by name"),
)


@predport.hookimpl
def formats() -> list[predport.FormatInfo]:
    return [
        predport.FormatInfo(
            id=FORMAT_ID,
            title="Aquarium inference frames",
            can_read=True,
            can_write=True,
            target="file",
            holds=frozenset({"score", "box", "polygon", "mask", "keypoints", "box3d", "attributes", "frame_attributes",
                            "category_names", "empty_frames"}),
            patterns=("*.jsonl", "*.json"),
            tasks=("detection", "segmentation", "keypoints", "classification", "3d"),
            description="aquariumlearning inference frames, one per line (or a JSON array): legacy 0.0.x "
            "InferencesFrame rows and 1.0.x InferenceFrame rows; masks from local PNGs",
            read_options=READ_OPTIONS,
            write_options=WRITE_OPTIONS,
        )
    ]


@predport.hookimpl
def detect_format(source: predport.Source) -> predport.FormatMatch | None:
    if not source.is_file:
        return None
    head = source.head()
    if not head:
        return None
    from .detect import sniff

    found = sniff(head, complete=source.head_is_complete())
    if found is None:
        return None
    where = "first line" if found.container == "lines" else "first element of a JSON array"
    if found.kind == "ground_truth":
        return predport.FormatMatch(FORMAT_ID, predport.Confidence.NO, _GROUND_TRUTH)
    if found.kind == "weak":
        return predport.FormatMatch(FORMAT_ID, predport.Confidence.MEDIUM,
                                    f"{where} has task_id and inference_data, but its entries are not "
                                    "Aquarium inference entries (uuid, label_type, label, attributes)")
    gen = {"v1": "1.0.x", "legacy": "0.0.x", "oldest": "0.0.x (<= 0.0.25)"}.get(found.generation or "", "")
    if found.kind == "partial":
        return predport.FormatMatch(FORMAT_ID, predport.Confidence.HIGH,
                                    f"{where} (longer than the head) names task_id, inference_data and Aquarium "
                                    f"label types {gen}".rstrip())
    return predport.FormatMatch(FORMAT_ID, predport.Confidence.HIGH,
                                f"{where} is an Aquarium {gen} inference frame (task_id, inference_data with "
                                "uuid/label_type/label/attributes)")


@predport.hookimpl
def parse(source: predport.Source, format: str, context: predport.Context) -> Iterator[Any] | None:
    if not source.is_file:
        raise predport.ParseError("an Aquarium inference file is a .jsonl or .json file, not a folder",
                                  file=str(source.path))
    from .read import iter_records

    return iter_records(source.path, context)


@predport.hookimpl
def to_canonical(records: Iterable[Any], format: str, context: predport.Context) -> Iterator[Any] | None:
    from .read import frames

    return frames(iter(records), context)


@predport.hookimpl
def from_canonical(stream: Any, format: str, target: Any, context: predport.Context) -> dict[str, Any] | None:
    from .write import write

    return write(stream, target, context)


@predport.hookimpl
def schemas() -> list[dict[str, Any]]:
    return predport.package_schemas("predport_aquarium")
