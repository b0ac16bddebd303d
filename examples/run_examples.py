"""Convert every bundled example to canonical JSON (format auto-detected) and print a summary.

This is predport's main job, end to end: detect the format, parse, map to the
canonical model, validate against the committed schema, write atomically. Each
example is then converted once more to another format, to show a writer at work.
Outputs go to ``demo-out/`` beside this folder (replaced on every run).

    python examples/run_examples.py
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import predport

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "demo-out"

# (example path, reader options, second target format or None)
EXAMPLES = [
    ("coco/results.json", {"read_options": {"gt": str(HERE / "coco" / "gt.json")}}, "lightly"),
    ("kitti/label_2", {}, "coco"),
    ("masks/predictions", {"class_map": str(HERE / "masks" / "classes.yaml")}, "coco"),
    ("lightly/.lightly/predictions", {"images": str(HERE / "lightly" / "images")}, "coco"),
    ("aquarium/frames.jsonl", {"read_options": {"mask_root": str(HERE / "aquarium")}}, "canonical-jsonl"),
    ("yolo/labels", {"images": str(HERE / "yolo" / "images")}, "coco"),
    ("encord/predictions.json", {"image_sizes": str(HERE / "encord" / "sizes.json"),
                                 "read_options": {"ontology": str(HERE / "encord" / "ontology.json")}}, "coco"),
]

SECOND_NAMES = {"coco": "results.json", "canonical-jsonl": "canonical.jsonl"}


def main() -> int:
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir()
    rows = []
    failed = 0
    for rel, kwargs, second in EXAMPLES:
        src = HERE / rel
        name = rel.split("/")[0]
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        try:
            fmt = predport.get_hub().pick(src).id
            dest = OUT / name
            dest.mkdir()
            s1 = predport.convert(src, dest / "canonical.json", **kwargs)
            shown = f"canonical.json ({s1['frames']} frames, {s1['predictions']} predictions)"
            if second:
                target = dest / SECOND_NAMES.get(second, second)
                s2 = predport.convert(src, target, to=second, allow_loss=True, **kwargs)
                lost = sum(s2["loss"].values())
                shown += f"; {second}: {s2['files']} file(s)" + (
                    f" ({lost} values the format cannot hold, reported)" if lost else "")
            rows.append((rel, fmt, shown))
        except predport.PredportError as err:
            failed += 1
            rows.append((rel, "ERROR", str(err)))
    width = max(len(r[0]) for r in rows)
    print(f"predport {predport.__version__}: bundled examples -> {OUT}")
    for rel, fmt, shown in rows:
        print(f"  {rel.ljust(width)}  {fmt:<10} {shown}")
    print(f"{len(rows) - failed} converted, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
