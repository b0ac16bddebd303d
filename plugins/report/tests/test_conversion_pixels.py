"""A conversion's output drawn next to its input draws the same boxes.

The synthetic scene's COCO results are converted to every format that holds boxes,
read back, and drawn on the same pictures as the input: the drawn pixels must agree
(to a pixel, for formats that round coordinates). A shifted or flipped convention —
checked below with deliberate ones — changes whole outlines and fails the comparison.
"""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFilter

import predport
from predport_report.draw import Style, draw_frame
from predport_report.images import open_image

STYLE = Style(labels=False, line_width=2)
TARGETS = [  # (format, output name, reader options for reading it back)
    ("canonical", "out.json", {}),
    ("canonical-jsonl", "out.jsonl", {}),
    ("coco", "results.json", "gt"),
    ("kitti", "kitti", {}),
    ("yolo", "yolo", "images"),
    ("lightly", "lightly", "images"),
    ("aquarium", "frames.jsonl", {}),
    ("encord", "encord.json", "images"),
]


def _stem(data_id: str) -> str:
    return data_id.replace("\\", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0]


def _drawn(pset: predport.PredictionSet, scene) -> dict[str, np.ndarray]:
    """Each frame drawn on its picture, boxes only, keyed by stem; classes all drawn in one colour."""
    one_colour = {c.id: predport.Category(id=c.id, name="object") for c in pset.categories}
    out = {}
    for f in pset.frames:
        image = open_image(scene.images / f"{_stem(f.data_id)}.jpg")
        out[_stem(f.data_id)] = changed_pixels(np.asarray(draw_frame(image.copy(), f.predictions, one_colour,
                                                                     style=STYLE)), np.asarray(image))
    return out


def changed_pixels(drawn: np.ndarray, original: np.ndarray) -> np.ndarray:
    return (drawn != original).any(axis=2)


def same_within_a_pixel(a: np.ndarray, b: np.ndarray) -> bool:
    """Every pixel drawn in one and not the other lies next to a pixel drawn in the other."""
    def grow(m: np.ndarray) -> np.ndarray:
        return np.asarray(Image.fromarray(m.astype(np.uint8) * 255).filter(ImageFilter.MaxFilter(3))) > 0

    return not ((a & ~grow(b)).any() or (b & ~grow(a)).any())


@pytest.fixture(scope="module")
def source(scene):
    return predport.load(scene.results, options={"gt": str(scene.gt)})


@pytest.mark.parametrize("fmt,name,read", TARGETS, ids=[t[0] for t in TARGETS])
def test_conversion__output_drawn_next_to_input_draws_the_same_boxes(scene, source, tmp_path, fmt, name, read):
    out = tmp_path / name
    predport.convert(scene.results, out, to=fmt, options={"gt": str(scene.gt)}, allow_loss=True)
    kwargs = {"options": {"gt": str(scene.gt)}} if read == "gt" else (
        {"images": str(scene.images)} if read == "images" else {})
    back = predport.load(out, **kwargs)
    before, after = _drawn(source, scene), _drawn(back, scene)
    assert set(after) == set(before)
    for key in before:
        assert before[key].sum() > 500, key          # something was drawn
        assert same_within_a_pixel(before[key], after[key]), f"{fmt}: {key} drawn differently"


def test_conversion__a_shifted_or_flipped_convention_is_caught(scene, source):
    """The comparison is not blind: a box moved by 2 px, or y measured from the bottom, fails it."""
    f = source.frames[0]
    image = np.asarray(open_image(scene.images / f.data_id))
    cats = {c.id: c for c in source.categories}

    def drawn(boxes: np.ndarray) -> np.ndarray:
        dets = predport.Detections(f.predictions.category_id, f.predictions.score, boxes)
        return changed_pixels(np.asarray(draw_frame(Image.fromarray(image), dets, cats, style=STYLE)), image)

    good = drawn(f.predictions.box)
    shifted = f.predictions.box.copy()
    shifted[0, 0] += 2
    flipped = f.predictions.box.copy()
    flipped[:, 1] = image.shape[0] - flipped[:, 1] - flipped[:, 3]
    centre_as_corner = f.predictions.box.copy()   # [cx, cy, w, h] read as [x, y, w, h] (a YOLO slip)
    centre_as_corner[:, :2] += centre_as_corner[:, 2:] / 2
    assert same_within_a_pixel(good, drawn(f.predictions.box.copy()))
    for wrong in (shifted, flipped, centre_as_corner):
        assert not same_within_a_pixel(good, drawn(wrong))
