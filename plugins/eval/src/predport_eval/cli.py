"""``predport evaluate``: arguments and output (table, ``--json``, ``--per-frame``, ``--plots``)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def _kv(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, value = text.split("=", 1)
    try:
        return key.strip(), json.loads(value)
    except ValueError:
        return key.strip(), value


def _ignore_value(text: str) -> int | None:
    if text.strip().lower() == "none":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a class value or 'none', got {text!r}") from None


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("predictions", help="predictions (file or folder, any format predport reads)")
    p.add_argument("ground_truth", help="ground truth (read with role=ground_truth)")
    p.add_argument("--from", dest="from_format", metavar="FORMAT", help="predictions format (default: detect)")
    p.add_argument("--gt-from", dest="gt_format", metavar="FORMAT", help="ground-truth format (default: detect)")
    p.add_argument("--iou-type", choices=("bbox", "segm", "keypoints", "semantic", "kitti"), default="bbox")
    p.add_argument("--score-threshold", type=float, metavar="S",
                   help="keep detections scoring >= S for per-frame counts and the confusion matrix")
    p.add_argument("--iou-threshold", type=float, default=0.5, metavar="T",
                   help="IoU of a match for per-frame counts and the confusion matrix (default 0.5)")
    p.add_argument("--max-dets", type=int, metavar="N", help="COCO maxDets (default 100, keypoints 20)")
    p.add_argument("--backend", choices=("numpy", "pycocotools", "faster-coco-eval"), default="numpy",
                   help="engine of the COCO metrics (default numpy, equal to pycocotools)")
    p.add_argument("--class-map", metavar="FILE", help="map prediction classes to ground-truth classes")
    p.add_argument("--images", metavar="DIR", help="image folder: image sizes (YOLO needs them)")
    p.add_argument("--sizes", metavar="FILE", help="image sizes: {name: [w, h]} or a COCO ground-truth file")
    p.add_argument("-o", "--option", dest="options", action="append", type=_kv, default=[], metavar="KEY=VALUE",
                   help="predictions reader option (repeatable)")
    p.add_argument("-g", "--gt-option", dest="gt_options", action="append", type=_kv, default=[],
                   metavar="KEY=VALUE", help="ground-truth reader option (repeatable)")
    p.add_argument("--ignore-value", dest="ignore_values", action="append", type=_ignore_value, metavar="V",
                   help="semantic: ground-truth class value left out (repeatable; default 255; 'none': none)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--per-frame", metavar="FILE", help="write the per-frame table (.csv or .jsonl), worst first")
    p.add_argument("--per-detection", metavar="FILE", help="write one row per detection (.csv or .jsonl)")
    p.add_argument("--attach", metavar="OUT", help="write the predictions as canonical JSON with eval.* frame "
                                                    "attributes (.json or .jsonl)")
    p.add_argument("--plots", metavar="DIR", help="write PR curves per class and the confusion matrix as PNG")
    p.add_argument("--engine", choices=("local", "dask"), help="match COCO detections shard by shard "
                   "(dask: on a cluster, pip install 'predport[dask]'); the same figures")
    p.add_argument("--scheduler", metavar="ADDRESS", help="with --engine dask: the scheduler (default: a local "
                                                          "cluster of 2 processes)")
    p.add_argument("--shards", type=int, metavar="N", help="with --engine: number of shards (default 8)")


def run(args: argparse.Namespace) -> int:
    import predport

    from .api import attach, evaluate
    from .output import write_columns, write_plots, write_table

    for path, what in ((args.per_frame, "--per-frame"), (args.per_detection, "--per-detection")):
        if path and Path(path).suffix.lower() not in (".csv", ".jsonl"):
            raise predport.ConfigError(f"{what} writes .csv or .jsonl, not {Path(path).suffix or 'no suffix'}",
                                       file=path)
    result = evaluate(
        args.predictions, args.ground_truth, iou_type=args.iou_type, from_format=args.from_format,
        gt_format=args.gt_format, score_threshold=args.score_threshold, iou_threshold=args.iou_threshold,
        class_map=args.class_map, max_dets=args.max_dets, backend=args.backend,
        options=dict(args.options) or None, gt_options=dict(args.gt_options) or None, images=args.images,
        image_sizes=args.sizes,
        ignore_values=(255,) if not args.ignore_values else tuple(v for v in args.ignore_values if v is not None),
        per_detection=bool(args.per_detection), engine=args.engine, scheduler=args.scheduler, shards=args.shards,
    )
    if args.per_frame:
        columns: tuple[str, ...] = ("data_id", "frame_index", "tp", "fp", "fn", "mean_iou")
        if result.iou_type == "semantic":
            columns += ("pixel_accuracy",)
        write_table(args.per_frame, [r.to_dict() for r in result.per_frame], columns)
    if args.per_detection:
        write_columns(args.per_detection, result.per_detection_columns or {
            c: [] for c in ("data_id", "frame_index", "row", "category", "score", "status", "iou")})
    if args.attach:
        fmt = "canonical-jsonl" if args.attach.lower().endswith(".jsonl") else "canonical"
        predport.save(attach(predport.load(args.predictions, args.from_format, read_options=dict(args.options) or None,
                                           class_map=args.class_map, images=args.images, image_sizes=args.sizes),
                             result), args.attach, fmt, overwrite=True)
    if args.plots:
        write_plots(args.plots, result)
    if args.json:
        sys.stdout.write(json.dumps(result.to_dict()) + "\n")
    else:
        sys.stdout.write(result.table() + "\n")
    return 0
