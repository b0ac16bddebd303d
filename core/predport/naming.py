"""One naming rule for the files a folder writer makes per frame (issue #13).

Every writer that writes one file per frame (KITTI ``<id>.txt``, YOLO ``labels/<id>.txt``,
PNG masks ``<id>.png``, Lightly ``<task>/<id>.json`` ...) names it through
:class:`FrameNames`, so the same data ids give the same relative paths in all of them:

1. The data id is read as a path: ``\\`` separators become ``/``.
2. ``root=DIR`` (write option ``root``): the path relative to ``DIR``; a data id not under
   it is refused.
3. Otherwise an **absolute** data id (``/content/drive/…``, ``C:\\…``, ``\\\\server\\…``,
   ``s3://bucket/…``) is written by its **base name** (its folders name one machine, not the
   dataset), and counted; ``paths=name`` (write option) writes every data id by its base
   name. A **relative** data id keeps its folders (``train/a.jpg`` -> ``train/a.txt``).
4. A known image suffix is replaced by the writer's own (``000000.png`` -> ``000000.txt``,
   and a mask ``000000.png``, not ``000000.png.png``); a video frame adds
   ``__<frame>`` (the writer chooses the padding).
5. Nothing is written outside the output folder (``..`` parts are refused), and two
   frames that would get the same file are refused, naming both data ids.

The options are declared once here (:data:`NAMING_OPTIONS`) for the writers' ``write_options``.
Standard library only.
"""
from __future__ import annotations

import re
from typing import Any

from .errors import OutputError
from .images import IMAGE_SUFFIXES
from .options import Option
from .output import safe_relpath

__all__ = ["FrameNames", "NAMING_OPTIONS", "strip_image_suffix"]

#: File suffixes taken for an image's and replaced by a writer's own suffix: the images
#: predport reads sizes from, and those Ultralytics also loads.
_IMAGE_NAMES: frozenset[str] = frozenset(IMAGE_SUFFIXES + (".dng", ".mpo", ".heic", ".avif", ".jp2", ".pnm"))

#: The write options of the rule, for a writer's ``FormatInfo.write_options``.
NAMING_OPTIONS: tuple[Option, ...] = (
    Option("paths", "enum", "auto",
           "file names from data ids: auto (relative ids keep their folders, absolute ids their base name) "
           "or name (every id by its base name)", choices=("auto", "name")),
    Option("root", "str", None,
           "write data ids as paths relative to this folder (ids not under it are refused)"),
)

_ABSOLUTE = re.compile(r"^(?:/|[A-Za-z]:/|[A-Za-z][A-Za-z0-9+.-]*://)")


def strip_image_suffix(name: str) -> str:
    """``train/a.jpg`` -> ``train/a``; a name without a known image suffix is kept whole."""
    stem, dot, ext = name.rpartition(".")
    if dot and stem and not stem.endswith("/") and "/" not in ext and f".{ext.lower()}" in _IMAGE_NAMES:
        return stem
    return name


def _posix(data_id: str) -> str:
    return data_id.replace("\\", "/")


class FrameNames:
    """The relative file path of each frame of one write, by the rule of this module.

    ``FrameNames.from_context(context)`` takes ``paths`` and ``root`` from the writer's
    options. :meth:`path` gives the data id as a safe relative path (suffix kept: Lightly's
    ``file_name``); :meth:`file` the file to write for a frame (checked for collisions).
    """

    def __init__(self, *, paths: str = "auto", root: str | None = None) -> None:
        if paths not in ("auto", "name"):
            raise OutputError(f"paths must be 'auto' or 'name', not {paths!r}")
        self.paths = paths
        self.root = _posix(str(root)).rstrip("/") if root not in (None, "") else None
        #: How many absolute data ids were written by their base name (``paths=auto``).
        self.absolute = 0
        self._owner: dict[str, tuple[str, int | None]] = {}
        self._seen_absolute: set[str] = set()

    @classmethod
    def from_context(cls, context: Any) -> "FrameNames":
        option = getattr(context, "option", None)
        paths = (option("paths") if option else None) or "auto"
        root = option("root") if option else None
        return cls(paths=str(paths), root=None if root is None else str(root))

    def path(self, data_id: str) -> str:
        """The data id as a relative POSIX path inside the output (suffix kept), or an
        :class:`~predport.OutputError` saying why it cannot be one."""
        text = _posix(data_id)
        if self.root is not None:
            prefix = self.root + "/"
            if not text.startswith(prefix):
                raise OutputError(f"data id {data_id!r} is not under root {self.root!r}",
                                  hint="change -w root=..., or write base names with -w paths=name")
            text = text[len(prefix):]
        elif self.paths == "name" or _ABSOLUTE.match(text):
            if self.paths == "auto" and text not in self._seen_absolute:
                self._seen_absolute.add(text)
                self.absolute += 1
            text = text.rstrip("/").rpartition("/")[2]
        try:
            return str(safe_relpath(text))
        except OutputError as err:
            raise OutputError(f"data id {data_id!r} cannot name a file inside the output folder: {err.message}",
                              hint="write base names with -w paths=name, or paths relative to -w root=DIR") from None

    def file(self, data_id: str, suffix: str, *, frame_index: int | None = None, frame: str | None = None,
             keep_suffix: bool = False, prefix: str = "") -> str:
        """The file of one frame: ``prefix + path(data_id)`` with its image suffix replaced by
        ``suffix`` (kept with ``keep_suffix``), then ``frame`` (the writer's ``__<n>`` text) when
        the frame is a video frame. Two frames meeting at one file are refused."""
        rel = self.path(data_id)
        base = rel if keep_suffix else strip_image_suffix(rel)
        if frame_index is not None:
            base += frame if frame is not None else f"__{frame_index}"
        name = prefix + base + suffix
        owner = self._owner.get(name)
        key = (data_id, frame_index)
        if owner is None:
            self._owner[name] = key
        elif owner != key:
            def show(k: tuple[str, int | None]) -> str:
                return repr(k[0]) + ("" if k[1] is None else f" frame {k[1]}")

            raise OutputError(
                f"{show(owner)} and {show(key)} would both be written as {name!r}",
                hint="keep their folders with -w root=DIR (ids relative to DIR) instead of base names"
                if self.paths == "name" or self.absolute else "give the frames distinct data ids",
            )
        return name

    def summary(self, prefix: str) -> dict[str, int]:
        """``{"<prefix>.absolute_ids_as_base_names": n}`` when some were (for the write summary)."""
        return {f"{prefix}.absolute_ids_as_base_names": self.absolute} if self.absolute else {}
