"""``import predport``, ``--help``, ``plugins`` and ``formats`` stay cheap: no heavy imports."""
from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("numpy", "pydantic", "cv2", "pycocotools", "PIL", "jsonschema", "jsonschema_rs")


def loaded_after(code: str) -> set[str]:
    probe = f"""
import sys
{code}
print(",".join(m for m in {HEAVY!r} if m in sys.modules))
"""
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return {m for m in r.stdout.strip().split(",") if m}


def test_import__predport_is_cheap():
    assert loaded_after("import predport") == set()


@pytest.mark.parametrize("argv", [["--help"], ["plugins"], ["formats"]])
def test_import__cli_listing_commands_load_no_heavy_module(argv):
    code = f"""
import contextlib, io
from predport.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    main({argv!r})
"""
    assert loaded_after(code) == set()
