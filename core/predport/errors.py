"""One exception hierarchy, rooted at :class:`PredportError`.

Every error that predport or a plugin raises on purpose carries its *place*:
the plugin, the file, the line or JSON path, and the field. The CLI prints
``str(error)`` and nothing else, so the message must stand on its own.
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

__all__ = [
    "PredportError",
    "ParseError",
    "DetectionError",
    "UnknownFormatError",
    "AmbiguousFormatError",
    "SchemaValidationError",
    "OutputError",
    "PluginError",
    "LossError",
    "ConfigError",
    "OptionError",
]


def format_json_path(path: Iterable[Any]) -> str:
    """Render a sequence of keys and indices as a JSONPath-like string: ``$[3].bbox``."""
    out = "$"
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            text = str(part)
            if text.isidentifier():
                out += f".{text}"
            else:
                out += "[" + repr(text) + "]"
    return out


class PredportError(Exception):
    """Base class of every error predport raises on purpose.

    ``plugin``, ``file``, ``line``, ``column``, ``json_path`` and ``field`` say
    where the problem is; any of them may be ``None`` when it does not apply.
    The hub fills in ``plugin`` when a plugin's error does not name it.
    """

    def __init__(
        self,
        message: str,
        *,
        plugin: str | None = None,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        json_path: str | Sequence[Any] | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.plugin = plugin
        self.file = None if file is None else str(file)
        self.line = line
        self.column = column
        if json_path is not None and not isinstance(json_path, str):
            json_path = format_json_path(json_path)
        self.json_path = json_path
        self.field = field
        self.hint = hint

    def location(self) -> str:
        """The place of the error as ``file:line:column at $.json.path``."""
        parts: list[str] = []
        if self.file:
            where = self.file
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
            parts.append(where)
        elif self.line is not None:
            parts.append(f"line {self.line}")
        if self.json_path:
            parts.append(f"at {self.json_path}")
        if self.field:
            parts.append(f"field {self.field!r}")
        return ", ".join(parts)

    def __str__(self) -> str:
        head = f"[{self.plugin}] " if self.plugin else ""
        where = self.location()
        text = f"{head}{where}: {self.message}" if where else f"{head}{self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return text

    def to_dict(self) -> dict[str, Any]:
        """A machine-readable form for ``--json`` output and reports."""
        return {
            "error": type(self).__name__,
            "message": self.message,
            "plugin": self.plugin,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "json_path": self.json_path,
            "field": self.field,
            "hint": self.hint,
        }


class ParseError(PredportError):
    """Input that belongs to a format but breaks its rules (a malformed line or record)."""


class ConfigError(PredportError):
    """Bad user configuration: an unknown option, a malformed class map, a missing image size."""


class OptionError(ConfigError):
    """A format option the format does not declare, or a value its declared type refuses.

    The command line exits 2 (wrong usage) for it; the hint names the closest option.
    """


class DetectionError(PredportError):
    """Format detection could not pick one format."""


class UnknownFormatError(DetectionError):
    """No plugin recognised the source, or the named format does not exist."""


class AmbiguousFormatError(DetectionError):
    """Two or more formats matched with the same top confidence."""

    def __init__(self, message: str, *, candidates: Sequence[Any] = (), **kw: Any) -> None:
        super().__init__(message, **kw)
        self.candidates = list(candidates)


class SchemaValidationError(PredportError):
    """An output document does not validate against its JSON Schema."""


class OutputError(PredportError):
    """Writing failed: a path outside the output folder, an existing file, a full disk."""


class PluginError(PredportError):
    """A plugin misbehaved (raised an unexpected exception, returned the wrong type)."""


class LossError(PredportError):
    """The target format cannot hold some of the data; see ``report`` for what and how much."""

    def __init__(self, message: str, *, report: Any = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.report = report
