"""The categories of one conversion: :class:`CategoryTable`, filled as data is read.

Plugins reach it through the context (:meth:`predport.Context.resolve`,
:meth:`~predport.Context.declare`, :meth:`~predport.Context.left_out`); the hub hands
the filled table to the stream and the writer.
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Iterator, Mapping

from .classmaps import ClassMap
from .errors import ConfigError

__all__ = ["CategoryTable"]


class CategoryTable:
    """The categories of one conversion, declared up front or discovered while reading.

    Plugins call :meth:`declare` for categories the source defines (a COCO GT
    file, a Lightly ``schema.json``) and :meth:`resolve` for each class they
    meet. With a class map, :meth:`resolve` maps through it and returns
    ``None`` for unmapped classes (the caller skips or fails by policy; the
    table counts them for the report).
    """

    def __init__(self, class_map: ClassMap | None = None) -> None:
        self._class_map = class_map
        self._cats: dict[int, Any] = {}
        self._by_name: dict[str, int] = {}
        self._memo: dict[tuple[str, Any], int | None] = {}
        self.unmapped: Counter[str] = Counter()

    @property
    def class_map(self) -> ClassMap | None:
        """The class map classes are resolved through, or ``None``."""
        return self._class_map

    def adopt(self, class_map: ClassMap) -> None:
        """Resolve classes through ``class_map`` from now on: a map the source ships, taken
        when the user gave none and before any class was resolved or declared."""
        if self._class_map is not None:
            raise ConfigError("a class map is already in use; the source's own map is not taken")
        if self._cats or self._memo:
            raise ConfigError("classes were resolved before the source's class map was taken")
        self._class_map = class_map

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
