"""Built-in plugin: predport's own canonical JSON and JSON Lines.

* ``canonical`` — one JSON document (``schema``, ``source``, ``categories``, ``frames``).
* ``canonical-jsonl`` — JSON Lines: the first line is the document without
  frames (``"frames": []``), then one frame object per line, for streaming.

Writers stream frame by frame: each frame is validated against the frame
definition of the committed schema, serialised with orjson and spooled; the
head (with the categories, complete only at the end) is validated and written
first when the file is assembled.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Iterator

from .format_detection import HOLDABLE, Confidence, FormatInfo, FormatMatch, Source
from .errors import OutputError, ParseError, PredportError
from .hookspecs import hookimpl

SCHEMA_KEY = b'"schema"'
_HOLDS = frozenset(HOLDABLE)


@hookimpl
def formats() -> list[FormatInfo]:
    # The two spellings of one model: everything but the layout is the same.
    same: dict[str, Any] = dict(can_read=True, can_write=True, target="file", holds=_HOLDS,
                                tasks=("detection", "segmentation", "keypoints", "classification"),
                                roles=("predictions", "ground_truth"), read_options=(), write_options=())
    return [
        FormatInfo(id="canonical", title="predport canonical JSON", patterns=("*.json",),
                   description="predport/prediction-set/1 as one JSON document", **same),
        FormatInfo(id="canonical-jsonl", title="predport canonical JSON Lines", patterns=("*.jsonl",),
                   description="head line, then one frame per line", **same),
    ]


@hookimpl
def detect_format(source: Source) -> FormatMatch | None:
    if not source.is_file:
        return None
    head = source.head().lstrip()
    if not head.startswith(b"{") or SCHEMA_KEY not in head:
        return None
    if b'"predport/prediction-set/1"' not in head:
        return FormatMatch("canonical", Confidence.NO, "a JSON object with 'schema', but not predport's")
    # Content decides, not the extension: a JSON Lines file starts with a head line
    # whose "frames" is empty and has more lines after it.
    first, newline, rest = head.partition(b"\n")
    if newline and rest.strip():
        import orjson

        try:
            line = orjson.loads(first)
        except orjson.JSONDecodeError:
            line = None
        if isinstance(line, dict) and line.get("frames") == []:
            return FormatMatch("canonical-jsonl", Confidence.CERTAIN,
                               "head line with schema predport/prediction-set/1, then one frame per line")
    if source.suffix == ".jsonl" and not newline and not source.head_is_complete():
        return FormatMatch("canonical-jsonl", Confidence.HIGH,
                           "schema predport/prediction-set/1 in a .jsonl file whose first line is long")
    return FormatMatch("canonical", Confidence.CERTAIN, "'schema': 'predport/prediction-set/1'")


@hookimpl
def parse(source: Source, format: str, context: Any) -> Iterator[Any] | None:
    if format == "canonical":
        return _parse_document(source.path, context)
    if format == "canonical-jsonl":
        return _parse_lines(source.path, context)
    return None


def _loads(raw: bytes, *, file: str, line: int | None = None) -> Any:
    from .limits import load_json

    return load_json(raw, file=file, line=line)  # bad JSON and the depth limit: a located ParseError


def _registry(context: Any) -> Any:
    reg = getattr(context, "registry", None)
    if reg is None:
        from .hub import get_hub

        reg = get_hub().registry
    return reg


def _declare(head: dict[str, Any], context: Any, file: str, line: int | None = None) -> dict[int, tuple[int, str]]:
    """Validate the head, declare its categories; return source id -> (canonical id or -1 if unmapped, name)."""
    from .errors import SchemaValidationError
    from .registry import PREDICTION_SET_ID

    try:
        _registry(context).validate(PREDICTION_SET_ID, {**head, "frames": []}, file=file)
    except SchemaValidationError as err:
        err.line = line
        raise
    from .limits import check_id

    first: dict[Any, int] = {}
    for i, c in enumerate(head.get("categories", [])):
        check_id(c["id"], what="category id", file=file, line=line, json_path=("categories", i, "id"), field="id")
        j = first.setdefault(c["id"], i)
        if j != i:  # the last one would silently win: a writer never writes two
            raise ParseError(f"category id {c['id']} is declared twice (categories {j} and {i})", file=file,
                             line=line, json_path=("categories", i, "id"), field="id")
    return {
        c["id"]: (context.categories.declare(c["id"], c["name"], c.get("external_id"), c.get("attributes")),
                  c["name"])
        for c in head.get("categories", [])
    }


def _parse_document(path: Path, context: Any) -> Iterator[tuple[str, int, dict[str, Any], dict[int, tuple[int, str]]]]:
    from .limits import read_bytes

    doc = _loads(read_bytes(path, file=str(path)), file=str(path))
    if not isinstance(doc, dict) or not isinstance(doc.get("frames"), list):
        raise ParseError("not a predport prediction set (no 'frames' list)", file=str(path), json_path="$")
    frames = doc.pop("frames")
    ids = _declare(doc, context, str(path))
    del doc
    for i in range(len(frames)):
        frame, frames[i] = frames[i], None  # release each frame once handed on
        yield (str(path), i, frame, ids)


def _parse_lines(path: Path, context: Any) -> Iterator[tuple[str, int, dict[str, Any], dict[int, tuple[int, str]]]]:
    from .limits import open_regular

    with open_regular(path, file=str(path)) as fh:
        first = fh.readline()
        head = _loads(first, file=str(path), line=1)
        if not isinstance(head, dict):
            raise ParseError("first line must be the document head", file=str(path), line=1)
        if head.get("frames"):
            raise ParseError(
                "the first line holds frames: this is a canonical JSON document, not JSON Lines",
                file=str(path), line=1, field="frames", hint="read it with format='canonical' (--from canonical)",
            )
        ids = _declare(head, context, str(path), line=1)
        for lineno, raw in enumerate(fh, start=2):
            if raw.strip():
                yield (str(path), lineno, _loads(raw, file=str(path), line=lineno), ids)


def _bad_mask(masks: Any, context: Any, file: str, line: int | None, base: tuple[Any, ...]) -> bool:
    """Report (and say so) the first RLE whose runs do not cover its height x width."""
    from .limits import check_rle

    for j, m in enumerate(masks):
        if m:
            try:
                check_rle(m.get("size"), m.get("counts"), file=file, line=line,
                          json_path=base + ("predictions", j, "mask", "counts"), field="mask")
            except PredportError as err:
                context.problem(err)
                return True
    return False


@hookimpl
def to_canonical(records: Any, format: str, context: Any) -> Iterator[Any] | None:
    return _frames(records, format, context)


def _frames(records: Any, format: str, context: Any) -> Iterator[Any]:
    import numpy as np

    from .model import Detections, Frame
    from .registry import FRAME_REF

    registry = _registry(context)
    lookup: tuple[Any, Any] | None = None
    for file, pos, rec, ids in records:
        base = ("frames", pos) if format == "canonical" else ()
        line = pos if format == "canonical-jsonl" else None
        try:
            registry.validate(FRAME_REF, rec, file=file, base_path=base)
        except PredportError as err:
            err.line = line
            context.problem(err)
            continue
        try:
            dets = Detections.from_records(rec.get("predictions", []))
        except OverflowError:  # an id beyond int64 (the schema says only "integer")
            j = next(j for j, p in enumerate(rec["predictions"]) if not -(1 << 63) <= p["category_id"] < (1 << 63))
            context.problem(ParseError("category_id is outside the 64-bit integer range", file=file, line=line,
                                       json_path=base + ("predictions", j, "category_id"), field="category_id"))
            continue
        if dets.mask is not None and _bad_mask(dets.mask, context, file, line, base):
            continue
        if len(dets):
            if lookup is None:
                keys = np.array(sorted(ids), dtype=np.int64)
                lookup = (keys, np.array([ids[k][0] for k in keys.tolist()], dtype=np.int64))
            keys, values = lookup
            at = np.searchsorted(keys, dets.category_id).clip(0, max(len(keys) - 1, 0))
            known = (keys[at] == dets.category_id) if len(keys) else np.zeros(len(dets), bool)
            if not known.all():
                j = int(np.flatnonzero(~known)[0])
                context.problem(ParseError(
                    f"category_id {int(dets.category_id[j])} is not among the document's categories",
                    file=file, line=line, json_path=base + ("predictions", j, "category_id"), field="category_id",
                ))
                continue
            mapped = values[at]
            source_ids = dets.category_id
            if (mapped != source_ids).any():
                dets = Detections(mapped, dets.score, dets.box, dets.polygon, dets.mask, dets.keypoints,
                                  dets.probabilities, dets.box3d, dets.attributes)
                if (mapped < 0).any():  # classes the user's class map leaves out: counted per row
                    for cid in source_ids[mapped < 0].tolist():
                        context.categories.unmapped[ids[cid][1]] += 1
                    dets = dets.take(mapped >= 0)
        yield Frame.model_construct(
            data_id=rec["data_id"],
            frame_index=rec.get("frame_index"),
            width=rec.get("width"),
            height=rec.get("height"),
            predictions=dets,
            attributes=rec.get("attributes") or {},
        )


@hookimpl
def from_canonical(stream: Any, format: str, target: Any) -> dict[str, Any] | None:
    import orjson

    from .columns import columns_json
    from .model import SCHEMA_NAME
    from .registry import FRAME_REF, PREDICTION_SET_ID

    empty_predictions = b'"predictions":[]'

    jsonl = format == "canonical-jsonl"
    # Frames are held in memory up to this many bytes, then spilled to a scratch file:
    # a small output is written once (not to a spool and again to the output), while
    # memory stays bounded for any stream length.
    memory_limit = 64 << 20
    held: list[bytes] = []
    held_bytes = 0
    spool = None
    first = True
    for i, frame in enumerate(stream.frames):
        body = columns_json(frame.predictions)  # None: not boxes only, the validated general path
        obj = frame.to_json_dict(with_predictions=body is None)
        target.validate(FRAME_REF, obj, base_path=() if jsonl else ("frames", i))
        try:
            blob = orjson.dumps(obj)
        except TypeError as exc:  # e.g. an attribute value JSON cannot hold
            raise OutputError(f"cannot serialise frame {frame.data_id!r} to JSON: {exc}",
                              file=str(target.dest), json_path=() if jsonl else ("frames", i)) from None
        if body is not None:
            # The first '"predictions":[]' is the frame's own key: it precedes "attributes",
            # and inside JSON strings every quote is escaped.
            at = blob.index(empty_predictions) + len(empty_predictions) - 2
            blob = blob[:at] + body + blob[at + 2:]
        piece = blob + b"\n" if jsonl else (blob if first else b"," + blob)
        first = False
        if spool is not None:
            spool.write(piece)
            continue
        held.append(piece)
        held_bytes += len(piece)
        if held_bytes > memory_limit:
            spool = target.scratch()
            spool.writelines(held)
            held = []
    head: dict[str, Any] = {
        "schema": SCHEMA_NAME,
        "source": None if stream.source is None else stream.source.model_dump(),
        "categories": [c.model_dump() for c in stream.categories],
        "frames": [],
    }
    target.validate(PREDICTION_SET_ID, head)
    out = target.open(None)
    head_bytes = orjson.dumps(head)
    if jsonl:
        out.write(head_bytes + b"\n")
    else:
        # The head ends in '"frames":[]}'; open the list, copy the frames, close it.
        out.write(head_bytes[:-2])
    if spool is None:
        out.writelines(held)
    else:
        spool.seek(0)
        shutil.copyfileobj(spool, out, 1 << 20)
    if not jsonl:
        out.write(b"]}")
    out.close()
    return {"categories": len(head["categories"])}
