"""The hub: plugin discovery, isolation, and the one façade that calls hooks.

Plugins come from entry points in group ``predport`` and from in-process
registration (:meth:`Hub.register`). A plugin that fails to import, names a hook
that does not exist, or raises inside ``detect_format`` or ``formats`` is
recorded with its name, version and the reason, and skipped; everything else
keeps working. With ``PREDPORT_STRICT=1`` such failures are raised instead
(for CI). ``PREDPORT_BLOCK=name,name`` (or ``Hub(blocked=...)``) blocks plugins
by name.

Nothing outside this module calls ``pm.hook``.
"""
from __future__ import annotations

import difflib
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping, NoReturn

import pluggy

from . import hookspecs
from .format_detection import Confidence, FormatInfo, FormatMatch, Source
from .errors import (
    AmbiguousFormatError,
    ConfigError,
    PluginError,
    PredportError,
    UnknownFormatError,
)

if TYPE_CHECKING:
    from .stream import PredictionStream

__all__ = ["Hub", "PluginRecord", "get_hub", "reset_hub", "ENTRY_POINT_GROUP", "STRICT_ENV", "BLOCK_ENV"]

ENTRY_POINT_GROUP = "predport"
STRICT_ENV = "PREDPORT_STRICT"
BLOCK_ENV = "PREDPORT_BLOCK"
HOOK_NAMES = ("formats", "detect_format", "parse", "to_canonical", "from_canonical", "schemas", "register_commands")


def _truthy(value: str | None) -> bool:
    from .values import parse_bool

    return parse_bool(value) is True


#: Set by the CLI's signal handlers: whether SIGINT/SIGTERM handling is installed, and
#: whether a signal arrived. A ``KeyboardInterrupt`` that no signal caused came from a
#: plugin and is contained like any other plugin failure.
INTERRUPTS = {"tracked": False, "received": False}


def _contained(exc: BaseException) -> bool:
    """Whether an exception from a plugin is the plugin's failure (contained), not the user's.

    ``SystemExit``, ``GeneratorExit`` and other ``BaseException``s a plugin raises are its
    failures (the hub's own iterators are closed at a ``yield``, never inside a hook call);
    a real Ctrl-C or SIGTERM passes through.
    """
    if isinstance(exc, KeyboardInterrupt):
        return INTERRUPTS["tracked"] and not INTERRUPTS["received"]
    return True


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@dataclass
class PluginRecord:
    """What the hub knows about one plugin, for ``predport plugins``."""

    name: str
    version: str = "?"
    distribution: str | None = None
    origin: str = "entry point"  # "entry point", "in-process" or "built-in"
    status: str = "ok"  # "ok", "failed", "blocked"
    reasons: list[str] = field(default_factory=list)
    formats: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        """``predport-coco 0.1.0``: how the plugin is named in errors and sources."""
        return f"{self.distribution or self.name} {self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "distribution": self.distribution,
            "origin": self.origin,
            "status": self.status,
            "reasons": list(self.reasons),
            "formats": list(self.formats),
        }


class Hub:
    """Plugin manager plus façade. Most users only touch it through :mod:`predport.api`."""

    def __init__(
        self,
        *,
        load_entry_points: bool = True,
        strict: bool | None = None,
        blocked: Iterable[str] = (),
    ) -> None:
        self.strict = _truthy(os.environ.get(STRICT_ENV)) if strict is None else strict
        env_block = [b.strip() for b in os.environ.get(BLOCK_ENV, "").split(",") if b.strip()]
        self.blocked = set(blocked) | set(env_block)
        self.pm = pluggy.PluginManager("predport")
        self.pm.add_hookspecs(hookspecs)
        self.records: dict[str, PluginRecord] = {}
        self._formats: dict[str, FormatInfo] | None = None
        self._registry: Any = None
        self._commands: list[Any] | None = None
        self._lock = threading.RLock()
        from . import canonical_plugin

        self.register(canonical_plugin, name="canonical", version=_own_version(), origin="built-in",
                      distribution="predport")
        if load_entry_points:
            self._load_entry_points()

    # -- discovery and registration ---------------------------------------------------
    def _load_entry_points(self) -> None:
        from importlib.metadata import entry_points

        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            dist = getattr(ep, "dist", None)
            version = getattr(dist, "version", "?") if dist is not None else "?"
            dist_name = getattr(dist, "name", None) if dist is not None else None
            if ep.name in self.records:
                self._fail(
                    PluginRecord(ep.name, version, dist_name),
                    f"another plugin is already registered as {ep.name!r}",
                )
                continue
            if ep.name in self.blocked:
                self.records[ep.name] = PluginRecord(ep.name, version, dist_name, status="blocked",
                                                     reasons=["blocked by configuration"])
                continue
            try:
                obj = ep.load()
            except BaseException as exc:  # a plugin that cannot import must not take the hub down
                if not _contained(exc):
                    raise
                self._fail(
                    PluginRecord(ep.name, version, dist_name),
                    f"import failed: {_describe(exc)}",
                    exc,
                )
                continue
            self.register(obj, name=ep.name, version=version, distribution=dist_name, origin="entry point")

    def register(
        self,
        plugin: Any,
        *,
        name: str | None = None,
        version: str | None = None,
        distribution: str | None = None,
        origin: str = "in-process",
    ) -> PluginRecord:
        """Register a plugin object or module in-process (no packaging needed).

        Returns its :class:`PluginRecord`; check ``record.status`` — a plugin
        with a misspelled hook or a bad signature is recorded as ``failed`` and
        not registered (in strict mode the error is raised).
        """
        with self._lock:
            name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
            version = version or str(getattr(plugin, "__version__", "?"))
            record = PluginRecord(name, version, distribution, origin=origin)
            if name in self.blocked:
                record.status = "blocked"
                record.reasons.append("blocked by configuration")
                self.records[name] = record
                return record
            if name in self.records and self.records[name].status in ("ok", "degraded"):
                return self._fail(record, f"a plugin named {name!r} is already registered")
            try:
                self.pm.register(plugin, name=name)
            except BaseException as exc:  # pluggy rejects bad signatures here
                if not _contained(exc):
                    raise
                return self._fail(record, f"invalid hook implementation: {exc}", exc)
            problem = self._hook_problem(plugin)
            if problem:
                self.pm.unregister(plugin)
                return self._fail(record, problem)
            self.records[name] = record
            self._formats = None  # re-declare formats with the newcomer
            self._registry = None
            self._commands = None
            return record

    def _hook_problem(self, plugin: Any) -> str | None:
        """Why a just-registered plugin cannot be used, or ``None``."""
        callers = self.pm.get_hookcallers(plugin) or []
        if not callers:
            return "no hook implementations found (forgot @predport.hookimpl?)"
        unknown = [caller.name for caller in callers if not caller.has_spec()]
        if unknown:
            notes = []
            for hook in unknown:
                guess = difflib.get_close_matches(hook, HOOK_NAMES, n=1)
                notes.append(f"{hook!r}" + (f" (did you mean {guess[0]!r}?)" if guess else ""))
            return "unknown hook " + ", ".join(notes)
        wrappers = [
            impl.function.__name__
            for caller in callers
            for impl in caller.get_hookimpls()
            if impl.plugin is plugin and (getattr(impl, "wrapper", False) or getattr(impl, "hookwrapper", False))
        ]
        if wrappers:
            # The hub calls each implementation itself (to isolate failures), so
            # pluggy wrappers would be called as plain functions: refuse them.
            return f"hook wrappers are not supported: {', '.join(wrappers)}"
        return None

    def unregister(self, name: str) -> None:
        """Remove an in-process plugin (and forget its formats)."""
        with self._lock:
            plugin = self.pm.get_plugin(name)
            if plugin is not None:
                self.pm.unregister(plugin)
            self.records.pop(name, None)
            self._formats = None
            self._registry = None
            self._commands = None

    def _fail(self, record: PluginRecord, reason: str, exc: BaseException | None = None) -> PluginRecord:
        record.status = "failed"
        record.reasons.append(reason)
        key = record.name
        n = 1
        while key in self.records and self.records[key] is not record and self.records[key].status != "failed":
            # Never overwrite the record of a working plugin with a rejected namesake.
            n += 1
            key = f"{record.name}#{n}"
        self.records[key] = record
        if self.strict:
            raise PluginError(reason, plugin=record.label) from exc
        return record

    def _note(self, plugin_name: str, reason: str, exc: BaseException | None = None) -> None:
        """A working plugin misbehaved in one call: record it (status ``degraded``) and go on."""
        record = self.records.get(plugin_name)
        if record is None:
            return
        if reason not in record.reasons:
            record.reasons.append(reason)
        if record.status == "ok":
            record.status = "degraded"
        if self.strict:
            raise PluginError(reason, plugin=record.label) from exc

    def plugins(self) -> list[PluginRecord]:
        self.formats()  # fills in each record's formats and conflicts
        return [self.records[k] for k in sorted(self.records)]

    def label(self, plugin_name: str | None) -> str | None:
        rec = self.records.get(plugin_name or "")
        return rec.label if rec else plugin_name

    # -- isolated calls -----------------------------------------------------------------
    def _impls(self, hook: str, owner: str | None = None, *, registration_order: bool = False) -> list[Any]:
        caller = getattr(self.pm.hook, hook)
        impls = caller.get_hookimpls()
        if not registration_order:
            impls = list(reversed(impls))  # pluggy's own call order
        if owner is not None:
            impls.sort(key=lambda impl: impl.plugin_name != owner)  # the owner is asked first
        return [i for i in impls if self.records.get(i.plugin_name, PluginRecord("")).status in ("ok", "degraded")]

    @staticmethod
    def _call(impl: Any, kwargs: Mapping[str, Any]) -> Any:
        return impl.function(**{k: kwargs[k] for k in impl.argnames if k in kwargs})

    def _first(self, hook: str, owner: str | None, **kwargs: Any) -> tuple[Any, str | None]:
        """Call a read or write hook on ``owner``, the plugin that declared the format, and on
        no other (dispatch by declaration): a plugin is only handed format ids it declared, so
        its hooks need no ``if format != X: return None`` guard, and one that still has it keeps
        working (the guard never fires). ``(None, None)`` when the owner gives nothing."""
        for impl in self._impls(hook, owner):
            if owner is not None and impl.plugin_name != owner:
                continue
            try:
                result = self._call(impl, kwargs)
            except BaseException as exc:
                if not _contained(exc):
                    raise
                self._reraise(exc, hook, impl.plugin_name)
            if result is not None:
                return result, impl.plugin_name
        return None, None

    def _blame(self, exc: BaseException, what: str, plugin_name: str | None,
               file: str | None = None) -> PredportError:
        """The error to raise for ``exc`` from a plugin's hook; a bug in the plugin also marks it degraded.

        ``file`` is the input being read, for errors that are about it (text that does not decode)."""
        err = _located(exc, what=what, plugin=self.label(plugin_name), file=file)
        if isinstance(err, PluginError) and plugin_name is not None:
            try:
                self._note(plugin_name, err.message)
            except PluginError:
                pass  # strict mode: the error below is the one to raise
        return err

    def _reraise(self, exc: BaseException, what: str, plugin_name: str | None,
                 file: str | None = None) -> NoReturn:
        """Raise :meth:`_blame`'s error for ``exc``, chained to it so that ``PREDPORT_DEBUG=1``
        shows the plugin's own raising line (a predport error passing through keeps its cause)."""
        err = self._blame(exc, what, plugin_name, file)
        if err is exc:
            raise err
        raise err from exc

    def _guard(self, items: Iterable[Any], plugin_name: str | None, what: str,
               feeds: Iterable[Any] = (), check: Any = None, file: str | None = None) -> Iterator[Any]:
        """Re-raise errors from a plugin's lazy iterator with the plugin's name on them.

        However this ends (exhausted, an error, or closed early), the plugin's iterator and
        the iterator that ``feeds`` it (``parse``'s records, for ``to_canonical``) are closed
        now, so their clean-up (files, worker processes) does not wait for the garbage
        collector (an error's traceback keeps suspended generators alive).
        """
        try:
            it = iter(items)
        except BaseException as exc:
            if not _contained(exc):
                raise
            self._reraise(exc, what, plugin_name, file)
        try:
            while True:
                try:
                    item = next(it)
                except StopIteration:
                    return
                except BaseException as exc:
                    if not _contained(exc):
                        raise
                    self._reraise(exc, what, plugin_name, file)
                if check is not None:
                    check(item)
                yield item
        finally:
            for source in (items, feeds):
                close = getattr(source, "close", None)
                if close is not None:
                    close()

    # -- formats and schemas -------------------------------------------------------------
    def formats(self) -> dict[str, FormatInfo]:
        """Every declared format by id (conflicting declarations are reported, not overwritten)."""
        with self._lock:
            if self._formats is not None:
                return self._formats
            found: dict[str, FormatInfo] = {}
            for rec in self.records.values():
                rec.formats = []
            # Registration order: the plugin that declared a format first keeps it.
            for impl in self._impls("formats", registration_order=True):
                name = impl.plugin_name
                try:
                    declared = self._call(impl, {}) or []
                    if isinstance(declared, FormatInfo):
                        declared = [declared]
                    for info in declared:
                        if not isinstance(info, FormatInfo):
                            raise TypeError(f"formats() must return FormatInfo objects, got {type(info).__name__}")
                except BaseException as exc:
                    if not _contained(exc):
                        raise
                    self._fail(self.records[name], f"formats() raised {_describe(exc)}", exc)
                    continue
                for info in declared:
                    if info.id in found:
                        self._note(
                            name,
                            f"format {info.id!r} is already declared by {found[info.id].plugin}; ignored",
                        )
                        continue
                    info = FormatInfo(**{**info.__dict__, "plugin": name})
                    found[info.id] = info
                    self.records[name].formats.append(info.id)
            self._formats = dict(sorted(found.items()))
            return self._formats

    def format_info(self, format_id: str) -> FormatInfo:
        fmts = self.formats()
        if format_id not in fmts:
            close = difflib.get_close_matches(format_id, list(fmts), n=3)
            hint = f"did you mean {', '.join(close)}?" if close else f"known: {', '.join(fmts)}"
            raise UnknownFormatError(f"no plugin provides format {format_id!r}", hint=hint)
        return fmts[format_id]

    @property
    def registry(self) -> Any:
        """The :class:`~predport.registry.SchemaRegistry` with core and plugin schemas."""
        with self._lock:
            if self._registry is None:
                from .registry import SchemaRegistry

                reg = SchemaRegistry()
                for impl in self._impls("schemas"):
                    try:
                        returned = self._call(impl, {}) or []
                        if isinstance(returned, Mapping):
                            raise TypeError("schemas() must return a list of schema documents, not one mapping")
                        for schema in returned:
                            reg.register(schema, owner=impl.plugin_name)
                    except BaseException as exc:
                        if not _contained(exc):
                            raise
                        self._note(impl.plugin_name, f"schemas() failed: {_describe(exc)}", exc)
                self._registry = reg
            return self._registry

    # -- detection ------------------------------------------------------------------------
    def detect(self, path: str | os.PathLike[str], *, storage_options: Mapping[str, Any] | None = None
               ) -> list[FormatMatch]:
        """Every plugin's votes on ``path`` (a path or an fsspec URL), best first (rejections included, last)."""
        from . import storage

        path = storage.localize(path)
        if storage.is_url(path):
            return self._votes(storage.remote_source(os.fspath(path), storage_options))
        p = Path(path)
        if not p.exists():
            raise UnknownFormatError("no such file or folder", file=str(p))
        return self._votes(Source(p))

    def _votes(self, source: Source) -> list[FormatMatch]:
        known = self.formats()
        votes: list[FormatMatch] = []
        for impl in self._impls("detect_format"):
            name = impl.plugin_name
            try:
                result = self._call(impl, {"source": source})
            except BaseException as exc:
                if not _contained(exc):
                    raise
                reason = f"detect_format raised {_describe(exc)}"
                self._note(name, reason, exc)
                votes.append(self._error_vote(name, reason))
                continue
            if result is None:
                continue
            for m in result if isinstance(result, list) else [result]:
                problem = _vote_problem(m, known)
                if problem:
                    self._note(name, f"detect_format {problem}")
                    votes.append(self._error_vote(name, f"detect_format {problem}"))
                    continue
                votes.append(FormatMatch(m.format, int(m.confidence), m.reason, name, m.role))
        votes.sort(key=lambda m: (-m.confidence, m.format))
        return votes

    def _error_vote(self, name: str, reason: str) -> FormatMatch:
        """A plugin's failed vote as a rejection: shown by ``--explain`` with its error, never winning
        (not hidden as "no plugin voted")."""
        own = self.records[name].formats if name in self.records else []
        return FormatMatch(own[0] if own else "?", Confidence.NO, f"error: {reason}", name)

    def pick(self, path: str | os.PathLike[str], votes: list[FormatMatch] | None = None,
             role: str = "predictions") -> FormatInfo:
        """The format of ``path`` read as ``role``: the single best vote above ``EXTENSION``.

        Votes for content of the other role (``FormatMatch.role``) and formats whose
        reader does not read ``role`` (``FormatInfo.roles``) never win.
        """
        votes = self.detect(path) if votes is None else votes
        fmts = self.formats()
        readable = {k for k, v in fmts.items() if v.can_read and role in v.roles}
        real = [v for v in votes if v.confidence > Confidence.EXTENSION and v.format in readable
                and v.role in (None, role)]
        if not real:
            def why(v: FormatMatch) -> str:
                if v.confidence > Confidence.EXTENSION and v.role not in (None, role):
                    return f"{v.format}: {v.reason} [{v.role.replace('_', ' ')}, not {role.replace('_', ' ')}]"
                info = fmts.get(v.format)
                if v.confidence > Confidence.EXTENSION and info is not None and role not in info.roles:
                    return f"{v.format}: {v.reason} [its reader does not read {role.replace('_', ' ')}]"
                return f"{v.format}: {v.reason}"

            reasons = "; ".join(why(v) for v in votes) or "no plugin voted"
            other = [v for v in votes if v.confidence > Confidence.EXTENSION and v.role not in (None, role)]
            hint = "name one with format=... / --from"
            if other:
                hint = ("read it as ground truth: role='ground_truth' / --gt-from" if other[0].role == "ground_truth"
                        else "read it as predictions: role='predictions' (the default)")
            raise UnknownFormatError(
                f"no format recognised as {role.replace('_', ' ')} ({reasons})",
                file=str(path),
                hint=hint,
            )
        top = real[0].confidence
        best: dict[str, Any] = {}
        for v in real:
            if v.confidence == top:
                best.setdefault(v.format, v)
        if len(best) > 1:
            listing = "; ".join(f"{v.format} ({v.confidence}: {v.reason})" for v in best.values())
            raise AmbiguousFormatError(
                f"ambiguous format, tie between {listing}",
                file=str(path),
                candidates=list(best.values()),
                hint="name one with format=... / --from",
            )
        if real[0].confidence < Confidence.CERTAIN:
            self._refuse_mixed(path, real[0], readable, role)
        return self.format_info(real[0].format)

    def _refuse_mixed(self, path: str | os.PathLike[str], winner: FormatMatch, readable: set[str], role: str) -> None:
        """Refuse a folder whose parts are, each on its own, clearly different formats.

        A folder like ``examples/`` (``coco/``, ``kitti/``, ``yolo/`` ...) gets one vote on the
        whole that reads only some of its files; reading it would fail later or drop the rest.
        Each of at most :data:`MIXED_PARTS` subfolders (not hidden) and top-level JSON/YAML/CSV
        files is detected on its own; when two formats each hold a part at ``HIGH`` or above,
        the read is refused naming the parts of each.
        """
        p = Path(os.fspath(path))
        if "://" in os.fspath(path) or not p.is_dir():
            return
        parts: dict[str, list[str]] = {}
        for child in mixed_parts(p):
            votes = [v for v in self._votes(Source(child)) if v.format in readable and v.role in (None, role)]
            if votes and votes[0].confidence >= Confidence.HIGH and (len(votes) == 1 or votes[1].confidence < votes[0].confidence):
                parts.setdefault(votes[0].format, []).append(child.name + "/" * child.is_dir())
        if len(parts) < 2:
            return
        listing = "; ".join(f"{fmt}: {', '.join(names)}" for fmt, names in sorted(parts.items()))
        raise AmbiguousFormatError(
            f"a folder of several formats ({listing}); the folder as a whole reads as {winner.format} "
            f"({winner.confidence}: {winner.reason}), which would leave the others out",
            file=str(p),
            candidates=[winner],
            hint="point at one part (a subfolder or file), or name the format with format=... / --from",
        )

    def _bind(self, info: FormatInfo, context: Any, mode: str) -> Any:
        """The context for a read or write of ``info``'s format, with the hub's registry on it."""
        from .context import Context

        if mode == "read" and not info.can_read:
            raise ConfigError(f"format {info.id!r} can be written but not read", plugin=self.label(info.plugin))
        role = getattr(context, "role", "predictions")
        if mode == "read" and role not in info.roles:
            able = [k for k, v in self.formats().items() if v.can_read and role in v.roles]
            raise ConfigError(
                f"the {info.id!r} reader reads {' and '.join(r.replace('_', ' ') for r in info.roles)} only, "
                f"not {role.replace('_', ' ')}",
                plugin=self.label(info.plugin),
                hint=f"formats that read {role.replace('_', ' ')}: {', '.join(able) or 'none installed'}",
            )
        if mode == "write" and not info.can_write:
            raise ConfigError(f"format {info.id!r} can be read but not written", plugin=self.label(info.plugin))
        ctx = context if context is not None else Context()
        ctx.attach(format=info.id, plugin=self.label(info.plugin), registry=self.registry)
        ctx.bind_options(info.read_options if mode == "read" else info.write_options, format=info.id, mode=mode)
        return ctx

    # -- reading --------------------------------------------------------------------------
    def read(self, path: str | os.PathLike[str], *, format: str | None = None, context: Any = None,
             storage_options: Mapping[str, Any] | None = None) -> PredictionStream:
        """Open ``path`` (a path or an fsspec URL) as a lazy :class:`~predport.stream.PredictionStream`."""
        from . import storage

        path = storage.localize(path)
        if storage.is_url(path):
            remote = storage.remote_source(os.fspath(path), storage_options)
            role = getattr(context, "role", "predictions")
            info = self.format_info(format) if format else self.pick(path, self._votes(remote), role=role)
            # Plugins parse local files: the objects are streamed into a spool once.
            spool = storage.Spool(remote)
            try:
                stream = self._read(Source(spool.local), info, context, uri=remote.url)
            except PredportError as err:
                spool.close()
                raise spool.relocate(err) from err.__cause__
            except BaseException:
                spool.close()
                raise
            stream._frames = storage.spooled_frames(stream._frames, spool, stream.report)
            return stream
        p = Path(path)
        if not p.exists():
            raise UnknownFormatError("no such file or folder", file=str(p))
        # One Source for detection and parsing: the heads detection read stay cached.
        source = Source(p)
        role = getattr(context, "role", "predictions")
        info = self.format_info(format) if format else self.pick(p, self._votes(source), role=role)
        return self._read(source, info, context, uri=str(p))

    def _read(self, source: Source, info: FormatInfo, context: Any, *, uri: str) -> PredictionStream:
        from .stream import PredictionStream

        ctx = self._bind(info, context, "read")
        records, owner = self._first(
            "parse", info.plugin, source=source, format=info.id, options=ctx.options, context=ctx
        )
        if records is None:
            raise PluginError(f"format {info.id!r} is declared readable by this plugin, but it has no parse() "
                              "or its parse() returned None", plugin=self.label(info.plugin))
        records = self._guard(records, owner, "parse", file=str(source.path))
        frames, owner2 = self._first("to_canonical", info.plugin, records=records, format=info.id, context=ctx)
        if frames is None:
            raise PluginError(f"format {info.id!r} is declared readable by this plugin, but it has no "
                              "to_canonical() or its to_canonical() returned None", plugin=self.label(info.plugin))
        # The canonical model is imported only now (pydantic builds it): a reader that starts
        # work in parse (the Lightly plugin forks decoding workers) overlaps with it.
        from .model import Frame, SourceInfo

        def check(item: Any) -> None:
            if not isinstance(item, Frame):
                raise self._blame(TypeError(f"yielded a {type(item).__name__}, not a predport.Frame"),
                                  "to_canonical", owner2)

        src = SourceInfo(format=info.id, uri=uri, plugin=self.label(owner2) or "?")
        guarded = self._guard(frames, owner2, "to_canonical", feeds=records, check=check, file=str(source.path))
        if ctx.role == "ground_truth":
            guarded = _scoreless(guarded, ctx, uri)
        if ctx.policy == "clamp":  # the core applies the policy to every reader's frames
            from .policy import clamp_frames

            guarded = clamp_frames(guarded, ctx.report, ctx.image_size)
        stream = PredictionStream(guarded, ctx.categories, src, ctx.report)
        stream.clamped = ctx.policy == "clamp"
        return stream

    # -- command-line commands ------------------------------------------------------------
    def commands(self, taken: Iterable[str] = ()) -> list[Any]:
        """The subcommands plugins contribute through ``register_commands``, checked.

        Each plugin is called with its own :class:`~predport.commands.Commands`; a
        plugin whose registration raises is recorded (``degraded``, with the reason)
        and none of its commands is kept; a command whose name is taken (by a built-in
        command named in ``taken`` or an earlier plugin) is reported and skipped.
        Computed once per hub.
        """
        from .commands import Commands

        with self._lock:
            if self._commands is not None:
                return self._commands
            kept: list[Any] = []
            names = set(taken)
            for impl in self._impls("register_commands", registration_order=True):
                label = self.label(impl.plugin_name)
                staging = Commands(plugin=label)
                try:
                    self._call(impl, {"commands": staging})
                except BaseException as exc:
                    if not _contained(exc):
                        raise
                    self._note(impl.plugin_name,
                               f"register_commands raised {_describe(exc)}; its commands are skipped", exc)
                    continue
                for problem in staging.problems:
                    self._note(impl.plugin_name, problem)
                for cmd in staging.staged:
                    if cmd.name in names:
                        self._note(impl.plugin_name, f"command {cmd.name!r} is already taken; skipped")
                        continue
                    names.add(cmd.name)
                    kept.append(cmd)
            self._commands = kept
            return kept

    # -- writing --------------------------------------------------------------------------
    def write(
        self,
        stream: Any,
        dest: str | os.PathLike[str],
        *,
        format: str,
        context: Any = None,
        overwrite: bool = False,
        allow_loss: bool | str | Iterable[str] = False,
        storage_options: Mapping[str, Any] | None = None,
        strict_loss: bool = False,
    ) -> dict[str, Any]:
        """Write a stream (or a :class:`~predport.PredictionSet`) to ``dest`` in ``format``.

        Output is staged and committed only when the writer finished and nothing
        refused would be lost (see :mod:`predport.loss`: lost prediction content refuses
        unless ``allow_loss`` is ``True`` or names its kind; lost frame metadata is
        reported, and refuses only with ``strict_loss``); otherwise nothing is left
        behind. The refusal comes at the first frame that loses something. Returns a summary.
        """
        from .loss import LossPolicy, LossTracker, split_loss
        from .model import PredictionSet
        from .storage import output_target
        from .stream import PredictionStream

        info = self.format_info(format)
        ctx = self._bind(info, context, "write")
        policy = LossPolicy(allow_loss, strict_loss)
        if isinstance(stream, PredictionSet):
            stream = PredictionStream.from_set(stream)
        source_info = self.formats().get(getattr(stream.source, "format", None) or "")
        tracker = LossTracker(info, policy=policy, partial=ctx.report.lost, held=ctx.report.held,
                              derived=source_info.derived if source_info is not None else None, dest=str(dest))
        frames = stream.frames
        if ctx.policy == "clamp" and not getattr(stream, "clamped", False):  # and to every writer's (once: a read clamped already)
            from .policy import clamp_frames

            frames = clamp_frames(frames, ctx.report, ctx.image_size, count_unsized=False)
        ended = _Ended(tracker.watch(frames))
        wrapped = PredictionStream(ended, stream.categories, stream.source, stream.report)
        target = output_target(dest, kind=info.target, registry=self.registry, overwrite=overwrite,
                               storage_options=storage_options, in_place=info.in_place)
        try:
            result, owner = self._first("from_canonical", info.plugin, stream=wrapped, format=info.id,
                                        target=target, context=ctx)
            if result is None:
                raise PluginError(f"format {info.id!r} is declared writable by this plugin, but it has no "
                                  "from_canonical() or its from_canonical() returned None",
                                  plugin=self.label(info.plugin))
            if not (result is True or isinstance(result, Mapping)):
                raise self._blame(TypeError(f"from_canonical returned {type(result).__name__} "
                                            "(True or a mapping of counts is success)"), "from_canonical", owner)
            if not ended.done:
                raise self._blame(RuntimeError("from_canonical returned before reading every frame of the "
                                               "stream"), "from_canonical", owner)
            loss = tracker.report(stream.categories, partial=ctx.report.lost)
            tracker.check_final(loss)
            paths = target.commit()
        except BaseException as exc:
            target.abort()
            if target.committed:
                from .output import _mark

                _mark(exc, "written", target.dest)
            raise
        for note in getattr(target, "notes", ()):
            ctx.report.warn(note)
        left_over = target.left_over
        if left_over:
            ctx.report.warn(f"{len(left_over)} file(s) from before are still in {dest} "
                            f"(--overwrite replaces files of the same name only), e.g. {left_over[0]}")
        summary = {
            "format": info.id,
            "output": str(dest),
            "files": len(paths),
            "frames": wrapped.frames_seen,
            "predictions": wrapped.predictions_seen,
            "loss": loss,
        }
        summary["lost_content"], summary["lost_metadata"] = split_loss(loss)
        if isinstance(result, Mapping):
            summary.update({k: v for k, v in result.items() if k not in summary})
        return summary


def _scoreless(frames: Iterable[Any], ctx: Any, path: str) -> Iterator[Any]:
    """Ground truth carries no scores: a frame with a scored row is predictions, said so."""
    import numpy as np

    for frame in frames:
        dets = frame.predictions
        if len(dets) and not np.isnan(dets.score).all():
            raise ctx.wrong_role(f"frame {frame.data_id!r} has predictions with a score "
                                 "(ground truth has none)", file=path, field="score")
        yield frame


class _Ended:
    """An iterator that remembers whether it was read to the end."""

    def __init__(self, items: Iterable[Any]) -> None:
        self._it = iter(items)
        self.done = False

    def __iter__(self) -> "_Ended":
        return self

    def __next__(self) -> Any:
        try:
            return next(self._it)
        except StopIteration:
            self.done = True
            raise

    def close(self) -> None:
        close = getattr(self._it, "close", None)
        if close is not None:
            close()


_LEVELS = frozenset(int(c) for c in Confidence)


def _vote_problem(m: Any, known: Mapping[str, Any]) -> str | None:
    """Why a ``detect_format`` result cannot be counted as a vote, or ``None``."""
    if not isinstance(m, FormatMatch):
        return f"returned {type(m).__name__}, not FormatMatch"
    c = m.confidence
    if isinstance(c, bool) or not isinstance(c, int) or int(c) not in _LEVELS:
        return f"returned confidence {c!r}, not a level of predport.Confidence"
    if not isinstance(m.format, str) or m.format not in known:
        return f"voted for undeclared format {m.format!r}"
    if not isinstance(m.reason, str):
        return f"returned a reason of type {type(m.reason).__name__}, not str"
    return None


def _located(exc: BaseException, *, what: str, plugin: str | None, file: str | None = None) -> PredportError:
    """The predport error to raise for an exception from a plugin's hook, with the plugin named.

    A predport error keeps its place (the plugin is filled in when missing).
    Canonical-model validation (a frame of width 0, a box of 3 numbers) is a data
    problem and says which field; so is text that does not decode (a Latin-1 file
    given to a UTF-8 reader), at ``file``; a file-system error names the file;
    anything else is a bug in the plugin.
    """
    from .errors import OutputError, ParseError

    if isinstance(exc, PredportError):
        if exc.plugin is None:
            exc.plugin = plugin
        return exc

    try:
        from pydantic import ValidationError
    except ImportError:  # pragma: no cover
        ValidationError = ()  # type: ignore[assignment,misc]
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first.get("loc", ()))
        return ParseError(f"invalid canonical data: {loc}: {first.get('msg')}", plugin=plugin,
                          field=loc or None)
    if isinstance(exc, UnicodeDecodeError):
        return ParseError(f"not {exc.encoding} text: {exc.reason} (byte {exc.object[exc.start:exc.start + 1]!r} at "
                          f"offset {exc.start} of the text decoded)", plugin=plugin, file=file)
    if isinstance(exc, OSError):
        return OutputError(f"{exc.strerror or exc}", plugin=plugin, file=exc.filename)
    return PluginError(f"{what} raised {type(exc).__name__}: {exc} (a bug in the plugin)", plugin=plugin)


#: How many subfolders and top-level files of a folder are detected on their own to tell a
#: folder of several formats (``Hub._refuse_mixed``).
MIXED_PARTS = 16
_MIXED_FILE_SUFFIXES = (".json", ".jsonl", ".yaml", ".yml", ".csv")


def mixed_parts(folder: Path) -> list[Path]:
    """The parts of ``folder`` detected on their own: subfolders (not hidden) and top-level
    JSON/YAML/CSV files, the first :data:`MIXED_PARTS` of each in name order (per-frame files
    such as ``.txt`` labels and images are what folder formats are made of, not parts)."""
    dirs: list[str] = []
    files: list[str] = []
    try:
        with os.scandir(folder) as it:
            for e in it:  # the kind comes with the entry: no stat per file
                if e.name.startswith("."):
                    continue
                if e.is_dir(follow_symlinks=False):
                    dirs.append(e.name)
                elif os.path.splitext(e.name)[1].lower() in _MIXED_FILE_SUFFIXES and e.is_file():
                    files.append(e.name)
                for names in (dirs, files):
                    if len(names) > 4 * MIXED_PARTS:  # memory stays bounded in a huge folder
                        names.sort()
                        del names[MIXED_PARTS:]
    except OSError:
        return []
    dirs = sorted(dirs)[:MIXED_PARTS]
    files = sorted(files)[:MIXED_PARTS]
    return [folder / n for n in dirs] + [folder / n for n in files]


def _own_version() -> str:
    from . import __version__

    return __version__


_default_hub: Hub | None = None
_default_lock = threading.Lock()


def get_hub() -> Hub:
    """The process-wide hub, created (and entry points loaded) on first use."""
    global _default_hub
    with _default_lock:
        if _default_hub is None:
            _default_hub = Hub()
        return _default_hub


def reset_hub(hub: Hub | None = None) -> Hub | None:
    """Replace the process-wide hub (``None``: rebuild on next use). Returns the old one."""
    global _default_hub
    with _default_lock:
        old, _default_hub = _default_hub, hub
        return old
