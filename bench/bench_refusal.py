"""Benchmark: how soon a lossy conversion is refused (issue #13: "the refusal comes only
after all the work, 13 s on 300k boxes").

Input (made here, under ``--data``): COCO results with 300,000 predictions on 30,000 images,
each with a box and a polygon. KITTI cannot hold polygons, so ``predport convert results.json
out --to kitti`` without ``--allow-loss`` must refuse, and it does so at the first lossy frame.

Prints, from one run, the wall time of (each in a fresh process, start-up and imports included):

* **import floor** — ``import predport`` and finding the plugins (what any refusal pays);
* **parse floor** — ``orjson.loads`` of the file alone (what a refusal after reading would pay
  at the least);
* **refusal** — ``predport.convert(..., to="kitti")`` until its ``LossError``;
* **full conversion** — the same with ``allow_loss=True`` (every frame written).

    python bench/bench_refusal.py --data /work/bench-data --repeat 3
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import run, warm_bytecode  # noqa: E402

IMPORT = r"""
import predport
predport.get_hub().formats()
print("ok")
"""

PARSE = r"""
import sys, orjson
with open(sys.argv[1], "rb") as fh:
    print(len(orjson.loads(fh.read())))
"""

REFUSE = r"""
import sys, predport
try:
    predport.convert(sys.argv[1], sys.argv[2], to="kitti")
except predport.LossError as err:
    print(err.report)
else:
    raise SystemExit("not refused")
"""

FULL = r"""
import sys, predport
print(predport.convert(sys.argv[1], sys.argv[2], to="kitti", allow_loss=True)["predictions"])
"""


def make_input(path: Path, images: int = 30_000, per_image: int = 10) -> int:
    if path.is_file():
        return sum(1 for _ in json.loads(path.read_text()))
    recs = []
    for i in range(images):
        for k in range(per_image):
            x, y = 10.0 + 7 * k, 20.0 + 3 * k
            recs.append({"image_id": i, "category_id": 1 + (i + k) % 80, "score": round(0.05 + 0.09 * k, 3),
                         "bbox": [x, y, 30.0, 40.0],
                         "segmentation": [[x, y, x + 30, y, x + 30, y + 40, x, y + 40]]})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(recs))
    return len(recs)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="./bench-data", help="folder for the generated input")
    ap.add_argument("--repeat", type=int, default=1, help="runs per measurement; medians are printed")
    a = ap.parse_args(argv)
    warm_bytecode()
    src = Path(a.data) / "refusal" / "results_polygons.json"
    n = make_input(src)
    plan = [("import floor", IMPORT), ("parse floor", PARSE), ("refusal", REFUSE), ("full conversion", FULL)]
    walls: dict[str, list[float]] = {name: [] for name, _ in plan}
    peaks: dict[str, list[float]] = {name: [] for name, _ in plan}
    with tempfile.TemporaryDirectory(prefix="bench-refusal-") as tmp:
        for r in range(a.repeat):
            for name, code in plan:  # interleaved, so that load on the machine hits all alike
                out = Path(tmp) / f"{name.split()[0]}-{r}"
                wall, rss, _ = run(code, [str(src), str(out)])
                walls[name].append(wall)
                peaks[name].append(rss)
    print(f"COCO results with polygons -> KITTI, {n} predictions on {n // 10} images ({src}), "
          f"median of {a.repeat} run(s), whole process")
    print(f"{'':18s}{'wall s':>9s}{'peak RSS MiB':>15s}")
    med = {name: statistics.median(v) for name, v in walls.items()}
    for name in walls:
        print(f"{name:18s}{med[name]:9.2f}{statistics.median(peaks[name]):15.0f}")
    print()
    print(f"refusal / full conversion: {med['refusal'] / med['full conversion']:.2f}x "
          f"(refusal - import floor: {med['refusal'] - med['import floor']:.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
