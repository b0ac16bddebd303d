"""Cheap detection of Aquarium inference rows from the head of a file (stdlib only).

Only the first object is looked at: the first line of JSON Lines or the first element
of a JSON array. A row with 200 boxes is ~60 KB, so the first object can be longer
than the head; then the keys are checked as text, which is still specific enough
(``"task_id"`` next to ``"inference_data"`` and an Aquarium ``label_type``).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from .spec import LABEL_TYPES, V1_FRAME_KEYS

_LABEL_TYPE_RE = re.compile(r'"label_type"\s*:\s*"(' + "|".join(LABEL_TYPES) + r')"')
_TASK_ID_RE = re.compile(r'"task_id"\s*:\s*"')
_INFERENCE_RE = re.compile(r'"inference_data"\s*:\s*\[')
_LABEL_DATA_RE = re.compile(r'"label_data"\s*:\s*\[')
_ENTRY_KEYS = ("uuid", "label_type", "label", "attributes")


@dataclass(frozen=True)
class Sniffed:
    """What the head says: ``kind`` is ``inferences``, ``partial`` (first object cut off by the
    head), ``weak`` (task_id + inference_data, entries not Aquarium-shaped) or ``ground_truth``."""

    kind: str
    container: str  # "lines" or "array"
    generation: str | None = None


def generation_of(obj: dict[str, Any]) -> str:
    """``"v1"``, ``"legacy"`` or ``"oldest"`` for one frame row (by its frame-level keys)."""
    for key in V1_FRAME_KEYS:
        if key in obj:
            return "v1"
    if "type" in obj or "change" in obj or "reuse_latest_embedding" in obj:
        return "legacy"
    entries = obj.get("inference_data")
    if isinstance(entries, list) and entries and isinstance(entries[0], dict) and "class_id" in entries[0]:
        return "v1"
    return "oldest"


def _first_object(text: str) -> tuple[str, Any, bool]:
    """(container, first object or None, complete?) of a JSON array or JSON Lines text."""
    container = "lines"
    pos = 0
    if text.startswith("["):
        container = "array"
        pos = 1
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1
    try:
        obj, _ = json.JSONDecoder().raw_decode(text, pos)
        return container, obj, True
    except (ValueError, RecursionError):  # RecursionError: nested ~1000 deep
        return container, None, False


def sniff(head: bytes, *, complete: bool) -> Sniffed | None:
    """Classify the head of a file; ``None`` when it is not Aquarium-like at all."""
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    if not text.startswith(("{", "[")):
        return None
    container, obj, parsed = _first_object(text)
    if not parsed:
        if complete or container == "lines" and "\n" in text.rstrip("\r\n"):
            return None  # the first object is all there and is not valid JSON
        # The first object is longer than the head: look for the keys as text.
        if not _TASK_ID_RE.search(text):
            return None
        if _INFERENCE_RE.search(text):
            if _LABEL_TYPE_RE.search(text):
                gen = "v1" if any(f'"{k}"' in text for k in V1_FRAME_KEYS) else None
                return Sniffed("partial", container, gen)
            return Sniffed("weak", container)
        if _LABEL_DATA_RE.search(text):
            return Sniffed("ground_truth", container)
        return None
    if not isinstance(obj, dict) or not isinstance(obj.get("task_id"), str):
        return None
    entries = obj.get("inference_data")
    if entries is None:
        if isinstance(obj.get("label_data"), list):
            return Sniffed("ground_truth", container)
        return None
    if not isinstance(entries, list):
        return None
    for entry in entries[:20]:
        if not (isinstance(entry, dict) and all(k in entry for k in _ENTRY_KEYS)
                and entry.get("label_type") in LABEL_TYPES):
            return Sniffed("weak", container, generation_of(obj))
    return Sniffed("inferences", container, generation_of(obj))
