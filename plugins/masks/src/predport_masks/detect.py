"""Detection: is this a folder (or file) of class-index PNG masks?

Reads at most two PNGs, each through ``source.head`` (the first 64 KiB, cached by
the hub): the header decides the colour type; the pixels in those bytes (all of
a typical mask, or its first rows) give the distinct values.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import predport

from .png import PngHeader, head_png, parse_header

__all__ = ["detect"]

FORMAT = "masks"
#: More distinct values than this in one mask: a photo or a depth map.
MAX_CLASSES = 128
#: 16-bit values from here on read as instance ids (Cityscapes class*1000+instance,
#: KITTI class*256+instance), not class indices.
INSTANCE_ID_FROM = 1000
#: Pixels beyond this are not decoded for detection (the header alone decides).
DETECT_MAX_PIXELS = 1 << 26
_DATA_SUFFIXES = (".txt", ".json", ".jsonl", ".csv", ".xml")
_SIDECARS = ("ontology_mapping.json", "class_map.json")
_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"


def _vote(conf: int, reason: str) -> Any:
    return predport.FormatMatch(FORMAT, conf, reason)


def _sample(source: Any, rel: Path | None) -> tuple[int, str, bool]:
    """Confidence and reason for one PNG; the flag says "only background" (inconclusive)."""
    import numpy as np

    C = predport.Confidence
    head = source.head(rel)
    name = rel.as_posix() if rel is not None else source.name
    header: PngHeader | None = parse_header(head)
    if header is None:
        return C.NO, f"{name} is not a PNG file", False
    if "SegmentationObject" in Path(name).parts or "SegmentationObject" in source.path.parts:
        return C.NO, "a VOC SegmentationObject folder holds instance ids, not classes", False
    if header.colour:
        return (
            C.NO,
            f"{name}: {header.describe()} PNG, a colour mask or a photo, not class indices "
            "(to read colour masks give a colour-to-class map: --from masks -o colors=FILE, "
            "or format='masks', options={'colors': {'R,G,B': class_value}})",
            False,
        )
    if header.pixels > DETECT_MAX_PIXELS:
        return C.LOW, f"{name}: single-channel {header.describe()} PNG, too large to sample", False
    from .png import label_array, open_png

    # A complete PNG ends with its IEND chunk; otherwise decode the whole rows the head holds.
    data = head if head.endswith(_IEND) else head_png(head, header)
    if data is None:
        return C.LOW, f"{name}: single-channel {header.describe()} PNG, pixels not sampled", False
    try:
        arr, mode = label_array(open_png(data, file=name), file=name)
    except predport.ParseError as err:
        return C.NO, f"{name}: {err.message}", False
    step = max(1, int((arr.size / 250_000) ** 0.5))
    values = np.unique(arr[::step, ::step])
    top = int(values.max()) if values.size else 0
    desc = f"{name}: {header.describe()} ({mode}), {values.size} distinct value(s)"
    if arr.dtype == np.uint16 and top >= INSTANCE_ID_FROM:
        return (
            C.NO,
            f"{desc} up to {top}: a 16-bit instance-id map (class*1000+instance or class*256+instance), "
            "not class indices",
            False,
        )
    if values.size > MAX_CLASSES:
        return C.NO, f"{desc}: too many for class indices (a photo or a depth map)", False
    if values.size == 1 and top == 0:
        return C.LOW, f"{desc}: only background (0)", True
    if 0 not in values:
        return C.MEDIUM, f"{desc}, no background value 0", False
    if mode in ("LA", "PA"):
        return C.MEDIUM, f"{desc}, with an alpha channel", False
    return C.HIGH, f"{desc} including background 0: class-index mask", False


def detect(source: Any) -> Any:
    C = predport.Confidence
    if source.is_file:
        if source.suffix != ".png":
            return None
        conf, reason, _ = _sample(source, None)
        return _vote(conf, reason)
    if not source.is_dir:
        return None
    pngs = list(source.files(".png"))
    if not pngs:
        return None
    conf, reason, empty = _sample(source, pngs[0])
    if empty and len(pngs) > 1:
        conf2, reason2, empty2 = _sample(source, pngs[1])
        if not empty2:
            conf, reason = conf2, reason2
    if conf <= C.NO:
        return _vote(conf, reason)
    notes = []
    listing = [p for p in source.files() if p.name not in _SIDECARS]
    others = sum(1 for p in listing if p.suffix.lower() in _DATA_SUFFIXES)
    if others >= len(pngs):
        conf = min(conf, C.LOW)
        notes.append(f"the folder also holds {others} text/JSON files: the PNGs may be images")
    onto = source.head("ontology_mapping.json", 4096) if source.has("ontology_mapping.json") else b""
    if onto and _int_values(onto):
        notes.append("ontology_mapping.json maps hashes to pixel values (Encord masks)")
        if conf == C.MEDIUM:
            conf = C.HIGH
    elif any("__" in p.stem and p.stem.rsplit("__", 1)[1].isdigit() for p in pngs[:50]):
        notes.append("names carry __<frame> (Encord's naming)")
        if conf == C.MEDIUM:
            conf = C.HIGH
    if notes:
        reason += "; " + "; ".join(notes)
    return _vote(conf, reason)


def _int_values(raw: bytes) -> bool:
    import json

    try:
        obj = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(obj, dict) and bool(obj) and all(
        isinstance(v, int) and not isinstance(v, bool) for v in obj.values()
    )
