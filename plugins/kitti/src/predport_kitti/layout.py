"""Where the label files are, what data unit each one describes, and where the images are.

Layouts (``options["layout"]``, detected when ``"auto"``):

* ``plain`` — a folder of ``<stem>.txt`` (searched recursively); data id = the file's path
  relative to the folder without ``.txt``, or the matching image's path relative to the
  image folder when one is known.
* ``kitti`` — the KITTI tree: ``label_2/`` (read), ``image_2/`` (sizes), ``calib/`` (ignored).
* ``encord-old`` — Encord Active before v0.1.70: ``labels/<data_hash>__<anything>.txt``
  (not recursive) plus ``ontology_label_map.json``; data id = data hash.
* ``encord-new`` — Encord Active v0.1.70+: ``<title>[__<frame>].txt`` (recursive) plus
  ``ontology_mapping.json``; data id = title (with its image extension), frame = the
  number after ``__`` (0-based as given) or none.

A user function (``id_lookup``, path -> (data id, frame)) overrides the naming rule of any
layout; with it, every ``.txt``/``.csv`` file is read.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import predport
from predport import ConfigError

OLD_MAP = "ontology_label_map.json"
NEW_MAP = "ontology_mapping.json"
#: Encord Active's old file-name rule (data hash: lower-case hex and '-', may be empty there).
OLD_NAME = re.compile(r"^(?P<data_hash>[a-f0-9\-]*)__(?P<image_name>.*)$")
#: Encord Active's new file-name rule; suffixes compared case-insensitively as Encord does.
NEW_NAME = re.compile(r"^(?P<title>.*?)(?:__(?P<frame>\d+))?\.(?:txt|csv)$", re.IGNORECASE)
#: Sub-folders of a label tree that never hold labels (KITTI's sensor folders).
_NOT_LABELS = re.compile(r"^(calib|velodyne|image_\d|images?|planes|\..*)$", re.IGNORECASE)
_IMAGE_SUFFIXES = predport.IMAGE_SUFFIXES  # the image files whose headers predport reads
#: How many unmatched file names a warning lists.
_SHOW = 5
#: At most this many images are indexed by stem (for labels whose image is not at the same
#: relative path); beyond it, labels without a direct match get no image.
_INDEX_LIMIT = 1_000_000


@dataclass
class LabelFile:
    """One label file (paths are strings: this runs once per file on the hot path)."""

    path: str
    data_id: str
    frame_index: int | None
    image: str | None = None
    size: tuple[int, int] | None = None  # (width, height) when already read from the image header


@dataclass
class Layout:
    """A resolved layout: the label root, how to name data units, the class map file."""

    kind: str
    root: Path  # the folder label paths are relative to
    single: Path | None = None  # a single label file given as the source
    map_file: Path | None = None
    images: "ImageFinder | None" = None
    unmatched: list[str] = field(default_factory=list)
    unmatched_total: int = 0
    without_image: int = 0

    @property
    def plain(self) -> bool:
        """Files named ``<stem>.txt`` (plain folders and the KITTI tree)."""
        return self.kind in ("plain", "kitti")

    # -- enumeration ------------------------------------------------------------------
    def files(self, context: Any, id_mode: str) -> Iterator[LabelFile]:
        """Label files in sorted order, with their data ids (the user's function applied)."""
        if self.single is not None:
            entries: Iterator[tuple[str, str]] = iter([(str(self.single), self.single.name)])
        else:
            entries = self.walk(recursive=self.kind != "encord-old")
        use_fn = context.id_lookup is not None
        clashes = _Clashes(self, use_fn)
        for path, rel in entries:
            default = self._default_id(path, rel, use_fn)
            if default is None:
                continue
            data_id, frame, image = default
            by_image = image is not None and id_mode != "label"
            if by_image:
                data_id = image[0]
            if use_fn:
                data_id, frame = context.data_id_for(Path(path), (data_id, frame))
                if not data_id:
                    raise ConfigError("id_lookup returned an empty data id", file=path)
                if frame is not None and (isinstance(frame, bool) or not isinstance(frame, int) or frame < 0):
                    raise ConfigError(f"id_lookup returned frame {frame!r}; a frame is an int >= 0 or None",
                                      file=path)
            elif image is None and self.images is not None:
                if id_mode == "image":
                    self._unmatched(rel, "no image with this stem")
                    continue
                self.without_image += 1
            clashes.check(path, rel, data_id, frame, image[0] if by_image else None)
            if image is None:
                yield LabelFile(path, data_id, frame)
            else:
                yield LabelFile(path, data_id, frame, image[1], image[2])

    def walk(self, *, recursive: bool) -> Iterator[tuple[str, str]]:
        """``(path, path relative to the root)`` of files below the root, sorted per folder,
        skipping KITTI's non-label folders. Only one folder's file names are held at a time."""
        stack = [(str(self.root), "")]
        while stack:
            folder, prefix = stack.pop()
            names: list[str] = []
            subdirs: list[str] = []
            try:
                with os.scandir(folder) as it:
                    for e in it:
                        if e.is_dir():
                            if recursive and not _NOT_LABELS.match(e.name):
                                subdirs.append(e.name)
                        else:
                            names.append(e.name)
            except OSError as exc:
                raise ConfigError(f"cannot list folder: {exc.strerror}", file=folder) from None
            names.sort()
            base = folder + os.sep
            for name in names:
                yield base + name, prefix + name
            del names
            subdirs.sort(reverse=True)
            stack.extend((base + d, prefix + d + "/") for d in subdirs)

    def _default_id(self, path: str, rel: str, use_fn: bool) -> tuple[str, int | None, Any] | None:
        """``(data id, frame, image)`` by the layout's naming rule; ``None`` (and reported) when no rule matches."""
        if self.plain and rel.endswith(".txt"):  # the common case first: one check per file
            stem = rel[:-4]
            return (stem, None, None if self.images is None else self.images.find(stem))
        name = rel.rsplit("/", 1)[-1]
        suffix = name[name.rfind("."):].lower() if "." in name else ""
        if self.kind in ("encord-old", "encord-new"):
            if suffix not in (".txt", ".csv"):
                if not (rel == name and name in (OLD_MAP, NEW_MAP)):
                    self._unmatched(rel, "not .txt/.csv")
                return None
            if use_fn:
                return (name[: -len(suffix)], None, None)
            if self.kind == "encord-old":
                m = OLD_NAME.match(name)
                if m is None or not m.group("data_hash"):
                    self._unmatched(rel, "not <data_hash>__<name>.txt")
                    return None
                return (m.group("data_hash"), None, None)
            m = NEW_NAME.match(name)
            if m is None or not m.group("title"):
                self._unmatched(rel, "not <title>[__<frame>].txt")
                return None
            frame = m.group("frame")
            return (m.group("title"), None if frame is None else int(frame), None)
        if suffix != ".txt":
            self._unmatched(rel, "not .txt")
            return None
        stem = rel[: -len(".txt")]
        image = None if self.images is None else self.images.find(stem)
        return (stem, None, image)

    def _unmatched(self, rel: str, why: str) -> None:
        self.unmatched_total += 1
        if len(self.unmatched) < _SHOW:
            self.unmatched.append(f"{rel} ({why})")

    def report_unmatched(self, context: Any) -> None:
        if self.without_image and self.images is not None:
            context.report.count("kitti.labels_without_image", self.without_image)
            context.report.warn(
                f"{self.without_image} label file(s) have no image in {self.images.folder}: "
                "their data ids are the label names and their sizes are unknown"
            )
        if not self.unmatched_total:
            return
        context.report.count("kitti.unmatched_files", self.unmatched_total)
        more = self.unmatched_total - len(self.unmatched)
        context.report.warn(
            f"{self.unmatched_total} file(s) in {self.root} match no {self.kind} naming rule and were not read: "
            + ", ".join(self.unmatched)
            + (f" and {more} more" if more > 0 else "")
        )


class _Clashes:
    """Two label files that would give one data unit (data id and frame) are refused, naming both.

    Most ids cannot clash and are not remembered (memory stays flat): a plain or KITTI
    file's id is its own relative path, or the image at that same relative path. The ids
    that can clash are kept: an image found by base name only (labels ``a/000001.txt`` and
    ``b/000001.txt`` beside one ``images/000001.png``), the user's ``id_lookup``, and the
    Encord layouts (``<hash>__<x>.txt`` and ``<hash>__<y>.txt``; Encord Active would
    import both into one data unit, which predport does not guess).
    """

    def __init__(self, layout: "Layout", use_fn: bool) -> None:
        self.layout = layout
        self.every = use_fn or layout.kind.startswith("encord")
        self.why = ("your id_lookup returned it for both" if use_fn else
                    "Encord Active would import both into one data unit; merge them into one file, "
                    "or give an id_lookup" if self.every else "")
        self.seen: dict[tuple[str, int | None], str] = {}

    def check(self, path: str, rel: str, data_id: str, frame: int | None, image: str | None) -> None:
        if not self.every:
            if image is None or image.rsplit(".", 1)[0] == rel[:-4]:
                return  # the id is the file's own relative path: unique
            # matched by base name: the label at the image's own relative path claims it too
            own = os.path.join(str(self.layout.root), image.rsplit(".", 1)[0] + ".txt")
            if own != path and os.path.isfile(own):
                self._refuse(own, path, data_id, frame)
        first = self.seen.setdefault((data_id, frame), path)
        if first != path:
            self._refuse(first, path, data_id, frame)

    def _refuse(self, first: str, second: str, data_id: str, frame: int | None) -> None:
        unit = f"data id {data_id!r}" + ("" if frame is None else f" frame {frame}")
        hint = self.why or (
            f"both match image {data_id!r} by file name only (the image folder "
            f"{self.layout.images.folder if self.layout.images else ''} does not mirror the label "
            "sub-folders); pass data_id=label (-o data_id=label) to keep the label paths as data ids, "
            "or lay the images out like the labels")
        root = str(self.layout.root)
        rel = [os.path.relpath(p, root) if p.startswith(root + os.sep) else p for p in (first, second)]
        raise ConfigError(f"two label files give {unit}: {rel[0]} and {rel[1]} (below the label folder); "
                          "predport does not merge or drop either", file=second, hint=hint)


class ImageFinder:
    """The image of a label file, by relative stem, reading only directory entries it needs.

    ``<folder>/<relative stem><image suffix>`` is tried first (one ``stat`` per suffix, the
    last suffix that matched first), so memory stays flat for the usual one-to-one trees; on
    a miss, an index of the folder by relative stem and by stem is built once.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._base = str(folder) + os.sep
        self._suffixes = list(_IMAGE_SUFFIXES)
        self._index: dict[str, str] | None = None

    def find(self, stem: str) -> tuple[str, str, tuple[int, int] | None] | None:
        """``(image path relative to the folder, full path, (width, height) or None)`` for a
        label's relative stem; the size is filled in when the image is a PNG (read here from
        the header the lookup opens anyway), otherwise it is read later."""
        base = self._base + stem
        for i, suffix in enumerate(self._suffixes):
            path = base + suffix
            try:
                fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO must not block
            except OSError:
                continue
            try:
                head = os.read(fd, 24)
            except OSError:  # a folder with an image-like name
                continue
            finally:
                os.close(fd)
            if i:
                self._suffixes.insert(0, self._suffixes.pop(i))
            return (stem + suffix, path, png_size(head))
        index = self._build_index()
        rel = index.get(stem) or index.get(stem.rsplit("/", 1)[-1])
        if rel is None:
            return None
        return (rel, self._base + rel, None)

    def _build_index(self) -> dict[str, str]:
        if self._index is None:
            index: dict[str, str] = {}
            for i, p in enumerate(predport.iter_images(self.folder)):
                if i >= _INDEX_LIMIT:  # an unrelated photo collection, not this label set's images
                    break
                rel = p.relative_to(self.folder).as_posix()
                index.setdefault(rel.rsplit(".", 1)[0], rel)
                index.setdefault(p.stem, rel)
            self._index = index
        return self._index


def png_size(head: bytes) -> tuple[int, int] | None:
    """``(width, height)`` from the first 24 bytes of a PNG (signature + IHDR), else ``None``.

    The one header the image lookup has in hand already; every other image format goes
    through ``predport.read_image_size``.
    """
    if len(head) >= 24 and head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
        return (int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big"))
    return None


def resolve(path: Path, options: Any, context: Any) -> Layout:
    """Work out the layout of ``path`` (a folder or one label file)."""
    kind = options.get("layout") or "auto"  # declared (hooks.READ_OPTIONS): checked by the hub
    single: Path | None = None
    if path.is_file():
        single = path
        folder = path.parent
    else:
        folder = path
    root = folder
    if kind == "auto":
        kind, root = _auto(folder, single)
    elif kind == "kitti" and single is None and (folder / "label_2").is_dir():
        root = folder / "label_2"
    elif kind == "encord-old" and single is None and (folder / "labels").is_dir():
        root = folder / "labels"
    layout = Layout(kind=kind, root=root, single=single)
    if kind == "encord-old":
        p = root.parent / OLD_MAP
        layout.map_file = p if p.is_file() else None
    elif kind == "encord-new":
        p = root / NEW_MAP
        layout.map_file = p if p.is_file() else None
    return layout


def _auto(folder: Path, single: Path | None) -> tuple[str, Path]:
    if single is not None:
        if folder.name == "labels" and (folder.parent / OLD_MAP).is_file():
            return "encord-old", folder
        if (folder / NEW_MAP).is_file():
            return "encord-new", folder
        return ("kitti" if folder.name == "label_2" else "plain"), folder
    if (folder / "labels").is_dir() and (folder / OLD_MAP).is_file():
        return "encord-old", folder / "labels"
    if folder.name == "labels" and (folder.parent / OLD_MAP).is_file():
        return "encord-old", folder
    if (folder / NEW_MAP).is_file():
        return "encord-new", folder
    if (folder / "label_2").is_dir():
        return "kitti", folder / "label_2"
    if folder.name == "label_2":
        return "kitti", folder
    return "plain", folder


def find_image_folder(layout: Layout, options: Any, context: Any) -> Path | None:
    """The image folder: ``options["images"]``, the user's ``images=``, else one beside the labels."""
    given = options.get("images")
    if given:
        p = Path(given)
        if not p.is_dir():
            raise ConfigError("images folder does not exist", file=str(p), field="images")
        return p
    sizes_folder = context.image_folder
    if sizes_folder is not None:
        return Path(sizes_folder)
    if layout.kind.startswith("encord") or options.get("find_images") is False:
        return None
    root = layout.root
    candidates = [root.parent / "image_2", root.parent / "images"]
    if root.name not in ("label_2", "labels") and layout.single is None:
        candidates = [root / "image_2", root / "images", *candidates]
    for c in candidates:
        if c.is_dir() and c != root:
            return c
    return None
