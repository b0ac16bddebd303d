"""Cheap detection of COCO results from the head bytes of a file (no numpy, no full load).

A COCO results file is a top-level JSON array of records; each record has
``image_id`` and one of ``bbox``/``segmentation``/``keypoints`` (plus ``score``).
Some tools store results as a dataset dict (``images``, ``annotations`` carrying
``score``, ``categories``). Ground truth has the same dict shape without scores,
and caption results are arrays of ``{image_id, caption}``: both are recognised
so that detection can reject them with a reason.

Only the head (at most 64 KiB) is parsed, value by value, with the standard
library's ``raw_decode``; a value cut off by the end of the head stops the walk.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

_DECODER = json.JSONDecoder()
_WS = frozenset(" \t\r\n")
GEOMETRY_KEYS = ("bbox", "segmentation", "keypoints")


@dataclass(frozen=True)
class Sniff:
    """What the head looks like.

    ``kind`` is one of ``results`` (a results list), ``dataset_results`` (a
    dataset dict whose annotations carry scores), ``empty`` (``[]``),
    ``captions``, ``ground_truth``, ``image_info`` (images, no annotations),
    ``dict_unknown`` (a COCO-looking dict whose annotations lie beyond the head),
    ``results_unparsed`` (the first record is larger than the head).
    ``first`` is the first record when one was parsed.
    """

    kind: str
    first: Any = None


def _skip(text: str, i: int) -> int:
    n = len(text)
    while i < n and text[i] in _WS:
        i += 1
    return i


def _classify_record(rec: Any) -> str | None:
    if not isinstance(rec, dict) or "image_id" not in rec:
        return None
    if any(k in rec for k in GEOMETRY_KEYS):
        return "results"
    if "caption" in rec:
        return "captions"
    if "category_id" in rec and "score" in rec:
        return "results"  # an image-level record: a category and a score, no geometry
    return None


def sniff(head: bytes, *, complete: bool) -> Sniff | None:
    """Classify ``head`` (the first bytes of a file; ``complete`` when it is the whole file)."""
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    i = _skip(text, 0)
    if i >= len(text):
        return None
    if text[i] == "[":
        return _sniff_list(text, i + 1, complete=complete)
    if text[i] == "{":
        return _sniff_dict(text, i + 1, complete=complete)
    return None


def _sniff_list(text: str, i: int, *, complete: bool) -> Sniff | None:
    i = _skip(text, i)
    if i >= len(text):
        return None
    if text[i] == "]":
        rest = _skip(text, i + 1)
        return Sniff("empty") if complete and rest == len(text) else None
    if text[i] != "{":
        return None
    try:
        rec, _ = _DECODER.raw_decode(text, i)
    except (ValueError, RecursionError):  # RecursionError: nested ~1000 deep
        # The first record does not fit in the head (a large mask): look at its keys only.
        window = text[i:]
        if '"image_id"' in window and any(f'"{k}"' in window for k in GEOMETRY_KEYS):
            return Sniff("results_unparsed")
        return None
    kind = _classify_record(rec)
    return None if kind is None else Sniff(kind, rec)


def _sniff_dict(text: str, i: int, *, complete: bool) -> Sniff | None:
    seen: set[str] = set()
    n = len(text)
    while True:
        i = _skip(text, i)
        if i >= n:
            break
        if text[i] == "}":
            # The whole top-level object was read and no annotations key came.
            if "images" in seen:
                return Sniff("image_info")
            return None
        try:
            key, i = _DECODER.raw_decode(text, i)
        except (ValueError, RecursionError):  # RecursionError: nested ~1000 deep
            break
        if not isinstance(key, str):
            return None
        i = _skip(text, i)
        if i >= n or text[i] != ":":
            break
        i = _skip(text, i + 1)
        if key == "annotations":
            return _sniff_annotations(text, i, seen)
        try:
            _, i = _DECODER.raw_decode(text, i)
        except (ValueError, RecursionError):  # RecursionError: nested ~1000 deep
            seen.add(key)
            break
        seen.add(key)
        i = _skip(text, i)
        if i < n and text[i] == ",":
            i += 1
    if seen & {"images", "categories"}:
        return Sniff("dict_unknown")
    return None


def _sniff_annotations(text: str, i: int, seen: set[str]) -> Sniff | None:
    if i >= len(text) or text[i] != "[":
        return None
    j = _skip(text, i + 1)
    if j < len(text) and text[j] == "]":
        return Sniff("image_info")  # no annotations: image info, or ground truth with nothing in it
    try:
        ann, _ = _DECODER.raw_decode(text, j)
    except (ValueError, RecursionError):  # RecursionError: nested ~1000 deep
        return Sniff("dict_unknown") if (seen & {"images", "categories"}) or j < len(text) else None
    if not isinstance(ann, dict) or "image_id" not in ann:
        return None
    if "score" in ann:
        return Sniff("dataset_results", ann)
    return Sniff("ground_truth", ann)
