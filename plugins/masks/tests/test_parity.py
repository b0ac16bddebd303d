"""Encord-parity mode reproduces Encord Active's mask importer (FORMATS.md section 2.2).

The cases are the ones the digest lists; the reference for random masks is the
importer's loop written out as the digest gives it.
"""
from __future__ import annotations

import cv2
import numpy as np
import predport
import pytest

# The illustrative mask of Encord's docs (sdk/prediction-import/masks.mdx), which
# the docs call "three objects"; the 2x3 class-1 blob has contour area 2.
DOCS_MASK = """
0000000000000000000
0011100000000000000
0011100000002222000
0000000000002222000
0000111000002200000
0000111000002200000
0000111000000000000
0000000000000000000
"""


def _grid(text: str) -> np.ndarray:
    return np.array([[int(ch) for ch in line] for line in text.split()], dtype=np.uint8)


def _encord_reference(arr: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """FORMATS.md 2.2, line by line: (class, filled mask) per kept contour."""
    out = []
    for cls in np.unique(arr):
        if cls == 0:
            continue
        binary = np.zeros_like(arr)
        binary[arr == cls] = 1
        contours = cv2.findContours(binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)[0]
        for c in contours:
            if len(c) < 3 or cv2.contourArea(c) < 4:
                continue
            out.append((int(cls), cv2.fillPoly(np.zeros_like(binary), [c], 1)))
    return out


def _parity(tmp_path, write_png, arr, **options):
    write_png(tmp_path / "m" / "img.png", arr)
    ps = predport.load(tmp_path / "m", format="masks", options={"encord_parity": True, **options})
    (frame,) = ps.frames
    return frame.predictions


def _single_shape(h: int, w: int) -> np.ndarray:
    arr = np.zeros((h + 4, w + 4), np.uint8)
    arr[2 : 2 + h, 2 : 2 + w] = 1
    return arr


@pytest.mark.parametrize(("h", "w"), [(1, 1), (2, 2), (2, 4), (4, 2), (1, 9)])
def test_parity__small_or_thin_shapes_are_dropped(tmp_path, write_png, h, w):
    assert len(_parity(tmp_path, write_png, _single_shape(h, w))) == 0


@pytest.mark.parametrize(("h", "w", "pixels"), [(3, 3, 9), (2, 5, 10), (5, 2, 10)])
def test_parity__shapes_with_contour_area_4_are_kept(tmp_path, write_png, decode, h, w, pixels):
    (pred,) = list(_parity(tmp_path, write_png, _single_shape(h, w)))
    assert decode(pred.mask).sum() == pixels
    assert pred.box == (2.0, 2.0, float(w), float(h))


def test_parity__one_pixel_hole_is_filled_to_25_pixels(tmp_path, write_png, decode):
    arr = _single_shape(5, 5)
    arr[4, 4] = 0
    (pred,) = list(_parity(tmp_path, write_png, arr))
    assert decode(pred.mask).sum() == 25
    assert len(pred.polygon) == 1  # outer contour only


def test_parity__hole_holding_another_class_is_filled_over_it(tmp_path, write_png, decode):
    arr = _single_shape(7, 7)
    arr[4:7, 4:7] = 2
    preds = list(_parity(tmp_path, write_png, arr))
    assert [p.category_id for p in preds] == [1, 2]
    assert decode(preds[0].mask).sum() == 49  # the ring, filled, covers class 2 too


def test_parity__diagonal_touching_blobs_merge(tmp_path, write_png, decode):
    arr = np.zeros((10, 10), np.uint8)
    arr[1:4, 1:4] = 1
    arr[4:7, 4:7] = 1  # touches the first only at a corner
    (pred,) = list(_parity(tmp_path, write_png, arr))
    assert decode(pred.mask).sum() == 18


def test_parity__docs_example_yields_two_predictions_not_three(tmp_path, write_png, decode):
    preds = list(_parity(tmp_path, write_png, _grid(DOCS_MASK)))
    assert [p.category_id for p in preds] == [1, 2]
    assert [int(decode(p.mask).sum()) for p in preds] == [9, 12]


def test_parity__score_is_encords_1_0_unless_given(tmp_path, write_png):
    arr = _single_shape(3, 3)
    assert [p.score for p in _parity(tmp_path, write_png, arr)] == [1.0]
    assert [p.score for p in _parity(tmp_path / "b", write_png, arr, score=None)] == [None]
    assert [p.score for p in _parity(tmp_path / "d", write_png, arr, score="none")] == [None]
    assert [p.score for p in _parity(tmp_path / "c", write_png, arr, score=0.5)] == [0.5]


def test_parity__matches_the_reference_loop_on_random_masks(tmp_path, write_png, decode):
    rng = np.random.default_rng(11)
    for k in range(25):
        noise = rng.random((40, 50)).astype(np.float32)
        arr = np.digitize(cv2.blur(noise, (5, 5)), [0.45, 0.5, 0.55]).astype(np.uint8)
        preds = _parity(tmp_path / str(k), write_png, arr)
        want = _encord_reference(arr)
        assert preds.category_id.tolist() == [c for c, _ in want]
        for pred_mask, (_, ref) in zip(preds.mask or [], want):
            assert np.array_equal(decode(pred_mask), ref.astype(bool))


def test_parity__semantic_mode_is_refused(tmp_path, write_png):
    write_png(tmp_path / "img.png", _single_shape(3, 3))
    with pytest.raises(predport.ConfigError, match="instance mode only"):
        predport.load(tmp_path, format="masks", options={"encord_parity": True, "mode": "semantic"})
