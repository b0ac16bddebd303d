"""docs/hooks.md's read and write examples are cut from real, tested code (the plugin
template), and they run: each block names its source file on its first line, must be that
file's text verbatim, and is executed in that module's namespace as a plugin that reads
and writes a file (known values by hand)."""
from __future__ import annotations

import importlib
import re
import sys
import types
from pathlib import Path

import pytest

import predport

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "hooks.md"
TEMPLATE_SRC = REPO / "docs" / "template" / "src"


def _cut_blocks() -> list[tuple[str, str]]:
    """``(source path, code)`` of every python block whose first line is ``# docs/...py``."""
    blocks = re.findall(r"```python\n# (docs/\S+\.py)\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    return [(path, code) for path, code in blocks]


def test_hooks_doc__read_and_write_examples_are_the_templates_code_verbatim() -> None:
    blocks = _cut_blocks()
    assert {"def parse(", "def to_canonical(", "def from_canonical(", "class Row("} <= {
        m for _, code in blocks for m in re.findall(r"^(?:def \w+\(|class \w+\()", code, flags=re.M)}
    for path, code in blocks:
        text = (REPO / path).read_text(encoding="utf-8")
        assert code.strip() in text, f"docs/hooks.md: the example from {path} is not its code verbatim"
        assert "format !=" not in code  # dispatch by declaration: no guard in any example


@pytest.fixture
def doc_plugin(hub, monkeypatch):
    """The doc's hook examples, executed in the template's hooks namespace, registered as a plugin."""
    monkeypatch.syspath_prepend(str(TEMPLATE_SRC))
    for name in [m for m in sys.modules if m.startswith("predport_csvboxes")]:
        monkeypatch.delitem(sys.modules, name)
    real = importlib.import_module("predport_csvboxes.hooks")
    mod = types.ModuleType("predport_csvboxes.doc_hooks")
    mod.__dict__.update({k: v for k, v in vars(real).items() if not callable(getattr(v, "predport_impl", None))
                         and not hasattr(v, "predport_impl")})
    mod.__package__ = "predport_csvboxes"
    for path, code in _cut_blocks():
        target = mod.__dict__ if path.endswith("hooks.py") else vars(importlib.import_module(
            "predport_csvboxes." + Path(path).stem))
        exec(compile(code, f"<docs/hooks.md: {path}>", "exec"), target)
    for hook in ("formats", "schemas", "detect_format"):
        setattr(mod, hook, getattr(real, hook))
    hub.register(mod, name="csvboxes")
    return mod


def test_hooks_doc__the_examples_read_and_write_a_file(doc_plugin, tmp_path: Path) -> None:
    src = tmp_path / "boxes.csv"
    src.write_text("image,class,x,y,w,h,score\na.jpg,car,10,20,30.5,40,0.93\na.jpg,person,1,2,3,4,\nb.jpg,,,,,,\n")
    data = predport.load(src, format="csvboxes")
    assert [f.data_id for f in data.frames] == ["a.jpg", "b.jpg"]
    a = data.frames[0].predictions
    assert a.box.tolist() == [[10.0, 20.0, 30.5, 40.0], [1.0, 2.0, 3.0, 4.0]]
    assert a.score[0] == 0.93 and a.score[1] != a.score[1]  # NaN: no score given
    assert [c.name for c in data.categories] == ["car", "person"]
    out = tmp_path / "out.csv"
    predport.save(data, out, format="csvboxes")
    assert out.read_text().splitlines() == ["image,class,x,y,w,h,score", "a.jpg,car,10.0,20.0,30.5,40.0,0.93",
                                            "a.jpg,person,1.0,2.0,3.0,4.0,", "b.jpg,,,,,,"]
