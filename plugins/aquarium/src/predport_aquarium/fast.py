"""Typed decoding of the common JSON Lines row: a frame whose every entry is a plain ``BBOX_2D``.

A 0.0.x frame row of 200 boxes is ~70 KB of JSON; decoded generically (orjson) it becomes
~1,600 dicts, strings and floats that the reader then checks and pulls apart again. Here
``msgspec`` decodes the entries straight into small typed structs whose shape is *exactly*
what the reader's box fast path accepts (entry keys, ``label_type`` ``"BBOX_2D"``, sensor
``"DEFAULT"``, default entry fields, attributes top/left/width/height/confidence as
numbers): the type checks happen inside the decoder.

Anything else — another label type, an extra key, a null confidence, a boolean where a
number belongs, invalid JSON — raises inside msgspec, and the line is decoded again with
orjson and goes down the general path unchanged (same values, same error messages).

The frame level is decoded as ``{key: raw JSON}`` first, so that the frame's keys keep
their order, and each frame-level value is decoded with orjson exactly as before; only
``inference_data`` (and 1.0.x's ``label_data`` copy of it) is decoded by msgspec.

``ENABLED`` switches the typed decoding off (tests compare both paths on the same rows).
"""
from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
import orjson

from .spec import V1_FRAME_KEYS

#: False: every line is decoded with orjson (the general decoding), as before this module.
ENABLED = True

_ERRORS = (msgspec.ValidationError, msgspec.DecodeError)
#: orjson reads integers beyond 64 bits as float: a class id beyond int64 (msgspec bounds
#: stop there) takes the general path, which checks it as before.
_ClassId = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]


# gc=False: the structs hold only strings, floats, an empty tuple and another such struct,
# never a cycle; 1,000,000 of them would otherwise be walked by every full collection.
class Box(msgspec.Struct, gc=False, forbid_unknown_fields=True):
    """Attributes of a plain box: pixels, ``confidence`` as given (ints read as float64)."""

    top: float
    left: float
    width: float
    height: float
    confidence: float


class OldestEntry(msgspec.Struct, gc=False, forbid_unknown_fields=True):
    uuid: str
    linked_labels: tuple[()]
    label_type: Literal["BBOX_2D"]
    label: str
    label_coordinate_frame: Literal["DEFAULT"]
    attributes: Box


class LegacyEntry(OldestEntry):
    """The oldest entry plus the two keys 0.0.x clients added later (struct options are inherited)."""

    reuse_latest_embedding: Literal[False]
    change: Literal["ADD"]


class V1Entry(msgspec.Struct, gc=False, forbid_unknown_fields=True):
    uuid: str
    label_type: Literal["BBOX_2D"]
    label: str
    class_id: _ClassId
    label_coordinate_frame: Literal["DEFAULT"]
    attributes: Box
    reuse_latest_embedding: Literal[False]
    change: Literal["ADD"]


_FRAME = msgspec.json.Decoder(dict[str, msgspec.Raw])
_ENTRIES: dict[str, msgspec.json.Decoder[Any]] = {
    "legacy": msgspec.json.Decoder(list[LegacyEntry]),
    "v1": msgspec.json.Decoder(list[V1Entry]),
    "oldest": msgspec.json.Decoder(list[OldestEntry]),
}
_LEGACY_KEYS = ("type", "change", "reuse_latest_embedding")


class Rows:
    """Placeholder for ``inference_data`` (and an identical ``label_data``) in :attr:`FastRow.frame`."""

    __slots__ = ()


class FastRow:
    """One decoded line: ``frame`` is the row as orjson would give it except that
    ``inference_data`` is a :class:`Rows` placeholder, ``entries`` the typed entries,
    ``raw`` the line (decoded again when the typed columns are declined)."""

    __slots__ = ("frame", "entries", "gen", "raw")

    def __init__(self, frame: dict[str, Any], entries: list[Any], gen: str, raw: bytes) -> None:
        self.frame = frame
        self.entries = entries
        self.gen = gen
        self.raw = raw


def decode(raw: bytes) -> FastRow | None:
    """The typed row of one JSON Lines line, or ``None`` (then: orjson and the general path)."""
    try:
        parts = _FRAME.decode(raw)
    except _ERRORS:
        return None
    rows = parts.get("inference_data")
    if rows is None:
        return None
    # The generation by the frame keys, as sniff.generation_of; "oldest" rows whose entries
    # carry class_id (v1 by their entries) fail the oldest decoder and take the general path.
    if any(k in parts for k in V1_FRAME_KEYS):
        gen = "v1"
    elif any(k in parts for k in _LEGACY_KEYS):
        gen = "legacy"
    else:
        gen = "oldest"
    try:
        entries = _ENTRIES[gen].decode(rows)
    except _ERRORS:
        return None
    placeholder = Rows()
    frame: dict[str, Any] = {}
    for key, value in parts.items():
        if key == "inference_data":
            frame[key] = placeholder
        elif key == "label_data" and gen == "v1":
            if bytes(value) != bytes(rows):
                return None  # may differ from inference_data: the reader compares the values
            frame[key] = placeholder  # equal to inference_data: the reader drops it
        else:
            try:
                frame[key] = orjson.loads(bytes(value))
            except orjson.JSONDecodeError:
                return None  # msgspec accepted what orjson does not: orjson's error message
    return FastRow(frame, entries, gen, raw)
