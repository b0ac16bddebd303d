"""Reading a folder (or one file) of class-index PNG masks into canonical frames.

``parse`` yields one :class:`MaskRecord` per PNG (decoded, its data id and frame
resolved), file by file; ``to_canonical`` turns each into one frame. Only one
mask is in memory at a time.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Iterator, Mapping

import predport

from .options import ReadOptions
from .png import check_pixels, label_array, open_png, read_header

__all__ = ["MaskRecord", "ReadStart", "parse_masks", "frames_from_records", "default_ids", "list_pngs"]

ONTOLOGY_FILE = "ontology_mapping.json"
CLASS_MAP_FILE = "class_map.json"
_FRAME_RE = re.compile(r"(.*?)__(\d+)", re.S)
#: An Encord data hash: a UUID (lower-case hex, 8-4-4-4-12).
_HASH_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_DIGITS_RE = re.compile(r"[0-9]+")


@dataclass
class MaskRecord:
    """One decoded mask: where it came from, what it belongs to, its labels (H x W uint8/uint16)."""

    path: Path
    relpath: str
    data_id: str
    frame_index: int | None
    labels: Any
    mode: str


def list_pngs(root: Path) -> Iterator[Path]:
    """``*.png`` files below ``root`` (suffix case-insensitive), or ``root`` itself.

    Recursive, depth-first: each folder's files in name order, then its
    sub-folders in name order. Paths stream out; nothing is collected first.
    """
    if root.is_file():
        yield root
        return
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            if name.lower().endswith(".png"):
                yield Path(dirpath) / name


def default_ids(relpath: str, rule: str = "auto") -> tuple[str, int | None]:
    """``(data_id, frame_index)`` from a mask's path relative to the folder read.

    * ``<title>__<digits>.png`` -> ``(<title>, int(digits))`` (``__00005`` and ``__5`` alike);
    * ``<data_hash>/<digits>.png`` -> ``(<data_hash>, int(digits))`` when the folder
      name is a UUID-style Encord data hash (rule ``auto``) or always (rule
      ``hash_frame``; the file must sit in a sub-folder);
    * otherwise ``<title>.png`` -> ``(<title>, None)``.

    ``<title>`` keeps the sub-folders and strips only the final ``.png``
    (``street_001.jpg.png`` -> ``street_001.jpg``).
    """
    rel = PurePosixPath(relpath)
    title = rel.name[:-4] if rel.name.lower().endswith(".png") else rel.name
    m = _FRAME_RE.fullmatch(title)
    if m and m.group(1):
        return (rel.parent / m.group(1)).as_posix(), int(m.group(2))
    parent = rel.parent.name
    if rule != "title" and parent and _DIGITS_RE.fullmatch(title):
        if rule == "hash_frame" or _HASH_RE.fullmatch(parent):
            return parent, int(title)
    return (rel.parent / title).as_posix(), None


def _colour_labels(rgb: Any, colors: Mapping[tuple[int, int, int], int], background: int, context: Any, file: str) -> Any:
    """Colour pixels -> class values through the user's colour map (unknown colours: background, reported)."""
    import numpy as np

    packed = (rgb[:, :, 0].astype(np.uint32) << 16) | (rgb[:, :, 1].astype(np.uint32) << 8) | rgb[:, :, 2]
    keys = np.array(sorted((r << 16) | (g << 8) | b for (r, g, b) in colors), dtype=np.uint32)
    vals = np.array([colors[((k >> 16) & 255, (k >> 8) & 255, k & 255)] for k in keys.tolist()])
    dtype = np.uint8 if vals.max(initial=0) <= 255 and background <= 255 else np.uint16
    pos = np.searchsorted(keys, packed)
    pos[pos == len(keys)] = 0
    known = keys[pos] == packed
    out = vals.astype(dtype)[pos]
    if not known.all():
        unknown = packed[~known]
        out[~known] = background
        colours, counts = np.unique(unknown, return_counts=True)
        for c, n in zip(colours.tolist(), counts.tolist()):
            context.report.warn(
                f"colour {(c >> 16) & 255},{(c >> 8) & 255},{c & 255} is not in the colour map: its pixels were skipped"
            )
        context.report.count("masks.unmapped_colour_pixels", int(counts.sum()))
    return out


def _decode(path: Path, opts: ReadOptions, context: Any) -> tuple[Any, str]:
    import numpy as np

    file = str(path)
    header = read_header(path)
    check_pixels(header, opts.max_pixels, file)
    try:
        with predport.open_regular(path, file=file) as fh:
            im = open_png(fh, file=file)
    except OSError as exc:
        raise predport.ParseError(f"cannot read: {exc.strerror}", file=file) from None
    if im.mode in ("RGB", "RGBA"):
        if opts.colors is None:
            raise predport.ParseError(
                f"colour PNG (mode {im.mode}): a class-index mask holds one class value per pixel, "
                "this file holds colours",
                file=file,
                field="mode",
                hint="give a colour-to-class map with option colors={'R,G,B': class_value, ...} "
                "(or a JSON/YAML file of one), or convert the masks to class indices first",
            )
        rgb = np.asarray(im)[:, :, :3]
        return _colour_labels(rgb, opts.colors, opts.background or 0, context, file), im.mode
    return label_array(im, file=file)


@dataclass(frozen=True)
class ReadStart:
    """The first record of a read: what ``to_canonical`` needs before the masks."""

    root: Path
    options: ReadOptions


def parse_masks(source: Any, opts: ReadOptions, context: Any) -> Iterator[Any]:
    """A :class:`ReadStart`, then one :class:`MaskRecord` per readable PNG (bad files go to ``context.problem``)."""
    root = source.path
    yield ReadStart(root, opts)
    base = root if root.is_dir() else root.parent
    for path in list_pngs(root):
        relpath = path.relative_to(base).as_posix()
        try:
            data_id, frame = context.data_id_for(path, default_ids(relpath, opts.names))
            if not data_id or (frame is not None and (isinstance(frame, bool) or not isinstance(frame, int)
                                                      or frame < 0)):
                raise predport.ParseError(
                    f"no usable data id/frame ({data_id!r}, {frame!r}) for this file",
                    file=str(path), field="data_id",
                    hint="a data id is a non-empty string, a frame a 0-based integer or None",
                )
            labels, mode = _decode(path, opts, context)
        except predport.ParseError as err:
            context.problem(err)
            continue
        yield MaskRecord(path, relpath, data_id, frame, labels, mode)


# ---------------------------------------------------------------------------- classes
class ClassResolver:
    """Pixel value -> canonical category id (or ``None``: no class, pixels skipped).

    Precedence: the user's class map (through ``context.categories``, keyed by the
    pixel value as a string, or by the featureNodeHash when an ontology mapping
    names one); else an Encord ``ontology_mapping.json`` (``{featureNodeHash:
    pixel_value}``; values not in it have no class); else a predport
    ``class_map.json`` written beside the masks (names only); else the pixel
    value itself (name ``str(value)``).
    """

    def __init__(self, root: Path, opts: ReadOptions, context: Any) -> None:
        self.context = context
        self.cache: dict[int, int | None] = {}
        self.hashes: dict[int, str] = {}
        self.restrict: set[int] | None = None
        base = root if root.is_dir() else root.parent
        onto_path = opts.ontology_mapping
        if onto_path is None and (base / ONTOLOGY_FILE).is_file():
            onto_path = base / ONTOLOGY_FILE
        names: dict[int, tuple[str, str | None]] = {}
        if (base / CLASS_MAP_FILE).is_file():
            names = _sidecar_names(base / CLASS_MAP_FILE, context)
        if onto_path is not None:
            self.hashes = _ontology(onto_path)
            self.restrict = set(self.hashes)
        if context.class_map is not None:
            return
        for value, fh in sorted(self.hashes.items()):
            name = names.get(value, (fh, fh))[0]
            context.categories.declare(value, name, fh)
        if self.restrict is None:
            for value, (name, ext) in sorted(names.items()):
                context.categories.declare(value, name, ext)

    def __call__(self, value: int) -> int | None:
        if value in self.cache:
            return self.cache[value]
        ctx = self.context
        # rows=0: an unmapped value is counted per prediction it drops, by left_out().
        if ctx.class_map is not None:
            fh = self.hashes.get(value)
            cid = ctx.categories.resolve(name=fh, id=value, external_id=fh, rows=0)
        elif self.restrict is not None and value not in self.restrict:
            cid = None
        else:
            cid = ctx.categories.resolve(id=value, rows=0)
        self.cache[value] = cid
        return cid

    def left_out(self, value: int, rows: int) -> None:
        """``rows`` predictions of pixel value ``value`` were left out (no class for it)."""
        self.context.categories.left_out(name=self.hashes.get(value), id=value, rows=rows)


def _ontology(path: Path) -> dict[int, str]:
    """Encord's ``{featureNodeHash: pixel_value}`` as ``{pixel_value: featureNodeHash}``."""
    obj = predport.load_mapping_file(path)
    if not isinstance(obj, Mapping):
        raise predport.ConfigError("an ontology mapping is an object {featureNodeHash: pixel_value}", file=str(path))
    out: dict[int, str] = {}
    for key, value in obj.items():
        where = f"$[{str(key)!r}]"
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
            raise predport.ConfigError(
                f"pixel value must be an integer 1..65535 (0 is background), not {value!r}",
                file=str(path), json_path=where,
            )
        if value in out:
            raise predport.ConfigError(
                f"pixel value {value} is mapped to both {out[value]!r} and {str(key)!r}",
                file=str(path), json_path=where,
            )
        out[value] = str(key)
    return out


def _sidecar_names(path: Path, context: Any) -> dict[int, tuple[str, str | None]]:
    """Names from a ``class_map.json`` this plugin's writer left beside the masks."""
    try:
        obj = predport.load_mapping_file(path)
    except predport.ConfigError as err:
        context.report.warn(f"{path}: ignored ({err.message})")
        return {}
    out: dict[int, tuple[str, str | None]] = {}
    ok = isinstance(obj, Mapping)
    for key, value in (obj.items() if ok else ()):
        # a pixel value is at most 65535: no int() of thousands of digits (Python's int-string limit)
        if not (str(key).isdigit() and len(str(key)) <= 5 and isinstance(value, Mapping)
                and isinstance(value.get("name"), str) and value.get("id") == int(key)):
            ok = False
            break
        ext = value.get("external_id")
        out[int(key)] = (value["name"], None if ext is None else str(ext))
    if not ok:
        context.report.warn(f"{path}: not a predport masks class map ({{value: {{id, name}}}}); ignored")
        return {}
    return out


# ---------------------------------------------------------------------------- frames
def _present(labels: Any) -> tuple[Any, Any]:
    """Distinct values and their pixel counts (a histogram: one pass, no sort)."""
    import numpy as np

    if labels.dtype == np.uint8 and labels.size < (1 << 24):
        import cv2

        # OpenCV's histogram is ~4x faster than bincount (which widens to int64);
        # its float32 counts are exact below 2**24 pixels.
        counts = cv2.calcHist([labels], [0], None, [256], [0, 256]).reshape(-1).astype(np.int64)
    else:
        counts = np.bincount(labels.reshape(-1), minlength=1)
    values = np.flatnonzero(counts)
    return values, counts[values]


def _ignored(values: list[int], labels: Any, opts: ReadOptions) -> set[int]:
    if opts.ignore is not None:
        return set(opts.ignore)
    # "auto": 255 is the void/ignore label of VOC, Cityscapes trainIds and SUN RGB-D
    # in 8-bit masks; in a binary {0, 255} mask it is the one class and is kept.
    if labels.dtype.itemsize == 1 and 255 in values:
        others = [v for v in values if v not in (255, opts.background)]
        if others:
            return {255}
    return set()


def frames_from_records(records: Any, context: Any) -> Iterator[Any]:
    """One canonical frame per :class:`MaskRecord` (the first record is the :class:`ReadStart`)."""
    import cv2
    import numpy as np

    from .extract import instance_regions, parity_regions, semantic_region

    records = iter(records)
    start = next(records, None)
    if not isinstance(start, ReadStart):
        raise predport.PluginError("masks: to_canonical needs the records of this plugin's parse()")
    root, opts = start.root, start.options
    resolve = ClassResolver(root, opts, context)
    report = context.report
    extract = semantic_region if opts.mode == "semantic" else (parity_regions if opts.encord_parity else instance_regions)
    score = np.nan if opts.score is None else float(opts.score)
    for rec in records:
        labels = rec.labels
        height, width = labels.shape
        known = context.image_size(rec.data_id)
        if known is not None and tuple(known) != (width, height):
            context.problem(predport.ParseError(
                f"mask is {width}x{height} but image {rec.data_id!r} is {known[0]}x{known[1]} (width x height)",
                file=str(rec.path), field="size",
                hint="masks must be saved at image resolution",
            ))
            continue
        values, counts = _present(labels)
        vals = values.tolist()
        ignored = _ignored(vals, labels, opts)
        cids: list[int] = []
        boxes: list[tuple[int, int, int, int]] = []
        polygons: list[Any] = []
        masks: list[Any] = []
        attrs: list[Any] = []
        for value, n in zip(vals, counts.tolist()):
            if value == opts.background:
                continue
            if value in ignored:
                report.count("masks.ignored_pixels", n)
                continue
            cid = resolve(value)
            binary = cv2.compare(labels, value, cv2.CMP_EQ)
            regions = extract(binary)
            if cid is None:
                report.count("masks.unmapped_pixels", n)
                report.warn(f"pixel value {value} has no class in the class map: its pixels were skipped")
                if regions is not None:  # the predictions it would have made, for the per-class count
                    resolve.left_out(value, len(regions) if isinstance(regions, list) else 1)
                continue
            if regions is None:
                continue
            if not isinstance(regions, list):
                regions = [regions]
            for r in regions:
                cids.append(cid)
                boxes.append(r.box)
                masks.append(r.rle)
                if r.rings is not None:
                    polygons.append(r.polygon())
                    attrs.append({"holes": list(range(1, len(r.rings)))} if len(r.rings) > 1 else None)
        n = len(cids)
        dets = predport.Detections(
            np.asarray(cids, dtype=np.int64),
            np.full(n, score),
            np.asarray(boxes, dtype=np.float64).reshape(n, 4),
            polygon=polygons if polygons else None,
            mask=masks,
            attributes=attrs if any(a is not None for a in attrs) else None,
        )
        yield predport.Frame.model_construct(
            data_id=rec.data_id,
            frame_index=rec.frame_index,
            width=width,
            height=height,
            predictions=dets,
            attributes={},
        )
