"""Reading PNG masks safely: header checks, the decompression-bomb guard, modes.

Pillow's own guard (``Image.MAX_IMAGE_PIXELS``) is process-global; predport never
changes it. Instead the PNG header is read first and the image's pixel count is
checked against the ``max_pixels`` option before anything is decoded; the file
is then opened with Pillow's PNG plugin directly, which skips the global check
(a user who raises ``max_pixels`` gets what they asked for, and nobody else's
setting changes).
"""
from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import predport

__all__ = ["PNG_SIGNATURE", "PngHeader", "read_header", "parse_header", "open_png", "label_array", "head_png"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: PNG colour types.
GREY, RGB, PALETTE, GREY_ALPHA, RGBA = 0, 2, 3, 4, 6
COLOUR_NAMES = {GREY: "greyscale", RGB: "RGB", PALETTE: "palette", GREY_ALPHA: "greyscale+alpha", RGBA: "RGBA"}
_CHANNELS = {GREY: 1, RGB: 3, PALETTE: 1, GREY_ALPHA: 2, RGBA: 4}


@dataclass(frozen=True)
class PngHeader:
    """The IHDR chunk: size in pixels, bit depth, colour type, interlacing."""

    width: int
    height: int
    bit_depth: int
    colour_type: int
    interlaced: bool

    @property
    def pixels(self) -> int:
        return self.width * self.height

    @property
    def single_channel(self) -> bool:
        return self.colour_type in (GREY, PALETTE)

    @property
    def colour(self) -> bool:
        return self.colour_type in (RGB, RGBA)

    def describe(self) -> str:
        return f"{self.bit_depth}-bit {COLOUR_NAMES.get(self.colour_type, '?')}"


def parse_header(head: bytes) -> PngHeader | None:
    """The IHDR of PNG bytes, or ``None`` when ``head`` does not start like a PNG file."""
    if len(head) < 33 or not head.startswith(PNG_SIGNATURE) or head[12:16] != b"IHDR":
        return None
    width, height, depth, ctype, _comp, _filt, interlace = struct.unpack(">IIBBBBB", head[16:29])
    return PngHeader(int(width), int(height), int(depth), int(ctype), bool(interlace))


def read_header(path: Path) -> PngHeader:
    """The IHDR of the PNG at ``path``; ``ParseError`` when it is not a PNG file."""
    try:
        with predport.open_regular(path, file=str(path)) as fh:  # a FIFO is refused, not waited on
            head = fh.read(33)
    except OSError as exc:
        raise predport.ParseError(f"cannot read: {exc.strerror}", file=str(path)) from None
    header = parse_header(head)
    if header is None:
        raise predport.ParseError("not a PNG file (no PNG signature and IHDR)", file=str(path), field="signature")
    if header.width == 0 or header.height == 0:
        raise predport.ParseError("PNG header gives an empty image (0 pixels)", file=str(path), field="size")
    return header


def check_pixels(header: PngHeader, max_pixels: int, file: str) -> None:
    if header.pixels > max_pixels:
        raise predport.ParseError(
            f"PNG header claims {header.width}x{header.height} = {header.pixels} pixels, more than "
            f"max_pixels={max_pixels} (decompression-bomb guard)",
            file=file,
            field="size",
            hint="if the file is trusted, raise the limit with option max_pixels=N",
        )


def open_png(data: Any, *, file: str) -> Any:
    """Decode PNG bytes or a binary file object with Pillow (no global bomb check; see module doc)."""
    from PIL import Image, PngImagePlugin

    fp = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data
    try:
        im = PngImagePlugin.PngImageFile(fp)
        im.load()
    except Image.DecompressionBombError as exc:  # only if a Pillow version checks in load()
        raise predport.ParseError(
            f"decompression-bomb guard: {exc}", file=file, field="size",
            hint="if the file is trusted, raise the limit with option max_pixels=N",
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError, zlib.error, struct.error, MemoryError) as exc:
        raise predport.ParseError(f"cannot decode PNG: {exc}", file=file) from None
    return im


def label_array(im: Any, *, file: str) -> tuple[Any, str]:
    """The pixel values of a decoded single-channel image as a 2-D uint8/uint16 array.

    Returns ``(array, mode)``. ``P`` gives palette indices (the colours are
    ignored), ``1`` gives 0/1, ``I;16*`` and ``I`` give uint16, ``LA``/``PA``
    drop the alpha channel. Colour modes are not handled here (see
    :func:`predport_masks.read.colour_labels`).
    """
    import numpy as np

    mode = im.mode
    if mode in ("L", "P"):
        arr = np.asarray(im)
    elif mode == "1":
        arr = (np.asarray(im) != 0).view(np.uint8)  # Pillow gives bool or 0/255 by version
    elif mode.startswith("I;16"):
        arr = np.asarray(im).astype(np.uint16, copy=False)
    elif mode == "I":
        arr = np.asarray(im)
        if arr.size and (int(arr.min()) < 0 or int(arr.max()) > 65535):
            raise predport.ParseError(
                "32-bit integer PNG with values outside 0..65535", file=file, field="mode"
            )
        arr = arr.astype(np.uint16)
    elif mode in ("LA", "PA"):
        arr = np.ascontiguousarray(np.asarray(im)[:, :, 0])
    else:
        raise predport.ParseError(f"unsupported PNG mode {mode!r}", file=file, field="mode")
    return arr, mode


def head_png(head: bytes, header: PngHeader) -> bytes | None:
    """A complete PNG made of the first whole rows found in ``head`` (a file's first bytes).

    Detection reads a bounded head of each file; when the file is longer, the
    image data it holds is inflated, cut to whole scanlines and re-wrapped with
    the original header chunks (so Pillow still does the unfiltering). ``None``
    for interlaced files or when no row is complete.
    """
    if header.interlaced:
        return None
    pos = 8
    keep: list[bytes] = []
    idat = bytearray()
    while pos + 8 <= len(head):
        length, ctype = struct.unpack(">I4s", head[pos : pos + 8])
        body = head[pos + 8 : pos + 8 + length]
        if ctype == b"IDAT":
            idat += body
        elif ctype == b"IEND":
            break
        elif not idat and ctype != b"IHDR" and len(body) == length:
            keep.append(head[pos : pos + 12 + length])
        pos += 12 + length
    if not idat:
        return None
    try:
        raw = zlib.decompressobj().decompress(bytes(idat))
    except zlib.error:
        return None
    row = 1 + (header.width * header.bit_depth * _CHANNELS.get(header.colour_type, 1) + 7) // 8
    rows = min(len(raw) // row, header.height)
    if rows == 0:
        return None

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", header.width, rows, header.bit_depth, header.colour_type, 0, 0, 0)
    return (
        PNG_SIGNATURE
        + chunk(b"IHDR", ihdr)
        + b"".join(keep)
        + chunk(b"IDAT", zlib.compress(raw[: rows * row], 1))
        + chunk(b"IEND", b"")
    )
