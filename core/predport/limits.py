"""Resource limits every reader and writer applies, through shared helpers.

Hostile or broken input must never make predport allocate without bound, recurse
until Python gives up, or block forever. The limits, each a clear, located
:class:`~predport.ParseError` (or :class:`~predport.ConfigError`) when crossed:

* **pixels per mask** — :func:`check_pixels`: ``width * height`` at most
  :attr:`Limits.max_pixels` (2**28, a 16384 x 16384 mask) before anything is decoded
  or allocated (a 100-byte RLE may declare 50000 x 50000);
* **ids** — :func:`check_id` / :func:`parse_int`: integers within int64 (what every
  writer and numpy column can hold), never more digits than int64 has (Python's
  4300-digit int-string limit is never reached); :class:`IdIndex` looks ids up in
  memory proportional to the number of distinct ids, never to their value;
* **JSON depth** — :func:`check_json_depth` / :func:`load_json`: nesting at most
  :attr:`Limits.max_json_depth` (256), checked without recursion; :func:`load_yaml`
  applies the same depth to YAML (safe loader only), and refuses aliases that would
  expand a document beyond what it spells out (a "billion laughs" file) or refer to
  themselves;
* **file size relative to memory** — :func:`check_file_size`: a file read whole is at
  most :attr:`Limits.max_file_bytes` (a quarter of the memory available when predport
  starts reading, since a parsed JSON document takes two to four times its size);
* **regular files only** — :func:`open_regular`, :func:`read_bytes`, :func:`is_regular`:
  a FIFO, socket or device named ``*.txt`` is refused instead of blocking every reader.

Each limit can be raised by the user with an environment variable
(``PREDPORT_MAX_PIXELS``, ``PREDPORT_MAX_JSON_DEPTH``, ``PREDPORT_MAX_FILE_BYTES``) or
per call (``limit=``); the error says how.

Also here: :func:`refuse_url`, which refuses a URL where remote storage is not supported
(a class map, an image folder) rather than reading or writing a local ``./s3:/`` path.

Nothing here imports numpy at module level: ``import predport`` stays cheap.
"""
from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Iterable, Sequence

from .errors import ConfigError, ParseError

__all__ = [
    "Limits", "current_limits", "check_pixels", "check_id", "parse_int", "IdIndex", "check_json_depth",
    "load_json", "load_yaml", "check_file_size", "open_regular", "read_bytes", "is_regular", "is_url", "refuse_url", "check_rle",
    "INT64_MIN", "INT64_MAX",
]

INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
_INT64_DIGITS = 19
DEFAULT_MAX_PIXELS = 1 << 28
DEFAULT_MAX_JSON_DEPTH = 256
PIXELS_ENV, DEPTH_ENV, FILE_BYTES_ENV = "PREDPORT_MAX_PIXELS", "PREDPORT_MAX_JSON_DEPTH", "PREDPORT_MAX_FILE_BYTES"


def _available_memory() -> int:
    """Bytes of memory available now (``MemAvailable``), or physical memory when unknown."""
    try:
        with open("/proc/meminfo", "rb") as fh:
            for line in fh:
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not a POSIX system
        return 8 << 30


def _env_int(name: str) -> int | None:
    text = os.environ.get(name, "").strip()
    if not text:
        return None
    if not text.isdigit() or len(text) > _INT64_DIGITS:
        raise ConfigError(f"{name} must be a positive whole number, not {text!r}")
    return int(text)


@dataclass(frozen=True)
class Limits:
    """The limits in force (see the module docstring); :func:`current_limits` reads them."""

    max_pixels: int = DEFAULT_MAX_PIXELS
    max_json_depth: int = DEFAULT_MAX_JSON_DEPTH
    max_file_bytes: int = 0  # 0: a quarter of the memory available when checked


def current_limits() -> Limits:
    """The limits in force now: the defaults, raised or lowered by the environment variables."""
    return Limits(
        max_pixels=_env_int(PIXELS_ENV) or DEFAULT_MAX_PIXELS,
        max_json_depth=_env_int(DEPTH_ENV) or DEFAULT_MAX_JSON_DEPTH,
        max_file_bytes=_env_int(FILE_BYTES_ENV) or 0,
    )


# -- pixels -------------------------------------------------------------------------------
def check_pixels(width: Any, height: Any, *, limit: int | None = None, what: str = "mask",
                 hint: str | None = None, **where: Any) -> tuple[int, int]:
    """``(width, height)`` as ints when both are positive and their product is within the limit.

    ``where`` is the error's place (``file=``, ``line=``, ``json_path=``, ``field=``).
    Call it before decoding or allocating anything of that size.
    """
    w, h = check_id(width, **where), check_id(height, **where)
    if w <= 0 or h <= 0:
        raise ParseError(f"{what} size {w} x {h} is not positive", **where)
    cap = limit or current_limits().max_pixels
    if w * h > cap:
        raise ParseError(
            f"{what} of {w} x {h} = {w * h} pixels is above the limit of {cap} pixels",
            hint=hint or f"if the file is trusted, raise the limit with {PIXELS_ENV}=N", **where)
    return w, h


# -- integers and ids ---------------------------------------------------------------------
def check_id(value: Any, *, what: str = "value", **where: Any) -> int:
    """``value`` as an ``int`` when it is an integer (not a bool) within int64; else a ParseError."""
    import numbers

    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ParseError(f"{what} must be an integer, not {_short(value)}", **where)
    v = int(value)
    if not INT64_MIN <= v <= INT64_MAX:
        raise ParseError(f"{what} {_short(v)} is outside the 64-bit integer range", **where)
    return v


def parse_int(text: str | bytes, *, what: str = "value", **where: Any) -> int:
    """An integer read from text (``"12"``, ``b"-3"``), within int64.

    The length is checked before ``int()`` sees it, so 5,000 digits are a clear error,
    not Python's int-string limit.
    """
    raw = text.decode("ascii", "replace") if isinstance(text, bytes) else str(text)
    s = raw.strip()
    digits = s[1:] if s[:1] in "+-" else s
    if not digits.isdigit() or not digits.isascii():
        raise ParseError(f"{what} must be an integer, not {_short(raw)}", **where)
    if len(digits.lstrip("0")) > _INT64_DIGITS:
        raise ParseError(f"{what} {_short(raw)} is outside the 64-bit integer range", **where)
    return check_id(int(s), what=what, **where)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:20] + "..." + text[-8:] + f" ({len(text)} characters)"


class IdIndex:
    """Dense positions for a set of int64 ids; memory grows with how many ids, never their value.

    ``IdIndex([7, 300_000_000, 2])`` maps those ids to ``0, 1, 2`` (in the given order);
    :meth:`positions` maps a numpy array of ids to positions at once (``-1`` for unknown
    ids), by a binary search over the sorted ids, where a lookup table indexed by id
    would allocate gigabytes for one id of 3e8.
    """

    def __init__(self, ids: Iterable[Any] = ()) -> None:
        self._pos: dict[int, int] = {}
        for i in ids:
            self.add(i)
        self._sorted: Any = None

    def add(self, id_: Any, **where: Any) -> int:
        """The position of ``id_``, adding it when new (``where`` locates the error of a bad id)."""
        v = check_id(id_, what="id", **where)
        pos = self._pos.get(v)
        if pos is None:
            pos = self._pos[v] = len(self._pos)
            self._sorted = None
        return pos

    def __len__(self) -> int:
        return len(self._pos)

    def __contains__(self, id_: object) -> bool:
        return id_ in self._pos

    def get(self, id_: Any, default: int = -1) -> int:
        return self._pos.get(id_, default)  # type: ignore[call-overload]

    def positions(self, ids: Any) -> Any:
        """Positions of an array of ids (``-1`` where an id is unknown), vectorised."""
        import numpy as np

        arr = np.asarray(ids)
        if self._sorted is None:
            keys = np.fromiter(self._pos.keys(), dtype=np.int64, count=len(self._pos))
            vals = np.fromiter(self._pos.values(), dtype=np.int64, count=len(self._pos))
            order = np.argsort(keys, kind="stable")
            self._sorted = (keys[order], vals[order])
        keys, vals = self._sorted
        out = np.full(arr.shape, -1, dtype=np.int64)
        if not len(keys) or not arr.size:
            return out
        if arr.dtype.kind not in "iu":
            return out
        if arr.dtype.kind == "u":
            ok = arr <= INT64_MAX
            arr = np.where(ok, arr, 0).astype(np.int64)
        else:
            ok = np.ones(arr.shape, dtype=bool)
            arr = arr.astype(np.int64, copy=False)
        idx = np.searchsorted(keys, arr)
        idx_c = np.minimum(idx, len(keys) - 1)
        hit = ok & (keys[idx_c] == arr)
        out[hit] = vals[idx_c[hit]]
        return out


# -- masks --------------------------------------------------------------------------------
def check_rle(size: Any, counts: Any, *, limit: int | None = None, **where: Any) -> tuple[int, int]:
    """``(height, width)`` of a COCO RLE whose runs cover exactly ``height * width`` pixels.

    ``counts`` is the compressed string (pycocotools' ``counts``) or a list of runs;
    ``""`` or ``"0X1"`` on a 3 x 4 mask is refused here, with the sum the runs reach,
    instead of failing later inside pycocotools in a writer. The pixel limit
    (:func:`check_pixels`) applies too; a 0 x 0 mask with no runs is valid.
    """
    if not (isinstance(size, (list, tuple)) and len(size) == 2):
        raise ParseError(f"RLE size must be [height, width], not {_short(size)}", **where)
    h, w = check_id(size[0], what="RLE height", **where), check_id(size[1], what="RLE width", **where)
    if h < 0 or w < 0:
        raise ParseError(f"RLE size {h} x {w} is negative", **where)
    if h and w:
        check_pixels(w, h, limit=limit, what="RLE mask", **where)
    if isinstance(counts, (bytes, str)):
        runs = _rle_runs(counts if isinstance(counts, bytes) else counts.encode("ascii", "replace"), **where)
    elif isinstance(counts, (list, tuple)):
        runs = [check_id(c, what="RLE count", **where) for c in counts]
    else:
        raise ParseError(f"RLE counts must be a string or a list of integers, not {_short(counts)}", **where)
    if any(r < 0 for r in runs):
        raise ParseError("RLE counts must not be negative", **where)
    total = sum(runs)
    if total != h * w:
        raise ParseError(f"RLE runs cover {total} pixels, not height x width = {h} x {w} = {h * w}", **where)
    return h, w


def _rle_runs(data: bytes, **where: Any) -> list[int]:
    """The runs of a compressed COCO RLE string (pycocotools' ``rleFrString``, in Python)."""
    runs: list[int] = []
    p, n = 0, len(data)
    while p < n:
        x, k, more = 0, 0, True
        while more:
            if p >= n:
                raise ParseError("compressed RLE counts end inside a number (truncated?)", **where)
            c = data[p] - 48
            if not 0 <= c < 64:
                raise ParseError(f"compressed RLE counts hold {chr(data[p])!r}; only '0' to 'o' are allowed", **where)
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and c & 0x10:
                x |= -1 << (5 * k)
            if k > 13:  # beyond any int64 run
                raise ParseError("compressed RLE counts hold a run beyond the 64-bit range", **where)
        if len(runs) > 2:
            x += runs[-2]
        runs.append(x)
    return runs


# -- JSON ---------------------------------------------------------------------------------
def check_json_depth(obj: Any, *, limit: int | None = None, raw: bytes | None = None, **where: Any) -> None:
    """Refuse a parsed JSON value nested deeper than the limit (checked without recursion).

    The error names the JSON path where the limit is crossed (appended to ``json_path``).
    ``raw``, the bytes ``obj`` was parsed from, makes the check cheap: most documents are
    cleared by a bracket count (numpy) without walking the parsed value.
    """
    cap = limit or current_limits().max_json_depth
    if raw is not None and not _depth_bound(raw, cap):
        return
    stack: list[tuple[Any, int, tuple[Any, ...]]] = [(obj, 1, ())]
    while stack:
        value, depth, path = stack.pop()
        if isinstance(value, dict):
            children: Iterable[tuple[Any, Any]] = value.items()
        elif isinstance(value, list):
            children = enumerate(value)
        else:
            continue
        if depth > cap:
            base = where.pop("json_path", None)
            prefix = list(base) if isinstance(base, (list, tuple)) else []
            raise ParseError(f"JSON nested more than {cap} levels deep",
                             json_path=prefix + list(path[:8]) + (["..."] if len(path) > 8 else []),
                             hint=f"if the file is trusted, raise the limit with {DEPTH_ENV}=N", **where)
        for key, child in children:
            if isinstance(child, (dict, list)):
                stack.append((child, depth + 1, path + (key,) if len(path) < 9 else path))


_OPEN_CLOSE = re.compile(rb"[\[\]{}\"\\]")


def _depth_bound(data: bytes, cap: int) -> bool:
    """Whether the bytes of a JSON document may nest deeper than ``cap`` (cheap, no parse).

    Counts brackets outside strings with numpy, 4 MiB at a time. Strings with escaped
    quotes make the count unreliable; then the answer is "maybe" and the caller checks
    the parsed document exactly.
    """
    if data.count(b"[") + data.count(b"{") <= cap:
        return False
    if b'\\"' in data:
        return True
    import numpy as np

    depth, in_string, chunk = 0, 0, 4 << 20
    for start in range(0, len(data), chunk):
        buf = np.frombuffer(data, dtype=np.uint8, count=min(chunk, len(data) - start), offset=start)
        quote = buf == 0x22
        inside = (np.cumsum(quote, dtype=np.int64) + in_string) % 2 == 1
        inside |= quote
        delta = ((buf == 0x5B) | (buf == 0x7B)).astype(np.int64) - ((buf == 0x5D) | (buf == 0x7D))
        delta[inside] = 0
        levels = np.cumsum(delta) + depth
        if levels.size and int(levels.max()) > cap:
            return True
        depth = int(levels[-1]) if levels.size else depth
        in_string = (in_string + int(quote.sum())) % 2
    return False


def load_json(data: bytes | str, *, limit: int | None = None, **where: Any) -> Any:
    """``orjson.loads`` plus the depth limit; bad JSON is a ParseError at ``where``.

    Most documents are cleared by a bracket count without walking the parsed value.
    """
    import orjson

    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ParseError(f"invalid JSON: {exc}", **where) from None
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    check_json_depth(obj, limit=limit, raw=raw, **where)
    return obj


def load_yaml(data: bytes | str, *, limit: int | None = None, **where: Any) -> Any:
    """``yaml.safe_load`` with the depth limit of :func:`load_json`, checked while composing.

    PyYAML composes nested nodes recursively, so a document nested a few thousand levels
    deep raises ``RecursionError``; here the nesting is counted and refused at the limit
    with the line it is crossed on. Aliases are followed in the count: an alias weighs
    what the node it names weighs, so a document whose aliases expand it more than
    :data:`_YAML_EXPANSION` times (plus 10,000 nodes) is refused, as is an alias to a node
    that contains it. Bad YAML is a :class:`~predport.ParseError` with its line.
    """
    import yaml

    cap = limit or current_limits().max_json_depth

    def refuse(message: str, mark: Any, hint: str | None = None) -> ParseError:
        line = getattr(mark, "line", None)
        return ParseError(message, line=None if line is None else line + 1, hint=hint, **where)

    class _Bounded(yaml.SafeLoader):  # the pure-Python composer: its compose_node is ours
        def __init__(self, stream: Any) -> None:
            super().__init__(stream)
            self._depth = 0
            self._composed = 0
            self._expanded = 0
            self._size: dict[int, tuple[int, int]] = {}  # id(node) -> (nodes, height)

        def compose_node(self, parent: Any, index: Any) -> Any:
            mark = self.peek_event().start_mark
            if self.check_event(yaml.AliasEvent):
                node = super().compose_node(parent, index)
                size = self._size.get(id(node))
                if size is None:
                    raise refuse("a YAML alias refers to a node that contains it", mark)
                self._weigh(size[0], mark)
                if self._depth + size[1] > cap:
                    raise refuse(f"YAML nested more than {cap} levels deep (through an alias)", mark,
                                 f"if the file is trusted, raise the limit with {DEPTH_ENV}=N")
                return node
            level = 0 if self.check_event(yaml.ScalarEvent) else 1  # collections nest, as in JSON
            self._depth += level
            if self._depth > cap:
                raise refuse(f"YAML nested more than {cap} levels deep", mark,
                             f"if the file is trusted, raise the limit with {DEPTH_ENV}=N")
            before = self._expanded
            self._composed += 1
            self._weigh(1, mark)
            try:
                node = super().compose_node(parent, index)
            finally:
                self._depth -= level
            children = node.value if node is not None and isinstance(node.value, list) else ()
            height = level
            for child in children:
                for sub in (child if isinstance(child, tuple) else (child,)):
                    height = max(height, 1 + self._size.get(id(sub), (0, 0))[1])
            self._size[id(node)] = (self._expanded - before, height)
            return node

        def _weigh(self, nodes: int, mark: Any) -> None:
            self._expanded += nodes
            if self._expanded > _YAML_EXPANSION * self._composed + 10_000:
                raise refuse(f"YAML aliases expand the document more than {_YAML_EXPANSION} times "
                             "(a \"billion laughs\" file)", mark)

    loader = _Bounded(data)
    try:
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise refuse(f"invalid YAML: {getattr(exc, 'problem', None) or exc}", mark) from None
    except RecursionError:  # a limit raised beyond what Python's stack allows
        raise refuse("YAML nested too deeply for the parser", None,
                     f"lower {DEPTH_ENV} (now {cap})") from None
    finally:
        loader.dispose()


#: How many times its aliases may multiply the nodes a YAML document spells out.
_YAML_EXPANSION = 100


# -- files --------------------------------------------------------------------------------
def check_file_size(size: int, *, limit: int | None = None, what: str = "file", **where: Any) -> None:
    """Refuse to read a ``size``-byte file whole when it would not fit in memory."""
    cap = limit or current_limits().max_file_bytes or _available_memory() // 4
    if size > cap:
        raise ParseError(
            f"{what} is {size} bytes, more than the {cap} bytes predport reads whole "
            "(a quarter of the available memory)",
            hint=f"if the machine has room, raise the limit with {FILE_BYTES_ENV}=N", **where)


def is_regular(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a regular file (after links): not a folder, FIFO, socket or device."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def open_regular(path: str | os.PathLike[str], **where: Any) -> IO[bytes]:
    """Open ``path`` for binary reading, refusing anything but a regular file without blocking.

    The file is opened non-blocking (a FIFO without a writer would block ``open`` itself)
    and checked with ``fstat`` on the open descriptor, so it cannot be swapped in between.
    """
    where.setdefault("file", str(path))
    fd = _regular_fd(path, where)[0]
    try:
        return _blocking_file(fd)
    except BaseException:
        os.close(fd)
        raise


def _regular_fd(path: str | os.PathLike[str], where: dict[str, Any] | None = None) -> tuple[int, int]:
    """``(descriptor, size)`` of ``path`` opened non-blocking and checked with ``fstat`` to be a
    regular file: the one opening of every reader's file (:func:`open_regular`,
    :func:`read_bytes`, ``Source.head``, image headers).

    With ``where`` (the error's location) a failure is a :class:`~predport.ParseError`;
    without, ``OSError`` from ``open``, and ``ValueError`` for a FIFO, socket, device or folder.
    """
    try:
        fd = os.open(path, _O_READ)
    except OSError as exc:
        if where is None:
            raise
        raise ParseError(f"cannot read: {exc.strerror}", **where) from None
    try:
        st = os.fstat(fd)
        if stat.S_ISREG(st.st_mode):
            return fd, st.st_size
    except OSError as exc:
        os.close(fd)
        if where is None:
            raise
        raise ParseError(f"cannot read: {exc.strerror}", **where) from None
    os.close(fd)
    if where is None:
        raise ValueError(f"{path}: {_NOT_REGULAR}")
    raise ParseError(_NOT_REGULAR, **where)


def _blocking_file(fd: int) -> IO[bytes]:
    """A buffered binary file over a descriptor :func:`_regular_fd` opened (blocking again)."""
    if hasattr(os, "set_blocking"):
        os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


_O_READ = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
#: Files up to this size are read without looking at the available memory (one fewer read
#: of /proc/meminfo per file of a 30,000-file folder).
_SMALL_FILE = 64 << 20
_NOT_REGULAR = "not a regular file (a folder, FIFO, socket or device); predport reads files only"


def read_bytes(path: str | os.PathLike[str], *, limit: int | None = None, **where: Any) -> bytes:
    """The whole of a regular file, after the size check (:func:`check_file_size`).

    Raw ``os`` calls (no buffered file object: cheap enough for folders of 50,000 small
    files); opened non-blocking, so a FIFO named ``*.txt`` is refused, not waited on.
    Every failure is a located :class:`~predport.ParseError` (``file=`` defaults to ``path``).
    """
    where.setdefault("file", os.fspath(path))
    fd, size = _regular_fd(path, where)
    try:
        if size > _SMALL_FILE or limit is not None:
            check_file_size(size, limit=limit, **where)
        data = os.read(fd, max(size + 1, 1 << 16))
        if len(data) <= size:  # the file may have grown since fstat: read on until EOF
            parts = [data]
            while True:
                more = os.read(fd, 1 << 20)
                if not more:
                    break
                parts.append(more)
            data = b"".join(parts) if len(parts) > 1 else data
        return data
    except OSError as exc:
        raise ParseError(f"cannot read: {exc.strerror}", **where) from None
    except MemoryError:
        raise ParseError("not enough memory to read the file", **where) from None
    finally:
        os.close(fd)


# -- remote paths -------------------------------------------------------------------------
#: ``Path("s3://b/k")`` is ``s3:/b/k``: a scheme of two or more letters before ":/".
_PATH_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]+:/")


def is_url(path: Any) -> bool:
    """Whether ``path`` names remote storage (``s3://b/k``, ``gs://``, ``https://``; not ``file://``).

    :func:`predport.storage.is_url` decides for text; a ``Path`` made from a URL (which
    collapses ``s3://b`` to ``s3:/b``) counts too, so it is never written as a local
    ``s3:`` folder. A Windows drive (``C:\\x``) is not a URL.
    """
    from .storage import is_url as names_remote_storage

    if isinstance(path, Path):
        return bool(_PATH_URL.match(str(path))) and not str(path).lower().startswith("file:")
    return names_remote_storage(path)


def refuse_url(path: Any, *, role: str = "input") -> None:
    """Raise a ConfigError for a URL where remote storage is not supported (class maps, size
    files, image folders, an :class:`~predport.OutputTarget` made directly): never a local
    ``s3:/`` folder, never a silent "not found"."""
    if is_url(path):
        scheme = str(os.fspath(path)).split(":", 1)[0]
        raise ConfigError(f"{role} {os.fspath(path)!r} is a {scheme}:// URL; it must be a local path here",
                          hint="copy it to a local path first (inputs and outputs of convert may be URLs)")
