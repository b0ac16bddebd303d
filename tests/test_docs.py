"""The documentation keeps up with the code: every hook documented, README and CI agree."""
from __future__ import annotations

import re
from pathlib import Path

from predport import hookspecs

ROOT = Path(__file__).resolve().parents[1]
HOOKS = [name for name in dir(hookspecs) if hasattr(getattr(hookspecs, name), "predport_spec")]


def test_docs__hookspecs_are_found():
    assert set(HOOKS) == {"formats", "detect_format", "parse", "to_canonical", "from_canonical", "schemas",
                          "register_commands"}


def test_docs__every_hook_has_a_section_in_the_hook_reference():
    text = (ROOT / "docs" / "hooks.md").read_text()
    sections = set(re.findall(r"^## (\w+)\s*$", text, flags=re.M))
    missing = [h for h in HOOKS if h not in sections]
    assert not missing, f"hooks without a section in docs/hooks.md: {missing}"
    stale = sections - set(HOOKS)
    assert not stale, f"sections for hooks that no longer exist: {stale}"


def test_docs__every_hook_has_a_docstring_saying_how_results_combine():
    for name in HOOKS:
        doc = getattr(hookspecs, name).__doc__ or ""
        assert ("every plugin" in doc) or ("Declaring plugin" in doc), name


def _quick_start_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"## Quick start.*?```(?:sh|bash)?\n(.*?)```", text, flags=re.S)
    assert block, "README has no Quick start code block"
    return [line.strip() for line in block.group(1).splitlines() if line.strip() and not line.startswith("#")]


def test_docs__readme_quick_start_is_exactly_two_commands_and_ci_runs_them():
    cmds = _quick_start_commands()
    assert len(cmds) == 2, cmds
    ci = (ROOT / ".ci" / "run").read_text()
    for cmd in cmds:
        assert cmd in ci, f".ci/run does not run the README command: {cmd}"


def test_docs__readme_python_snippet_runs_on_the_bundled_examples(tmp_path, monkeypatch, capsys):
    """The README's library snippet runs as written, on the bundled examples (empty frames included)."""
    import shutil

    text = (ROOT / "README.md").read_text()
    snippet = re.search(r"```python\n(.*?)```", text, flags=re.S)
    assert snippet, "README has no python snippet"
    shutil.copy(ROOT / "examples" / "coco" / "results.json", tmp_path / "results.json")
    shutil.copytree(ROOT / "examples" / "kitti", tmp_path / "kitti")
    monkeypatch.chdir(tmp_path)
    exec(compile(snippet.group(1), "README.md", "exec"), {})
    printed = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    labels = sorted((tmp_path / "kitti" / "label_2").iterdir())
    assert len(printed) == len(labels)          # one line per KITTI frame, empty ones included
    empty = [p for p in labels if not p.read_text().strip()]
    assert empty, "the bundled KITTI example should hold an empty frame"
    assert (tmp_path / "preds.jsonl").stat().st_size > 0
    assert (tmp_path / "preds.json").stat().st_size > 0


def test_docs__quick_start_does_not_install_the_plugin_template():
    """README command 1 installs requirements-dev.txt: the template (an example, not a format)
    is not in it, so ``predport formats`` of a quick-start environment lists no csvboxes;
    .ci/run still installs and tests the template, in an environment of its own."""
    cmds = _quick_start_commands()
    assert "-r requirements-dev.txt" in cmds[0]
    reqs = [line.split("#")[0].strip() for line in (ROOT / "requirements-dev.txt").read_text().splitlines()]
    assert not [r for r in reqs if "template" in r], reqs
    ci = (ROOT / ".ci" / "run").read_text()
    assert './docs/template' in ci and 'grep -q "csvboxes"' in ci


def _command_options() -> dict[str, list[list[str]]]:
    """Every predport command (the core's and the installed plugins') and its options' spellings."""
    import argparse

    from predport.cli import _plugin_commands, build_parser

    parser = build_parser(_plugin_commands([]))
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {name: [a.option_strings for a in sp._actions if a.option_strings and a.dest != "help"]
            for name, sp in sub.choices.items()}


def _command_page(name: str) -> Path:
    page = ROOT / "docs" / "commands" / f"{name}.md"
    return page if page.exists() else ROOT / "docs" / f"{name}.md"


def test_docs__every_command_has_a_page_that_names_each_of_its_options():
    commands = _command_options()
    assert {"detect", "convert", "merge", "validate", "formats", "plugins", "schema"} <= set(commands)
    index = (ROOT / "docs" / "commands" / "README.md").read_text()
    for name, options in commands.items():
        page = _command_page(name)
        assert page.exists(), f"command {name!r} has no page: write docs/commands/{name}.md"
        assert f"`{name}`" in index, f"docs/commands/README.md does not list {name!r}"
        text = page.read_text()
        missing = [spellings[-1] for spellings in options if not any(s in text for s in spellings)]
        assert not missing, f"{page.relative_to(ROOT)} does not name the options {missing} of {name!r}"
