"""The reader fuzz kit: seeds for every readable format, mutations, and the property each input must keep.

Used by ``tests/test_fuzz_readers.py`` (a short profile in the normal suite; the long
profile with ``PREDPORT_FUZZ=long``, see ``docs/reliability.md`` "Fuzzing"). Every input is a
seed written by the format's own writer (or a small hand-made file) after one to three
mutations: byte flips, truncation, special tokens (huge and special numbers, NUL bytes,
deep nesting), JSON-aware swaps (a node replaced by another type, a huge or special
number, deep nesting, a key deleted), line-aware edits (columns added or removed, odd
line endings, tokens replaced), PNG-aware corruption (chunk bytes, huge declared sizes
with a valid CRC, truncated data), and folder edits (a file replaced by a FIFO, renamed
to the reserved staging prefix).

The property: detection and reading (policies ``fail`` and ``skip``) raise nothing but
``PredportError``; detection leaves no plugin degraded; a file ``predport validate``
accepts converts; whatever is read round-trips through canonical JSON unchanged; no
input takes more than :data:`MAX_SECONDS` or :data:`MAX_RSS` bytes.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import resource
import shutil
import signal
import struct
import sys
import tempfile
import time
import zlib
from collections import Counter
from pathlib import Path
from typing import Any, Callable

import numpy as np
from hypothesis import strategies as st

import predport

MAX_SECONDS = 30.0
MAX_RSS = 1 << 30  # 1 GiB

SPECIAL_TOKENS = [
    b"NaN", b"Infinity", b"-Infinity", b"nan", b"inf", b"-1", b"0", b"-0", b"1e309", b"-1e309", b"1e-400",
    b"9" * 5000, b"18446744073709551616", b"9223372036854775808", b"-9223372036854775809", b"300000000",
    b"4.2e18", b"[", b"{", b"]", b"}", b"\x00", b"\xff\xfe", b"\xc3\x28", b"\r\n", b"\r", b"\n\n", b'"', b"null",
    b"true", b"false", b"[]", b"{}", b'""', b" ", b"\t", b",", b":", b"\\", b"\\u0000", b"\\ud800",
    b"[" * 1000, b"{\"a\":" * 1000, b"1" * 4400, b"0X1", b"-", b".", b"e5", b"\xef\xbb\xbf",
]

SPECIAL_VALUES: list[Any] = [
    None, True, False, 0, -1, 1.5, -0.0, 2**63, 2**64, -(2**63) - 1, 10**30, 300_000_000, 1e308, 1e-308,
    "", "0X1", "a" * 3000, "\x00", "NaN", [], {}, [[]], [None], {"": None}, [0, 0, 0], [1e9] * 4,
    [50000, 50000], {"size": [50000, 50000], "counts": "0"}, {"size": [3, 4], "counts": ""},
    {"size": [3, 4], "counts": [12]}, {"size": [3, 4], "counts": [1, 2]}, ["x"], [[[[[[[[1]]]]]]]],
    {"1": 2}, {"label_type": ["a"]}, {"user_metadata": 5},
]


# -- seeds -----------------------------------------------------------------------------
def _box_set() -> "predport.PredictionSet":
    dets = predport.Detections(
        category_id=[1, 2, 1], score=[0.9, 0.5, None],
        box=[[10.0, 8.0, 20.5, 12.25], [1.0, 2.0, 3.0, 4.0], [30.0, 20.0, 10.0, 10.0]],
    )
    return predport.PredictionSet(
        source=predport.SourceInfo(format="seed", uri="seed", plugin="tests"),
        categories=[predport.Category(id=1, name="car"), predport.Category(id=2, name="person")],
        frames=[predport.Frame(data_id="a.jpg", width=64, height=48, predictions=dets),
                predport.Frame(data_id="sub/b.jpg", width=64, height=48,
                               predictions=predport.Detections(category_id=[2], score=[0.25],
                                                               box=[[0.0, 0.0, 8.0, 8.0]]))],
    )


def _mask_set() -> "predport.PredictionSet":
    from pycocotools import mask as mask_utils

    m = np.zeros((48, 64), dtype=np.uint8, order="F")
    m[10:20, 5:30] = 1
    rle = mask_utils.encode(m)
    rle = {"size": [48, 64], "counts": rle["counts"].decode("ascii")}
    dets = predport.Detections(category_id=[1, 2], score=[0.8, 0.6],
                               box=[[5.0, 10.0, 25.0, 10.0], [1.0, 1.0, 5.0, 5.0]],
                               mask=[rle, None], polygon=[None, [[1.0, 1.0, 6.0, 1.0, 6.0, 6.0]]])
    return predport.PredictionSet(
        source=predport.SourceInfo(format="seed", uri="seed", plugin="tests"),
        categories=[predport.Category(id=1, name="car"), predport.Category(id=2, name="person")],
        frames=[predport.Frame(data_id="a.jpg", width=64, height=48, predictions=dets)],
    )


def _read_tree(root: Path) -> dict[str, bytes]:
    if root.is_file():
        return {"": root.read_bytes()}
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


_SEEDS: dict[str, list[tuple[str, dict[str, bytes]]]] | None = None
#: Write options a format's writer needs to write the seed sets at all.
WRITE_OPTIONS: dict[str, dict[str, Any]] = {"aquarium": {"default_confidence": 0.5, "masks": "drop"}}


def seeds() -> dict[str, list[tuple[str, dict[str, bytes]]]]:
    """``{format: [(kind, {relpath: bytes})]}`` for every readable format (relpath ``""`` for a file)."""
    global _SEEDS
    if _SEEDS is not None:
        return _SEEDS
    hub = predport.get_hub()
    out: dict[str, list[tuple[str, dict[str, bytes]]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for fmt, info in sorted(hub.formats().items()):
            if not (info.can_read and info.can_write):
                continue
            for n, data in enumerate((_box_set(), _mask_set())):
                dest = Path(tmp) / f"{fmt}-{n}{'.jsonl' if fmt == 'canonical-jsonl' else '.json'}"
                if info.target == "folder":
                    dest = Path(tmp) / f"{fmt}-{n}"
                try:
                    predport.save(data, dest, fmt, allow_loss=True, policy="skip", write_options=WRITE_OPTIONS.get(fmt))
                except predport.PredportError:
                    continue
                out.setdefault(fmt, []).append((info.target, _read_tree(dest)))
    _SEEDS = out
    return out


# -- mutations -------------------------------------------------------------------------
def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png_mutation(data: bytes, draw: Callable[[Any], Any]) -> bytes:
    """Corrupt a PNG: a huge declared size with a valid CRC, a bad CRC, a truncated or bomb IDAT."""
    how = draw(st.sampled_from(["huge", "crc", "idat", "bomb", "depth"]))
    if how == "huge":
        w, h = draw(st.sampled_from([(50000, 50000), (1, 2**31 - 1), (2**31 - 1, 2**31 - 1), (0, 5)]))
        ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
        return data[:8] + _png_chunk(b"IHDR", ihdr) + data[33:]
    if how == "crc" and len(data) > 33:
        return data[:29] + bytes([data[29] ^ 0xFF]) + data[30:]
    if how == "bomb":
        raw = zlib.compress(b"\x00" * (64 << 20), 9)  # 64 MiB of zeros in ~64 KiB
        ihdr = struct.pack(">IIBBBBB", 8192, 8191, 8, 0, 0, 0, 0)
        return data[:8] + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", raw) + _png_chunk(b"IEND", b"")
    if how == "depth" and len(data) > 26:
        return data[:24] + bytes([draw(st.sampled_from([1, 2, 4, 16, 7, 0]))]) + data[25:]
    cut = draw(st.integers(33, max(33, len(data))))
    return data[:cut]


def _json_paths(obj: Any, path: tuple[Any, ...] = (), out: list[tuple[Any, ...]] | None = None,
                limit: int = 400) -> list[tuple[Any, ...]]:
    out = [] if out is None else out
    if len(out) >= limit:
        return out
    out.append(path)
    if isinstance(obj, dict):
        for k, v in list(obj.items())[:20]:
            _json_paths(v, path + (k,), out, limit)
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:20]):
            _json_paths(v, path + (i,), out, limit)
    return out


def _set_at(obj: Any, path: tuple[Any, ...], value: Any, delete: bool = False) -> Any:
    if not path:
        return value
    parent = obj
    for p in path[:-1]:
        parent = parent[p]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return obj


def _json_mutation(data: bytes, draw: Callable[[Any], Any]) -> bytes | None:
    lines = data.split(b"\n") if b"\n" in data.strip() else None
    try:
        if lines is not None and all(not l.strip() or l.strip()[:1] in b"{[" for l in lines):
            i = draw(st.integers(0, len(lines) - 1))
            if not lines[i].strip():
                return None
            lines[i] = _json_mutation(lines[i], draw) or lines[i]
            return b"\n".join(lines)
        obj = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):  # an earlier mutation nested it ~1000 deep
        return None
    paths = _json_paths(obj)
    path = draw(st.sampled_from(paths))
    how = draw(st.sampled_from(["value", "delete", "deep", "raw", "swap"]))
    if how == "delete" and path:
        obj = _set_at(obj, path, None, delete=True)
    elif how == "deep":
        deep: Any = 1
        for _ in range(draw(st.sampled_from([300, 1000, 1200]))):
            deep = [deep]
        return json.dumps(_set_at(obj, path, "__DEEP__")).replace('"__DEEP__"', json.dumps(deep)).encode()
    elif how == "raw":
        token = draw(st.sampled_from([b"NaN", b"Infinity", b"1e309", b"9" * 5000, b"18446744073709551617",
                                      b"-9223372036854775809", b"9223372036854775808"]))
        return json.dumps(_set_at(obj, path, "__RAW__")).encode().replace(b'"__RAW__"', token)
    elif how == "swap":
        node: Any = obj
        for p in path:
            node = node[p]
        swapped = {dict: lambda v: list(v.values()), list: lambda v: {str(i): x for i, x in enumerate(v)},
                   str: lambda v: [v], int: str, float: str, bool: int, type(None): lambda v: {}}[type(node)](node)
        obj = _set_at(obj, path, swapped)
    else:
        value = draw(st.one_of(st.sampled_from(SPECIAL_VALUES),
                               st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                                            | st.text(max_size=8),
                                            lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=5), c,
                                                                                               max_size=4),
                                            max_leaves=12)))
        obj = _set_at(obj, path, value)
    return json.dumps(obj).encode()


def _line_mutation(data: bytes, draw: Callable[[Any], Any]) -> bytes:
    lines = data.splitlines() or [b""]
    i = draw(st.integers(0, len(lines) - 1))
    tokens = lines[i].split(b" ")
    how = draw(st.sampled_from(["drop", "add", "swap", "dup", "ending", "empty", "tabs"]))
    if how == "drop" and tokens:
        del tokens[draw(st.integers(0, len(tokens) - 1))]
    elif how == "add":
        tokens.insert(draw(st.integers(0, len(tokens))), draw(st.sampled_from(SPECIAL_TOKENS)))
    elif how == "swap" and tokens:
        tokens[draw(st.integers(0, len(tokens) - 1))] = draw(st.sampled_from(SPECIAL_TOKENS))
    elif how == "dup":
        lines.insert(i, lines[i])
    elif how == "ending":
        sep = draw(st.sampled_from([b"\r\n", b"\r", b"\n\r", b"\x0b", b"\x85"]))
        return sep.join(lines)
    elif how == "empty":
        lines.insert(i, draw(st.sampled_from([b"", b" ", b"\t", b"#"])))
    elif how == "tabs":
        tokens = [b"\t".join(tokens)]
    lines[i] = b" ".join(tokens)
    return b"\n".join(lines) + b"\n"


@st.composite
def mutate(draw: Callable[[Any], Any], data: bytes) -> bytes:
    for _ in range(draw(st.integers(1, 3))):
        if data.startswith(b"\x89PNG") and draw(st.booleans()):
            data = _png_mutation(data, draw)
            continue
        how = draw(st.sampled_from(["flip", "truncate", "token", "json", "json", "lines"]))
        if how == "flip" and data:
            i = draw(st.integers(0, len(data) - 1))
            data = data[:i] + bytes([data[i] ^ draw(st.integers(1, 255))]) + data[i + 1:]
        elif how == "truncate":
            data = data[:draw(st.integers(0, len(data)))]
        elif how == "token":
            i = draw(st.integers(0, len(data)))
            data = data[:i] + draw(st.sampled_from(SPECIAL_TOKENS)) + data[i + draw(st.integers(0, 4)):]
        elif how == "json":
            data = _json_mutation(data, draw) or data
        elif how == "lines" and not data.startswith(b"\x89PNG"):
            data = _line_mutation(data, draw)
    return data


@st.composite
def inputs(draw: Callable[[Any], Any], fmt: str) -> tuple[str, dict[str, bytes | None]]:
    """A mutated seed of ``fmt``: ``(kind, {relpath: bytes, or None for a FIFO})``."""
    kind, files = draw(st.sampled_from(seeds()[fmt]))
    files = dict(files)
    names = sorted(files)
    victim = draw(st.sampled_from(names))
    out: dict[str, bytes | None] = dict(files)
    if kind == "folder" and draw(st.integers(0, 19)) == 0:
        out[victim] = None  # a FIFO where a file was
    elif kind == "folder" and draw(st.integers(0, 19)) == 0:
        data = out.pop(victim)
        parent = victim.rsplit("/", 1)[0] + "/" if "/" in victim else ""
        out[parent + draw(st.sampled_from([".predport-staging-x.json", "c.txt", "d.json", "e.png", " .json"]))] = data
    else:
        out[victim] = draw(mutate(files[victim]))
    return kind, out


def materialise(root: Path, kind: str, files: dict[str, bytes | None], fmt: str) -> Path:
    if kind == "file":
        path = root / ("input.jsonl" if fmt == "canonical-jsonl" else "input.json")
        path.write_bytes(files[""] or b"")
        return path
    path = root / "input"
    for rel, data in files.items():
        p = path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if data is None:
            os.mkfifo(p)
        else:
            p.write_bytes(data)
    return path


# -- the property -----------------------------------------------------------------------
class Budget(Exception):
    """An input ran out of its time budget."""


def _alarm(signum: int, frame: Any) -> None:
    raise Budget(f"more than {MAX_SECONDS} s")


def _canonical(ps: Any) -> Any:
    doc = ps.to_json_dict()
    doc.pop("source", None)
    return doc


def check_input(fmt: str, kind: str, files: dict[str, bytes | None], stats: Counter[str] | None = None) -> None:
    """Run one input through detection, reading and a canonical round trip; raise on a violated property."""
    hub = predport.get_hub()
    before = {r.name: list(r.reasons) for r in hub.plugins()}
    tmp = Path(tempfile.mkdtemp(prefix="predport-fuzz-"))
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, MAX_SECONDS)
    start = time.monotonic()
    try:
        path = materialise(tmp, kind, files, fmt)
        try:
            predport.detect(path)
        except predport.PredportError:
            pass
        after = {r.name: r.reasons for r in hub.plugins()}
        new = {n: r[len(before.get(n, [])):] for n, r in after.items() if len(r) > len(before.get(n, []))}
        if new:
            raise AssertionError(f"detection degraded a plugin: {new}")
        accepted = 0
        for policy in ("fail", "skip"):
            try:
                with counted_warnings(stats):
                    ps = predport.load(path, format=fmt, policy=policy)
            except predport.PluginError as err:  # the hub's wrapping of a crash: a bug, not a clear error
                raise AssertionError(f"{fmt} reader crashed under {policy}: {err}") from err
            except predport.PredportError:
                continue
            accepted += 1
            rt = tmp / f"rt-{policy}.json"
            predport.save(ps, rt, "canonical")
            back = predport.load(rt, format="canonical")
            if _canonical(back) != _canonical(ps):
                raise AssertionError(f"{fmt} input read under {policy} does not round-trip through canonical JSON")
        if fmt in ("canonical", "canonical-jsonl") and kind == "file":
            _validate_then_convert(path, tmp)
        if stats is not None:
            stats[f"{fmt} accepted" if accepted else f"{fmt} refused"] += 1
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        shutil.rmtree(tmp, ignore_errors=True)
    elapsed = time.monotonic() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    if stats is not None:
        stats["max seconds x1000"] = max(stats["max seconds x1000"], int(elapsed * 1000))
        stats["max rss MiB"] = max(stats["max rss MiB"], rss >> 20)
    if rss > MAX_RSS:
        raise AssertionError(f"the process grew to {rss >> 20} MiB (limit {MAX_RSS >> 20} MiB)")


@contextlib.contextmanager
def counted_warnings(stats: Counter[str] | None):
    """Python warnings raised while reading are counted (the CLI keeps them off its error line)."""
    import warnings

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        yield
    if stats is not None:
        for w in seen:
            stats[f"warning {w.category.__name__}"] += 1


def _validate_then_convert(path: Path, tmp: Path) -> None:
    """``predport validate`` accepting a file means ``convert`` reads it."""
    from predport.cli import main

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        valid = main(["validate", str(path)]) == 0
    if not valid:
        return
    try:
        predport.convert(path, tmp / "converted.json")
    except predport.PredportError as err:
        raise AssertionError(f"validate accepted a file that convert refuses: {err}") from err


#: Formats left out, with why. Deep Lake's reader is the native ``deeplake`` library: a
#: corrupted dataset folder can block it in a futex wait that no signal interrupts (found by
#: this kit; reported to issue 16), so one input would hang the whole suite.
EXCLUDED = {"deeplake": "the native deeplake library can block forever on a corrupted dataset (issue 16)"}


def readable_formats() -> list[str]:
    return sorted(f for f in seeds() if f not in EXCLUDED)


if __name__ == "__main__":  # pragma: no cover - python tests/fuzzing.py: the seeds it builds
    for f, s in seeds().items():
        print(f, [sorted(x[1]) for x in s], file=sys.stderr)
