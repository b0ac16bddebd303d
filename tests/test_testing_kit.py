"""Tests of the plugin-author kit: the conformance kit (predport.testing), the pytest opt-in,
the in-process example, and (opt-in) the template in a fresh virtual environment.

Each rule of the kit is shown to fail on a plugin broken in exactly that way, and to
pass on a good one: a tiny JSON format ("tinybox") written below as module source,
so that every variant is a real, importable hooks module.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import itertools
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import predport
from predport.testing import (
    RULES,
    ConformanceError,
    Sample,
    check_plugin,
    compare_sets,
    write_foreign_samples,
)

REPO = Path(__file__).resolve().parents[1]

TINYBOX = '''
"""tinybox: {"tinybox": 1, "frames": [{"image": str, "boxes": [[class, x, y, w, h, score], ...]}]}"""
import json

import predport

FORMAT = "tinybox"
SCHEMA_ID = "urn:predport:schema:tinybox:1"
SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": SCHEMA_ID,
    "type": "object",
    "required": ["tinybox", "frames"],
}


@predport.hookimpl
def formats():
    return [predport.FormatInfo(id=FORMAT, title="tiny boxes", can_read=True, can_write=True, target="file",
                                holds=frozenset({"box", "score", "category_names", "empty_frames"}),
                                patterns=("*.json",))]


@predport.hookimpl
def schemas():
    return [SCHEMA]


@predport.hookimpl
def detect_format(source):
    if source.is_file and b'"tinybox"' in source.head(size=256):  # DETECT
        return predport.FormatMatch(FORMAT, predport.Confidence.HIGH, "a 'tinybox' key")
    return None


@predport.hookimpl
def parse(source, format, context):
    if format != FORMAT:  # PARSE-GUARD
        return None
    return _records(source.path, context)


def _records(path, context):
    try:
        doc = json.loads(path.read_bytes())
    except ValueError as exc:
        raise predport.ParseError(f"invalid JSON: {exc}", file=str(path)) from None
    for i, frame in enumerate(doc["frames"]):
        boxes = []
        for j, box in enumerate(frame["boxes"]):
            if not (isinstance(box, list) and len(box) == 6):
                context.problem(predport.ParseError("a box is [class, x, y, w, h, score]", file=str(path), json_path=["frames", i, "boxes", j]))  # MALFORMED
                continue
            boxes.append(box)
        yield frame["image"], boxes


@predport.hookimpl
def to_canonical(records, format, context):
    if format != FORMAT:  # TOCANON-GUARD
        return None
    return _frames(records, context)


def _frames(records, context):
    for image, boxes in records:
        ids = [context.categories.resolve(name=b[0]) for b in boxes]
        xywh = [[b[1], b[2], b[3], b[4]] for b in boxes]  # BOXES
        yield predport.Frame(data_id=image, predictions=predport.Detections(
            category_id=ids, score=[b[5] for b in boxes], box=xywh or None))


@predport.hookimpl
def from_canonical(stream, format, target):
    if format != FORMAT:
        return None
    frames = []
    for frame in stream.frames:
        rows = []
        for rec in frame.predictions.to_records():
            if "box" in rec:
                rows.append([stream.category_name(rec["category_id"]), *rec["box"], rec["score"]])  # WRITE-ROW
        frames.append({"image": frame.data_id, "boxes": rows})
    target.write_json(None, {"tinybox": 1, "frames": frames}, schema=SCHEMA_ID)
    return True
'''

GOOD_SAMPLE = {"tinybox": 1, "frames": [
    {"image": "a.jpg", "boxes": [["car", 10, 20, 30.5, 40, 0.9], ["dog", 1.25, 2, 3, 4, None]]},
    {"image": "b.jpg", "boxes": []},
]}
BAD_SAMPLE = {"tinybox": 1, "frames": [{"image": "a.jpg", "boxes": [["car", 10, 20, 30, 40, 0.5], ["car", 1, 2]]}]}

_counter = itertools.count()


def make_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, replace: dict[str, str] | None = None,
                prepend: str = "") -> Any:
    """Write TINYBOX (edited) as a uniquely named module on sys.path and import it."""
    source = TINYBOX
    for old, new in (replace or {}).items():
        assert old in source, old
        source = source.replace(old, new)
    name = f"tinybox_hooks_{next(_counter)}"
    folder = tmp_path / "mods"
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.py").write_text(prepend + source)
    monkeypatch.syspath_prepend(str(folder))
    module = importlib.import_module(name)
    monkeypatch.setitem(sys.modules, name, module)
    return module


@pytest.fixture
def samples(tmp_path: Path) -> dict[str, Any]:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(GOOD_SAMPLE))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(BAD_SAMPLE))
    return {"samples": {"tinybox": [good]}, "malformed": {"tinybox": [bad]}}


def failed_rules(plugin: Any, tmp_path: Path, **kwargs: Any) -> set[str]:
    with pytest.raises(ConformanceError) as info:
        check_plugin(plugin, workdir=tmp_path / "kit", **kwargs)
    assert info.value.rules == info.value.report.failed_rules
    for rule in info.value.rules:
        assert f"[{rule}]" in str(info.value)  # the message lists each failed rule by id
    return info.value.rules


# -- the good plugin passes every rule --------------------------------------------------------

def test_kit__good_plugin_passes_every_rule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            samples: dict[str, Any]) -> None:
    plugin = make_plugin(tmp_path, monkeypatch)
    report = check_plugin(plugin, workdir=tmp_path / "kit", **samples)
    assert report.passed and report.formats == ["tinybox"]
    assert {c.rule for c in report.checks if c.status == "pass"} == set(RULES)
    foreign = {c.subject.split(":")[0] for c in report.checks if c.rule == "no-foreign-claims"}
    assert foreign >= {"coco", "kitti", "canonical", "lightly", "aquarium", "masks", "yolo"}


def test_kit__in_process_object_passes_and_cheap_import_is_skipped(tmp_path: Path,
                                                                   samples: dict[str, Any]) -> None:
    namespace: dict[str, Any] = {}
    exec(compile(TINYBOX, "<tinybox>", "exec"), namespace)  # noqa: S102 - a plugin defined in-process

    class Plugin:
        pass

    plugin = Plugin()
    for hook in ("formats", "schemas", "detect_format", "parse", "to_canonical", "from_canonical"):
        setattr(plugin, hook, namespace[hook])
    report = check_plugin(plugin, workdir=tmp_path / "kit", **samples)
    assert [c.status for c in report.checks if c.rule == "cheap-import"] == ["skip"]


def test_kit__builtin_canonical_plugin_passes(tmp_path: Path) -> None:
    import predport.canonical_plugin

    foreign = write_foreign_samples(tmp_path / "samples")
    bad_doc = tmp_path / "bad.json"
    bad_doc.write_text(foreign["canonical"].read_text().replace('"data_id": "a.jpg"', '"data_id": ""'))
    bad_lines = tmp_path / "bad.jsonl"
    bad_lines.write_text(foreign["canonical-jsonl"].read_text() + '{"data_id": 3, "predictions": []}\n')
    report = check_plugin(
        predport.canonical_plugin,
        samples={"canonical": [foreign["canonical"]], "canonical-jsonl": [foreign["canonical-jsonl"]]},
        malformed={"canonical": [bad_doc], "canonical-jsonl": [bad_lines]},
        workdir=tmp_path / "kit",
    )
    assert {c.rule for c in report.checks if c.status == "pass"} == set(RULES)


# -- each rule fails on a plugin broken in that way ------------------------------------------

@pytest.mark.parametrize(
    ("rule", "replace", "prepend"),
    [
        ("register", {"def detect_format(source):": "def detect_fromat(source):"}, ""),
        ("register", {'"$id": SCHEMA_ID,': '"$id": "urn:predport:schema:prediction-set:1",'}, ""),
        ("detect-own", {"if source.is_file and b'\"tinybox\"' in source.head(size=256):": "if False:"}, ""),
        ("no-foreign-claims", {"if source.is_file and b'\"tinybox\"' in source.head(size=256):":
                               "if source.is_file:"}, ""),
        # (A negative width no longer gets this far: Detections refuses it when the frame is built.)
        ("schema-valid", {"score=[b[5] for b in boxes], box=xywh or None))":
                          "score=[b[5] for b in boxes], box=xywh or None,"
                          " attributes=[{'t': float('inf')}] * len(ids) or None))"}, ""),
        ("writer-roundtrip", {'*rec["box"], rec["score"]]': '*rec["box"], None]'}, ""),
        ("writer-roundtrip", {'*rec["box"], rec["score"]]': '*[v + 1e-3 for v in rec["box"]], rec["score"]]'}, ""),
        ("malformed-located-error", {'context.problem(predport.ParseError("a box is [class, x, y, w, h, score]", '
                                     'file=str(path), json_path=["frames", i, "boxes", j]))':
                                     'raise KeyError("box")'}, ""),
        ("malformed-located-error", {'file=str(path), json_path=["frames", i, "boxes", j]))': "))"}, ""),
        ("malformed-located-error", {'context.problem(predport.ParseError("a box is [class, x, y, w, h, score]", '
                                     'file=str(path), json_path=["frames", i, "boxes", j]))': "pass"}, ""),
        ("cheap-import", {}, "import numpy  # at module level: every `predport formats` pays for it\n"),
    ],
    ids=["register-misspelled-hook", "register-schema-id-conflict", "detect-own", "no-foreign-claims", "schema-valid",
         "roundtrip-drops-score", "roundtrip-moves-box", "malformed-bare-exception", "malformed-no-location",
         "malformed-silently-accepted", "cheap-import"],
)
def test_kit__broken_plugin_fails_with_the_rule_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  samples: dict[str, Any], rule: str, replace: dict[str, str],
                                                  prepend: str) -> None:
    plugin = make_plugin(tmp_path, monkeypatch, replace=replace, prepend=prepend)
    assert failed_rules(plugin, tmp_path, **samples) == {rule}


def test_kit__missing_samples_fail_detect_own_unless_partial(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plugin = make_plugin(tmp_path, monkeypatch)
    assert failed_rules(plugin, tmp_path) == {"detect-own"}
    report = check_plugin(plugin, workdir=tmp_path / "kit2", require_samples=False)
    assert [c.status for c in report.checks if c.rule == "detect-own"] == ["skip"]


def test_kit__caller_foreign_samples_are_checked_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    samples: dict[str, Any]) -> None:
    plugin = make_plugin(tmp_path, monkeypatch)
    look_alike = tmp_path / "other.json"
    look_alike.write_text('{"tinybox": 2, "note": "a different format that mentions tinybox"}')
    assert failed_rules(plugin, tmp_path, foreign={"other-format": [look_alike]}, **samples) \
        == {"no-foreign-claims"}


def test_kit__report_without_raising_lists_each_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     samples: dict[str, Any]) -> None:
    plugin = make_plugin(tmp_path, monkeypatch, replace={'*rec["box"], rec["score"]]': '*rec["box"], None]'})
    report = check_plugin(plugin, workdir=tmp_path / "kit", raise_on_failure=False, **samples)
    assert not report.passed and report.failed_rules == {"writer-roundtrip"}
    assert "writer-roundtrip" in report.summary() and "score" in report.summary()


def test_kit__a_plugin_without_format_guards_passes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   samples: dict[str, Any]) -> None:
    """Dispatch by declaration: the hub hands parse/to_canonical only the plugin's own format
    ids, so a plugin without the old ``if format != X: return None`` guards is conformant."""
    plugin = make_plugin(tmp_path, monkeypatch, replace={"if format != FORMAT:  # PARSE-GUARD": "if False:",
                                                         "if format != FORMAT:  # TOCANON-GUARD": "if False:"})
    report = check_plugin(plugin, workdir=tmp_path / "kit", raise_on_failure=False, **samples)
    assert report.passed, report.summary()


def test_kit__leaves_the_process_wide_hub_as_it_was(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    samples: dict[str, Any]) -> None:
    before = predport.get_hub()
    check_plugin(make_plugin(tmp_path, monkeypatch), workdir=tmp_path / "kit", **samples)
    assert predport.get_hub() is before
    assert "tinybox" not in before.formats()


# -- first-party plugins -------------------------------------------------------------------------

#: How to read the kit's built-in sample of a format, where the format needs more than the path.
SAMPLE_OPTIONS = {"yolo": {"image_sizes": {"000001": [640, 480]}}}


def _installed_plugins() -> list[importlib.metadata.EntryPoint]:
    return sorted((ep for ep in importlib.metadata.entry_points(group="predport")), key=lambda e: e.name)


def _format_plugins() -> list[importlib.metadata.EntryPoint]:
    """The installed plugins that declare formats (a plugin may only add commands: predport-report)."""
    return [ep for ep in _installed_plugins() if hasattr(ep.load(), "formats")]


@pytest.mark.parametrize("entry_point", _format_plugins(), ids=lambda ep: ep.name)
def test_kit__installed_plugin_passes_on_the_builtin_samples(entry_point: Any, tmp_path: Path) -> None:
    # A partial check (each plugin's own tests run the kit in full): the kit's samples of
    # the plugin's formats, every rule that needs nothing else.
    plugin = entry_point.load()
    if not hasattr(plugin, "formats"):  # a plugin of commands only (predport-eval): no format to check
        assert hasattr(plugin, "register_commands"), f"{entry_point.name} implements neither formats nor commands"
        return
    declared = {info.id for info in plugin.formats()}
    builtin = write_foreign_samples(tmp_path / "samples")
    own = {fid: [Sample(builtin[fid], **SAMPLE_OPTIONS.get(fid, {}))] for fid in declared if fid in builtin}
    report = check_plugin(plugin, samples=own, require_samples=False, workdir=tmp_path / "kit",
                          raise_on_failure=False)
    assert report.passed, report.summary()


def test_builtin_samples__are_detected_as_their_format_by_the_installed_plugins(tmp_path: Path) -> None:
    hub = predport.get_hub()
    known = hub.formats()
    checked = []
    for fid, path in write_foreign_samples(tmp_path).items():
        if fid in known:
            assert hub.pick(path).id == fid, [(v.format, v.confidence, v.reason) for v in hub.detect(path)]
            checked.append(fid)
    assert {"canonical", "canonical-jsonl"} <= set(checked)


def test_compare_sets__names_every_difference() -> None:
    cats = [predport.Category(id=0, name="car")]

    def one(box: list[float], score: float | None, data_id: str = "a.jpg") -> Any:
        return predport.PredictionSet(categories=cats, frames=[predport.Frame(
            data_id=data_id, predictions=predport.Detections(category_id=[0], score=[score], box=[box]))])

    base = one([1.0, 2.0, 3.0, 4.0], 0.5)
    assert compare_sets(base, one([1.0 + 5e-7, 2.0, 3.0, 4.0], 0.5), holds={"box", "score"}) == []
    assert "box" in compare_sets(base, one([1.0 + 2e-6, 2.0, 3.0, 4.0], 0.5), holds={"box", "score"})[0]
    assert "score" in compare_sets(base, one([1.0, 2.0, 3.0, 4.0], None), holds={"box", "score"})[0]
    assert compare_sets(base, one([1.0, 2.0, 3.0, 4.0], None), holds={"box"}) == []
    assert "missing" in compare_sets(base, one([1.0, 2.0, 3.0, 4.0], 0.5, "b.jpg"), holds={"box"})[0]


# -- opt-in for pytest ----------------------------------------------------------------------------

def test_pytest__predport_registers_no_pytest11_entry_point() -> None:
    for ep in importlib.metadata.entry_points(group="pytest11"):
        assert not ep.value.startswith("predport"), ep


def test_pytest__fixtures_only_with_dash_p_predport_testing(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_uses_kit.py").write_text(textwrap.dedent('''
        import predport.canonical_plugin

        def test_kit(predport_conformance, predport_foreign_samples):
            samples = {"canonical": [predport_foreign_samples["canonical"]],
                       "canonical-jsonl": [predport_foreign_samples["canonical-jsonl"]]}
            assert predport_conformance(predport.canonical_plugin, samples=samples).passed
    '''))
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_uses_kit.py"]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    without = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300)
    assert without.returncode != 0 and "fixture 'predport_conformance' not found" in without.stdout
    with_p = subprocess.run(cmd[:3] + ["-p", "predport.testing"] + cmd[3:], cwd=tmp_path, capture_output=True,
                            text=True, env=env, timeout=300)
    assert with_p.returncode == 0, with_p.stdout + with_p.stderr


def test_pytest__predport_hub_fixture_is_isolated(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_hub.py").write_text(textwrap.dedent('''
        import predport
        from predport.testing import predport_hub  # noqa: F401  (a fixture, imported by name)

        def test_hub(predport_hub):
            assert predport.get_hub() is predport_hub
            assert set(predport_hub.formats()) == {"canonical", "canonical-jsonl"}
    '''))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_hub.py"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# -- the tutorial's runnable example ------------------------------------------------------------

def test_example__inprocess_plugin_runs() -> None:
    proc = subprocess.run([sys.executable, str(REPO / "docs" / "examples" / "inprocess_plugin.py")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "detected: acme-jsonl" in out
    assert "frames: 3, predictions: 3, skipped: 1" in out
    assert "category 1: car (OTk2MzM3)" in out
    assert "7f3a9c2e-4b1d-4e8f-9a0b-1c2d3e4f5a6b frame 12: [('car', [10.0, 20.0, 30.0, 40.0])" in out
    assert "plugin acme: in-process" in out


def test_tutorial__names_every_rule_and_links_the_hook_reference() -> None:
    text = (REPO / "docs" / "tutorial.md").read_text()
    for rule in RULES:
        assert f"`{rule}`" in text, rule
    assert "hooks.md" in text and "docs/examples/inprocess_plugin.py" in text


# -- acceptance: a fresh virtual environment (opt-in: it installs from the package index) --------

@pytest.mark.skipif(os.environ.get("PREDPORT_FRESH_VENV") != "1",
                    reason="set PREDPORT_FRESH_VENV=1 (needs the package index; CI runs it)")
def test_fresh_venv__core_and_template_install_and_pass(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"

    def run(*args: str, cwd: Path | None = None) -> str:
        proc = subprocess.run([str(py), *args], capture_output=True, text=True, timeout=1200, cwd=cwd)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        return proc.stdout

    run("-m", "pip", "install", "-q", str(REPO), str(REPO / "docs" / "template"), "pytest")
    listing = subprocess.run([str(venv / "bin" / "predport"), "formats"], capture_output=True, text=True,
                             timeout=300)
    assert listing.returncode == 0 and "csvboxes" in listing.stdout, listing.stdout + listing.stderr
    run("-m", "pytest", "-q", "-p", "no:cacheprovider", str(REPO / "docs" / "template" / "tests"),
        cwd=REPO / "docs" / "template")


def test_private_api_uses__flags_private_modules_and_names(tmp_path):
    (tmp_path / "a.py").write_text(
        "import predport\nfrom predport.hub import Hub\nfrom predport import (load,\n    _LAZY)\n"
        "x = predport._schema_gen\nfrom predport import Frame, ParseError as PE\nimport predport.testing\n"
    )
    assert predport.testing.private_api_uses(tmp_path) == [
        "a.py: imports predport.hub",
        "a.py: imports predport._LAZY",
        "a.py: uses predport.hub",
        "a.py: uses predport._schema_gen",
    ]
