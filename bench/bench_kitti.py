"""Benchmark: reading a KITTI results folder (20,000 files) into canonical frames.

Prints, from one run, the wall time and peak memory of

* **floor** — the least any KITTI reader must do: for each file, read the bytes, split
  lines and fields, build a float64 numpy array of the numeric columns (and the class
  names); nothing else;
* **predport** — ``for frame in predport.iter_frames(label_2)``: detection skipped
  (``format="kitti"``), every frame built with its category ids, boxes ``[x, y, w, h]``,
  scores and the KITTI attributes (alpha, dimensions, location, rotation_y; truncation and
  occlusion are the devkit's "unknown" here). Measured twice: with the image folder found
  beside the labels (the default: ``../images`` gives each frame its size from the PNG
  header and its data id) and with ``find_images=False`` (labels only, like the floor);
* **labelformat** — ``KittiObjectDetectionInput(...).get_labels()`` on the 15-column copy
  (it cannot read a score column), with predport and the floor on the same copy;
* **memory flatness** — predport's peak RSS on the first 5,000 files and on all 20,000
  (temporary folders of symbolic links, with the image folder linked beside them).

Each measurement runs in a fresh Python process; "wall" is the whole process (start-up and
imports included), "work" is the time the child measured around its reading loop alone
(after its imports; for predport after the plugins are found), and the peak RSS comes from
``wait4`` for that process alone.
Every input file is read once before the first measurement (so that none pays for reading
from disk), and measurements are interleaved so that load on the machine hits all of them
alike; with ``--repeat N`` medians are printed.

The input comes from ``python ../shared/bench/gen.py --out bench-data --parts kitti``.

    python bench/bench_kitti.py --data /work/bench-data
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

from _harness import run as run_child, warm_bytecode  # bench/ is on sys.path when a script runs

FLOOR = r"""
import os, sys, time
import numpy as np
t = time.perf_counter()
folder = sys.argv[1]
n = 0
for name in sorted(os.listdir(folder)):
    with open(os.path.join(folder, name), "rb") as fh:
        data = fh.read()
    rows = [line.split() for line in data.splitlines()]
    rows = [r for r in rows if r]
    names = [r[0] for r in rows]
    values = np.array([r[1:] for r in rows], dtype=np.float64)
    n += len(names)
print(n, time.perf_counter() - t)
"""

PREDPORT = r"""
import sys, time
import predport
predport.get_hub().formats(), predport.Frame  # start-up: plugins found, model imported
t = time.perf_counter()
options = {} if sys.argv[2] == "images" else {"find_images": False}
n = 0
for frame in predport.iter_frames(sys.argv[1], format="kitti", options=options):
    n += len(frame.predictions)
print(n, time.perf_counter() - t)
"""

LABELFORMAT = r"""
import sys, time
from pathlib import Path
from labelformat.formats.kitti import KittiObjectDetectionInput
t = time.perf_counter()
reader = KittiObjectDetectionInput(
    input_folder=Path(sys.argv[1]),
    category_names="Car,Van,Truck,Pedestrian,Person_sitting,Cyclist,Tram,Misc",
    images_rel_path="../images",
)
n = 0
for label in reader.get_labels():
    n += len(label.objects)
print(n, time.perf_counter() - t)
"""


def run(code: str, args: list[str]) -> tuple[float, float, float, int]:
    """Run ``code`` in a fresh interpreter: (wall s, work s, peak RSS MiB, objects read)."""
    wall, peak, out = run_child(code, args)
    count, work = out.split()
    return wall, float(work), peak, int(count)


def warm_up(*folders: Path) -> None:
    """Read every file once so that no measurement pays for the first read from disk."""
    for folder in folders:
        for entry in os.scandir(folder):
            with open(entry.path, "rb") as fh:
                fh.read(1 << 16)


def linked_copy(src: Path, images: Path, dest: Path, n: int) -> Path:
    """``dest/label_2`` with symbolic links to the first ``n`` files of ``src``, ``dest/images`` -> images."""
    labels = dest / "label_2"
    labels.mkdir(parents=True)
    for name in sorted(os.listdir(src))[:n]:
        os.symlink(src / name, labels / name)
    os.symlink(images, dest / "images")
    return labels


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="./bench-data", help="folder made by gen.py (default ./bench-data)")
    ap.add_argument("--repeat", type=int, default=1, help="runs per measurement; medians are printed")
    ap.add_argument("--files", type=int, default=0, help="use only the first N files (quick runs)")
    ap.add_argument("--skip-labelformat", action="store_true", help="leave out labelformat (slow)")
    ap.add_argument("--stat", choices=("median", "min"), default="median",
                    help="how to combine repeated runs (min is steadier on a shared machine)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON too")
    a = ap.parse_args(argv)
    warm_bytecode()
    root = Path(a.data).resolve() / "kitti"
    lab16, lab15, images = root / "label_2", root / "label_2_15col", root / "images"
    if not (lab16.is_dir() and lab15.is_dir() and images.is_dir()):
        print(f"missing {root}/label_2, label_2_15col or images: run "
              f"python ../shared/bench/gen.py --out {a.data} --parts kitti", file=sys.stderr)
        return 2
    total = len(os.listdir(lab16))
    warm_up(lab16, lab15, images)
    with tempfile.TemporaryDirectory(prefix="bench-kitti-") as tmp:
        tmpdir = Path(tmp)
        if a.files:
            total = min(a.files, total)
            lab16 = linked_copy(lab16, images, tmpdir / "sub16", total)
            lab15 = linked_copy(lab15, images, tmpdir / "sub15", total)
        small = min(5000, total)
        flat_small = linked_copy(lab16, images, tmpdir / "flat_small", small)
        flat_all = linked_copy(lab16, images, tmpdir / "flat_all", total)
        plan = [
            ("floor, 16 col", FLOOR, [str(lab16)]),
            ("predport, 16 col", PREDPORT, [str(lab16), "images"]),
            ("predport, 16 col, no images", PREDPORT, [str(lab16), "labels"]),
            ("floor, 15 col", FLOOR, [str(lab15)]),
            ("predport, 15 col", PREDPORT, [str(lab15), "images"]),
            ("predport, 15 col, no images", PREDPORT, [str(lab15), "labels"]),
            (f"predport, {small} files", PREDPORT, [str(flat_small), "images"]),
            (f"predport, {total} files", PREDPORT, [str(flat_all), "images"]),
        ]
        if not a.skip_labelformat:
            plan.insert(6, ("labelformat, 15 col", LABELFORMAT, [str(lab15)]))
        runs: dict[str, list[tuple[float, float, float, int]]] = {name: [] for name, _, _ in plan}
        for _ in range(a.repeat):
            for name, code, args in plan:
                runs[name].append(run(code, args))
    combine = statistics.median if a.stat == "median" else min
    res = {
        name: {
            "wall_s": combine(v[0] for v in vals),
            "work_s": combine(v[1] for v in vals),
            "peak_rss_mib": combine(v[2] for v in vals),
            "objects": vals[0][3],
        }
        for name, vals in runs.items()
    }
    print(f"KITTI folder -> canonical frames, {total} files, {a.stat} of {a.repeat} run(s)")
    print(f"{'':32s}{'wall s':>8s}{'work s':>8s}{'peak RSS MiB':>14s}{'objects':>10s}")
    for name, r in res.items():
        print(f"{name:32s}{r['wall_s']:8.2f}{r['work_s']:8.2f}{r['peak_rss_mib']:14.0f}{r['objects']:10d}")
    counts = {r["objects"] for name, r in res.items() if "files" not in name}
    if len(counts) != 1:
        print(f"WARNING: the readers disagree on the number of objects: {sorted(counts)}")

    def ratio(a_: str, b_: str, key: str) -> float:
        return res[a_][key] / res[b_][key]

    checks = []
    for key in ("wall_s", "work_s"):
        what = "whole process" if key == "wall_s" else "reading loop"
        checks.append((f"vs floor, labels only ({what})", ratio("predport, 16 col, no images", "floor, 16 col", key),
                       "<=", 1.5))
        checks.append((f"vs floor, with image sizes ({what})", ratio("predport, 16 col", "floor, 16 col", key),
                       "<=", 1.5))
        if "labelformat, 15 col" in res:
            checks.append((f"speed-up vs labelformat ({what})", ratio("labelformat, 15 col", "predport, 15 col", key),
                           ">=", 3.0))
    grow = res[f"predport, {total} files"]["peak_rss_mib"] - res[f"predport, {small} files"]["peak_rss_mib"]
    print()
    for label, value, op, target in checks:
        ok = value <= target if op == "<=" else value >= target
        print(f"{label:48s}{value:7.2f}x  target {op} {target}x  {'ok' if ok else 'MISSED'}")
    print(f"{'peak RSS growth, ' + str(small) + ' -> ' + str(total) + ' files':48s}{grow:+7.1f} MiB"
          f"  ({100 * grow / res[f'predport, {small} files']['peak_rss_mib']:+.1f}%)")
    if a.json:
        print(json.dumps({"results": res, "ratios": {c[0]: round(c[1], 3) for c in checks},
                          "rss_growth_mib": round(grow, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
