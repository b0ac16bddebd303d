"""Benchmark: KITTI 2-D AP by difficulty from files (a KITTI-val-sized set), next to the floor
and, when given, kitti-object-eval-python (the numba port of the devkit).

Prints, from one run, wall time, the child's own work time and peak RSS of

* **floor** — reading both folders into canonical frames (``predport.iter_frames`` of the
  labels as ground truth and of the results), which any evaluation from files pays;
* **predport** — ``predport_eval.evaluate(results, labels, iou_type="kitti")``: reading,
  frame and class matching, the nine (class, difficulty) curves and the per-frame table;
* **port** (``--port path/to/eval.py`` of traveller59/kitti-object-eval-python, numba
  installed; its ``second`` import for 3-D boxes stubbed) — its ``eval_class`` on the same
  boxes (parsed by a minimal loader, JIT warmed on a small set first, so its compile time is
  not counted), and whether its nine AP_R40 equal predport's.

The input is generated deterministically (``--images`` label files, about 3.5 objects and
5.5 detections each, KITTI class mix with Van/Person_sitting/DontCare, truncation and
occlusion levels) into a temporary folder.

    python bench/bench_eval_kitti.py [--images 3769] [--port /path/to/eval.py [--port-site DIR]]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import run_cpu, warm_bytecode  # noqa: E402

CLASSES = ["Car", "Car", "Car", "Pedestrian", "Cyclist", "Van", "Person_sitting", "DontCare", "Truck"]


def generate(folder: Path, images: int) -> tuple[Path, Path]:
    import numpy as np

    rng = np.random.default_rng(7)
    gt_dir, dt_dir = folder / "label_2", folder / "results" / "data"
    gt_dir.mkdir(parents=True)
    dt_dir.mkdir(parents=True)
    for i in range(images):
        n = int(rng.integers(0, 8))
        xy = rng.uniform(0, 1100, (n, 2))
        wh = np.c_[rng.uniform(10, 200, n), rng.uniform(15, 150, n)]
        names = [CLASSES[k] for k in rng.integers(0, len(CLASSES), n)]
        trunc = rng.choice([0.0, 0.0, 0.1, 0.25, 0.45, 0.7], n)
        occ = rng.choice([0, 0, 1, 2, 3], n)
        gt_lines, dt_lines = [], []
        for k in range(n):
            x1, y1 = xy[k]
            x2, y2 = xy[k] + wh[k]
            if names[k] == "DontCare":
                gt_lines.append(f"DontCare -1 -1 -10 {x1:.2f} {y1:.2f} {x2:.2f} {y2:.2f} -1 -1 -1 -1000 -1000 -1000 -10")
                continue
            gt_lines.append(f"{names[k]} {trunc[k]:.2f} {occ[k]} 0.00 {x1:.2f} {y1:.2f} {x2:.2f} {y2:.2f} "
                            "1.50 1.60 3.90 1.00 1.50 20.00 0.00")
            if rng.uniform() < 0.8:
                name = {"Van": "Car", "Person_sitting": "Pedestrian", "Truck": "Car"}.get(names[k], names[k])
                j = rng.normal(0, 3, 4)
                dt_lines.append(f"{name} -1 -1 -10 {x1 + j[0]:.2f} {y1 + j[1]:.2f} {x2 + j[2]:.2f} {y2 + j[3]:.2f} "
                                f"-1 -1 -1 -1000 -1000 -1000 -10 {rng.uniform(0.3, 1):.3f}")
        for _ in range(int(rng.integers(0, 4))):  # false positives
            x1, y1 = rng.uniform(0, 1100), rng.uniform(0, 300)
            name = CLASSES[int(rng.integers(0, 5))]
            dt_lines.append(f"{name} -1 -1 -10 {x1:.2f} {y1:.2f} {x1 + rng.uniform(10, 150):.2f} "
                            f"{y1 + rng.uniform(15, 120):.2f} -1 -1 -1 -1000 -1000 -1000 -10 {rng.uniform(0, 0.8):.3f}")
        (gt_dir / f"{i:06d}.txt").write_text("".join(f"{ln}\n" for ln in gt_lines))
        (dt_dir / f"{i:06d}.txt").write_text("".join(f"{ln}\n" for ln in dt_lines))
    return dt_dir, gt_dir


FLOOR = r"""
import sys, time, predport
t = time.perf_counter()
n = sum(len(f.predictions) for f in predport.iter_frames(sys.argv[1], "kitti"))
n += sum(len(f.predictions) for f in predport.iter_frames(sys.argv[2], "kitti", role="ground_truth"))
print(time.perf_counter() - t, n)
"""

PREDPORT = r"""
import json, sys, time, predport_eval
t = time.perf_counter()
res = predport_eval.evaluate(sys.argv[1], sys.argv[2], iou_type="kitti", from_format="kitti", gt_format="kitti")
work = time.perf_counter() - t
print(work, json.dumps({r["category"]: [r["AP_easy"], r["AP_moderate"], r["AP_hard"]] for r in res.per_class}))
"""

PORT = r"""
import json, os, sys, time, types
if len(sys.argv) > 4:
    sys.path.append(sys.argv[4])  # where numba is installed (after this interpreter's own packages)
import numpy as np
src = open(sys.argv[3]).read().replace(
    "from second.core.non_max_suppression.nms_gpu import rotate_iou_gpu_eval", "rotate_iou_gpu_eval = None")
mod = types.ModuleType("port_eval")
exec(compile(src, sys.argv[3], "exec"), mod.__dict__)

def load(folder, scored):
    annos = []
    for name in sorted(os.listdir(folder)):
        rows = [ln.split() for ln in open(os.path.join(folder, name)) if ln.strip()]
        n = len(rows)
        num = np.array([[float(v) for v in r[1:]] for r in rows]).reshape(n, 15 if scored else 14)
        a = {"name": np.array([r[0] for r in rows]), "truncated": num[:, 0], "occluded": num[:, 1].astype(int),
             "alpha": num[:, 2], "bbox": num[:, 3:7], "dimensions": num[:, 7:10], "location": num[:, 10:13],
             "rotation_y": num[:, 13]}
        if scored:
            a["score"] = num[:, 14]
        annos.append(a)
    return annos

mo = np.array([[[0.7, 0.5, 0.5]] * 3])
dt, gt = load(sys.argv[1], True), load(sys.argv[2], False)
mod.eval_class(gt[:100], dt[:100], [0, 1, 2], [0, 1, 2], 0, mo)  # JIT warm-up, not counted
t = time.perf_counter()
dt, gt = load(sys.argv[1], True), load(sys.argv[2], False)
prec = mod.eval_class(gt, dt, [0, 1, 2], [0, 1, 2], 0, mo)["precision"][:, :, 0, :]
work = time.perf_counter() - t
aps = np.nan_to_num(prec)[..., 1:].sum(axis=-1) / 40
print(work, json.dumps({c: aps[m].tolist() for m, c in enumerate(["Car", "Pedestrian", "Cyclist"])}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=3769)
    ap.add_argument("--port", help="kitti-object-eval-python's eval.py (numba needed)")
    ap.add_argument("--port-site", help="a site-packages folder holding numba, appended to the port's sys.path")
    args = ap.parse_args()
    warm_bytecode()
    with tempfile.TemporaryDirectory() as tmp:
        dt_dir, gt_dir = generate(Path(tmp), args.images)
        n_dt = sum(len(p.read_text().splitlines()) for p in dt_dir.iterdir())
        n_gt = sum(len(p.read_text().splitlines()) for p in gt_dir.iterdir())
        print(f"{args.images} images, {n_gt} ground-truth rows, {n_dt} detections")
        runs = [("floor", FLOOR, []), ("predport", PREDPORT, [])]
        if args.port:
            runs.append(("port", PORT, [args.port, *([args.port_site] if args.port_site else [])]))
        aps = {}
        print(f"{'':10} {'wall s':>8} {'work s':>8} {'peak MiB':>9}")
        for name, code, extra in runs:
            wall, peak, out, _ = run_cpu(code, [str(dt_dir), str(gt_dir), *extra])
            work, _, rest = out.partition(" ")
            if name != "floor":
                aps[name] = json.loads(rest)
            print(f"{name:10} {wall:8.2f} {float(work):8.2f} {peak:9.0f}")
        print("predport AP_R40 (easy, moderate, hard):", {k: [round(v, 4) for v in vs if v is not None]
                                                          for k, vs in aps["predport"].items()})
        if "port" in aps:
            same = all(abs((a or 0.0) - b) < 1e-9 for c, vs in aps["predport"].items()
                       for a, b in zip(vs, aps["port"][c]))
            print("port AP_R40 equal to predport's (1e-9):", same)


if __name__ == "__main__":
    main()
