"""The real masks of the shared corpus, read in place (skipped when the corpus is absent).

Acceptance: for every class-index mask, the union of a class's instance masks is
exactly that class's pixels (minus ignore values), instances do not overlap, and
every polygon (outer ring and holes) rasterises back to its instance's pixels.
Colour masks fail with a message that says what to do, and detection rejects them.
"""
from __future__ import annotations

import numpy as np
import predport
import pytest
from PIL import Image
from predport.testing import corpus_dir, require_corpus

from predport_masks.extract import rasterize_rings

_ROOT = corpus_dir("png_masks")


def _pngs(colour: bool) -> list[str]:
    if _ROOT is None:
        return ["<no corpus>"]
    out = []
    for p in sorted(_ROOT.rglob("*.png")):
        if (Image.open(p).mode in ("RGB", "RGBA")) == colour:
            out.append(p.relative_to(_ROOT).as_posix())
    return out


CLASS_INDEX = _pngs(colour=False)
COLOUR = _pngs(colour=True)


def _expected_classes(arr: np.ndarray) -> dict[int, np.ndarray]:
    values = [int(v) for v in np.unique(arr) if v != 0]
    ignore = {255} if arr.dtype == np.uint8 and 255 in values and len(values) > 1 else set()
    return {v: arr == v for v in values if v not in ignore}


@pytest.mark.parametrize("rel", CLASS_INDEX)
def test_corpus__instances_of_each_class_cover_exactly_its_pixels(rel, decode):
    path = require_corpus("png_masks", rel)
    arr = np.asarray(Image.open(path))
    arr = arr.astype(np.uint16) if arr.dtype != np.uint8 else arr
    ps = predport.load(path, format="masks")
    (frame,) = ps.frames
    assert (frame.width, frame.height) == (arr.shape[1], arr.shape[0])
    dets = frame.predictions
    expected = _expected_classes(arr)
    assert sorted(set(dets.category_id.tolist())) == sorted(expected)
    union = {v: np.zeros(arr.shape, bool) for v in expected}
    for pred in dets:
        m = decode(pred.mask)
        assert not (union[pred.category_id] & m).any(), "instances of one class overlap"
        union[pred.category_id] |= m
        holes = pred.attributes.get("holes", [])
        drawn = rasterize_rings(pred.polygon, height=frame.height, width=frame.width, holes=holes)
        assert np.array_equal(drawn.astype(bool), m), "polygon does not rasterise back to the mask"
        x, y, w, h = pred.box
        ys, xs = np.nonzero(m)
        assert (x, y, w, h) == (xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)
    for v, pixels in expected.items():
        assert np.array_equal(union[v], pixels), f"class {v}"


@pytest.mark.parametrize("rel", CLASS_INDEX)
def test_corpus__semantic_mode_gives_each_class_its_pixels(rel, decode):
    path = require_corpus("png_masks", rel)
    arr = np.asarray(Image.open(path))
    expected = _expected_classes(arr)
    (frame,) = predport.load(path, format="masks", options={"mode": "semantic"}).frames
    got = {p.category_id: decode(p.mask) for p in frame.predictions}
    assert sorted(got) == sorted(expected)
    for v, pixels in expected.items():
        assert np.array_equal(got[v], pixels)


@pytest.mark.parametrize("rel", COLOUR)
def test_corpus__colour_masks_fail_with_a_message_saying_what_to_do(rel):
    path = require_corpus("png_masks", rel)
    with pytest.raises(predport.ParseError) as info:
        predport.load(path, format="masks")
    assert info.value.file == str(path)
    assert "colors=" in str(info.value)
    votes = {m.format: m for m in predport.detect(path)}
    assert votes["masks"].confidence == predport.Confidence.NO
    assert "colour" in votes["masks"].reason


def test_corpus__voc_palette_masks_with_a_names_class_map():
    root = require_corpus("png_masks", "labelformat_voc")
    stream = predport.open_stream(root / "SegmentationClass", class_map=root / "class_id_to_name.json")
    frames = list(stream.frames)
    assert [f.data_id for f in frames] == ["2007_000032", "subdir/2007_000033"]
    names = {c.id: c.name for c in stream.categories}
    assert sorted(names.values()) == ["aeroplane", "person"]
    assert stream.report.counts["masks.ignored_pixels"] > 0  # the 255 void border


def test_corpus__camvid_prediction_has_all_eleven_classes():
    path = require_corpus("png_masks", "mseg_api", "camvid_preds")
    (frame,) = predport.load(path).frames  # detected
    assert sorted(set(frame.predictions.category_id.tolist())) == list(range(1, 11))
    assert (frame.width, frame.height) == (960, 720)


def test_corpus__colour_mask_reads_with_the_datumaro_colour_map():
    import json

    root = require_corpus("png_masks", "datumaro", "common_semseg")
    meta = json.loads((root / "dataset_meta.json").read_text())
    colours = {",".join(map(str, rgb)): i for i, rgb in enumerate(meta["segmentation_colors"])}
    (frame,) = predport.load(root / "masks_0001.png", format="masks", options={"colors": colours}).frames
    rgb = np.asarray(Image.open(root / "masks_0001.png"))
    assert sorted(set(frame.predictions.category_id.tolist())) == sorted(
        {colours[",".join(map(str, px))] for px in rgb.reshape(-1, 3).tolist()} - {0}
    )
