"""Detection of Lightly prediction folders and per-image files (cheap: only orjson, inside functions)."""
from __future__ import annotations

import re
from typing import Any

import predport

from .hooks import FORMAT, TASK_TYPES

_TASK_TYPE_RE = re.compile(rb'"task_type"\s*:\s*"([^"\\]*)"')
_KEY_RE = re.compile(rb'"(file_name|predictions)"\s*:')


def _task_type(source: Any, rel: str) -> bytes | None:
    """The ``task_type`` of ``rel`` (a schema.json below the source), ``b""`` when it has none, ``None`` when absent."""
    if not source.has(rel):
        return None
    m = _TASK_TYPE_RE.search(source.head(rel))
    return b"" if m is None else m.group(1)


def _schema_vote(source: Any, rel: str, what: str) -> Any:
    tt = _task_type(source, rel)
    if tt is None:
        return None
    if tt == b"":
        return predport.FormatMatch(FORMAT, predport.Confidence.NO, f"{rel} has no task_type: not a Lightly task")
    name = tt.decode("utf-8", "replace")
    if name not in TASK_TYPES:
        return predport.FormatMatch(
            FORMAT, predport.Confidence.NO, f"{rel} has task_type {name!r}, not a Lightly task type"
        )
    return predport.FormatMatch(FORMAT, predport.Confidence.CERTAIN, f"{what}: {rel} with task_type {name!r}")


def detect_dir(source: Any) -> Any:
    import orjson

    path = source.path
    in_lightly = ".lightly" in path.parts
    if path.name == ".lightly" and source.has("predictions"):
        base, in_lightly = "predictions/", True
    elif source.has(".lightly/predictions"):
        base, in_lightly = ".lightly/predictions/", True
    else:
        base = ""
    if source.has(base + "tasks.json"):
        try:
            listed = orjson.loads(source.head(base + "tasks.json"))
        except orjson.JSONDecodeError:
            listed = None
        if not isinstance(listed, list) or not all(isinstance(t, str) for t in listed):
            return predport.FormatMatch(
                FORMAT,
                predport.Confidence.LOW if in_lightly else predport.Confidence.NO,
                f"{base}tasks.json is not a JSON array of task names",
            )
        good = [t for t in listed if "/" not in t and _task_type(source, f"{base}{t}/schema.json") in
                tuple(x.encode() for x in TASK_TYPES)]
        if good or in_lightly:
            return predport.FormatMatch(
                FORMAT,
                predport.Confidence.CERTAIN,
                f"{base}tasks.json lists {len(listed)} task(s); {len(good)} with a schema.json task_type",
            )
        return predport.FormatMatch(
            FORMAT, predport.Confidence.NO, "tasks.json lists no folder holding a schema.json with task_type"
        )
    vote = _schema_vote(source, base + "schema.json", "a Lightly task folder")
    if vote is not None:
        return vote
    tasks = []
    depth = len(base.strip("/").split("/")) if base else 0
    for rel in source.listing():
        if len(rel.parts) == depth + 1 and rel.as_posix().startswith(base):
            tt = _task_type(source, f"{rel.as_posix()}/schema.json")
            if tt and tt.decode("utf-8", "replace") in TASK_TYPES:
                tasks.append(rel.name)
    if tasks:
        return predport.FormatMatch(
            FORMAT, predport.Confidence.CERTAIN,
            f"task folders without tasks.json: {', '.join(tasks[:5])} hold schema.json with task_type",
        )
    if in_lightly:
        return predport.FormatMatch(
            FORMAT, predport.Confidence.LOW, "a .lightly folder, but no tasks.json and no task folder"
        )
    return None


def detect_file(source: Any) -> Any:
    if source.suffix != ".json":
        return None
    head = source.head().lstrip()
    if source.name in ("schema.json", "tasks.json"):
        if source.name == "schema.json" and _TASK_TYPE_RE.search(head):
            return predport.FormatMatch(
                FORMAT, predport.Confidence.NO, "a Lightly schema.json: read its task folder instead"
            )
        if source.name == "tasks.json" and head.startswith(b"["):
            return predport.FormatMatch(
                FORMAT, predport.Confidence.NO, "a Lightly tasks.json: read its predictions folder instead"
            )
        return None
    if not head.startswith(b"{"):
        return None
    keys = {m.group(1) for m in _KEY_RE.finditer(head[:4096])}
    if keys != {b"file_name", b"predictions"}:
        return None
    import orjson

    try:
        doc = orjson.loads(source.head())
    except orjson.JSONDecodeError:
        doc = None  # longer than the head: the key signature has to do
    if doc is not None and not (
        isinstance(doc, dict) and isinstance(doc.get("file_name"), str) and isinstance(doc.get("predictions"), list)
    ):
        return predport.FormatMatch(FORMAT, predport.Confidence.NO, "'file_name'/'predictions' of the wrong types")
    if doc is not None and set(doc) - {"file_name", "predictions"}:
        return predport.FormatMatch(
            FORMAT, predport.Confidence.LOW, "an object with file_name and predictions, plus other keys"
        )
    return predport.FormatMatch(
        FORMAT, predport.Confidence.MEDIUM, "one Lightly per-image file ({file_name, predictions})"
    )


def detect(source: Any) -> Any:
    """The vote on a folder (``tasks.json``, task folders with a ``schema.json``) or one per-image file."""
    if source.is_dir:
        return detect_dir(source)
    if source.is_file:
        return detect_file(source)
    return None
