"""Stable colours per class, and a text colour readable on each of them.

A class keeps its colour across runs, files and formats: the colour is picked from
the class *name* (lower-cased), never from its id or from the order classes are met,
so ``car`` is the same colour in a COCO file (id 3) and in a Lightly folder (id 0).
"""
from __future__ import annotations

import zlib

__all__ = ["PALETTE", "class_colour", "text_colour", "hex_colour"]

# The 20 saturated colours of the Ultralytics plotting palette: bright enough for dark
# pictures, saturated enough for light ones, and neighbours differ in hue.
PALETTE: tuple[tuple[int, int, int], ...] = tuple(
    (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)) for h in (
        "FF3838", "FF9D97", "FF701F", "FFB21D", "CFD231", "48F90A", "92CC17", "3DDB86", "1A9334", "00D4BB",
        "2C99A8", "00C2FF", "344593", "6473FF", "0018EC", "8438FF", "520085", "CB38FF", "FF95C8", "FF37C7",
    )
)


def class_colour(name: str) -> tuple[int, int, int]:
    """The RGB colour of a class, from a CRC-32 of its lower-cased name (stable everywhere)."""
    return PALETTE[zlib.crc32(name.strip().lower().encode("utf-8")) % len(PALETTE)]


def _luminance(rgb: tuple[int, int, int]) -> float:
    """WCAG relative luminance of an sRGB colour."""

    def channel(c: int) -> float:
        s = c / 255.0
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def text_colour(background: tuple[int, int, int]) -> tuple[int, int, int]:
    """Black or white, whichever has the higher WCAG contrast ratio on ``background``.

    Labels are drawn on a filled box of the class colour, so their contrast does not
    depend on the picture underneath: readable on any image.
    """
    lum = _luminance(background)
    on_black = (lum + 0.05) / 0.05
    on_white = 1.05 / (lum + 0.05)
    return (0, 0, 0) if on_black >= on_white else (255, 255, 255)


def contrast_ratio(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    """WCAG contrast ratio between two colours (1 to 21)."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def hex_colour(rgb: tuple[int, int, int]) -> str:
    return "#%02x%02x%02x" % rgb
