"""The ``predport draw`` and ``predport report`` commands: arguments and what they run.

Only :mod:`argparse` is imported at registration; the drawing modules load when a
command runs, so ``predport --help`` stays cheap.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

__all__ = ["register", "run_draw", "run_report"]


def _kv(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, value = text.split("=", 1)
    try:
        return key.strip(), json.loads(value)
    except ValueError:
        return key.strip(), value


def _classes(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise argparse.ArgumentTypeError("expected class names separated by commas")
    return names


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("predictions", help="predictions: any file or folder predport reads")
    p.add_argument("--images", metavar="DIR", help="the images (found by data id: path, file name or stem)")
    p.add_argument("--gt", metavar="GT", help="ground truth, drawn dashed (any format that reads ground truth)")
    p.add_argument("--score-threshold", type=float, metavar="S",
                   help="leave out predictions scored below S (predictions without a score stay)")
    p.add_argument("--classes", type=_classes, metavar="A,B", help="draw only these classes (names or ids)")
    g = p.add_argument_group("reading (as for predport convert)")
    g.add_argument("--from", dest="from_format", metavar="FORMAT", help="format of the predictions (default: detect)")
    g.add_argument("--gt-from", dest="gt_format", metavar="FORMAT", help="format of the ground truth (default: detect)")
    g.add_argument("--option", dest="options", action="append", type=_kv, default=[], metavar="KEY=VALUE",
                   help="reader option for the predictions (repeatable; VALUE is JSON or text)")
    g.add_argument("--gt-option", dest="gt_options", action="append", type=_kv, default=[], metavar="KEY=VALUE",
                   help="reader option for the ground truth (repeatable)")
    g.add_argument("--class-map", metavar="FILE", help="JSON/YAML map of source classes to target ids/names")
    g.add_argument("--sizes", metavar="FILE", help="image sizes: {name: [w, h]} or a COCO ground-truth file")
    g.add_argument("--policy", choices=("fail", "skip", "clamp"), default="fail", help="bad records (default: fail)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")


def register(commands: Any) -> None:
    """Add ``draw`` and ``report`` (called by the ``register_commands`` hook)."""
    d = commands.add("draw", help="draw predictions (and ground truth) on their images, one image per frame",
                     run=run_draw, epilog="Example: predport draw results.json --images images/ -o drawn/")
    _common(d)
    d.add_argument("-o", "--output", required=True, metavar="OUT", help="output folder (one image per frame)")
    d.add_argument("--skip-empty", action="store_true",
                   help="do not write frames and images without any prediction or ground truth")
    d.add_argument("--image-format", choices=("jpg", "png", "webp"), default="jpg", help="default: jpg")
    d.add_argument("--quality", type=int, default=90, help="JPEG/WebP quality (default 90)")

    r = commands.add("report", help="write a self-contained HTML report of predictions (evaluation with --gt)",
                     run=run_report, epilog="Example: predport report results.json --gt gt.json -o report.html")
    _common(r)
    r.add_argument("-o", "--output", required=True, metavar="FILE", help="the HTML file to write")
    r.add_argument("--max-frames", type=int, default=100, metavar="N",
                   help="embed at most N frames (default 100); the others are listed")
    r.add_argument("--thumb-size", type=int, default=320, metavar="PX",
                   help="long side of the embedded pictures in pixels (default 320)")
    r.add_argument("--quality", type=int, default=70, help="quality of the embedded pictures (default 70)")
    r.add_argument("--title", help="page title")
    r.add_argument("--iou-type", choices=("bbox", "segm", "keypoints", "semantic", "kitti"),
                   help="evaluation with --gt: what is matched (default: predport evaluate's)")
    r.add_argument("--iou-threshold", type=float, default=None,
                   help="evaluation with --gt: IoU of a match for per-frame results and the confusion matrix")


def _reads(args: argparse.Namespace) -> tuple[Any, Any]:
    from .reading import ReadOptions

    read = ReadOptions(format=args.from_format, options=dict(args.options), policy=args.policy,
                       class_map=args.class_map, image_sizes=args.sizes, images=args.images)
    gt_read = ReadOptions(format=args.gt_format, options=dict(args.gt_options), policy=args.policy,
                          image_sizes=args.sizes, images=args.images)
    return read, gt_read


def _print_counts(counts: dict[str, int]) -> None:
    for key, n in counts.items():
        print(f"        {n} {key}")


def run_draw(args: argparse.Namespace) -> int:
    from .render import Filters, draw_folder

    read, gt_read = _reads(args)
    summary = draw_folder(
        args.predictions, args.output, images=args.images, read=read, ground_truth=args.gt, gt_read=gt_read,
        filters=Filters(args.score_threshold, args.classes), skip_empty=args.skip_empty,
        overwrite=args.overwrite, image_format=args.image_format, quality=args.quality)
    if args.json:
        print(json.dumps(summary, indent=2))
    elif not args.quiet:
        drawn = sum(summary["predictions_drawn"].values())
        print(f"drew    {drawn} predictions on {summary['written']} image(s) in {args.output}")
        _print_counts(summary["counts"])
        if summary["skipped_empty"]:
            print(f"        {summary['skipped_empty']} empty frame(s) not written (--skip-empty)")
        if summary["written"]:
            print(f"        {1000 * summary['draw_seconds'] / summary['written']:.1f} ms per image drawn")
    return 0


def run_report(args: argparse.Namespace) -> int:
    from .page import write_report
    from .render import Filters

    read, gt_read = _reads(args)
    ev: dict[str, Any] = {}
    if args.iou_type:
        ev["iou_type"] = args.iou_type
    if args.iou_threshold is not None:
        ev["iou_threshold"] = args.iou_threshold
    summary = write_report(
        args.predictions, args.output, images=args.images, read=read, ground_truth=args.gt, gt_read=gt_read,
        filters=Filters(args.score_threshold, args.classes), max_frames=args.max_frames,
        thumb_size=args.thumb_size, quality=args.quality, overwrite=args.overwrite, title=args.title, evaluate=ev)
    if args.json:
        print(json.dumps({k: v for k, v in summary.items() if k != "frame_bytes"}, indent=2, default=str))
    elif not args.quiet:
        print(f"wrote   {args.output}: {summary['bytes'] / 1024:.0f} KiB, {summary['embedded']} of "
              f"{summary['frames']} frames embedded, {summary['predictions']} predictions")
        _print_counts({k: v for k, v in summary["counts"].items() if k != "frames"})
        if summary.get("metrics"):
            shown = ", ".join(f"{k} {v:.3f}" for k, v in summary["metrics"].items() if isinstance(v, float))
            print(f"        {shown}")
    sys.stdout.flush()
    return 0
