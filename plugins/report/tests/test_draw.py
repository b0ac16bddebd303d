"""Pixel tests of the drawing: where boxes, masks, polygons, keypoints and labels land."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

import predport
from predport_report.colors import PALETTE, class_colour, contrast_ratio, text_colour
from predport_report.draw import Style, box_pixels, draw_frame, select

BG = (90, 100, 110)
NO_LABELS = Style(labels=False, line_width=2)
CATS = {1: predport.Category(id=1, name="car"),
        2: predport.Category(id=2, name="person", attributes={"skeleton": [[1, 2], [2, 3]]})}


def blank(w: int = 200, h: int = 150, colour=BG) -> Image.Image:
    return Image.new("RGB", (w, h), colour)


def changed(image: Image.Image, colour=BG) -> np.ndarray:
    return (np.asarray(image) != np.asarray(colour, dtype=np.uint8)).any(axis=2)


def rle_of(m: np.ndarray) -> dict:
    r = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
    return {"size": [int(v) for v in r["size"]], "counts": r["counts"].decode()}


@pytest.mark.parametrize("box", [[10.0, 20.0, 30.0, 40.0], [10.4, 20.6, 30.2, 40.1], [0.0, 0.0, 200.0, 150.0],
                                 [57.5, 33.49, 1.2, 80.7]])
def test_draw__box_outline_is_where_the_canonical_box_says_within_a_pixel(box):
    out = draw_frame(blank(), predport.Detections([1], [0.9], [box]), CATS, style=NO_LABELS)
    ys, xs = np.nonzero(changed(out))
    x, y, w, h = box
    # The outline's outer edge is the box: first/last drawn column and row vs x, x+w, y, y+h.
    assert abs(xs.min() - x) <= 1 and abs(xs.max() + 1 - (x + w)) <= 1
    assert abs(ys.min() - y) <= 1 and abs(ys.max() + 1 - (y + h)) <= 1
    assert (np.asarray(out)[ys[0], xs[0]] == class_colour("car")).all()
    if w > 10 and h > 10:  # the inside is untouched: an outline, not a fill
        assert not changed(out)[round(y + h / 2), round(x + w / 2)]


def test_draw__box_pixels_are_the_pixels_a_box_covers():
    # Hand-computed: [10.4, 20.6, 30.2, 40.1] covers columns 10..40 (x + w = 40.6) and rows 21..60.
    assert box_pixels([10.4, 20.6, 30.2, 40.1]) == (10, 21, 40, 60)
    assert box_pixels([0, 0, 1, 1]) == (0, 0, 0, 0)


def test_draw__mask_fill_covers_exactly_its_pixels():
    m = np.zeros((150, 200), bool)
    m[30:90, 40:150] = True
    m[50:60, 70:90] = False          # a hole
    m[100:104, 10:12] = True         # a separate speck
    m[120, 180] = True               # one pixel
    out = draw_frame(blank(), predport.Detections([1], [0.7], mask=[rle_of(m)]), CATS, style=NO_LABELS)
    assert np.array_equal(changed(out), m)
    # Translucent: inside the mask the picture still shows (neither the background nor the class colour).
    inside = np.asarray(out)[70, 120]
    assert tuple(inside) != BG and tuple(inside) != class_colour("car")
    expected = np.round(np.array(class_colour("car")) * 0.4 + np.array(BG) * 0.6)
    assert np.abs(inside.astype(int) - expected).max() <= 2


def test_draw__mask_of_another_size_than_the_image_is_refused():
    m = np.ones((10, 10), bool)
    with pytest.raises(predport.PredportError, match="mask is 10x10 pixels but the image is 200x150"):
        draw_frame(blank(), predport.Detections([1], [0.7], mask=[rle_of(m)]), CATS, style=NO_LABELS,
                   data_id="a.jpg")


def test_draw__polygon_with_a_hole_fills_as_pycocotools_rasterises_within_a_pixel():
    outer = [20.0, 20.0, 180.0, 25.0, 170.0, 130.0, 30.0, 120.0]
    hole = [70.0, 50.0, 120.0, 50.0, 120.0, 90.0, 70.0, 90.0]
    dets = predport.Detections([1], [0.8], polygon=[[outer, hole]], attributes=[{"holes": [1]}])
    out = draw_frame(blank(), dets, CATS, style=Style(labels=False, line_width=1))
    got = changed(out)
    ref_outer = mask_utils.decode(mask_utils.frPyObjects([outer], 150, 200))[:, :, 0].astype(bool)
    ref_hole = mask_utils.decode(mask_utils.frPyObjects([hole], 150, 200))[:, :, 0].astype(bool)
    ref = ref_outer & ~ref_hole
    diff = got ^ ref
    # Every disagreement is on a ring (the outline, and edge pixels each rasteriser rounds its own way).
    from PIL import ImageFilter

    edge = Image.fromarray((ref.astype(np.uint8) * 255))
    band = (np.asarray(edge.filter(ImageFilter.MaxFilter(3))) != np.asarray(edge.filter(ImageFilter.MinFilter(3))))
    assert diff.sum() > 0 and not (diff & ~band).any()
    assert not got[70, 95]           # the hole's middle is not filled
    assert got[100, 100]             # the body is


def test_draw__polygon_rings_without_holes_attribute_are_all_filled():
    a = [10.0, 10.0, 50.0, 10.0, 50.0, 50.0, 10.0, 50.0]
    b = [20.0, 20.0, 40.0, 20.0, 40.0, 40.0, 20.0, 40.0]
    out = draw_frame(blank(), predport.Detections([1], [0.8], polygon=[[a, b]]), CATS, style=NO_LABELS)
    assert changed(out)[30, 30]      # b is another outer part (no "holes"), so its inside is filled


def test_draw__keypoints_and_the_category_skeleton_are_drawn_invisible_ones_not():
    kps = [[40.0, 40.0, 2], [100.0, 40.0, 2], [100.0, 100.0, 1], [160.0, 120.0, 0]]
    out = np.asarray(draw_frame(blank(), predport.Detections([2], [0.9], keypoints=[kps]), CATS, style=NO_LABELS))
    colour = class_colour("person")
    assert (out[40, 40] == colour).all() and (out[100, 100] == colour).all()
    assert (out[40, 70] == colour).all()    # on the skeleton edge 1-2
    assert (out[70, 100] == colour).all()   # on the skeleton edge 2-3
    assert tuple(out[120, 160]) == BG       # visibility 0: not drawn
    assert tuple(out[70, 70]) == BG         # no edge 1-3 in the skeleton


def test_draw__label_reads_the_same_on_a_black_and_a_white_picture():
    dets = predport.Detections([1], [0.93], [[60.0, 60.0, 80.0, 50.0]])
    on_black = np.asarray(draw_frame(blank(colour=(0, 0, 0)), dets, CATS))
    on_white = np.asarray(draw_frame(blank(colour=(255, 255, 255)), dets, CATS))
    above = np.zeros(on_black.shape[:2], bool)
    above[:60, :] = True  # the label sits above the box (top at y=60)
    drawn_b = changed(Image.fromarray(on_black), (0, 0, 0)) & above
    drawn_w = changed(Image.fromarray(on_white), (255, 255, 255)) & above
    ys, xs = np.nonzero(drawn_b | drawn_w)
    region = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))  # the label's rectangle
    assert (ys.max() - ys.min() + 1) * (xs.max() - xs.min() + 1) > 200
    assert np.array_equal(on_black[region], on_white[region])   # the same pixels on either picture
    label = on_black[region].reshape(-1, 3)
    assert (label == class_colour("car")).all(axis=1).mean() > 0.5               # a box of the class colour
    to_text = np.abs(label.astype(int) - text_colour(class_colour("car"))).sum(axis=1)
    to_box = np.abs(label.astype(int) - class_colour("car")).sum(axis=1)
    assert (to_text < to_box).sum() > 20   # and (anti-aliased) text of the contrasting colour on it


def test_colours__text_colour_contrasts_at_least_wcag_aa_large_on_every_class_colour():
    for rgb in PALETTE:
        assert contrast_ratio(rgb, text_colour(rgb)) >= 4.5, rgb


def test_colours__a_class_keeps_its_colour_whatever_its_id_or_case():
    a = draw_frame(blank(), predport.Detections([3], [0.9], [[10.0, 10.0, 50.0, 50.0]]),
                   {3: predport.Category(id=3, name="car")}, style=NO_LABELS)
    b = draw_frame(blank(), predport.Detections([0], [0.9], [[10.0, 10.0, 50.0, 50.0]]),
                   {0: predport.Category(id=0, name="Car")}, style=NO_LABELS)
    assert np.array_equal(np.asarray(a), np.asarray(b))
    common = ["person", "car", "bicycle", "dog", "truck", "bus", "cat", "traffic light"]
    assert len({class_colour(n) for n in common}) >= 6


def test_draw__ground_truth_is_dashed_predictions_solid():
    gt = predport.Detections([1], [None], [[20.0, 20.0, 150.0, 40.0]])
    pred = predport.Detections([1], [0.9], [[20.0, 90.0, 150.0, 40.0]])
    out = np.asarray(draw_frame(blank(), pred, CATS, ground_truth=gt, style=NO_LABELS))
    colour = class_colour("car")
    gt_top = (out[20, 30:160] == colour).all(axis=1).mean()
    pred_top = (out[90, 30:160] == colour).all(axis=1).mean()
    assert pred_top == 1.0
    assert 0.2 < gt_top < 0.9       # dashes and gaps


def test_select__threshold_keeps_unscored_rows_and_classes_match_by_name_or_id():
    dets = predport.Detections([1, 2, 1, 2], [0.9, 0.2, None, 0.6], [[0, 0, 1, 1]] * 4)
    assert select(dets, CATS, score_threshold=0.5).category_id.tolist() == [1, 1, 2]
    assert np.isnan(select(dets, CATS, score_threshold=0.5).score[1])
    assert select(dets, CATS, classes=["PERSON"]).score.tolist() == [0.2, 0.6]
    assert select(dets, CATS, classes=["1"]).category_id.tolist() == [1, 1]
