"""Run every benchmark in this folder, one after another, on the same data.

    python bench/run_all.py --data /path/to/bench-data        # generate it with shared/bench/gen.py

Each ``bench_*.py`` prints predport's figures next to the floor and the other tools
measured in the same run. Benchmarks never run as part of the test suite.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="bench-data", help="folder made by shared/bench/gen.py")
    ap.add_argument("--only", nargs="*", default=None, help="names like coco kitti (default: all)")
    a = ap.parse_args()
    failed = 0
    for script in sorted(HERE.glob("bench_*.py")):
        name = script.stem.removeprefix("bench_")
        if a.only and name not in a.only:
            continue
        print(f"\n=== {name} " + "=" * (60 - len(name)), flush=True)
        rc = subprocess.call([sys.executable, str(script), "--data", a.data])
        failed += rc != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
