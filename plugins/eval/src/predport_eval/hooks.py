"""predport hooks of predport-eval: the ``predport evaluate`` command. Cheap to import."""
from __future__ import annotations

import predport


@predport.hookimpl
def register_commands(commands):  # type: ignore[no-untyped-def]
    from .cli import configure, run

    configure(commands.add(
        "evaluate", help="evaluate predictions against ground truth (COCO, KITTI, semantic metrics)", run=run,
        description="Evaluate predictions against ground truth, from any format predport reads against any "
                    "format it reads as ground truth. Prints a table; --json prints one object.",
        epilog="Examples:\n"
               "  predport evaluate results.json instances_val2017.json\n"
               "  predport evaluate kitti/results kitti/label_2 --iou-type kitti\n"
               "  predport evaluate preds/ labels/ --iou-type semantic --from masks --gt-from masks\n"
               "  predport evaluate yolo/labels instances.json --from yolo --images images/ --per-frame worst.csv",
    ))
