"""Finding a frame's image, and a canvas for it when there is none.

A frame's ``data_id`` is looked up in the image folder by relative path, then the
relative path without its suffix, then the file name, then the stem (the order the
core uses for image sizes). A frame without an image (no ``--images``, a video frame,
a data hash with no file) is drawn on a neutral grey canvas of the frame's size, and
counted: the summary says how many, so a wrong folder never passes unnoticed.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Iterator

__all__ = ["ImageIndex", "canvas_size", "blank_canvas", "open_image", "output_name", "BLANK"]

BLANK = (128, 128, 128)


class ImageIndex:
    """The images below a folder, indexed once by the names a ``data_id`` may use."""

    def __init__(self, folder: str | os.PathLike[str] | None) -> None:
        import predport

        self.folder = None if folder is None else Path(folder)
        self._by_key: dict[str, Path] = {}
        self.paths: list[Path] = []
        self.used: set[Path] = set()
        if self.folder is None:
            return
        if not self.folder.is_dir():
            raise predport.ConfigError("image folder not found", file=str(self.folder), field="--images")
        for p in predport.iter_images(self.folder):
            self.paths.append(p)
            rel = p.relative_to(self.folder).as_posix()
            for key in (rel, rel.rsplit(".", 1)[0], p.name, p.stem):
                self._by_key.setdefault(key, p)

    def find(self, data_id: str) -> Path | None:
        """The image of ``data_id``, or ``None``; a found image is marked as used."""
        key = data_id.replace("\\", "/").lstrip("/")
        name = key.rsplit("/", 1)[-1]
        for k in (key, key.rsplit(".", 1)[0], name, name.rsplit(".", 1)[0]):
            p = self._by_key.get(k)
            if p is not None:
                self.used.add(p)
                return p
        return None

    def unused(self) -> Iterator[Path]:
        """Images no frame asked for (in folder order): images without any prediction."""
        for p in self.paths:
            if p not in self.used:
                yield p

    def data_id(self, path: Path) -> str:
        assert self.folder is not None
        return path.relative_to(self.folder).as_posix()


def open_image(path: Path) -> Any:
    """The image at ``path`` as RGB (EXIF orientation applied, as viewers show it)."""
    import predport
    from PIL import Image, ImageOps, UnidentifiedImageError

    im: Image.Image
    try:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im)
            if im.mode in ("I", "I;16", "I;16B", "F"):  # 16-bit and float greyscale: scale to 8 bits
                import numpy as np

                a = np.asarray(im, dtype=np.float64)
                top = float(a.max()) or 1.0
                im = Image.fromarray((a * (255.0 / top)).clip(0, 255).astype(np.uint8), mode="L")
            return im.convert("RGB")
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise predport.PredportError(f"cannot read image: {exc}", file=str(path)) from None


def canvas_size(frame: Any) -> tuple[int, int]:
    """The size of a blank canvas for ``frame``: its own size, else what its predictions reach."""
    if frame.width and frame.height:
        return int(frame.width), int(frame.height)
    w = h = 0.0
    dets = frame.predictions
    if dets.box is not None and len(dets):
        import numpy as np

        b = dets.box[~np.isnan(dets.box[:, 0])]
        if len(b):
            w, h = float((b[:, 0] + b[:, 2]).max()), float((b[:, 1] + b[:, 3]).max())
    for rle in dets.mask or []:
        if rle:
            h, w = max(h, rle["size"][0]), max(w, rle["size"][1])
    for rings in dets.polygon or []:
        for r in rings or []:
            w, h = max(w, max(r[0::2])), max(h, max(r[1::2]))
    for kps in dets.keypoints or []:
        for p in kps or []:
            w, h = max(w, p[0]), max(h, p[1])
    if w <= 0 or h <= 0:
        return 640, 480
    return max(1, math.ceil(w)), max(1, math.ceil(h))


def blank_canvas(size: tuple[int, int]) -> Any:
    from PIL import Image

    return Image.new("RGB", size, BLANK)


def output_name(data_id: str, frame_index: int | None, suffix: str) -> str:
    """A safe relative output path for a frame: its data id's folders and stem, and ``suffix``."""
    parts = [p for p in data_id.replace("\\", "/").split("/") if p not in ("", ".", "..")]
    if not parts:
        parts = ["frame"]
    stem = parts[-1]
    base, dot, ext = stem.rpartition(".")
    if dot and base and len(ext) <= 5:
        stem = base
    if frame_index is not None:
        stem = f"{stem}_{frame_index:06d}"
    stem = "".join(c if c.isprintable() and c not in '<>:"|?*' else "_" for c in stem)
    return "/".join(parts[:-1] + [stem + suffix])
