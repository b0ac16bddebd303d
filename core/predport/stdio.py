"""``-`` as the input or output of ``predport convert``: stdin and stdout, for single-file formats.

Readers and writers work on files (detection reads heads, writers commit atomically), so
stdin is spooled into a private temporary file first, named with the suffix its content
suggests (``.json``, ``.jsonl``; ``--from FORMAT`` uses the format's own), and the output
is written to a temporary file of the target format's suffix and copied to stdout only
once the conversion succeeded: a refused conversion writes nothing to stdout. Errors name
``<stdin>``/``<stdout>``, not the temporary files.
"""
from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from .errors import ConfigError, PredportError

__all__ = ["Stdio", "STDIN", "STDOUT"]

STDIN = "<stdin>"
STDOUT = "<stdout>"


def _pattern_suffix(info: Any) -> str:
    """The suffix of a format's first file pattern that has one (``*.jsonl`` -> ``.jsonl``)."""
    for pattern in info.patterns:
        suffix = Path(pattern.replace("*", "x")).suffix
        if suffix:
            return suffix
    return ""


#: The longest first line :func:`_content_suffix` reads to tell JSON Lines from one document.
FIRST_LINE_BYTES = 64 << 20


def _content_suffix(path: Path) -> str:
    """``.json`` for one JSON document, ``.jsonl`` for JSON Lines, else ``.txt`` (from the
    file's first line and whether anything follows it: the file is not read whole)."""
    import orjson

    with open(path, "rb") as fh:
        first = fh.readline(FIRST_LINE_BYTES)
        start = first.lstrip()
        while not start and first:  # blank lines before the content
            first = fh.readline(FIRST_LINE_BYTES)
            start = first.lstrip()
        if start[:1] not in (b"{", b"["):
            return ".txt"
        rest = fh.read(4096)
        while rest and not rest.strip():
            rest = fh.read(4096)
    if rest.strip() and first.endswith(b"\n"):
        try:
            orjson.loads(first)
            return ".jsonl"  # a complete value on the first line and more after it
        except orjson.JSONDecodeError:
            pass
    return ".json"


class Stdio:
    """The temporary files that stand for ``-``; use as a context manager around the conversion."""

    def __init__(self, input: str, output: str, *, to: str, from_format: str | None = None) -> None:
        self._raw_input, self._raw_output = input, output
        self.to, self.from_format = to, from_format
        self.input, self.output = input, output
        self._tmp: Path | None = None

    def __enter__(self) -> "Stdio":
        from .hub import get_hub

        hub = get_hub()
        if self._raw_output == "-":
            info = hub.format_info(self.to)
            if info.target != "file":
                raise ConfigError(f"format {self.to!r} writes a folder; - (stdout) takes a single-file format",
                                  file=STDOUT, hint="name an output folder")
        self._tmp = Path(tempfile.mkdtemp(prefix="predport-stdio-"))
        if self._raw_input == "-":
            spool = self._tmp / "stdin"
            with open(spool, "wb") as fh:  # streamed: stdin is never held in memory whole
                shutil.copyfileobj(sys.stdin.buffer, fh, 1 << 20)
            suffix = (_pattern_suffix(hub.format_info(self.from_format)) if self.from_format
                      else _content_suffix(spool)) or ".txt"
            path = spool.with_name(f"stdin{suffix}")
            spool.rename(path)
            self.input = str(path)
        if self._raw_output == "-":
            self.output = str(self._tmp / f"stdout{_pattern_suffix(hub.format_info(self.to))}")
        return self

    def emit(self) -> None:
        """Copy the finished output to stdout (after the conversion committed it)."""
        if self._raw_output == "-":
            out = sys.stdout.buffer
            with open(self.output, "rb") as fh:
                shutil.copyfileobj(fh, out)
            out.flush()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if isinstance(exc, PredportError) and exc.file:
            if self._raw_input == "-" and exc.file.startswith(self.input):
                exc.file = STDIN + exc.file[len(self.input):]
            elif self._raw_output == "-" and exc.file.startswith(self.output):
                exc.file = STDOUT + exc.file[len(self.output):]
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
