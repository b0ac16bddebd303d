"""The reader's and writer's options, checked once (values may come from the CLI as strings)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import predport

__all__ = ["ReadOptions", "WriteOptions", "DEFAULT_MAX_PIXELS", "MODES", "NAME_RULES"]

#: The decompression-bomb guard: 2**28 pixels (a 16384 x 16384 mask, 256 MiB at 8 bits).
DEFAULT_MAX_PIXELS = 1 << 28
MODES = ("instance", "semantic")
NAME_RULES = ("auto", "title", "hash_frame")
READ_KEYS = (
    "mode", "encord_parity", "ignore", "score", "colors", "background",
    "max_pixels", "ontology_mapping", "names",
)
WRITE_KEYS = ("background", "bit_depth", "order", "paths", "root")  # paths, root: predport.FrameNames


def _bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        return value.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise predport.ConfigError(f"option {name} must be true or false, not {value!r}", field=name)


def _int(value: Any, name: str, *, low: int = 0, high: int | None = None) -> int:
    if isinstance(value, bool):
        raise predport.ConfigError(f"option {name} must be an integer, not {value!r}", field=name)
    try:
        out = int(value, 0) if isinstance(value, str) else int(value)
        if isinstance(value, float) and value != out:
            raise ValueError
    except (TypeError, ValueError):
        raise predport.ConfigError(f"option {name} must be an integer, not {value!r}", field=name) from None
    if out < low or (high is not None and out > high):
        bound = f"{low}..{high}" if high is not None else f">= {low}"
        raise predport.ConfigError(f"option {name} must be in {bound}, not {out}", field=name)
    return out


def _none(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "null"))


def _unknown(options: Mapping[str, Any], known: tuple[str, ...], what: str) -> None:
    extra = sorted(set(options) - set(known))
    if extra:
        raise predport.ConfigError(
            f"unknown {what} option(s) {', '.join(extra)} for format 'masks'; known: {', '.join(known)}",
            field=extra[0],
        )


@dataclass(frozen=True)
class ReadOptions:
    """What the reader was asked to do (see docs/formats/masks.md)."""

    mode: str = "instance"
    encord_parity: bool = False
    ignore: tuple[int, ...] | None = None  # None = "auto"
    score: float | None = None
    colors: dict[tuple[int, int, int], int] | None = None
    background: int | None = 0
    max_pixels: int = DEFAULT_MAX_PIXELS
    ontology_mapping: Path | None = None
    names: str = "auto"

    @classmethod
    def from_context(cls, context: Any) -> "ReadOptions":
        opts = dict(context.options)
        _unknown(opts, READ_KEYS, "read")
        mode = str(opts.get("mode", "instance")).strip().lower()
        if mode not in MODES:
            raise predport.ConfigError(f"option mode must be one of {', '.join(MODES)}, not {mode!r}", field="mode")
        parity = _bool(opts.get("encord_parity", False), "encord_parity")
        if parity and mode != "instance":
            raise predport.ConfigError(
                "encord_parity applies to instance mode only", field="encord_parity",
                hint="drop mode=semantic or encord_parity",
            )
        ignore = _ignore(opts.get("ignore", "auto"))
        if "score" in opts:
            score = None if _none(opts["score"]) else _float(opts["score"], "score")
        else:
            # Encord Active hard-codes 1.0; parity mode reproduces that unless told otherwise.
            score = 1.0 if parity else None
        colors = None
        if not _none(opts.get("colors")):
            colors = _colors(opts["colors"])
        background = opts.get("background", 0)
        background = None if _none(background) else _int(background, "background", high=65535)
        max_pixels = _int(opts.get("max_pixels", DEFAULT_MAX_PIXELS), "max_pixels", low=1)
        onto = opts.get("ontology_mapping")
        names = str(opts.get("names", "auto")).strip().lower()
        if names not in NAME_RULES:
            raise predport.ConfigError(
                f"option names must be one of {', '.join(NAME_RULES)}, not {names!r}", field="names"
            )
        return cls(
            mode=mode,
            encord_parity=parity,
            ignore=ignore,
            score=score,
            colors=colors,
            background=background,
            max_pixels=max_pixels,
            ontology_mapping=None if onto is None or _none(onto) else Path(onto),
            names=names,
        )


def _float(value: Any, name: str) -> float:
    import math

    try:
        out = float(value)
    except (TypeError, ValueError):
        raise predport.ConfigError(f"option {name} must be a number, not {value!r}", field=name) from None
    if isinstance(value, bool) or not math.isfinite(out):
        raise predport.ConfigError(f"option {name} must be a finite number, not {value!r}", field=name)
    return out


def _ignore(value: Any) -> tuple[int, ...] | None:
    if isinstance(value, str):
        text = value.strip().lower()
        if text == "auto":
            return None
        if text in ("", "none", "[]"):
            return ()
        parts = [p for p in text.strip("[]").replace(" ", "").split(",") if p]
        return tuple(sorted({_int(p, "ignore", high=65535) for p in parts}))
    if value is None:
        return ()
    if isinstance(value, int) and not isinstance(value, bool):
        return (_int(value, "ignore", high=65535),)
    if isinstance(value, (list, tuple, set, frozenset)):
        return tuple(sorted({_int(v, "ignore", high=65535) for v in value}))
    raise predport.ConfigError(f"option ignore must be 'auto' or a list of pixel values, not {value!r}", field="ignore")


def _colour_key(key: Any, origin: str | None) -> tuple[int, int, int]:
    if isinstance(key, (list, tuple)) and len(key) == 3:
        parts = list(key)
    else:
        text = str(key).strip()
        if text.startswith("#") and len(text) == 7:
            try:
                return (int(text[1:3], 16), int(text[3:5], 16), int(text[5:7], 16))
            except ValueError:
                parts = []
        else:
            parts = [p for p in text.strip("()[]").replace(" ", "").split(",")]
    try:
        rgb = tuple(int(p) for p in parts)
    except (TypeError, ValueError):
        rgb = ()
    if len(rgb) != 3 or any(not 0 <= c <= 255 for c in rgb):
        raise predport.ConfigError(
            f"colour {key!r} is not 'R,G,B' (0..255 each) or '#RRGGBB'", file=origin, field="colors"
        )
    return rgb  # type: ignore[return-value]


def _colors(value: Any) -> dict[tuple[int, int, int], int]:
    """A colour-to-class map: ``{"R,G,B": class_value}`` or ``{"#RRGGBB": value}``, or a JSON/YAML file of one.

    A list of ``[[R, G, B], value]`` pairs is accepted too.
    """
    origin = None
    if isinstance(value, (str, Path)):
        origin = str(value)
        value = predport.load_mapping_file(value)
    if isinstance(value, Mapping):
        items = list(value.items())
    elif isinstance(value, list) and all(isinstance(p, (list, tuple)) and len(p) == 2 for p in value):
        items = [(k, v) for k, v in value]
    else:
        raise predport.ConfigError(
            "option colors must map 'R,G,B' to a class value (or name a JSON/YAML file that does)",
            file=origin, field="colors",
        )
    out: dict[tuple[int, int, int], int] = {}
    for key, cls_value in items:
        rgb = _colour_key(key, origin)
        if isinstance(cls_value, bool) or not isinstance(cls_value, int) or not 0 <= cls_value <= 65535:
            raise predport.ConfigError(
                f"colour {key!r} must map to a class value 0..65535, not {cls_value!r}", file=origin, field="colors"
            )
        if rgb in out and out[rgb] != cls_value:
            raise predport.ConfigError(f"colour {key!r} is mapped twice", file=origin, field="colors")
        out[rgb] = cls_value
    if not out:
        raise predport.ConfigError("option colors is empty", file=origin, field="colors")
    return out


@dataclass(frozen=True)
class WriteOptions:
    """Writer options: ``background`` (pixel value of "no prediction"), ``bit_depth`` (auto|8|16), ``order``."""

    background: int = 0
    bit_depth: int | None = None  # None = auto: 8 unless an id > 255 is painted
    order: str = "score"

    @classmethod
    def from_context(cls, context: Any) -> "WriteOptions":
        opts = dict(context.options)
        _unknown(opts, WRITE_KEYS, "write")
        background = _int(opts.get("background", 0), "background", high=65535)
        depth = opts.get("bit_depth", "auto")
        if isinstance(depth, str) and depth.strip().lower() == "auto":
            bit_depth = None
        else:
            bit_depth = _int(depth, "bit_depth")
            if bit_depth not in (8, 16):
                raise predport.ConfigError("option bit_depth must be auto, 8 or 16", field="bit_depth")
        order = str(opts.get("order", "score")).strip().lower()
        if order not in ("score", "given"):
            raise predport.ConfigError("option order must be 'score' or 'given'", field="order")
        return cls(background=background, bit_depth=bit_depth, order=order)
