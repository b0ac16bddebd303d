"""Load a JSON file fast (orjson), and explain precisely why when it cannot be loaded.

orjson is strict: it rejects truncated files, but also the non-standard tokens
``NaN``/``Infinity`` that Python's ``json`` module writes, integers beyond 64 bits
and lone surrogates. When orjson fails, the file is parsed again with the
standard library: if that fails too, the error position is turned into a JSON
path (``$[733].bbox``) by walking the document with ``raw_decode``; if it
succeeds, the document is returned marked *non-strict* so that the reader can
report each offending value at its own path (and skip just that record under
policy ``skip``).
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import predport

_DECODER = json.JSONDecoder()
_WS = frozenset(" \t\r\n")
_INT64 = (-(2**63), 2**63 - 1)


def read_bytes(path: Path) -> bytes:
    """The whole file: a regular file within the size limit, else a located ParseError."""
    return predport.read_bytes(path, file=str(path))


def loads(raw: bytes, *, file: str) -> tuple[Any, bool]:
    """Parse ``raw``; returns ``(document, strict)``.

    ``strict`` is False when only the standard library could parse the file
    (non-standard tokens such as ``NaN``); the caller must then check values
    with :func:`find_nonstrict`. Raises :class:`predport.ParseError` naming the
    file, line, column, JSON path and field when the text is not JSON at all.
    """
    import orjson

    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as strict_error:
        strict_msg = str(strict_error)
    else:
        predport.check_json_depth(doc, raw=raw, file=file)  # the depth limit, before anything recurses
        return doc, True
    if "Recursion limit" in strict_msg:  # deeper than orjson's 1024 levels: json.loads would recurse too
        raise predport.ParseError("JSON nested more than 1024 levels deep", file=file, json_path="$",
                                  hint="no COCO file nests that deep")

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise predport.ParseError(
            f"not UTF-8 text: byte 0x{raw[exc.start]:02x} at offset {exc.start}", file=file, json_path="$"
        ) from None
    try:
        doc = json.loads(text)
    except RecursionError:
        raise predport.ParseError("JSON nested too deep to read", file=file, json_path="$") from None
    except json.JSONDecodeError as exc:
        _invalid(text, exc, strict_msg, file)
    except ValueError as exc:  # an integer of thousands of digits: Python's int-string limit
        raise predport.ParseError(f"a number is too long to be read: {str(exc).split(';')[0]}", file=file,
                                  json_path="$", hint="COCO ids and values fit 64 bits") from None
    predport.check_json_depth(doc, raw=raw, file=file)
    return doc, False


def _invalid(text: str, exc: json.JSONDecodeError, strict_msg: str, file: str) -> None:
    """Raise the located ParseError for text neither orjson nor the standard library parses."""
    path = locate(text, exc.pos)
    field = next((p for p in reversed(path) if isinstance(p, str)), None)
    if "end of data" in strict_msg or not text[exc.pos:].strip():
        why = f"the file ends inside a value (truncated?): {exc.msg}"
    else:
        why = exc.msg
    raise predport.ParseError(
        f"invalid JSON: {why} (orjson: {strict_msg})",
        file=file,
        line=exc.lineno,
        column=exc.colno,
        json_path=path,
        field=field,
    ) from None


def _skip(text: str, i: int) -> int:
    n = len(text)
    while i < n and text[i] in _WS:
        i += 1
    return i


def locate(text: str, pos: int) -> list[Any]:
    """The JSON path (keys and indices) of the innermost value around character ``pos``.

    Complete siblings are skipped with ``raw_decode`` (C speed); the walk descends
    into the child that fails to parse or that spans ``pos``.
    """
    path: list[Any] = []
    n = len(text)
    i = _skip(text, 0)
    while i < n and text[i] in "[{":
        is_list = text[i] == "["
        j = _skip(text, i + 1)
        index = 0
        child_start = None
        while j < n and j <= pos and text[j] not in "]}":
            key: Any = index
            if not is_list:
                try:
                    key, j = _DECODER.raw_decode(text, j)
                except ValueError:
                    return path
                j = _skip(text, j)
                if j >= n or text[j] != ":":
                    path.append(key)
                    return path
                j = _skip(text, j + 1)
            try:
                _, end = _DECODER.raw_decode(text, j)
            except ValueError:
                end = None
            if end is None or end > pos:
                path.append(key)
                child_start = j
                break
            j = _skip(text, end)
            if j < n and text[j] == ",":
                j = _skip(text, j + 1)
            index += 1
        if child_start is None:
            return path
        i = child_start
    return path


def find_nonstrict(value: Any, path: tuple[Any, ...] = ()) -> tuple[tuple[Any, ...], str] | None:
    """The first value strict JSON cannot hold (NaN, infinities, integers beyond 64 bits), with its path."""
    if isinstance(value, float):
        if not math.isfinite(value):
            token = "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
            return path, (f"{token} is not a JSON number (non-standard JSON, as Python's json module "
                          "writes it, or a number out of range)")
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        if not _INT64[0] <= value <= _INT64[1]:
            return path, f"integer {value} does not fit in 64 bits"
        return None
    if isinstance(value, dict):
        for k, v in value.items():
            found = find_nonstrict(v, path + (k,))
            if found:
                return found
    elif isinstance(value, list):
        for k, v in enumerate(value):
            found = find_nonstrict(v, path + (k,))
            if found:
                return found
    elif isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path, "string with a lone surrogate (not valid UTF-8)"
    return None
