"""Scale-out: a Lightly folder to canonical JSON Lines, single process, local engine and Dask, local disk and S3.

For a small and a 10x larger folder (``--files``, default 200,000 files, and a tenth of
it), in one run:

* the floor — listing the folder and parsing every file with orjson, one process;
* ``predport convert`` single-process;
* ``engine="local"`` (the shards one after the other, one process: the unit of work);
* ``engine="dask"`` on a 2-worker ``LocalCluster`` (processes), its start-up apart;
* the same from a local S3 server (moto in server mode on loopback, as the tests run it)
  for ``--s3-files`` files (default 20,000: uploading to moto is the slow part);

with throughput (files/s, boxes/s), the peak memory of the single process and of each
worker (the largest shard's ``ru_maxrss``), and the scheduler's overhead per task. The
shard count grows with the input (``--files-per-shard``), so the work per shard, and a
worker's memory, stay the same as the input grows 10x: the script prints both sizes side
by side. Every output is checked byte for byte against the single-process one.

    nice -n 10 python bench/bench_scale.py                 # 200k files (and 20k), S3 20k
    nice -n 10 python bench/bench_scale.py --files 50000 --s3-files 5000

Figures depend on the machine and what else runs on it; ratios within one run hold.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from _harness import run_cpu, warm_bytecode  # noqa: E402

CATEGORIES = 80


def generate(root: Path, n: int, dets: int, seed: int = 0) -> tuple[Path, int]:
    """A Lightly prediction folder of ``n`` per-image files with ~``dets`` boxes each; (folder, boxes)."""
    import numpy as np
    import orjson

    pred = root / ".lightly" / "predictions"
    task = pred / "object_detection"
    task.mkdir(parents=True)
    (pred / "tasks.json").write_bytes(orjson.dumps(["object_detection"]))
    schema = {"task_type": "object-detection", "categories": [{"id": i, "name": f"class{i}"} for i in range(CATEGORIES)]}
    (task / "schema.json").write_bytes(orjson.dumps(schema))
    rng = np.random.default_rng(seed)
    counts = rng.integers(max(1, dets // 2), dets * 3 // 2 + 1, n)
    total = int(counts.sum())
    xy = rng.uniform(0, 1800, (total, 2)).round(2)
    wh = rng.uniform(2, 120, (total, 2)).round(2)
    boxes = np.hstack([xy, wh]).tolist()
    cats = rng.integers(0, CATEGORIES, total).tolist()
    scores = rng.uniform(0.001, 1.0, total).round(4).tolist()
    pos = 0
    for i in range(n):
        c = int(counts[i])
        doc = {"file_name": f"img_{i:07d}.png",
               "predictions": [{"category_id": cats[j], "bbox": boxes[j], "score": scores[j]}
                               for j in range(pos, pos + c)]}
        pos += c
        (task / f"img_{i:07d}.json").write_bytes(orjson.dumps(doc))
    return pred, total


FLOOR = r"""
import os, sys, orjson
n = 0
for dirpath, _d, files in os.walk(sys.argv[1]):
    for f in files:
        with open(os.path.join(dirpath, f), 'rb') as fh:
            orjson.loads(fh.read())
        n += 1
print(n)
"""

CONVERT = r"""
import json, sys, predport
src, dst, kw = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
s = predport.convert(src, dst, to="canonical-jsonl", overwrite=True, **kw)
print(json.dumps({"frames": s["frames"], "predictions": s["predictions"], "engine": s.get("engine"),
                  "workers": s.get("workers")}))
"""


def measure(src: str, dst: str, kw: dict) -> dict:
    wall, peak, out, cpu = run_cpu(CONVERT, [src, dst, json.dumps(kw)])
    doc = json.loads(out)
    doc.update(wall=wall, peak=peak, cpu=cpu)
    return doc


def _worker_peak(doc: dict) -> float | None:
    w = doc.get("workers")
    return max(w["peak_rss_mb"]) if w and w.get("peak_rss_mb") else None


def row(label: str, files: int, boxes: int, doc: dict, *, same: bool | None, floor: float | None = None) -> str:
    eng = doc.get("engine") or {}
    run_s = eng.get("run_seconds")
    per_task = eng.get("task_overhead_seconds")
    wp = _worker_peak(doc)
    cells = [label, f"{files:,}", f"{doc['wall']:.2f}",
             "" if eng.get("start_seconds") is None else f"{eng['start_seconds']:.2f}",
             "" if run_s is None else f"{run_s:.2f}", f"{files / doc['wall']:,.0f}", f"{boxes / doc['wall']:,.0f}",
             f"{doc['peak']:.0f}", "" if wp is None else f"{wp:.0f}",
             "" if per_task is None else f"{per_task * 1000:.1f}",
             "" if floor is None else f"{doc['wall'] / floor:.1f}x",
             "" if same is None else ("yes" if same else "NO")]
    return " | ".join(cells)


HEADER = ("run | files | wall s | start s | shards s | files/s | boxes/s | peak MB (driver) | "
          "peak MB per worker | overhead ms/task | vs floor | same bytes")


def bench_local(work: Path, n: int, dets: int, per_shard: int) -> list[str]:
    root = work / f"lightly-{n}"
    t0 = time.perf_counter()
    src, boxes = generate(root, n, dets)
    gen_s = time.perf_counter() - t0
    out = []
    floor_wall, floor_peak, _, _ = run_cpu(FLOOR, [str(src)])
    out.append(f"floor (list + orjson every file) | {n:,} | {floor_wall:.2f} | | | {n / floor_wall:,.0f} | "
               f"{boxes / floor_wall:,.0f} | {floor_peak:.0f} | | | 1.0x | ")
    shards = max(2, -(-n // per_shard))
    single = measure(str(src), str(work / "single.jsonl"), {})
    want = (work / "single.jsonl").read_bytes()
    out.append(row("predport single-process", n, boxes, single, same=None, floor=floor_wall))
    local = measure(str(src), str(work / "local.jsonl"), {"engine": "local", "shards": shards})
    out.append(row(f"engine=local, {shards} shards", n, boxes, local,
                   same=(work / "local.jsonl").read_bytes() == want, floor=floor_wall))
    dask = measure(str(src), str(work / "dask.jsonl"), {"engine": "dask", "shards": shards})
    out.append(row(f"engine=dask, 2 workers, {shards} shards", n, boxes, dask,
                   same=(work / "dask.jsonl").read_bytes() == want, floor=floor_wall))
    print(f"# local disk, {n:,} files, {boxes:,} boxes (generated in {gen_s:.1f} s, {shards} shards)", flush=True)
    for line in out:
        print(line, flush=True)
    shutil.rmtree(root)
    for name in ("single.jsonl", "local.jsonl", "dask.jsonl"):
        (work / name).unlink()
    return out


def bench_s3(work: Path, n: int, dets: int, per_shard: int) -> list[str]:
    import s3server

    server = s3server.start()
    try:
        fs = server.fs()
        fs.mkdir("bench")
        root = work / f"s3-lightly-{n}"
        src, boxes = generate(root, n, dets)
        t0 = time.perf_counter()
        fs.put(str(src), "bench/predictions", recursive=True)
        up = time.perf_counter() - t0
        opts = dict(server.options)
        url = "s3://bench/predictions"
        shards = max(2, -(-n // per_shard))
        single = measure(url, str(work / "s3-single.jsonl"), {"storage_options": opts})
        want = (work / "s3-single.jsonl").read_bytes()
        local_disk = measure(str(src), str(work / "disk.jsonl"), {})
        dask = measure(url, str(work / "s3-dask.jsonl"), {"engine": "dask", "shards": shards, "storage_options": opts})
        out = [row("disk, single-process (same files)", n, boxes, local_disk, same=None),
               row("S3, single-process", n, boxes, single, same=None),
               row(f"S3, engine=dask, 2 workers, {shards} shards", n, boxes, dask,
                   same=(work / "s3-dask.jsonl").read_bytes() == want)]
        print(f"# local S3 server (moto on loopback), {n:,} files, {boxes:,} boxes "
              f"(upload {up:.1f} s = {n / up:,.0f} objects/s)", flush=True)
        for line in out:
            print(line, flush=True)
        shutil.rmtree(root)
        return out
    finally:
        server.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--files", type=int, default=200_000, help="the large folder (the small one is a tenth)")
    p.add_argument("--dets", type=int, default=5, help="boxes per file, on average")
    p.add_argument("--files-per-shard", type=int, default=2_500, help="shards = files / this")
    p.add_argument("--s3-files", type=int, default=20_000, help="files in the S3 run (0: no S3 run)")
    p.add_argument("--work", type=Path, help="scratch folder (default: a temporary one)")
    a = p.parse_args()
    warm_bytecode()
    work = Path(tempfile.mkdtemp(prefix="predport-scale-", dir=a.work))
    try:
        print(f"# bench_scale: Lightly -> canonical JSON Lines; {os.cpu_count()} CPUs; Python "
              f"{sys.version.split()[0]}", flush=True)
        print(HEADER, flush=True)
        print(" | ".join("---" for _ in HEADER.split(" | ")), flush=True)
        small = bench_local(work, max(1, a.files // 10), a.dets, a.files_per_shard)
        large = bench_local(work, a.files, a.dets, a.files_per_shard)

        def wpeak(lines: list[str]) -> str:
            return lines[-1].split(" | ")[8]

        print(f"# per-worker peak (Dask) at {a.files // 10:,} files: {wpeak(small)} MB; at {a.files:,}: "
              f"{wpeak(large)} MB (10x the input)", flush=True)
        if a.s3_files:
            bench_s3(work, a.s3_files, a.dets, a.files_per_shard)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
