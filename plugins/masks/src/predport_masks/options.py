"""The reader's and writer's options: declared once (``READ_OPTIONS``, ``WRITE_OPTIONS``, parsed by
the hub), then the rules only masks have (value ranges, parity and mode)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import predport

__all__ = ["ReadOptions", "WriteOptions", "READ_OPTIONS", "WRITE_OPTIONS", "DEFAULT_MAX_PIXELS", "MODES",
           "NAME_RULES"]

#: The decompression-bomb guard: 2**28 pixels (a 16384 x 16384 mask, 256 MiB at 8 bits).
DEFAULT_MAX_PIXELS = 1 << 28
MODES = ("instance", "semantic")
NAME_RULES = ("auto", "title", "hash_frame")
Option = predport.Option
#: The reader's options, declared once: the hub parses and checks them (types, unknown keys).
READ_OPTIONS = (
    Option("mode", "enum", "instance", "instance (one prediction per region) or semantic (one per class)",
           choices=MODES),
    Option("encord_parity", "bool", False, "Encord Active's rules (instance mode only)"),
    Option("score", "float", "auto", "a score for every prediction; auto: none (1.0 with encord_parity)",
           choices=("auto", "none")),
    Option("ignore", "list", "auto", "pixel values to skip (254,255), none, or auto (255 in a VOC-like mask)",
           choices=("auto", "none"), item="int"),
    Option("background", "int", 0, "the background value; none makes 0 a class", choices=("none",), minimum=0),
    Option("colors", "json", None, "colour-to-class map for RGB/RGBA masks ({\"R,G,B\": value}) or a "
           "JSON/YAML file of one"),
    Option("ontology_mapping", "path", None, "an Encord {featureNodeHash: pixel_value} file "
           "(default: ontology_mapping.json beside the masks)"),
    Option("names", "enum", "auto", "data-id rule", choices=NAME_RULES),
    Option("max_pixels", "int", DEFAULT_MAX_PIXELS, "decompression-bomb guard: most pixels per mask", minimum=1),
)
#: The writer's options, declared once.
WRITE_OPTIONS = (
    Option("background", "int", 0, "pixel value where nothing is painted", minimum=0),
    Option("bit_depth", "int", "auto", "8 or 16; auto: 16 only when an id is above 255", choices=("auto",)),
    Option("order", "enum", "score", "score (higher wins) or given (later wins)", choices=("score", "given")),
    *predport.NAMING_OPTIONS,
)


def _int(value: Any, name: str, *, low: int = 0, high: int | None = None) -> int:
    """An integer already parsed by the hub (or a list item), checked against the format's bounds."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise predport.ConfigError(f"option {name} must be an integer, not {value!r}", field=name)
    if value < low or (high is not None and value > high):
        bound = f"{low}..{high}" if high is not None else f">= {low}"
        raise predport.ConfigError(f"option {name} must be in {bound}, not {value}", field=name)
    return value


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
        """The options the hub parsed against :data:`READ_OPTIONS`, with the format's own rules."""
        opts = context.options
        mode = opts.get("mode") or "instance"
        parity = bool(opts.get("encord_parity"))
        if parity and mode != "instance":
            raise predport.ConfigError(
                "encord_parity applies to instance mode only", field="encord_parity",
                hint="drop mode=semantic or encord_parity",
            )
        ignore = _ignore(opts.get("ignore", "auto"))
        score = opts.get("score", "auto")
        if score in (None, "auto"):
            score = 1.0 if parity else None  # Encord Active hard-codes 1.0; parity reproduces that
        elif score == "none":
            score = None
        colors = None if opts.get("colors") in (None, "") else _colors(opts["colors"])
        background = opts.get("background", 0)
        background = None if background == "none" else _int(background, "background", high=65535)
        max_pixels = opts.get("max_pixels") or DEFAULT_MAX_PIXELS
        onto = opts.get("ontology_mapping")
        return cls(
            mode=mode,
            encord_parity=parity,
            ignore=ignore,
            score=score,
            colors=colors,
            background=background,
            max_pixels=max_pixels,
            ontology_mapping=None if not onto else Path(onto),
            names=opts.get("names") or "auto",
        )


def _ignore(value: Any) -> tuple[int, ...] | None:
    """``None`` for ``auto``; else the pixel values to skip (``none``: nothing)."""
    if value == "auto":
        return None
    if value in (None, "none"):
        return ()
    return tuple(sorted({_int(v, "ignore", high=65535) for v in value}))


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
        """The options the hub parsed against :data:`WRITE_OPTIONS`, with the format's own rules."""
        opts = context.options
        background = _int(opts.get("background", 0), "background", high=65535)
        depth = opts.get("bit_depth", "auto")
        bit_depth = None if depth in (None, "auto") else depth
        if bit_depth not in (None, 8, 16):
            raise predport.ConfigError("option bit_depth must be auto, 8 or 16", field="bit_depth")
        return cls(background=background, bit_depth=bit_depth, order=opts.get("order") or "score")
