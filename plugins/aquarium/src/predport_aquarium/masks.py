"""Mask PNGs named by Aquarium mask rows: find them locally, read them, encode per-value RLE.

Aquarium masks are single-channel PNGs referenced by URL (``*_URL_2D`` rows) or by an
asset uuid whose bytes live in a separate Arrow file (``*_ASSET_2D`` rows, 0.0.x only).
A semantic mask's pixel value is a class id of the project's class map; an instance
mask's pixel value is an instance id, named by ``INSTANCE_LABEL_2D`` entries.

Only local files are read: a relative URL is resolved against the folder of the
JSON Lines file (or the ``mask_root`` option), ``file://`` URLs and absolute paths as
they are. Remote URLs are never fetched: they are *unresolved*, like asset uuids.
"""
from __future__ import annotations

import struct
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import numpy as np

import predport

REMOTE_SCHEMES = frozenset({"http", "https", "gs", "s3", "ftp", "az", "abfs"})


def locate(url: Any, base: Path) -> tuple[Path | None, str]:
    """``(path, "")`` of a local mask PNG, or ``(None, reason)`` when it cannot be read here."""
    if not isinstance(url, str) or not url:
        return None, "mask row has no url"
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in REMOTE_SCHEMES:
        return None, f"remote URL {url!r} (predport never fetches masks)"
    if scheme == "file":
        path = Path(unquote(parts.path))
    elif scheme and len(scheme) > 1:
        return None, f"unsupported URL scheme {scheme!r} in {url!r}"
    else:
        path = Path(url)  # a Windows drive letter parses as a one-letter scheme
        if not path.is_absolute():
            path = base / path
    if not path.is_file():
        return None, f"mask PNG {url!r} not found"
    return path, ""


def read_png(path: Path, *, size: tuple[int, int] | None, resize_mode: Any) -> tuple[np.ndarray | None, str]:
    """The mask as an (H, W) integer array, or ``(None, reason)``.

    ``size`` is the image's ``(width, height)`` when known. With ``resize_mode ==
    "fill"`` Aquarium stretches the mask to the image, so it is resized here too
    (nearest neighbour: values are ids, never interpolated).
    """
    from PIL import Image

    im: Image.Image
    try:
        with predport.open_regular(path, file=str(path)) as fh:
            # the pixel limit from the PNG header, before Pillow sees it (a 100-byte PNG may
            # declare 50000 x 50000); also the size the mask is stretched to
            head = fh.read(24)
            if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
                predport.check_pixels(*struct.unpack(">II", head[16:24]), what="mask PNG", file=str(path))
            if size is not None and resize_mode == "fill":
                predport.check_pixels(size[0], size[1], what="mask resized to the image", file=str(path))
            fh.seek(0)
            im = Image.open(fh)
            im.load()
            if im.mode not in ("L", "P", "I", "I;16", "I;16B", "I;16L", "1"):
                return None, f"{path.name!r} is a {im.mode} image, not a single-channel mask"
            if size is not None and im.size != size and resize_mode == "fill":
                im = im.resize(size, resample=Image.Resampling.NEAREST)
            arr = np.asarray(im)
    except predport.PredportError as err:
        return None, f"mask PNG {path.name!r}: {err.message}"
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        return None, f"cannot read mask PNG {path.name!r}: {exc}"
    if arr.dtype == bool:
        arr = arr.astype(np.uint8)
    return arr, ""


def encode(arr: np.ndarray, values: list[int]) -> list[tuple[dict[str, Any], list[float]]]:
    """COCO compressed RLE and ``[x, y, w, h]`` box (pixels) of ``arr == v`` for each value.

    RLE is column-major with ``size = [height, width]`` (pycocotools). Values must be
    present in ``arr`` (an absent value would give an empty mask).
    """
    from pycocotools import mask as mask_utils

    out = []
    for v in values:
        binary = np.asfortranarray(arr == v, dtype=np.uint8)
        rle = mask_utils.encode(binary)
        box = [float(b) for b in mask_utils.toBbox(rle).tolist()]
        out.append(({"size": [int(rle["size"][0]), int(rle["size"][1])],
                     "counts": rle["counts"].decode("ascii")}, box))
    return out


def present_values(arr: np.ndarray) -> list[int]:
    """The distinct pixel values of a mask, ascending."""
    return [int(v) for v in np.unique(arr).tolist()]
