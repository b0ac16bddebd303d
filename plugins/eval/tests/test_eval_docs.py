"""The evaluation guides are executable: every console command and python block runs on
docs/examples/eval, and what a console block shows is what the command prints."""
from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "docs" / "examples" / "eval"
PAGES = ["evaluate.md", "evaluate-coco.md", "evaluate-semantic.md"]
STAT_NAMES = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]


def _blocks(page: str) -> list[tuple[str, str]]:
    text = (ROOT / "docs" / page).read_text()
    return [(m.group(1), m.group(2)) for m in re.finditer(r"^```(console|python)\n(.*?)^```", text, flags=re.M | re.S)]


def _console(block: str) -> list[tuple[str, list[str]]]:
    out: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            out.append((line[2:].split("  #")[0].strip(), []))
        else:
            out[-1][1].append(line)
    return out


def _run(command: str) -> str:
    argv = shlex.split(command)
    quiet = argv[-2:] == [">", "/dev/null"]
    if quiet:
        argv = argv[:-2]
    if argv[0] == "cat":
        return Path(argv[1]).read_text()
    assert argv[0] == "predport", command
    from predport.cli import main

    buf, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(err):
        code = main(argv[1:])
    assert code == 0, (command, err.getvalue())
    return "" if quiet else buf.getvalue()


def _same(shown: list[str], printed: str) -> None:
    lines = printed.rstrip("\n").split("\n") if printed else []
    if shown and shown[-1].endswith("..."):  # a shown prefix of a long output
        assert len(lines) >= len(shown)
        for want, got in zip(shown[:-1], lines):
            assert got == want
        assert lines[len(shown) - 1].startswith(shown[-1][:-3])
    else:
        assert lines == shown


@pytest.mark.parametrize("page", PAGES)
def test_docs__every_example_runs_and_prints_what_the_page_shows(page, tmp_path):
    shutil.copytree(EXAMPLES, tmp_path / "eval")
    old = os.getcwd()
    os.chdir(tmp_path / "eval")
    namespace: dict = {}
    ran = 0
    try:
        for kind, code in _blocks(page):
            if kind == "python":
                exec(compile(code, f"docs/{page}", "exec"), namespace)
                ran += 1
                continue
            for command, shown in _console(code):
                _same(shown, _run(command))
                ran += 1
    finally:
        os.chdir(old)
    assert ran >= 2


def test_docs__example_files_are_what_make_py_writes(tmp_path):
    pytest.importorskip("PIL")
    subprocess.run([sys.executable, str(EXAMPLES / "make.py"), str(tmp_path)], check=True)
    made = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    kept = sorted(p.relative_to(EXAMPLES) for p in EXAMPLES.rglob("*") if p.is_file() and p.name != "make.py")
    assert made == kept
    for rel in made:
        if rel.suffix == ".png":  # pixels, not encoder bytes
            from PIL import Image

            assert np.array_equal(np.asarray(Image.open(tmp_path / rel)), np.asarray(Image.open(EXAMPLES / rel)))
        else:
            assert (tmp_path / rel).read_bytes() == (EXAMPLES / rel).read_bytes(), rel


def test_docs__coco_example_figures_are_pycocotools(ref):
    import predport_eval

    e = ref.eval(EXAMPLES / "coco" / "gt.json", EXAMPLES / "coco" / "results.json", "bbox")
    got = predport_eval.evaluate(EXAMPLES / "coco" / "results.json", EXAMPLES / "coco" / "gt.json")
    assert np.allclose([got.metrics[k] for k in STAT_NAMES], e.stats, atol=1e-12, rtol=0)
    assert json.loads(json.dumps(got.to_dict()))["metrics"]["AP"] == pytest.approx(0.5173, abs=1e-4)
