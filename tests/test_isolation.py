"""Plugin isolation: every value a hook returns is checked in the façade, and a plugin's
``BaseException`` never takes a command down; the plugin is named and marked degraded."""
from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest

import predport
from predport import PluginError

TOY = '''
import predport

@predport.hookimpl
def formats():
    return [predport.FormatInfo(id="toy", title="Toy", can_write=True, target="file",
                                holds=frozenset({"score", "box", "category_names", "empty_frames"}))]

@predport.hookimpl
def detect_format(source):
    if source.is_file and source.head(size=3) == b"TOY":
        return predport.FormatMatch("toy", predport.Confidence.HIGH, "starts with TOY")

@predport.hookimpl
def parse(source, format):
    if format == "toy":
        return iter(source.path.read_text().split()[1:])

@predport.hookimpl
def to_canonical(records, format, context):
    if format == "toy":
        return (predport.Frame(data_id=r) for r in records)

@predport.hookimpl
def from_canonical(stream, format, target):
    if format == "toy":
        target.write_bytes(None, ("TOY " + " ".join(f.data_id for f in stream.frames)).encode())
        return True
'''


def _module(name: str, text: str) -> types.ModuleType:
    mod = types.ModuleType(name)
    exec(compile(textwrap.dedent(text), f"<{name}>", "exec"), mod.__dict__)
    return mod


@pytest.fixture
def toy(hub, tmp_path):
    hub.register(_module("toy_mod", TOY), name="toy")
    p = tmp_path / "in.toy"
    p.write_text("TOY a.jpg b.jpg")
    return p


def _status(hub, name):
    return {r.name: r for r in hub.plugins()}[name]


@pytest.mark.parametrize("confidence", ["high", None, math.nan, 1000, True, 60])
def test_isolation__detect_vote_with_an_invalid_confidence_is_dropped_and_degrades(hub, toy, confidence):
    bad = _module("liar", '''
        import predport
        @predport.hookimpl
        def formats():
            return [predport.FormatInfo(id="liar", title="Liar")]
        @predport.hookimpl
        def detect_format(source):
            return predport.FormatMatch("liar", CONFIDENCE, "x")
    ''')
    bad.CONFIDENCE = confidence
    hub.register(bad, name="liar")
    assert hub.pick(toy).id == "toy"  # auto-detection of every file still works
    shown = [v for v in hub.detect(toy) if v.plugin == "liar"]
    assert [v.confidence for v in shown] == [0] and "not a level" in shown[0].reason  # --explain shows it
    rec = _status(hub, "liar")
    assert rec.status == "degraded" and "not a level of predport.Confidence" in rec.reasons[0]


@pytest.mark.parametrize("raise_", ["SystemExit(3)", "KeyboardInterrupt()", "GeneratorExit()",
                                    "type('Odd', (BaseException,), {})('odd')"])
def test_isolation__detect_format_base_exception_is_contained_and_explained(hub, toy, raise_, monkeypatch):
    monkeypatch.setitem(predport.hub.INTERRUPTS, "tracked", True)  # as under the CLI: no signal arrived
    hub.register(_module("exiter", f'''
        import predport
        @predport.hookimpl
        def formats():
            return [predport.FormatInfo(id="exiter", title="Exits")]
        @predport.hookimpl
        def detect_format(source):
            raise {raise_}
    '''), name="exiter")
    votes = hub.detect(toy)
    crashed = [v for v in votes if v.plugin == "exiter"]
    assert len(crashed) == 1 and crashed[0].confidence == 0 and crashed[0].reason.startswith("error: detect_format")
    assert hub.pick(toy).id == "toy"
    assert _status(hub, "exiter").status == "degraded"


def test_isolation__a_real_interrupt_passes_through(hub, toy, monkeypatch):
    monkeypatch.setitem(predport.hub.INTERRUPTS, "tracked", True)
    monkeypatch.setitem(predport.hub.INTERRUPTS, "received", True)  # the user pressed Ctrl-C
    hub.register(_module("slow", '''
        import predport
        @predport.hookimpl
        def formats():
            return [predport.FormatInfo(id="slow", title="Slow")]
        @predport.hookimpl
        def detect_format(source):
            raise KeyboardInterrupt
    '''), name="slow")
    with pytest.raises(KeyboardInterrupt):
        hub.detect(toy)


def test_isolation__to_canonical_yielding_non_frames_names_the_reader(hub, toy, tmp_path):
    hub.register(_module("junk", '''
        import predport
        @predport.hookimpl
        def formats():
            return [predport.FormatInfo(id="junk", title="Junk")]
        @predport.hookimpl
        def parse(source, format):
            if format == "junk":
                return iter([1, 2])
        @predport.hookimpl
        def to_canonical(records, format):
            if format == "junk":
                return ({"data_id": r} for r in records)
    '''), name="junk")
    with pytest.raises(PluginError, match=r"\[junk \?\].*to_canonical.*yielded a dict, not a predport.Frame"):
        predport.load(toy, format="junk")
    with pytest.raises(PluginError, match="to_canonical") as info:
        predport.convert(toy, tmp_path / "o.json", format="junk")
    assert "junk" in str(info.value) and not (tmp_path / "o.json").exists()
    assert _status(hub, "junk").status == "degraded"


@pytest.mark.parametrize("body,message", [
    ("return True", "before reading every frame"),
    ("return 'ok'", "returned str"),
])
def test_isolation__from_canonical_must_read_the_stream_and_return_success(hub, toy, tmp_path, body, message):
    hub.register(_module("lazy", f'''
        import predport
        @predport.hookimpl
        def formats():
            return [predport.FormatInfo(id="lazy", title="Lazy", can_read=False, can_write=True)]
        @predport.hookimpl
        def from_canonical(stream, format, target):
            if format == "lazy":
                {body}
    '''), name="lazy")
    with pytest.raises(PluginError, match=message):
        predport.convert(toy, tmp_path / "o.lazy", to="lazy")
    assert list(tmp_path.glob("o.lazy*")) == []


@pytest.mark.parametrize("schemas", ['[{"$id": "urn:x:1", "type": "nonsense"}]', '{"$id": "urn:x:2"}', '["text"]'])
def test_isolation__invalid_plugin_schema_is_not_registered_and_degrades(hub, schemas):
    hub.register(_module("schemer", f'''
        import predport
        @predport.hookimpl
        def schemas():
            return {schemas}
    '''), name="schemer")
    reg = hub.registry
    assert not any(s.startswith("urn:x:") for s in reg.ids())
    rec = _status(hub, "schemer")
    assert rec.status == "degraded" and "schemas() failed" in rec.reasons[0]


# -- through the CLI, with entry-point plugins in a subprocess ---------------------------
def _site(tmp_path: Path, modules: dict[str, str]) -> dict[str, str]:
    root = tmp_path / "site"
    dist = root / "predport_hostile-0.0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: predport-hostile\nVersion: 0.0.1\n")
    (dist / "entry_points.txt").write_text("[predport]\n" + "".join(f"{m} = {m}\n" for m in modules))
    for name, text in modules.items():
        (root / f"{name}.py").write_text(textwrap.dedent(text))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREDPORT_")}
    env["PYTHONPATH"] = str(root) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _cli(env, *args):
    return subprocess.run([sys.executable, "-m", "predport", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def test_cli__plugin_exiting_at_import_or_in_detect_never_decides_the_exit_code(tmp_path):
    env = _site(tmp_path, {
        "toyplug": TOY,
        "exit_at_import": "raise SystemExit(7)\n",
        "exit_in_detect": '''
            import predport
            @predport.hookimpl
            def formats():
                return [predport.FormatInfo(id="exiting", title="Exits")]
            @predport.hookimpl
            def detect_format(source):
                raise SystemExit(0)
        ''',
    })
    src = tmp_path / "in.toy"
    src.write_text("TOY a.jpg b.jpg")
    plugins = _cli(env, "plugins")
    assert plugins.returncode == 0
    line = next(l for l in plugins.stdout.splitlines() if l.startswith("exit_at_import"))
    assert "failed" in line and "SystemExit: 7" in line
    conv = _cli(env, "convert", str(src), str(tmp_path / "out.toy"), "--to", "toy")
    assert conv.returncode == 0, conv.stderr
    assert (tmp_path / "out.toy").read_text() == "TOY a.jpg b.jpg"
    explain = _cli(env, "detect", str(src), "--explain")
    assert explain.returncode == 0
    row = next(l for l in explain.stdout.splitlines() if l.startswith("exiting"))
    assert "error: detect_format raised SystemExit" in row
    probed = _cli(env, "plugins", "--probe", str(src)).stdout.splitlines()
    assert "degraded" in next(l for l in probed if l.startswith("exit_in_detect"))


def test_cli__plugin_bug_exits_70_and_debug_shows_the_plugins_own_line(tmp_path):
    env = _site(tmp_path, {"buggy": '''
        import predport
        @predport.hookimpl
        def formats():
            return [predport.FormatInfo(id="buggy", title="Buggy")]
        @predport.hookimpl
        def detect_format(source):
            if source.is_file and source.head(size=5) == b"BUGGY":
                return predport.FormatMatch("buggy", predport.Confidence.HIGH, "BUGGY")
        @predport.hookimpl
        def parse(source, format):
            if format == "buggy":
                return iter([1])
        @predport.hookimpl
        def to_canonical(records, format):
            if format == "buggy":
                return (frame_of(r) for r in records)
        def frame_of(r):
            return {}["the plugin's own bug"]  # BUG-LINE
    '''})
    src = tmp_path / "in.buggy"
    src.write_text("BUGGY")
    run = _cli(env, "convert", str(src), str(tmp_path / "o.json"))
    assert run.returncode == 70, run.stderr
    assert run.stderr.count("\n") == 1 and "[predport-hostile 0.0.1]" in run.stderr and "KeyError" in run.stderr
    debug = _cli({**env, "PREDPORT_DEBUG": "1"}, "convert", str(src), str(tmp_path / "o.json"))
    assert "BUG-LINE" in debug.stderr and "buggy.py" in debug.stderr
    assert not (tmp_path / "o.json").exists()


def test_cli__remote_looking_paths_are_never_written_locally(tmp_path, canonical_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREDPORT_")}
    env.update(AWS_ACCESS_KEY_ID="", AWS_SECRET_ACCESS_KEY="", AWS_EC2_METADATA_DISABLED="true")
    for args in ([str(canonical_path), "nosuchscheme://bucket/out.json"],
                 [str(canonical_path), "out/", "--images", "https://host/images"],
                 [str(canonical_path), "out.json", "--class-map", "gs://bucket/map.yaml"]):
        run = subprocess.run([sys.executable, "-m", "predport", "convert", *args], capture_output=True,
                             text=True, cwd=tmp_path, env=env, timeout=120)
        assert run.returncode == 1 and run.stderr.count("\n") == 1, run.stderr
        assert "URL" in run.stderr or "nosuchscheme" in run.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [canonical_path.name]  # no ./s3:/ folder


def test_output_target__made_directly_on_a_url_is_refused(tmp_path, hub, monkeypatch):
    from pathlib import Path

    monkeypatch.chdir(tmp_path)
    for dest in ("s3://bucket/out", Path("s3://bucket/out")):
        with pytest.raises(predport.ConfigError, match="URL"):
            predport.OutputTarget(dest, kind="folder", registry=hub.registry)
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def canonical_path(tmp_path, small_set):
    p = tmp_path / "in.json"
    predport.save(small_set, p)
    return p
