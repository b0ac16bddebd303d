"""Region extraction, the rasterisation rule and the RLE codec, against independent references.

References: OpenCV ``connectedComponents`` (8-connectivity) for regions,
``pycocotools.mask.encode`` for RLE, a brute-force even-odd point-in-polygon
test for general polygons, and hand-computed fixtures.
"""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from pycocotools import mask as mask_utils

from predport_masks.extract import crop_rle, decode_rle, instance_regions, rasterize_rings, semantic_region

binary_arrays = st.integers(1, 24).flatmap(
    lambda h: st.integers(1, 24).flatmap(
        lambda w: arrays(np.uint8, (h, w), elements=st.integers(0, 1))
    )
)


def _components(binary: np.ndarray) -> list[np.ndarray]:
    n, labels = cv2.connectedComponents(binary, connectivity=8)
    return [labels == k for k in range(1, n)]


def _holes(region) -> list[int]:
    return list(range(1, len(region.rings)))


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(binary_arrays)
def test_instance_regions__each_region_is_one_8_connected_component(binary):
    regions = instance_regions(binary * 255)
    comps = _components(binary)
    assert len(regions) == len(comps)
    union = np.zeros(binary.shape, dtype=bool)
    for r in regions:
        m = decode_rle(r.rle).astype(bool)
        assert any(np.array_equal(m, c) for c in comps)
        assert not (union & m).any()
        union |= m
    assert np.array_equal(union, binary.astype(bool))


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(binary_arrays)
def test_rasterize_rings__polygon_with_holes_gives_back_region_pixels(binary):
    h, w = binary.shape
    for r in instance_regions(binary * 255):
        drawn = rasterize_rings(r.polygon(), height=h, width=w, holes=_holes(r))
        assert np.array_equal(drawn, decode_rle(r.rle))


@settings(max_examples=400, deadline=None)
@given(binary_arrays, st.booleans())
def test_crop_rle__equals_pycocotools_encode(binary, tight):
    h, w = binary.shape
    x = y = 0
    crop = binary
    if tight and binary.any():
        ys, xs = np.nonzero(binary)
        y, x = int(ys.min()), int(xs.min())
        crop = binary[y : ys.max() + 1, x : xs.max() + 1]
    expected = mask_utils.encode(np.asfortranarray(binary))
    got = crop_rle(crop, x, y, h, w)
    assert got == {"size": [h, w], "counts": expected["counts"].decode("ascii")}


def test_instance_regions__random_blobs_larger_than_hypothesis_sizes():
    rng = np.random.default_rng(7)
    for _ in range(200):
        h, w = (int(v) for v in rng.integers(20, 90, 2))
        noise = rng.random((h, w)).astype(np.float32)
        binary = (cv2.blur(noise, (3, 3)) > rng.uniform(0.35, 0.6)).astype(np.uint8)
        regions = instance_regions(binary)
        assert len(regions) == len(_components(binary))
        union = np.zeros((h, w), dtype=np.uint8)
        for r in regions:
            m = decode_rle(r.rle)
            assert np.array_equal(rasterize_rings(r.polygon(), height=h, width=w, holes=_holes(r)), m)
            union |= m
        assert np.array_equal(union, binary)


def test_instance_regions__one_pixel_region_box_polygon_and_mask():
    binary = np.zeros((6, 6), np.uint8)
    binary[4, 3] = 1  # row 4, column 3
    (r,) = instance_regions(binary)
    assert r.box == (3, 4, 1, 1)
    assert r.polygon() == [[3.5, 4.5, 3.5, 4.5, 3.5, 4.5]]
    assert decode_rle(r.rle).sum() == 1 and decode_rle(r.rle)[4, 3] == 1


def test_instance_regions__two_pixel_line_ring_is_padded_to_three_points():
    binary = np.zeros((3, 4), np.uint8)
    binary[1, 1:3] = 1
    (r,) = instance_regions(binary)
    assert r.polygon() == [[1.5, 1.5, 2.5, 1.5, 1.5, 1.5]]
    assert np.array_equal(rasterize_rings(r.polygon(), height=3, width=4), binary)


def test_instance_regions__square_with_one_pixel_hole_has_a_hole_ring():
    binary = np.ones((5, 5), np.uint8)
    binary[2, 2] = 0
    (r,) = instance_regions(binary)
    assert len(r.rings) == 2
    assert r.polygon()[0] == [0.5, 0.5, 0.5, 4.5, 4.5, 4.5, 4.5, 0.5]
    # OpenCV traces the hole border along the region's own pixels: a diamond.
    assert sorted(zip(r.polygon()[1][0::2], r.polygon()[1][1::2])) == [(1.5, 2.5), (2.5, 1.5), (2.5, 3.5), (3.5, 2.5)]
    assert decode_rle(r.rle).sum() == 24


def test_instance_regions__ring_in_ring_in_ring_gives_three_regions_outermost_first():
    binary = np.zeros((13, 13), np.uint8)
    binary[0:13, 0:13] = 1
    binary[2:11, 2:11] = 0
    binary[4:9, 4:9] = 1
    binary[5:8, 5:8] = 0
    binary[6, 6] = 1
    regions = instance_regions(binary)
    assert [r.box for r in regions] == [(0, 0, 13, 13), (4, 4, 5, 5), (6, 6, 1, 1)]
    assert [len(r.rings) for r in regions] == [2, 2, 1]
    assert [int(decode_rle(r.rle).sum()) for r in regions] == [13 * 13 - 81, 25 - 9, 1]


def test_instance_regions__corner_touching_blobs_are_one_region():
    binary = np.zeros((4, 4), np.uint8)
    binary[0:2, 0:2] = 1
    binary[2:4, 2:4] = 1
    (r,) = instance_regions(binary)
    assert r.box == (0, 0, 4, 4)
    assert decode_rle(r.rle).sum() == 8


def test_semantic_region__all_pixels_of_the_class_in_one_mask():
    binary = np.zeros((5, 7), np.uint8)
    binary[0, 0] = 255
    binary[3:5, 4:7] = 255
    r = semantic_region(binary)
    assert r.box == (0, 0, 7, 5) and r.rings is None
    assert np.array_equal(decode_rle(r.rle), binary // 255)
    assert semantic_region(np.zeros((3, 3), np.uint8)) is None


def _even_odd(px: float, py: float, pts: np.ndarray) -> bool:
    inside = False
    n = len(pts)
    for k in range(n):
        (x0, y0), (x1, y1) = pts[k], pts[(k + 1) % n]
        if (y0 > py) != (y1 > py):
            if px < x0 + (py - y0) * (x1 - x0) / (y1 - y0):
                inside = not inside
    return inside


def test_rasterize_rings__general_polygon_is_sampled_at_pixel_centres():
    rng = np.random.default_rng(3)
    for _ in range(150):
        n = int(rng.integers(3, 9))
        pts = rng.uniform(-2, 14, (n, 2))
        got = rasterize_rings([pts.reshape(-1).tolist()], height=12, width=12)
        want = np.array([[_even_odd(c + 0.5, r + 0.5, pts) for c in range(12)] for r in range(12)], np.uint8)
        assert np.array_equal(got, want)


def test_rasterize_rings__coco_style_corner_polygon_covers_its_pixels():
    square = [0, 0, 3, 0, 3, 3, 0, 3]  # COCO convention: pixels 0..2 in both axes
    got = rasterize_rings([square], height=5, width=5)
    assert got.sum() == 9 and got[:3, :3].all()


def test_rasterize_rings__float_hole_is_removed():
    got = rasterize_rings([[0, 0, 5, 0, 5, 5, 0, 5], [1, 1, 4, 1, 4, 4, 1, 4]], height=5, width=5, holes=[1])
    assert got.sum() == 25 - 9


@pytest.mark.parametrize("size", [(1, 1), (1, 7), (7, 1)])
def test_instance_regions__degenerate_image_sizes(size):
    binary = np.ones(size, np.uint8)
    (r,) = instance_regions(binary)
    assert np.array_equal(decode_rle(r.rle), binary)
    assert np.array_equal(rasterize_rings(r.polygon(), height=size[0], width=size[1]), binary)
