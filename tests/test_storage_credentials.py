"""An s3:// path without credentials is a clear error (exit 1), not an internal error (exit 70).

botocore's ``NoCredentialsError`` is not an ``OSError``: before the fix it escaped the
storage layer and the CLI printed "internal error: NoCredentialsError", exit 70.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytest.importorskip("s3fs")


def _no_credentials_env(tmp_path: Path) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_EC2_METADATA_DISABLED="true", AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
               AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_MAX_ATTEMPTS="1", AWS_RETRY_MODE="standard",
               AWS_METADATA_SERVICE_NUM_ATTEMPTS="1", HOME=str(tmp_path))
    return env


@pytest.mark.parametrize("role", ["input", "output"])
def test_s3_without_credentials_exits_1_with_a_clear_message(tmp_path, role):
    local = ROOT / "examples" / "coco" / "results.json"
    url = "s3://predport-no-such-bucket-for-tests/p.json"
    args = [url, str(tmp_path / "out.json")] if role == "input" else [str(local), url]
    proc = subprocess.run([sys.executable, "-m", "predport", "convert", *args], capture_output=True, text=True,
                          env=_no_credentials_env(tmp_path), timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "no credentials" in proc.stderr and url in proc.stderr and "internal error" not in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out.json").exists() and not (Path.cwd() / "s3:").exists()
