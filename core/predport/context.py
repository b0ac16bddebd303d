"""What a conversion carries besides the data: the user's mappings and policies.

* :class:`ClassMap` — source class names or ids to target ids, names, external ids.
* :class:`CategoryTable` — the categories of one conversion, filled as data is read.
* :class:`ImageSizes` — image sizes from a mapping, a sizes file or an image folder.
* :class:`Report` — what was read, written, skipped, dropped and warned about.
* :class:`Context` — all of the above plus options and the policy, handed to hooks.
"""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

from .errors import ConfigError, PredportError

__all__ = [
    "POLICIES",
    "ClassTarget",
    "ClassMap",
    "CategoryTable",
    "ImageSizes",
    "Report",
    "Context",
    "load_mapping_file",
]

#: ``fail`` — the first bad record stops the run (default); ``skip`` — bad records
#: are counted, reported and left out; ``clamp`` — like ``skip``, and boxes that
#: leave the image are clamped to it where the image size is known.
POLICIES = ("fail", "skip", "clamp")


def load_mapping_file(path: str | os.PathLike[str]) -> Any:
    """Read a JSON or YAML file safely (``yaml.safe_load``: nothing is evaluated)."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", file=str(p)) from None
    if p.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            return yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            line = getattr(getattr(exc, "problem_mark", None), "line", None)
            raise ConfigError(
                f"invalid YAML: {getattr(exc, 'problem', exc)}",
                file=str(p),
                line=None if line is None else line + 1,
            ) from None
    import orjson

    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ConfigError(f"invalid JSON: {exc}", file=str(p)) from None


@dataclass(frozen=True)
class ClassTarget:
    """Where one source class goes: the canonical id, and optionally a name and external id."""

    id: int | None = None
    name: str | None = None
    external_id: str | None = None


class ClassMap:
    """Source class names or ids to target categories. Shared by every plugin.

    Accepted file shapes (JSON or YAML):

    * ``{"Car": 1, "Pedestrian": 2}`` — name (or id as a string) to target id;
    * ``{"Car": {"id": 1, "name": "car", "external_id": "OTk2MzM3"}}``;
    * ``[{"source": "Car", "id": 1, "name": "car", "external_id": "..."}]``;
    * ``{"Car": "car"}`` — renaming only (ids assigned in order of appearance).

    Names match case-insensitively (as the KITTI devkit does); ids match exactly.
    """

    def __init__(self, entries: Mapping[str, ClassTarget], *, origin: str | None = None,
                 ids_only: bool = False) -> None:
        #: Look source classes up by id only (the built-in id maps: a class *named* "13" is
        #: not class 13).
        self.ids_only = ids_only
        self._by_key: dict[str, ClassTarget] = {}
        for key, target in entries.items():
            self._by_key[self._norm(key)] = target
        self.origin = origin

    @staticmethod
    def _norm(key: Any) -> str:
        return str(key).strip().casefold()

    @classmethod
    def from_obj(cls, obj: Any, *, origin: str | None = None, ids_only: bool = False) -> "ClassMap":
        entries: dict[str, ClassTarget] = {}

        def bad(msg: str, path: str) -> ConfigError:
            return ConfigError(msg, file=origin, json_path=path)

        if isinstance(obj, Mapping):
            items: Iterable[tuple[str, Any, str]] = (
                (str(k), v, f"$[{str(k)!r}]") for k, v in obj.items()
            )
        elif isinstance(obj, list):
            items = []
            for i, entry in enumerate(obj):
                if not isinstance(entry, Mapping) or "source" not in entry:
                    raise bad("each entry needs a 'source' key", f"$[{i}]")
                rest = {k: v for k, v in entry.items() if k != "source"}
                items.append((str(entry["source"]), rest, f"$[{i}]"))  # type: ignore[union-attr]
        else:
            raise bad("a class map is an object or a list of {source, id, name, external_id}", "$")
        for key, value, path in items:
            if isinstance(value, bool):
                raise bad("expected an id, a name or an object", path)
            if isinstance(value, int):
                entries[key] = ClassTarget(id=value)
            elif isinstance(value, str):
                entries[key] = ClassTarget(name=value)
            elif isinstance(value, Mapping):
                unknown = set(value) - {"id", "name", "external_id"}
                if unknown:
                    raise bad(f"unknown keys {sorted(unknown)}", path)
                cid = value.get("id")
                if cid is not None and (isinstance(cid, bool) or not isinstance(cid, int)):
                    raise bad("'id' must be an integer", path + ".id")
                ext = value.get("external_id")
                entries[key] = ClassTarget(
                    id=cid, name=value.get("name"), external_id=None if ext is None else str(ext)
                )
            else:
                raise bad("expected an id, a name or an object", path)
        return cls(entries, origin=origin, ids_only=ids_only)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "ClassMap":
        """A class-map file, or a built-in map by name (``coco91-to-coco80``, ``coco80-to-coco91``:
        :mod:`predport.classmaps`) when no file of that name exists."""
        from .classmaps import builtin_class_map

        text = os.fspath(path)
        builtin = builtin_class_map(text) if not os.path.exists(text) else None
        if builtin is not None:
            return cls.from_obj(builtin, origin=f"built-in class map {text}", ids_only=True)
        return cls.from_obj(load_mapping_file(path), origin=str(path))

    def lookup(self, key: Any) -> ClassTarget | None:
        """The target of a source class name or id; ``None`` when unmapped.

        Unmapped classes are counted per prediction by :class:`CategoryTable`, not here.
        """
        return self._by_key.get(self._norm(key))

    def __len__(self) -> int:
        return len(self._by_key)

    def __contains__(self, key: Any) -> bool:
        return self._norm(key) in self._by_key


class CategoryTable:
    """The categories of one conversion, declared up front or discovered while reading.

    Plugins call :meth:`declare` for categories the source defines (a COCO GT
    file, a Lightly ``schema.json``) and :meth:`resolve` for each class they
    meet. With a class map, :meth:`resolve` maps through it and returns
    ``None`` for unmapped classes (the caller skips or fails by policy; the
    table counts them for the report).
    """

    def __init__(self, class_map: ClassMap | None = None) -> None:
        self.class_map = class_map
        self._cats: dict[int, Any] = {}
        self._by_name: dict[str, int] = {}
        self._memo: dict[tuple[str, Any], int | None] = {}
        self.unmapped: Counter[str] = Counter()

    def _make(self, id: int, name: str, external_id: str | None, attributes: Mapping[str, Any] | None) -> Any:
        from .model import Category

        return Category(id=id, name=name, external_id=external_id, attributes=dict(attributes or {}))

    def declare(
        self,
        id: int,
        name: str,
        external_id: str | None = None,
        attributes: Mapping[str, Any] | None = None,
    ) -> int:
        """Record a category the source defines. Returns its canonical id.

        With a class map the declared category is mapped like any other class
        (by name first, then by id); an unmapped declared category is not added.
        """
        if self.class_map is not None:
            # Declaring is not meeting a prediction: an unmapped declared class is not counted.
            resolved = self._resolve(name, id, external_id)
            self._memo[(name or "", id)] = resolved
            return -1 if resolved is None else resolved
        existing = self._cats.get(id)
        if existing is not None and existing.name != name:
            raise ConfigError(f"category id {id} declared twice, as {existing.name!r} and {name!r}")
        self._cats[id] = self._make(id, name, external_id, attributes)
        self._by_name.setdefault(name, id)
        return id

    def _next_id(self) -> int:
        return max(self._cats, default=-1) + 1

    def resolve(
        self, *, name: str | None = None, id: int | None = None, external_id: str | None = None, rows: int = 1
    ) -> int | None:
        """The canonical id of a source class given by name and/or id.

        Without a class map: a known id or name is returned; an unknown one is
        added (an id keeps its value, a name gets the next free id). With a class
        map: the name (case-insensitively) or else the id is looked up; ``None``
        means unmapped.
        """
        memo_key = (name or "", id)
        if memo_key in self._memo:
            cid = self._memo[memo_key]
        else:
            cid = self._resolve(name, id, external_id)
            self._memo[memo_key] = cid
        if cid is None:
            self.left_out(name=name, id=id, rows=rows)
        return cid

    def left_out(self, *, name: str | None = None, id: int | None = None, rows: int = 1) -> None:
        """Count ``rows`` predictions of an unmapped class that a reader left out, under the key
        :meth:`resolve` uses. For a reader that resolves a class once (``resolve(..., rows=0)``)
        and drops its rows later: the report's per-class counts are what was dropped."""
        if rows:
            self.unmapped[str(name if name is not None else id)] += rows

    def _resolve(self, name: str | None, id: int | None, external_id: str | None = None) -> int | None:
        if self.class_map is not None:
            target = self.class_map.lookup(name) if name is not None and not self.class_map.ids_only else None
            if target is None and id is not None:
                target = self.class_map.lookup(id)
            if target is None:
                return None
            tname = target.name or name or (str(id) if id is not None else None)
            if target.id is not None:
                cid = target.id
            elif tname in self._by_name:
                cid = self._by_name[tname]
            elif id is not None and id not in self._cats:
                cid = id  # a names-only map renames; the source id is kept where it is free
            else:
                cid = self._next_id()
            if cid not in self._cats:
                self._cats[cid] = self._make(cid, tname or str(cid), target.external_id or external_id, None)
                self._by_name.setdefault(self._cats[cid].name, cid)
            return cid
        if id is not None:
            if id not in self._cats:
                self._cats[id] = self._make(id, name or str(id), external_id, None)
                self._by_name.setdefault(self._cats[id].name, id)
            return id
        if name is None:
            raise ValueError("resolve() needs a name or an id")
        if name in self._by_name:
            return self._by_name[name]
        cid = self._next_id()
        self._cats[cid] = self._make(cid, name, external_id, None)
        self._by_name[name] = cid
        return cid

    def resolve_ids(self, ids: Any) -> Any:
        """Vectorised :meth:`resolve` for an integer array; unmapped ids become -1."""
        import numpy as np

        arr = np.asarray(ids, dtype=np.int64)
        uniq, inverse = np.unique(arr, return_inverse=True)
        if not len(uniq):
            return arr
        rows = np.bincount(inverse).tolist()  # unmapped counts are per row, not per distinct id
        mapped = np.array(
            [(-1 if (c := self.resolve(id=int(u), rows=n)) is None else c) for u, n in zip(uniq.tolist(), rows)],
            dtype=np.int64,
        )
        return mapped[inverse]

    def get(self, id: int) -> Any:
        return self._cats.get(id)

    def by_name(self, name: str) -> Any:
        cid = self._by_name.get(name)
        return None if cid is None else self._cats[cid]

    def __iter__(self) -> Iterator[Any]:
        return iter([self._cats[k] for k in sorted(self._cats)])

    def __len__(self) -> int:
        return len(self._cats)

    def __contains__(self, id: object) -> bool:
        return id in self._cats

    def as_list(self) -> list[Any]:
        return list(self)


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
        self.folder = None if folder is None else Path(folder)
        self._index: dict[str, Path] | None = None

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


class Report:
    """What happened in one conversion: counts, skipped records, warnings.

    ``skipped`` keeps the first 100 errors in full and counts the rest.
    """

    MAX_KEPT = 100

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.skipped: list[PredportError] = []
        self.skipped_total = 0
        self.warnings: list[str] = []
        self._warned: Counter[str] = Counter()
        self.lost: Counter[str] = Counter()
        self.held: set[str] = set()

    def hold(self, *fields: str) -> None:
        """The writer holds ``fields`` (names of ``HOLDABLE``) in this conversion although its
        format declaration does not: a writer option made room for them (the COCO writer's
        ``categories`` file holds category names, sizes and frames without predictions).
        Call it before reading the frames."""
        self.held.update(fields)

    def loss(self, field: str, n: int = 1) -> None:
        """A writer could not hold ``n`` values of ``field`` (e.g. ``"predictions.polygon (extra rings)"``).

        The hub adds these to its loss table: the conversion is refused unless the
        user allows loss, exactly as for fields the format does not hold at all.
        """
        if n:
            self.lost[field] += n

    def count(self, key: str, n: int = 1) -> None:
        self.counts[key] += n

    def skip(self, error: PredportError) -> None:
        self.skipped_total += 1
        if len(self.skipped) < self.MAX_KEPT:
            self.skipped.append(error)

    def warn(self, message: str) -> None:
        """Record a warning; the same message is kept once and counted."""
        self._warned[message] += 1
        if self._warned[message] == 1:
            self.warnings.append(message)

    def to_dict(self, categories: "CategoryTable | None" = None) -> dict[str, Any]:
        """Counts, skipped records (first 10 in full), warnings, and unmapped classes."""
        return {
            "counts": dict(self.counts),
            "unmapped_classes": {} if categories is None else dict(categories.unmapped),
            "skipped": self.skipped_total,
            "skipped_examples": [str(e) for e in self.skipped[:10]],
            "lost": dict(self.lost),
            "warnings": [
                m if self._warned[m] == 1 else f"{m} (x{self._warned[m]})" for m in self.warnings
            ],
        }


class _TrackedOptions(dict):  # type: ignore[type-arg]
    """The user's options, remembering which ones a plugin looked at.

    After a conversion, options nobody read are reported (a typo such as ``-o gtt=...``
    would otherwise be ignored silently). A plugin that iterates over all options is
    taken to have read them all.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.used: set[str] = set()

    def __getitem__(self, key: str) -> Any:
        self.used.add(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self.used.add(key)
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        self.used.add(key)  # type: ignore[arg-type]
        return super().__contains__(key)

    def _all(self) -> None:
        self.used.update(super().keys())

    def __iter__(self):  # type: ignore[no-untyped-def]
        self._all()
        return super().__iter__()

    def keys(self):  # type: ignore[no-untyped-def]
        self._all()
        return super().keys()

    def items(self):  # type: ignore[no-untyped-def]
        self._all()
        return super().items()

    def values(self):  # type: ignore[no-untyped-def]
        self._all()
        return super().values()

    def copy(self) -> dict[str, Any]:
        self._all()
        return dict(super().items())

    def unused(self) -> list[str]:
        return sorted(k for k in super().keys() if k not in self.used)


class Context:
    """Everything a hook needs besides the data. Built by the hub for one conversion.

    Attributes: ``options`` (format options from the user), ``policy``,
    ``categories`` (:class:`CategoryTable`), ``class_map``, ``sizes``
    (:class:`ImageSizes`), ``id_lookup`` (callable path -> ``(data_id, frame)``),
    ``report`` (:class:`Report`), ``format`` and ``plugin`` (set by the hub), and
    ``role``: ``"predictions"`` (the default) or ``"ground_truth"`` — what the caller
    reads the source as. A reader that reads both looks at ``context.role``; one that
    meets the wrong kind of content calls :meth:`wrong_role`.
    """

    def __init__(
        self,
        *,
        options: Mapping[str, Any] | None = None,
        policy: str = "fail",
        class_map: ClassMap | Mapping[str, Any] | str | os.PathLike[str] | None = None,
        image_sizes: ImageSizes | Mapping[str, Any] | str | os.PathLike[str] | None = None,
        images: str | os.PathLike[str] | None = None,
        id_lookup: Callable[[Path], tuple[str, int | None]] | None = None,
        categories: CategoryTable | None = None,
        report: Report | None = None,
        role: str = "predictions",
    ) -> None:
        if policy not in POLICIES:
            raise ConfigError(f"unknown policy {policy!r}; choose one of {', '.join(POLICIES)}")
        from .format_detection import ROLES

        if role not in ROLES:
            raise ConfigError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
        #: ``"predictions"`` or ``"ground_truth"``: what the source is read as.
        self.role = role
        self.options: dict[str, Any] = _TrackedOptions(options or {})
        self.policy = policy
        if class_map is not None and not isinstance(class_map, ClassMap):
            if isinstance(class_map, (str, os.PathLike)):
                class_map = ClassMap.load(class_map)
            else:
                class_map = ClassMap.from_obj(class_map)
        self.class_map: ClassMap | None = class_map
        self.categories = categories if categories is not None else CategoryTable(self.class_map)
        if image_sizes is None or isinstance(image_sizes, ImageSizes):
            sizes = image_sizes or ImageSizes()
        elif isinstance(image_sizes, (str, os.PathLike)):
            sizes = ImageSizes.from_file(image_sizes)
        else:
            sizes = ImageSizes(image_sizes)
        if images is not None:
            if not Path(images).is_dir():
                raise ConfigError("image folder does not exist or is not a folder", file=str(images))
            sizes.folder = Path(images)
        self.sizes = sizes
        self.id_lookup = id_lookup
        self.report = report if report is not None else Report()
        self.format: str | None = None
        self.plugin: str | None = None
        #: The calling hub's schema registry (set by the hub before hooks run).
        self.registry: Any = None

    def bind_options(self, declared: Any, *, format: str, mode: str) -> None:
        """Parse the user's options against a format's declared options (the hub calls it
        before any hook of a read or write runs; see :mod:`predport.options`)."""
        from .options import resolve_options

        opts = self.options
        given = dict(dict.items(opts)) if isinstance(opts, dict) else dict(opts or {})
        try:
            tracked = _TrackedOptions(resolve_options(declared, given, format=format, mode=mode))
        except PredportError as err:
            err.plugin = err.plugin or self.plugin
            raise
        if declared is not None:
            tracked._all()  # declared options are checked up front: no "not used" warnings
        self.options = tracked

    # -- helpers for plugins ----------------------------------------------------------
    def unused_options(self) -> list[str]:
        """Options the user gave that no hook read (reported after a conversion)."""
        opts = self.options
        return opts.unused() if isinstance(opts, _TrackedOptions) else []

    def option(self, name: str, default: Any = None) -> Any:
        """A format option given by the user (``-o name=value`` on the CLI)."""
        return self.options.get(name, default)

    def problem(self, error: PredportError) -> None:
        """A bad record: raise under ``fail``; count and skip under ``skip``/``clamp``."""
        if error.plugin is None:
            error.plugin = self.plugin
        if self.policy == "fail":
            raise error
        self.report.skip(error)

    @property
    def ground_truth(self) -> bool:
        """Whether the source is read as ground truth (``role == "ground_truth"``)."""
        return self.role == "ground_truth"

    def wrong_role(self, found: str, *, file: str | None = None, line: int | None = None,
                   json_path: Any = None, field: str | None = None) -> PredportError:
        """The error a reader raises when the content is not of the role it was asked for.

        ``found`` says what the content is instead ("results: annotations carry a
        score"). The message names both roles and how to read it as the other one.
        """
        from .errors import ParseError

        other = "predictions" if self.ground_truth else "ground truth"
        asked = "ground truth" if self.ground_truth else "predictions"
        how = "read it as predictions (role='predictions', the default)" if self.ground_truth else \
            "read it with role='ground_truth' (--gt-from on predport evaluate)"
        return ParseError(f"read as {asked}, but this is {other}: {found}", plugin=self.plugin, file=file,
                          line=line, json_path=json_path, field=field, hint=how)

    def image_size(self, data_id: str) -> tuple[int, int] | None:
        """``(width, height)`` of a data unit from the user's sizes or image folder, else ``None``."""
        return self.sizes.get(data_id) if self.sizes else None

    def data_id_for(self, path: Path, default: tuple[str, int | None]) -> tuple[str, int | None]:
        """``(data_id, frame_index)`` for a source file: the user's ``id_lookup`` if set, else ``default``."""
        if self.id_lookup is None:
            return default
        try:
            result = self.id_lookup(path)
        except PredportError:
            raise
        except Exception as exc:  # a user's function failed: say where
            raise ConfigError(f"id_lookup failed: {type(exc).__name__}: {exc}", file=str(path)) from exc
        if not (isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], str)):
            raise ConfigError("id_lookup must return (data_id: str, frame: int | None)", file=str(path))
        return result
