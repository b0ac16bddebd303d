"""Cheap detection of YOLO label folders, and of what only looks like them.

Reads the first lines of at most three non-empty label files through the hub's bounded
``Source`` views. YOLO text is a class index and normalised numbers; KITTI text (a
class name, or a numeric class with KITTI's ranges and pixel values, then 14 or 15 numbers)
is rejected with a reason, as is anything else
that is text but not YOLO.
"""
from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

import predport

from . import lines as L
from .layout import NOT_LABELS

FORMAT = "yolo"
_SAMPLE_FILES = 3
_SAMPLE_LINES = 20
_HEAD = 8 * 1024


def _label_source(source: Any) -> tuple[Any, list[str]]:
    """The Source to sample label files from, and layout hints for the reason."""
    hints: list[str] = []
    if source.has("labels") and (source.path / "labels").is_dir():
        hints.append("labels/")
        # A separate bounded view: a large images/ folder must not use up the listing first.
        sub = predport.Source(source.path / "labels")
    else:
        sub = source
    for name in ("data.yaml", "data.yml", "classes.txt"):
        if source.has(name) or (sub is not source and sub.has(name)):
            hints.append(name)
    return sub, hints


def _classify(text: str) -> tuple[str, str]:
    """``(verdict, example)`` for one line: verdict is yolo, outside, kitti, other."""
    toks = text.split()
    if L.number(toks[0]) is None:
        if 15 <= len(toks) <= 17:
            return "kitti", text
        return "other", text
    if len(toks) < 5 or L.class_index(toks[0]) is None:
        return "other", text
    values = [L.number(t) for t in toks[1:]]
    if any(v is None for v in values):
        return "other", text
    # Normalised values; a pose visibility may be 2, and a last value may be a track id.
    coords = values[:-1] if toks[-1].isdigit() else values
    if not all(L.in_unit(v) or v == 2 for v in coords):  # type: ignore[arg-type]
        return ("kitti" if _kitti_shaped(values) else "outside"), text
    return "yolo", text


def _kitti_shaped(values: list[float | None]) -> bool:
    """The 14-15 numbers after a numeric class in a KITTI line (truncation, occlusion -1..3,
    alpha, a pixel box with left <= right and top <= bottom, ...): KITTI, not a YOLO polygon
    with values outside [0, 1]."""
    nums = [v for v in values if v is not None]
    if len(values) not in (14, 15) or len(nums) != len(values):
        return False
    trunc, occ, alpha, left, top, right, bottom = nums[:7]
    return (-1 <= trunc <= 1 and occ in (-1, 0, 1, 2, 3) and (alpha == -10 or abs(alpha) <= 3.1416)
            and left <= right and top <= bottom)


def detect(source: Any) -> predport.FormatMatch | None:
    if source.is_file:
        return _detect_yaml(source)
    if not source.is_dir:
        return None
    sub, hints = _label_source(source)
    files = [rel for rel in sub.files(".txt") if rel.name.lower() not in NOT_LABELS
             and not any(part.startswith(".") for part in PurePosixPath(rel.as_posix()).parts)]
    if not files:
        return None
    verdicts = {"yolo": 0, "outside": 0, "kitti": 0, "other": 0}
    examples: dict[str, str] = {}
    sampled = 0
    for rel in files:
        raw = sub.head(rel, size=_HEAD)
        rows = [ln for ln in raw.decode("utf-8", errors="replace").splitlines()[:_SAMPLE_LINES] if ln.strip()]
        if not rows:
            continue
        sampled += 1
        # The last line of the head may be cut off: judge it only if the file ended there.
        if len(raw) >= _HEAD and len(rows) > 1:
            rows = rows[:-1]
        for row in rows:
            verdict, example = _classify(row)
            verdicts[verdict] += 1
            examples.setdefault(verdict, example.strip()[:80])
        if sampled >= _SAMPLE_FILES:
            break
    where = f" ({', '.join(hints)})" if hints else ""
    if not sampled:
        return predport.FormatMatch(FORMAT, predport.Confidence.LOW,
                                    f"only empty .txt files{where}; any one-file-per-image text format fits")
    total = sum(verdicts.values())
    yolo_like = verdicts["yolo"] + verdicts["outside"]
    if verdicts["kitti"] * 2 > total:
        return predport.FormatMatch(FORMAT, predport.Confidence.NO,
                                    f"a class then 14-16 numbers in KITTI's ranges ({examples['kitti']!r}): KITTI, not YOLO")
    if yolo_like * 2 < total or not yolo_like:
        bad = examples.get("other") or examples.get("kitti")
        return predport.FormatMatch(FORMAT, predport.Confidence.NO,
                                    f"not 'class cx cy w h [conf] [track_id]', a polygon nor a pose line: {bad!r}")
    if verdicts["outside"] * 2 > total:
        # YOLO-shaped but not normalised: let it win only when nothing else fits, so that
        # reading it gives the precise error (which value, which line) instead of "unknown".
        return predport.FormatMatch(FORMAT, predport.Confidence.LOW,
                                    f"class-index lines with values outside [0, 1] ({examples['outside']!r}): "
                                    "pixel coordinates are not YOLO")
    if verdicts["yolo"] < total:
        # Mostly YOLO with a broken line: still ours, so that reading names the line.
        bad = examples.get("other") or examples.get("outside") or examples.get("kitti")
        return predport.FormatMatch(FORMAT, predport.Confidence.MEDIUM,
                                    f"{verdicts['yolo']} of {total} sampled lines are YOLO; not: {bad!r}")
    return predport.FormatMatch(FORMAT, predport.Confidence.HIGH,
                                f"{total} sampled lines of class index + normalised values{where}")


def _detect_yaml(source: Any) -> predport.FormatMatch | None:
    if source.suffix not in (".yaml", ".yml"):
        return None
    lines = source.head(size=_HEAD).decode("utf-8", errors="replace").splitlines()
    keys = {ln.split(":", 1)[0].strip() for ln in lines if ln and not ln.startswith((" ", "\t", "-", "#")) and ":" in ln}
    if "names" not in keys:
        return None
    if (source.path.parent / "labels").is_dir():
        return predport.FormatMatch(FORMAT, predport.Confidence.HIGH, "data.yaml with names, labels/ beside it")
    if keys & {"train", "val", "test", "path", "nc"}:
        return predport.FormatMatch(FORMAT, predport.Confidence.MEDIUM, "Ultralytics data.yaml (names, splits)")
    return predport.FormatMatch(FORMAT, predport.Confidence.LOW, "a YAML file with names")
