"""Built-in class maps, given by name where a class-map file is accepted (``--class-map NAME``).

* ``coco91-to-coco80`` — COCO's category ids (1..90, eleven of them unused) to the
  contiguous 0-based indices Ultralytics models are trained with (0..79);
* ``coco80-to-coco91`` — back: an Ultralytics COCO model's class index to COCO's id, as
  pycocotools and COCO results expect.

The names of the classes are kept (the map changes ids only). The order is COCO's own
(``instances_val2017.json`` lists the 80 categories by ascending id); it is the table
Ultralytics ships as ``coco80_to_coco91_class()``.

Also here: :class:`ClassMap` (a user's class map: source class names or ids to target
categories), :class:`ClassTarget` (one entry) and :func:`load_mapping_file` (the safe
JSON/YAML reader class-map and sizes files share). Standard library at import time.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from .errors import ConfigError

__all__ = ["COCO80_TO_COCO91", "BUILTIN_CLASS_MAPS", "builtin_class_map", "ClassTarget", "ClassMap",
           "load_mapping_file"]

#: ``COCO80_TO_COCO91[i]`` is the COCO category id of Ultralytics' class index ``i``.
COCO80_TO_COCO91: tuple[int, ...] = (
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 27, 28,
    31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55,
    56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 67, 70, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 84,
    85, 86, 87, 88, 89, 90,
)

#: The names accepted in place of a class-map file.
BUILTIN_CLASS_MAPS: tuple[str, ...] = ("coco91-to-coco80", "coco80-to-coco91")


def builtin_class_map(name: str) -> dict[str, Any] | None:
    """The class map called ``name`` (``{source id as text: target id}``), or ``None``."""
    if name == "coco91-to-coco80":
        return {str(coco): index for index, coco in enumerate(COCO80_TO_COCO91)}
    if name == "coco80-to-coco91":
        return {str(index): coco for index, coco in enumerate(COCO80_TO_COCO91)}
    return None


def load_mapping_file(path: str | os.PathLike[str]) -> Any:
    """Read a JSON or YAML file safely (the YAML safe loader: nothing is evaluated).

    Through the shared limits: a regular file only (a FIFO is refused, not waited on),
    JSON and YAML nested at most ``PREDPORT_MAX_JSON_DEPTH`` levels, YAML aliases that
    do not blow the document up (:func:`predport.load_yaml`). Every failure is a
    :class:`ConfigError` naming the file (and the line, for YAML).
    """
    from .errors import ParseError
    from .limits import load_json, load_yaml, read_bytes

    p = Path(path)
    try:
        raw = read_bytes(p, file=str(p))
        if p.suffix.lower() in (".yaml", ".yml"):
            return load_yaml(raw, file=str(p))
        return load_json(raw, file=str(p))
    except ParseError as exc:
        raise ConfigError(exc.message, file=exc.file, line=exc.line, json_path=exc.json_path,
                          hint=exc.hint) from None


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
