"""Image sizes from file headers, without decoding pixels.

Supports PNG, JPEG, GIF, BMP, WebP, TIFF and PPM/PGM: the formats image folders of
detection datasets hold. Only the first few KiB of a file are read (JPEG may
need to skip over metadata segments).
"""
from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any, Iterator

__all__ = ["read_image_size", "IMAGE_SUFFIXES", "iter_images"]

IMAGE_SUFFIXES = (
    ".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pbm",
)


def iter_images(folder: str | os.PathLike[str]) -> Iterator[Path]:
    """Image files below ``folder`` (recursive, sorted), as absolute paths."""
    root = Path(folder)
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            if os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES:
                yield Path(dirpath) / name


def read_image_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """``(width, height)`` of an image, read from its header.

    Raises ``ValueError`` when the header is not one of the supported formats or
    is truncated, and ``OSError`` when the file cannot be read.
    """
    try:
        return _read_size(path)
    except (struct.error, IndexError) as exc:
        raise ValueError(f"{path}: truncated image header ({exc})") from None


def _open_regular(path: str | os.PathLike[str]) -> Any:
    """``open(path, "rb")`` for a regular file; ``ValueError`` for a FIFO or device (never blocks)."""
    from .limits import _blocking_file, _regular_fd

    fd = _regular_fd(path)[0]
    try:
        return _blocking_file(fd)
    except BaseException:
        os.close(fd)
        raise


def _read_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    with _open_regular(path) as fh:
        head = fh.read(32)
        if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
            w, h = struct.unpack(">II", head[16:24])
            return int(w), int(h)
        if head[:6] in (b"GIF87a", b"GIF89a"):
            w, h = struct.unpack("<HH", head[6:10])
            return int(w), int(h)
        if head[:2] == b"BM" and len(head) >= 26:
            w, h = struct.unpack("<ii", head[18:26])
            return int(w), abs(int(h))
        if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
            return _webp_size(fh, head)
        if head[:2] == b"\xff\xd8":
            return _jpeg_size(fh)
        if head[:4] in (b"II*\x00", b"MM\x00*"):
            return _tiff_size(fh, head)
        if head[:1] == b"P" and head[1:2] in b"123456":
            return _pnm_size(head + fh.read(256))
    raise ValueError(f"{path}: not an image header predport can read (PNG, JPEG, GIF, BMP, WebP, TIFF, PNM)")


def _jpeg_size(fh) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    fh.seek(2)
    while True:
        marker = fh.read(2)
        while marker[:1] == b"\xff" and marker[1:2] == b"\xff":  # fill bytes
            marker = marker[1:] + fh.read(1)
        if len(marker) < 2 or marker[0] != 0xFF:
            raise ValueError("truncated JPEG header")
        code = marker[1]
        if code in (0xD8, 0x01) or 0xD0 <= code <= 0xD7:
            continue
        seg = fh.read(2)
        if len(seg) < 2:
            raise ValueError("truncated JPEG header")
        length = struct.unpack(">H", seg)[0]
        # SOF0..SOF15 carry the frame size, except DHT (C4), JPG (C8) and DAC (CC).
        if 0xC0 <= code <= 0xCF and code not in (0xC4, 0xC8, 0xCC):
            data = fh.read(5)
            h, w = struct.unpack(">HH", data[1:5])
            return int(w), int(h)
        fh.seek(length - 2, os.SEEK_CUR)


def _webp_size(fh, head: bytes) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    data = head + fh.read(32)
    chunk = data[12:16]
    if chunk == b"VP8 ":
        w, h = struct.unpack("<HH", data[26:30])
        return int(w & 0x3FFF), int(h & 0x3FFF)
    if chunk == b"VP8L":
        b = data[21:25]
        w = 1 + (((b[1] & 0x3F) << 8) | b[0])
        h = 1 + (((b[3] & 0xF) << 10) | (b[2] << 2) | ((b[1] & 0xC0) >> 6))
        return int(w), int(h)
    if chunk == b"VP8X":
        w = 1 + int.from_bytes(data[24:27], "little")
        h = 1 + int.from_bytes(data[27:30], "little")
        return int(w), int(h)
    raise ValueError("unknown WebP chunk")


def _tiff_size(fh, head: bytes) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    endian = "<" if head[:2] == b"II" else ">"
    offset = struct.unpack(endian + "I", head[4:8])[0]
    fh.seek(offset)
    count = struct.unpack(endian + "H", fh.read(2))[0]
    width = height = None
    for _ in range(count):
        entry = fh.read(12)
        tag, typ = struct.unpack(endian + "HH", entry[:4])
        value = struct.unpack(endian + ("H" if typ == 3 else "I"), entry[8:10] if typ == 3 else entry[8:12])[0]
        if tag == 256:
            width = value
        elif tag == 257:
            height = value
    if width is None or height is None:
        raise ValueError("TIFF header without width/height")
    return int(width), int(height)


def _pnm_size(data: bytes) -> tuple[int, int]:
    tokens: list[bytes] = []
    for line in data[2:].splitlines():
        line = line.split(b"#", 1)[0]
        tokens.extend(line.split())
        if len(tokens) >= 2:
            return int(tokens[0]), int(tokens[1])
    raise ValueError("truncated PNM header")
