"""Writes the small inputs of the evaluation guides (docs/evaluate*.md); deterministic.

    python docs/examples/eval/make.py [OUT]     # rewrites coco/, yolo/ and masks/ (beside this file by default)

coco/gt.json        3 images (640x480), person and car, one crowd region
coco/results.json   COCO results: hits, a detection inside the crowd, false positives, misses
yolo/labels/*.txt   the same detections as YOLO lines (class cx cy w h score, normalised)
masks/gt, masks/pred  class-index PNGs (0 background, 1 person, 2 road, 255 void), 6x4
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
W, H = 640, 480
CATEGORIES = [{"id": 1, "name": "person"}, {"id": 3, "name": "car"}]
#            image, class, box [x, y, w, h], crowd
GT = [(1, 3, [258, 241, 148, 94], 0), (1, 1, [50, 200, 30, 80], 0), (1, 1, [400, 150, 120, 100], 1),
      (2, 3, [10, 300, 200, 120], 0), (2, 3, [300, 310, 150, 100], 0),
      (3, 1, [100, 100, 40, 110], 0)]
#            image, class, box, score
RESULTS = [(1, 3, [258.2, 241.3, 148.3, 93.8], 0.93),   # the car
           (1, 1, [52.0, 203.0, 29.0, 78.0], 0.81),     # the person
           (1, 1, [410.0, 160.0, 40.0, 60.0], 0.5),     # inside the crowd: neither right nor wrong
           (2, 3, [12.0, 298.0, 196.0, 124.0], 0.66),   # the first car; the second is missed
           (2, 3, [500.0, 50.0, 60.0, 40.0], 0.4),      # nothing there
           (3, 1, [300.0, 300.0, 40.0, 100.0], 0.7)]    # wrong place: the person of image 3 is missed
MASK_GT = [[0, 0, 1, 1, 0, 0],
           [0, 1, 1, 1, 0, 0],
           [2, 2, 2, 2, 2, 255],
           [2, 2, 2, 2, 255, 255]]
MASK_PRED = [[0, 0, 1, 1, 1, 0],
             [0, 0, 1, 1, 0, 0],
             [2, 2, 2, 1, 2, 2],
             [0, 2, 2, 2, 2, 2]]


def main(out: Path = HERE) -> None:
    images = [{"id": i, "file_name": f"street_000{i}.jpg", "width": W, "height": H} for i in (1, 2, 3)]
    anns = [{"id": k + 1, "image_id": i, "category_id": c, "bbox": b, "area": b[2] * b[3], "iscrowd": crowd}
            for k, (i, c, b, crowd) in enumerate(GT)]
    coco = out / "coco"
    coco.mkdir(parents=True, exist_ok=True)
    (coco / "gt.json").write_text(json.dumps({"images": images, "annotations": anns, "categories": CATEGORIES},
                                             indent=1) + "\n")
    results = [{"image_id": i, "category_id": c, "bbox": b, "score": s} for i, c, b, s in RESULTS]
    (coco / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    yolo = out / "yolo"
    (yolo / "labels").mkdir(parents=True, exist_ok=True)
    names = ["person", "bicycle", "car"]  # YOLO class index = line number
    (yolo / "labels" / "classes.txt").write_text("".join(n + "\n" for n in names))
    index = {1: 0, 3: 2}
    for i in (1, 2, 3):
        lines = []
        for img, c, (x, y, w, h), s in RESULTS:
            if img == i:
                lines.append(f"{index[c]} {(x + w / 2) / W:.9f} {(y + h / 2) / H:.9f} {w / W:.9f} {h / H:.9f} {s}")
        (yolo / "labels" / f"street_000{i}.txt").write_text("".join(line + "\n" for line in lines))
    masks = out / "masks"
    class_map = {str(v): {"id": v, "name": n} for v, n in ((0, "background"), (1, "person"), (2, "road"))}
    for side, array in (("gt", MASK_GT), ("pred", MASK_PRED)):
        (masks / side).mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.array(array, dtype=np.uint8)).save(masks / side / "street_0001.png")
        (masks / side / "class_map.json").write_text(json.dumps(class_map, indent=1) + "\n")


if __name__ == "__main__":
    import sys

    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
