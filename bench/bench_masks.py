"""Benchmark: PNG class-index masks -> predictions, predport next to the floor.

Workload: the generated masks (``gen.py --parts masks``: 500 class-index PNGs of
1024x2048, ~20 classes, nested shapes and holes), in ``<data>/masks``.

Measured in one run, each in a fresh subprocess (so peak RSS is that
measurement's own):

* ``floor`` — what the issue defines as the floor: Pillow decode, then for every
  class present ``cv2.findContours(RETR_CCOMP)`` on its binary mask (the class
  list from a histogram).
* ``predport`` — ``predport.iter_frames(folder, format="masks")`` in the default
  instance mode: regions with polygons (outer ring and holes), boxes and exact
  COCO RLE masks, as canonical frames.
* ``predport-semantic`` — the same with ``mode=semantic`` (one mask per class).
* ``encord-core`` — Encord Active's extraction loop (FORMATS.md section 2.2:
  ``RETR_EXTERNAL``, the area filter, a full-size ``fillPoly`` mask per contour)
  re-executed, since ``encord-active`` cannot be installed here. It produces
  dense masks, not RLE, and is shown for scale.

Target (the issue): predport at most 2x the floor. Usage::

    python bench/bench_masks.py --data /work/bench-data [--limit 100] [--repeat 3]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

TARGET_RATIO = 2.0


def _files(folder: Path, limit: int | None) -> list[Path]:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".png")
    return files[:limit] if limit else files


def _child(kind: str, folder: Path, limit: int | None) -> dict[str, object]:
    import cv2  # noqa: F401  (imported before the clock starts, in every measurement)
    import numpy as np
    from PIL import Image

    files = _files(folder, limit)
    items = 0
    t0 = time.perf_counter()
    if kind == "floor":
        for p in files:
            arr = np.asarray(Image.open(p))
            hist = cv2.calcHist([arr], [0], None, [256], [0, 256]).reshape(-1)
            for value in np.flatnonzero(hist).tolist():
                if value == 0:
                    continue
                contours, _ = cv2.findContours(
                    cv2.compare(arr, value, cv2.CMP_EQ), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE
                )
                items += len(contours)
    elif kind in ("predport", "predport-semantic"):
        import predport
        import pycocotools.mask  # noqa: F401

        options = {"mode": "semantic"} if kind == "predport-semantic" else {}
        if limit:
            # Read exactly the files the other measurements read.
            import tempfile

            tmp = Path(tempfile.mkdtemp(prefix="bench-masks-"))
            for p in files:
                os.symlink(p, tmp / p.name)
            folder = tmp
        t0 = time.perf_counter()
        for frame in predport.iter_frames(folder, format="masks", options=options):
            items += len(frame.predictions)
        wall = time.perf_counter() - t0
        if limit:
            import shutil

            shutil.rmtree(folder, ignore_errors=True)
        t0 = time.perf_counter() - wall
    elif kind == "encord-core":
        for p in files:
            arr = np.array(Image.open(p))
            for cls in np.unique(arr).tolist():
                if cls == 0:
                    continue
                binary = np.zeros_like(arr)
                binary[arr == cls] = 1
                contours = cv2.findContours(binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)[0]
                for c in contours:
                    if len(c) < 3 or cv2.contourArea(c) < 4:
                        continue
                    cv2.fillPoly(np.zeros_like(binary), [c], 1)
                    items += 1
    else:
        raise SystemExit(f"unknown measurement {kind}")
    wall = time.perf_counter() - t0
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"kind": kind, "files": len(files), "items": items, "wall_s": wall, "peak_rss_mib": peak_kib / 1024}


def _measure(kind: str, data: Path, limit: int | None) -> dict[str, object]:
    cmd = [sys.executable, __file__, "--child", kind, "--data", str(data)]
    if limit:
        cmd += ["--limit", str(limit)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="./bench-data", help="folder made by gen.py (holds masks/)")
    ap.add_argument("--limit", type=int, default=None, help="only the first N masks (quick runs)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run each measurement N times, alternating, and keep the fastest (noisy machines)")
    ap.add_argument("--skip", default="", help="comma-separated measurements to leave out (e.g. encord-core)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    a = ap.parse_args()
    folder = Path(a.data) / "masks"
    if a.child:
        print(json.dumps(_child(a.child, folder, a.limit)))
        return
    if not folder.is_dir():
        raise SystemExit(f"{folder} not found: python ../shared/bench/gen.py --out {a.data} --parts masks")
    skip = {s.strip() for s in a.skip.split(",") if s.strip()}
    kinds = [k for k in ("floor", "predport", "predport-semantic", "encord-core") if k not in skip]
    results: dict[str, dict[str, object]] = {}
    for _ in range(max(1, a.repeat)):
        for k in kinds:  # alternating, so load on a shared machine hits every measurement alike
            r = _measure(k, Path(a.data), a.limit)
            if k not in results or r["wall_s"] < results[k]["wall_s"]:
                results[k] = r
    floor = results.get("floor")
    print(f"PNG class-index masks: {folder} ({next(iter(results.values()))['files']} files)")
    print(f"{'measurement':<20}{'wall s':>9}{'masks/s':>10}{'items':>9}{'items/s':>11}{'peak MiB':>10}{'x floor':>9}")
    for k, r in results.items():
        ratio = f"{r['wall_s'] / floor['wall_s']:.2f}" if floor else "-"
        print(
            f"{k:<20}{r['wall_s']:>9.2f}{r['files'] / r['wall_s']:>10.1f}{r['items']:>9}"
            f"{r['items'] / r['wall_s']:>11.0f}{r['peak_rss_mib']:>10.0f}{ratio:>9}"
        )
    if floor and "predport" in results:
        ratio = results["predport"]["wall_s"] / floor["wall_s"]
        verdict = "meets" if ratio <= TARGET_RATIO else "MISSES"
        print(f"predport / floor = {ratio:.2f} ({verdict} the target of at most {TARGET_RATIO:.0f}x)")
    print("items: contours (floor), predictions (predport), kept contours (encord-core)")


if __name__ == "__main__":
    main()
