"""Declared, typed format options: one parser, one way to refuse, for every format.

Every installed format's declarations are read from the hub, so a format added later is
covered by the parametrised tests without editing them.
"""
from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import pytest

import predport
from predport.cli import main
from predport.options import CliText, Option, resolve_options

ROOT = Path(__file__).resolve().parents[1]

#: First-party formats: each declares its read and write options (None would mean "undeclared").
FIRST_PARTY = ("aquarium", "canonical", "canonical-jsonl", "coco", "deeplake", "encord", "kitti", "lightly",
               "masks", "yolo")


def _formats() -> dict[str, predport.FormatInfo]:
    return predport.Hub().formats()


def _declared(mode: str) -> list[tuple[str, tuple[Option, ...]]]:
    attr = "read_options" if mode == "read" else "write_options"
    able = "can_read" if mode == "read" else "can_write"
    return [(fid, getattr(info, attr)) for fid, info in _formats().items()
            if getattr(info, able) and getattr(info, attr) is not None]


def _bool_options(mode: str) -> list[tuple[str, str]]:
    return [(fid, o.name) for fid, opts in _declared(mode) for o in opts if o.type == "bool"]


def _typos(mode: str) -> list[tuple[str, str, str]]:
    """(format, misspelt key, declared name): each declared name with its last two letters swapped."""
    out = []
    for fid, opts in _declared(mode):
        names = {o.name for o in opts}
        for o in opts:
            typo = o.name[:-2] + o.name[-1] + o.name[-2] if len(o.name) > 3 else o.name + "x"
            if typo not in names and typo != o.name:
                out.append((fid, typo, o.name))
    return out


# -- parsing one value: known answers --------------------------------------------------------------
@pytest.mark.parametrize("text,expected", [("true", True), ("Yes", True), ("ON", True), ("1", True),
                                           ("false", False), ("no", False), ("Off", False), ("0", False)])
def test_option__bool_words(text, expected):
    opt = Option("flag", "bool", False)
    assert opt.parse(CliText(text)) is expected
    assert opt.parse(text) is expected  # a string from the API reads the same as from the command line


@pytest.mark.parametrize("value", ["nope", "2", "", "truee", 2, 0.5, [True]])
def test_option__bad_bool_is_refused_with_the_value_shown(value):
    with pytest.raises(predport.OptionError) as info:
        Option("flag", "bool", False).parse(value, format="f", mode="read")
    err = info.value
    assert isinstance(err, predport.ConfigError) and err.field == "flag"
    assert f"flag={value!r}" in str(err) and "not a boolean" in str(err) and "true or false" in str(err)


def test_option__numbers_words_and_bounds():
    workers = Option("workers", "int", "auto", choices=("auto",), minimum=0)
    assert workers.parse("3") == 3 and workers.parse(3) == 3 and workers.parse("2.0") == 2
    assert workers.parse("AUTO") == "auto"
    for bad in ("-1", "1.5", "many", True, float("inf")):
        with pytest.raises(predport.OptionError):
            workers.parse(bad)
    score = Option("min", "float")
    assert score.parse("0.25") == 0.25 and score.parse(1) == 1.0 and isinstance(score.parse(1), float)
    for bad in ("nan", "inf", "x", False):
        with pytest.raises(predport.OptionError):
            score.parse(bad)


def test_option__enum_path_list_json():
    mode = Option("mode", "enum", "keep", choices=("keep", "none"))
    assert mode.parse("NONE") == "none"
    with pytest.raises(predport.OptionError, match="one of keep, none"):
        mode.parse("drop")
    path = Option("gt", "path")
    assert path.parse(Path("/a/b.json")) == "/a/b.json"
    assert path.parse("~/x.json") == str(Path.home() / "x.json")
    with pytest.raises(predport.OptionError):
        path.parse(3.5 if False else True)
    ids = Option("ids", "list", item="int")
    assert ids.parse("1, 2,3") == [1, 2, 3] and ids.parse("[4, 5]") == [4, 5] and ids.parse((6,)) == [6]
    with pytest.raises(predport.OptionError):
        ids.parse("1,x")
    anything = Option("classes", "json")
    assert anything.parse('{"car": 1}') == {"car": 1} and anything.parse("classes.json") == "classes.json"
    with pytest.raises(predport.OptionError, match="valid JSON"):
        anything.parse('{"car": ')


def test_option__declaration_is_checked():
    with pytest.raises(ValueError, match="type must be one of"):
        Option("x", "boolean")
    with pytest.raises(ValueError, match="needs choices"):
        Option("x", "enum")
    with pytest.raises(ValueError, match="identifier"):
        Option("no-dash")
    with pytest.raises(TypeError, match="twice"):
        predport.FormatInfo(id="f", title="f", read_options=(Option("a"), Option("a")))
    with pytest.raises(TypeError, match="predport.Option"):
        predport.FormatInfo(id="f", title="f", read_options=({"name": "a"},))


def test_resolve__defaults_filled_unknown_refused_and_undeclared_passed_through():
    declared = (Option("a", "bool", False), Option("b", "int", 3))
    assert resolve_options(declared, {"a": "yes"}, format="f") == {"a": True, "b": 3}
    with pytest.raises(predport.OptionError, match="did you mean 'b'"):
        resolve_options(declared, {"bb": 1}, format="f")
    # None is "use the default", except for an option with a "none" word: then it is that word.
    words = (Option("bg", "int", 0, choices=("none",)),)
    assert resolve_options(words, {"bg": None}, format="f") == {"bg": "none"}
    assert resolve_options(words, {}, format="f") == {"bg": 0}
    with pytest.raises(predport.OptionError, match="takes no write options"):
        resolve_options((), {"x": 1}, format="f", mode="write")
    # A plugin without declarations gets what was given; command-line text read as JSON where it parses.
    assert resolve_options(None, {"n": CliText("2"), "s": CliText("abc"), "v": "2"}, format="f") == \
        {"n": 2, "s": "abc", "v": "2"}


# -- every format: the same input, the same behaviour ----------------------------------------------
def test_every_first_party_format_declares_its_options():
    fmts = _formats()
    for fid in FIRST_PARTY:
        info = fmts[fid]
        if info.can_read:
            assert info.read_options is not None, f"{fid} declares no read options"
        if info.can_write:
            assert info.write_options is not None, f"{fid} declares no write options"


@pytest.mark.parametrize("fid", [f for f in FIRST_PARTY if (ROOT / "docs" / "formats" / f"{f}.md").exists()])
def test_every_format_page_lists_its_declared_options(fid):
    """The format's page names every declared option (its options tables), and no option it does not declare."""
    info = _formats()[fid]
    page = (ROOT / "docs" / "formats" / f"{fid}.md").read_text(encoding="utf-8")
    for mode, opts in (("read", info.read_options), ("write", info.write_options)):
        for opt in opts or ():
            assert f"`{opt.name}`" in page, f"docs/formats/{fid}.md does not list the {mode} option {opt.name!r}"
    # Table rows of options (a first cell that is one `name`) under a "... option(s)" heading or header.
    declared = {o.name for o in (info.read_options or ()) + (info.write_options or ())}
    listed = set()
    for block in re.split(r"\n(?=#+ |\| (?:read |write |writer |reader )?option)", page):
        if not re.match(r"(#+ .*[Oo]ptions|\| (read |write |writer |reader )?option)", block):
            continue
        for row in re.findall(r"^\| `([a-z_0-9]+)`(?:, `([a-z_0-9]+)`)*(?:, `([a-z_0-9]+)`)? \|", block, re.M):
            listed.update(n for n in row if n)
    assert listed, f"docs/formats/{fid}.md has no options table"
    assert listed <= declared, f"docs/formats/{fid}.md lists undeclared options {sorted(listed - declared)}"


@pytest.fixture
def canonical_input(tmp_path, hub, small_set):
    p = tmp_path / "in.json"
    predport.save(small_set, p)
    return p


def _convert(capsys, *args: str) -> tuple[int, str]:
    code = main(["convert", *args])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("fid,name", _bool_options("read"))
def test_every_format__bad_boolean_read_option(fid, name, tmp_path, hub, capsys):
    code, err = _convert(capsys, str(tmp_path), str(tmp_path / "out.json"), "--from", fid, "-o", f"{name}=nope")
    assert code == 2, err
    assert f"read option of format '{fid}' is not a boolean: {name}='nope' (true or false)" in err
    assert "Traceback" not in err
    with pytest.raises(predport.OptionError) as info:
        predport.load(tmp_path, format=fid, read_options={name: "nope"})
    assert info.value.field == name and info.value.plugin


@pytest.mark.parametrize("fid,name", _bool_options("write"))
def test_every_format__bad_boolean_write_option(fid, name, tmp_path, canonical_input, capsys):
    out = tmp_path / "out"
    code, err = _convert(capsys, str(canonical_input), str(out), "--to", fid, "-w", f"{name}=nope")
    assert code == 2, err
    assert f"write option of format '{fid}' is not a boolean: {name}='nope' (true or false)" in err
    assert not out.exists()


@pytest.mark.parametrize("fid", [fid for fid, _ in _declared("read")])
def test_every_format__unknown_read_option(fid, tmp_path, hub, capsys):
    code, err = _convert(capsys, str(tmp_path), str(tmp_path / "out.json"), "--from", fid, "-o", "zzqx=1")
    assert code == 2, err
    assert f"field 'zzqx': unknown read option" in err and f"format '{fid}'" in err
    assert "did you mean" not in err


@pytest.mark.parametrize("fid", [fid for fid, _ in _declared("write")])
def test_every_format__unknown_write_option(fid, tmp_path, canonical_input, capsys):
    out = tmp_path / "out"
    code, err = _convert(capsys, str(canonical_input), str(out), "--to", fid, "-w", "zzqx=1")
    assert code == 2, err
    assert f"field 'zzqx': unknown write option" in err and f"format '{fid}'" in err
    assert not out.exists()


@pytest.mark.parametrize("fid,typo,name", _typos("read"))
def test_every_format__read_option_typo_suggests_the_declared_name(fid, typo, name, tmp_path, hub, capsys):
    code, err = _convert(capsys, str(tmp_path), str(tmp_path / "out.json"), "--from", fid, "-o", f"{typo}=1")
    assert code == 2, err
    assert f"did you mean '{name}'?" in err


@pytest.mark.parametrize("fid,typo,name", _typos("write"))
def test_every_format__write_option_typo_suggests_the_declared_name(fid, typo, name, tmp_path, canonical_input,
                                                                     capsys):
    code, err = _convert(capsys, str(canonical_input), str(tmp_path / "out"), "--to", fid, "-w", f"{typo}=1")
    assert code == 2, err
    assert f"did you mean '{name}'?" in err


# -- the API: one meaning for read_options and write_options ------------------------------------------
def test_api__old_options_keyword_still_works_with_a_deprecation_warning(canonical_input, tmp_path):
    with pytest.warns(DeprecationWarning, match="use read_options"):
        ps = predport.load(canonical_input, options={})
    assert len(ps.frames) == 2
    with pytest.raises(predport.OptionError):
        with pytest.warns(DeprecationWarning):
            predport.load(canonical_input, options={"x": 1})
    with pytest.warns(DeprecationWarning, match="use write_options"):
        predport.save(ps, tmp_path / "a.json", options={})
    with pytest.raises(predport.ConfigError, match="both"):
        predport.load(canonical_input, options={}, read_options={})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        predport.convert(canonical_input, tmp_path / "b.json", read_options={}, write_options={})


def test_api__read_options_reach_the_reader_typed_and_defaulted(hub):
    seen = {}

    class Plugin:
        @predport.hookimpl
        def formats(self):
            return [predport.FormatInfo(id="optfmt", title="t", read_options=(
                Option("flag", "bool", False), Option("n", "int", 7), Option("names", "list")))]

        @predport.hookimpl
        def parse(self, source, options, context):
            seen.update(options)
            return iter(())

        @predport.hookimpl
        def to_canonical(self, records):
            return iter(())

    hub.register(Plugin(), name="optplugin")
    predport.load(ROOT / "README.md", format="optfmt", read_options={"flag": "on", "names": "a,b"})
    assert seen == {"flag": True, "n": 7, "names": ["a", "b"]}


def test_cli__undeclared_plugin_keeps_json_values_and_typo_warning(hub, tmp_path, capsys):
    seen = {}

    class Legacy:
        @predport.hookimpl
        def formats(self):
            return [predport.FormatInfo(id="legacyfmt", title="t")]

        @predport.hookimpl
        def parse(self, source, format, options, context):
            if format != "legacyfmt":
                return None
            seen["n"] = options.get("n")
            return iter(())

        @predport.hookimpl
        def to_canonical(self, records, format):
            return iter(()) if format == "legacyfmt" else None

    hub.register(Legacy(), name="legacyplugin")
    code = main(["convert", str(ROOT / "README.md"), str(tmp_path / "o.json"), "--from", "legacyfmt",
                 "-o", "n=3", "-o", "typo=1", "--allow-empty"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert seen == {"n": 3}
    assert "reader option 'typo' was not used" in out.out


def test_cli__formats_format_prints_the_declared_options(hub, capsys):
    assert main(["formats", "kitti"]) == 0
    out = capsys.readouterr().out
    info = hub.format_info("kitti")
    for opt in info.read_options + info.write_options:
        assert re.search(rf"^{re.escape(opt.name)}\s", out, re.M), opt.name
    assert "read options (-o KEY=VALUE):" in out and "write options (-w KEY=VALUE):" in out
    assert main(["formats", "kitti", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [o["name"] for o in doc["read_options"]] == [o.name for o in info.read_options]
    assert main(["formats", "canonical"]) == 0
    assert "read options: none" in capsys.readouterr().out
    assert main(["formats", "kitty"]) == 1
    assert "did you mean kitti" in capsys.readouterr().err
