"""docs/workflows.md is executable: its python blocks run, in order, on the bundled examples."""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "workflows.md"


def _blocks() -> list[tuple[str, str]]:
    text = DOC.read_text()
    out, section = [], "?"
    for m in re.finditer(r"^## ([^\n]+)$|^```python\n(.*?)^```", text, flags=re.M | re.S):
        if m.group(1):
            section = m.group(1).strip()
        else:
            out.append((section, m.group(2)))
    return out


def test_workflows__every_python_block_runs(tmp_path, hub):
    work = tmp_path / "examples"
    shutil.copytree(ROOT / "examples", work)
    namespace: dict = {}
    old = os.getcwd()
    os.chdir(work)
    try:
        blocks = _blocks()
        assert len(blocks) >= 6
        for section, code in blocks:
            try:
                exec(compile(code, f"docs/workflows.md: {section}", "exec"), namespace)
            except Exception as exc:  # name the section that broke
                pytest.fail(f"workflow {section!r} failed: {type(exc).__name__}: {exc}")
    finally:
        os.chdir(old)
