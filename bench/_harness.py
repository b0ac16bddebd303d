"""What every benchmark needs: run a snippet in a fresh interpreter, time it, read its peak memory."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time


def run(code: str, args: list[str]) -> tuple[float, float, str]:
    """Run ``code`` with ``args`` in a fresh interpreter: (wall seconds, peak RSS MiB, stdout).

    The peak is the child's own (``wait4`` returns that child's rusage; ru_maxrss is KiB on
    Linux). A failing child stops the benchmark with its stderr.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", code, *args], stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        code_ = os.waitstatus_to_exitcode(status)
        if code_ != 0:
            raise SystemExit(f"measurement failed ({code_}):\n{err.read().decode(errors='replace')}")
        return wall, usage.ru_maxrss / 1024, out.read().decode().strip()
