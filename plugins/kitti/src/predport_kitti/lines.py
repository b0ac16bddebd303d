"""Reading KITTI text files into columns.

A KITTI line is ``type truncated occluded alpha left top right bottom h w l x y z rotation_y
[score] [extra ...]``: 15 fields for ground truth, 16 for results. Fields are separated by
any run of whitespace (the devkit reads them with ``fscanf``), so tabs, repeated spaces,
trailing spaces and CRLF are all accepted.

The class name is the first field plus every following field that is not a number, so a
class written with spaces (``bicycle with space``) is read whole; for well-formed lines this
is the same as counting the 14 or 15 numbers from the right, and unlike it, it points at a
stray word among the numbers instead of swallowing it into the class name.

Files are parsed in batches (up to ``BATCH_FILES`` files or ``BATCH_BYTES`` bytes, see
``read``): the numbers of a whole batch are converted in one numpy call, boxes and
attribute columns are derived for the batch at once, and each file gets its slice — for
files of 10-30 lines the per-call costs of numpy, not the numbers, would dominate. Three
paths give the same result:

* files whose lines all hold 15 (or all 16) fields separated by single spaces (a trailing
  space allowed, as the devkit writes it) go through numpy's C text reader (``loadtxt``),
  which skips the class column;
* other files with the same field count on every line (tabs, repeated spaces) are split
  into tokens, and the tokens of the batch are converted together;
* anything else (blank lines, multi-word classes, mixed 15/16, more than 16 fields, a bad
  value, ``right < left``) goes line by line, which also gives each error its line and
  column.

The fast paths only take a file when every value is finite and every box has
``left <= right`` and ``top <= bottom``; otherwise the file goes line by line.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from predport import ParseError, parse_number

#: Names of the numeric fields in file order (KITTI columns 2..16).
FIELDS = (
    "truncated",
    "occluded",
    "alpha",
    "bbox.left",
    "bbox.top",
    "bbox.right",
    "bbox.bottom",
    "dimensions.height",
    "dimensions.width",
    "dimensions.length",
    "location.x",
    "location.y",
    "location.z",
    "rotation_y",
    "score",
)
#: Value-array column of each field (the class is not in the array).
LEFT, TOP, RIGHT, BOTTOM, SCORE = 3, 4, 5, 6, 14
NCOLS = 15  # numeric columns kept per row; the score column is NaN for 15-field lines

_BOM = b"\xef\xbb\xbf"
BATCH_FILES = 128
BATCH_BYTES = 1 << 20
#: Attribute columns: value-array columns [first, last) per key, in file order.
ATTR_COLUMNS = (("truncated", 0, 1), ("occluded", 1, 2), ("alpha", 2, 3),
                ("dimensions", 7, 10), ("location", 10, 13), ("rotation_y", 13, 14))


def is_number(token: bytes) -> bool:
    """Whether a field parses as a float (``nan``/``inf`` count: they are rejected later as non-finite)."""
    return parse_number(token, finite=False) is not None


class ParsedFile:
    """The rows of one file as columns.

    * ``names`` — class name per row, as written (bytes; words joined by one space)
    * ``box`` — float64 array (N, 4): ``[left, top, right - left, bottom - top]`` in pixels
    * ``score`` — float64 array (N,): column 16, NaN for 15-field lines
    * ``keys`` / ``cols`` — the attribute keys of ``ATTR_COLUMNS`` that are not the devkit's
      "unknown" in every row of the batch, and their values as lists (floats; 3-lists for
      dimensions and location; ints for an all-integer occlusion), sentinels included
    * ``mixed`` — whether some of those columns hold "unknown" in some rows only
    * ``lines`` — 1-based line number per row, or ``None`` when row ``i`` is line ``i + 1``
    * ``extras`` — per row, the fields after the 16th (strings), or ``None`` when no row has any
    """

    __slots__ = ("names", "box", "score", "keys", "cols", "mixed", "lines", "extras", "batch", "start")

    def __init__(self, names: list[bytes], box: Any, score: Any, keys: tuple[str, ...], cols: list[list[Any]],
                 mixed: bool, lines: list[int] | None = None, extras: list[Any] | None = None,
                 batch: "Batch | None" = None, start: int = 0) -> None:
        self.names = names
        self.box = box
        self.score = score
        self.keys = keys
        self.cols = cols
        self.mixed = mixed
        self.lines = lines
        self.extras = extras
        self.batch = batch  # the rows of the files parsed together, and where this file starts
        self.start = start

    def line_of(self, row: int) -> int:
        return row + 1 if self.lines is None else self.lines[row]

    def __len__(self) -> int:
        return len(self.names)


class Batch:
    """The class names of every row of files parsed together, so that the reader can map
    them to category ids once per batch (``codes``: int64 array, filled by the reader)."""

    __slots__ = ("names", "codes", "negative")

    def __init__(self, names: list[bytes]) -> None:
        self.names = names
        self.codes: Any = None
        self.negative = False


#: The devkit's "unknown" value of each attribute column, in the order of ``ATTR_COLUMNS``.
UNKNOWN = {"truncated": -1.0, "occluded": -1.0, "alpha": -10.0, "dimensions": -1.0, "location": -1000.0,
           "rotation_y": -10.0}


class _Columns:
    """Boxes, scores and attribute lists of a (rows, 15) value matrix, sliceable by row range.

    Which attribute columns are unknown everywhere, known everywhere or mixed is decided
    once for the whole batch; columns unknown everywhere are never turned into lists.
    """

    __slots__ = ("box", "score", "keys", "cols", "mixed", "bad_rows", "batch")

    def __init__(self, vals: Any, names: list[bytes]) -> None:
        self.batch = Batch(names)
        box = vals[:, LEFT:BOTTOM + 1].copy()
        box[:, 2:] -= box[:, :2]
        self.box = box
        neg = box[:, 2:].min(initial=0.0) < 0
        self.bad_rows = np.flatnonzero((box[:, 2:] < 0).any(axis=1)).tolist() if neg else []
        self.score = vals[:, SCORE].copy()
        keys: list[str] = []
        cols: list[list[Any]] = []
        mixed = False
        for key, first, last in ATTR_COLUMNS:
            data = vals[:, first] if last == first + 1 else vals[:, first:last]
            unknown = data == UNKNOWN[key]
            if last > first + 1:
                unknown = unknown.all(axis=1)  # a triple is unknown only when all three values are
            if unknown.all():
                continue
            mixed = mixed or bool(unknown.any())
            keys.append(key)
            if key == "occluded":
                # An integer state (0..3): ints, except where a tool wrote a fraction.
                if np.array_equal(data, np.floor(data)):
                    cols.append(data.astype(np.int64).tolist())
                else:
                    cols.append([int(v) if v.is_integer() else v for v in data.tolist()])
            else:
                cols.append(data.tolist())
        self.keys = tuple(keys)
        self.cols = cols
        self.mixed = mixed

    def part(self, names: list[bytes], start: int, stop: int) -> ParsedFile:
        return ParsedFile(names, self.box[start:stop], self.score[start:stop], self.keys,
                          [c[start:stop] for c in self.cols], self.mixed, batch=self.batch, start=start)


_USECOLS = {16: tuple(range(1, 16)), 15: tuple(range(1, 15))}


def _single_spaced(data: bytes) -> tuple[int, int, list[bytes]]:
    """``(15 or 16, rows, class names)`` when every line holds exactly that many fields
    separated by single spaces (a trailing space allowed, as the devkit writes it); else
    ``(0, 0, [])``.

    Counting alone cannot see a line with an extra field balanced by a line with one field
    too few; :func:`_loadtxt` rejects the short line (and any blank line shows up as a row
    count that does not add up), so together they prove every line has exactly that many
    fields.
    """
    if not data or b"\t" in data or b"\x0b" in data or b"\x0c" in data:
        return 0, 0, []
    lines = data.splitlines()
    n = len(lines)
    inner = data.count(b" ")
    if inner != 15 * n and inner != 14 * n:
        # Lines ending in a space (the devkit writes one after every value) do not count.
        inner -= data.count(b" \n") + data.endswith(b" ") + (data.count(b" \r") if b"\r" in data else 0)
    if inner == 15 * n:
        width = 16
    elif inner == 14 * n:
        width = 15
    else:
        return 0, 0, []
    return width, n, [line.partition(b" ")[0] for line in lines]


def _loadtxt(blobs: list[bytes], width: int, rows: int) -> Any:
    """The numbers of single-spaced files, in one call of numpy's C text reader, or ``None``
    when any line does not fit (fewer fields, a word among the numbers, a stray ``\\r``) or a
    line was blank. The class column is skipped, not converted."""
    import io
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "input contained no data": the row check below
            # Text in memory is read about twice as fast as bytes; latin-1 decodes any byte
            # (class names are skipped columns, numbers are ASCII).
            text = b"\n".join(blobs).decode("latin-1")
            vals = np.loadtxt(io.StringIO(text), dtype=np.float64, comments=None, delimiter=" ",
                              usecols=_USECOLS[width], ndmin=2)
    except ValueError:
        return None
    return vals if vals.shape[0] == rows else None


def _empty() -> ParsedFile:
    return ParsedFile([], np.zeros((0, 4)), np.zeros(0), (), [], False)


class FileParser:
    """Parses files in batches; remembers which class names are known to be words."""

    def __init__(self, context: Any) -> None:
        self.context = context
        self._word_names: set[bytes] = set()
        self._warned_extra = False

    # -- entry points ---------------------------------------------------------------------
    def parse(self, data: bytes, file: str) -> ParsedFile:
        """One file (a batch of one)."""
        return self.parse_batch([(data, file)])[0]

    def parse_batch(self, items: list[tuple[bytes, str]]) -> list[ParsedFile]:
        """``[(file bytes, file name)]`` -> one :class:`ParsedFile` per file, in order."""
        out: list[ParsedFile | None] = [None] * len(items)
        # Fast-path files by field count: [(item, names, rows)] and their bytes or number tokens.
        spaced: dict[int, tuple[list[tuple[int, list[bytes], int]], list[bytes]]] = {}
        tokened: dict[int, tuple[list[tuple[int, list[bytes], int]], list[bytes]]] = {}
        later: list[int] = []
        for i, (data, _) in enumerate(items):
            if data[:3] == _BOM:
                data = data[3:]
            width, n, names = _single_spaced(data)
            if width:
                files, blobs = spaced.setdefault(width, ([], []))
                files.append((i, names, n))
                blobs.append(data)
            else:
                later.append(i)
        for width, (files, blobs) in spaced.items():
            vals = _loadtxt(blobs, width, sum(f[2] for f in files))
            if vals is None:  # some file does not fit: the token path sorts them out
                later.extend(i for i, _, _ in files)
            else:
                self._finish(items, width, files, vals, out)
        for i in sorted(later):
            data, file = items[i]
            if data[:3] == _BOM:
                data = data[3:]
            toks = data.split()
            if not toks:
                out[i] = _empty()
                continue
            width, n = self._width(data, toks)
            if width == 0:
                out[i] = self._exact(data, file)
                continue
            names = toks[0::width]
            del toks[0::width]
            files, tokens = tokened.setdefault(width, ([], []))
            files.append((i, names, n))
            tokens += toks
        for width, (files, tokens) in tokened.items():
            self._convert(items, width, files, tokens, out)
        return out  # type: ignore[return-value]

    # -- fast path ------------------------------------------------------------------------
    def _width(self, data: bytes, toks: list[bytes]) -> tuple[int, int]:
        """(15 or 16, rows) when every line has that many single-word fields; (0, 0) otherwise."""
        # Line count without splitting lines: a blank line, a CR-only file or a ragged
        # line makes the token count disagree and sends the file down the exact path.
        n = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
        total = len(toks)
        if total == 16 * n:
            width = 16
        elif total == 15 * n:
            width = 15
        else:
            return 0, 0
        # A numeric token in the class column means the rows are not aligned (or a class
        # name is a number): let the exact path decide.
        names = toks[0::width]
        if not all(map(self._word_names.__contains__, names)):
            for name in set(names):
                if is_number(name):
                    return 0, 0
            self._word_names.update(names)
        return width, n

    def _convert(self, items: list[tuple[bytes, str]], width: int, files: list[tuple[int, list[bytes], int]],
                 tokens: list[bytes], out: list[ParsedFile | None]) -> None:
        """The number tokens of same-width files in one call; when that fails, file by file,
        and a file that fails alone goes line by line (which names the line)."""
        try:
            vals = np.array(tokens, dtype=np.float64)
        except ValueError:
            vals = None
        if vals is None and len(files) > 1:
            start = 0
            for i, names, n in files:
                stop = start + n * (width - 1)
                self._convert(items, width, [(i, names, n)], tokens[start:stop], out)
                start = stop
            return
        if vals is None:
            out[files[0][0]] = self._exact(*items[files[0][0]])
            return
        self._finish(items, width, files, vals, out)

    def _finish(self, items: list[tuple[bytes, str]], width: int, files: list[tuple[int, list[bytes], int]],
                vals: Any, out: list[ParsedFile | None]) -> None:
        """Check the numbers of same-width files, derive their columns, hand each file its rows."""
        # One reduction finds NaN and infinities (a huge finite sum overflowing to inf only
        # sends the files line by line, where each value is checked).
        if not math.isfinite(vals.sum()):
            for i, _, _ in files:
                out[i] = self._exact(*items[i])
            return
        rows = vals.reshape(-1, width - 1)
        if width == 15:
            full = np.empty((rows.shape[0], NCOLS), dtype=np.float64)
            full[:, :14] = rows
            full[:, SCORE] = np.nan
            rows = full
        all_names: list[bytes] = []
        for _, names, _ in files:
            all_names += names
        cols = _Columns(rows, all_names)
        bad = cols.bad_rows
        start = 0
        for i, names, n in files:
            stop = start + n
            if bad and any(start <= r < stop for r in bad):
                out[i] = self._exact(*items[i])  # right < left or bottom < top: named there
            else:
                out[i] = cols.part(names, start, stop)
            start = stop

    # -- exact path -----------------------------------------------------------------------
    def _exact(self, data: bytes, file: str) -> ParsedFile:
        if data[:3] == _BOM:
            data = data[3:]
        names: list[bytes] = []
        rows: list[list[float]] = []
        lines: list[int] = []
        extras: list[Any] = []
        any_extra = False
        nan = math.nan
        for lineno, raw in enumerate(data.splitlines(), start=1):
            toks = raw.split()
            if not toks:
                continue
            k = 1
            ntok = len(toks)
            while k < ntok and not is_number(toks[k]):
                k += 1
            nums = toks[k:]
            m = len(nums)
            if m < 14:
                self._problem(
                    f"{k + m} fields, but a KITTI line needs 15 (ground truth) or 16 (results)"
                    + (f"; {k} of them form the class name" if k > 1 else ""),
                    file=file, line=lineno, column=k + m + 1, field=FIELDS[m],
                )
                continue
            row = self._numbers(nums, k, file, lineno)
            if row is None:
                continue
            if row[RIGHT] < row[LEFT]:
                self._problem(
                    f"box right {row[RIGHT]!r} is less than left {row[LEFT]!r}",
                    file=file, line=lineno, column=k + RIGHT + 1, field=FIELDS[RIGHT],
                )
                continue
            if row[BOTTOM] < row[TOP]:
                self._problem(
                    f"box bottom {row[BOTTOM]!r} is less than top {row[TOP]!r}",
                    file=file, line=lineno, column=k + BOTTOM + 1, field=FIELDS[BOTTOM],
                )
                continue
            if m == 14:
                row.append(nan)
            extra = None
            if m > 15:
                extra = [t.decode("utf-8", errors="replace") for t in nums[15:]]
                any_extra = True
                self.context.report.count("kitti.rows_with_extra_columns")
                if not self._warned_extra:
                    self._warned_extra = True
                    self.context.report.warn(
                        f"lines with more than 16 columns (first: {file}:{lineno}); "
                        "the fields after the score are kept in attributes['extra']"
                    )
            names.append(toks[0] if k == 1 else b" ".join(toks[:k]))
            rows.append(row)
            lines.append(lineno)
            extras.append(extra)
        if not rows:
            return _empty()
        cols = _Columns(np.array(rows, dtype=np.float64).reshape(len(rows), NCOLS), names)
        parsed = cols.part(names, 0, len(rows))
        parsed.lines = lines
        parsed.extras = extras if any_extra else None
        return parsed

    def _numbers(self, nums: list[bytes], k: int, file: str, lineno: int) -> list[float] | None:
        """The first 15 numeric fields (14 for ground truth) as floats, or ``None`` after a problem."""
        row: list[float] = []
        for j, tok in enumerate(nums[:15]):
            try:
                v = float(tok)
            except ValueError:
                self._problem(
                    f"{tok.decode('utf-8', errors='replace')!r} is not a number",
                    file=file, line=lineno, column=k + j + 1, field=FIELDS[j],
                )
                return None
            if not math.isfinite(v):
                self._problem(
                    f"{tok.decode('utf-8', errors='replace')!r} is not a finite number",
                    file=file, line=lineno, column=k + j + 1, field=FIELDS[j],
                )
                return None
            row.append(v)
        return row

    def _problem(self, message: str, *, file: str, line: int, column: int, field: str) -> None:
        self.context.problem(ParseError(message, file=file, line=line, column=column, field=field))
