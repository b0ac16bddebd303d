"""Plugin discovery and isolation: a broken plugin is reported and skipped, never fatal."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest

import predport
from predport import Confidence, FormatInfo, FormatMatch

GOOD = '''
import predport

@predport.hookimpl
def formats():
    return [predport.FormatInfo(id="toy", title="Toy boxes", can_write=True, target="file",
                                holds=frozenset({"score", "box", "category_names", "empty_frames"}))]

@predport.hookimpl
def detect_format(source):
    if source.is_file and source.head(size=4).startswith(b"TOY"):
        return predport.FormatMatch("toy", predport.Confidence.HIGH, "starts with TOY")
    return None

@predport.hookimpl
def parse(source, format):
    if format != "toy":
        return None
    lines = source.path.read_text().splitlines()[1:]
    return ((i + 2, line.split()) for i, line in enumerate(lines))

@predport.hookimpl
def to_canonical(records, format, context):
    if format != "toy":
        return None
    def frames():
        for lineno, (data_id, cls, x, y, w, h, s) in records:
            cid = context.categories.resolve(name=cls)
            yield predport.Frame(data_id=data_id, predictions=predport.Detections(
                [cid], [float(s)], [[float(x), float(y), float(w), float(h)]]))
    return frames()

@predport.hookimpl
def from_canonical(stream, format, target):
    if format != "toy":
        return None
    lines = ["TOY"]
    for f in stream.frames:
        for r in f.predictions.to_records():
            lines.append(" ".join(map(str, [f.data_id, stream.category_name(r["category_id"]), *r["box"], r["score"]])))
    target.write_bytes(None, ("\\n".join(lines) + "\\n").encode())
    return True
'''

MODULES = {
    "good_mod": GOOD,
    "broken_mod": "raise ImportError('No module named cv3 (a missing dependency)')\n",
    "misspelled_mod": textwrap.dedent('''
        import predport
        @predport.hookimpl
        def detect_fromat(source):
            return None
    '''),
    "raiser_mod": textwrap.dedent('''
        import predport
        @predport.hookimpl
        def formats():
            return [predport.FormatInfo(id="raiser", title="Raises")]
        @predport.hookimpl
        def detect_format(source):
            raise RuntimeError("boom in detect")
    '''),
}


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A folder on sys.path holding a distribution with four plugins (one good, three bad)."""
    root = tmp_path / "site"
    dist = root / "predport_fake-1.2.3.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: predport-fake\nVersion: 1.2.3\n")
    (dist / "entry_points.txt").write_text(
        "[predport]\n" + "".join(f"{m.split('_')[0]} = {m}\n" for m in MODULES)
    )
    for name, text in MODULES.items():
        (root / f"{name}.py").write_text(text)
    monkeypatch.syspath_prepend(str(root))
    for name in MODULES:
        sys.modules.pop(name, None)
    monkeypatch.delenv("PREDPORT_STRICT", raising=False)
    monkeypatch.delenv("PREDPORT_BLOCK", raising=False)
    yield root
    for name in MODULES:
        sys.modules.pop(name, None)


@pytest.fixture
def toy_file(tmp_path):
    p = tmp_path / "preds.toy"
    p.write_text("TOY\nimg1.jpg car 1 2 3 4 0.5\nimg2.jpg dog 5 6 7 8 0.25\n")
    return p


def test_hub__broken_plugins_are_recorded_and_skipped(site, toy_file):
    hub = predport.Hub()
    recs = {r.name: r for r in hub.plugins()}
    assert recs["broken"].status == "failed" and "cv3" in recs["broken"].reasons[0]
    assert recs["broken"].version == "1.2.3" and recs["broken"].distribution == "predport-fake"
    assert recs["misspelled"].status == "failed"
    assert "did you mean 'detect_format'" in recs["misspelled"].reasons[0]
    assert recs["good"].status == "ok" and recs["good"].formats == ["toy"]
    # everything else keeps working, including detection next to a plugin that raises in it
    votes = hub.detect(toy_file)
    assert [v.format for v in votes if v.confidence > 0] == ["toy"]
    crashed = [v for v in votes if v.plugin == "raiser"]  # shown by --explain with its error, never winning
    assert len(crashed) == 1 and crashed[0].confidence == 0 and "boom in detect" in crashed[0].reason
    assert recs["raiser"].status == "degraded" and "boom in detect" in recs["raiser"].reasons[0]
    assert hub.pick(toy_file).id == "toy"


def test_hub__strict_mode_raises_on_broken_plugin(site, monkeypatch):
    monkeypatch.setenv("PREDPORT_STRICT", "1")
    with pytest.raises(predport.PluginError, match="cv3"):
        predport.Hub()


def test_hub__strict_mode_raises_when_detect_raises(site, toy_file):
    hub = predport.Hub(blocked=["broken", "misspelled"], strict=True)
    with pytest.raises(predport.PluginError, match="boom in detect"):
        hub.detect(toy_file)


def test_hub__blocked_plugin_is_not_loaded(site, monkeypatch, toy_file):
    monkeypatch.setenv("PREDPORT_BLOCK", "good,broken")
    hub = predport.Hub()
    recs = {r.name: r for r in hub.plugins()}
    assert recs["good"].status == "blocked" and recs["broken"].status == "blocked"
    assert "toy" not in hub.formats()
    assert "good_mod" not in sys.modules and "broken_mod" not in sys.modules
    with pytest.raises(predport.UnknownFormatError):
        hub.pick(toy_file)


def test_hub__entry_point_plugin_reads_and_writes(site, toy_file, tmp_path):
    hub = predport.Hub()
    old = predport.reset_hub(hub)
    try:
        ps = predport.load(toy_file)
        assert ps.source.plugin == "predport-fake 1.2.3"
        assert [c.name for c in ps.categories] == ["car", "dog"]
        out = tmp_path / "back.toy"
        predport.save(ps, out, "toy")
        assert out.read_text().splitlines()[1] == "img1.jpg car 1.0 2.0 3.0 4.0 0.5"
    finally:
        predport.reset_hub(old)


def _module(name: str, text: str) -> types.ModuleType:
    mod = types.ModuleType(name)
    exec(compile(text, name, "exec"), mod.__dict__)
    return mod


def test_hub__in_process_registration_and_format_conflict(hub):
    rec = hub.register(_module("team_toy", GOOD), name="team")
    assert rec.status == "ok"
    assert hub.formats()["toy"].plugin == "team"
    dup = hub.register(_module("team_toy2", GOOD), name="team2")
    assert dup.status == "ok"
    hub.formats()
    rec2 = {r.name: r for r in hub.plugins()}["team2"]
    assert rec2.status == "degraded" and "already declared by team" in rec2.reasons[0]
    assert hub.formats()["toy"].plugin == "team", "a conflicting declaration must not overwrite"


def test_hub__plugin_without_hooks_is_reported(hub):
    rec = hub.register(types.SimpleNamespace(detect_format=lambda source: None), name="unmarked")
    assert rec.status == "failed" and "forgot @predport.hookimpl" in rec.reasons[0]


def _voter(fmt: str, conf: int, reason: str, suffix: str = "") -> types.ModuleType:
    mod = types.ModuleType(f"voter_{fmt}")

    @predport.hookimpl
    def formats():
        return [FormatInfo(id=fmt, title=fmt)]

    @predport.hookimpl
    def detect_format(source):
        if source.path.suffix == suffix or not suffix:
            return FormatMatch(fmt, conf, reason)
        return None

    mod.formats, mod.detect_format = formats, detect_format
    return mod


def test_detect__tie_between_formats_is_an_error_listing_candidates(hub, tmp_path):
    hub.register(_voter("alpha", Confidence.HIGH, "alpha-ish"), name="a")
    hub.register(_voter("beta", Confidence.HIGH, "beta-ish"), name="b")
    f = tmp_path / "x.bin"
    f.write_bytes(b"??")
    with pytest.raises(predport.AmbiguousFormatError) as info:
        hub.pick(f)
    text = str(info.value)
    assert "alpha" in text and "beta" in text and "alpha-ish" in text and "format=" in text
    assert {c.format for c in info.value.candidates} == {"alpha", "beta"}


def test_detect__extension_only_guess_never_wins(hub, tmp_path):
    hub.register(_voter("alpha", Confidence.EXTENSION, "ends in .bin"), name="a")
    f = tmp_path / "x.bin"
    f.write_bytes(b"??")
    with pytest.raises(predport.UnknownFormatError, match="ends in .bin"):
        hub.pick(f)


def test_detect__higher_confidence_wins_and_rejections_are_kept(hub, tmp_path):
    hub.register(_voter("alpha", Confidence.MEDIUM, "maybe"), name="a")
    hub.register(_voter("beta", Confidence.HIGH, "surely"), name="b")
    hub.register(_voter("gamma", Confidence.NO, "not gamma: no header"), name="c")
    f = tmp_path / "x.bin"
    f.write_bytes(b"??")
    votes = hub.detect(f)
    assert [v.format for v in votes] == ["beta", "alpha", "gamma"]
    assert hub.pick(f, votes).id == "beta"


def test_cli__plugins_lists_failed_plugin_and_other_commands_work(site, toy_file, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("PREDPORT_STRICT", None)
    run = lambda *a: subprocess.run([sys.executable, "-m", "predport", *a], capture_output=True, text=True, env=env)
    listed = run("plugins")
    assert listed.returncode == 0
    line = next(l for l in listed.stdout.splitlines() if l.startswith("broken"))
    assert "failed" in line and "1.2.3" in line and "cv3" in line
    detected = run("detect", str(toy_file))
    assert detected.returncode == 0 and detected.stdout.startswith("toy")
    converted = run("convert", str(toy_file), str(tmp_path / "out.json"))
    assert converted.returncode == 0, converted.stderr
    assert "Traceback" not in converted.stderr
    assert run("formats").returncode == 0


def test_hub__rejected_namesake_never_disables_the_working_plugin(hub):
    good = _module("first_toy", GOOD)
    assert hub.register(good, name="toy").status == "ok"
    dup = hub.register(_module("second_toy", GOOD), name="toy")
    assert dup.status == "failed" and "already registered" in dup.reasons[0]
    assert hub.records["toy"].status == "ok" and "toy" in hub.formats()
    assert any(r.status == "failed" and r.name == "toy" for r in hub.plugins())


def test_hub__hook_wrappers_are_refused_with_a_reason(hub):
    mod = types.ModuleType("wrapping")

    @predport.hookimpl(wrapper=True)
    def parse(source, format):
        return (yield)

    mod.parse = parse
    rec = hub.register(mod, name="wrapping")
    assert rec.status == "failed" and "wrappers are not supported" in rec.reasons[0]


def test_stream__close_and_failed_conversion_stop_the_reader_at_once(hub, tmp_path):
    """A reader's clean-up (its ``finally``) runs when the stream is closed, leaves a ``with``
    block, or a conversion fails: not whenever the garbage collector gets to it."""
    stopped: list[str] = []
    mod = _module("closing_toy", GOOD.replace(
        "        for lineno, (data_id, cls, x, y, w, h, s) in records:",
        "      try:\n        for lineno, (data_id, cls, x, y, w, h, s) in records:",
    ).replace(
        "                [cid], [float(s)], [[float(x), float(y), float(w), float(h)]]))\n    return frames()",
        "                [cid], [float(s)], [[float(x), float(y), float(w), float(h)]]))\n"
        "      finally:\n        STOPPED.append('stopped')\n    return frames()",
    ))
    mod.STOPPED = stopped
    hub.register(mod, name="closing")
    src = tmp_path / "a.toy"
    src.write_text("TOY\n" + "".join(f"img{i}.jpg car 1 2 3 4 0.5\n" for i in range(5)))
    stream = predport.open_stream(src)
    assert next(iter(stream)).data_id == "img0.jpg" and stopped == []
    stream.close()
    assert stopped == ["stopped"]
    with predport.open_stream(src) as stream:
        next(iter(stream))
    assert stopped == ["stopped"] * 2
    import gc

    gc.disable()  # the reader must stop because convert closes it, not because gc collects it
    try:
        with pytest.raises(predport.PredportError):  # YOLO needs image sizes: fails at the first frame
            predport.convert(src, tmp_path / "out", to="yolo")
        assert stopped == ["stopped"] * 3
    finally:
        gc.enable()
