"""Test helpers for predport plugins: the corpus helpers and the conformance kit.

Opt-in: importing predport registers nothing with pytest (there is no ``pytest11``
entry point). A plugin's test suite uses the kit in one of three ways::

    # 1. call it (any test runner)
    from predport.testing import check_plugin
    check_plugin(predport_yolo.hooks, samples={"yolo": [folder]}, malformed={"yolo": [bad]})

    # 2. fixtures for one test module (or a conftest): import them by name
    from predport.testing import predport_conformance  # noqa: F401

    # 3. fixtures for the whole run:  python -m pytest -p predport.testing

``corpus_dir()`` finds the shared corpus of real third-party files
(``../shared/corpus`` beside the repository, or ``$PREDPORT_CORPUS``);
``require_corpus()`` skips the calling test when it is absent.

The conformance rules (ids as reported by :class:`ConformanceError`) are listed in
:data:`RULES`; ``docs/tutorial.md`` explains each one and how to satisfy it.
"""
from __future__ import annotations

import json
import math
import os
import re
import struct
import subprocess
import sys
import tempfile
import types
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

__all__ = [
    "private_api_uses",
    "corpus_dir",
    "require_corpus",
    "RULES",
    "HEAVY_MODULES",
    "Sample",
    "Check",
    "ConformanceReport",
    "ConformanceError",
    "check_plugin",
    "write_foreign_samples",
    "compare_sets",
]


def corpus_dir(*parts: str) -> Path | None:
    """The shared corpus folder (or a path inside it), or ``None`` when it is not there."""
    env = os.environ.get("PREDPORT_CORPUS")
    roots: list[Path] = []
    if env:
        roots.append(Path(env))
    else:
        here = Path(__file__).resolve()
        for start in (Path.cwd().resolve(), here):
            for anc in [start, *start.parents]:
                roots.append(anc / "shared" / "corpus")
    for root in roots:
        if root.is_dir():
            p = root.joinpath(*parts)
            return p if p.exists() else None
    return None


def require_corpus(*parts: str) -> Path:
    """:func:`corpus_dir`, or skip the test (pytest) when the corpus is absent."""
    p = corpus_dir(*parts)
    if p is None:
        import pytest

        pytest.skip("../shared/corpus is not present (a fresh clone has none)")
    return p


# -- the conformance kit ---------------------------------------------------------------

#: Every rule the kit checks, by id, in the order it checks them.
RULES: dict[str, str] = {
    "register": "the hub accepts the plugin: known hook names, formats() returns FormatInfo, no id conflicts",
    "detect-own": "every readable format is detected (and picked) on its own samples",
    "no-foreign-claims": "no vote above EXTENSION on other formats' samples (built-in and given)",
    "schema-valid": "frames read from the samples validate against the canonical schema",
    "writer-roundtrip": "read, write in the same format, read back: every field in FormatInfo.holds is equal",
    "malformed-located-error": "malformed samples raise a predport error naming the file and line/JSON path/field",
    "cheap-import": "importing the hooks module does not import numpy, cv2, PIL, pycocotools or pydantic",
}

#: Modules a hooks module must not import at module level.
HEAVY_MODULES = ("numpy", "cv2", "PIL", "pycocotools", "pydantic")


@dataclass(frozen=True)
class Sample:
    """One sample input and how to read it.

    ``options``, ``images`` and ``image_sizes`` are what ``predport.load`` accepts
    (a YOLO folder needs image sizes, for instance); ``write_options`` are handed
    to the writer in the round trip.
    """

    path: str | os.PathLike[str]
    options: Mapping[str, Any] | None = None
    images: str | os.PathLike[str] | None = None
    image_sizes: Any = None
    write_options: Mapping[str, Any] | None = None

    def context(self, *, policy: str = "fail") -> Any:
        from .api import make_context

        return make_context(options=self.options, policy=policy, images=self.images, image_sizes=self.image_sizes)


@dataclass
class Check:
    """The outcome of one rule on one subject: ``status`` is ``pass``, ``fail`` or ``skip``."""

    rule: str
    subject: str
    status: str
    detail: str = ""

    def __str__(self) -> str:
        text = f"[{self.rule}] {self.subject}: {self.status}"
        return f"{text} - {self.detail}" if self.detail else text


@dataclass
class ConformanceReport:
    """Everything :func:`check_plugin` checked, with the outcome of each check."""

    plugin: str
    formats: list[str] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)

    def add(self, rule: str, subject: str, status: str, detail: str = "") -> Check:
        if rule not in RULES:
            raise ValueError(f"unknown rule {rule!r}")
        check = Check(rule, subject, status, detail)
        self.checks.append(check)
        return check

    def ok(self, rule: str, subject: str, detail: str = "") -> None:
        self.add(rule, subject, "pass", detail)

    def fail(self, rule: str, subject: str, detail: str) -> None:
        self.add(rule, subject, "fail", detail)

    def skip(self, rule: str, subject: str, detail: str) -> None:
        self.add(rule, subject, "skip", detail)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.status == "fail"]

    @property
    def failed_rules(self) -> set[str]:
        return {c.rule for c in self.failures}

    @property
    def passed(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        """One line per check, failures first."""
        order = {"fail": 0, "skip": 1, "pass": 2}
        lines = [f"conformance of {self.plugin} (formats: {', '.join(self.formats) or 'none'})"]
        lines += [f"  {c}" for c in sorted(self.checks, key=lambda c: order[c.status])]
        return "\n".join(lines)

    def raise_for_failures(self) -> "ConformanceReport":
        if self.failures:
            raise ConformanceError(self)
        return self


class ConformanceError(AssertionError):
    """A plugin broke one or more rules; ``rules`` holds their ids, ``report`` every check."""

    def __init__(self, report: ConformanceReport) -> None:
        self.report = report
        self.rules = report.failed_rules
        lines = [f"{report.plugin} breaks {len(self.rules)} conformance rule(s): {', '.join(sorted(self.rules))}"]
        lines += [f"  {c}" for c in report.failures]
        super().__init__("\n".join(lines))


# -- built-in samples of other formats ------------------------------------------------

_KITTI_RESULT = (
    b"Car -1 -1 -10 598.00 155.00 630.00 190.00 -1 -1 -1 -1000 -1000 -1000 -10 0.93 \n"
    b"Pedestrian -1 -1 -10 10.50 140.20 40.10 210.00 -1 -1 -1 -1000 -1000 -1000 -10 0.41 \n"
)
_COCO_RESULTS = (
    b'[{"image_id": 397133, "category_id": 18, "bbox": [258.2, 41.3, 348.3, 243.8], "score": 0.93},\n'
    b' {"image_id": 397133, "category_id": 1, "bbox": [10.0, 20.0, 30.0, 40.0], "score": 0.5}]\n'
)
_CANONICAL = (
    b'{"schema": "predport/prediction-set/1", "source": null,'
    b' "categories": [{"id": 1, "name": "car", "external_id": null, "attributes": {}}],'
    b' "frames": [{"data_id": "a.jpg", "frame_index": null, "width": 640, "height": 480,'
    b' "predictions": [{"category_id": 1, "score": 0.9, "box": [10.0, 20.0, 30.0, 40.0]}]}]}\n'
)
_CANONICAL_JSONL = (
    b'{"schema": "predport/prediction-set/1", "source": null,'
    b' "categories": [{"id": 1, "name": "car", "external_id": null, "attributes": {}}], "frames": []}\n'
    b'{"data_id": "a.jpg", "frame_index": null, "width": 640, "height": 480,'
    b' "predictions": [{"category_id": 1, "score": 0.9, "box": [10.0, 20.0, 30.0, 40.0]}]}\n'
)
_AQUARIUM = (
    b'{"task_id": "img_0001", "type": "Inference", "custom_metrics": {}, "inference_metadata":'
    b' {"visualization_assets": {}, "user_metadata": {}}, "inference_data": [{"uuid": "img_0001_inf_0",'
    b' "linked_labels": [], "label_type": "BBOX_2D", "label": "car", "label_coordinate_frame": "DEFAULT",'
    b' "attributes": {"top": 12.0, "left": 40.0, "width": 55.5, "height": 30.0, "confidence": 0.87},'
    b' "reuse_latest_embedding": false, "change": "ADD"}], "reuse_latest_embedding": false, "change": "ADD"}\n'
)
_LIGHTLY = {
    "tasks.json": b'["vehicles"]',
    "vehicles/schema.json": b'{"task_type": "object-detection", "categories": [{"id": 0, "name": "car"},'
    b' {"id": 1, "name": "person"}]}',
    "vehicles/cam0/000001.json": b'{"file_name": "cam0/000001.jpg", "predictions": [{"category_id": 0,'
    b' "bbox": [140, 100, 80, 90], "score": 0.8, "probabilities": [0.8, 0.2]}]}',
}
_YOLO = b"0 0.5 0.5 0.25 0.3 0.91\n2 0.1 0.2 0.05 0.08 0.42\n"


def _png_gray8(rows: list[list[int]]) -> bytes:
    """An 8-bit greyscale PNG (mode ``L``) from rows of pixel values, with the standard library only."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    height, width = len(rows), len(rows[0])
    raw = b"".join(b"\x00" + bytes(r) for r in rows)  # filter type 0 on every scanline
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def _class_index_mask() -> bytes:
    rows = [[0] * 16 for _ in range(16)]
    for y in range(2, 6):
        for x in range(2, 6):
            rows[y][x] = 1
    for y in range(8, 13):
        for x in range(9, 14):
            rows[y][x] = 2
    return _png_gray8(rows)


def write_foreign_samples(dest: str | os.PathLike[str]) -> dict[str, Path]:
    """Write one tiny sample of each known format below ``dest``; returns ``{format id: path}``.

    The samples are written from bytes kept in this module (no corpus files):
    a COCO results list, a KITTI results folder, canonical JSON and JSON Lines, a
    Lightly predictions folder, an Aquarium JSONL line, a folder with a class-index
    PNG mask, and a YOLO labels folder.
    """
    root = Path(dest)
    root.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}

    def put(rel: str, data: bytes) -> Path:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        return p

    out["coco"] = put("coco/detections_results.json", _COCO_RESULTS)
    put("kitti/data/000042.txt", _KITTI_RESULT)
    out["kitti"] = root / "kitti" / "data"
    out["canonical"] = put("canonical/predictions.json", _CANONICAL)
    out["canonical-jsonl"] = put("canonical-jsonl/predictions.jsonl", _CANONICAL_JSONL)
    for rel, data in _LIGHTLY.items():
        put(f"lightly/.lightly/predictions/{rel}", data)
    out["lightly"] = root / "lightly" / ".lightly" / "predictions"
    out["aquarium"] = put("aquarium/inferences.jsonl", _AQUARIUM)
    put("masks/street_001.jpg.png", _class_index_mask())
    out["masks"] = root / "masks"
    put("yolo/000001.txt", _YOLO)
    out["yolo"] = root / "yolo"
    return out


# -- comparing two prediction sets ------------------------------------------------------

def _close(a: Any, b: Any, tol: float) -> bool:
    """Nested equality where numbers may differ by ``tol`` (and NaN equals NaN)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return abs(a - b) <= tol
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_close(x, y, tol) for x, y in zip(a, b))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return set(a) == set(b) and all(_close(a[k], b[k], tol) for k in a)
    return a == b


def _same_score(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return float(a) == float(b)


def compare_sets(
    expected: Any, actual: Any, *, holds: Iterable[str], tolerance: float = 1e-6, max_diffs: int = 10
) -> list[str]:
    """Differences between two :class:`~predport.PredictionSet` in the fields ``holds`` names.

    Frames are matched by ``data_id`` (and ``frame_index`` when held);
    predictions are compared in order; categories by name; boxes, polygons and
    other geometry within ``tolerance`` pixels; scores exactly. Returns at most
    ``max_diffs`` human-readable differences (empty: equal).
    """
    holds = set(holds)
    diffs: list[str] = []

    def key(frame: Any) -> tuple[str, int | None]:
        return (frame.data_id, frame.frame_index if "frame_index" in holds else None)

    def names(pset: Any) -> dict[int, str]:
        return {c.id: c.name for c in pset.categories}

    exp_names, act_names = names(expected), names(actual)
    got = {key(f): f for f in actual.frames}
    want = {key(f): f for f in expected.frames}
    missing = [k for k in want if k not in got]
    extra = [k for k in got if k not in want]
    if missing:
        diffs.append(f"frames missing after the round trip: {missing[:5]}")
    if extra:
        diffs.append(f"frames that were not there before: {extra[:5]}")
    fields = [f for f in ("box", "polygon", "mask", "keypoints", "probabilities", "box3d", "attributes") if f in holds]
    for k, fa in want.items():
        fb = got.get(k)
        if fb is None:
            continue
        where = f"frame {k[0]!r}" + (f" #{k[1]}" if k[1] is not None else "")
        if "size" in holds and (fa.width, fa.height) != (None, None) and (fa.width, fa.height) != (fb.width, fb.height):
            diffs.append(f"{where}: size {fa.width}x{fa.height} became {fb.width}x{fb.height}")
        if "attributes" in holds and fa.attributes != fb.attributes:
            diffs.append(f"{where}: frame attributes {fa.attributes!r} became {fb.attributes!r}")
        ra, rb = fa.predictions.to_records(), fb.predictions.to_records()
        if len(ra) != len(rb):
            diffs.append(f"{where}: {len(ra)} predictions became {len(rb)}")
            continue
        for i, (a, b) in enumerate(zip(ra, rb)):
            na = exp_names.get(a["category_id"], f"id {a['category_id']}")
            nb = act_names.get(b["category_id"], f"id {b['category_id']}")
            if na != nb:
                diffs.append(f"{where} prediction {i}: category {na!r} became {nb!r}")
            if "score" in holds and not _same_score(a.get("score"), b.get("score")):
                diffs.append(f"{where} prediction {i}: score {a.get('score')!r} became {b.get('score')!r}")
            for name in fields:
                va, vb = a.get(name), b.get(name)
                if name == "attributes":
                    va, vb = va or {}, vb or {}
                if va is None and vb is None:
                    continue
                if va is None or vb is None or not _close(va, vb, tolerance):
                    diffs.append(f"{where} prediction {i}: {name} {va!r} became {vb!r}")
            if len(diffs) >= max_diffs:
                return diffs[:max_diffs]
    return diffs[:max_diffs]


# -- the checks ---------------------------------------------------------------------------

def _as_sample(item: Any) -> Sample:
    return item if isinstance(item, Sample) else Sample(item)


def _samples_by_format(given: Mapping[str, Iterable[Any]] | None) -> dict[str, list[Sample]]:
    out: dict[str, list[Sample]] = {}
    for fmt, items in (given or {}).items():
        if isinstance(items, (str, os.PathLike, Sample)):
            items = [items]
        out[fmt] = [_as_sample(i) for i in items]
    return out


def _module_name(plugin: Any) -> str | None:
    if isinstance(plugin, types.ModuleType):
        return plugin.__name__
    return getattr(type(plugin), "__module__", None)


def _short_names(name: str, module: str | None) -> set[str]:
    """Names that identify the plugin besides its format ids (``predport_yolo.hooks`` -> ``yolo``)."""
    out = {name}
    for text in (name, module or ""):
        m = re.match(r"^predport[_-]([A-Za-z0-9_]+)(\.hooks)?$", text)
        if m:
            out |= {m.group(1), m.group(1).replace("_", "-")}
    return out


def _where(err: Any) -> str:
    return str(err) if str(err) else type(err).__name__


def _frames_of(hub: Any, sample: Sample, fmt: str, *, policy: str = "fail") -> tuple[Any, Any]:
    """Read ``sample`` as ``fmt`` through the hub: ``(frames list, stream)``."""
    stream = hub.read(sample.path, format=fmt, context=sample.context(policy=policy))
    return list(stream.frames), stream


def _non_finite(obj: Any, path: str = "$") -> str | None:
    if isinstance(obj, float) and not math.isfinite(obj):
        return path
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            found = _non_finite(v, f"{path}.{k}")
            if found:
                return found
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            found = _non_finite(v, f"{path}[{i}]")
            if found:
                return found
    return None


_IMPORT_PROBE = r"""
import importlib, json, sys, time
name, heavy = sys.argv[1], sys.argv[2].split(",")
import predport
before = set(sys.modules)
start = time.perf_counter()
try:
    importlib.import_module(name)
except ModuleNotFoundError as exc:
    print(json.dumps({"missing": exc.name == name or name.startswith((exc.name or "?") + "."), "error": str(exc)}))
    raise SystemExit(0)
except Exception as exc:
    print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
    raise SystemExit(0)
seconds = time.perf_counter() - start
print(json.dumps({"heavy": [m for m in heavy if m in sys.modules and m not in before], "seconds": seconds}))
"""


def _probe_import(module: str) -> dict[str, Any]:
    """Import ``module`` in a fresh interpreter that sees the same ``sys.path``; report heavy imports."""
    env = dict(os.environ)
    paths = [p for p in sys.path if p and os.path.isdir(p)]
    env["PYTHONPATH"] = os.pathsep.join(paths + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    proc = subprocess.run(
        [sys.executable, "-c", _IMPORT_PROBE, module, ",".join(HEAVY_MODULES)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        return {"error": f"the probe failed (exit {proc.returncode}): {proc.stderr.strip()[-500:]}"}
    return json.loads(lines[-1])


def check_plugin(
    plugin: Any,
    *,
    samples: Mapping[str, Any] | None = None,
    malformed: Mapping[str, Any] | None = None,
    foreign: Iterable[Any] | Mapping[str, Any] = (),
    roundtrip: bool = True,
    builtin_foreign: bool = True,
    hooks_module: str | None = None,
    name: str | None = None,
    workdir: str | os.PathLike[str] | None = None,
    tolerance: float = 1e-6,
    require_samples: bool = True,
    raise_on_failure: bool = True,
) -> ConformanceReport:
    """Check ``plugin`` (a hooks module or object) against the plugin contract.

    * ``samples`` — ``{format id: [path or Sample, ...]}``: good inputs of each
      readable format the plugin declares (every readable format needs one).
    * ``malformed`` — ``{format id: [path or Sample, ...]}``: inputs of the format
      with a broken record; each must raise a located predport error.
    * ``foreign`` — paths (or ``{label: [paths]}``) of other formats that the plugin
      must not claim, on top of the kit's built-in samples (``builtin_foreign``).
    * ``roundtrip`` — write each sample in its own format and read it back.
    * ``hooks_module`` — the module to import for ``cheap-import`` (default: the
      plugin's own module; in-process plugins that cannot be imported by name
      are skipped for that rule).
    * ``workdir`` — where to put samples and round-trip outputs (default: a temp dir).
    * ``tolerance`` — pixels two coordinates may differ by in the round trip.
    * ``require_samples`` — a readable format without samples fails ``detect-own``
      (``False``: it is skipped, for a partial check).

    The plugin is registered on an isolated :class:`~predport.Hub` (no entry
    points, only the built-in canonical plugin beside it), which is installed as
    the process-wide hub while the checks run. Returns the
    :class:`ConformanceReport`; raises :class:`ConformanceError` listing every
    failed rule unless ``raise_on_failure=False``.
    """
    from .hub import Hub, reset_hub

    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="predport-conformance-") as tmp:
            return check_plugin(
                plugin, samples=samples, malformed=malformed, foreign=foreign, roundtrip=roundtrip,
                builtin_foreign=builtin_foreign, hooks_module=hooks_module, name=name, workdir=tmp,
                tolerance=tolerance, require_samples=require_samples, raise_on_failure=raise_on_failure,
            )
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    hub = Hub(load_entry_points=False, strict=False, blocked=())
    hub.blocked = set()  # PREDPORT_BLOCK in the environment must not block the plugin under test
    if hub.pm.is_registered(plugin):  # the built-in canonical plugin checks itself
        name = str(hub.pm.get_name(plugin))
    else:
        name = name or _module_name(plugin) or type(plugin).__name__
        hub.register(plugin, name=name, origin="in-process")
    # Only a module is a "hooks module"; an in-process object is checked when hooks_module names one.
    module = hooks_module or (plugin.__name__ if isinstance(plugin, types.ModuleType) else None)
    report = ConformanceReport(plugin=name)
    previous = reset_hub(hub)
    try:
        _run_checks(
            hub, plugin, name, module, report,
            samples=_samples_by_format(samples), malformed=_samples_by_format(malformed),
            foreign=foreign, roundtrip=roundtrip, builtin_foreign=builtin_foreign,
            explicit_module=hooks_module is not None, work=work, tolerance=tolerance,
            require_samples=require_samples,
        )
    finally:
        reset_hub(previous)  # None: the process-wide hub is rebuilt on next use
    if raise_on_failure:
        report.raise_for_failures()
    return report


def _run_checks(
    hub: Any,
    plugin: Any,
    name: str,
    module: str | None,
    report: ConformanceReport,
    *,
    samples: dict[str, list[Sample]],
    malformed: dict[str, list[Sample]],
    foreign: Iterable[Any] | Mapping[str, Any],
    roundtrip: bool,
    builtin_foreign: bool,
    explicit_module: bool,
    work: Path,
    tolerance: float,
    require_samples: bool,
) -> None:
    from .format_detection import Confidence
    from .errors import PredportError

    # register ---------------------------------------------------------------------
    record = hub.records.get(name)
    if record is None or record.status != "ok":
        reasons = "; ".join(record.reasons) if record else "not registered"
        report.fail("register", name, reasons)
        return
    try:
        all_formats = hub.formats()
    except PredportError as err:
        report.fail("register", name, _where(err))
        return
    hub.registry  # build the schema registry now: a failing schemas() hook is a registration problem
    record = hub.records[name]
    own = {fid: info for fid, info in all_formats.items() if info.plugin == name}
    report.formats = sorted(own)
    if record.status != "ok":
        report.fail("register", name, "; ".join(record.reasons))
        return
    if not own:
        report.fail("register", name, "formats() declares no format")
        return
    for fid in set(samples) | set(malformed):
        if fid not in own:
            report.fail("register", fid, f"samples given for {fid!r}, which the plugin does not declare")
    report.ok("register", name, f"formats: {', '.join(sorted(own))}")
    hub.strict = True  # from here on a plugin exception inside detection is raised, not just noted

    # detect-own -------------------------------------------------------------------
    for fid, info in own.items():
        if not info.can_read:
            continue
        if not samples.get(fid):
            text = f"no sample given for readable format {fid!r} (samples={{{fid!r}: [...]}})"
            if require_samples:
                report.fail("detect-own", fid, text)
            else:
                report.skip("detect-own", fid, text)
        for sample in samples.get(fid, []):
            subject = f"{fid}: {sample.path}"
            try:
                votes = hub.detect(sample.path)
                picked = hub.pick(sample.path, votes)
            except PredportError as err:
                report.fail("detect-own", subject, _where(err))
                continue
            if picked.id != fid:
                listing = "; ".join(f"{v.format} {v.confidence} ({v.reason})" for v in votes) or "no votes"
                report.fail("detect-own", subject, f"detected as {picked.id!r}, not {fid!r}: {listing}")
            else:
                top = next(v for v in votes if v.format == fid)
                if not str(top.reason).strip():
                    report.fail("detect-own", subject, "the vote gives no reason")
                else:
                    report.ok("detect-own", subject, f"{top.confidence}: {top.reason}")

    # no-foreign-claims ------------------------------------------------------------
    shorts = _short_names(name, module)
    foreign_items: list[tuple[str, Path]] = []
    if builtin_foreign:
        for label, path in write_foreign_samples(work / "foreign").items():
            if label in own or label in shorts:
                continue  # the plugin's own kind of input
            foreign_items.append((label, path))
    if isinstance(foreign, Mapping):
        for label, paths in foreign.items():
            for p in [paths] if isinstance(paths, (str, os.PathLike)) else paths:
                foreign_items.append((str(label), Path(p)))
    else:
        foreign_items += [("given", Path(p)) for p in foreign]
    for label, path in foreign_items:
        subject = f"{label}: {path}"
        try:
            votes = hub.detect(path)
        except PredportError as err:
            report.fail("no-foreign-claims", subject, f"detection raised: {_where(err)}")
            continue
        claims = [v for v in votes if v.plugin == name and v.confidence > Confidence.EXTENSION]
        if claims:
            text = "; ".join(f"{v.format} {v.confidence} ({v.reason})" for v in claims)
            report.fail("no-foreign-claims", subject, f"claimed: {text}")
        else:
            report.ok("no-foreign-claims", subject)

    from .context import Context

    # schema-valid (and collect what was read, for the round trip) ----------------------
    from .model import Frame, PredictionSet
    from .registry import FRAME_REF, PREDICTION_SET_ID

    registry = hub.registry
    read_sets: list[tuple[str, Sample, Any]] = []
    for fid, info in own.items():
        if not info.can_read:
            continue
        for sample in samples.get(fid, []):
            subject = f"{fid}: {sample.path}"
            try:
                frames, stream = _frames_of(hub, sample, fid)
            except PredportError as err:
                report.fail("schema-valid", subject, f"reading a good sample failed: {_where(err)}")
                continue
            problems = []
            cats = stream.categories.as_list()
            cat_ids = {c.id for c in cats}
            for i, frame in enumerate(frames):
                if not isinstance(frame, Frame):
                    problems.append(f"frame {i} is a {type(frame).__name__}, not predport.Frame")
                    continue
                obj = frame.to_json_dict()
                try:
                    registry.validate(FRAME_REF, obj, base_path=("frames", i))
                except PredportError as err:
                    problems.append(_where(err))
                    continue
                bad_number = _non_finite(obj, f"$.frames[{i}]")
                if bad_number:
                    problems.append(f"{bad_number} is not a finite number")
                unknown = set(frame.predictions.category_id.tolist()) - cat_ids
                if unknown:
                    problems.append(f"frame {frame.data_id!r} uses category ids {sorted(unknown)} missing from the table")
                if len(problems) >= 5:
                    break
            if not problems:
                head = {"schema": "predport/prediction-set/1",
                        "source": None if stream.source is None else stream.source.model_dump(),
                        "categories": [c.model_dump() for c in cats], "frames": []}
                try:
                    registry.validate(PREDICTION_SET_ID, head)
                except PredportError as err:
                    problems.append(_where(err))
            if problems:
                report.fail("schema-valid", subject, "; ".join(problems[:5]))
                continue
            try:
                collected = PredictionSet(source=stream.source, categories=cats, frames=frames)
            except Exception as exc:  # pydantic's ValidationError: the model refuses what was read
                report.fail("schema-valid", subject, f"not a valid PredictionSet: {exc}")
                continue
            report.ok("schema-valid", subject, f"{len(frames)} frames")
            read_sets.append((fid, sample, collected))

    # writer-roundtrip ---------------------------------------------------------------------
    for n, (fid, sample, first) in enumerate(read_sets):
        info = own[fid]
        subject = f"{fid}: {sample.path}"
        if not roundtrip:
            report.skip("writer-roundtrip", subject, "roundtrip=False")
            continue
        if not info.can_write:
            report.skip("writer-roundtrip", subject, f"{fid!r} is read-only")
            continue
        suffix = next((p[1:] for p in info.patterns if p.startswith("*.")), "")
        dest = work / "roundtrip" / f"{n}-{fid}{suffix if info.target == 'file' else ''}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            wctx = Context(options=sample.write_options, images=sample.images, image_sizes=sample.image_sizes)
            summary = hub.write(first, dest, format=fid, context=wctx, allow_loss=True)
            again, _stream = _frames_of(hub, Sample(dest, options=sample.options, images=sample.images,
                                                    image_sizes=sample.image_sizes), fid)
            second = PredictionSet(categories=_stream.categories.as_list(), frames=again)
        except PredportError as err:
            report.fail("writer-roundtrip", subject, _where(err))
            continue
        diffs = compare_sets(first, second, holds=info.holds, tolerance=tolerance)
        if diffs:
            report.fail("writer-roundtrip", subject, "; ".join(diffs))
        else:
            lost = summary.get("loss") or {}
            report.ok("writer-roundtrip", subject, f"held: {', '.join(sorted(info.holds))}"
                      + (f"; not held by its own writer: {lost}" if lost else ""))

    # malformed-located-error --------------------------------------------------------------
    from .errors import PluginError

    for fid, items in malformed.items():
        for sample in items:
            subject = f"{fid}: {sample.path}"
            problems = []
            for policy in ("fail", "skip"):
                try:
                    _frames, stream = _frames_of(hub, sample, fid, policy=policy)
                except PluginError as err:
                    cause = err.__cause__
                    problems.append(f"policy {policy!r}: a bare {type(cause).__name__ if cause else 'error'} "
                                    f"escaped: {_where(err)}")
                    continue
                except PredportError as err:
                    if not err.file:
                        problems.append(f"policy {policy!r}: {type(err).__name__} names no file: {_where(err)}")
                    elif err.line is None and not err.json_path and not err.field:
                        problems.append(f"policy {policy!r}: {type(err).__name__} names no line, JSON path "
                                        f"or field: {_where(err)}")
                    continue
                if policy == "fail":
                    problems.append("policy 'fail': read without an error")
                elif not stream.report.skipped_total:
                    problems.append("policy 'skip': read without an error and nothing counted as skipped")
            if problems:
                report.fail("malformed-located-error", subject, "; ".join(problems))
            else:
                report.ok("malformed-located-error", subject)

    # cheap-import -------------------------------------------------------------------------
    if module is None or module == "__main__":
        report.skip("cheap-import", name, "an in-process object, not a hooks module (pass hooks_module=)")
        return
    result = _probe_import(module)
    if result.get("missing") and not explicit_module:
        report.skip("cheap-import", module, "not importable by name in a fresh interpreter (an in-process plugin)")
    elif "error" in result:
        report.fail("cheap-import", module, f"importing it failed: {result['error']}")
    elif result["heavy"]:
        report.fail("cheap-import", module, f"importing it imports {', '.join(result['heavy'])}; "
                    "import them inside the functions that need them")
    else:
        report.ok("cheap-import", module, f"{result['seconds'] * 1000:.0f} ms")


# -- pytest fixtures (only active where the user asks for them) ----------------------------

try:
    import pytest as _pytest
except ImportError:  # pragma: no cover - the kit works without pytest too
    _pytest = None  # type: ignore[assignment]

if _pytest is not None:

    @_pytest.fixture
    def predport_hub() -> Iterator[Any]:
        """An isolated hub (built-in canonical plugin only, no entry points), installed as the
        process-wide hub for the test and restored afterwards. Register plugins on it."""
        from .hub import Hub, reset_hub

        hub = Hub(load_entry_points=False, blocked=())
        old = reset_hub(hub)
        try:
            yield hub
        finally:
            reset_hub(old)

    @_pytest.fixture
    def predport_foreign_samples(tmp_path: Path) -> dict[str, Path]:
        """The kit's built-in samples of other formats, written to a temp dir: ``{format id: path}``."""
        return write_foreign_samples(tmp_path / "predport-foreign")

    @_pytest.fixture
    def predport_conformance(tmp_path: Path) -> Callable[..., ConformanceReport]:
        """:func:`check_plugin` with its work folder in the test's ``tmp_path``."""

        def run(plugin: Any, **kwargs: Any) -> ConformanceReport:
            kwargs.setdefault("workdir", tmp_path / "predport-conformance")
            return check_plugin(plugin, **kwargs)

        return run

    __all__ += ["predport_hub", "predport_foreign_samples", "predport_conformance"]


_IMPORT = re.compile(
    r"^\s*(?:from\s+(predport[\w.]*)\s+import\s+(?:\(([^)]*)\)|([\w, ]+))|import\s+(predport[\w.]*))", re.M
)


def private_api_uses(package: str | os.PathLike[str]) -> list[str]:
    """Every use of a private predport name in a plugin's source folder (empty: public API only).

    Allowed: ``import predport``, ``import predport.testing``, ``from predport import X``
    with ``X`` in ``predport.__all__``, and ``predport.X`` attribute uses of public names.
    """
    import predport

    public = set(predport.__all__) | {"testing"}
    found: list[str] = []
    for path in sorted(Path(package).rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for m in _IMPORT.finditer(text):
            module = m.group(1) or m.group(4)
            names = m.group(2) or m.group(3)
            if module not in ("predport", "predport.testing"):
                found.append(f"{path.name}: imports {module}")
            elif names and module == "predport":
                for name in names.replace("\n", " ").split(","):
                    name = name.strip().split(" as ")[0].strip()
                    if name and name not in public:
                        found.append(f"{path.name}: imports predport.{name}")
        for attr in re.findall(r"\bpredport\.(\w+)", text):
            if attr not in public:
                found.append(f"{path.name}: uses predport.{attr}")
    return found
