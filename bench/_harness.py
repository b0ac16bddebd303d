"""What every benchmark needs: run a snippet in a fresh interpreter, time it, read its peak memory."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time


def warm_bytecode() -> None:
    """Compile predport and its plugins to bytecode, as ``pip install`` does for a wheel.

    Editable installs compile on first import, unless ``PYTHONDONTWRITEBYTECODE`` is
    set (it is on some CI machines): then every measured process would compile the
    sources again, a start-up cost no installed copy pays. Compiling once here keeps
    that out of the figures (``__pycache__`` is ignored by git).
    """
    import compileall

    import predport

    predport.get_hub().formats()  # imports every plugin
    folders = {os.path.dirname(mod.__file__) for name, mod in list(sys.modules.items())
               if name.split(".")[0].startswith("predport") and getattr(mod, "__file__", None)}
    for folder in sorted(folders):
        compileall.compile_dir(folder, quiet=1)


def run(code: str, args: list[str]) -> tuple[float, float, str]:
    """Run ``code`` with ``args`` in a fresh interpreter: (wall seconds, peak RSS MiB, stdout)."""
    wall, peak, out, _ = run_cpu(code, args)
    return wall, peak, out


def run_cpu(code: str, args: list[str]) -> tuple[float, float, str, float]:
    """:func:`run` plus the CPU seconds (user + system) of the process and the children it waited for.

    The peak is the child's own (``wait4`` returns that child's rusage; ru_maxrss is KiB on
    Linux, the largest of the process and its reaped children). A failing child stops the
    benchmark with its stderr.
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
        return wall, usage.ru_maxrss / 1024, out.read().decode().strip(), usage.ru_utime + usage.ru_stime
