"""What detection and format declaration hand between the hub and plugins.

Nothing here imports numpy or pydantic: ``predport formats`` and ``predport
detect`` stay cheap.
"""
from __future__ import annotations

import heapq
import operator
import os
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Mapping, Sequence

if TYPE_CHECKING:
    from .options import Option

__all__ = ["Confidence", "FormatMatch", "FormatInfo", "Source", "ROLES"]

#: What a file read holds: model output (``predictions``, the default) or labels
#: (``ground_truth``: no scores; crowd, ignore and difficulty fields kept as attributes).
ROLES: tuple[str, ...] = ("predictions", "ground_truth")

#: How many bytes of a file the hub reads for detection.
HEAD_BYTES = 64 * 1024
#: At most this many directory entries are listed for detection.
LISTING_LIMIT = 2000


class Confidence(IntEnum):
    """The detection confidence scale.

    * ``CERTAIN`` (100) — a signature no other format has (a ``"schema":
      "predport/prediction-set/1"`` key, ``schema.json`` with a Lightly ``task_type``).
    * ``HIGH`` (75) — the content has the format's full structure (sampled records
      parse and every required field is present).
    * ``MEDIUM`` (50) — the content is consistent with the format but also with
      others (a JSON list of objects with ``image_id``).
    * ``LOW`` (25) — circumstantial evidence only (a folder name, a file-name pattern).
    * ``EXTENSION`` (10) — only the file extension fits. Never wins on its own.
    * ``NO`` (0) — a reasoned rejection; shown by ``--explain``, never wins.

    The highest vote wins. Two *different* formats sharing the top confidence are
    a tie, an :class:`~predport.AmbiguousFormatError` that asks for ``format=``.
    A vote of ``EXTENSION`` or less never wins.
    """

    NO = 0
    EXTENSION = 10
    LOW = 25
    MEDIUM = 50
    HIGH = 75
    CERTAIN = 100


@dataclass(frozen=True)
class FormatMatch:
    """One plugin's vote on one format: ``confidence`` (see :class:`Confidence`) and why.

    ``role`` says what the content holds when the plugin can tell: ``"predictions"``
    (scores), ``"ground_truth"`` (a labelled dataset) or ``None`` (either, or not told
    by the content). A vote for the other role never wins a read of this role.
    """

    format: str
    confidence: int
    reason: str
    plugin: str | None = None  # filled in by the hub
    role: str | None = None

    def __post_init__(self) -> None:
        if self.role is not None and self.role not in ROLES:
            raise ValueError(f"FormatMatch.role must be one of {ROLES} or None, not {self.role!r}")

    def to_dict(self) -> dict[str, object]:
        return {
            "format": self.format,
            "confidence": int(self.confidence),
            "reason": self.reason,
            "plugin": self.plugin,
            "role": self.role,
        }


#: The optional fields of a canonical prediction, in output order (numpy-free, so that
#: format declarations stay cheap; the model imports it from here).
PREDICTION_FIELDS: tuple[str, ...] = (
    "box", "polygon", "mask", "keypoints", "probabilities", "box3d", "attributes",
)

#: Canonical fields a writer may be able to hold (used by loss reports).
HOLDABLE: tuple[str, ...] = ("score",) + PREDICTION_FIELDS + (
    "frame_index",
    "size",
    "frame_attributes",
    "category_external_id",
    "category_attributes",
    "category_names",
    "empty_frames",
)


@dataclass(frozen=True)
class FormatInfo:
    """A format a plugin declares through the ``formats`` hook.

    * ``id`` — short unique id used with ``format=``/``--to`` (``"coco"``).
    * ``title`` — human-readable name.
    * ``can_read`` / ``can_write`` — what the plugin implements.
    * ``target`` — ``"file"`` or ``"folder"``: what a writer produces.
    * ``holds`` — canonical fields a writer keeps (see ``HOLDABLE``); anything
      else present in the data is reported as loss. ``attributes`` are the
      per-prediction attributes; ``frame_attributes``, ``category_external_id``
      and ``category_attributes`` are declared separately.
      ``category_names`` (names that say more than the id) and ``empty_frames``
      (frames without predictions are kept) likewise.
    * ``derived`` — for a reader: fields it derives from others, ``{"polygon": "mask"}``
      (it traces polygons from its masks). A derived value is not lost when the target
      holds the field it comes from: reading that field again reconstructs it.
    * ``patterns`` — typical file names (documentation only; never decides detection).
    * ``tasks`` — prediction kinds (``"detection"``, ``"segmentation"``...).
    * ``roles`` — what a reader can read: ``("predictions",)`` (the default) and/or
      ``"ground_truth"``; the hub refuses a read of another role before the reader runs
      (see :data:`ROLES` and ``Context.role``).
    * ``in_place`` — the writer can update an existing output folder in place through
      a library that commits atomically on its own (a Deep Lake dataset's new version):
      the hub then opens a non-empty output folder without ``--overwrite``, and the
      writer uses ``OutputTarget.in_place()`` and ``OutputTarget.on_commit()``.
    * ``read_options`` / ``write_options`` — the options the reader and the writer take, a
      sequence of :class:`predport.Option` (name, type, default, help). The hub parses the
      user's values against them before a hook runs, refuses unknown keys, and fills in
      defaults; ``()`` declares "takes none". ``None`` (the default, for plugins written
      before declarations) passes options through as given.
    """

    id: str
    title: str
    can_read: bool = True
    can_write: bool = False
    target: str = "file"
    holds: frozenset[str] = field(default_factory=frozenset)
    derived: Mapping[str, str] = field(default_factory=dict, hash=False)
    patterns: tuple[str, ...] = ()
    tasks: tuple[str, ...] = ()
    description: str = ""
    plugin: str | None = None  # filled in by the hub
    roles: tuple[str, ...] = ("predictions",)
    in_place: bool = False
    read_options: "tuple[Option, ...] | None" = field(default=None, hash=False)
    write_options: "tuple[Option, ...] | None" = field(default=None, hash=False)

    def __post_init__(self) -> None:
        if self.read_options is not None or self.write_options is not None:
            from .options import check_declared

            object.__setattr__(self, "read_options", check_declared(self.read_options, what="read_options"))
            object.__setattr__(self, "write_options", check_declared(self.write_options, what="write_options"))
        object.__setattr__(self, "roles", tuple(self.roles))
        bad = [r for r in self.roles if r not in ROLES]
        if bad or not self.roles:
            raise ValueError(f"FormatInfo.roles must be a non-empty subset of {ROLES}, not {self.roles!r}")
        if self.target not in ("file", "folder"):
            raise ValueError(f"FormatInfo.target must be 'file' or 'folder', not {self.target!r}")
        object.__setattr__(self, "holds", frozenset(self.holds))
        unknown = set(self.holds) - set(HOLDABLE)
        if unknown:
            raise ValueError(f"FormatInfo.holds has unknown fields {sorted(unknown)}")

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "title": self.title,
            "plugin": self.plugin,
            "read": self.can_read,
            "write": self.can_write,
            "target": self.target,
            "holds": sorted(self.holds),
            "derived": dict(self.derived),
            "tasks": list(self.tasks),
            "patterns": list(self.patterns),
            "roles": list(self.roles),
            "read_options": _describe(self.read_options),
            "write_options": _describe(self.write_options),
        }


def _describe(options: "tuple[Option, ...] | None") -> object:
    if options is None:
        return None
    from .options import describe_options

    return describe_options(options)


_entry_name = operator.attrgetter("name")


def _read_head(path: Path) -> bytes:
    """The first :data:`HEAD_BYTES` of a regular file; ``b""`` for anything else.

    Opened non-blocking and checked with ``fstat`` (:func:`predport.limits._regular_fd`): a
    FIFO named ``tasks.json`` (no writer) would block ``open`` itself and hang detection of
    every plugin.
    """
    from .limits import _regular_fd

    try:
        fd = _regular_fd(path)[0]
    except (OSError, ValueError):
        return b""
    try:
        parts, left = [], HEAD_BYTES
        while left:
            chunk = os.read(fd, left)
            if not chunk:
                break
            parts.append(chunk)
            left -= len(chunk)
        return b"".join(parts)
    except OSError:
        return b""
    finally:
        os.close(fd)


class Source:
    """A path to detect or parse, with cheap, bounded, cached views of it.

    The hub builds one ``Source`` and hands the same object to every plugin, so
    each file's head is read at most once.
    """

    def __new__(cls, path: str | os.PathLike[str] = "", *args: object, **kwargs: object) -> "Source":
        if cls is Source and (getattr(path, "_fs", None) is not None or "://" in str(path)):
            # A path below a remote source (``source.path / "labels"``) or a URL: the same
            # views, on remote storage (predport.storage).
            from .storage import RemoteSource, is_url

            if is_url(path):
                return RemoteSource(path)  # type: ignore[arg-type]
        return super().__new__(cls)

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._head: dict[Path, bytes] = {}
        self._listing: list[Path] | None = None
        self._files: set[Path] = set()
        self._truncated = False

    # -- identity -----------------------------------------------------------------
    @property
    def is_dir(self) -> bool:
        return self.path.is_dir()

    @property
    def is_file(self) -> bool:
        return self.path.is_file()

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def suffix(self) -> str:
        return self.path.suffix.lower()

    def __repr__(self) -> str:
        return f"Source({str(self.path)!r})"

    # -- bounded reads ----------------------------------------------------------------
    def head(self, relpath: str | os.PathLike[str] | None = None, size: int = HEAD_BYTES) -> bytes:
        """The first ``size`` bytes (at most :data:`HEAD_BYTES`) of the file, or of a file below a folder."""
        p = self.path if relpath is None else self.path / relpath
        size = min(size, HEAD_BYTES)
        cached = self._head.get(p)
        if cached is None:
            cached = _read_head(p)
            self._head[p] = cached
        return cached[:size]

    def head_text(self, relpath: str | os.PathLike[str] | None = None, size: int = HEAD_BYTES) -> str:
        """:meth:`head` decoded as UTF-8 (undecodable bytes replaced)."""
        return self.head(relpath, size).decode("utf-8", errors="replace")

    def size(self, relpath: str | os.PathLike[str] | None = None) -> int:
        """Size in bytes of the file (or of a file below the folder); -1 when it cannot be read."""
        p = self.path if relpath is None else self.path / relpath
        try:
            return p.stat().st_size
        except OSError:
            return -1

    def head_is_complete(self, relpath: str | os.PathLike[str] | None = None) -> bool:
        """Whether :meth:`head` holds the whole file (it is at most :data:`HEAD_BYTES` long)."""
        return 0 <= self.size(relpath) <= HEAD_BYTES

    def listing(self) -> list[Path]:
        """Paths below a folder (relative, sorted per directory, breadth-first), at most :data:`LISTING_LIMIT`."""
        if self._listing is not None:
            return self._listing
        out: list[Path] = []
        if self.is_dir:
            queue = [Path()]
            while queue and len(out) < LISTING_LIMIT:
                rel = queue.pop(0)
                try:
                    with os.scandir(self.path / rel) as it:
                        # The first names in order, without sorting (or holding) a folder of
                        # 50,000 entries: detection memory must not grow with the folder.
                        entries = heapq.nsmallest(LISTING_LIMIT - len(out), it, key=_entry_name)
                except OSError:
                    continue
                for e in entries:
                    child = rel / e.name
                    out.append(child)
                    # The kind comes with the directory entry: no stat per file later.
                    if e.is_dir(follow_symlinks=False):
                        queue.append(child)
                    elif e.is_file():
                        self._files.add(child)
                    if len(out) >= LISTING_LIMIT:
                        self._truncated = True
                        break
        self._listing = out
        return out

    @property
    def listing_truncated(self) -> bool:
        self.listing()
        return self._truncated

    def files(self, suffix: str | Sequence[str] | None = None) -> Iterator[Path]:
        """Files of the bounded listing (relative paths), optionally by suffix (case-insensitive)."""
        suffixes = (suffix,) if isinstance(suffix, str) else tuple(suffix or ())
        for rel in self.listing():
            if rel in self._files and (not suffixes or rel.suffix.lower() in suffixes):
                yield rel

    def has(self, relpath: str) -> bool:
        """Whether a file or folder exists at ``relpath`` below the source folder (``False`` when
        the name cannot exist: too long, a NUL byte, a file where a folder would be)."""
        try:
            return (self.path / relpath).exists()
        except (OSError, ValueError):
            return False
