"""predport-report: drawing time per frame, bytes per embedded frame, report size for 100 and 1,000 frames.

    python bench/bench_report.py [--frames 100] [--repeat 5]

Data: the synthetic scene of ``predport_report.sample`` (640x480 JPEGs with a noisy
texture, the hard case for image compression; 2-4 boxes and polygons of ground truth
per frame), and the real KITTI photographs of ../shared/corpus when present. Printed
side by side, measured in the same run: predport's Pillow drawing, the floor (copying
the decoded image, which any drawing has to do), and OpenCV drawing the same boxes
and labels. Targets (issue 19): <= 10 ms drawing per frame, <= 25 KiB per embedded
frame, a 100-frame report <= 2 MB.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import predport
from predport_report.draw import Style, draw_frame, format_score
from predport_report.images import open_image
from predport_report.page import write_report
from predport_report.render import Filters

CORPUS_KITTI = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "kitti" / "kitti_object_vis"


def median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def drawing(pset: predport.PredictionSet, images: Path, repeat: int) -> dict[str, float]:
    import cv2

    cats = {c.id: c for c in pset.categories}
    decoded = [(open_image(images / f.data_id), f) for f in pset.frames]
    style = Style()
    n = len(decoded)

    def ours():
        for im, f in decoded:
            draw_frame(im.copy(), f.predictions, cats, style=style)

    def floor():
        for im, _ in decoded:
            im.copy()

    arrays = [(np.asarray(im), f) for im, f in decoded]

    def opencv():
        for a, f in arrays:
            out = a.copy()
            for cid, s, (x, y, w, h) in zip(f.predictions.category_id.tolist(), f.predictions.score.tolist(),
                                            f.predictions.box.tolist()):
                cv2.rectangle(out, (round(x), round(y)), (round(x + w) - 1, round(y + h) - 1), (255, 0, 0), 2)
                cv2.putText(out, f"{cats[cid].name} {format_score(s)}", (round(x), round(y) - 3),
                            cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)

    def decode():
        for f in pset.frames:
            open_image(images / f.data_id)

    return {name: median_ms(fn, repeat) / n for name, fn in
            (("predport draw_frame (Pillow)", ours), ("floor: copy the decoded image", floor),
             ("OpenCV rectangle + putText", opencv), ("(decoding the JPEG, not counted)", decode))}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    from predport_report.sample import make_scene

    failed = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        scene = make_scene(tmp / "scene", frames=args.frames)
        pset = predport.load(scene.results, options={"gt": str(scene.gt)})
        print(f"predport-report bench: {args.frames} synthetic frames 640x480, "
              f"{pset.num_predictions} predictions (the machine may be shared: compare within this run)")
        print("\ndrawing, per frame (median of %d runs)" % args.repeat)
        times = drawing(pset, scene.images, args.repeat)
        for name, ms in times.items():
            print(f"  {name:<36} {ms:7.2f} ms")
        if times["predport draw_frame (Pillow)"] > 10:
            failed.append("drawing > 10 ms per frame")

        print("\nreport size")
        rows = []
        for label, n_frames, max_frames, gt in ((f"{args.frames} frames", args.frames, 100, False),
                                                (f"{args.frames} frames, with ground truth", args.frames, 100, True)):
            t0 = time.perf_counter()
            info = write_report(scene.results, tmp / f"r{gt}.html", images=scene.images, max_frames=max_frames,
                                ground_truth=scene.gt if gt else None,
                                read=_read(scene), filters=Filters())
            rows.append((label, info, time.perf_counter() - t0))
        big = make_scene(tmp / "big", frames=1000)
        for max_frames in (100, 1000):
            t0 = time.perf_counter()
            info = write_report(big.results, tmp / f"big{max_frames}.html", images=big.images,
                                max_frames=max_frames, read=_read(big))
            rows.append((f"1,000 frames, {max_frames} embedded", info, time.perf_counter() - t0))
        for label, info, secs in rows:
            per = statistics.mean(info["frame_bytes"]) / 1024 if info["frame_bytes"] else 0
            print(f"  {label:<38} {info['bytes'] / 1e6:6.2f} MB  {per:5.1f} KiB per embedded frame "
                  f"(max {max(info['frame_bytes']) / 1024:.1f})  {secs:5.1f} s")
            if max(info["frame_bytes"]) > 25 * 1024:
                failed.append(f"{label}: an embedded frame > 25 KiB")
        if rows[0][1]["bytes"] > 2e6 or rows[1][1]["bytes"] > 2e6:
            failed.append("100-frame report > 2 MB")

        if CORPUS_KITTI.is_dir():
            info = write_report(CORPUS_KITTI / "label_2", tmp / "kitti.html", images=CORPUS_KITTI / "image_2")
            per = statistics.mean(info["frame_bytes"]) / 1024
            print(f"  {'real KITTI photographs (corpus)':<38} {info['bytes'] / 1e6:6.2f} MB  {per:5.1f} KiB "
                  f"per embedded frame ({info['frames']} frames of 1224x370)")
    print("\nreference: a self-contained plotly chart alone is 4.7 MB (issue 19); these charts are inline SVG")
    print("targets: " + ("all met" if not failed else "MISSED: " + "; ".join(failed)))
    return 1 if failed else 0


def _read(scene):
    from predport_report.reading import ReadOptions

    return ReadOptions(options={"gt": str(scene.gt)})


if __name__ == "__main__":
    sys.exit(main())
