"""The context handed to hooks: :class:`Context`, and the policies.

A plugin sees the user's options, the policy, class resolution, image sizes, the id
lookup and problem reporting through the context's methods and read-only properties
(documented in docs/hooks.md, "The context"). What the context holds lives in its own
modules: :mod:`predport.classmaps` (:class:`ClassMap`), :mod:`predport.categories`
(:class:`CategoryTable`), :mod:`predport.sizes` (:class:`ImageSizes`) and
:mod:`predport.report` (:class:`Report`); they are re-exported here for old imports.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Mapping

from .categories import CategoryTable
from .classmaps import ClassMap, ClassTarget, load_mapping_file
from .errors import ConfigError, PredportError
from .report import Report
from .sizes import ImageSizes

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

from .policy import POLICIES


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
    """Everything a hook needs besides the data. Built by the caller (or the hub) for one
    conversion; plugins read it and call its methods, never assign to it.

    Read-only properties: ``options`` (the format options, parsed against the format's
    declaration), ``policy``, ``role`` / ``ground_truth``, ``format`` and ``plugin`` (set by
    the hub), ``class_map``, ``image_folder``, ``has_sizes``, ``has_id_lookup``, and for the
    core ``categories`` (:class:`CategoryTable`), ``sizes`` (:class:`ImageSizes`), ``report``
    (:class:`Report`), ``registry``. Methods for plugins: :meth:`option`, :meth:`image_size`,
    :meth:`data_id_for`, :meth:`resolve`, :meth:`resolve_ids`, :meth:`declare`,
    :meth:`left_out`, :meth:`category`, :meth:`use_class_map`, :meth:`problem`, :meth:`outside_image`,
    :meth:`count`, :meth:`warn`, :meth:`loss`, :meth:`hold`, :meth:`wrong_role`.
    Assigning to any attribute raises ``AttributeError``.
    """

    # Set once in __init__ (object.__setattr__), read through the properties.
    _role: str
    _options: Any
    _policy: str
    _class_map: Any
    _categories: Any
    _sizes: Any
    _id_lookup: Any
    _report: Any
    _format: str | None
    _plugin: str | None
    _registry: Any

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
        if class_map is not None and not isinstance(class_map, ClassMap):
            if isinstance(class_map, (str, os.PathLike)):
                class_map = ClassMap.load(class_map)
            else:
                class_map = ClassMap.from_obj(class_map)
        if image_sizes is None or isinstance(image_sizes, ImageSizes):
            sizes = image_sizes or ImageSizes()
        elif isinstance(image_sizes, (str, os.PathLike)):
            sizes = ImageSizes.from_file(image_sizes)
        else:
            sizes = ImageSizes(image_sizes)
        if images is not None:
            if not Path(images).is_dir():
                raise ConfigError("image folder does not exist or is not a folder", file=str(images))
            sizes = sizes.with_folder(images)
        put = object.__setattr__
        put(self, "_role", role)
        put(self, "_options", _TrackedOptions(options or {}))
        put(self, "_policy", policy)
        put(self, "_class_map", class_map)
        put(self, "_categories", categories if categories is not None else CategoryTable(class_map))
        put(self, "_sizes", sizes)
        put(self, "_id_lookup", id_lookup)
        put(self, "_report", report if report is not None else Report())
        put(self, "_format", None)
        put(self, "_plugin", None)
        put(self, "_registry", None)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"the context is read-only ({name!r}); plugins call its methods "
                             "(docs/hooks.md, 'The context')")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"the context is read-only ({name!r})")

    # -- read-only state ----------------------------------------------------------------
    @property
    def options(self) -> dict[str, Any]:
        """The format options (``-o``/``-w`` on the CLI), parsed against the declaration."""
        return self._options  # type: ignore[no-any-return]

    @property
    def policy(self) -> str:
        """``"fail"``, ``"skip"`` or ``"clamp"`` (:data:`POLICIES`); the core applies it."""
        return self._policy  # type: ignore[no-any-return]

    @property
    def role(self) -> str:
        """``"predictions"`` or ``"ground_truth"``: what the source is read as."""
        return self._role  # type: ignore[no-any-return]

    @property
    def format(self) -> str | None:
        """The format being read or written (set by the hub)."""
        return self._format  # type: ignore[no-any-return]

    @property
    def plugin(self) -> str | None:
        """The plugin whose hooks run (set by the hub)."""
        return self._plugin  # type: ignore[no-any-return]

    @property
    def registry(self) -> Any:
        """The calling hub's schema registry (set by the hub before hooks run)."""
        return self._registry

    @property
    def class_map(self) -> ClassMap | None:
        """The user's class map, or ``None``."""
        return self._class_map  # type: ignore[no-any-return]

    @property
    def categories(self) -> CategoryTable:
        """The conversion's :class:`CategoryTable` (plugins use :meth:`resolve`, :meth:`declare`)."""
        return self._categories  # type: ignore[no-any-return]

    @property
    def sizes(self) -> ImageSizes:
        """The user's image sizes (plugins use :meth:`image_size`)."""
        return self._sizes  # type: ignore[no-any-return]

    @property
    def report(self) -> Report:
        """The conversion's :class:`Report` (plugins use :meth:`count`, :meth:`warn`, :meth:`problem`)."""
        return self._report  # type: ignore[no-any-return]

    @property
    def id_lookup(self) -> Callable[[Path], tuple[str, int | None]] | None:
        """The user's ``id_lookup`` function, or ``None`` (plugins use :meth:`data_id_for`)."""
        return self._id_lookup  # type: ignore[no-any-return]

    @property
    def has_id_lookup(self) -> bool:
        """Whether the user gave an ``id_lookup`` (:meth:`data_id_for` then calls it)."""
        return self._id_lookup is not None

    @property
    def has_sizes(self) -> bool:
        """Whether the user gave image sizes or an image folder."""
        return bool(self._sizes)

    @property
    def image_folder(self) -> Path | None:
        """The user's image folder (``images=`` / ``--images``), or ``None``."""
        return self._sizes.folder  # type: ignore[no-any-return]

    @property
    def ground_truth(self) -> bool:
        """Whether the source is read as ground truth (``role == "ground_truth"``)."""
        return self._role == "ground_truth"  # type: ignore[no-any-return]

    # -- for the hub ----------------------------------------------------------------------
    def attach(self, *, format: str, plugin: str | None, registry: Any) -> None:
        """The hub names the format and plugin whose hooks run and hands its schema registry."""
        object.__setattr__(self, "_format", format)
        object.__setattr__(self, "_plugin", plugin)
        object.__setattr__(self, "_registry", registry)

    def bind_options(self, declared: Any, *, format: str, mode: str) -> None:
        """Parse the user's options against a format's declared options (the hub calls it
        before any hook of a read or write runs; see :mod:`predport.options`)."""
        from .options import resolve_options

        opts = self._options
        given = dict(dict.items(opts)) if isinstance(opts, dict) else dict(opts or {})
        try:
            tracked = _TrackedOptions(resolve_options(declared, given, format=format, mode=mode))
        except PredportError as err:
            err.plugin = err.plugin or self.plugin
            raise
        if declared is not None:
            tracked._all()  # declared options are checked up front: no "not used" warnings
        object.__setattr__(self, "_options", tracked)

    def unused_options(self) -> list[str]:
        """Options the user gave that no hook read (reported after a conversion)."""
        opts = self._options
        return opts.unused() if isinstance(opts, _TrackedOptions) else []

    # -- for plugins ----------------------------------------------------------------------
    def option(self, name: str, default: Any = None) -> Any:
        """A format option given by the user (``-o name=value`` on the CLI)."""
        return self._options.get(name, default)

    def resolve(self, *, name: str | None = None, id: int | None = None, external_id: str | None = None,
                rows: int = 1) -> int | None:
        """The canonical id of a source class (through the user's class map); ``None`` when
        unmapped, and then ``rows`` predictions are counted as left out. Leave them out."""
        return self._categories.resolve(name=name, id=id, external_id=external_id, rows=rows)  # type: ignore[no-any-return]

    def resolve_ids(self, ids: Any) -> Any:
        """:meth:`resolve` for an integer array; unmapped ids become ``-1`` (counted per row)."""
        return self._categories.resolve_ids(ids)

    def declare(self, id: int, name: str, external_id: str | None = None,
                attributes: Mapping[str, Any] | None = None) -> int:
        """A category the source defines; its canonical id (``-1``: unmapped by the class map)."""
        return self._categories.declare(id, name, external_id, attributes)  # type: ignore[no-any-return]

    def left_out(self, *, name: str | None = None, id: int | None = None, rows: int = 1) -> None:
        """Count ``rows`` predictions of an unmapped class resolved earlier with ``rows=0``."""
        self._categories.left_out(name=name, id=id, rows=rows)

    def category(self, id: int) -> Any:
        """The :class:`~predport.Category` of a canonical id, or ``None``."""
        return self._categories.get(id)

    def use_class_map(self, class_map: ClassMap) -> None:
        """Map classes through ``class_map``, a map the source itself ships (a KITTI folder's
        ontology), when the user gave none. Refused once classes were resolved or declared."""
        self._categories.adopt(class_map)

    def count(self, key: str, n: int = 1) -> None:
        """Count an event under ``key`` (a :mod:`predport.report` constant or ``<format>.<snake_case>``)."""
        self._report.count(key, n)

    def warn(self, message: str) -> None:
        """A warning for the summary (the same message is kept once and counted)."""
        self._report.warn(message)

    def loss(self, field: str, n: int = 1) -> None:
        """A writer could not hold ``n`` values of ``field`` (:meth:`Report.loss`)."""
        self._report.loss(field, n)

    def hold(self, *fields: str) -> None:
        """A writer option made room for ``fields`` (:meth:`Report.hold`)."""
        self._report.hold(*fields)

    def problem(self, error: PredportError) -> None:
        """A bad record: raise under ``fail``; count and skip under ``skip``/``clamp``."""
        if error.plugin is None:
            error.plugin = self.plugin
        if self._policy == "fail":
            raise error
        self._report.skip(error)

    def outside_image(self, error: BaseException) -> None:
        """A coordinate leaves the image (``error`` says where). Under ``clamp`` this returns and
        the reader keeps the value: the core clamps the frame's boxes and polygons to the image
        (:mod:`predport.policy`). Under ``fail`` and ``skip`` ``error`` is raised, a bad record
        like any other (hand it on to :meth:`problem`, or let it propagate)."""
        if self._policy != "clamp":
            raise error

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
        return self._sizes.get(data_id) if self._sizes else None

    def data_id_for(self, path: Path, default: tuple[str, int | None]) -> tuple[str, int | None]:
        """``(data_id, frame_index)`` for a source file: the user's ``id_lookup`` if set, else ``default``."""
        if self._id_lookup is None:
            return default
        try:
            result = self._id_lookup(path)
        except PredportError:
            raise
        except Exception as exc:  # a user's function failed: say where
            raise ConfigError(f"id_lookup failed: {type(exc).__name__}: {exc}", file=str(path)) from exc
        if not (isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], str)):
            raise ConfigError("id_lookup must return (data_id: str, frame: int | None)", file=str(path))
        return result  # type: ignore[no-any-return]
