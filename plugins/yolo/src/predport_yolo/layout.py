"""Where the parts of a YOLO source are: label files, class names, image sizes.

Three layouts are recognised (see ``docs/formats/yolo.md``):

* a **labels folder** of ``*.txt`` files (one per image, same stem), possibly with
  sub-folders and a ``classes.txt``;
* an **Ultralytics tree**: a root with ``labels/`` (and ``images/``) beside a
  ``data.yaml`` whose ``names`` is a list or an ``{index: name}`` mapping; ``predict``
  output (``runs/detect/predict/labels/*.txt`` next to the saved images) is the same
  with the images in the root itself;
* a **data.yaml** file: its ``path`` key (relative to the file) names the root.

Only the standard library is imported here: detection uses this module.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

import predport

#: Image file suffixes: a data id ending in one of them names an image file.
#: predport's image types, plus the others Ultralytics accepts (named, though their sizes cannot be read).
IMAGE_SUFFIXES = predport.IMAGE_SUFFIXES + (".dng", ".mpo", ".heic", ".avif")
#: Label-folder files that are not label files.
NOT_LABELS = frozenset({"classes.txt"})
#: The sizes file predport-yolo writes beside ``labels/`` (``{data_id: [width, height]}``).
SIZES_FILE = "sizes.json"
NAMES_FILES = ("data.yaml", "data.yml")


def strip_image_suffix(name: str) -> str:
    """``train/a.jpg`` -> ``train/a``; names without an image suffix are kept."""
    stem, dot, ext = name.rpartition(".")
    if dot and "/" not in ext and f".{ext.lower()}" in IMAGE_SUFFIXES:
        return stem
    return name


@dataclass
class Layout:
    """The resolved parts of one YOLO source (paths are absolute or as given)."""

    root: Path
    labels: Path
    names_file: Path | None = None
    images: Path | None = None
    sizes_file: Path | None = None
    yaml_split: str | None = None
    notes: list[str] = field(default_factory=list)

    def label_files(self) -> Iterator[tuple[str, str]]:
        """``(path, stem)`` of the label files below ``labels``, recursively, sorted per folder.

        ``stem`` is the path below ``labels`` without ``.txt`` (``train/000001``). Streamed
        folder by folder: the files are never listed whole.
        """
        top = os.fspath(self.labels)
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            prefix = os.path.relpath(dirpath, top).replace(os.sep, "/")
            prefix = "" if prefix == "." else prefix + "/"
            for name in sorted(filenames):
                if name.lower().endswith(".txt") and name.lower() not in NOT_LABELS and not name.startswith("."):
                    yield os.path.join(dirpath, name), prefix + name[:-4]


def _has_images(folder: Path) -> bool:
    try:
        with os.scandir(folder) as it:
            return any(e.is_file() and os.path.splitext(e.name)[1].lower() in IMAGE_SUFFIXES for e in it)
    except OSError:
        return False


def _yaml_has_names(path: Path) -> bool:
    try:
        with predport.open_regular(path) as fh:  # a FIFO named data.yaml must not block
            head = fh.read(64 * 1024)
    except (OSError, predport.PredportError):
        return False
    return any(line.startswith(b"names:") for line in head.splitlines())


def resolve(path: Path, options: Mapping[str, Any]) -> Layout:
    """The layout of ``path`` (a labels folder, a dataset root, or a data.yaml)."""
    split = options.get("split")
    if path.is_file():
        if path.suffix.lower() not in (".yaml", ".yml"):
            raise predport.ConfigError("a YOLO source is a labels folder, a dataset folder or its data.yaml",
                                       file=str(path))
        data = _load_yaml(path)
        root = path.parent
        if isinstance(data.get("path"), str) and data["path"]:
            candidate = Path(data["path"])
            candidate = candidate if candidate.is_absolute() else path.parent / candidate
            root = candidate if candidate.is_dir() else path.parent
        layout = Layout(root=root, labels=root / "labels", names_file=path)
        if split is not None:
            images_rel = data.get(str(split))
            if not isinstance(images_rel, str):
                raise predport.ConfigError(f"data.yaml has no split {split!r} naming an image folder",
                                           file=str(path), field=str(split))
            layout.images = root / images_rel
            # Ultralytics finds labels by replacing the last "images" part of the image path.
            parts = list(Path(images_rel).parts)
            for i in range(len(parts) - 1, -1, -1):
                if parts[i] == "images":
                    parts[i] = "labels"
                    break
            layout.labels = root.joinpath(*parts)
            layout.yaml_split = str(split)
        elif (root / "images").is_dir():
            layout.images = root / "images"
    elif (path / "labels").is_dir():
        layout = Layout(root=path, labels=path / "labels")
        if (path / "images").is_dir():
            layout.images = path / "images"
        elif _has_images(path):
            layout.images = path  # `predict` output: the saved images sit beside labels/
    else:
        layout = Layout(root=path, labels=path)
        # A folder inside labels/ (labels/train): the tree's root is above "labels".
        for up, anc in enumerate([path, *path.parents][:3]):
            if anc.name == "labels":
                rest = path.relative_to(anc)
                layout.root = anc.parent
                images = anc.parent / "images" / rest
                if images.is_dir():
                    layout.images = images
                elif up == 0 and _has_images(anc.parent):
                    layout.images = anc.parent
                break
    if split is not None and layout.yaml_split is None:
        layout.labels = layout.labels / str(split)
        if layout.images is not None and (layout.images / str(split)).is_dir():
            layout.images = layout.images / str(split)
    if not layout.labels.is_dir():
        raise predport.ConfigError("no labels folder", file=str(layout.labels),
                                   hint="a YOLO source is a folder of .txt label files, or a folder with labels/")
    if layout.names_file is None:
        layout.names_file = _find_names(layout)
    sizes = layout.root / SIZES_FILE
    if sizes.is_file():
        layout.sizes_file = sizes
    return layout


def _find_names(layout: Layout) -> Path | None:
    candidates = [layout.labels / "classes.txt", layout.labels / "obj.names"]
    folders = [layout.root] if layout.root == layout.labels else [layout.labels, layout.root]
    for folder in folders:
        candidates += [folder / n for n in NAMES_FILES]
    candidates += [layout.root / "classes.txt", layout.root / "obj.names"]
    for c in candidates:
        if c.is_file() and (c.suffix.lower() not in (".yaml", ".yml") or _yaml_has_names(c)):
            return c
    # Any other YAML in the root that declares names (Ultralytics ships coco128.yaml etc.).
    try:
        others = sorted(p for p in layout.root.iterdir() if p.suffix.lower() in (".yaml", ".yml"))
    except OSError:
        others = []
    for p in others:
        if _yaml_has_names(p):
            return p
    return None


def _load_yaml(path: Path) -> dict[str, Any]:
    data = predport.load_mapping_file(path)  # safe loader, depth-limited, located errors
    if not isinstance(data, dict):
        raise predport.ConfigError("expected a YAML mapping (data.yaml)", file=str(path))
    return data


def names_from(value: Any, *, origin: str | None) -> dict[int, str]:
    """Class names from a ``names`` value: a list, or a mapping of index to name."""
    out: dict[int, str] = {}
    if isinstance(value, list):
        for i, name in enumerate(value):
            if name is None or str(name).strip() == "":
                continue
            out[i] = str(name)
    elif isinstance(value, Mapping):
        for k, name in value.items():
            try:
                idx = int(k)
            except (TypeError, ValueError):
                raise predport.ConfigError(f"class index {k!r} is not an integer", file=origin,
                                           json_path=["names", str(k)]) from None
            if idx < 0 or isinstance(k, bool):
                raise predport.ConfigError(f"class index {k!r} is negative", file=origin, json_path=["names", str(k)])
            out[idx] = str(name)
    else:
        raise predport.ConfigError("'names' must be a list or a mapping of class index to name",
                                   file=origin, field="names")
    return out


def kpt_shape_of(value: Any, *, origin: str | None) -> tuple[int, int]:
    """``(K, D)`` from ``[17, 3]``, ``"17,3"`` or ``"17x3"``: K keypoints of D values (2: x y, 3: x y v)."""
    parts = value
    if isinstance(value, str):
        parts = [p for p in value.replace("x", ",").replace(" ", ",").split(",") if p]
    try:
        k, d = (int(v) for v in parts)
    except (TypeError, ValueError):
        raise predport.ConfigError(f"kpt_shape {value!r} is not [K, D] (K keypoints of D values)",
                                   file=origin, field="kpt_shape") from None
    if k < 1 or d not in (2, 3):
        raise predport.ConfigError(f"kpt_shape {value!r}: K must be at least 1 and D 2 (x y) or 3 (x y v)",
                                   file=origin, field="kpt_shape")
    return k, d


def read_kpt_shape(layout: Layout) -> tuple[int, int] | None:
    """``kpt_shape`` of the data.yaml beside the labels (Ultralytics pose datasets), else ``None``."""
    path = layout.names_file
    if path is None or path.suffix.lower() not in (".yaml", ".yml") or not path.is_file():
        return None
    data = _load_yaml(path)
    if data.get("kpt_shape") is None:
        return None
    return kpt_shape_of(data["kpt_shape"], origin=str(path))


def read_names(layout: Layout, options: Mapping[str, Any]) -> tuple[dict[int, str] | None, str | None]:
    """``({index: name}, origin)`` from the ``names`` option, data.yaml or classes.txt; ``(None, None)``."""
    given = options.get("names")
    if isinstance(given, (list, dict)):
        return names_from(given, origin=None), "the names option"
    path = Path(given) if isinstance(given, (str, os.PathLike)) else layout.names_file
    if path is None:
        return None, None
    if not path.is_file():
        raise predport.ConfigError("names file not found", file=str(path), field="names")
    if path.suffix.lower() in (".yaml", ".yml"):
        data = _load_yaml(path)
        if "names" not in data:
            raise predport.ConfigError("no 'names' key", file=str(path), field="names")
        return names_from(data["names"], origin=str(path)), str(path)
    # classes.txt / obj.names: one name per line; the line number (0-based) is the class index.
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise predport.ConfigError(f"cannot read class names: {exc}", file=str(path)) from None
    return {i: line.strip() for i, line in enumerate(lines) if line.strip()}, str(path)
