"""Declared, typed format options: one parser for every format's ``-o``/``-w`` values.

A plugin declares each option of a format once, in its ``formats`` hook::

    predport.FormatInfo(
        id="kitti", ...,
        read_options=(
            predport.Option("keep_dontcare", "bool", False, "keep DontCare rows"),
            predport.Option("layout", "enum", "auto", "folder layout", choices=("auto", "flat", "kitti")),
        ),
        write_options=(),                       # declared: takes no write options
    )

The hub parses the user's values against the declaration before any hook runs:
strings from the command line (``-o keep_dontcare=yes``) and Python values from the
API (``read_options={"keep_dontcare": True}``) alike. An unknown key or a value of
the wrong type is an :class:`~predport.OptionError` (exit 2 on the command line)
that says which option of which format, and suggests the closest name. Options the
user left out get their declared default, so a hook reads ``context.options[name]``.

A format whose plugin declares nothing (``read_options=None``, a plugin written
before declarations existed) gets its options as given (command-line values read
as JSON, else as text) and the hub warns about options no hook looked at.

Nothing here imports numpy or pydantic.
"""
from __future__ import annotations

import difflib
import json
import math
import os
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from .errors import OptionError
from .values import parse_bool

__all__ = ["Option", "OPTION_TYPES", "CliText", "resolve_options", "describe_options"]

#: The option types: what a value may be and how command-line text is read.
#:
#: * ``bool`` — ``true/false``, ``yes/no``, ``on/off``, ``1/0`` (any case), or a Python bool;
#: * ``int``, ``float`` — a number (``float``: finite); ``choices`` lists words accepted as
#:   well (``"auto"``), ``minimum`` a lower bound;
#: * ``str`` — text; ``enum`` — one of ``choices`` (any case; the declared spelling is kept);
#: * ``path`` — a file or folder path (``~`` expanded; given as text or a path object);
#: * ``list`` — a JSON list or comma-separated text, each item of type ``item`` (one value is
#:   a list of one; ``choices`` lists words accepted instead, such as ``"auto"``);
#: * ``json`` — any JSON value (text that is a JSON object, list or number is parsed),
#:   or text (a file name).
OPTION_TYPES: tuple[str, ...] = ("bool", "int", "float", "str", "enum", "path", "list", "json")



class CliText(str):
    """A value typed on the command line (``-o KEY=VALUE``): text to be read by the option's type."""

    __slots__ = ()


@dataclass(frozen=True)
class Option:
    """One declared read or write option of a format.

    * ``name`` — the key (``-o NAME=VALUE``, ``read_options={NAME: ...}``);
    * ``type`` — one of :data:`OPTION_TYPES`;
    * ``default`` — the value a hook sees when the user gives none (``None``: unset);
    * ``help`` — one line for ``predport formats FORMAT``;
    * ``choices`` — for ``enum``, the values; for ``int``/``float``/``list``, words accepted
      besides numbers or lists (``("auto",)``);
    * ``minimum`` — for ``int``/``float``, the smallest value accepted;
    * ``item`` — for ``list``, the type of each item (``str``, ``int``, ``float``, ``path``).
    """

    name: str
    type: str = "str"
    default: Any = field(default=None, hash=False, compare=False)
    help: str = ""
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    item: str = "str"

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ValueError(f"Option name must be an identifier, not {self.name!r}")
        if self.type not in OPTION_TYPES:
            raise ValueError(f"Option {self.name!r}: type must be one of {OPTION_TYPES}, not {self.type!r}")
        object.__setattr__(self, "choices", tuple(self.choices))
        if self.type == "enum" and not self.choices:
            raise ValueError(f"Option {self.name!r}: an enum needs choices")
        if self.item not in ("str", "int", "float", "path"):
            raise ValueError(f"Option {self.name!r}: list items are str, int, float or path, not {self.item!r}")

    # -- reading one value ------------------------------------------------------------
    def parse(self, value: Any, *, format: str = "?", mode: str = "read") -> Any:
        """``value`` (command-line text or a Python value) as this option's type; ``None`` stays ``None``.

        Raises :class:`~predport.OptionError` naming the option, the format and what is expected.
        """
        if value is None:
            return None
        try:
            return self._parse(value, self.type)
        except _Bad as bad:
            raise OptionError(
                f"{mode} option of format {format!r} is not {bad.expected}: {self.name}={_show(value)}",
                field=self.name, hint=bad.hint or self.type_hint(),
            ) from None

    def type_hint(self) -> str:
        """What a value of this option looks like (for errors and ``predport formats``)."""
        if self.type == "bool":
            return "true or false"
        if self.type == "enum":
            return "one of " + ", ".join(self.choices)
        if self.type in ("int", "float"):
            text = "an integer" if self.type == "int" else "a number"
            if self.minimum is not None:
                text += f" >= {self.minimum:g}"
            if self.choices:
                text += " or " + ", ".join(self.choices)
            return text
        if self.type == "list":
            text = f"a comma-separated list (or a JSON list) of {self.item} values"
            return text + (" or " + ", ".join(self.choices) if self.choices else "")
        if self.type == "json":
            return "a JSON value or a file name"
        return "a path" if self.type == "path" else "text"

    def _parse(self, value: Any, kind: str) -> Any:
        if kind == "bool":
            flag = parse_bool(value)
            if flag is None:
                raise _Bad("a boolean")
            return flag
        if kind in ("int", "float"):
            if isinstance(value, str):
                word = value.strip()
                for choice in self.choices:
                    if word.lower() == choice.lower():
                        return choice
                try:
                    number: Any = int(word) if kind == "int" else float(word)
                except ValueError:
                    try:
                        number = float(word)  # "2.0" for an int
                    except ValueError:
                        raise _Bad("an integer" if kind == "int" else "a number") from None
            elif isinstance(value, bool) or not isinstance(value, (int, float)):
                raise _Bad("an integer" if kind == "int" else "a number")
            else:
                number = value
            if not math.isfinite(number):
                raise _Bad("a finite number")
            if kind == "int":
                if number != int(number):
                    raise _Bad("an integer")
                number = int(number)
            else:
                number = float(number)
            if self.minimum is not None and number < self.minimum:
                raise _Bad(f"at least {self.minimum:g}")
            return number
        if kind == "str":
            if isinstance(value, str):
                return str(value)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return str(value)  # a number read as JSON by an older caller: the text it was
            raise _Bad("text")
        if kind == "enum":
            if isinstance(value, str):
                word = value.strip().lower()
                for choice in self.choices:
                    if word == choice.lower():
                        return choice
            raise _Bad("one of " + ", ".join(self.choices), hint="choose one of " + ", ".join(self.choices))
        if kind == "path":
            if isinstance(value, (str, os.PathLike)):
                text = os.fspath(value)
                if not isinstance(text, str) or not text.strip():
                    raise _Bad("a path")
                return os.path.expanduser(text)
            raise _Bad("a path")
        if kind == "list":
            if isinstance(value, str):
                text = value.strip()
                for choice in self.choices:
                    if text.lower() == choice.lower():
                        return choice
                if text.startswith("["):
                    try:
                        value = json.loads(text)
                    except ValueError:
                        raise _Bad("a list", hint="a JSON list such as [\"a\", \"b\"], or a,b") from None
                else:
                    value = [part.strip() for part in text.split(",") if part.strip()]
            if isinstance(value, (list, tuple, set, frozenset)):
                return [self._parse(v, self.item) for v in value]
            return [self._parse(value, self.item)]  # one value: a list of one
        # json
        if isinstance(value, str):
            text = value.strip()
            if text[:1] in ("{", "[", "-") or text[:1].isdigit() or text in ("true", "false", "null"):
                try:
                    return json.loads(text)
                except ValueError:
                    if text[:1] in ("{", "["):
                        raise _Bad("valid JSON") from None
            return str(value)
        return value


class _Bad(Exception):
    def __init__(self, expected: str, hint: str | None = None) -> None:
        super().__init__(expected)
        self.expected = expected
        self.hint = hint


def _show(value: Any) -> str:
    return repr(str(value)) if isinstance(value, CliText) else repr(value)


def _legacy(value: Any) -> Any:
    """A command-line value for a format without declarations: JSON if it parses, else the text."""
    if isinstance(value, CliText):
        try:
            return json.loads(value)
        except ValueError:
            return str(value)
    return value


def check_declared(options: Any, *, what: str) -> tuple[Option, ...] | None:
    """A format declaration's options as a tuple, refusing what is not an :class:`Option`."""
    if options is None:
        return None
    if isinstance(options, (str, bytes, Mapping)) or not isinstance(options, Iterable):
        raise TypeError(f"{what} must be a sequence of predport.Option, not {type(options).__name__}")
    out = tuple(options)
    names: set[str] = set()
    for opt in out:
        if not isinstance(opt, Option):
            raise TypeError(f"{what} must hold predport.Option objects, not {type(opt).__name__}")
        if opt.name in names:
            raise TypeError(f"{what} declares {opt.name!r} twice")
        names.add(opt.name)
    return out


def resolve_options(declared: Sequence[Option] | None, given: Mapping[str, Any] | None, *,
                    format: str, mode: str = "read") -> dict[str, Any]:
    """The user's options for one read (``mode="read"``) or write of ``format``, parsed.

    With declarations: every key must be declared (else :class:`~predport.OptionError` with
    the closest name), each value is parsed by its option's type, and every declared option
    the user left out (or gave as ``None``) is filled in with its default — except that an
    explicit ``None`` is the word ``"none"`` for an option whose ``choices`` hold it. Without (``declared is None``): the
    options as given, command-line text read as JSON where it parses.
    """
    given = dict(given or {})
    if declared is None:
        return {k: _legacy(v) for k, v in given.items()}
    by_name = {opt.name: opt for opt in declared}
    for key in given:
        if key not in by_name:
            raise unknown_option(key, by_name, format=format, mode=mode)
    out: dict[str, Any] = {}
    for opt in declared:
        value = given.get(opt.name)
        if value is None and opt.name in given and "none" in opt.choices:
            out[opt.name] = "none"  # an explicit None says "none" where the option has that word
        else:
            out[opt.name] = opt.default if value is None else opt.parse(value, format=format, mode=mode)
    return out


def unknown_option(key: str, known: Iterable[str], *, format: str, mode: str) -> OptionError:
    """The error for an option ``format`` does not declare, with the closest declared name."""
    names = sorted(known)
    flag = "-o" if mode == "read" else "-w"
    if not names:
        return OptionError(f"unknown {mode} option: format {format!r} takes no {mode} options",
                           field=str(key), hint=f"leave out {flag} {key}=...")
    close = difflib.get_close_matches(str(key), names, n=1, cutoff=0.6)
    guess = f"did you mean {close[0]!r}? " if close else ""
    return OptionError(f"unknown {mode} option of format {format!r}", field=str(key),
                       hint=f"{guess}known: {', '.join(names)} (predport formats {format})")


def describe_options(declared: Sequence[Option] | None) -> list[dict[str, Any]] | None:
    """The declarations as JSON-ready rows (``predport formats FORMAT --json``)."""
    if declared is None:
        return None
    return [{"name": o.name, "type": o.type, "default": o.default, "help": o.help,
             "choices": list(o.choices), "minimum": o.minimum,
             **({"item": o.item} if o.type == "list" else {})} for o in declared]
