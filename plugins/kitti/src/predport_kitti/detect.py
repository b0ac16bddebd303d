"""Cheap content-based detection of KITTI label folders (and what only looks like them).

Reads the first lines of at most three label files through the hub's bounded ``Source``
helpers. A line is KITTI when it is a class name (non-numeric first field) followed by 14
or 15 numbers (more: extra columns) with ``left <= right`` and ``top <= bottom``; a numeric
class (an id without a name) is KITTI only with all of KITTI's constraints and pixel values
(:func:`numeric_kitti`). YOLO (5-6 numbers, the first an integer class, or longer lines of
normalised values) and KITTI *tracking* (frame and track id before
the class, 17-18 fields) are rejected with a reason.
"""
from __future__ import annotations

import math
import re
from pathlib import PurePath
from typing import Any

from predport import Confidence, FormatMatch, parse_number

FORMAT = "kitti"
KITTI_CLASSES = frozenset(
    c.casefold() for c in ("Car", "Van", "Truck", "Pedestrian", "Person_sitting", "Cyclist", "Tram", "Misc", "DontCare")
)
_SIX_DIGITS = re.compile(r"^\d{6}(_\d+)?$")
_NOT_LABELS = ("calib", "velodyne", "image_2", "image_3", "images", "planes")
_SAMPLE_FILES = 3
_SAMPLE_LINES = 20
_HEAD = 16 * 1024


def _num(tok: str) -> float | None:
    return parse_number(tok, finite=False)


def _is_int(tok: str) -> bool:
    return tok.lstrip("-").isdigit()


def numeric_kitti(toks: list[str]) -> bool:
    """Whether a line whose class is a number (predport writes the id of a category without a
    name) has KITTI's structure: 15 or 16 numbers, truncation in [-1, 1], occlusion -1..3,
    alpha -10 or within [-pi, pi], ``left <= right`` and ``top <= bottom`` — and pixel evidence
    (a value outside [0, 1]): a line of normalised values is a YOLO polygon of 7 points."""
    if len(toks) not in (15, 16) or not _is_int(toks[0]):
        return False
    v = [x for x in map(_num, toks[1:]) if x is not None]
    if len(v) != len(toks) - 1:
        return False
    trunc, occ, alpha, left, top, right, bottom = v[:7]
    if not -1 <= trunc <= 1 or occ not in (-1, 0, 1, 2, 3) or not (alpha == -10 or abs(alpha) <= math.pi + 1e-6):
        return False
    if right < left or bottom < top:
        return False
    return not all(0 <= x <= 1 for x in v[:14])


def _normalised(toks: list[str]) -> bool:
    """A class index then numbers in [0, 1] (a pose visibility may be 2): a YOLO line."""
    v = [_num(t) for t in toks[1:]]
    return _is_int(toks[0]) and all(x is not None and (0 <= x <= 1 or x == 2) for x in v)


def classify(toks: list[str]) -> str:
    """``"kitti"``, ``"yolo"``, ``"tracking"`` or ``"other"`` for one non-empty line's fields."""
    if _num(toks[0]) is not None:
        if 5 <= len(toks) <= 6 and _is_int(toks[0]) and all(_num(t) is not None for t in toks[1:]):
            return "yolo"
        if len(toks) >= 17 and _is_int(toks[0]) and _is_int(toks[1]) and _num(toks[2]) is None:
            return "tracking"
        if numeric_kitti(toks):
            return "kitti"
        if len(toks) >= 7 and _normalised(toks):
            return "yolo"
        return "other"
    k = 1
    while k < len(toks) and _num(toks[k]) is None:
        k += 1
    nums = [_num(t) for t in toks[k:k + 15]]
    if len(nums) < 14 or any(v is None for v in nums):
        return "other"
    if nums[5] < nums[3] or nums[6] < nums[4]:  # type: ignore[operator]
        return "other"
    return "kitti"


def _label_files(source: Any) -> tuple[list[str], list[str]]:
    """Relative paths of the label files to sample, and layout hints."""
    hints: list[str] = []
    exts: tuple[str, ...] = (".txt", ".csv")
    if source.is_file:
        if source.suffix != ".txt":
            return [], hints
        return [""], hints
    if source.has("ontology_mapping.json"):
        hints.append("Encord Active layout (ontology_mapping.json)")
        under = None
    elif source.has("labels") and source.has("ontology_label_map.json"):
        hints.append("Encord Active old layout (labels/ + ontology_label_map.json)")
        under = "labels"
    elif source.has("label_2"):
        hints.append("KITTI tree (label_2/" + ", image_2/" * source.has("image_2") + ", calib/" * source.has("calib") + ")")
        under = "label_2"
    else:
        exts = (".txt",)
        under = None
        if source.name == "label_2":
            hints.append("folder named label_2")
    files = [p for p in source.files(exts) if not (set(p.parts[:-1]) & set(_NOT_LABELS))]
    if under is not None:
        files = [p for p in files if p.parts[0] == under]
        if not files and under == "label_2":
            # The bounded listing may end inside calib/ or image_2/ before label_2/ is
            # reached; the devkit's first file name is a good guess.
            files = [PurePath("label_2/000000.txt")]
    else:
        top = [p for p in files if len(p.parts) == 1]
        files = top or files
    return [p.as_posix() for p in files[:_SAMPLE_FILES]], hints


def detect(source: Any) -> FormatMatch | None:
    rels, hints = _label_files(source)
    if not rels:
        return None
    counts = {"kitti": 0, "yolo": 0, "tracking": 0, "other": 0}
    widths: set[int] = set()
    first_bad = ""
    names: set[str] = set()
    sentinels = False
    files_read = 0
    for rel in rels:
        head = source.head(rel or None, _HEAD)
        if b"\x00" in head:
            return None  # binary
        text = head.decode("utf-8", errors="replace")
        lines = text.splitlines()
        if len(head) >= _HEAD:
            lines = lines[:-1]  # the last line may be cut off
        seen = 0
        for i, line in enumerate(lines, start=1):
            toks = line.split()
            if not toks:
                continue
            seen += 1
            kind = classify(toks)
            counts[kind] += 1
            if kind == "kitti":
                k = next(j for j in range(1, len(toks) + 1) if j == len(toks) or _num(toks[j]) is not None)
                widths.add(len(toks) - k + 1)
                names.add(" ".join(toks[:k]))
                sentinels = sentinels or toks[k + 2] == "-10" or toks[k + 10] == "-1000"
            elif not first_bad:
                first_bad = f"line {i} of {rel or source.name} has {len(toks)} fields: {line.strip()[:60]!r}"
            if seen >= _SAMPLE_LINES:
                break
        files_read += 1 if seen else 0
    total = sum(counts.values())
    where = f"{total} line(s) in {files_read} file(s)"
    if total == 0:
        if hints:
            return FormatMatch(FORMAT, Confidence.LOW, f"only empty label files; {'; '.join(hints)}")
        return FormatMatch(FORMAT, Confidence.EXTENSION, "only empty .txt files (KITTI frames with no objects?)")
    if counts["yolo"] * 2 > total:
        return FormatMatch(FORMAT, Confidence.NO, f"looks like YOLO: {first_bad} (a class id then normalised numbers)")
    if counts["tracking"] * 2 > total:
        return FormatMatch(
            FORMAT, Confidence.NO, f"looks like KITTI tracking (frame, track id, then the object): {first_bad}"
        )
    if counts["kitti"] == total:
        cols = "/".join(str(w) for w in sorted(widths))
        reason = f"{where} parse as KITTI ({cols} fields: type, 14 numbers, left<=right, top<=bottom"
        reason += ", score)" if max(widths) >= 16 else ")"
        hints = list(hints)
        stems = [PurePath(r).stem for r in rels if r]
        if stems and all(_SIX_DIGITS.match(s) for s in stems):
            hints.append("six-digit file names")
        known = sorted(n for n in names if n.casefold() in KITTI_CLASSES)
        if known:
            hints.append("KITTI class names (" + ", ".join(known[:4]) + ")")
        ids = sorted((n for n in names if _is_int(n)), key=int)
        if ids:
            hints.append("numeric classes (" + ", ".join(ids[:4]) + ") with KITTI's ranges and pixel values")
        if sentinels:
            hints.append("devkit unknown values (-10/-1000)")
        if hints:
            reason += "; " + "; ".join(hints)
        # Scored lines are results; 15 fields are labels or unscored results (either role).
        return FormatMatch(FORMAT, Confidence.HIGH, reason, role="predictions" if min(widths) >= 16 else None)
    if counts["kitti"] * 2 >= total:  # half and half: a tie with the other reading, refused
        return FormatMatch(
            FORMAT, Confidence.MEDIUM, f"{counts['kitti']} of {where} parse as KITTI; first other: {first_bad}"
        )
    return FormatMatch(FORMAT, Confidence.NO, f"text files, but not KITTI lines: {first_bad}")
