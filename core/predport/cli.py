"""The ``predport`` command line.

Exit codes: 0 success; 1 bad input, bad output or a failed validation; 2 wrong
usage; 3 the conversion would lose data (see ``--allow-loss``); 70 an internal
error or a bug in a plugin (rerun with ``PREDPORT_DEBUG=1`` for the traceback);
130 interrupted (Ctrl-C, SIGTERM). An error is one line on stderr, without a
traceback, naming plugin, file, line or JSON path, and field; Python warnings
raised meanwhile (numpy, Pillow) are shown as ``warning`` lines of a successful
summary, never around an error. After an interruption the CLI says what is on disk.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any, Iterable, Iterator, Sequence

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_LOSS, EXIT_INTERNAL = 0, 1, 2, 3, 70


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _kv(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, value = text.split("=", 1)
    return key.strip(), _parse_value(value)


def _kv_text(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` of ``-o``/``-w``: the value stays text, read by the option's declared type."""
    from .options import CliText

    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, value = text.split("=", 1)
    return key.strip(), CliText(value)


def _storage_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--storage-option", dest="storage_options", action="append", type=_kv, default=[],
                        metavar="KEY=VALUE", help="fsspec option for URL inputs/outputs (repeatable), e.g. "
                        "endpoint_url=http://127.0.0.1:9000 or anon=true; credentials otherwise come from the "
                        "usual fsspec/boto configuration")


def _reading_args(parser: argparse.ArgumentParser) -> None:
    """What reading an input takes, for every command that reads one as convert does."""
    parser.add_argument("--from", dest="from_format", metavar="FORMAT", help="input format (default: detect)")
    parser.add_argument("--class-map", metavar="FILE", help="JSON/YAML map of source classes to target ids/names")
    parser.add_argument("--images", metavar="DIR", help="image folder; sizes are read from file headers")
    parser.add_argument("--sizes", metavar="FILE", help="image sizes: {name: [w, h]} or a COCO ground-truth file")
    parser.add_argument("-o", "--option", dest="options", action="append", type=_kv_text, default=[],
                        metavar="KEY=VALUE", help="reader option (repeatable); 'predport formats FORMAT' lists them")


def build_parser(plugin_commands: Sequence[Any] = ()) -> argparse.ArgumentParser:
    """The ``predport`` parser: the built-in commands, then ``plugin_commands`` (staged by the hub)."""
    from . import __version__

    p = argparse.ArgumentParser(
        prog="predport",
        description="Move model predictions between computer-vision formats through one validated canonical model.",
        epilog="Exit codes: 0 ok, 1 error in input or output, 2 usage, 3 would lose data, 70 internal error.",
    )
    p.add_argument("--version", action="version", version=f"predport {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    d = sub.add_parser("detect", help="name the format of a file or folder")
    d.add_argument("path")
    d.add_argument("--explain", action="store_true", help="show every plugin's vote and reason")
    d.add_argument("--json", action="store_true", help="machine-readable output")
    d.add_argument("--role", choices=("predictions", "ground_truth"), default="predictions",
                   help="pick the format for reading as predictions (default) or as ground truth")
    _storage_arg(d)

    c = sub.add_parser("convert", help="convert predictions to another format (default: canonical JSON)")
    c.add_argument("input", help="a file, folder or URL; - reads stdin (a single-file format)")
    c.add_argument("output", help="a file, folder or URL; - writes stdout (a single-file format; the summary "
                                  "then goes to stderr)")
    _reading_args(c)
    c.add_argument("--to", dest="to_format", metavar="FORMAT", default=None,
                   help="output format (default: canonical, or canonical-jsonl for a .jsonl output)")
    c.add_argument("--policy", choices=("fail", "skip", "clamp"), default="fail",
                   help="bad records: fail (default), skip and count, or clamp boxes to the image")
    c.add_argument("-w", "--write-option", dest="write_options", action="append", type=_kv_text, default=[],
                   metavar="KEY=VALUE", help="writer option (repeatable); 'predport formats FORMAT' lists them")
    c.add_argument("--min-score", type=float, metavar="SCORE", default=None,
                   help="keep only predictions with a score of at least SCORE (unscored ones are left out; "
                        "both counted)")
    c.add_argument("--classes", metavar="NAMES", default=None,
                   help="keep only predictions of these classes: names (any case) or ids, comma-separated")
    c.add_argument("--allow-empty", action="store_true",
                   help="write an empty output when nothing is read (default: exit 1, write nothing)")
    c.add_argument("--overwrite", action="store_true", help="replace an existing output")
    c.add_argument("--allow-loss", nargs="?", const="all", default=None, metavar="KINDS",
                   help="convert even if the target cannot hold everything; or only these loss kinds, "
                        "comma-separated (e.g. sizes,attributes; see the guide's loss reports)")
    c.add_argument("--strict-loss", action="store_true",
                   help="refuse lost frame metadata (image sizes, frame attributes) too; by default it is reported")
    c.add_argument("-q", "--quiet", action="store_true", help="no progress and no summary")
    c.add_argument("--json", action="store_true", help="print the summary as JSON")
    _storage_arg(c)
    c.add_argument("--engine", choices=("dask", "local"), default=None,
                   help="shard the conversion: dask (a cluster; default a local one of 2 processes) or local "
                        "(shards one after the other); folders, JSON Lines, canonical JSON and COCO results "
                        "in, canonical out (docs/scaling.md)")
    c.add_argument("--scheduler", metavar="ADDRESS", help="with --engine dask: the scheduler to use (tcp://host:8786)")
    c.add_argument("--shards", type=int, metavar="N", default=None, help="with --engine: how many shards (default 8)")
    c.add_argument("--shard", metavar="I/N", default=None,
                   help="run shard I (0-based) of N only and write its part; then 'predport merge OUTPUT'")

    mg = sub.add_parser("merge", help="publish the parts that 'convert --shard I/N' runs wrote for OUTPUT")
    mg.add_argument("output")
    mg.add_argument("--overwrite", action="store_true", help="replace an existing output")
    mg.add_argument("--keep-parts", action="store_true", help="keep the parts folder after publishing")
    mg.add_argument("-q", "--quiet", action="store_true", help="no summary")
    mg.add_argument("--json", action="store_true", help="print the summary as JSON")
    _storage_arg(mg)

    v = sub.add_parser("validate", help="check a file or folder of any format predport reads and report every "
                                        "error (a prediction set also against its JSON Schema)")
    v.add_argument("file", help="a file, folder or URL")
    _reading_args(v)
    v.add_argument("--role", choices=("predictions", "ground_truth"), default="predictions",
                   help="check it as predictions (default) or as ground truth")
    v.add_argument("--schema", metavar="ID", help="validate a JSON/JSON Lines file against this schema $id "
                   "(default: a prediction set's from its 'schema' key)")
    v.add_argument("--max-errors", type=int, default=20, metavar="N", help="errors shown in full (default 20; "
                   "all are counted)")
    v.add_argument("--json", action="store_true")
    _storage_arg(v)

    f = sub.add_parser("formats", help="list the formats the installed plugins read and write; "
                       "with FORMAT, its read and write options")
    f.add_argument("format", nargs="?", metavar="FORMAT", help="show this format's details and options")
    f.add_argument("--json", action="store_true")

    pl = sub.add_parser("plugins", help="list plugins: name, version, formats, status")
    pl.add_argument("--json", action="store_true")
    pl.add_argument("--probe", metavar="PATH",
                    help="run every plugin's detection on PATH first, so that a plugin that crashes or "
                         "votes nonsense there is shown degraded")

    s = sub.add_parser("schema", help="print a registered JSON Schema (default: the canonical one)")
    s.add_argument("id", nargs="?", help="schema $id (or a unique part of it)")
    s.add_argument("--list", action="store_true", help="list registered schema ids")
    if plugin_commands:
        from .commands import Commands

        for command in plugin_commands:
            Commands.attach(sub, command)
    return p


def _plugin_commands(argv: Sequence[str]) -> list[Any]:
    """Plugin subcommands, unless ``argv`` names a built-in command (a conversion loads no extra hooks).

    A plugin whose registration failed is named on stderr (and shown by ``predport plugins``).
    """
    first = next((a for a in argv if not a.startswith("-")), None)
    if first in COMMANDS:
        return []
    from .hub import get_hub

    hub = get_hub()
    commands = hub.commands(taken=COMMANDS)
    for rec in hub.records.values():
        for reason in rec.reasons:
            if "register_commands" in reason or reason.startswith("command "):
                _err(f"predport: warning: plugin {rec.label}: {reason}")
    return commands


# -- output helpers ---------------------------------------------------------------------
def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")


def _table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    cols = [list(map(str, col)) for col in zip(header, *rows)]
    widths = [max(len(x) for x in col) for col in cols]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip()]
    for row in rows:
        lines.append("  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip())
    return "\n".join(lines)


class Progress:
    """A one-line progress display on stderr (only on a terminal, never with --quiet)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.start = time.monotonic()
        self.last = 0.0

    def wrap(self, frames: Iterable[Any]) -> Iterator[Any]:
        n = preds = 0
        for frame in frames:
            n += 1
            preds += len(frame.predictions)
            if self.enabled:
                now = time.monotonic()
                if now - self.last > 0.2:
                    self.last = now
                    sys.stderr.write(f"\r  {n} frames, {preds} predictions, {now - self.start:.1f} s")
                    sys.stderr.flush()
            yield frame
        if self.enabled and self.last:
            sys.stderr.write("\r" + " " * 60 + "\r")
            sys.stderr.flush()


# -- commands ---------------------------------------------------------------------------
def cmd_detect(args: argparse.Namespace) -> int:
    from .errors import DetectionError
    from .hub import get_hub

    hub = get_hub()
    votes = hub.detect(args.path, storage_options=dict(args.storage_options) or None)
    try:
        info = hub.pick(args.path, votes, role=args.role)
        winner, error = info.id, None
    except DetectionError as exc:
        winner, error = None, exc
    silent = _silent_plugins(hub, votes)
    if args.json:
        _out(json.dumps({"path": args.path, "format": winner, "error": None if error is None else str(error),
                         "votes": [v.to_dict() for v in votes], "silent": silent}, indent=2))
    else:
        if winner is not None:
            best = next(v for v in votes if v.format == winner and v.role in (None, args.role))
            role = f", {best.role.replace('_', ' ')}" if best.role else ""
            _out(f"{winner}  ({best.confidence}{role}: {best.reason})")
        if args.explain or winner is None:
            rows: list[tuple[Any, ...]] = [(v.format, int(v.confidence), (v.role or "-").replace("_", " "), hub.label(v.plugin), v.reason)
                    for v in votes]
            # Every installed plugin has a line: those that did not vote say so (and why, when known).
            rows += [(",".join(p["formats"]) or "-", "-", "-", p["plugin"], p["reason"]) for p in silent]
            if not votes:
                _out("no plugin voted")
            if rows:
                _out(_table(rows, ("format", "confidence", "role", "plugin", "reason")))
        if error is not None:
            _err(f"predport: error: {error}")
    return EXIT_OK if winner is not None else EXIT_ERROR


def _silent_plugins(hub: Any, votes: Sequence[Any]) -> list[dict[str, Any]]:
    """The installed plugins without a vote on this source, with the reason (for ``--explain``)."""
    voted = {v.plugin for v in votes}
    out = []
    for rec in hub.plugins():
        if rec.name in voted:
            continue
        if rec.status in ("failed", "blocked"):
            reason = f"not loaded ({rec.status}): {'; '.join(rec.reasons) or '-'}"
        elif not rec.formats:
            reason = "no vote: declares no format (adds commands only)"
        else:
            reason = "no vote: not its format, or nothing it can tell from the content"
        out.append({"plugin": rec.label, "name": rec.name, "status": rec.status, "formats": list(rec.formats),
                    "reason": reason})
    return out


def cmd_convert(args: argparse.Namespace) -> int:
    to = args.to_format or ("canonical-jsonl" if args.output.lower().endswith(".jsonl") else "canonical")
    storage_options = dict(args.storage_options) or None
    if "-" in (args.input, args.output):
        from .errors import ConfigError

        if args.shard is not None or args.engine is not None:
            raise ConfigError("- (stdin/stdout) cannot be sharded", hint="name a file or folder with --engine/--shard")
        from .stdio import Stdio

        with Stdio(args.input, args.output, to=to, from_format=args.from_format) as io:
            summary = _convert(args, to, storage_options, io.input, io.output,
                               source_uri=args.input if args.input == "-" else None)
            io.emit()
        summary["input"], summary["output"] = args.input, args.output
        _print_summary(args, summary, to)
        return EXIT_OK
    if args.shard is not None:
        return _convert_shard(args, to, storage_options)
    summary = _convert(args, to, storage_options, args.input, args.output)
    _print_summary(args, summary, to)
    return EXIT_OK


def _convert(args: argparse.Namespace, to: str, storage_options: Any, src: str, dst: str,
             source_uri: str | None = None) -> dict[str, Any]:
    from .api import convert

    sharded = {} if args.engine is None else {"engine": args.engine, "scheduler": args.scheduler,
                                               "shards": args.shards}
    progress = Progress(enabled=not args.quiet and not args.json and sys.stderr.isatty() and not sharded)
    filters = {k: v for k, v in (("min_score", args.min_score), ("classes", args.classes)) if v is not None}
    return convert(
        src, dst, to=to, format=args.from_format, overwrite=args.overwrite,
        allow_loss=args.allow_loss or False, strict_loss=args.strict_loss, write_options=dict(args.write_options),
        progress=progress.wrap, read_options=dict(args.options), policy=args.policy, class_map=args.class_map,
        image_sizes=args.sizes, images=args.images, storage_options=storage_options,
        allow_empty=args.allow_empty, **filters, **({k: v for k, v in sharded.items() if v is not None}),
        **({"source_uri": source_uri} if source_uri is not None else {}),
    )


def _convert_shard(args: argparse.Namespace, to: str, storage_options: Any) -> int:
    from .engine import parse_shard, parts_location, run_shard

    index, n = parse_shard(args.shard)
    meta = run_shard(args.input, args.output, index=index, shards=n, format=args.from_format, to=to,
                     storage_options=storage_options,
                     context={"options": dict(args.options), "policy": args.policy, "class_map": args.class_map,
                              "image_sizes": args.sizes, "images": args.images})
    if args.json:
        _out(json.dumps(meta, indent=2))
    elif not args.quiet:
        _out(f"shard   {index}/{n}: {meta['files']} file(s), {meta['frames']} frames, "
             f"{meta['predictions']} predictions -> {parts_location(args.output)}")
        if meta["report"]["skipped"]:
            _out(f"skipped {meta['report']['skipped']} bad record(s)")
        _out(f"when every shard is done: predport merge {args.output}")
    return EXIT_OK


def cmd_merge(args: argparse.Namespace) -> int:
    from .engine import merge

    summary = merge(args.output, overwrite=args.overwrite, storage_options=dict(args.storage_options) or None,
                    keep_parts=args.keep_parts)
    _print_summary(args, summary, summary["format"])
    return EXIT_OK


def _print_summary(args: argparse.Namespace, summary: dict[str, Any], to: str) -> None:
    from .loss import format_loss_table

    # With "-" as the output, stdout carries the data: the summary goes to stderr.
    say = _err if getattr(args, "output", None) == "-" else _out
    if args.json:
        say(json.dumps(summary, indent=2, default=str))
    elif not args.quiet:
        rep = summary["report"]
        say(f"read    {summary['frames']} frames, {summary['predictions']} predictions "
            f"from {summary['input']} [{summary['from']}]")
        if "shards" in summary:
            say(f"shards  {summary['shards']}" + (f" on {summary['engine']['name']}" if "engine" in summary else ""))
        say(f"wrote   {summary['files']} file(s) to {args.output} [{to}]")
        if rep["skipped"]:
            say(f"skipped {rep['skipped']} bad record(s), e.g.:")
            for e in rep["skipped_examples"][:5]:
                say(f"  - {e}")
        for cls, n in sorted(rep["unmapped_classes"].items()):
            say(f"unmapped class {cls!r}: {n} prediction(s) left out (not in the class map)")
        for key, n in sorted(rep["counts"].items()):
            say(f"counted {key}: {n}")
        for w in rep["warnings"]:
            say(f"warning {w}")
        if summary.get("loss"):
            if summary.get("lost_content"):
                say("lost (allowed by --allow-loss):")
            else:
                say("lost frame metadata (the target has no place for it; --strict-loss refuses):")
            say(format_loss_table(summary["loss"]))


def cmd_validate(args: argparse.Namespace) -> int:
    """Check a file or folder of any format predport reads, and report every error found
    (the first ``--max-errors`` in full): a prediction set against its JSON Schema, then
    anything through its reader exactly as ``convert`` reads it, bad records counted, not
    stopped at."""
    from .errors import ConfigError, PredportError
    from .hub import get_hub
    from .registry import PREDICTION_SET_ID

    hub = get_hub()
    storage = dict(args.storage_options) or None
    fmt, schema_id = args.from_format, None
    if fmt is None and args.schema is None:
        fmt = hub.pick(args.file, hub.detect(args.file, storage_options=storage), role=args.role).id
    errors: list[PredportError] = []
    total = frames = 0
    if args.schema is not None or fmt in ("canonical", "canonical-jsonl"):
        schema_id, errors, total = _schema_problems(args, hub.registry, args.max_errors)
    if not total and (schema_id in (None, PREDICTION_SET_ID)):
        read_options = dict(args.options)
        stream = None
        try:
            from .api import open_stream

            stream = open_stream(args.file, format=fmt, policy="skip", role=args.role, read_options=read_options,
                                 class_map=args.class_map, image_sizes=args.sizes, images=args.images,
                                 storage_options=storage)
            fmt = stream.source.format if stream.source is not None else fmt
            for _ in stream.frames:
                frames += 1
        except ConfigError:
            raise  # a usage problem (an option, a class map), not the input's
        except PredportError as err:
            errors.append(err)  # the reader cannot go on: the error is the file's
            total += 1
        if stream is not None and stream.report is not None:
            kept = stream.report.skipped[:max(args.max_errors - len(errors), 0)]
            errors, total = kept + errors, total + stream.report.skipped_total
    errors = errors[:args.max_errors]
    what = schema_id if schema_id is not None and fmt is None else fmt
    if args.json:
        _out(json.dumps({"file": args.file, "format": fmt, "schema": schema_id, "valid": not total,
                         "frames": frames, "errors_total": total, "errors": [e.to_dict() for e in errors]}))
    if not total:
        if not args.json:
            against = f"valid against {schema_id}" if schema_id is not None else f"valid {fmt}"
            _out(f"{args.file}: {against}" + (f" ({frames} frames)" if frames else ""))
        return EXIT_OK
    for problem in errors:
        _err(f"predport: error: {_one_line(str(problem))}")
    more = f"; the first {len(errors)} are shown (--max-errors)" if total > len(errors) else ""
    _err(f"predport: {args.file}: {total} error{'s' if total != 1 else ''} ({what}){more}")
    return EXIT_ERROR


def _schema_problems(args: argparse.Namespace, reg: Any, limit: int) -> tuple[str, list[Any], int]:
    """Validate a JSON or JSON Lines file against its schema (``--schema``, or the prediction
    set's from its ``schema`` key): the schema id, up to ``limit`` errors, and their total."""
    from .errors import ParseError, PredportError
    from .limits import load_json, read_bytes
    from .registry import FRAME_REF, PREDICTION_SET_ID

    raw = read_bytes(args.file, file=args.file)  # a FIFO is refused, a huge file checked against memory
    lines = args.file.lower().endswith(".jsonl")
    docs: list[Any] = []
    numbers: list[int | None] = []
    chunks = [(i, line) for i, line in enumerate(raw.splitlines(), start=1) if line.strip()] if lines else [(None, raw)]
    for lineno, chunk in chunks:
        docs.append(load_json(chunk, file=args.file, line=lineno))  # the depth limit as convert applies it
        numbers.append(lineno)
    if not docs:
        raise ParseError("empty file: nothing to validate", file=args.file)
    schema_id = args.schema
    if schema_id is None:
        head = docs[0]
        if not (isinstance(head, dict) and head.get("schema") == "predport/prediction-set/1"):
            raise PredportError("cannot tell which schema applies; pass --schema ID (see predport schema --list)",
                                file=args.file)
        schema_id = PREDICTION_SET_ID
    else:
        matches = [s for s in reg.ids() if s == schema_id] or [s for s in reg.ids() if schema_id in s]
        if len(matches) != 1:
            raise PredportError(f"schema {schema_id!r} matches {len(matches)} registered ids",
                                hint="see predport schema --list")
        schema_id = matches[0]
    if lines and schema_id == PREDICTION_SET_ID:
        pairs = [(PREDICTION_SET_ID, docs[0], numbers[0])] + [(FRAME_REF, d, n) for d, n in zip(docs[1:], numbers[1:])]
    else:
        pairs = [(schema_id, d, n) for d, n in zip(docs, numbers)]
    errors: list[Any] = []
    total = 0
    for ref, doc, lineno in pairs:
        found, n = reg.problems(ref, doc, file=args.file, line=lineno, limit=max(limit - len(errors), 0))
        errors += found
        total += n
    return schema_id, errors, total  # what the schema cannot say (undeclared category ids) the reader finds


def cmd_formats(args: argparse.Namespace) -> int:
    from .hub import get_hub

    hub = get_hub()
    if args.format:
        return _format_details(hub, hub.format_info(args.format), as_json=args.json)
    fmts = hub.formats()
    if args.json:
        _out(json.dumps([{**f.to_dict(), "plugin": hub.label(f.plugin)} for f in fmts.values()], indent=2))
        return EXIT_OK
    rows = [
        (f.id, f.title, ("r" if f.can_read else "-") + ("w" if f.can_write else "-"), hub.label(f.plugin),
         ",".join(sorted(f.holds)) if f.can_write else "")
        for f in fmts.values()
    ]
    _out(_table(rows, ("format", "title", "rw", "plugin", "writer holds")))
    return EXIT_OK


def _format_details(hub: Any, info: Any, *, as_json: bool) -> int:
    """``predport formats FORMAT``: what the format is, and every option its reader and writer take."""
    if as_json:
        _out(json.dumps({**info.to_dict(), "plugin": hub.label(info.plugin)}, indent=2, default=str))
        return EXIT_OK
    rw = " and ".join(w for w, ok in (("read", info.can_read), ("written", info.can_write)) if ok)
    _out(f"{info.id}  {info.title}")
    _out(f"plugin  {hub.label(info.plugin)}; {rw or 'neither read nor written'}; writes one {info.target}")
    if info.can_write:
        _out(f"writer holds  {', '.join(sorted(info.holds)) or '-'}")
    for mode, flag, can, declared in (("read", "-o", info.can_read, info.read_options),
                                      ("write", "-w", info.can_write, info.write_options)):
        if not can:
            continue
        _out("")
        if declared is None:
            _out(f"{mode} options ({flag} KEY=VALUE): not declared by the plugin; passed to it as given")
        elif not declared:
            _out(f"{mode} options: none")
        else:
            _out(f"{mode} options ({flag} KEY=VALUE):")
            rows = [(o.name, o.type_hint() if o.type in ("enum", "bool") else o.type,
                     "-" if o.default is None else json.dumps(o.default), o.help) for o in declared]
            _out(_table(rows, ("option", "type", "default", "help")))
    return EXIT_OK


def cmd_plugins(args: argparse.Namespace) -> int:
    from .hub import get_hub

    hub = get_hub()
    hub.commands(taken=COMMANDS)  # a plugin whose command registration fails shows as degraded
    if args.probe:
        hub.detect(args.probe)
    records = hub.plugins()
    if args.json:
        _out(json.dumps([r.to_dict() for r in records], indent=2))
        return EXIT_OK
    rows = [(r.name, r.version, r.origin, r.status, ",".join(r.formats) or "-", "; ".join(r.reasons))
            for r in records]
    _out(_table(rows, ("plugin", "version", "origin", "status", "formats", "reason")))
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    from .errors import PredportError
    from .hub import get_hub
    from .registry import PREDICTION_SET_ID

    reg = get_hub().registry
    if args.list:
        for sid in reg.ids():
            _out(f"{sid}  ({reg.owner(sid)})")
        return EXIT_OK
    wanted = args.id or PREDICTION_SET_ID
    matches = [s for s in reg.ids() if s == wanted] or [s for s in reg.ids() if wanted in s]
    if len(matches) != 1:
        raise PredportError(f"{wanted!r} matches {len(matches)} schema ids", hint="see predport schema --list")
    _out(json.dumps(reg.get(matches[0]), indent=2))
    return EXIT_OK


COMMANDS = {
    "detect": cmd_detect,
    "convert": cmd_convert,
    "merge": cmd_merge,
    "validate": cmd_validate,
    "formats": cmd_formats,
    "plugins": cmd_plugins,
    "schema": cmd_schema,
}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_plugin_commands(argv))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help, --version and usage errors
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    import signal
    import warnings

    from .errors import LossError, OptionError, PluginError, PredportError
    from .hub import INTERRUPTS
    from .output import output_state

    def _terminated(signum: int, frame: Any) -> None:
        # Turn SIGINT and SIGTERM into an exception so that staged output is rolled back,
        # not left behind; remember that a signal (not a plugin) raised it.
        INTERRUPTS["received"] = True
        raise KeyboardInterrupt

    previous: dict[int, Any] = {}
    try:
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, _terminated)
        INTERRUPTS.update(tracked=True, received=False)
    except ValueError:  # not the main thread (an embedding application): leave signals alone
        pass
    as_json = bool(getattr(args, "json", False))
    debug = bool(os.environ.get("PREDPORT_DEBUG"))
    caught = warnings.catch_warnings(record=True)
    seen = caught.__enter__()
    if not debug:
        warnings.simplefilter("default")
    try:
        plugin_command = getattr(args, "_plugin_command", None)
        if plugin_command is not None:
            result = plugin_command.run(args)
            code = EXIT_OK if result is None else int(result)
        else:
            code = COMMANDS[args.command](args)
        if seen and not getattr(args, "quiet", False) and not as_json:
            for w in seen:
                _err(f"warning: {w.category.__name__}: {w.message}")
        return code
    except LossError as err:
        from .loss import format_loss_table

        _err(f"predport: error: {err}")
        _err(format_loss_table(err.report or {}))
        if as_json:
            _out(json.dumps({"error": err.to_dict(), "loss": err.report or {}}))
        return EXIT_LOSS
    except PredportError as err:
        if debug:
            raise
        _err(f"predport: error: {_one_line(str(err))}")
        if as_json:
            _out(json.dumps({"error": err.to_dict()}))
        # A plugin's own bug is an internal error, as the guide says; a bad -o/-w is usage; bad input is 1.
        if isinstance(err, PluginError):
            return EXIT_INTERNAL
        return EXIT_USAGE if isinstance(err, OptionError) else EXIT_ERROR
    except KeyboardInterrupt as exc:
        state = output_state(exc)
        where = getattr(exc, "predport_output", None)
        if state == "written":
            _err(f"predport: interrupted after the output was complete; {where} is the new output")
        elif state == "pending":
            _err(f"predport: interrupted twice while the previous output of {where} was being restored; "
                 "the next predport run into it finishes restoring it")
        else:
            _err("predport: interrupted; nothing was written")
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # a bug: short message, traceback only on request
        if debug:
            raise
        _err(f"predport: internal error: {_one_line(f'{type(exc).__name__}: {exc}')} "
             "(rerun with PREDPORT_DEBUG=1 for details)")
        return EXIT_INTERNAL
    finally:
        caught.__exit__(None, None, None)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        INTERRUPTS.update(tracked=False, received=False)


def _one_line(text: str) -> str:
    """An error message on one line (a plugin's message may hold newlines)."""
    return " ".join(text.split()) if "\n" in text or "\r" in text else text


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
