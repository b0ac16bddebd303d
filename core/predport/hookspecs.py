"""The hook specifications every predport plugin implements a subset of.

A plugin is a module (or any object) whose functions carry ``@predport.hookimpl``
and are named after the hooks below. Only the hub (:mod:`predport.hub`) calls
hooks, always with keyword arguments. A hook implementation may accept any
subset of a hook's arguments, so arguments added later never break a plugin.

How results combine is stated in each docstring:

* *every plugin* — all implementations are called and the hub collects results;
* *declaring plugin* — only the plugin that declared the format in :func:`formats`
  is called (dispatch by declaration), with one of its own format ids: no
  ``if format != X: return None`` guard is needed (one that is there never fires).

Each hook has a section of the same name in ``docs/hooks.md`` (a test checks).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Mapping

import pluggy

if TYPE_CHECKING:  # imported for annotations only; keeps ``import predport`` cheap
    from .commands import Commands
    from .context import Context
    from .format_detection import FormatInfo, FormatMatch, Source
    from .model import Frame
    from .output import OutputTarget
    from .stream import PredictionStream

hookspec = pluggy.HookspecMarker("predport")
#: The one marker plugins use: ``@predport.hookimpl``.
hookimpl = pluggy.HookimplMarker("predport")


@hookspec
def formats() -> "list[FormatInfo]":  # type: ignore[empty-body]
    """Declare the formats this plugin handles.

    Called on *every plugin*. Return a list of :class:`predport.FormatInfo`:
    format id, title, what it can read and write, the prediction kinds it can
    hold, file patterns. A format id must be unique across plugins; the second
    plugin that declares an id already taken is reported as a conflict and its
    declaration is ignored.
    """


@hookspec
def detect_format(source: "Source") -> "FormatMatch | list[FormatMatch] | None":
    """Vote on whether ``source`` is in one of this plugin's formats.

    Called on *every plugin*. ``source`` gives the path, its head bytes and a
    bounded directory listing, read once by the hub; keep detection cheap and
    read through ``source`` helpers, which are bounded.

    Return ``None`` when the plugin has nothing to say, a
    :class:`predport.FormatMatch` (format id, confidence on the scale of
    :class:`predport.Confidence`, reason), or a list of them. A match with
    confidence ``Confidence.NO`` is a reasoned rejection, shown by
    ``predport detect --explain``. An exception raised here is reported with the
    plugin's name and version and the plugin's vote is skipped.

    When the content tells predictions from ground truth, say so with
    ``FormatMatch(..., role="predictions")`` or ``role="ground_truth"``: a read of the
    other role skips the vote (and says why). ``role=None`` (the default) is "either".
    """


@hookspec(firstresult=True)
def parse(
    source: "Source", format: str, options: Mapping[str, Any], context: "Context"
) -> "Iterable[Any] | None":
    """Turn ``source`` into the format's own typed records, lazily.

    *Declaring plugin*: called on the plugin that declared ``format`` only. Return an
    iterator (a generator is ideal) of records in whatever shape the plugin's
    own :func:`to_canonical` expects. Raise :class:`predport.ParseError` naming
    the file, the line or JSON path, and the field for malformed input, or hand
    it to ``context.problem(error)``, which raises under the ``fail`` policy and
    counts and skips under ``skip``.

    ``context.role`` is ``"predictions"`` or ``"ground_truth"`` (only roles the
    format declares in ``FormatInfo.roles`` reach the reader); content of the other
    role is refused with ``raise context.wrong_role("what it is instead", file=...)``.
    """


@hookspec(firstresult=True)
def to_canonical(
    records: Iterable[Any], format: str, context: "Context"
) -> "Iterable[Frame] | None":
    """Map the records from :func:`parse` into canonical :class:`predport.Frame` objects.

    *Declaring plugin*: called on the plugin that declared ``format`` only. Return an
    iterator of frames; predictions travel as :class:`predport.Detections`
    columns. Resolve categories through ``context.categories`` so the user's
    class map applies, image sizes through ``context.image_size``, and data ids
    through ``context.data_id_for``.
    """


@hookspec(firstresult=True)
def from_canonical(
    stream: "PredictionStream", format: str, target: "OutputTarget", context: "Context"
) -> "Mapping[str, Any] | bool | None":
    """Write canonical frames in one of this plugin's formats.

    *Declaring plugin*: called on the plugin that declared ``format`` writable only.
    Iterate ``stream.frames`` (once; it may be a generator);
    ``stream.categories`` is complete once iteration has ended. Write only
    through ``target`` (:class:`predport.OutputTarget`), which keeps paths
    inside the output the user named, validates JSON against registered
    schemas and commits atomically. Return ``True`` or a mapping of counts
    for the summary.
    """


@hookspec
def schemas() -> "list[Mapping[str, Any]]":  # type: ignore[empty-body]
    """Contribute JSON Schemas (Draft 2020-12) to the schema registry.

    Called on *every plugin*. Return a list of schema documents, each with a
    unique ``$id``; writers then validate with ``target.write_json(...,
    schema=ID)``. An ``$id`` already registered by another plugin is a conflict
    and is reported.
    """


@hookspec
def register_commands(commands: "Commands") -> None:
    """Add subcommands to the ``predport`` command line.

    Called on *every plugin* when the command line is built for ``--help`` or for a
    command that is not built in (a conversion never calls it). Call
    ``commands.add(name, help=..., run=fn)`` once per subcommand; it returns the
    command's :class:`argparse.ArgumentParser` to add arguments to, and
    ``fn(args)`` later returns the exit code. Keep it cheap: import heavy modules
    inside ``fn``. The return value is ignored. A plugin whose registration raises
    is reported (``predport plugins`` shows it ``degraded``, ``--help`` warns) and
    none of its commands is added; a name already taken is reported and skipped.
    """
