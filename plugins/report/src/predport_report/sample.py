"""A small synthetic scene with known answers, for tests, benchmarks and the docs' pictures.

``make_scene(folder, frames=6)`` writes JPEG images of coloured objects on a textured
background, the COCO ground truth of those objects (``gt.json``, boxes and polygons)
and COCO results (``results.json``) made from it by fixed rules: most objects are
found with a small offset, every fifth is missed, every seventh gets the wrong class,
and each frame has one low-scored false positive; frame ``worst`` (index 2, or the
last frame when there are fewer) has every object missed and three confident false
positives, so it is the frame with the most errors. Nothing random: the same call
always writes the same files.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Scene", "make_scene", "CLASSES"]

CLASSES = ("car", "person", "bicycle", "dog")


@dataclass
class Scene:
    folder: Path
    images: Path
    gt: Path
    results: Path
    frames: list[str]
    worst: str
    objects: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def _background(w: int, h: int, k: int) -> Any:
    import numpy as np

    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    rng = np.random.default_rng(1000 + k)
    base = np.stack([
        90 + 60 * np.sin(x / (w / 3.1) + k) + 20 * np.cos(y / 37.0),
        110 + 50 * np.cos(y / (h / 2.3) - k) + 15 * np.sin(x / 23.0),
        130 + 40 * np.sin((x + y) / (w / 2.7) + 0.5 * k),
    ], axis=-1)
    noise = rng.normal(0, 9, size=(h, w, 1)).astype(np.float32)
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def make_scene(folder: str | os.PathLike[str], *, frames: int = 6, width: int = 640, height: int = 480) -> Scene:
    """Write the scene into ``folder`` (created); returns where everything is."""
    import numpy as np
    from PIL import Image, ImageDraw

    root = Path(folder)
    img_dir = root / "images"
    img_dir.mkdir(parents=True, exist_ok=True)
    worst_index = min(2, frames - 1)
    images, annotations, results = [], [], []
    names: list[str] = []
    objects: dict[str, list[dict[str, Any]]] = {}
    ann_id = 0
    obj_no = 0
    for k in range(frames):
        name = f"scene_{k:04d}.jpg"
        names.append(name)
        im = Image.fromarray(_background(width, height, k))
        draw = ImageDraw.Draw(im)
        n_obj = 2 + k % 3
        objects[name] = []
        for j in range(n_obj):
            cls = (k + j) % len(CLASSES)
            bw, bh = width * (0.14 + 0.05 * ((k + 2 * j) % 3)), height * (0.18 + 0.06 * ((j + k) % 3))
            x = width * (0.06 + 0.9 * j / n_obj) + 7 * k % 23
            y = height * (0.2 + 0.45 * ((k * 3 + j * 5) % 7) / 7)
            x, y = min(x, width - bw - 1), min(y, height - bh - 1)
            box = [round(x, 2), round(y, 2), round(bw, 2), round(bh, 2)]
            tint = [(200, 40, 40), (240, 200, 60), (40, 160, 70), (150, 90, 40)][cls]
            if cls in (1, 3):  # people and dogs as ellipses, cars and bicycles as rectangles
                cx, cy, rx, ry = x + bw / 2, y + bh / 2, bw / 2, bh / 2
                poly = [v for t in range(24) for v in (round(cx + rx * math.cos(2 * math.pi * t / 24), 2),
                                                       round(cy + ry * math.sin(2 * math.pi * t / 24), 2))]
            else:
                poly = [x, y, x + bw, y, x + bw, y + bh, x, y + bh]
            draw.polygon([(poly[i], poly[i + 1]) for i in range(0, len(poly), 2)], fill=tint, outline=(20, 20, 20))
            ann_id += 1
            annotations.append({"id": ann_id, "image_id": k + 1, "category_id": cls + 1, "bbox": box,
                                "area": round(bw * bh, 2), "iscrowd": 0, "segmentation": [poly]})
            objects[name].append({"category": CLASSES[cls], "box": box})
            obj_no += 1
            if k == worst_index:
                continue  # the worst frame: every object missed
            if obj_no % 5 == 0:
                continue  # missed: a false negative
            wrong = obj_no % 7 == 0
            dx, dy = 0.03 * bw * (1 if j % 2 else -1), 0.02 * bh
            results.append({"image_id": k + 1, "category_id": ((cls + 1) % len(CLASSES)) + 1 if wrong else cls + 1,
                            "bbox": [round(min(max(0.0, x + dx), width - bw), 2),
                                     round(min(y + dy, height - bh * 0.97), 2), round(bw, 2), round(bh * 0.97, 2)],
                            "score": round(0.55 + 0.4 * ((obj_no * 37) % 11) / 10, 3)})
        fp_count = 3 if k == worst_index else 1
        for f in range(fp_count):
            results.append({"image_id": k + 1, "category_id": (k + f) % len(CLASSES) + 1,
                            "bbox": [round(width * (0.05 + 0.3 * f), 2), round(height * 0.82, 2), 60.0, 40.0],
                            "score": 0.9 if k == worst_index else round(0.2 + 0.03 * k, 3)})
        im.save(img_dir / name, format="JPEG", quality=88)
        images.append({"id": k + 1, "file_name": name, "width": width, "height": height})
    gt = {"images": images, "annotations": annotations,
          "categories": [{"id": i + 1, "name": n, "supercategory": "thing"} for i, n in enumerate(CLASSES)]}
    (root / "gt.json").write_text(json.dumps(gt))
    (root / "results.json").write_text(json.dumps(results))
    return Scene(folder=root, images=img_dir, gt=root / "gt.json", results=root / "results.json",
                 frames=names, worst=names[worst_index], objects=objects)
