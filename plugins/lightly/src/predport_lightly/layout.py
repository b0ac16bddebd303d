"""Where the tasks of a Lightly source are, and what their ``schema.json`` says.

Accepted sources (see ``docs/formats/lightly.md``):

* a datasource root holding ``.lightly/predictions``, the ``.lightly`` folder, or
  the ``predictions`` folder itself: with ``tasks.json`` only the listed tasks are
  read (a listed task without a valid ``schema.json`` is an error naming it);
  without it every sub-folder holding a ``schema.json`` is a task;
* a bare task folder (``schema.json`` plus per-image files);
* one per-image file, whose ``schema.json`` is found beside it or in a parent
  folder, or given with the ``schema`` option.

No numpy here.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

import predport

TASK_TYPES = (
    "classification",
    "object-detection",
    "semantic-segmentation",
    "instance-segmentation",
    "keypoint-detection",
)
SCHEMA_FILE = "schema.json"
TASKS_FILE = "tasks.json"
#: How many folders above a single prediction file are searched for its ``schema.json``.
SCHEMA_SEARCH_DEPTH = 8


@dataclass
class TaskSpec:
    """One task folder: its name, ``task_type`` and categories as ``schema.json`` gives them."""

    name: str
    task_type: str
    folder: Path
    categories: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Layout:
    """The tasks to read, in order, and (for a single-file source) the one file."""

    tasks: list[TaskSpec]
    single_file: Path | None = None
    single_rel: str | None = None
    ignored: list[str] = field(default_factory=list)


def _loads(path: Path, what: str) -> Any:
    import orjson

    try:
        raw = predport.read_bytes(path, file=str(path))
    except predport.PredportError as err:
        err.message = f"cannot read {what}: {err.message}"
        raise
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise predport.ParseError(f"{what} is not valid JSON: {exc}", file=str(path)) from None


def read_schema(path: Path, task: str) -> TaskSpec:
    """Read and check one task's ``schema.json`` (raises :class:`predport.ParseError`)."""
    if not path.is_file():
        raise predport.ParseError(f"task {task!r} has no {SCHEMA_FILE}", file=str(path))
    doc = _loads(path, f"the schema.json of task {task!r}")
    file = str(path)
    if not isinstance(doc, dict):
        raise predport.ParseError(f"schema.json of task {task!r} must be a JSON object", file=file, json_path="$")
    task_type = doc.get("task_type")
    if task_type not in TASK_TYPES:
        raise predport.ParseError(
            f"task {task!r}: task_type {task_type!r} is not one of {', '.join(TASK_TYPES)}",
            file=file,
            json_path="$.task_type",
            field="task_type",
        )
    cats = doc.get("categories")
    if not isinstance(cats, list):
        raise predport.ParseError(
            f"task {task!r}: 'categories' must be a list", file=file, json_path="$.categories", field="categories"
        )
    seen: set[int] = set()
    for i, c in enumerate(cats):
        where = f"$.categories[{i}]"
        if not isinstance(c, dict):
            raise predport.ParseError(f"task {task!r}: a category must be an object", file=file, json_path=where)
        cid, name = c.get("id"), c.get("name")
        if type(cid) is not int or cid < 0:
            raise predport.ParseError(
                f"task {task!r}: category id must be a non-negative integer, got {cid!r}",
                file=file, json_path=where + ".id", field="id",
            )
        if not isinstance(name, str) or not name:
            raise predport.ParseError(
                f"task {task!r}: category name must be a non-empty string, got {name!r}",
                file=file, json_path=where + ".name", field="name",
            )
        if cid in seen:
            raise predport.ParseError(
                f"task {task!r}: category id {cid} appears twice", file=file, json_path=where + ".id", field="id"
            )
        seen.add(cid)
    return TaskSpec(name=task, task_type=task_type, folder=path.parent, categories=cats)


def predictions_folder(path: Path) -> Path:
    """The ``.lightly/predictions`` folder meant by ``path`` (a root, ``.lightly`` or itself)."""
    if path.name == ".lightly" and (path / "predictions").is_dir():
        return path / "predictions"
    nested = path / ".lightly" / "predictions"
    if nested.is_dir():
        return nested
    return path


def _selected(names: list[str], options: Mapping[str, Any]) -> list[str]:
    wanted = options.get("tasks")
    if wanted is None:
        return names
    if isinstance(wanted, str):
        wanted = [w.strip() for w in wanted.split(",") if w.strip()]
    unknown = [w for w in wanted if w not in names]
    if unknown:
        raise predport.ConfigError(
            f"option tasks names {unknown} but the source has {names}", field="tasks"
        )
    return [n for n in names if n in wanted]


def resolve(path: Path, options: Mapping[str, Any]) -> Layout:
    """The :class:`Layout` of a Lightly source (raises ParseError/ConfigError with the reason)."""
    if path.is_file():
        return _single_file(path, options)
    folder = predictions_folder(path)
    tasks_file = folder / TASKS_FILE
    if tasks_file.is_file():
        listed = _loads(tasks_file, "tasks.json")
        if not isinstance(listed, list) or not all(isinstance(t, str) and t for t in listed):
            raise predport.ParseError(
                "tasks.json must be a JSON array of task names (strings)", file=str(tasks_file), json_path="$"
            )
        if len(set(listed)) != len(listed):
            raise predport.ParseError("tasks.json lists a task twice", file=str(tasks_file), json_path="$")
        for t in listed:
            if "/" in t or "\\" in t or t in (".", ".."):
                raise predport.ParseError(
                    f"task name {t!r} in tasks.json is not a folder name", file=str(tasks_file), json_path="$"
                )
            if not (folder / t).is_dir():
                raise predport.ParseError(
                    f"task {t!r} is listed in tasks.json but has no folder", file=str(folder / t)
                )
        names = _selected(listed, options)
        tasks = [read_schema(folder / t / SCHEMA_FILE, t) for t in names]
        ignored = sorted(
            e.name for e in os.scandir(folder)
            if e.is_dir() and e.name not in listed and (folder / e.name / SCHEMA_FILE).is_file()
        )
        return Layout(tasks=tasks, ignored=ignored)
    if (folder / SCHEMA_FILE).is_file():
        names = _selected([folder.name], options)
        return Layout(tasks=[read_schema(folder / SCHEMA_FILE, folder.name)] if names else [])
    names = sorted(
        e.name for e in os.scandir(folder)
        if e.is_dir() and not e.name.startswith(".") and (folder / e.name / SCHEMA_FILE).is_file()
    )
    if not names:
        raise predport.ParseError(
            "no Lightly task found: expected tasks.json, a schema.json, or task folders holding schema.json",
            file=str(folder),
        )
    return Layout(tasks=[read_schema(folder / t / SCHEMA_FILE, t) for t in _selected(names, options)])


def _single_file(path: Path, options: Mapping[str, Any]) -> Layout:
    given = options.get("schema")
    if given is not None:
        schema = Path(given)
        if not schema.is_file():
            raise predport.ConfigError("option schema: no such file", file=str(schema), field="schema")
        task_folder = schema.parent
    else:
        task_folder = None
        for anc in list(path.parents)[:SCHEMA_SEARCH_DEPTH]:
            if (anc / SCHEMA_FILE).is_file():
                task_folder = anc
                break
        if task_folder is None:
            raise predport.ConfigError(
                "a single Lightly prediction file needs its task's schema.json for the categories",
                file=str(path),
                hint="put it beside the file (or in a parent folder), or pass options={'schema': PATH}",
            )
        schema = task_folder / SCHEMA_FILE
    assert task_folder is not None  # both branches set it or raised
    spec = read_schema(schema, task_folder.name)
    try:
        rel = path.relative_to(task_folder).as_posix()
    except ValueError:
        rel = path.name
    return Layout(tasks=[spec], single_file=path, single_rel=rel)


def walk(folder: Path) -> Iterator[str]:
    """Relative posix paths of the ``*.json`` prediction files below a task folder, sorted per folder.

    Skips the task's own ``schema.json`` and hidden entries (``.DS_Store``, staging
    folders). Only one folder's names are held at a time, as plain strings.
    """
    yield from _walk(str(folder), "", top=True)


def _walk(base: str, prefix: str, top: bool) -> Iterator[str]:
    here = os.path.join(base, prefix) if prefix else base
    files: list[str] = []
    dirs: list[str] = []
    with os.scandir(here) as it:
        for e in it:
            name = e.name
            if name[0] == ".":
                continue
            if name.endswith(".json"):
                if e.is_file():
                    files.append(name)
                    continue
            if e.is_dir(follow_symlinks=False):
                dirs.append(name)
    files.sort()
    if top and SCHEMA_FILE in files:
        files.remove(SCHEMA_FILE)
    for name in files:
        yield prefix + name
    del files
    dirs.sort()
    for d in dirs:
        yield from _walk(base, prefix + d + "/", top=False)
