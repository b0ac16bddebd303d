"""The library API: load, iterate, detect, convert, save, register."""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping

from .context import ClassMap, Context, ImageSizes
from .hub import get_hub
from .limits import refuse_url
from .stream import PredictionStream

if TYPE_CHECKING:  # the model imports pydantic: only for the annotations
    from .format_detection import FormatMatch
    from .model import Frame, PredictionSet

__all__ = ["load", "iter_frames", "open_stream", "detect", "convert", "save", "register", "make_context", "evaluate"]


def make_context(
    *,
    options: Mapping[str, Any] | None = None,
    policy: str = "fail",
    class_map: ClassMap | Mapping[str, Any] | str | os.PathLike[str] | None = None,
    image_sizes: ImageSizes | Mapping[str, Any] | str | os.PathLike[str] | None = None,
    images: str | os.PathLike[str] | None = None,
    id_lookup: Callable[[Path], tuple[str, int | None]] | None = None,
    role: str = "predictions",
) -> Context:
    """A :class:`Context` from keyword arguments (what ``load``/``convert`` accept)."""
    for what, value in (("class map", class_map), ("image sizes file", image_sizes), ("image folder", images)):
        refuse_url(value, role=what)
    return Context(
        options=options,
        policy=policy,
        class_map=class_map,
        image_sizes=image_sizes,
        images=images,
        id_lookup=id_lookup,
        role=role,
    )


def _take_options(kwargs: dict[str, Any], name: str, where: str) -> None:
    """``kwargs``' ``read_options``/``write_options`` (``name``) as ``options`` for :func:`make_context`;
    the old ``options=`` still works, with a :class:`DeprecationWarning`."""
    if "options" in kwargs:
        import warnings

        if kwargs.get(name) is not None:
            from .errors import ConfigError

            raise ConfigError(f"{where}() got both options= and {name}=; use {name}= only")
        warnings.warn(f"{where}(options=...) is deprecated; use {name}=... (the same options)",
                      DeprecationWarning, stacklevel=3)
        kwargs[name] = kwargs.pop("options")
    if name in kwargs:
        kwargs["options"] = kwargs.pop(name)


def open_stream(path: str | os.PathLike[str], format: str | None = None, **kwargs: Any) -> PredictionStream:
    """A lazy :class:`~predport.PredictionStream` over ``path`` (format auto-detected unless given).

    Keyword arguments: ``read_options`` (the reader's options, as ``-o KEY=VALUE``: see
    ``predport formats FORMAT``; ``options=`` is a deprecated alias), ``policy`` (``fail``/``skip``/``clamp``),
    ``class_map`` (a :class:`ClassMap`, mapping, or JSON/YAML path),
    ``image_sizes`` (mapping or sizes file), ``images`` (image folder whose
    headers give sizes), ``id_lookup`` (path -> ``(data_id, frame)``),
    ``role`` (``"predictions"``, the default, or ``"ground_truth"``: read labels —
    no scores, crowd/ignore/difficulty fields as prediction attributes; detection
    then picks among formats that read ground truth),
    ``context`` (a ready :class:`Context`, instead of the above), ``storage_options``
    (for an fsspec URL: passed to its filesystem, e.g. ``{"anon": True}``).
    """
    storage_options = kwargs.pop("storage_options", None)
    _take_options(kwargs, "read_options", "open_stream")
    ctx = kwargs.pop("context", None) or make_context(**kwargs)
    return get_hub().read(path, format=format, context=ctx, storage_options=storage_options)


def iter_frames(path: str | os.PathLike[str], format: str | None = None, **kwargs: Any) -> Iterator[Frame]:
    """Canonical frames of ``path``, one at a time (memory stays flat for folder formats)."""
    return open_stream(path, format, **kwargs).frames


def load(path: str | os.PathLike[str], format: str | None = None, **kwargs: Any) -> PredictionSet:
    """Read ``path`` into a :class:`~predport.PredictionSet`, detecting the format unless given."""
    return open_stream(path, format, **kwargs).collect()


def evaluate(predictions: Any, ground_truth: Any, **kwargs: Any) -> Any:
    """Evaluate ``predictions`` against ``ground_truth`` (paths, prediction sets or streams).

    Delegates to the ``predport-eval`` plugin (``predport_eval.evaluate``, imported
    only now); see its documentation for the keyword arguments and the
    ``EvaluationResult`` it returns.
    """
    try:
        import predport_eval
    except ImportError:
        from .errors import ConfigError

        raise ConfigError("evaluation needs the predport-eval plugin", hint="pip install predport-eval") from None
    return predport_eval.evaluate(predictions, ground_truth, **kwargs)


def detect(path: str | os.PathLike[str], *, storage_options: Mapping[str, Any] | None = None) -> list[FormatMatch]:
    """Ranked :class:`~predport.FormatMatch` votes for ``path`` (best first, rejections last)."""
    return get_hub().detect(path, storage_options=storage_options)


def save(
    data: Any,
    dest: str | os.PathLike[str],
    format: str = "canonical",
    *,
    overwrite: bool = False,
    allow_loss: bool | str | Iterable[str] = False,
    strict_loss: bool = False,
    **kwargs: Any,
) -> dict[str, Any]:
    """Write a :class:`~predport.PredictionSet` or stream to ``dest`` (validated, atomic; a path or an fsspec URL).

    ``allow_loss``: ``True``, or the loss kinds to allow (``"sizes,attributes"``, see
    :data:`predport.loss.KINDS`); ``strict_loss``: lost frame metadata refuses too.
    ``write_options``: the writer's options (as ``-w KEY=VALUE``; ``options=`` is a
    deprecated alias).
    """
    storage_options = kwargs.pop("storage_options", None)
    _take_options(kwargs, "write_options", "save")
    ctx = kwargs.pop("context", None) or make_context(**kwargs)
    return get_hub().write(data, dest, format=format, context=ctx, overwrite=overwrite, allow_loss=allow_loss,
                           storage_options=storage_options, strict_loss=strict_loss)


def convert(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    to: str = "canonical",
    *,
    format: str | None = None,
    overwrite: bool = False,
    allow_loss: bool | str | Iterable[str] = False,
    strict_loss: bool = False,
    write_options: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """Convert ``src`` (format auto-detected unless ``format``) to ``dst`` in format ``to``, streaming.

    Returns a summary: frames, predictions, files written, what was skipped,
    dropped or (with ``allow_loss``) lost. ``progress`` may wrap the frame
    iterator (the CLI's progress bar does). ``src`` and ``dst`` may be fsspec URLs
    (``storage_options`` go to their filesystems); ``engine="dask"`` (with
    ``scheduler=ADDRESS``) or ``engine="local"`` shards the work (see :mod:`predport.engine`).
    ``read_options`` go to the reader, ``write_options`` to the writer (``options=`` is a
    deprecated alias of ``read_options``). ``min_score`` and ``classes`` (names or ids) keep
    only those predictions (see :mod:`predport.filters`). ``allow_empty=False`` refuses a
    source that yields no frame at all (every file skipped, an empty folder), before
    anything is written — the command line's default. ``source_uri`` is the name the
    source is recorded under in the output (default: ``src``; the command line's ``-``).
    """
    _take_options(kwargs, "read_options", "convert")
    progress = kwargs.pop("progress", None)
    storage_options = kwargs.pop("storage_options", None)
    engine = kwargs.pop("engine", None)
    min_score = kwargs.pop("min_score", None)
    classes = kwargs.pop("classes", None)
    allow_empty = kwargs.pop("allow_empty", True)
    source_uri = kwargs.pop("source_uri", None)
    if engine is not None:
        from .engine import convert_sharded

        if min_score is not None or classes is not None:
            from .errors import ConfigError

            raise ConfigError("min_score= and classes= do not run under engine= yet",
                              hint="convert with engine= first, then filter the canonical-jsonl file")
        return convert_sharded(src, dst, to=to, format=format, overwrite=overwrite, allow_loss=allow_loss,
                               write_options=write_options, storage_options=storage_options, engine=engine,
                               allow_empty=allow_empty, **kwargs)
    ctx = kwargs.pop("context", None) or make_context(**kwargs)
    hub = get_hub()
    stream = source = hub.read(src, format=format, context=ctx, storage_options=storage_options)
    frames: Iterator[Any] = stream.frames
    wrapped = progress is not None
    try:
        if not allow_empty:
            frames, wrapped = _something_read(frames, src, ctx), True
        if min_score is not None or classes is not None:
            wrapped = True
            from .filters import FrameFilter

            frames = FrameFilter(min_score=min_score, classes=classes, categories=ctx.categories,
                                 report=ctx.report)(frames)
    except BaseException:
        source.close()
        raise
    if progress is not None:
        frames = progress(frames)
    if source_uri is not None and stream.source is not None:  # the name a spooled source is known by (stdin)
        stream.source = stream.source.model_copy(update={"uri": str(source_uri)})
        wrapped = True
    if wrapped:
        clamped = stream.clamped
        stream = PredictionStream(frames, stream.categories, stream.source, stream.report)
        stream.clamped = clamped
    wctx = Context(options=write_options, policy=ctx.policy, categories=ctx.categories,
                   image_sizes=ctx.sizes, report=ctx.report)
    try:
        summary = hub.write(stream, dst, format=to, context=wctx, overwrite=overwrite, allow_loss=allow_loss,
                            storage_options=storage_options, strict_loss=strict_loss)
    except BaseException:
        try:
            source.close()  # a failed write stops the reader now (its files, its worker processes)
        except Exception:
            pass  # the write's error is the one to report
        raise
    source.close()
    for name, c, role in ((stream.source.format if stream.source else format, ctx, "reader"), (to, wctx, "writer")):
        for key in c.unused_options():
            ctx.report.warn(f"{role} option {key!r} was not used by the {name} {role} (a typo?)")
    summary["from"] = stream.source.format if stream.source else format
    summary["input"] = str(src)
    summary["report"] = ctx.report.to_dict(ctx.categories)
    return summary


def _something_read(frames: Iterator[Any], src: Any, ctx: Context) -> Iterator[Any]:
    """``frames``, refusing a read that gave nothing: no frame at all (checked on the first
    frame, before the writer opens its output), or no prediction while records were skipped
    as bad (checked at the end, so the writer's output is never committed)."""
    first = next(frames, None)
    if first is None:
        raise _nothing_read(src, ctx)
    return _counted(first, frames, src, ctx)


def _counted(first: Any, frames: Iterator[Any], src: Any, ctx: Context) -> Iterator[Any]:
    predictions = len(first.predictions)
    yield first
    for frame in frames:
        predictions += len(frame.predictions)
        yield frame
    if not predictions and ctx.report.skipped_total:
        raise _nothing_read(src, ctx)


def _nothing_read(src: Any, ctx: Context) -> Exception:
    from .errors import PredportError

    skipped = ctx.report.skipped_total
    why = f"every record was skipped as bad ({skipped})" if skipped else "the source holds no frame"
    return PredportError(f"nothing was read: {why}; nothing was written", file=str(src), plugin=ctx.plugin,
                         hint="--allow-empty (allow_empty=True) writes an empty output")


def register(plugin: Any, *, name: str | None = None) -> Any:
    """Register a plugin module or object in-process with the default hub (no packaging)."""
    return get_hub().register(plugin, name=name)
