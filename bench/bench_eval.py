"""Benchmark: COCO bbox evaluation from files to the 12 stats, predport next to pycocotools and faster-coco-eval.

Workload (the issue's): 5,000 images, 40,000 ground-truth boxes (~1% crowd), 200,000
detections, 80 categories, written by this script's deterministic generator (a pure
function of ``--seed``; ``../shared/bench/gen.py`` writes no ground-truth annotations):
every ground-truth box gets 0-4 detections jittered around it (some of another class),
the rest are false positives anywhere in the image.

Prints, from one run, the wall time, the CPU time (user + system: steadier than wall time on a
shared machine) and the peak memory (``ru_maxrss`` of a fresh process per measurement, start-up
and imports included) of

* **predport** — ``predport_eval.evaluate(results.json, gt.json)`` (read both files through
  the COCO reader, match frames and classes, the numpy engine, the 12 stats);
* **predport + per-frame + per-detection** — ``predport evaluate --per-frame frames.csv
  --per-detection dets.csv --json`` (target: at most 1.5x the 12 stats);
* **floor (reading)** — ``orjson.loads`` of both files and their numpy columns: what any
  evaluation from files must do before matching;
* **pycocotools** — ``COCO(gt)``, ``loadRes(results)``, ``COCOeval`` evaluate / accumulate / summarize;
* **faster-coco-eval** — the same through ``faster_coco_eval.COCO`` and ``COCOeval_faster``;

and checks that the stats of all three agree within 1e-4.

    python bench/bench_eval.py --data /tmp/bench-eval --repeat 3
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

from _harness import run_cpu, warm_bytecode  # bench/ is on sys.path when a script runs

N_IMAGES, N_GT, N_DT, N_CAT, CROWD = 5000, 40_000, 200_000, 80, 0.01
W, H = 640, 480


def generate(folder: Path, seed: int) -> tuple[Path, Path]:
    """``gt.json`` (COCO dataset) and ``results.json`` (COCO results list) in ``folder``."""
    import numpy as np

    gt_path, dt_path = folder / "gt.json", folder / "results.json"
    stamp = folder / f"seed-{seed}"
    if gt_path.exists() and dt_path.exists() and stamp.exists():
        return gt_path, dt_path
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    cat_ids = np.arange(1, N_CAT + 1)
    img = rng.integers(0, N_IMAGES, N_GT)
    img.sort(kind="stable")
    wh = np.exp(rng.uniform(np.log(8), np.log(400), (N_GT, 2)))
    wh = np.minimum(wh, [W - 1, H - 1])
    xy = rng.uniform(0, 1, (N_GT, 2)) * ([W, H] - wh)
    gt_box = np.round(np.hstack([xy, wh]), 2)
    gt_cat = rng.choice(cat_ids, N_GT)
    crowd = rng.random(N_GT) < CROWD
    images = [{"id": int(i) + 1, "file_name": f"{int(i) + 1:012d}.jpg", "width": W, "height": H}
              for i in range(N_IMAGES)]
    anns = [{"id": k + 1, "image_id": int(img[k]) + 1, "category_id": int(gt_cat[k]),
             "bbox": gt_box[k].tolist(), "area": round(float(gt_box[k, 2] * gt_box[k, 3]), 2),
             "iscrowd": int(crowd[k])} for k in range(N_GT)]
    doc = {"images": images, "annotations": anns,
           "categories": [{"id": int(c), "name": f"class_{int(c)}"} for c in cat_ids]}
    gt_path.write_text(json.dumps(doc))
    # Detections: 0-4 per ground-truth box around it (10% another class), the rest false positives.
    per = rng.integers(0, 5, N_GT)
    near = np.repeat(np.arange(N_GT), per)[: int(N_DT * 0.6)]
    n_near = near.shape[0]
    box_near = gt_box[near] + rng.normal(0, 0.12, (n_near, 4)) * np.hstack([gt_box[near, 2:]] * 2)
    cat_near = np.where(rng.random(n_near) < 0.1, rng.choice(cat_ids, n_near), gt_cat[near])
    n_far = N_DT - n_near
    wh_far = np.exp(rng.uniform(np.log(8), np.log(300), (n_far, 2)))
    box_far = np.hstack([rng.uniform(0, 1, (n_far, 2)) * ([W, H] - np.minimum(wh_far, [W - 1, H - 1])), wh_far])
    box = np.vstack([box_near, box_far])
    box[:, 2:] = np.maximum(box[:, 2:], 1.0)
    image_id = np.concatenate([img[near], rng.integers(0, N_IMAGES, n_far)]) + 1
    cat = np.concatenate([cat_near, rng.choice(cat_ids, n_far)])
    score = np.concatenate([rng.beta(5, 2, n_near), rng.beta(2, 5, n_far)])
    order = rng.permutation(N_DT)  # results files are rarely sorted
    box, image_id, cat, score = np.round(box[order], 2), image_id[order], cat[order], score[order]
    results = [{"image_id": int(image_id[k]), "category_id": int(cat[k]), "bbox": box[k].tolist(),
                "score": round(float(score[k]), 5)} for k in range(N_DT)]
    dt_path.write_text(json.dumps(results))
    stamp.write_text("")
    return gt_path, dt_path


PREDPORT = r"""
import json, sys
import predport_eval
res = predport_eval.evaluate(sys.argv[1], sys.argv[2])
print(json.dumps(list(res.metrics.values())))
"""

PREDPORT_FILES = r"""
import contextlib, io, json, sys
from predport.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    code = main(["evaluate", sys.argv[1], sys.argv[2], "--json", "--per-frame", sys.argv[3],
                 "--per-detection", sys.argv[4]])
assert code == 0
print(json.dumps(list(json.loads(out.getvalue())["metrics"].values())))
"""

FLOOR = r"""
import gc, json, sys
import numpy as np, orjson
gc.disable()
with open(sys.argv[1], "rb") as fh:
    recs = orjson.loads(fh.read())
with open(sys.argv[2], "rb") as fh:
    gt = orjson.loads(fh.read())
dt_cols = (np.array([r["image_id"] for r in recs]), np.array([r["category_id"] for r in recs]),
           np.array([r["score"] for r in recs]), np.array([r["bbox"] for r in recs]))
anns = gt["annotations"]
gt_cols = (np.array([a["image_id"] for a in anns]), np.array([a["category_id"] for a in anns]),
           np.array([a["bbox"] for a in anns]), np.array([a["iscrowd"] for a in anns]),
           np.array([a["area"] for a in anns]))
print(json.dumps([len(recs), len(anns)]))
"""

REFERENCE = r"""
import contextlib, io, json, sys
{imports}
with contextlib.redirect_stdout(io.StringIO()):
    gt = COCO(sys.argv[2])
    dt = gt.loadRes(sys.argv[1])
    e = {evaluator}(gt, dt, "bbox")
    e.evaluate(); e.accumulate(); e.summarize()
print(json.dumps([float(v) for v in e.stats]))
"""
PYCOCOTOOLS = REFERENCE.format(imports="from pycocotools.coco import COCO\nfrom pycocotools.cocoeval import COCOeval",
                               evaluator="COCOeval")
FASTER = REFERENCE.format(imports="from faster_coco_eval import COCO, COCOeval_faster", evaluator="COCOeval_faster")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "predport-bench-eval")
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement (median reported)")
    ap.add_argument("--skip", action="append", default=[], help="leave a tool out (pycocotools, faster)")
    args = ap.parse_args()
    gt, dt = generate(args.data, args.seed)
    warm_bytecode()
    out = Path(tempfile.mkdtemp(prefix="bench-eval-"))
    runs = [("predport (12 stats)", PREDPORT, [str(dt), str(gt)]),
            ("predport + per-frame + per-detection files", PREDPORT_FILES,
             [str(dt), str(gt), str(out / "frames.csv"), str(out / "dets.csv")]),
            ("floor: read both files (orjson + numpy)", FLOOR, [str(dt), str(gt)])]
    if "faster" not in args.skip:
        runs.append(("faster-coco-eval", FASTER, [str(dt), str(gt)]))
    if "pycocotools" not in args.skip:
        runs.append(("pycocotools", PYCOCOTOOLS, [str(dt), str(gt)]))
    print(f"workload: {N_IMAGES} images, {N_GT} ground-truth boxes (~{CROWD:.0%} crowd), {N_DT} detections, "
          f"{N_CAT} classes; medians of {args.repeat}; python {sys.version.split()[0]}")
    results = {}
    for name, code, argv in runs:
        times, cpus, peaks = [], [], []
        for _ in range(1 if name == "pycocotools" else args.repeat):
            wall, peak, stdout, cpu = run_cpu(code, argv)
            times.append(wall)
            cpus.append(cpu)
            peaks.append(peak)
        results[name] = (statistics.median(times), max(peaks), json.loads(stdout), statistics.median(cpus))
        print(f"  {name:45s} {results[name][0]:7.2f} s wall {results[name][3]:7.2f} s CPU "
              f"{results[name][1]:7.0f} MiB", flush=True)
    ours = results["predport (12 stats)"]
    files = results["predport + per-frame + per-detection files"]
    print(f"predport 12 stats: {ours[0]:.2f} s wall, {ours[3]:.2f} s CPU (target <= 2 s), {ours[1]:.0f} MiB "
          "(target <= 200 MB)")
    print(f"with per-frame and per-detection files: {files[0] / ours[0]:.2f}x wall, {files[3] / ours[3]:.2f}x CPU, "
          f"{files[1] / ours[1]:.2f}x memory (target <= 1.5x)")
    for other in ("faster-coco-eval", "pycocotools"):
        if other in results:
            diff = max(abs(a - b) for a, b in zip(ours[2], results[other][2]))
            print(f"{other}: {results[other][0] / ours[0]:.1f}x predport's wall time ({results[other][3] / ours[3]:.1f}x"
                  " CPU), "
                  f"{results[other][1] / ours[1]:.1f}x its memory; stats max |diff| {diff:.2e}")
            if diff > 1e-4:
                print(f"  STATS DIFFER from {other}: {ours[2]} vs {results[other][2]}")
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
