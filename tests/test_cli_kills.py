"""Real-CLI kill tests: a ``predport convert --overwrite`` killed at random moments (issue 12, item 7).

A Lightly folder output (one JSON file per image) is converted over a previous output and
the process is killed — SIGKILL or SIGTERM — at random moments: half anywhere in the run,
half while the commit moves files into place (the staging journal exists). Afterwards
the output is byte for byte the old one or the new one:

* SIGTERM: at once, and what the CLI printed says which ("nothing was written" -> old,
  "is the new output" -> new, exit 130); no staging folder is left;
* SIGKILL: after the next run into the output (which recovers what the killed run left,
  rolling it back or forward, then refuses to overwrite without ``--overwrite``); no
  staging folder is left.

The normal suite converts 600 files with 6 kills (about 30 s on a quiet machine). The issue's acceptance case —
20 kills of a 30,000-file conversion — runs in the long profile::

    PREDPORT_FUZZ=long nice -n 10 .venv/bin/python -m pytest -q -s tests/test_cli_kills.py
"""
from __future__ import annotations

import glob
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from predport.output import STAGING_PREFIX

LONG = os.environ.get("PREDPORT_FUZZ", "").lower() == "long"
FILES = 30_000 if LONG else 600
KILLS = 20 if LONG else 6


def _canonical(n: int, version: int) -> bytes:
    frames = [{"data_id": f"img_{i:06d}.jpg", "width": 640, "height": 480,
               "predictions": [{"category_id": i % 3, "score": round(0.5 + version / 10 + (i % 7) / 100, 4),
                                "box": [float(i % 600), float(i % 400), 10.0 + version, 20.0]}]}
              for i in range(n)]
    return orjson.dumps({"schema": "predport/prediction-set/1",
                         "categories": [{"id": 0, "name": "car"}, {"id": 1, "name": "person"},
                                        {"id": 2, "name": "bus"}], "frames": frames})


def _snapshot(root: Path) -> dict[str, bytes]:
    """Every file below ``root`` but the hidden staging folder (checked separately: the next
    run into the output removes what an interrupted run left there)."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(STAGING_PREFIX)]
        for name in files:
            p = os.path.join(dirpath, name)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root)] = fh.read()
    return out


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "predport", *args]


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    """The old and the new input, and what each converts to (bytes of every file)."""
    root = tmp_path_factory.mktemp("kills")
    snaps = {}
    for version in (1, 2):
        src = root / f"v{version}.json"
        src.write_bytes(_canonical(FILES, version))
        ref = root / f"ref{version}"
        proc = subprocess.run(_cli("convert", str(src), str(ref), "--to", "lightly", "-q"), capture_output=True,
                              text=True, timeout=1200)
        assert proc.returncode == 0, proc.stderr
        snaps[version] = _snapshot(ref)
    assert len(snaps[1]) >= FILES and snaps[1] != snaps[2] and snaps[1].keys() == snaps[2].keys()
    shutil.copytree(root / "ref1", root / "over")
    start = time.monotonic()
    proc = subprocess.run(_cli("convert", str(root / "v2.json"), str(root / "over"), "--to", "lightly",
                               "--overwrite", "-q"), capture_output=True, text=True, timeout=1200)
    run_seconds = time.monotonic() - start
    assert proc.returncode == 0 and _snapshot(root / "over") == snaps[2]
    return root, snaps, run_seconds


def _staging(out: Path) -> list[str]:
    return glob.glob(str(out / f"{STAGING_PREFIX}*")) + glob.glob(str(out.parent / f".{out.name}{STAGING_PREFIX}*"))


def _prepare(root: Path, out: Path) -> None:
    """The previous output: a copy of what ``convert v1.json`` wrote."""
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(root / "ref1", out)


def test_cli_kills__overwrite_killed_at_random_moments_leaves_old_or_new_output(outputs):
    root, snaps, run_seconds = outputs
    rng = random.Random(12)
    out = root / "out"
    seen = {"old": 0, "new": 0}
    in_commit = 0
    for k in range(KILLS):
        sig = signal.SIGTERM if k % 2 else signal.SIGKILL
        during_commit = k % 4 >= 2
        _prepare(root, out)
        proc = subprocess.Popen(_cli("convert", str(root / "v2.json"), str(out), "--to", "lightly", "--overwrite"),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if during_commit:  # wait for the journal: the commit has begun moving files
            deadline = time.monotonic() + run_seconds * 4 + 60
            while proc.poll() is None and time.monotonic() < deadline:
                if glob.glob(str(out / f"{STAGING_PREFIX}*" / ".journal")):
                    in_commit += 1
                    break
                time.sleep(0.002)
            time.sleep(rng.uniform(0, 0.3 * run_seconds))
        else:
            time.sleep(rng.uniform(0.2, 1.1) * run_seconds)
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=600)
        if sig == signal.SIGKILL or _staging(out):
            # SIGTERM while the staging folder was being removed after the commit leaves some of it
            assert sig == signal.SIGKILL or "is the new output" in stderr, stderr
            assert proc.returncode in (-signal.SIGKILL, 0) or sig == signal.SIGTERM, stderr
            # the next run into the output recovers what the killed one left, then refuses (no --overwrite)
            nxt = subprocess.run(_cli("convert", str(root / "v2.json"), str(out), "--to", "lightly"),
                                 capture_output=True, text=True, timeout=1200)
            assert nxt.returncode == 1 and "not empty" in nxt.stderr, nxt.stderr
        now = _snapshot(out)
        state = "old" if now == snaps[1] else "new" if now == snaps[2] else "mixed"
        assert state != "mixed", (f"kill {k} ({sig.name}, exit {proc.returncode}): {len(now)} files, neither the old "
                                  f"nor the new output; {stderr}")
        assert not _staging(out), f"kill {k}: staging left behind: {_staging(out)}"
        # 130 as the CLI returns; -SIGINT seen once (the interruption re-raised as Python exits):
        # what matters here is that the message printed matches the disk
        if sig == signal.SIGTERM and proc.returncode in (130, -signal.SIGINT):
            if "nothing was written" in stderr:
                assert state == "old", stderr
            else:
                assert "is the new output" in stderr and state == "new", stderr
        elif sig == signal.SIGTERM and proc.returncode == -signal.SIGTERM:
            # outside the CLI's handler: Python still starting (nothing begun: old), or the command
            # already done and the handler given back (new); no claim was printed that disagrees
            assert not stderr.strip(), stderr
            if "wrote" in stdout:
                assert state == "new", stdout
        elif sig == signal.SIGTERM:
            assert proc.returncode == 0 and state == "new", stderr  # finished before the signal
        seen[state] += 1
    print(f"\n{FILES} files, {KILLS} kills ({in_commit} during the commit), run {run_seconds:.1f} s: {seen}")
    assert in_commit >= 1 or run_seconds < 0.5
