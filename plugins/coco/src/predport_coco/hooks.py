"""predport hooks for COCO results (format id ``coco``).

Cheap to import: numpy, orjson and pycocotools are imported by the modules that
need them, when a file is actually read or written.

Reader options (``read_options={...}`` / ``-o KEY=VALUE``, declared in :func:`formats`):

* ``gt`` — path of the COCO ground-truth file: frames are named by the images'
  ``file_name`` and get their ``width``/``height``; categories get their names
  (and ``supercategory``/``keypoints``/``skeleton`` in their attributes).

Writer options (``write_options={...}`` / ``-w KEY=VALUE``, declared in :func:`formats`):

* ``gt`` — ground truth used to turn data ids (file names) into COCO image ids
  for frames that do not carry their original ``image_id``.
"""
from __future__ import annotations

from typing import Any, Iterable, Iterator

import predport

FORMAT_ID = "coco"


@predport.hookimpl
def formats() -> list[predport.FormatInfo]:
    return [
        predport.FormatInfo(
            id=FORMAT_ID,
            title="COCO results",
            can_read=True,
            can_write=True,
            target="file",
            holds=frozenset({"score", "box", "polygon", "mask", "keypoints", "attributes", "frame_attributes"}),
            patterns=("*results*.json", "bbox.json", "segm.json", "coco_instances_results.json"),
            tasks=("detection", "segmentation", "keypoints"),
            description="COCO results list (bbox, RLE or polygon segmentation, keypoints), "
            "or results stored as a dataset dict; optional ground truth with -o gt=PATH; "
            "read as ground truth: an instance dataset (iscrowd, area, ignore kept as attributes)",
            roles=("predictions", "ground_truth"),
            read_options=(
                predport.Option("gt", "path", None, "COCO ground truth: frames named by file_name, with sizes "
                                "and category names"),
            ),
            write_options=(
                predport.Option("gt", "path", None, "COCO ground truth: data ids (file names) to its image ids"),
                predport.Option("categories", "path", None, "also write this companion file: a COCO dataset "
                                "dict with the categories, images and sizes"),
            ),
        )
    ]


_VERDICTS = {
    "results_unparsed": (predport.Confidence.MEDIUM,
                         "a JSON array whose first record (larger than the head) names image_id and a geometry"),
    "dataset_results": (predport.Confidence.HIGH,
                        "a COCO dataset dict whose annotations carry a score (results stored as a dataset)"),
    "empty": (predport.Confidence.LOW, "an empty JSON array: an empty COCO results list, or any empty list"),
    "captions": (predport.Confidence.NO, "COCO caption results: captions are not predictions"),
    "ground_truth": (predport.Confidence.HIGH,
                     "COCO ground truth, not results: its annotations carry no score (give it with -o gt=PATH, "
                     "or read it with role='ground_truth')"),
    "image_info": (predport.Confidence.NO, "a COCO dataset dict without annotations (image info), not results"),
}
#: What a sniffed kind holds, when the content tells (a read of the other role skips the vote).
_ROLES = {"dataset_results": "predictions", "ground_truth": "ground_truth"}
#: Words in a file name that make a COCO dataset dict more likely results than ground truth.
RESULT_NAME_HINTS = ("result", "det", "pred")


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
    if found.kind == "results":
        keys = [k for k in ("bbox", "segmentation", "keypoints") if k in found.first]
        what = "+".join(keys) or "category_id"
        if "score" in found.first:
            return predport.FormatMatch(FORMAT_ID, predport.Confidence.HIGH,
                                        f"a JSON array of results with image_id, {what} and score",
                                        role="predictions")
        return predport.FormatMatch(FORMAT_ID, predport.Confidence.MEDIUM,
                                    f"a JSON array of records with image_id and {what} but no score "
                                    "(stuff segmentation, or ground-truth annotations)")
    if found.kind == "dict_unknown":
        # Only the name can tell: ground truth is far more common than results in a dataset dict.
        if any(hint in source.name.lower() for hint in RESULT_NAME_HINTS):
            return predport.FormatMatch(FORMAT_ID, predport.Confidence.LOW,
                                        "a COCO dataset dict whose annotations lie beyond the head, "
                                        "named like results")
        return predport.FormatMatch(FORMAT_ID, predport.Confidence.EXTENSION,
                                    "a COCO dataset dict whose annotations lie beyond the head: results or "
                                    "ground truth? (name format='coco' if it holds results)")
    confidence, reason = _VERDICTS[found.kind]
    return predport.FormatMatch(FORMAT_ID, confidence, reason, role=_ROLES.get(found.kind))


@predport.hookimpl
def parse(source: predport.Source, format: str, context: predport.Context) -> Iterator[Any] | None:
    from .read import chunks

    return chunks(source.path, context)


@predport.hookimpl
def to_canonical(records: Iterable[Any], format: str) -> Iterator[predport.Frame] | None:
    from .read import frames

    return frames(records)


@predport.hookimpl
def from_canonical(stream: Any, format: str, target: Any, context: predport.Context) -> dict[str, Any] | None:
    from .write import write

    return write(stream, target, context)


@predport.hookimpl
def schemas() -> list[dict[str, Any]]:
    return predport.package_schemas("predport_coco")
