"""Writing class-index PNGs: exact round trips, painting rules, sizes, bit depth, errors."""
from __future__ import annotations

import json

import numpy as np
import predport
import pytest
from PIL import Image
from predport.testing import require_corpus


def _class_pixels(arr: np.ndarray, ignore: set[int] = frozenset()) -> dict[int, np.ndarray]:
    return {int(v): arr == v for v in np.unique(arr) if v != 0 and int(v) not in ignore}


def _read_png(path) -> np.ndarray:
    return np.asarray(Image.open(path))


def _scene() -> np.ndarray:
    arr = np.zeros((20, 30), np.uint8)
    arr[2:18, 2:28] = 1
    arr[5:15, 5:25] = 0  # a hole
    arr[7:13, 8:22] = 2  # another class in the hole
    arr[9:11, 12:16] = 1  # an island of class 1 inside class 2
    arr[0, 29] = 3  # one pixel
    arr[18, 0] = 3
    arr[19, 1] = 3  # corner-touching pair
    return arr


@pytest.mark.parametrize("mode", ["instance", "semantic"])
def test_write__round_trip_is_exact_per_class(tmp_path, write_png, decode, mode):
    write_png(tmp_path / "src" / "scene.png", _scene())
    summary = predport.convert(tmp_path / "src", tmp_path / "out", to="masks", options={"mode": mode})
    assert summary["masks_written"] == 1
    assert summary["loss"] == {}  # boxes are re-derived from the painted pixels; nothing is lost
    assert np.array_equal(_read_png(tmp_path / "out" / "scene.png"), _scene())
    again = predport.load(tmp_path / "out", format="masks", options={"mode": mode})
    first = predport.load(tmp_path / "src", format="masks", options={"mode": mode})
    assert again.frames[0].predictions.to_records() == first.frames[0].predictions.to_records()


def test_write__polygons_alone_paint_the_same_pixels_as_the_masks(tmp_path, write_png):
    write_png(tmp_path / "src" / "scene.png", _scene())
    ps = predport.load(tmp_path / "src", format="masks")
    frame = ps.frames[0]
    rows = frame.predictions.to_records()
    for r in rows:
        del r["mask"]
    stripped = predport.PredictionSet(
        categories=ps.categories,
        frames=[predport.Frame(data_id="scene", width=frame.width, height=frame.height,
                               predictions=predport.Detections.from_records(rows))],
    )
    predport.save(stripped, tmp_path / "out", format="masks")
    assert np.array_equal(_read_png(tmp_path / "out" / "scene.png"), _scene())


def test_write__box_only_predictions_are_refused_as_loss(tmp_path):
    frame = predport.Frame(data_id="b", width=8, height=8, predictions=predport.Detections(
        [1, 1], [0.9, 0.8], [[1, 1, 2, 2], [0, 0, 3, 3]], mask=[None, None],
        attributes=[{"truncated": 0.5}, None]))
    ps = predport.PredictionSet(categories=[predport.Category(id=1, name="a")], frames=[frame])
    with pytest.raises(predport.LossError) as info:
        predport.save(ps, tmp_path / "out", format="masks")
    # Refused at the first frame (the writer had painted it): scores are not held, and the
    # writer reported the attribute it could not keep.
    assert info.value.report == {"predictions.attributes (keys other than holes)": 1, "predictions.score": 2}
    summary = predport.save(ps, tmp_path / "out", format="masks", allow_loss=True)
    assert summary["loss"] == {"predictions (no mask or polygon to paint)": 2,
                               "predictions.attributes (keys other than holes)": 1,
                               "predictions.score": 2}
    import shutil

    shutil.rmtree(tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "rel",
    ["labelformat_voc/SegmentationClass/2007_000032.png", "labelme_voc/SegmentationClass/2011_000006.png",
     "mseg_api/ADEChallengeData2016/ADE_train_00000001.png", "mseg_api/camvid_preds/0016E5_08159.png",
     "mseg_api/SUNRGBD_semseg-label37/test_00000001.png", "datumaro/kaggle_16bit/001.png"],
)
def test_write__corpus_round_trip_keeps_every_class_pixel(tmp_path, rel):
    src = require_corpus("png_masks", *rel.split("/"))
    predport.convert(src, tmp_path / "out", format="masks", to="masks", allow_loss=True)
    (written,) = sorted((tmp_path / "out").glob("*.png"))
    arr = _read_png(src)
    ignore = {255} if arr.dtype == np.uint8 and 255 in arr and len(np.unique(arr)) > 2 else set()
    expected = arr.astype(np.int64)
    expected[np.isin(expected, list(ignore))] = 0
    assert np.array_equal(_read_png(written).astype(np.int64), expected)


def test_write__holds_no_scores_and_says_so(tmp_path, write_png):
    write_png(tmp_path / "src" / "a.png", _scene())
    with pytest.raises(predport.LossError) as info:
        predport.convert(tmp_path / "src", tmp_path / "out", to="masks", options={"score": 1.0})
    assert set(info.value.report) == {"predictions.score"}
    assert not (tmp_path / "out").exists()


def test_write__video_frames_get_frame_suffix_and_read_back(tmp_path):
    mask = np.zeros((4, 6), np.uint8)
    mask[1:3, 1:4] = 1
    with predport.Writer(tmp_path / "out", format="masks", categories={5: "car"}, allow_loss=True) as w:
        w.add(data_id="clip.mp4", frame=12, category_id=5, mask=mask)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["class_map.json", "clip.mp4__00012.png"]
    ps = predport.load(tmp_path / "out", format="masks")
    assert (ps.frames[0].data_id, ps.frames[0].frame_index) == ("clip.mp4", 12)
    assert [(c.id, c.name) for c in ps.categories] == [(5, "car")]


def test_write__encord_ontology_mapping_when_every_class_has_an_external_id(tmp_path):
    mask = np.zeros((4, 6), np.uint8)
    mask[0:2, 0:2] = 1
    cats = [{"id": 1, "name": "pedestrian", "external_id": "OTk2MzM3"}]
    with predport.Writer(tmp_path / "out", format="masks", categories=cats, allow_loss=True) as w:
        w.add(data_id="street_001.jpg", category_id=1, mask=mask)
    assert json.loads((tmp_path / "out" / "ontology_mapping.json").read_text()) == {"OTk2MzM3": 1}
    ps = predport.load(tmp_path / "out", format="masks")
    assert [(c.id, c.name, c.external_id) for c in ps.categories] == [(1, "pedestrian", "OTk2MzM3")]
    assert ps.frames[0].data_id == "street_001.jpg"


def test_write__higher_score_wins_where_predictions_overlap(tmp_path):
    a = np.zeros((4, 4), np.uint8)
    a[0:3, 0:3] = 1
    b = np.zeros((4, 4), np.uint8)
    b[1:4, 1:4] = 1
    with predport.Writer(tmp_path / "out", format="masks", categories={1: "a", 2: "b"}, allow_loss=True) as w:
        w.add(data_id="x", category_id=2, mask=b, score=0.9)
        w.add(data_id="x", category_id=1, mask=a, score=0.4)
    out = _read_png(tmp_path / "out" / "x.png")
    assert out[2, 2] == 2 and out[0, 0] == 1 and out[3, 3] == 2
    with predport.Writer(tmp_path / "given", format="masks", categories={1: "a", 2: "b"}, allow_loss=True,
                         options={"order": "given"}) as w:
        w.add(data_id="x", category_id=2, mask=b, score=0.9)
        w.add(data_id="x", category_id=1, mask=a, score=0.4)
    assert _read_png(tmp_path / "given" / "x.png")[2, 2] == 1


def test_write__coco_style_polygon_paints_the_pixels_it_encloses(tmp_path):
    with predport.Writer(tmp_path / "out", format="masks", categories={4: "box"}, allow_loss=True) as w:
        w.add(data_id="p", category_id=4, polygon=[[1, 1, 4, 1, 4, 4, 1, 4]], width=6, height=5)
    out = _read_png(tmp_path / "out" / "p.png")
    assert out.shape == (5, 6) and out.sum() == 4 * 9 and (out[1:4, 1:4] == 4).all()


def test_write__ids_above_255_give_a_16_bit_png(tmp_path):
    mask = np.ones((3, 3), np.uint8)
    with predport.Writer(tmp_path / "out", format="masks", categories={300: "x"}, allow_loss=True) as w:
        w.add(data_id="a", category_id=300, mask=mask)
    im = Image.open(tmp_path / "out" / "a.png")
    assert im.mode.startswith("I;16") and int(np.asarray(im).max()) == 300
    assert predport.load(tmp_path / "out", format="masks").frames[0].predictions.category_id.tolist() == [300]
    with pytest.raises(predport.OutputError, match="bit_depth=16"):
        with predport.Writer(tmp_path / "o8", format="masks", categories={300: "x"}, allow_loss=True,
                             options={"bit_depth": 8}) as w:
            w.add(data_id="a", category_id=300, mask=mask)
    assert not (tmp_path / "o8").exists()


def test_write__category_id_equal_to_background_is_refused(tmp_path):
    with pytest.raises(predport.OutputError, match="background") as info:
        with predport.Writer(tmp_path / "out", format="masks", categories=["zero"], allow_loss=True) as w:
            w.add(data_id="a", category_id=0, mask=np.ones((2, 2), np.uint8))
    assert "class_map" in str(info.value)


def test_write__frame_without_size_or_mask_needs_image_sizes(tmp_path):
    ps = predport.PredictionSet(frames=[predport.Frame(data_id="a")])
    with pytest.raises(predport.OutputError, match="width/height"):
        predport.save(ps, tmp_path / "out", format="masks")
    predport.save(ps, tmp_path / "out2", format="masks", image_sizes={"a": [7, 5]})
    assert _read_png(tmp_path / "out2" / "a.png").shape == (5, 7)


def test_write__mask_of_another_size_than_the_frame_is_refused(tmp_path):
    with pytest.raises(predport.OutputError, match="mask of prediction 0"):
        with predport.Writer(tmp_path / "out", format="masks", categories={1: "a"}, allow_loss=True) as w:
            w.add(data_id="a", category_id=1, mask=np.ones((2, 2), np.uint8), width=5, height=5)


def test_write__box_only_predictions_are_counted_as_not_drawn(tmp_path):
    with predport.Writer(tmp_path / "out", format="masks", categories={1: "a"}, allow_loss=True) as w:
        w.add(data_id="a", category_id=1, box=[0, 0, 2, 2], width=4, height=4)
    assert w.summary["predictions_not_drawn"] == 1
    assert _read_png(tmp_path / "out" / "a.png").sum() == 0


def test_write__unknown_write_option_is_a_config_error(tmp_path):
    with pytest.raises(predport.ConfigError, match="unknown write option"):
        with predport.Writer(tmp_path / "out", format="masks", options={"colour": 1}) as w:
            w.add_frame(data_id="a", width=2, height=2)
