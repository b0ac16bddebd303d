"""Benchmark: Encord Active's predictions.pkl, 200,000 predictions, read into canonical frames.

Prints, from one run, the wall time, the time of the reading loop alone ("work") and the
peak memory of

* **plain pickle.load** — what Encord Active itself does (``pickle.load`` with the real
  model classes importable): here the stand-ins of the models at their real import path
  (``plugins/encord/tests/data/pickles/standins.py``, pydantic 2's bundled pydantic v1,
  whose ``__setstate__`` is the one Encord's models inherit). It runs whatever the file
  names; the figure every safe reader is compared with;
* **predport restricted unpickle** — predport's opcode scan and restricted unpickler
  alone (``unpickle.loads``): stand-ins built, nothing converted;
* **predport** — ``for frame in predport.iter_frames(pkl, format="encord", image_sizes=...)``:
  scan, restricted unpickle, every prediction checked as an Encord record, frames built
  with pixel boxes and polygons;
* **predport, JSON Lines** — the same predictions as JSON Lines records, for comparison.

The pickle is written at protocols 4 (``pickle.dump``'s default, what Encord's docs make)
and 2 and 5 (numpy's ``_frombuffer`` arrays). The predictions: 80% boxes (half of them
with numpy float64 coordinates and confidence, as model outputs give them), 15%
polygons (numpy arrays of 12 normalised points), 5% frame classifications, 10 per image
on 20,000 images; made once into ``<data>/encord_pickle/`` (about 50 s).

    python bench/bench_encord_pickle.py --data bench-data [--repeat 3]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from _harness import run as run_child, warm_bytecode  # bench/ is on sys.path when a script runs

HERE = Path(__file__).resolve().parent
PICKLES = HERE.parent / "plugins" / "encord" / "tests" / "data" / "pickles"
N = 200_000
PER_IMAGE = 10

MAKE = r"""
import json, pickle, random, sys
from pathlib import Path
import numpy as np
out, pickles, n, per_image = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
sys.path.insert(0, pickles)
import standins
standins.install(out / "standin", "v0.1.33")
sys.path.insert(0, str(out / "standin"))
from encord_active.lib.db import predictions as m
rng = random.Random(0)
preds, lines, sizes = [], [], {}
for i in range(n):
    dh = f"{i // per_image:08x}-6869-4608-a4b8-644241fea10c"
    sizes[dh] = [1920, 1080]
    r, conf = rng.random(), rng.random()
    if r < 0.8:
        x, y, w, h = (rng.random() * 0.5 for _ in range(4))
        if i % 2:
            x, y, w, h, conf = (np.float64(v) for v in (x, y, w, h, conf))
        obj = m.ObjectDetection(feature_hash="OTK8MrM3", format=m.Format.BOUNDING_BOX,
                                data=m.BoundingBox(x=x, y=y, w=w, h=h))
        p = m.Prediction(data_hash=dh, frame=0, confidence=conf, object=obj)
        data = {"x": float(x), "y": float(y), "w": float(w), "h": float(h)}
        rec = {"feature_hash": "OTK8MrM3", "format": "bounding-box", "data": data}
    elif r < 0.95:
        pts = np.random.default_rng(i).random((12, 2))
        p = m.Prediction(data_hash=dh, frame=0, confidence=conf, object=m.ObjectDetection(
            feature_hash="Nr52O8Ex", format=m.Format.POLYGON, data=pts))
        rec = {"feature_hash": "Nr52O8Ex", "format": "polygon", "data": pts.tolist()}
    else:
        cls = {"feature_hash": "55eab8b3", "attribute_hash": "d446851e", "option_hash": "376b9761"}
        p = m.Prediction(data_hash=dh, frame=0, confidence=conf, classification=m.FrameClassification(**cls))
        rec = None
    preds.append(p)
    line = {"data_hash": dh, "frame": 0, "confidence": float(conf)}
    line.update({"object": rec} if rec else {"classification": cls})
    lines.append(json.dumps(line))
for protocol in (2, 4, 5):
    with open(out / f"predictions-p{protocol}.pkl", "wb") as fh:
        pickle.dump(preds, fh, protocol=protocol)
(out / "predictions.jsonl").write_text("\n".join(lines) + "\n")
(out / "sizes.json").write_text(json.dumps(sizes))
"""

PLAIN = r"""
import pickle, sys, time
sys.path.insert(0, sys.argv[2])
import numpy
from encord_active.lib.db import predictions  # the classes importable, as in Encord Active
t = time.perf_counter()
with open(sys.argv[1], "rb") as fh:
    preds = pickle.load(fh)
print(len(preds), time.perf_counter() - t)
"""

RESTRICTED = r"""
import sys, time
import numpy
from predport_encord import unpickle
t = time.perf_counter()
with open(sys.argv[1], "rb") as fh:
    preds = unpickle.loads(fh.read())
print(len(preds), time.perf_counter() - t)
"""

PREDPORT = r"""
import sys, time
import predport
predport.get_hub().formats(), predport.Frame  # start-up: plugins found, model imported
t = time.perf_counter()
n = 0
for frame in predport.iter_frames(sys.argv[1], format="encord", image_sizes=sys.argv[2]):
    n += len(frame.predictions)
print(n, time.perf_counter() - t)
"""


def make(folder: Path) -> None:
    if (folder / "predictions.jsonl").exists():
        return
    folder.mkdir(parents=True, exist_ok=True)
    print(f"making {N:,} predictions in {folder} ...", file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-c", MAKE, str(folder), str(PICKLES), str(N), str(PER_IMAGE)], check=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="./bench-data", help="folder for the generated input (default ./bench-data)")
    ap.add_argument("--repeat", type=int, default=1, help="runs per measurement; medians are printed")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON too")
    a = ap.parse_args(argv)
    warm_bytecode()
    folder = Path(a.data).resolve() / "encord_pickle"
    make(folder)
    sizes, standin = str(folder / "sizes.json"), str(folder / "standin")
    for path in folder.iterdir():  # into the page cache before the first measurement
        if path.is_file():
            path.read_bytes()
    plan = []
    for protocol in (4, 2, 5):
        pkl = str(folder / f"predictions-p{protocol}.pkl")
        plan += [
            (f"plain pickle.load, p{protocol}", PLAIN, [pkl, standin]),
            (f"predport restricted unpickle, p{protocol}", RESTRICTED, [pkl]),
            (f"predport -> frames, p{protocol}", PREDPORT, [pkl, sizes]),
        ]
    plan.append(("predport -> frames, JSON Lines", PREDPORT, [str(folder / "predictions.jsonl"), sizes]))
    runs: dict[str, list[tuple[float, float, float, int]]] = {name: [] for name, _, _ in plan}
    for _ in range(a.repeat):
        for name, code, args in plan:
            wall, peak, out = run_child(code, args)
            count, work = out.split()
            runs[name].append((wall, float(work), peak, int(count)))
    res = {name: {"wall_s": statistics.median(v[0] for v in vals), "work_s": statistics.median(v[1] for v in vals),
                  "peak_rss_mib": statistics.median(v[2] for v in vals), "predictions": vals[0][3]}
           for name, vals in runs.items()}
    print(f"Encord Active predictions.pkl, {N:,} predictions -> canonical frames, median of {a.repeat} run(s)")
    print(f"{'':40s}{'wall s':>8s}{'work s':>8s}{'peak RSS MiB':>14s}{'predictions':>13s}")
    for name, r in res.items():
        print(f"{name:40s}{r['wall_s']:8.2f}{r['work_s']:8.2f}{r['peak_rss_mib']:14.0f}{r['predictions']:13d}")
    if len({r["predictions"] for r in res.values()}) != 1:
        print("WARNING: the readers disagree on the number of predictions")
    print()
    checks = []
    for protocol in (4, 2, 5):
        mine, plain = res[f"predport -> frames, p{protocol}"], res[f"plain pickle.load, p{protocol}"]
        checks.append((f"p{protocol}: predport whole process", mine["wall_s"], "<=", 6.0))
        checks.append((f"p{protocol}: predport / plain pickle.load (work)", mine["work_s"] / plain["work_s"], "", None))
    for label, value, op, target in checks:
        if target is None:
            print(f"{label:52s}{value:7.2f}x")
        else:
            print(f"{label:52s}{value:7.2f} s  target {op} {target} s  {'ok' if value <= target else 'MISSED'}")
    if a.json:
        print(json.dumps({"results": res}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
