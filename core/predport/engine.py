"""Sharded conversion: the same conversion cut into shards that any scheduler can run.

A *shard* is a list of the input's files (folder formats are sharded by file; the files
every shard needs, such as Lightly's ``schema.json`` or YOLO's ``data.yaml``, go to every
shard). :func:`run_shard` reads shard *I* with the format's own reader, validates and
writes its frames as canonical JSON Lines under ``<output>.predport-parts/``;
:func:`merge` checks that every part of the same plan is there and commits the output
once (canonical JSON or JSON Lines, through the usual :class:`~predport.OutputTarget`,
all or nothing), with the categories of all shards and their reports summed. The
output is byte for byte the one a single process writes.

Engines: ``"dask"`` (a ``distributed`` cluster: ``scheduler=ADDRESS``, or a
``LocalCluster`` of 2 processes) runs the shards on workers and merges on the driver;
``"local"`` runs them one after the other in this process. Without an engine nothing
here is imported, and Dask only inside :func:`_run_dask`. ``--shard I/N`` runs one
shard (a Slurm array, a Kubernetes indexed job) and ``predport merge OUTPUT`` publishes.

Shards follow the readers' folder order (files of a folder sorted, then its sub-folders
sorted), which every first-party folder reader uses, so the concatenated shards are the
single-process frame order. Files that belong together are never split: the files of
one image in Lightly's task folders, a YOLO label and its image, a KITTI label, image
and calibration.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Iterable, Mapping

from .errors import ConfigError, OutputError, PredportError

__all__ = ["ENGINES", "LAYOUTS", "ShardLayout", "plan", "run_shard", "merge", "convert_sharded", "parts_location",
           "parse_shard", "run_tasks"]

ENGINES = ("dask", "local")
PARTS_SUFFIX = ".predport-parts"
PART_SCHEMA = "predport/part/1"
TARGETS = ("canonical", "canonical-jsonl")


@dataclass(frozen=True)
class ShardLayout:
    """How a folder format's files are cut into shards.

    * ``shared`` — file names every shard gets (sidecars the reader needs everywhere).
    * ``parallel`` — the folder holds parallel trees (``labels/`` and ``images/``): files
      of the same path below the first folder, without the suffix, stay together.
    * ``primary`` — in parallel trees, the folders whose files set the order.
    """

    shared: frozenset[str]
    parallel: bool = False
    primary: tuple[str, ...] = ()


LAYOUTS: dict[str, ShardLayout] = {
    "lightly": ShardLayout(frozenset({"tasks.json", "schema.json"})),
    "yolo": ShardLayout(frozenset({"data.yaml", "data.yml", "classes.txt", "sizes.json"}), True, ("labels",)),
    "kitti": ShardLayout(frozenset({"ontology_mapping.json", "ontology_label_map.json"}), True, ("label_2",)),
    "masks": ShardLayout(frozenset({"ontology_mapping.json", "class_map.json"})),
}


def _refuse_library_store(fmt: str, *, writing: bool) -> None:
    """A format whose library owns its store (``FormatInfo.in_place``: Deep Lake) is refused with
    its reason. Writing: the dataset is made by its library's one commit, in place (a branch of
    an existing dataset), which parts published by :func:`merge` cannot be; and that writer
    gathers every frame before its commit anyway, so sharding would gain only the reading, which
    ``--engine`` to canonical-jsonl and then one conversion of that file gives, with the
    single-process result. Reading: the store's files are column chunks and a version log, not a
    file per image, so no file plan can cut it."""
    from .hub import get_hub

    try:
        info = get_hub().format_info(fmt)
    except PredportError:
        return
    if not getattr(info, "in_place", False):
        return
    if writing:
        raise ConfigError(
            f"sharded conversion cannot write {fmt}: a {fmt} dataset is written by its own library in one "
            "commit (in place, on a branch of an existing dataset), which shard parts merged by "
            "'predport merge' cannot be", field="to",
            hint=f"shard the reading into canonical-jsonl (--engine/--shard, then merge), then convert that "
                 f"file once: predport convert parts.jsonl OUT --to {fmt} (with its -w options)")
    raise ConfigError(
        f"cannot shard a {fmt} dataset: its files are its library's column chunks and version log, not a "
        "file per image, so they cannot be split into shards", field="from",
        hint=f"convert it without --engine/--shard (the {fmt} reader streams its rows in blocks)")


def _check_target(to: str) -> None:
    """Sharded conversion writes one of :data:`TARGETS`; anything else is refused with the reason."""
    if to not in TARGETS:
        _refuse_library_store(to, writing=True)
        raise ConfigError(f"sharded conversion writes {' or '.join(TARGETS)}, not {to!r}",
                          hint=f"convert to canonical-jsonl with --engine, then that file to {to}")


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` (0-based I) as ``(I, N)``."""
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise ConfigError(f"--shard takes I/N (0 <= I < N), not {text!r}") from None
    if not 0 <= i < n:
        raise ConfigError(f"--shard {text}: I must be in 0..{n - 1}")
    return i, n


def parts_location(dst: Any) -> str:
    """Where the shards of an output write their parts: ``<output>.predport-parts`` beside it."""
    return os.fspath(dst).rstrip("/") + PARTS_SUFFIX


# -- planning -------------------------------------------------------------------------------
def _order_key(rel: str) -> tuple[tuple[int, str], ...]:
    """The readers' folder order: a folder's files by name, then its sub-folders by name."""
    parts = rel.split("/")
    return tuple((1, p) for p in parts[:-1]) + ((0, parts[-1]),)


def _list_files(src: Any, storage_options: Mapping[str, Any] | None) -> tuple[list[str], bool]:
    """Every file below the input (relative posix paths) and whether the input is a folder."""
    from . import storage

    src = storage.localize(src)
    if storage.is_url(src):
        source = storage.remote_source(os.fspath(src), storage_options)
        if not source.is_dir:
            return [source.name], False
        return [rel for page in storage._iter_remote_files(source.fs, source.key) for rel, _size in page], True
    root = Path(src)
    if not root.exists():
        from .errors import UnknownFormatError

        raise UnknownFormatError("no such file or folder", file=str(root))
    if not root.is_dir():
        return [root.name], False
    out: list[str] = []
    for dirpath, _dirs, files in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        out.extend(name if rel_dir == "." else f"{rel_dir}/{name}" for name in files)
    return out, True


def plan(src: Any, *, format: str, shards: int, storage_options: Mapping[str, Any] | None = None
         ) -> tuple[list[str], list[list[Any]]]:
    """``(shared files, files of each shard)`` for a folder input: contiguous groups in folder order;
    for a single file that shards (:mod:`predport.docshard`), ``([], [[piece], ...])``."""
    from . import storage
    from .docshard import DOCUMENTS, plan_document
    from .storage import MANIFEST, STAGING_MARK

    layout = LAYOUTS.get(format)
    files, is_dir = _list_files(src, storage_options)
    if not is_dir and format in DOCUMENTS:
        return [], plan_document(os.fspath(storage.localize(src)), format=format, shards=shards,
                                 storage_options=storage_options)
    if not is_dir or layout is None:
        _refuse_library_store(format, writing=False)
        known = ", ".join(sorted(LAYOUTS))
        raise ConfigError(f"cannot shard {'format ' + repr(format) if is_dir else 'a single ' + format + ' file'} "
                          f"yet: sharded conversion reads folders of {known} and single files of "
                          f"{', '.join(sorted(DOCUMENTS))}", hint="convert without --engine/--shard")
    files = [f for f in files if f != MANIFEST and STAGING_MARK not in f and ".predport-" not in f]
    shared = sorted(f for f in files if PurePosixPath(f).name in layout.shared)
    anchors = {str(PurePosixPath(f).parent) for f in shared}
    groups: dict[str, list[str]] = {}
    order: dict[str, tuple[Any, ...]] = {}
    for f in files:
        if PurePosixPath(f).name in layout.shared:
            continue
        parts = f.split("/")
        depth = len(parts) - 1
        while depth and "/".join(parts[:depth]) not in anchors:
            depth -= 1
        below = parts[depth:]
        primary = True
        if layout.parallel:
            if depth == 0 and len(below) >= 2:
                primary = below[0] in layout.primary
                below = below[1:]
            key = "/".join(below[:-1] + [below[-1].split(".", 1)[0] if below[-1][:1] != "." else below[-1]])
        else:
            key = "/".join(below)
        groups.setdefault(key, []).append(f)
        rank = (0 if primary else 1, _order_key("/".join(below)))
        if key not in order or rank < order[key]:
            order[key] = rank
    keys = sorted(groups, key=lambda k: (order[k][1], order[k][0]))
    total = sum(len(groups[k]) for k in keys)
    out: list[list[str]] = [[] for _ in range(shards)]
    done = 0
    for k in keys:
        index = min(shards - 1, done * shards // max(total, 1))
        out[index].extend(groups[k])
        done += len(groups[k])
    return shared, out


def _fingerprint(uri: str, format: str, shared: list[str], shards: list[list[str]]) -> str:
    h = hashlib.sha256(json.dumps([uri, format, shared, shards]).encode())
    return h.hexdigest()[:16]


# -- one shard -------------------------------------------------------------------------------
#: A shard's mirror links the input's siblings (KITTI looks for image_2/ beside label_2/)
#: when its parent folder has at most this many entries.
SIBLINGS_LIMIT = 256


def _mirror(root: Path, rels: Iterable[str], into: Path) -> Path:
    """A folder of links (copies across file systems) to ``rels`` below ``root``, named like it,
    beside links to the input's siblings (readers look beside the input, as locally)."""
    parent = into / (root.resolve().parent.name or "root")
    local = parent / root.name
    parent.mkdir()
    try:
        siblings = [e for e in os.scandir(root.resolve().parent)][:SIBLINGS_LIMIT + 1]
    except OSError:
        siblings = []
    if len(siblings) <= SIBLINGS_LIMIT:
        for e in siblings:
            if e.name != root.resolve().name:
                os.symlink(e.path, parent / e.name)
    # Plain strings, not Path objects: pathlib interns every path part (sys.intern), and the
    # interned table of a long-lived worker would grow with every file it ever mirrored.
    base, origin, made = os.fspath(local), os.fspath(root), set()
    for rel in rels:
        target = os.path.join(base, *rel.split("/"))
        folder = os.path.dirname(target)
        if folder not in made:
            os.makedirs(folder, exist_ok=True)
            made.add(folder)
        try:
            os.link(os.path.join(origin, rel), target)
        except OSError:
            shutil.copy2(os.path.join(origin, rel), target)
    local.mkdir(exist_ok=True)
    return local


def run_shard(src: Any, dst: Any, *, index: int, shards: int, format: str | None = None, to: str = "canonical",
              storage_options: Mapping[str, Any] | None = None, files: list[str] | None = None,
              shared: list[str] | None = None, fingerprint: str | None = None,
              context: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Read shard ``index`` of ``shards`` and write its part; returns the part's summary.

    The driver passes ``files``/``shared``/``fingerprint`` from its :func:`plan`; a shard
    run on its own (``--shard I/N``) makes the same plan itself (it is deterministic).
    """
    from . import storage
    from .api import make_context
    from .hub import get_hub

    started = time.perf_counter()
    hub = get_hub()
    src = storage.localize(src)
    uri = os.fspath(src)
    _check_target(to)
    if format is None:
        format = hub.pick(src, hub.detect(src, storage_options=storage_options)).id
    if files is None or shared is None:
        shared, all_shards = plan(src, format=format, shards=shards, storage_options=storage_options)
        files = all_shards[index]
        fingerprint = _fingerprint(uri, format, shared, all_shards)
    tmp = Path(tempfile.mkdtemp(prefix="predport-shard-"))
    spool = None
    try:
        wanted = list(shared) + list(files)
        fix = None
        if files and isinstance(files[0], dict):  # a range of a single file
            from .docshard import materialize, relocate

            local = tmp / (PurePosixPath(uri).name or "input")
            materialize(uri, files[0], str(local), storage_options)
            fix = relocate(uri, files[0], str(local), storage_options)
        elif storage.is_url(src):
            remote = storage.remote_source(uri, storage_options)
            spool = storage.Spool(remote, only=wanted, listed=True)
            local = spool.local
        else:
            local = _mirror(Path(src), wanted, tmp)
        ctx = make_context(**dict(context or {}))
        try:
            stream = hub.read(local, format=format, context=ctx)
            from .model import SourceInfo

            read_from = stream.source
            assert read_from is not None  # Hub.read always names its source
            stream.source = SourceInfo(format=read_from.format, uri=uri, plugin=read_from.plugin)
            part = f"{parts_location(dst)}/part-{index:05d}.jsonl"
            if not storage.is_url(part):  # shards start together: no race on the folder in the writer
                Path(parts_location(dst)).mkdir(parents=True, exist_ok=True)
            written = hub.write(stream, part, format="canonical-jsonl", context=None, overwrite=True,
                                storage_options=storage_options)
        except PredportError as err:
            raise (fix(err) if fix else _relocate(err, local, uri, spool)) from err.__cause__
        if fix is not None:
            for err in ctx.report.skipped:
                fix(err)
        meta = {
            "schema": PART_SCHEMA, "index": index, "shards": shards, "fingerprint": fingerprint, "to": to,
            "input": uri, "format": format, "files": len(files), "frames": written["frames"],
            "predictions": written["predictions"], "report": ctx.report.to_dict(ctx.categories),
            "seconds": round(time.perf_counter() - started, 3),
            "peak_rss_mb": peak_rss_mb(),
            "pid": os.getpid(),
        }
        _put_json(f"{parts_location(dst)}/part-{index:05d}.json", meta, storage_options)
        return meta
    finally:
        if spool is not None:
            spool.close()
        shutil.rmtree(tmp, ignore_errors=True)


def peak_rss_mb() -> float:
    """This process's own peak resident memory, MB.

    ``/proc/self/status`` ``VmHWM`` where there is one: ``ru_maxrss`` survives ``execve`` on
    Linux, so a Dask worker (forked and exec'd by the nanny in the driver's process) would
    report the driver's peak at the time it was started — which grows with the input the
    driver listed, although the worker never held it. That inherited figure was the
    "per-worker memory growing with the input" measured before (docs/scaling.md)."""
    try:
        with open("/proc/self/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def _relocate(err: PredportError, local: Path, uri: str, spool: Any) -> PredportError:
    """Errors name the input's own files, not the shard's mirror or spool."""
    if spool is not None:
        return spool.relocate(err)
    here = str(local)
    if err.file and (err.file == here or err.file.startswith(here + os.sep)):
        err.file = uri.rstrip("/") + err.file[len(here):]
    return err


def _put_json(where: str, obj: Any, storage_options: Mapping[str, Any] | None) -> None:
    from . import storage

    data = json.dumps(obj, indent=1).encode()
    if storage.is_url(where):
        fs, key = storage.open_url(where, storage_options)
        fs.pipe_file(key, data)
        return
    Path(where).parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(where + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, where)


# -- merging -------------------------------------------------------------------------------------
class _Parts:
    """Reads a parts location, local or remote."""

    def __init__(self, where: str, storage_options: Mapping[str, Any] | None) -> None:
        from . import storage

        self.where = where
        self.remote = storage.is_url(where)
        if self.remote:
            self.fs, self.key = storage.open_url(where, storage_options)

    def names(self) -> list[str]:
        if self.remote:
            try:
                return sorted(PurePosixPath(p).name for p in self.fs.ls(self.key, detail=False))
            except FileNotFoundError:
                return []
        p = Path(self.where)
        return sorted(x.name for x in p.iterdir()) if p.is_dir() else []

    def read(self, name: str) -> bytes:
        if self.remote:
            return self.fs.cat_file(f"{self.key}/{name}")
        return (Path(self.where) / name).read_bytes()

    def lines(self, name: str) -> Iterable[bytes]:
        if self.remote:
            with self.fs.open(f"{self.key}/{name}", "rb", block_size=1 << 22) as fh:
                yield from fh
        else:
            with open(Path(self.where) / name, "rb") as fh:
                yield from fh

    def remove(self) -> None:
        if self.remote:
            if self.fs.exists(self.key):
                self.fs.rm(self.key, recursive=True)
        else:
            shutil.rmtree(self.where, ignore_errors=True)


def merge(dst: Any, *, overwrite: bool = False, storage_options: Mapping[str, Any] | None = None,
          keep_parts: bool = False) -> dict[str, Any]:
    """Publish the parts of ``dst`` as one output (all or nothing); returns the conversion summary."""
    import orjson

    from .hub import get_hub
    from .registry import PREDICTION_SET_ID
    from .storage import output_target

    where = parts_location(dst)
    parts = _Parts(where, storage_options)
    names = parts.names()
    metas = [json.loads(parts.read(n)) for n in names if n.startswith("part-") and n.endswith(".json")]
    if not metas:
        raise OutputError("no shard has written its part yet", file=where,
                          hint="run the shards first (--shard I/N), then merge")
    n = metas[0]["shards"]
    prints = {(m["fingerprint"], m["shards"]) for m in metas}
    if len(prints) > 1:
        raise OutputError("the parts come from different plans (the input or the shard count changed)",
                          file=where, hint="remove the parts folder and run the shards again")
    have = {m["index"] for m in metas}
    missing = [i for i in range(n) if i not in have]
    if missing:
        raise OutputError(f"{len(missing)} of {n} shard(s) have not written their part: "
                          f"{', '.join(f'{i}/{n}' for i in missing[:10])}", file=where,
                          hint="run those shards (--shard I/N), then merge again")
    metas.sort(key=lambda m: m["index"])
    to = metas[0]["to"]
    hub = get_hub()
    heads = []
    for m in metas:
        first = next(iter(parts.lines(f"part-{m['index']:05d}.jsonl")))
        heads.append(orjson.loads(first))
    categories, remaps = _merge_categories([h["categories"] for h in heads])
    head = {**heads[0], "categories": categories, "frames": []}
    info = hub.format_info(to)
    target = output_target(dst, kind=info.target, registry=hub.registry, overwrite=overwrite,
                           storage_options=storage_options)
    try:
        target.validate(PREDICTION_SET_ID, head)
        out = target.open(None)
        head_bytes = orjson.dumps(head)
        jsonl = to == "canonical-jsonl"
        out.write(head_bytes + b"\n" if jsonl else head_bytes[:-2])
        first_frame = True
        for m, remap in zip(metas, remaps):
            lines = iter(parts.lines(f"part-{m['index']:05d}.jsonl"))
            next(lines)
            for line in lines:
                if remap:
                    line = _remap_line(line, remap)
                if jsonl:
                    out.write(line)
                else:
                    out.write(line.rstrip(b"\n") if first_frame else b"," + line.rstrip(b"\n"))
                    first_frame = False
        if not jsonl:
            out.write(b"]}")
        out.close()
        paths = target.commit()
    except BaseException:
        target.abort()
        raise
    if not keep_parts:
        parts.remove()
    report = _sum_reports([m["report"] for m in metas])
    return {
        "format": to, "output": os.fspath(dst), "files": len(paths), "from": metas[0]["format"],
        "input": metas[0]["input"], "frames": sum(m["frames"] for m in metas),
        "predictions": sum(m["predictions"] for m in metas), "loss": {}, "categories": len(categories),
        "report": report, "shards": n,
        "workers": {"seconds": [m["seconds"] for m in metas], "peak_rss_mb": [m["peak_rss_mb"] for m in metas],
                    "pids": sorted({m["pid"] for m in metas})},
    }


def _merge_categories(tables: list[list[dict[str, Any]]]) -> tuple[list[dict[str, Any]], list[dict[int, int]]]:
    """The categories of all shards, as one process meeting them in shard order would number them.

    Shards that declared the same table (Lightly's schema, YOLO's names) need no change.
    Otherwise the classes a shard met are replayed by name, in its id order (its order of
    meeting them), giving each an id as the core's category table does: a known name keeps
    its id, a new one gets the next free id. Returns the table and each shard's id map.
    """
    first = tables[0]
    if all(t == first for t in tables):
        return first, [{} for _ in tables]
    merged: dict[int, dict[str, Any]] = {}
    by_name: dict[str, int] = {}
    remaps: list[dict[int, int]] = []
    for table in tables:
        remap: dict[int, int] = {}
        for cat in sorted(table, key=lambda c: c["id"]):
            if cat["name"] in by_name:
                new = by_name[cat["name"]]
            elif cat["id"] not in merged:
                new = cat["id"]
            else:
                new = max(merged) + 1
            if new not in merged:
                merged[new] = {**cat, "id": new}
                by_name[cat["name"]] = new
            if new != cat["id"]:
                remap[cat["id"]] = new
        remaps.append(remap)
    return [merged[k] for k in sorted(merged)], remaps


def _remap_line(line: bytes, remap: dict[int, int]) -> bytes:
    import orjson

    frame = orjson.loads(line)
    for pred in frame.get("predictions", []):
        cid = pred.get("category_id")
        if cid in remap:
            pred["category_id"] = remap[cid]
    return orjson.dumps(frame) + b"\n"


def _sum_reports(reports: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"counts": {}, "unmapped_classes": {}, "skipped": 0, "skipped_examples": [],
                           "lost": {}, "warnings": []}
    for r in reports:
        out["skipped"] += r.get("skipped", 0)
        out["skipped_examples"].extend(r.get("skipped_examples", []))
        for key in ("counts", "unmapped_classes", "lost"):
            for k, v in r.get(key, {}).items():
                out[key][k] = out[key].get(k, 0) + v
        for w in r.get("warnings", []):
            if w not in out["warnings"]:
                out["warnings"].append(w)
    out["skipped_examples"] = out["skipped_examples"][:10]
    return out


# -- the whole conversion ------------------------------------------------------------------------
def convert_sharded(src: Any, dst: Any, *, to: str = "canonical", format: str | None = None,
                    overwrite: bool = False, allow_loss: bool | str | Iterable[str] = False, write_options: Mapping[str, Any] | None = None,
                    storage_options: Mapping[str, Any] | None = None, engine: str = "dask",
                    scheduler: str | None = None, shards: int | None = None, **context: Any) -> dict[str, Any]:
    """Plan, run every shard on ``engine``, merge: :func:`predport.convert` with ``engine=``."""
    from . import storage
    from .hub import get_hub

    if engine not in ENGINES:
        raise ConfigError(f"unknown engine {engine!r}", hint=f"engines: {', '.join(ENGINES)}")
    _check_target(to)
    if write_options:
        raise ConfigError("the canonical writers take no write options")
    allow_empty = context.pop("allow_empty", True)
    for key in ("progress", "context", "id_lookup"):
        if context.pop(key, None) is not None:
            raise ConfigError(f"{key}= cannot be sent to workers; leave it out with engine=")
    del allow_loss  # the canonical formats hold everything
    src = storage.localize(src)
    hub = get_hub()
    if format is None:
        format = hub.pick(src, hub.detect(src, storage_options=storage_options),
                          role=context.get("role", "predictions")).id
    # Refuse an existing output before any shard runs.
    storage.output_target(dst, kind="file", registry=hub.registry, overwrite=overwrite,
                          storage_options=storage_options).abort()
    uri = os.fspath(src)
    n = shards or 8
    shared, files = plan(src, format=format, shards=n, storage_options=storage_options)
    if not allow_empty and not any(files):
        raise PredportError("nothing was read: the source holds no file to read; nothing was written", file=uri,
                            hint="--allow-empty (allow_empty=True) writes an empty output")
    fingerprint = _fingerprint(uri, format, shared, files)
    _Parts(parts_location(dst), storage_options).remove()  # parts of an earlier, unfinished run
    kwargs = dict(src=uri, dst=os.fspath(dst), shards=n, format=format, to=to, storage_options=storage_options,
                  shared=shared, fingerprint=fingerprint, context=context)
    started = time.perf_counter()
    try:
        if engine == "local":
            for i in range(n):
                run_shard(index=i, files=files[i], **kwargs)
            overhead = None
        else:
            overhead = _run_dask(kwargs, files, scheduler)
        summary = merge(dst, overwrite=overwrite, storage_options=storage_options)
    except BaseException:
        _Parts(parts_location(dst), storage_options).remove()
        raise
    summary["engine"] = {"name": engine, "shards": n, "seconds": round(time.perf_counter() - started, 3),
                         "scheduler": scheduler, **(overhead or {})}
    return summary


def run_tasks(fn: Any, tasks: list[tuple[Any, ...]], *, engine: str = "dask", scheduler: str | None = None,
              keys: list[str] | None = None, window: int | None = None) -> tuple[list[Any], dict[str, Any]]:
    """``fn(*args)`` for every ``args`` of ``tasks``: one after the other here (``"local"``) or
    on a Dask cluster (``"dask"``: ``scheduler=ADDRESS``, else a ``LocalCluster`` of 2 processes
    for the call). ``fn`` must be importable by name on the workers. Returns the results in
    task order and ``{"start_seconds", "run_seconds"}``. Dask is imported only here.

    On Dask at most ``window`` tasks (default: twice the cluster's threads) are submitted at
    a time, and each is released as soon as its result is here, so a worker (and the
    scheduler) holds a few tasks' arguments and results whatever the number of tasks:
    a worker's memory does not grow with the input (see docs/scaling.md)."""
    started = time.perf_counter()
    if engine == "local":
        results = [fn(*args) for args in tasks]
        return results, {"start_seconds": 0.0, "run_seconds": round(time.perf_counter() - started, 3)}
    if engine != "dask":
        raise ConfigError(f"unknown engine {engine!r}", hint=f"engines: {', '.join(ENGINES)}")
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ConfigError("engine 'dask' needs dask.distributed", hint="pip install 'predport[dask]'") from None
    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    try:
        ready = time.perf_counter()
        results = _submit_windowed(client, fn, tasks, keys, window)
        done = time.perf_counter()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return results, {"start_seconds": round(ready - started, 3), "run_seconds": round(done - ready, 3)}


def _submit_windowed(client: Any, fn: Any, tasks: list[tuple[Any, ...]], keys: list[str] | None,
                     window: int | None) -> list[Any]:
    """Run ``tasks`` on ``client`` with at most ``window`` in flight, releasing each once done.

    Holding every future until a final ``gather`` kept every finished task — its
    arguments (a shard's file list) and its result — in the worker's state until the end:
    a worker's memory grew with the number of tasks it ran, i.e. with the input."""
    from distributed import as_completed

    if window is None:
        window = 2 * max(1, sum(client.nthreads().values()))
    results: list[Any] = [None] * len(tasks)
    where: dict[str, int] = {}
    pending = iter(range(len(tasks)))
    running = as_completed()

    def submit() -> None:
        i = next(pending, None)
        if i is not None:
            future = client.submit(fn, *tasks[i], key=None if keys is None else keys[i], pure=False)
            where[future.key] = i
            running.add(future)

    for _ in range(max(1, window)):
        submit()
    for future in running:
        results[where.pop(future.key)] = future.result()  # a worker's error is raised here, as it was
        future.release()
        del future
        submit()
    return results


def _run_dask(kwargs: dict[str, Any], files: list[list[Any]], scheduler: str | None) -> dict[str, Any]:
    metas, times = run_tasks(_shard_task, shard_tasks(kwargs, files), engine="dask",
                             scheduler=scheduler,
                             keys=[f"predport-shard-{kwargs['fingerprint']}-{i}" for i in range(len(files))])
    # The scheduler's cost per task: worker time not spent in shards, spread over the tasks.
    work = sum(m["seconds"] for m in metas)
    slots = max(1, len({m["pid"] for m in metas}))
    return {**times, "workers": slots,
            "task_overhead_seconds": round(max(0.0, times["run_seconds"] * slots - work) / max(len(files), 1), 4)}


def shard_tasks(kwargs: dict[str, Any], files: list[list[Any]]) -> list[tuple[Any, ...]]:
    """The arguments each shard's task is sent: the conversion's settings, its index and its
    own files (or byte range) only — never the whole plan, so what one task receives does
    not grow with the input (tests/test_engine.py checks the serialized size)."""
    return [(kwargs, i, files[i]) for i in range(len(files))]


def _shard_task(kwargs: dict[str, Any], index: int, files: list[str]) -> dict[str, Any]:
    """What a Dask worker runs (module-level: workers import it by name)."""
    return run_shard(index=index, files=files, **kwargs)
