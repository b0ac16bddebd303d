"""Benchmark: a COCO results file of 1,000,000 boxes to canonical JSON.

Prints, from one run, the wall time and peak memory of

* **predport** — ``predport.convert(results_bbox.json, out.json)`` (detect, read,
  check, group by image, write validated canonical JSON);
* **floor** — the least any converter must do: ``orjson.loads`` the file, build
  numpy columns (image_id, category_id, bbox N x 4, score), ``orjson.dumps`` the
  columns and write them (garbage collector off, as in ``../shared/bench``);
* **pycocotools** — ``COCO(gt.json).loadRes(results_bbox.json)``, as users run it;

and the ratios against the issue's targets: predport at most 2x the floor's wall
time and 1.5x its peak memory, and at least 3x faster than ``loadRes``.

Each measurement runs in a fresh Python process; its wall time is the whole
process (start-up and imports included) and its peak RSS comes from ``wait4``
for that process alone. The input comes from ``python ../shared/bench/gen.py
--out bench-data --parts coco``.

    python bench/bench_coco.py --data /work/bench-data
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

from _harness import run as run_child, warm_bytecode  # bench/ is on sys.path when a script runs

FLOOR = r"""
import gc, sys
import numpy as np, orjson
gc.disable()
src, dst = sys.argv[1], sys.argv[2]
with open(src, "rb") as fh:
    recs = orjson.loads(fh.read())
n = len(recs)
image_id = np.array([r["image_id"] for r in recs], dtype=np.int64)
category_id = np.array([r["category_id"] for r in recs], dtype=np.int64)
score = np.array([r["score"] for r in recs], dtype=np.float64)
bbox = np.array([r["bbox"] for r in recs], dtype=np.float64).reshape(n, 4)
del recs
blob = orjson.dumps({"image_id": image_id, "category_id": category_id, "bbox": bbox, "score": score},
                    option=orjson.OPT_SERIALIZE_NUMPY)
with open(dst, "wb") as fh:
    fh.write(blob)
print(n)
"""

PREDPORT = r"""
import sys, predport
summary = predport.convert(sys.argv[1], sys.argv[2], overwrite=True)
print(summary["predictions"])
"""

LOADRES = r"""
import contextlib, io, sys
from pycocotools.coco import COCO
with contextlib.redirect_stdout(io.StringIO()):
    gt = COCO(sys.argv[3])
    res = gt.loadRes(sys.argv[1])
print(len(res.anns))
"""


def run(code: str, args: list[str]) -> tuple[float, float, str]:
    """Run ``code`` in a fresh interpreter: (wall seconds, peak RSS MiB, stdout)."""
    return run_child(code, args)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="./bench-data", help="folder made by gen.py (default ./bench-data)")
    ap.add_argument("--repeat", type=int, default=1, help="runs per measurement; medians are printed")
    ap.add_argument("--skip-loadres", action="store_true", help="leave out pycocotools (slow)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON too")
    a = ap.parse_args(argv)
    warm_bytecode()
    src = Path(a.data) / "coco" / "results_bbox.json"
    gt = Path(a.data) / "coco" / "gt.json"
    if not src.is_file() or not gt.is_file():
        print(f"missing {src} or {gt}: run python ../shared/bench/gen.py --out {a.data} --parts coco", file=sys.stderr)
        return 2
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-coco-") as tmp:
        plan = [("floor", FLOOR), ("predport", PREDPORT)]
        if not a.skip_loadres:
            plan.append(("pycocotools loadRes", LOADRES))
        counts = {}
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name, _ in plan}
        for _ in range(a.repeat):
            for name, code in plan:  # interleaved, so that load on the machine hits all alike
                dst = Path(tmp) / f"{name.split()[0]}.json"
                dst.unlink(missing_ok=True)
                wall, rss, out = run(code, [str(src), str(dst), str(gt)])
                runs[name].append((wall, rss))
                counts[name] = out
        for name, values in runs.items():
            results[name] = {
                "wall_s": statistics.median(v[0] for v in values),
                "peak_rss_mib": statistics.median(v[1] for v in values),
            }
    n = counts["predport"]
    print(f"COCO results -> canonical JSON, {n} boxes ({src}), median of {a.repeat} run(s), whole process")
    print(f"{'':22s}{'wall s':>9s}{'peak RSS MiB':>15s}")
    for name, r in results.items():
        print(f"{name:22s}{r['wall_s']:9.2f}{r['peak_rss_mib']:15.0f}")
    floor, pp = results["floor"], results["predport"]
    checks = [
        ("wall time vs floor", pp["wall_s"] / floor["wall_s"], "<=", 2.0),
        ("peak memory vs floor", pp["peak_rss_mib"] / floor["peak_rss_mib"], "<=", 1.5),
    ]
    if "pycocotools loadRes" in results:
        checks.append(("speed-up vs loadRes", results["pycocotools loadRes"]["wall_s"] / pp["wall_s"], ">=", 3.0))
    print()
    for label, value, op, target in checks:
        ok = value <= target if op == "<=" else value >= target
        print(f"{label:22s}{value:9.2f}x   target {op} {target}x   {'ok' if ok else 'MISSED'}")
    if a.json:
        print(json.dumps({"results": results, "ratios": {c[0]: round(c[1], 3) for c in checks}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
