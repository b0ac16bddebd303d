"""A restricted unpickler for Encord Active's ``predictions.pkl``: nothing in the file runs.

Unpickling is a small stack machine whose ``GLOBAL``/``STACK_GLOBAL`` opcodes import
any callable by name and whose ``REDUCE``/``NEWOBJ``/``BUILD`` opcodes call it. This
module reads a pickle in two steps, neither of which imports or calls anything the
file names:

1. :func:`scan` walks the opcodes (a possessive regular expression over the
   fixed-size ones, Python for the rest) before anything is built. It refuses
   truncated streams, data after ``STOP``, opcodes no protocol 2–5 pickle of these
   models contains (``PERSID``, ``EXT*``, ``INST``, ``OBJ``, out-of-band buffers),
   text ``GLOBAL`` names outside the allowed list (with their byte offset), and memo
   indices far beyond the stream (CPython's C unpickler allocates and clears a memo
   table of twice the index: a 9-byte pickle with ``LONG_BINPUT 2**31`` asks for 32 GiB).
2. :class:`_Unpickler` (CPython's C unpickler) builds the objects; its ``find_class``
   answers only the names in :data:`ALLOWED`, each with an inert stand-in defined here
   that only collects state (the real pydantic and numpy reconstructors are never
   used: pydantic v1's ``__setstate__`` skips validation, numpy's would allocate any
   declared shape). Every other name is refused with :class:`PickleRefused`, so no
   ``REDUCE`` of an unlisted callable can run. The number of objects (containers
   built, checked at every read of the input) and the number of array elements
   (checked before any array is decoded) are capped.

The stand-ins give back plain values: a model as :class:`Model` (its class name,
module and field dictionary), arrays as :class:`Array` (decoded on demand with
``numpy.frombuffer`` of a checked dtype and size), numpy scalars as Python numbers,
``Format`` members as their string values.
"""
from __future__ import annotations

import contextlib
import gc
import math
import pickle
import re
import struct
import sys
from typing import Any, Callable, Iterator, Literal, NamedTuple

MODULE_LIB = "encord_active.lib.db.predictions"  # v0.1.17 and later
MODULE_APP = "encord_active.app.db.predictions"  # v0.1.13 - v0.1.16

#: Model classes each module defined (the real import paths; see docs/formats/encord.md).
MODELS = {
    MODULE_APP: ("Prediction", "BoundingBox"),
    MODULE_LIB: ("Prediction", "ObjectDetection", "BoundingBox", "FrameClassification"),
}
FORMAT_VALUES = frozenset({"bounding-box", "mask", "polygon"})
NUMPY_CORES = ("numpy.core", "numpy._core")  # numpy 1.x, numpy 2.x

#: The pydantic v1 state of a model (``BaseModel.__getstate__``).
_STATE_KEYS = frozenset({"__dict__", "__fields_set__", "__private_attribute_values__"})
#: dtypes an Encord array or scalar may have: bool, integers, floats, and (scalars) str.
_DTYPE_SPEC = re.compile(r"(?:b1|[iu][1248]|f[248]|U[0-9]{1,6})\Z")

PREFIX_BYTES = 4096  # how much of a file detection reads for the first global


class Limits(NamedTuple):
    """Caps on one pickle, checked before the work they bound is done."""

    max_bytes: int = 2 << 30  # file size
    max_objects: int = 20_000_000  # containers built while unpickling (lists, dicts, models, ...)
    max_elements: int = 500_000_000  # numpy array elements, all arrays together


class PickleRefused(Exception):
    """The pickle is not one predport reads; ``name`` is the refused global, if one is."""

    def __init__(self, message: str, *, offset: int | None = None, name: str | None = None) -> None:
        super().__init__(message)
        self.message, self.offset, self.name = message, offset, name
        self.span: tuple[int, int] | None = None  # bytes the unpickler held when it failed

    def where(self) -> str:
        if self.offset is not None:
            return f" (at byte {self.offset})"
        return "" if self.span is None else f" (in bytes {self.span[0]}-{self.span[1]})"


def refused_global(name: str) -> PickleRefused:
    return PickleRefused(
        f"refused global {name}: the pickle names a callable that is not an Encord Active "
        "prediction class or one of the few reconstructors their pickles use; nothing was called",
        name=name,
    )


# -- 1. scanning ---------------------------------------------------------------------------
def _opcode_tables() -> tuple[bytes, dict[int, str]]:
    import pickletools

    fixed: dict[int, list[int]] = {}
    rest: dict[int, str] = {}
    # Memo puts, STOP and the opcodes refused below stay out of the fast run.
    slow = {"LONG_BINPUT", "PUT", "STOP", "PERSID", "BINPERSID", "EXT1", "EXT2", "EXT4",
            "NEXT_BUFFER", "READONLY_BUFFER", "INST", "OBJ", "PROTO"}
    for op in pickletools.opcodes:
        code = ord(op.code)
        n = op.arg.n if op.arg is not None else 0
        if op.name in slow or n < 0:
            rest[code] = op.name
        else:
            fixed.setdefault(n, []).append(code)
    parts = []
    for n, codes in sorted(fixed.items()):
        cls = b"[" + b"".join(re.escape(bytes([c])) for c in codes) + b"]"
        parts.append(cls + (b"(?s:.{%d})" % n if n else b""))
    return b"|".join(parts), rest


def _counted(width: int) -> bytes:
    """Alternatives for a length of ``width`` bytes below 256 and that many bytes: the
    short strings and bytes (data hashes, numpy scalars) then stay on the fast path."""
    pad = re.escape(bytes(width - 1))
    return b"(?:" + b"|".join(re.escape(bytes([n])) + pad + (b"(?s:.{%d})" % n if n else b"")
                              for n in range(256)) + b")"


_FIXED: bytes | None = None
_REST: dict[int, str] = {}
_RUNS: dict[tuple[int, int], re.Pattern[bytes]] = {}


def _run_pattern(size: int) -> re.Pattern[bytes]:
    """Fixed-size opcodes, and ``LONG_BINPUT`` with an index below about ``size``: a
    memo index is never larger than the number of opcodes before it, and protocol 2
    and 3 files have millions of them, so the common ones stay on the fast path; the
    rest are checked one by one."""
    global _FIXED, _REST
    if _FIXED is None:
        _FIXED, _REST = _opcode_tables()
    key = (min(size >> 16, 255), 0) if size < 1 << 24 else (255, min(size >> 24, 255))
    pattern = _RUNS.get(key)
    if pattern is None:
        third, fourth = key
        put = b"r(?s:..)[\\x00-\\x%02x][\\x00-\\x%02x]" % (third, fourth)
        # SHORT_BINUNICODE, SHORT_BINBYTES, SHORT_BINSTRING; BINUNICODE, BINBYTES, BINSTRING
        strings = b"[\\x8cCU]" + _counted(1) + b"|[XBT]" + _counted(4)
        pattern = _RUNS[key] = re.compile(b"(?:" + _FIXED + b"|" + put + b"|" + strings + b")*+")
    return pattern


_REFUSED_OPS = {
    "PERSID": "a persistent id (PERSID)", "BINPERSID": "a persistent id (BINPERSID)",
    "EXT1": "an extension-registry code (EXT1)", "EXT2": "an extension-registry code (EXT2)",
    "EXT4": "an extension-registry code (EXT4)",
    "NEXT_BUFFER": "an out-of-band buffer (NEXT_BUFFER)", "READONLY_BUFFER": "an out-of-band buffer",
    "INST": "the protocol 0 opcode INST", "OBJ": "the protocol 1 opcode OBJ",
}


def _u(data: bytes, i: int, n: int) -> int:
    if i + n > len(data):
        raise PickleRefused("the pickle ends early (truncated file?)", offset=len(data))
    return int.from_bytes(data[i:i + n], "little")


def scan(data: bytes, allowed: Callable[[str], bool]) -> int:
    """Check the opcode stream of ``data`` without building anything; returns the protocol.

    ``allowed(name)`` says whether a text ``GLOBAL`` name may appear.
    """
    run = _run_pattern(len(data)).match
    n = len(data)
    if n < 2 or data[0] != 0x80 or not 2 <= data[1] <= 5:
        raise PickleRefused("not a pickle of protocol 2 to 5 (Encord Active wrote protocol 4)", offset=0)
    protocol = data[1]
    i = 2
    while True:
        found = run(data, i)
        assert found is not None  # zero or more opcodes: the pattern always matches
        i = found.end()
        if i >= n:
            raise PickleRefused("the pickle ends early (truncated file?)", offset=n)
        code = data[i]
        name = _REST.get(code)
        if name is None:  # a fixed-size opcode cut by the end of the file, or no opcode
            if i + 1 >= n or code in _valid_codes():
                raise PickleRefused("the pickle ends early (truncated file?)", offset=n)
            raise PickleRefused(f"byte 0x{code:02x} is not a pickle opcode (corrupt file?)", offset=i)
        if name == "STOP":
            if i + 1 != n:
                raise PickleRefused(f"{n - i - 1} bytes after the end of the pickle (several pickles in one "
                                    "file, or a corrupt file)", offset=i + 1)
            return protocol
        if name in _REFUSED_OPS:
            raise PickleRefused(f"the pickle uses {_REFUSED_OPS[name]}, which Encord Active prediction "
                                "pickles never contain", offset=i)
        if name == "PROTO":
            raise PickleRefused("a second PROTO opcode inside the pickle", offset=i)
        if name == "LONG_BINPUT":
            idx = _u(data, i + 1, 4)
            if idx > i:  # every memo entry follows at least one opcode byte
                raise PickleRefused(f"memo index {idx} beyond the stream (a memory bomb)", offset=i)
            i += 5
        elif name in ("SHORT_BINUNICODE", "SHORT_BINBYTES", "SHORT_BINSTRING", "LONG1"):
            i += 2 + _u(data, i + 1, 1)
        elif name in ("BINUNICODE", "BINBYTES", "BINSTRING", "LONG4"):
            i += 5 + _u(data, i + 1, 4)
        elif name in ("BINUNICODE8", "BINBYTES8", "BYTEARRAY8"):
            i += 9 + _u(data, i + 1, 8)
        else:  # text opcodes: one line of argument, GLOBAL two
            end = data.find(b"\n", i + 1)
            if end < 0:
                raise PickleRefused("the pickle ends early (truncated file?)", offset=n)
            if name == "GLOBAL":
                end2 = data.find(b"\n", end + 1)
                if end2 < 0:
                    raise PickleRefused("the pickle ends early (truncated file?)", offset=n)
                module = data[i + 1:end].decode("utf-8", "replace")
                qual = data[end + 1:end2].decode("utf-8", "replace")
                if not allowed(f"{module}.{qual}") or "." in qual:
                    exc = refused_global(f"{module}.{qual}")
                    exc.offset = i
                    raise exc
                end = end2
            elif name == "PUT":
                digits = data[i + 1:end]
                if not digits.isdigit() or len(digits) > 12 or int(digits) > i:
                    raise PickleRefused("memo index beyond the stream (a memory bomb)", offset=i)
            i = end + 1
        if i > n:
            raise PickleRefused("the pickle ends early (truncated file?)", offset=n)


_VALID: frozenset[int] | None = None


def _valid_codes() -> frozenset[int]:
    global _VALID
    if _VALID is None:
        import pickletools

        _VALID = frozenset(ord(op.code) for op in pickletools.opcodes)
    return _VALID


def first_global(head: bytes) -> tuple[int, str | None, bool]:
    """``(protocol, first global's name or None, whole pickle seen)`` from a file's head.

    Walks the opcodes with :mod:`pickletools` (which only decodes, never builds or
    imports), following the strings pushed and memoised for ``STACK_GLOBAL``.
    """
    import pickletools

    protocol = head[1]
    strings: list[Any] = []
    memo: dict[int, Any] = {}
    last: Any = None
    arg: Any
    try:
        for op, arg, _pos in pickletools.genops(head[:PREFIX_BYTES]):
            name = op.name
            if name == "GLOBAL":
                return protocol, str(arg).replace(" ", "."), False
            if name == "STACK_GLOBAL":
                if len(strings) >= 2 and isinstance(strings[-1], str) and isinstance(strings[-2], str):
                    return protocol, f"{strings[-2]}.{strings[-1]}", False
                return protocol, "(a name built on the stack)", False
            if name in ("SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE"):
                last = arg
                strings.append(arg)
            elif name == "MEMOIZE":
                memo[len(memo)] = last
            elif name in ("BINPUT", "LONG_BINPUT", "PUT"):
                memo[int(arg)] = last
            elif name in ("BINGET", "LONG_BINGET", "GET"):
                last = memo.get(int(arg))
                strings.append(last)
            elif name == "STOP":
                return protocol, None, True
            else:
                last = None
    except Exception:  # noqa: BLE001 - a head cut inside an opcode, or garbage
        pass
    return protocol, None, False


# -- 2. the stand-ins ----------------------------------------------------------------------
class Model:
    """A pickled pydantic model: which class the file named, and the state ``BUILD`` gave.

    ``NEWOBJ`` creates it with ``object.__new__`` (arguments are a ``TypeError``) and
    ``BUILD``, finding no ``__setstate__``, stores the state's items in the instance
    dictionary — both in C: no code of ours or the file's runs per model. The class
    defines no ``__setattr__``, descriptors or methods a state could reach.
    :func:`fields_of` checks the state afterwards."""

    name: str = ""
    module: str = ""


def fields_of(model: Model) -> dict[str, Any] | None:
    """The model's ``__dict__`` from a pydantic v1 state (``{'__dict__', '__fields_set__',
    '__private_attribute_values__'}``, no private attributes); ``None`` otherwise."""
    state = model.__dict__
    fields = state.get("__dict__")
    if type(fields) is dict and state.keys() <= _STATE_KEYS and not state.get("__private_attribute_values__"):
        return fields
    return None


class Array:
    """A pickled numpy array: dtype, shape, memory order and the raw bytes, checked."""

    __slots__ = ("session", "dtype", "shape", "order", "raw")

    def __init__(self, session: "_Session") -> None:
        self.session = session
        self.dtype: Any = None
        self.shape: Any = None
        self.order: Any = None
        self.raw: Any = None

    def fill(self, dtype: Any, shape: Any, order: str, raw: Any) -> None:
        if self.raw is not None:
            raise PickleRefused("array state set twice")
        if not isinstance(dtype, _DType):
            raise PickleRefused("array dtype is not a numpy.dtype")
        resolved = dtype.resolve()
        if resolved.kind == "U":
            raise PickleRefused("string arrays are not Encord prediction data")
        if type(shape) is not tuple or len(shape) > 3 or not all(type(s) is int and s >= 0 for s in shape):
            raise PickleRefused("array shape is not a tuple of up to 3 sizes")
        count = math.prod(shape)
        self.session.elements += count
        if self.session.elements > self.session.limits.max_elements:
            raise PickleRefused(f"more than {self.session.limits.max_elements:,} array elements "
                                "(option max_elements)")
        if type(raw) not in (bytes, bytearray) or len(raw) != count * resolved.itemsize:
            raise PickleRefused(f"array data is not {count} x {resolved.itemsize} bytes")
        self.dtype, self.shape, self.order, self.raw = resolved, shape, order, raw

    def __setstate__(self, state: Any) -> None:
        # numpy's ndarray.__reduce__ state: (version 1, shape, dtype, is_fortran, data)
        if type(state) is not tuple or len(state) != 5 or state[0] != 1 or type(state[3]) is not bool:
            raise PickleRefused("array state is not numpy's (1, shape, dtype, is_fortran, data)")
        self.fill(state[2], state[1], "F" if state[3] else "C", state[4])

    def decode(self) -> Any:
        """The array, writable, in its own dtype and order."""
        import numpy as np

        if self.raw is None:
            raise PickleRefused("an array without data")
        flat = np.frombuffer(self.raw, dtype=self.dtype)
        return flat.reshape(self.shape, order=self.order).copy(order="K")


class _DType:
    """``numpy.dtype(spec, align, copy)`` and its state; resolved only from a checked spec."""

    __slots__ = ("spec", "endian", "_dtype", "_unpack")
    _dtype: Any
    _unpack: Any

    def __init__(self, spec: Any = None, align: Any = False, copy: Any = True) -> None:
        if type(spec) is not str or not _DTYPE_SPEC.match(spec) or type(align) is not bool:
            # No repr of what the file gave: a shared nested list prints exponentially.
            text = repr(spec[:20]) if type(spec) is str else f"a {type(spec).__name__}"
            raise PickleRefused(f"numpy.dtype({text}) is not a bool, integer, float or str dtype")
        self.spec, self.endian, self._dtype, self._unpack = spec, "|", None, None

    def __setstate__(self, state: Any) -> None:
        # (3, byte order, subarray, names, fields, elsize, alignment, flags): plain types only
        if (type(state) is not tuple or len(state) != 8 or state[0] != 3 or state[1] not in ("<", ">", "|", "=")
                or state[2:5] != (None, None, None) or not all(type(v) is int for v in state[5:])):
            raise PickleRefused("numpy.dtype state of a structured, sub-array or object dtype")
        self.endian = state[1]

    def resolve(self) -> Any:
        if self._dtype is None:
            import numpy as np

            self._dtype = np.dtype(("" if self.endian == "|" else self.endian) + self.spec)
        return self._dtype

    def unpack(self, data: bytes) -> Any:
        """One value of this dtype from exactly its bytes, as a Python number or str."""
        resolved = self.resolve()
        if len(data) != resolved.itemsize:
            raise PickleRefused(f"numpy scalar data is not {resolved.itemsize} bytes")
        unpack = self._unpack
        if unpack is None:
            unpack = self._unpack = _unpacker(resolved)
        return unpack(data)


def _unpacker(dtype: Any) -> Callable[[bytes], Any]:
    """bytes -> the Python value of one ``dtype`` item; struct and int for numbers (the
    float64 scores and coordinates of model outputs), numpy for str."""
    import numpy as np

    big = dtype.byteorder == ">" or (dtype.byteorder == "=" and sys.byteorder == "big")
    if dtype.kind == "f":
        unpack = struct.Struct((">" if big else "<") + {2: "e", 4: "f", 8: "d"}[dtype.itemsize]).unpack
        return lambda b: unpack(b)[0]
    if dtype.kind in "iu":
        order: Literal["little", "big"] = "big" if big else "little"
        signed = dtype.kind == "i"
        return lambda b: int.from_bytes(b, order, signed=signed)
    if dtype.kind == "b":
        return lambda b: b != b"\x00"
    return lambda b: np.frombuffer(b, dtype=dtype)[0].item()


class _NDArrayType:
    """``numpy.ndarray``: only ever the first argument of ``_reconstruct``."""

    def __new__(cls, *args: Any, **kwargs: Any) -> "_NDArrayType":
        raise PickleRefused("numpy.ndarray called directly", name="numpy.ndarray")

    def __setstate__(self, state: Any) -> None:
        raise PickleRefused("numpy.ndarray given a state")


class _Callable:
    """An allowed function, wrapped: it has no ``__dict__`` and refuses a state, so
    ``BUILD`` cannot set attributes on it (a function's would stay set)."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[..., Any] | None) -> None:  # None: a subclass calls itself
        self.fn = fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        assert self.fn is not None
        return self.fn(*args, **kwargs)

    def __setstate__(self, state: Any) -> None:
        raise PickleRefused("a state given to an allowed function")


class _Session:
    """The allowed globals of one load, bound to its counters."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.elements = 0
        # Fresh classes and wrappers for every load: whatever a stream does to them
        # (BUILD can set attributes on a class) ends with the load.
        self.dtype = type("dtype", (_DType,), {"__slots__": ()})
        self.ndarray = type("ndarray", (_NDArrayType,), {})
        g: dict[tuple[str, str], Any] = {}
        for module, names in MODELS.items():
            for name in names:
                g[(module, name)] = type(name, (Model,), {"name": name, "module": module})
            g[(module, "Format")] = type("Format", (_Format,), {})
        for core in NUMPY_CORES:
            g[(f"{core}.multiarray", "_reconstruct")] = _Callable(self._reconstruct)
            g[(f"{core}.multiarray", "scalar")] = _Scalar(None)
            g[(f"{core}.numeric", "_frombuffer")] = _Callable(self._frombuffer)
        g[("numpy", "ndarray")] = self.ndarray
        g[("numpy", "dtype")] = self.dtype
        g[("builtins", "set")] = g[("__builtin__", "set")] = _Callable(_set)
        g[("_codecs", "encode")] = _Callable(_latin1)
        self.globals = g

    def _reconstruct(self, subtype: Any = None, shape: Any = None, code: Any = None, *rest: Any) -> Array:
        if subtype is not self.ndarray or shape != (0,) or code != b"b" or rest:
            raise PickleRefused("numpy _reconstruct called with other arguments than an ndarray's pickle has")
        return Array(self)

    def _frombuffer(self, buf: Any = None, dtype: Any = None, shape: Any = None, order: Any = None,
                    *rest: Any) -> Array:
        if rest or order not in ("C", "F"):
            raise PickleRefused("numpy _frombuffer called with other arguments than an ndarray's pickle has")
        arr = Array(self)
        arr.fill(dtype, shape, order, buf)
        return arr


class _Format:
    """``Format(value)``, an enum member's pickle: gives back the value itself.

    The type is checked before the value is looked up: hashing a tuple the file built
    from shared tuples would take exponential time."""

    def __new__(cls, *args: Any) -> str:  # type: ignore[misc]
        value = args[0] if len(args) == 1 else None
        if type(value) is not str or value not in FORMAT_VALUES:
            text = repr(value[:60]) if type(value) is str else f"a {type(value).__name__}"
            raise PickleRefused(f"Format({text}) is not an Encord Active format "
                                f"({', '.join(sorted(FORMAT_VALUES))})")
        return value

    def __setstate__(self, state: Any) -> None:
        raise PickleRefused("Format given a state")


class _Scalar(_Callable):
    """``numpy.core.multiarray.scalar(dtype, bytes)``: a numpy number (e.g. a float64
    confidence, which pydantic v1 keeps) as the Python number it equals."""

    __slots__ = ()

    def __call__(self, dtype: Any = None, data: Any = None, *rest: Any) -> Any:
        if rest or not isinstance(dtype, _DType) or type(data) is not bytes:
            raise PickleRefused("numpy scalar with other arguments than a number's pickle has")
        return dtype.unpack(data)


def _set(*args: Any) -> frozenset[str]:
    """``set(list_of_names)``: pydantic's ``__fields_set__`` at protocol 2 and 3."""
    if len(args) > 1 or (args and (type(args[0]) not in (list, tuple) or
                                   not all(type(v) is str for v in args[0]))):
        raise PickleRefused("set() of anything but field names")
    return frozenset(args[0]) if args else frozenset()


def _latin1(*args: Any) -> bytes:
    """``_codecs.encode(text, 'latin1')``: bytes at protocol 2."""
    if len(args) != 2 or type(args[0]) is not str or args[1] not in ("latin1", "latin-1"):
        raise PickleRefused("_codecs.encode with other arguments than bytes pickled at protocol 2")
    return args[0].encode("latin-1")


def allowed_name(name: str) -> bool:
    """Whether a dotted global name is on the allowed list (for the scan and detection)."""
    module, _, attr = name.rpartition(".")
    return (module, attr) in _ALLOWED_NAMES


_ALLOWED_NAMES = frozenset(_Session(Limits()).globals)
#: Every allowed global, as ``module.name``.
ALLOWED = tuple(sorted(f"{m}.{n}" for m, n in _ALLOWED_NAMES))


# -- 3. loading ----------------------------------------------------------------------------
class _Input:
    """The pickle bytes for the C unpickler, which prefetches through ``peek``; each read
    also checks how many objects were built so far."""

    __slots__ = ("mv", "pos", "end", "count0", "max_objects")

    def __init__(self, data: bytes, max_objects: int) -> None:
        self.mv = memoryview(data)
        self.pos = self.end = 0  # consumed; handed over (read or peeked)
        self.count0 = gc.get_count()[0]
        self.max_objects = max_objects

    def _check(self) -> None:
        # With collection off, generation 0's count is the net number of containers
        # (lists, tuples, dicts, sets, models) allocated: an exact object count for
        # everything that can grow without the input growing as much.
        if gc.get_count()[0] - self.count0 > self.max_objects:
            raise PickleRefused(f"more than {self.max_objects:,} objects (option max_objects)")

    def read(self, n: int = -1) -> bytes:
        self._check()
        p = self.pos
        e = len(self.mv) if n < 0 else min(p + n, len(self.mv))
        self.pos = e
        self.end = max(self.end, e)
        return self.mv[p:e].tobytes()

    def readinto(self, buf: Any) -> int:
        self._check()
        n = min(len(buf), len(self.mv) - self.pos)
        buf[:n] = self.mv[self.pos:self.pos + n]
        self.pos += n
        self.end = max(self.end, self.pos)
        return n

    def peek(self, n: int = 0) -> bytes:
        self._check()
        chunk = self.mv[self.pos:self.pos + max(n, 1)].tobytes()
        self.end = max(self.end, self.pos + len(chunk))
        return chunk

    def readline(self) -> bytes:
        self._check()
        end = bytes(self.mv[self.pos:self.pos + 65536]).find(b"\n")
        e = len(self.mv) if end < 0 else self.pos + end + 1
        p, self.pos = self.pos, e
        self.end = max(self.end, e)
        return self.mv[p:e].tobytes()


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: _Input, session: _Session) -> None:
        super().__init__(file)
        self._globals = session.globals

    def find_class(self, module: str, name: str) -> Any:
        found = self._globals.get((module, name))
        if found is None:
            raise refused_global(f"{module}.{name}")
        return found

    def persistent_load(self, pid: Any) -> Any:
        raise PickleRefused("the pickle uses a persistent id")


def loads(data: bytes, limits: Limits = Limits()) -> Any:
    """The top-level object of ``data`` built from stand-ins; :class:`PickleRefused` otherwise."""
    if len(data) > limits.max_bytes:
        raise PickleRefused(f"{len(data):,} bytes, more than the {limits.max_bytes:,} allowed (option max_bytes)")
    scan(data, allowed_name)
    session = _Session(limits)
    with paused_collection():  # before the input counts objects (see _Input._check)
        source = _Input(data, limits.max_objects)
        failed = _load(source, session)
        if not isinstance(failed, PickleRefused):
            return failed
    failed.span = (source.pos, source.end)
    raise failed


@contextlib.contextmanager
def paused_collection() -> Iterator[None]:
    """Garbage collection off (unless it already is) for the block.

    Millions of containers are built and none is garbage: collections meanwhile only
    walk them again and again (twice the time of the unpickling; when collection
    resumes with millions of new objects, tenfold the time of what follows). The
    caller keeps it off until the stand-ins are converted and released."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def _load(source: _Input, session: _Session) -> Any:
    """The unpickled object, or the :class:`PickleRefused` that stopped it."""
    try:
        return _Unpickler(source, session).load()
    except PickleRefused as exc:
        return exc
    except RecursionError:
        return PickleRefused("objects nested too deeply")
    except MemoryError:
        return PickleRefused("the pickle asks for more memory than is available")
    except Exception as exc:  # noqa: BLE001 - any failure of the C unpickler on a malformed stream
        return PickleRefused(f"malformed pickle ({type(exc).__name__}: {exc})")
