"""Benchmark: Lightly prediction folders, read (50,000 files) and written from COCO results (1M boxes).

Prints, from one run, the wall time and peak memory of

(a) **reading** ``lightly/.lightly/predictions`` (50,000 per-image files, ~1M boxes):

* **predport** — ``for frame in predport.iter_frames(root)`` (detect, resolve
  tasks.json, read every file, check it, build columnar frames). By default
  (``workers="auto"``) a folder this large is decoded by worker processes (up
  to 4, no more than the CPUs) while the main process builds the frames;
  **predport, workers=0** reads it all in one process. "CPU s" is the user +
  system time of the process and its workers, so the extra CPU the workers
  cost is in the table too;
* **floor** — walk the task folder, read each file and ``orjson.loads`` it;
* **labelformat** — ``LightlyObjectDetectionInput(task folder).get_labels()``, as
  ``labelformat convert --input-format lightly`` reads it (it also opens every
  image of ``lightly/images`` for its size);
* **memory flatness** — predport and the floor on the first 10,000 files (a
  folder of links) next to all 50,000: peak memory must not grow with files.
  "format given" skips detection, whose bounded listing still reads whole
  folders (core ``Source.listing``), and other plugins' votes.

(b) **COCO results -> Lightly folder** (``coco/results_bbox.json``, 1,000,000 boxes
on 5,000 images, file names from ``coco/gt.json``):

* **predport** — ``predport.convert(results, out, to="lightly", options={"gt": gt},
  allow_loss=True)`` (image sizes and COCO image ids have no place in Lightly
  files: that is the allowed loss); every file is validated against the plugin's
  JSON Schemas;
* **floor** — ``orjson.loads`` results and GT, group by image, write ``tasks.json``,
  ``schema.json`` and one ``orjson`` file per image (garbage collector off, as in
  ``../shared/bench``);
* **labelformat** — ``COCOObjectDetectionInput(results_bbox_as_gt.json)`` saved with
  ``LightlyObjectDetectionOutput`` (what ``labelformat convert --task
  object-detection --input-format coco --output-format lightly`` runs).

Targets (the issue): reading at most 1.5x the floor and at least 5x faster than
labelformat; COCO -> Lightly at most 2x the floor and at least 4x faster than
labelformat; memory flat in the number of files.

Each measurement runs in a fresh Python process; "wall" is the whole process
(start-up and imports included), "work" is timed inside it after the imports;
peak RSS comes from ``wait4`` for that process (the largest of it and its
workers). predport's sources are compiled to bytecode first, as an installed
wheel is. Inputs:
``python ../shared/bench/gen.py --out bench-data --parts coco,lightly``.

    python bench/bench_lightly.py --data /work/bench-data
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

from _harness import run_cpu as run_child, warm_bytecode  # bench/ is on sys.path when a script runs

READ_FLOOR = r"""
import os, sys, time
import orjson
t0 = time.perf_counter()
n = 0
for dirpath, dirs, files in os.walk(sys.argv[1]):
    dirs.sort()
    for name in sorted(files):
        if name.endswith(".json") and name != "schema.json":
            with open(os.path.join(dirpath, name), "rb") as fh:
                n += len(orjson.loads(fh.read())["predictions"])
print(n, time.perf_counter() - t0)
"""

READ_PREDPORT = r"""
import sys, time
import numpy, pydantic, predport
predport.get_hub().formats()
import predport_lightly.read
t0 = time.perf_counter()
n = 0
fmt = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] != "-" else None  # None: auto-detect (every plugin votes)
options = {"workers": sys.argv[3]} if len(sys.argv) > 3 else {}
for frame in predport.iter_frames(sys.argv[1], format=fmt, options=options):
    n += len(frame.predictions)
print(n, time.perf_counter() - t0)
"""

READ_LABELFORMAT = r"""
import sys, time
from pathlib import Path
from labelformat.formats.lightly import LightlyObjectDetectionInput
t0 = time.perf_counter()
labels = LightlyObjectDetectionInput(input_folder=Path(sys.argv[1]), images_rel_path=sys.argv[2])
n = sum(len(label.objects) for label in labels.get_labels())
print(n, time.perf_counter() - t0)
"""

CONVERT_FLOOR = r"""
import gc, os, sys, time
import orjson
gc.disable()
t0 = time.perf_counter()
src, gt, out = sys.argv[1], sys.argv[2], sys.argv[3]
with open(src, "rb") as fh:
    recs = orjson.loads(fh.read())
with open(gt, "rb") as fh:
    g = orjson.loads(fh.read())
names = {im["id"]: im["file_name"] for im in g["images"]}
by_image = {}
for r in recs:
    by_image.setdefault(r["image_id"], []).append(
        {"category_id": r["category_id"], "bbox": r["bbox"], "score": r["score"]})
task = os.path.join(out, "object_detection")
os.makedirs(task)
with open(os.path.join(out, "tasks.json"), "wb") as fh:
    fh.write(orjson.dumps(["object_detection"]))
with open(os.path.join(task, "schema.json"), "wb") as fh:
    fh.write(orjson.dumps({"task_type": "object-detection",
                           "categories": [{"id": c["id"], "name": c["name"]} for c in g["categories"]]}))
for image_id, preds in by_image.items():
    name = names[image_id]
    with open(os.path.join(task, name.rsplit(".", 1)[0] + ".json"), "wb") as fh:
        fh.write(orjson.dumps({"file_name": name, "predictions": preds}))
print(len(recs), time.perf_counter() - t0)
"""

CONVERT_PREDPORT = r"""
import sys, time
import numpy, pydantic, predport
predport.get_hub().formats()
t0 = time.perf_counter()
summary = predport.convert(sys.argv[1], sys.argv[3], to="lightly", options={"gt": sys.argv[2]}, allow_loss=True)
print(summary["predictions"], time.perf_counter() - t0)
"""

CONVERT_LABELFORMAT = r"""
import sys, time
from pathlib import Path
from labelformat.formats.coco import COCOObjectDetectionInput
from labelformat.formats.lightly import LightlyObjectDetectionOutput
t0 = time.perf_counter()
labels = COCOObjectDetectionInput(input_file=Path(sys.argv[4]))
LightlyObjectDetectionOutput(output_folder=Path(sys.argv[3]) / "object_detection").save(label_input=labels)
print(sum(1 for _ in labels.get_labels()), time.perf_counter() - t0)
"""


def run(code: str, args: list[str]) -> tuple[float, float, float, float, str]:
    """Run ``code`` in a fresh interpreter: (wall s, work s, CPU s, peak RSS MiB, first output field)."""
    wall, peak, out, cpu = run_child(code, args)
    count, work = out.split()[-2:]
    return wall, float(work), cpu, peak, count


def subset(task: Path, dest: Path, n: int) -> Path:
    """A Lightly root whose task folder links the first ``n`` files of ``task``."""
    pred = dest / ".lightly" / "predictions"
    sub = pred / task.name
    sub.mkdir(parents=True)
    (pred / "tasks.json").write_text(json.dumps([task.name]))
    os.symlink(task / "schema.json", sub / "schema.json")
    names = sorted(p for p in os.listdir(task) if p.endswith(".json") and p != "schema.json")[:n]
    for name in names:
        os.symlink(task / name, sub / name)
    # The same neighbours as the full root (an images/ folder), so detection sees alike inputs.
    images = task.parents[2] / "images"
    if images.is_dir():
        (dest / "images").mkdir()
        for name in sorted(os.listdir(images))[:n]:
            os.symlink(images / name, dest / "images" / name)
    return dest


def measure(plan: list[tuple[str, str, list[str]]], repeat: int, fresh: Path | None = None) -> dict[str, dict]:
    runs: dict[str, list[tuple[float, float, float, float]]] = {name: [] for name, _, _ in plan}
    counts: dict[str, str] = {}
    for i in range(repeat):
        for name, code, args in plan:  # interleaved, so that load on the machine hits all alike
            if fresh is not None:
                args = [a.replace("{OUT}", str(fresh / f"{name.split()[0]}-{i}")) for a in args]
            wall, work, cpu, rss, count = run(code, args)
            runs[name].append((wall, work, cpu, rss))
            counts[name] = count
    return {
        name: {"wall_s": statistics.median(v[0] for v in vals), "work_s": statistics.median(v[1] for v in vals),
               "cpu_s": statistics.median(v[2] for v in vals), "peak_rss_mib": statistics.median(v[3] for v in vals),
               "count": counts[name]}
        for name, vals in runs.items()
    }


def table(title: str, results: dict[str, dict]) -> None:
    print(title)
    print(f"{'':26s}{'wall s':>9s}{'work s':>9s}{'CPU s':>9s}{'peak RSS MiB':>15s}{'boxes':>10s}")
    for name, r in results.items():
        print(f"{name:26s}{r['wall_s']:9.2f}{r['work_s']:9.2f}{r['cpu_s']:9.2f}{r['peak_rss_mib']:15.0f}"
              f"{r['count']:>10s}")


def check(label: str, value: float, op: str, target: float) -> tuple[str, float]:
    ok = value <= target if op == "<=" else value >= target
    print(f"{label:40s}{value:7.2f}x   target {op} {target}x   {'ok' if ok else 'MISSED'}")
    return label, round(value, 3)


def against_targets(part: str, res: dict[str, dict], floor: float, other: float) -> list[tuple[str, float]]:
    """predport / floor (wall and work, at most ``floor``) and labelformat / predport (wall,
    at least ``other``) for one part of the benchmark."""
    fl, pp = res["floor"], res["predport"]
    out = [check(f"{part}: predport / floor, wall", pp["wall_s"] / fl["wall_s"], "<=", floor),
           check(f"{part}: predport / floor, work", pp["work_s"] / fl["work_s"], "<=", floor)]
    if "labelformat" in res:
        out.append(check(f"{part}: labelformat / predport, wall", res["labelformat"]["wall_s"] / pp["wall_s"],
                         ">=", other))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="./bench-data", help="folder made by gen.py (default ./bench-data)")
    ap.add_argument("--repeat", type=int, default=1, help="runs per measurement; medians are printed")
    ap.add_argument("--skip-labelformat", action="store_true", help="leave out labelformat (slow)")
    ap.add_argument("--only", choices=("read", "convert"), help="run one of the two parts")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON too")
    a = ap.parse_args(argv)
    warm_bytecode()
    data = Path(a.data).resolve()
    root = data / "lightly"
    task = root / ".lightly" / "predictions" / "object_detection"
    coco, gt, as_gt = data / "coco" / "results_bbox.json", data / "coco" / "gt.json", data / "coco" / "results_bbox_as_gt.json"
    ratios: list[tuple[str, float]] = []
    out: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(dir=data) as tmp_name:
        tmp = Path(tmp_name)
        if a.only in (None, "read"):
            if not task.is_dir():
                print(f"missing {task}: run python ../shared/bench/gen.py --out {a.data} --parts lightly", file=sys.stderr)
                return 2
            small = subset(task, tmp / "lightly10k", 10_000)
            plan = [("floor", READ_FLOOR, [str(task)]), ("predport", READ_PREDPORT, [str(root)]),
                    ("predport, workers=0", READ_PREDPORT, [str(root), "-", "0"])]
            if not a.skip_labelformat:
                plan.append(("labelformat", READ_LABELFORMAT, [str(task), "../../../images"]))
            plan += [("floor, 10k files", READ_FLOOR, [str(small / ".lightly" / "predictions" / task.name)]),
                     ("predport, 10k files", READ_PREDPORT, [str(small)]),
                     ("predport format=, 50k", READ_PREDPORT, [str(root), "lightly"]),
                     ("predport format=, 10k", READ_PREDPORT, [str(small), "lightly"])]
            res = measure(plan, a.repeat)
            out["read"] = res
            table(f"(a) read a Lightly folder: {res['predport']['count']} boxes in 50,000 files "
                  f"(median of {a.repeat} run(s))", res)
            fl, pp = res["floor"], res["predport"]
            print()
            ratios += against_targets("read", res, 1.5, 5.0)
            one = res["predport, workers=0"]
            print(f"{'  (no target) workers=0 / floor, wall':40s}{one['wall_s'] / fl['wall_s']:7.2f}x")
            print(f"{'  (no target) CPU s predport / floor':40s}{pp['cpu_s'] / fl['cpu_s']:7.2f}x")
            ratios.append(check("read: peak RSS 50k / 10k files, floor",
                                fl["peak_rss_mib"] / res["floor, 10k files"]["peak_rss_mib"], "<=", 1.1))
            ratios.append(check("read: peak RSS 50k / 10k files, predport",
                                pp["peak_rss_mib"] / res["predport, 10k files"]["peak_rss_mib"], "<=", 1.1))
            ratios.append(check("read: peak RSS 50k / 10k, format given",
                                res["predport format=, 50k"]["peak_rss_mib"]
                                / res["predport format=, 10k"]["peak_rss_mib"], "<=", 1.1))
            print()
        if a.only in (None, "convert"):
            if not coco.is_file() or not gt.is_file():
                print(f"missing {coco}: run python ../shared/bench/gen.py --out {a.data} --parts coco", file=sys.stderr)
                return 2
            import predport

            if "coco" not in predport.get_hub().formats():
                print("(b) skipped: predport-coco is not installed (pip install -e plugins/coco)")
            else:
                plan = [("floor", CONVERT_FLOOR, [str(coco), str(gt), "{OUT}"]),
                        ("predport", CONVERT_PREDPORT, [str(coco), str(gt), "{OUT}"])]
                if not a.skip_labelformat:
                    plan.append(("labelformat", CONVERT_LABELFORMAT, [str(coco), str(gt), "{OUT}", str(as_gt)]))
                res = measure(plan, a.repeat, fresh=tmp)
                out["convert"] = res
                table(f"(b) COCO results -> Lightly folder: {res['floor']['count']} boxes, 5,000 files "
                      f"(median of {a.repeat} run(s))", res)
                print()
                ratios += against_targets("convert", res, 2.0, 4.0)
    if a.json:
        print(json.dumps({"results": out, "ratios": dict(ratios)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
