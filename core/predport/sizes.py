"""Image sizes by data id: :class:`ImageSizes`, from a mapping, a sizes file or an image folder."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from .classmaps import load_mapping_file
from .errors import ConfigError

__all__ = ["ImageSizes"]


class ImageSizes:
    """Image sizes by data id, from a mapping, a sizes file, or an image folder.

    A sizes file is JSON or YAML: ``{"img.jpg": [w, h]}``,
    ``{"img.jpg": {"width": w, "height": h}}``, or a COCO ground-truth file
    (``images`` with ``file_name``, ``width``, ``height``). An image folder is
    indexed once (names only); each image's header is read when first asked for.
    Lookups try the data id as given, then its file name, then its stem.
    """

    def __init__(
        self,
        sizes: Mapping[str, tuple[int, int]] | None = None,
        *,
        folder: str | os.PathLike[str] | None = None,
    ) -> None:
        self._sizes: dict[str, tuple[int, int]] = {}
        for k, v in (sizes or {}).items():
            self._add(str(k), v)
        self._folder = None if folder is None else Path(folder)
        self._index: dict[str, Path] | None = None

    @property
    def folder(self) -> Path | None:
        """The image folder sizes are read from, or ``None``."""
        return self._folder

    def with_folder(self, folder: str | os.PathLike[str]) -> "ImageSizes":
        """These sizes, and an image folder for the data units they do not list."""
        out = ImageSizes(folder=folder)
        out._sizes = dict(self._sizes)
        return out

    def _add(self, key: str, value: Any) -> None:
        w: Any
        h: Any
        try:
            if isinstance(value, Mapping):
                w, h = value.get("width"), value.get("height")
            else:
                w, h = value
            if isinstance(w, bool) or isinstance(h, bool) or int(w) != w or int(h) != h or int(w) <= 0 or int(h) <= 0:
                raise ValueError
            if int(w) >= 1 << 63 or int(h) >= 1 << 63:  # 1e308 is an integer too; no writer holds it
                raise ValueError
        except (TypeError, ValueError, OverflowError):
            raise ConfigError(f"image size of {key!r} must be [width, height] or {{width, height}}, "
                              f"positive integers; got {value!r}", field=key) from None
        w, h = int(w), int(h)
        self._sizes[key] = (w, h)
        name = key.replace("\\", "/").rsplit("/", 1)[-1]
        self._sizes.setdefault(name, (w, h))
        self._sizes.setdefault(name.rsplit(".", 1)[0], (w, h))

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> "ImageSizes":
        obj = load_mapping_file(path)
        sizes = cls()
        try:
            if isinstance(obj, Mapping) and isinstance(obj.get("images"), list):
                for i, im in enumerate(obj["images"]):
                    sizes._add(str(im["file_name"]), (im["width"], im["height"]))
                    if "id" in im:
                        sizes._sizes.setdefault(f"#id:{im['id']}", (int(im["width"]), int(im["height"])))
            elif isinstance(obj, Mapping):
                for k, v in obj.items():
                    sizes._add(str(k), v)
            else:
                raise TypeError("expected an object")
        except ConfigError as err:
            err.file = str(path)
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(
                f"not a sizes file ({exc}); expected {{name: [width, height]}} or COCO images",
                file=str(path),
            ) from None
        return sizes

    def _folder_index(self) -> dict[str, Path]:
        if self._index is None:
            from .images import iter_images

            index: dict[str, Path] = {}
            if self.folder is not None:
                for p in iter_images(self.folder):
                    rel = p.relative_to(self.folder).as_posix()
                    index.setdefault(rel, p)
                    index.setdefault(p.name, p)
                    index.setdefault(rel.rsplit(".", 1)[0], p)
                    index.setdefault(p.stem, p)
            self._index = index
        return self._index

    def get(self, data_id: str) -> tuple[int, int] | None:
        """``(width, height)`` for ``data_id``, or ``None`` when unknown."""
        key = data_id.replace("\\", "/")
        name = key.rsplit("/", 1)[-1]
        stem = name.rsplit(".", 1)[0]
        for k in (key, name, stem):
            if k in self._sizes:
                return self._sizes[k]
        if self.folder is not None:
            index = self._folder_index()
            for k in (key, key.rsplit(".", 1)[0], name, stem):
                p = index.get(k)
                if p is not None:
                    from .images import read_image_size

                    try:
                        size = read_image_size(p)
                    except (OSError, ValueError) as exc:
                        raise ConfigError(f"cannot read image size: {exc}", file=str(p)) from None
                    self._sizes[key] = size
                    return size
        return None

    def __bool__(self) -> bool:
        return bool(self._sizes) or self.folder is not None
