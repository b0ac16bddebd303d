"""Benchmark: what the column checks of ``predport.Detections`` cost per frame.

Every reader builds one ``Detections`` per frame (50,000 for the Lightly benchmark's
folder), and since issue 14 each is checked once, vectorised: finite scores, box rows
all finite with width and height >= 0 or all NaN, shapes. Printed side by side, in one
process, for frames of 1, 20 and 200 boxes (the readers' typical sizes):

* **floor** — holding the three arrays (what a constructor without any check costs:
  an object with three attributes set);
* **predport** — ``Detections(category_id, score, box)`` from arrays of the right
  dtype (the readers' fast paths);
* **checks alone** — the vectorised check on the same arrays, so its share of the
  constructor is visible;
* **slow path** — a frame with rows without a box (NaN rows), where the check falls
  back to a per-row mask.

    python bench/bench_columns.py [--frames 50000]

Run it with a checkout from before the checks too (the "checks" column is then "-"):
the difference of the predport columns is what the checks cost.
"""
from __future__ import annotations

import argparse
import time

import numpy as np


class _Floor:
    __slots__ = ("category_id", "score", "box")

    def __init__(self, category_id: np.ndarray, score: np.ndarray, box: np.ndarray) -> None:
        self.category_id, self.score, self.box = category_id, score, box


def _time(fn, args, frames: int) -> float:
    """Median of 5 runs, microseconds per call."""
    runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(frames):
            fn(*args)
        runs.append((time.perf_counter() - t0) / frames * 1e6)
    return sorted(runs)[2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=50_000)
    a = ap.parse_args()
    import predport
    from predport import model

    rng = np.random.default_rng(0)
    print(f"predport {predport.__version__}: microseconds per frame, median of 5 x {a.frames:,} frames")
    print(f"{'rows':>5} {'floor':>8} {'predport':>9} {'checks':>8} {'checks %':>9} {'NaN rows':>9}")
    for n in (1, 20, 200):
        cid = rng.integers(0, 80, n).astype(np.int64)
        score = rng.random(n)
        box = np.column_stack([rng.random((n, 2)) * 1000, rng.random((n, 2)) * 100 + 1])
        holes = box.copy()
        holes[::2] = np.nan
        floor = _time(_Floor, (cid, score, box), a.frames)
        full = _time(predport.Detections, (cid, score, box), a.frames)
        check = getattr(model, "_check_columns", None)  # absent before issue 14: "-"
        checks = _time(check, (score, box), a.frames) if check is not None else None
        slow = _time(predport.Detections, (cid, score, holes), a.frames)
        share = "-" if checks is None else f"{checks:.2f} {100 * checks / full:>8.0f}%"
        print(f"{n:>5} {floor:>8.2f} {full:>9.2f} {share:>18} {slow:>9.2f}")


if __name__ == "__main__":
    main()
