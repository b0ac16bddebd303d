"""Benchmark: writing 10,000 frames / 200,000 boxes into a new Deep Lake dataset.

Prints, from one run, the time of

* **deeplake batched** (the floor) — ``deeplake.create``, the same columns predport writes
  (``data_id`` Text, ``width``/``height`` UInt32, ``model_evaluation/boxes``
  ``BoundingBox(float64, ltwh, pixel)`` with ``coords`` metadata, ``labels``
  ``ClassLabel(Array(uint32, 1))`` with ``class_names``, ``scores`` ``Array(float64, 1)``),
  one ``append`` of every row as lists of per-row numpy arrays, ``commit``;
* **deeplake row by row** — the same, one ``append`` per row (what a loop over a model's
  outputs does without batching);
* **predport** — ``predport.save(prediction_set, out, "deeplake")``: the hub, the loss
  check, the writer (columns gathered from the frames, class indices, box checks, schema
  check of the column metadata), the staging folder and its commit into place;
* **predport convert** — the same from a canonical JSON Lines file (reading included), for
  reference.

Every measurement runs in a fresh process and times only the write (the input is built
before the clock starts: the same random boxes, seed 0, for everyone). Each writer first
writes a one-frame dataset (deeplake's runtime, predport's hub and schema registry warm
up), so the figure is the write itself, not one-time start-up. Measurements are
interleaved; with ``--repeat N`` medians are printed. The target: predport within 1.5x of
the batched floor.

    python bench/bench_deeplake.py [--frames 10000] [--boxes 20] [--repeat 3]
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from _harness import run as run_child, warm_bytecode  # bench/ is on sys.path when a script runs

MAKE = r"""
import sys, time
import numpy as np
frames, per = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(0)
ids = [f"{i:06d}.jpg" for i in range(frames)]
boxes = [np.round(rng.random((per, 4)) * 500, 2) for _ in range(frames)]
cats = [rng.integers(0, 80, per).astype(np.int64) for _ in range(frames)]
scores = [np.round(rng.random(per), 4) for _ in range(frames)]
names = [f"class_{i}" for i in range(80)]
"""

FLOOR = MAKE + r"""
import deeplake
out, mode = sys.argv[3], sys.argv[4]
labels = [c.astype(np.uint32) for c in cats]       # ids 0..79 are the class indices already
widths, heights = [640] * frames, [480] * frames
T = deeplake.types


def write(out, ids, widths, heights, boxes, labels, scores, mode):
    ds = deeplake.create(out)
    ds.add_column("data_id", T.Text())
    ds.add_column("width", T.UInt32())
    ds.add_column("height", T.UInt32())
    ds.add_column("model_evaluation/boxes", T.BoundingBox("float64", format="ltwh", bbox_type="pixel"))
    ds["model_evaluation/boxes"].metadata["coords"] = {"type": "pixel", "mode": "LTWH"}
    ds.add_column("model_evaluation/labels", T.ClassLabel(T.Array("uint32", dimensions=1)))
    ds["model_evaluation/labels"].metadata["class_names"] = names
    ds.add_column("model_evaluation/scores", T.Array("float64", dimensions=1))
    cols = {"data_id": ids, "width": widths, "height": heights, "model_evaluation/boxes": boxes,
            "model_evaluation/labels": labels, "model_evaluation/scores": scores}
    if mode == "batched":
        ds.append(cols)
    else:
        for i in range(len(ids)):
            ds.append({k: [v[i]] for k, v in cols.items()})
    ds.commit("floor")


write(out + "-warm", ids[:1], widths[:1], heights[:1], boxes[:1], labels[:1], scores[:1], mode)
t = time.perf_counter()
write(out, ids, widths, heights, boxes, labels, scores, mode)
print(time.perf_counter() - t)
"""

PREDPORT = MAKE + r"""
import deeplake  # imported before the clock, as in the floor
import predport
out = sys.argv[3]
Frame, Detections = predport.Frame, predport.Detections
pset = predport.PredictionSet(
    source=predport.SourceInfo(format="canonical", uri="bench", plugin="bench"),
    categories=[predport.Category(id=i, name=n) for i, n in enumerate(names)],
    frames=[Frame.model_construct(data_id=d, frame_index=None, width=640, height=480,
                                  predictions=Detections(c, s, b), attributes={})
            for d, c, s, b in zip(ids, cats, scores, boxes)])
predport.save(pset.model_copy(update={"frames": pset.frames[:1]}), out + "-warm", "deeplake")
t = time.perf_counter()
predport.save(pset, out, "deeplake")
print(time.perf_counter() - t)
"""

CONVERT = r"""
import sys, time
import predport
predport.get_hub().formats()
t = time.perf_counter()
predport.convert(sys.argv[1], sys.argv[2], to="deeplake", format="canonical-jsonl")
print(time.perf_counter() - t)
"""

SAVE_JSONL = PREDPORT.replace('"deeplake")', '"canonical-jsonl")')


def check(out: Path, frames: int, per: int) -> None:
    """Both outputs hold the same rows: predport's dataset equals the floor's."""
    import numpy as np
    import deeplake

    ds = deeplake.open_read_only(str(out))
    assert len(ds) == frames, (out, len(ds))
    assert sum(len(b) for b in ds["model_evaluation/boxes"][0:frames]) == frames * per


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=10_000)
    ap.add_argument("--boxes", type=int, default=20, help="boxes per frame")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-row-by-row", action="store_true", help="skip the (slow) row-by-row floor")
    args = ap.parse_args()
    warm_bytecode()
    n, k = str(args.frames), str(args.boxes)
    work = Path(tempfile.mkdtemp(prefix="bench-deeplake-"))
    try:
        jsonl = work / "in.jsonl"
        run_child(SAVE_JSONL, [n, k, str(jsonl)])
        times: dict[str, list[float]] = {"deeplake batched": [], "deeplake row by row": [], "predport": [],
                                         "predport convert (jsonl)": []}
        for r in range(args.repeat):
            for name in times:
                if name == "deeplake row by row" and args.no_row_by_row:
                    continue
                out = work / f"{name.replace(' ', '_')}-{r}"
                if name.startswith("deeplake"):
                    _, _, text = run_child(FLOOR, [n, k, str(out), name.split()[-1] if "row" not in name
                                                   else "rows"])
                elif name == "predport":
                    _, _, text = run_child(PREDPORT, [n, k, str(out)])
                else:
                    _, _, text = run_child(CONVERT, [str(jsonl), str(out)])
                check(out, args.frames, args.boxes)
                times[name].append(float(text.split()[-1]))
                shutil.rmtree(out)
                shutil.rmtree(f"{out}-warm", ignore_errors=True)
        floor = statistics.median(times["deeplake batched"])
        print(f"{args.frames:,} frames, {args.frames * args.boxes:,} boxes; median of {args.repeat} "
              f"(write time only, fresh process each)")
        print(f"{'writer':28} {'seconds':>8} {'x batched':>10}")
        for name, values in times.items():
            if not values:
                continue
            m = statistics.median(values)
            print(f"{name:28} {m:8.3f} {m / floor:10.2f}")
        ratio = statistics.median(times["predport"]) / floor
        print(f"predport / deeplake batched = {ratio:.2f} (target <= 1.5)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
