"""Cutting one large file into shards: JSON Lines by line ranges, JSON documents by frame.

:func:`plan_document` makes the plan of a single-file input, in one streaming pass at
most (bounded memory: a read buffer, and for COCO results the set of image ids seen):

* ``canonical-jsonl`` — the first line (the set's head) goes to every shard; the rest is
  cut at line boundaries near ``size * k / N`` (a seek and a short read per boundary,
  no pass over the file).
* ``canonical`` — one pass over the document finds the byte range of every element of
  ``frames`` and decodes the head (every other key); shards get contiguous frame ranges.
* ``coco`` — a COCO results list: one pass finds the byte range and ``image_id`` of every
  record; shards get contiguous record ranges cut only between two images, so every
  frame (image) is whole in one shard. A list whose records of one image are not
  contiguous is refused (the reader would regroup it across shards).

A shard's piece is a dict ``{"kind", "start", "end", "first", ...}``: the byte range of the
source it reads, and the position (line, frame or record index) its first item has in
the whole file, which :func:`relocate` adds back to the errors of the shard's reader.
:func:`materialize` writes a piece as a file the format's own reader reads unchanged.
"""
from __future__ import annotations

import codecs
import json
import os
from typing import Any, BinaryIO, Callable, Iterator, Mapping

from .errors import ConfigError, ParseError

__all__ = ["DOCUMENTS", "plan_document", "materialize", "relocate"]

#: Single-file formats that shard, and how.
DOCUMENTS = {"canonical-jsonl": "lines", "canonical": "frames", "coco": "records"}
CHUNK = 1 << 22
_WS = " \t\n\r"


def _open(src: str, storage_options: Mapping[str, Any] | None) -> tuple[BinaryIO, int]:
    from . import storage

    if storage.is_url(src):
        fs, key = storage.open_url(src, storage_options)
        return fs.open(key, "rb", block_size=CHUNK), int(fs.size(key))
    return open(src, "rb"), os.path.getsize(src)


def plan_document(src: str, *, format: str, shards: int,
                  storage_options: Mapping[str, Any] | None = None) -> list[list[dict[str, Any]]]:
    """The pieces of each shard (a list of one piece, maybe empty) for a single-file input."""
    kind = DOCUMENTS[format]
    fh, size = _open(src, storage_options)
    with fh:
        if kind == "lines":
            return _plan_lines(fh, size, shards)
        scan = _Scanner(fh, src)
        if kind == "frames":
            head, spans = scan.document_frames()
            keys = None
        else:
            head, (spans, keys) = None, scan.results_records()
    pieces: list[list[dict[str, Any]]] = [[] for _ in range(shards)]
    n = len(spans)
    cuts = [0]
    for k in range(1, shards):
        at = max(cuts[-1], n * k // shards)
        if keys is not None:  # never split an image: move to where the next image starts
            while 0 < at < n and keys[at] == keys[at - 1]:
                at += 1
        cuts.append(at)
    cuts.append(n)
    for i in range(shards):
        a, b = cuts[i], cuts[i + 1]
        start, end = (spans[a][0], spans[b - 1][1]) if a < b else (0, 0)
        piece = {"kind": kind, "start": start, "end": end, "first": a, "count": b - a}
        if head is not None:
            piece["head"] = json.dumps(head, separators=(",", ":"))
        pieces[i].append(piece)
    return pieces


def _plan_lines(fh: BinaryIO, size: int, shards: int) -> list[list[dict[str, Any]]]:
    head = fh.readline()
    body = len(head)
    cuts = [body]
    for k in range(1, shards):
        at = max(cuts[-1], body + (size - body) * k // shards)
        if at > cuts[-1]:
            fh.seek(at - 1)
            at += len(fh.readline()) - 1  # to just after the line that holds byte at-1
        cuts.append(min(at, size))
    cuts.append(size)
    return [[{"kind": "lines", "start": cuts[i], "end": cuts[i + 1], "head_end": body}] for i in range(shards)]


class _Scanner:
    """Elements of a JSON array decoded one by one from a byte stream, with their byte ranges."""

    def __init__(self, fh: BinaryIO, file: str) -> None:
        self.fh, self.file = fh, file
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.dec = json.JSONDecoder()
        self.buf = ""
        self.pos = 0  # index in buf
        self.byte = 0  # byte offset of buf[pos] in the file
        self.eof = False
        first = fh.read(3)
        if first.startswith(codecs.BOM_UTF8):
            self.byte = 3
            first = first[3:]
        self._feed(first)

    def _feed(self, raw: bytes) -> None:
        text = self.decoder.decode(raw, final=not raw)
        if not raw:
            self.eof = True
        self.buf = self.buf[self.pos:] + text
        self.pos = 0

    def _more(self) -> bool:
        if self.eof:
            return False
        self._feed(self.fh.read(max(CHUNK, len(self.buf))))
        return True

    def _advance(self, to: int) -> None:
        piece = self.buf[self.pos:to]
        self.byte += len(piece) if piece.isascii() else len(piece.encode("utf-8"))
        self.pos = to

    def _error(self, message: str) -> ParseError:
        return ParseError(f"{message} (at byte {self.byte})", file=self.file)

    def _skip_ws(self) -> str:
        while True:
            buf, p = self.buf, self.pos
            while p < len(buf) and buf[p] in _WS:
                p += 1
            self._advance(p)
            if p < len(buf):
                return buf[p]
            if not self._more():
                return ""

    def _expect(self, chars: str) -> str:
        c = self._skip_ws()
        if not c or c not in chars:
            raise self._error(f"invalid JSON: expected {' or '.join(repr(x) for x in chars)}, found {c or 'end of file'!r}")
        self._advance(self.pos + 1)
        return c

    def _value(self) -> tuple[Any, int, int]:
        """The next JSON value, its start and end byte offsets."""
        self._skip_ws()
        while True:
            try:
                obj, end = self.dec.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                if self._more():
                    continue
                raise self._error(f"invalid JSON: {exc.msg}") from None
            if end == len(self.buf) and self._more():  # a number may go on in the next chunk
                continue
            start = self.byte
            self._advance(end)
            return obj, start, self.byte

    def _elements(self) -> Iterator[tuple[Any, int, int]]:
        """The elements of the array whose ``[`` is next."""
        self._expect("[")
        if self._skip_ws() == "]":
            self._advance(self.pos + 1)
            return
        while True:
            yield self._value()
            if self._expect(",]") == "]":
                return

    def results_records(self) -> tuple[list[tuple[int, int]], list[Any]]:
        spans: list[tuple[int, int]] = []
        keys: list[Any] = []
        seen: set[Any] = set()
        if self._skip_ws() != "[":
            raise ConfigError("a COCO file is sharded when it is a results list (a JSON array)",
                              file=self.file, hint="convert it without --engine/--shard")
        for i, (rec, a, b) in enumerate(self._elements()):
            key = rec.get("image_id") if isinstance(rec, dict) else None
            key = (type(key).__name__, key) if isinstance(key, (int, str)) else ("?", i)
            if keys and key != keys[-1]:
                if key in seen:
                    raise ConfigError(
                        f"the records of image_id {key[1]!r} are not contiguous (record {i}): a frame "
                        "would be cut across shards", file=self.file,
                        hint="convert it without --engine/--shard, or sort the results by image_id")
                seen.add(keys[-1])
            spans.append((a, b))
            keys.append(key)
        return spans, keys

    def document_frames(self) -> tuple[dict[str, Any], list[tuple[int, int]]]:
        head: dict[str, Any] = {}
        spans: list[tuple[int, int]] = []
        self._expect("{")
        if self._skip_ws() == "}":
            self._advance(self.pos + 1)
        else:
            while True:
                key, _a, _b = self._value()
                self._expect(":")
                if key == "frames":
                    if self._skip_ws() != "[":
                        raise ParseError("not a predport prediction set (no 'frames' list)", file=self.file,
                                         json_path="$.frames")
                    spans = [(a, b) for _obj, a, b in self._elements()]
                    head["frames"] = None
                else:
                    head[key] = self._value()[0]
                if self._expect(",}") == "}":
                    break
        if "frames" not in head:
            raise ParseError("not a predport prediction set (no 'frames' list)", file=self.file, json_path="$")
        return head, spans


def _blocks(fh: BinaryIO, start: int, end: int) -> Iterator[bytes]:
    """Bytes ``start`` to ``end`` of ``fh``, in reads of at most :data:`CHUNK`."""
    fh.seek(start)
    left = end - start
    while left > 0:
        block = fh.read(min(CHUNK, left))
        if not block:
            break
        yield block
        left -= len(block)


def _copy_range(fh: BinaryIO, start: int, end: int, out: BinaryIO) -> None:
    for block in _blocks(fh, start, end):
        out.write(block)


def materialize(src: str, piece: dict[str, Any], dest: str, storage_options: Mapping[str, Any] | None) -> None:
    """Write ``piece`` of ``src`` as a file of the same format at ``dest`` (the range read once)."""
    fh, _size = _open(src, storage_options)
    with fh, open(dest, "wb") as out:
        kind = piece["kind"]
        if kind == "lines":
            _copy_range(fh, 0, piece["head_end"], out)
            _copy_range(fh, piece["start"], piece["end"], out)
        elif kind == "records":
            out.write(b"[")
            _copy_range(fh, piece["start"], piece["end"], out)
            out.write(b"]")
        else:
            head = json.loads(piece["head"])
            out.write(json.dumps({k: v for k, v in head.items() if k != "frames"}).encode()[:-1])
            out.write(b', "frames": [' if len(head) > 1 else b'"frames": [')
            _copy_range(fh, piece["start"], piece["end"], out)
            out.write(b"]}")


def _count_lines(src: str, end: int, storage_options: Mapping[str, Any] | None) -> int:
    """Newlines in the first ``end`` bytes of ``src`` (only when an error needs its line)."""
    fh, _size = _open(src, storage_options)
    with fh:
        return sum(block.count(b"\n") for block in _blocks(fh, 0, end))


def relocate(src: str, piece: dict[str, Any], local: str,
             storage_options: Mapping[str, Any] | None) -> Callable[[Any], Any]:
    """A function that makes an error of the piece's reader name ``src`` and its position there."""
    lines_before: list[int] = []

    def fix(err: Any) -> Any:
        if getattr(err, "file", None) != local:
            return err
        err.file = src
        kind = piece["kind"]
        if kind == "lines":
            if err.line is not None and err.line > 1:
                if not lines_before:
                    lines_before.append(_count_lines(src, piece["start"], storage_options))
                err.line += lines_before[0] - 1
        elif isinstance(err.json_path, str):
            prefix = "$[" if kind == "records" else "$.frames["
            if err.json_path.startswith(prefix):
                num, sep, rest = err.json_path[len(prefix):].partition("]")
                if sep and num.isdigit():
                    err.json_path = f"{prefix}{int(num) + piece['first']}]{rest}"
        return err

    return fix
