"""Aquarium inference JSON Lines (1,000,000 BBOX_2D inferences) to canonical JSON.

    python bench/bench_aquarium.py --data /path/to/bench-data        # made by shared/bench/gen.py

The input is generated once from the COCO benchmark file (``coco/results_bbox.json``, with
``coco/gt.json`` for file names and class names) and cached in ``<data>/aquarium/``: one line
per image (5,000 lines), rows exactly as ``aquariumlearning`` 0.0.67 writes them
(``json.dumps(frame.to_dict())``). Label ids are ``<frame id>_inf_<n>`` (the form predport
regenerates instead of storing); ``--label-ids custom`` uses ``<frame id>-det-<n>`` instead,
which costs one attributes dict per box (``inferences_legacy_0.0.67_custom_ids.jsonl``).

Measured, each in a fresh subprocess (wall time of the whole process, peak RSS):

* floor — read the lines, ``orjson.loads`` each, numpy columns (boxes, scores, class ids),
  ``orjson.dumps`` of the columns, write the file;
* predport — ``predport.convert(jsonl, out.json)`` (canonical JSON, validated, atomic).

There is no other tool to measure: the ``aquariumlearning`` client writes these files but
has no reader for them. Target (the issue): predport at most 2x the floor.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = 2.0

FLOOR = r"""
import sys, time
from operator import itemgetter
import numpy as np, orjson
t0 = time.perf_counter()
src, dst = sys.argv[1], sys.argv[2]
get_box = itemgetter("left", "top", "width", "height", "confidence")
get_attrs, get_label = itemgetter("attributes"), itemgetter("label")
names = {}
with open(src, "rb") as fh, open(dst, "wb") as out:
    out.write(b"[")
    for n, line in enumerate(fh):
        row = orjson.loads(line)
        rows = row["inference_data"]
        values = np.array(list(map(get_box, map(get_attrs, rows))), dtype=np.float64).reshape(-1, 5)
        ids = np.array([names.setdefault(c, len(names)) for c in map(get_label, rows)], dtype=np.int64)
        out.write((b"," if n else b"") + orjson.dumps(
            {"data_id": row["task_id"], "box": np.ascontiguousarray(values[:, :4]),
             "score": np.ascontiguousarray(values[:, 4]), "category_id": ids},
            option=orjson.OPT_SERIALIZE_NUMPY))
    out.write(b"]")
print(time.perf_counter() - t0)
"""

PREDPORT = r"""
import sys, time
t0 = time.perf_counter()
import predport
predport.convert(sys.argv[1], sys.argv[2], overwrite=True)
print(time.perf_counter() - t0)
"""

CHILD = r"""
import resource, sys, time
code = sys.argv[1]
sys.argv = sys.argv[1:]
t0 = time.perf_counter()
exec(compile(code, "<bench>", "exec"), {"__name__": "__main__"})
wall = time.perf_counter() - t0
# VmHWM is this process's own peak; ru_maxrss survives execve on Linux, so a child would
# report its parent's peak (here: the one that generated the input) when that is larger.
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    with open("/proc/self/status") as fh:
        peak = int(next(ln for ln in fh if ln.startswith("VmHWM:")).split()[1])
except (OSError, StopIteration):
    pass
print("BENCH", wall, peak)
"""


def make_input(data: Path, label_ids: str = "position") -> Path:
    """The cached Aquarium JSON Lines file (generated on first use)."""
    out_dir = data / "aquarium"
    custom = label_ids == "custom"
    path = out_dir / ("inferences_legacy_0.0.67_custom_ids.jsonl" if custom else "inferences_legacy_0.0.67.jsonl")
    if path.exists():
        return path
    import orjson

    coco = data / "coco"
    gt = orjson.loads((coco / "gt.json").read_bytes())
    files = {im["id"]: im["file_name"] for im in gt["images"]}
    names = {c["id"]: c["name"] for c in gt["categories"]}
    results = orjson.loads((coco / "results_bbox.json").read_bytes())
    by_image: dict[int, list[dict]] = {}
    for r in results:
        by_image.setdefault(r["image_id"], []).append(r)
    del results
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for image_id in sorted(by_image):
            frame_id = files[image_id]
            entries = []
            for n, r in enumerate(by_image[image_id]):
                x, y, w, h = r["bbox"]
                entries.append({
                    "uuid": f"{frame_id}-det-{n}" if custom else f"{frame_id}_inf_{n}", "linked_labels": [], "label_type": "BBOX_2D",
                    "label": names[r["category_id"]], "label_coordinate_frame": "DEFAULT",
                    "attributes": {"top": y, "left": x, "width": w, "height": h, "confidence": float(r["score"])},
                    "reuse_latest_embedding": False, "change": "ADD"})
            row = {"task_id": frame_id, "type": "Inference", "custom_metrics": {},
                   "inference_metadata": {"visualization_assets": {}, "user_metadata": {}},
                   "inference_data": entries, "reuse_latest_embedding": False, "change": "ADD"}
            fh.write(json.dumps(row) + "\n")  # what the client's write_to_file does
    os.replace(tmp, path)
    return path


def measure(code: str, src: Path, dst: Path) -> tuple[float, float]:
    """(wall seconds of the whole child process, peak RSS in MiB) of one fresh run.

    Peak RSS is the child's VmHWM (KiB), ru_maxrss where /proc is missing."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CHILD, code, str(src), str(dst)],
                          capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"benchmark child failed:\n{proc.stderr}")
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH")][-1]
    _, _inner, rss_kib = line.split()
    return wall, int(rss_kib) / 1024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="bench-data", help="folder made by shared/bench/gen.py (the "
                    "generated Aquarium file is cached in <data>/aquarium)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement (median reported)")
    ap.add_argument("--label-ids", choices=("position", "custom"), default="position",
                    help="label ids <frame>_inf_<n> (default) or <frame>-det-<n> (kept per box)")
    a = ap.parse_args()
    data = Path(a.data)
    if not (data / "coco" / "results_bbox.json").exists() and not (data / "aquarium").exists():
        print(f"no benchmark data in {data}: run shared/bench/gen.py --out {data}", file=sys.stderr)
        return 2
    src = make_input(data, a.label_ids)
    n_lines = sum(1 for _ in open(src, "rb"))
    print(f"input: {src} ({src.stat().st_size / 1e6:.0f} MB, {n_lines} frames)")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, code, dst in (("floor (orjson + numpy + orjson dump)", FLOOR, "floor.json"),
                                ("predport convert -> canonical JSON", PREDPORT, "predport.json")):
            runs = [measure(code, src, Path(tmp) / dst) for _ in range(a.repeat)]
            rows.append((name, statistics.median(r[0] for r in runs), max(r[1] for r in runs)))
    floor_wall, floor_rss = rows[0][1], rows[0][2]
    print(f"{'':40} {'wall s':>8} {'peak MiB':>9} {'x floor':>8}")
    for name, wall, rss in rows:
        print(f"{name:40} {wall:8.2f} {rss:9.0f} {wall / floor_wall:8.2f}")
    print("other tools: none (aquariumlearning writes these files but cannot read them)")
    ratio = rows[1][1] / floor_wall
    verdict = "meets" if ratio <= TARGET else "MISSES"
    print(f"predport / floor = {ratio:.2f} (target <= {TARGET:.1f}: {verdict}); "
          f"memory {rows[1][2] / floor_rss:.2f}x floor")
    return 0


if __name__ == "__main__":
    sys.exit(main())
