"""Reading masks: PNG modes, colour maps, guards, names, classes, options, policies."""
from __future__ import annotations

import json
import struct
import zlib

import numpy as np
import predport
import pytest
from PIL import Image

UUID = "c115344f-6869-4608-a4b8-644241fea10c"


def _two_classes(h: int = 6, w: int = 8) -> np.ndarray:
    arr = np.zeros((h, w), np.uint8)
    arr[1:3, 1:4] = 1
    arr[4:6, 5:8] = 2
    return arr


def _load(path, **kw):
    return predport.load(path, format="masks", **kw)


# ---------------------------------------------------------------------------- modes
def test_read__greyscale_mask_gives_one_prediction_per_region(tmp_path, write_png, decode):
    write_png(tmp_path / "a.png", _two_classes())
    (frame,) = _load(tmp_path).frames
    assert (frame.data_id, frame.frame_index, frame.width, frame.height) == ("a", None, 8, 6)
    preds = list(frame.predictions)
    assert [p.category_id for p in preds] == [1, 2]
    assert [p.box for p in preds] == [(1.0, 1.0, 3.0, 2.0), (5.0, 4.0, 3.0, 2.0)]
    assert [p.score for p in preds] == [None, None]
    assert decode(preds[0].mask).sum() == 6
    assert preds[0].polygon == [[1.5, 1.5, 1.5, 2.5, 3.5, 2.5, 3.5, 1.5]]


def test_read__palette_indices_are_the_classes_not_the_colours(tmp_path, write_png):
    write_png(tmp_path / "p.png", _two_classes(), palette=True)
    assert Image.open(tmp_path / "p.png").mode == "P"
    (frame,) = _load(tmp_path).frames
    assert frame.predictions.category_id.tolist() == [1, 2]


def test_read__sixteen_bit_values_above_255_are_classes(tmp_path, write_png):
    arr = _two_classes().astype(np.uint16)
    arr[arr == 2] = 300
    write_png(tmp_path / "w.png", arr, mode="I;16")
    assert Image.open(tmp_path / "w.png").mode.startswith("I;16")
    ps = _load(tmp_path)
    assert ps.frames[0].predictions.category_id.tolist() == [1, 300]
    assert [c.name for c in ps.categories] == ["1", "300"]


def test_read__one_bit_mask_is_class_1(tmp_path, write_png, decode):
    arr = _two_classes() > 0
    write_png(tmp_path / "b.png", arr, mode="1")
    assert Image.open(tmp_path / "b.png").mode == "1"
    (frame,) = _load(tmp_path).frames
    assert frame.predictions.category_id.tolist() == [1, 1]


def test_read__grey_with_alpha_uses_the_grey_channel(tmp_path):
    la = np.stack([_two_classes(), np.full((6, 8), 255, np.uint8)], axis=-1)
    Image.fromarray(la).save(tmp_path / "la.png")
    assert Image.open(tmp_path / "la.png").mode == "LA"
    assert _load(tmp_path).frames[0].predictions.category_id.tolist() == [1, 2]


def test_read__all_background_mask_is_a_frame_without_predictions(tmp_path, write_png):
    write_png(tmp_path / "empty.png", np.zeros((4, 4), np.uint8))
    (frame,) = _load(tmp_path).frames
    assert len(frame.predictions) == 0 and frame.width == 4


def test_read__holes_are_listed_in_attributes(tmp_path, write_png, decode):
    arr = np.zeros((7, 7), np.uint8)
    arr[1:6, 1:6] = 4
    arr[3, 3] = 0
    write_png(tmp_path / "h.png", arr)
    (pred,) = list(_load(tmp_path).frames[0].predictions)
    assert len(pred.polygon) == 2 and pred.attributes == {"holes": [1]}
    assert decode(pred.mask).sum() == 24


# ---------------------------------------------------------------------------- colour masks
def test_read__colour_mask_without_colour_map_says_what_to_do(tmp_path):
    rgb = np.zeros((4, 5, 3), np.uint8)
    rgb[1:3, 1:3] = (128, 0, 0)
    Image.fromarray(rgb).save(tmp_path / "c.png")
    with pytest.raises(predport.ParseError) as info:
        _load(tmp_path)
    err = info.value
    assert err.file.endswith("c.png") and err.field == "mode"
    assert "colors=" in str(err) and "convert" in str(err)


def test_read__colour_mask_with_colour_map_maps_colours_to_classes(tmp_path, decode):
    rgb = np.zeros((4, 5, 3), np.uint8)
    rgb[1:3, 1:3] = (128, 0, 0)
    rgb[3, 4] = (0, 128, 0)
    rgb[0, 4] = (1, 2, 3)  # not in the map
    Image.fromarray(rgb).save(tmp_path / "c.png")
    colours = tmp_path.parent / f"{tmp_path.name}-colours.yaml"
    colours.write_text('"128,0,0": 7\n"#008000": 9\n"0,0,0": 0\n')
    stream = predport.open_stream(tmp_path, format="masks", options={"colors": str(colours)})
    (frame,) = list(stream.frames)
    assert frame.predictions.category_id.tolist() == [7, 9]
    assert decode(frame.predictions.mask[0]).sum() == 4
    assert stream.report.counts["masks.unmapped_colour_pixels"] == 1
    assert any("1,2,3" in w for w in stream.report.warnings)


@pytest.mark.parametrize("bad", [{"1,2": 3}, {"300,0,0": 1}, {"1,2,3": -1}, {}, "nope"])
def test_read__malformed_colour_map_is_a_config_error(tmp_path, write_png, bad):
    write_png(tmp_path / "a.png", _two_classes())
    with pytest.raises(predport.ConfigError):
        _load(tmp_path, options={"colors": bad})


# ---------------------------------------------------------------------------- guards
def _png_claiming(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + chunk(b"IEND", b""))


def test_read__decompression_bomb_is_refused_before_decoding(tmp_path):
    (tmp_path / "bomb.png").write_bytes(_png_claiming(200_000, 200_000))
    before = Image.MAX_IMAGE_PIXELS
    with pytest.raises(predport.ParseError) as info:
        _load(tmp_path)
    assert "max_pixels" in str(info.value) and info.value.field == "size"
    assert Image.MAX_IMAGE_PIXELS == before  # Pillow's process-wide limit is left alone


def test_read__max_pixels_option_applies_and_skip_keeps_the_rest(tmp_path, write_png):
    write_png(tmp_path / "big.png", np.zeros((50, 50), np.uint8))
    write_png(tmp_path / "small.png", _two_classes())
    with pytest.raises(predport.ParseError, match="max_pixels=100"):
        _load(tmp_path, options={"max_pixels": 100})
    stream = predport.open_stream(tmp_path, format="masks", options={"max_pixels": 100}, policy="skip")
    assert [f.data_id for f in stream.frames] == ["small"]
    assert stream.report.skipped_total == 1


def test_read__raising_max_pixels_beyond_pillows_limit_reads_without_changing_it(tmp_path, write_png, monkeypatch):
    from PIL import Image as PILImage

    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", 10)  # a strict process-wide setting
    write_png(tmp_path / "a.png", _two_classes())
    assert len(_load(tmp_path).frames[0].predictions) == 2
    assert PILImage.MAX_IMAGE_PIXELS == 10


def test_read__file_named_png_that_is_not_a_png_is_a_parse_error(tmp_path, write_png):
    (tmp_path / "fake.png").write_bytes(b"GIF89a not really")
    write_png(tmp_path / "good.png", _two_classes())
    with pytest.raises(predport.ParseError, match="not a PNG") as info:
        _load(tmp_path)
    assert info.value.file.endswith("fake.png")
    stream = predport.open_stream(tmp_path, format="masks", policy="skip")
    assert [f.data_id for f in stream.frames] == ["good"]


def test_read__truncated_png_is_a_parse_error(tmp_path, write_png):
    write_png(tmp_path / "t.png", np.random.default_rng(0).integers(0, 3, (64, 64)))
    data = (tmp_path / "t.png").read_bytes()
    (tmp_path / "t.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(predport.ParseError, match="cannot decode PNG"):
        _load(tmp_path)


def test_read__size_mismatch_with_known_image_size_is_an_error(tmp_path, write_png):
    write_png(tmp_path / "a.png", _two_classes())
    write_png(tmp_path / "b.png", _two_classes())
    sizes = {"a": [8, 6], "b": [16, 12]}
    with pytest.raises(predport.ParseError) as info:
        _load(tmp_path, image_sizes=sizes)
    assert info.value.field == "size" and info.value.file.endswith("b.png")
    assert "8x6" in str(info.value) and "16x12" in str(info.value)
    stream = predport.open_stream(tmp_path, format="masks", image_sizes=sizes, policy="skip")
    assert [f.data_id for f in stream.frames] == ["a"]


# ---------------------------------------------------------------------------- names
@pytest.mark.parametrize(
    ("relpath", "expected"),
    [
        ("street_001.jpg.png", ("street_001.jpg", None)),
        ("clip.mp4__00012.png", ("clip.mp4", 12)),
        ("clip.mp4__5.png", ("clip.mp4", 5)),
        ("a__b__7.png", ("a__b", 7)),
        ("UPPER.PNG", ("UPPER", None)),
        (f"{UUID}/3.png", (UUID, 3)),
        ("sub/000001.png", ("sub/000001", None)),
        ("sub/x.png", ("sub/x", None)),
    ],
)
def test_read__file_names_give_data_id_and_frame(tmp_path, write_png, relpath, expected):
    write_png(tmp_path / relpath, _two_classes())
    (frame,) = _load(tmp_path).frames
    assert (frame.data_id, frame.frame_index) == expected


def test_read__names_option_hash_frame_and_title(tmp_path, write_png):
    write_png(tmp_path / "video7" / "0004.png", _two_classes())
    frame = _load(tmp_path, options={"names": "hash_frame"}).frames[0]
    assert (frame.data_id, frame.frame_index) == ("video7", 4)
    frame = _load(tmp_path, options={"names": "title"}).frames[0]
    assert (frame.data_id, frame.frame_index) == ("video7/0004", None)


def test_read__user_function_names_data_units(tmp_path, write_png):
    write_png(tmp_path / "x" / "weird-name.png", _two_classes())
    frame = _load(tmp_path, id_lookup=lambda p: (p.stem.upper(), 3)).frames[0]
    assert (frame.data_id, frame.frame_index) == ("WEIRD-NAME", 3)


def test_read__recursive_folders_files_first_then_sub_folders_sorted(tmp_path, write_png):
    for rel in ("b.png", "a/z.png", "a/b/c.png", "notes.txt"):
        if rel.endswith(".png"):
            write_png(tmp_path / rel, _two_classes())
        else:
            (tmp_path / rel).write_text("x")
    assert [f.data_id for f in _load(tmp_path).frames] == ["b", "a/z", "a/b/c"]


def test_read__single_file_source(tmp_path, write_png):
    path = write_png(tmp_path / "one.png", _two_classes())
    assert [f.data_id for f in _load(path).frames] == ["one"]


# ---------------------------------------------------------------------------- classes
def _voc_like() -> np.ndarray:
    arr = _two_classes(8, 8)
    arr[0, :] = 255
    return arr


def test_read__255_is_ignored_in_voc_style_masks_by_default(tmp_path, write_png):
    write_png(tmp_path / "v.png", _voc_like())
    stream = predport.open_stream(tmp_path, format="masks")
    (frame,) = list(stream.frames)
    assert frame.predictions.category_id.tolist() == [1, 2]
    assert stream.report.counts["masks.ignored_pixels"] == 8


def test_read__255_is_the_class_of_a_binary_0_255_mask(tmp_path, write_png):
    write_png(tmp_path / "b.png", (_two_classes() > 0) * 255)
    (frame,) = _load(tmp_path).frames
    assert frame.predictions.category_id.tolist() == [255, 255]


@pytest.mark.parametrize(("ignore", "classes"), [([], [1, 2, 255]), ("none", [1, 2, 255]), ("2,255", [1]), (2, [1, 255])])
def test_read__ignore_option(tmp_path, write_png, ignore, classes):
    write_png(tmp_path / "v.png", _voc_like())
    frame = _load(tmp_path, options={"ignore": ignore}).frames[0]
    assert sorted(set(frame.predictions.category_id.tolist())) == classes


def test_read__background_option(tmp_path, write_png):
    write_png(tmp_path / "a.png", _two_classes())
    frame = _load(tmp_path, options={"background": "none"}).frames[0]
    assert frame.predictions.category_id.tolist() == [0, 1, 2]
    frame = _load(tmp_path, options={"background": 1}).frames[0]
    assert frame.predictions.category_id.tolist() == [0, 2]


def test_read__class_map_names_pixel_values_and_unmapped_values_are_reported(tmp_path, write_png):
    write_png(tmp_path / "a.png", _two_classes())
    class_map = {"1": {"id": 1, "name": "person", "external_id": "OTk2MzM3"}}
    stream = predport.open_stream(tmp_path, format="masks", class_map=class_map)
    (frame,) = list(stream.frames)
    assert frame.predictions.category_id.tolist() == [1]
    assert [(c.id, c.name, c.external_id) for c in stream.categories] == [(1, "person", "OTk2MzM3")]
    assert stream.report.counts["masks.unmapped_pixels"] == 6
    assert any("pixel value 2" in w for w in stream.report.warnings)


def test_read__encord_ontology_mapping_beside_the_masks(tmp_path, write_png):
    write_png(tmp_path / "street_001.jpg.png", _voc_like())
    (tmp_path / "ontology_mapping.json").write_text(json.dumps({"OTk2MzM3": 1}))
    stream = predport.open_stream(tmp_path, format="masks")
    (frame,) = list(stream.frames)
    assert frame.data_id == "street_001.jpg"
    assert frame.predictions.category_id.tolist() == [1]
    assert [(c.id, c.name, c.external_id) for c in stream.categories] == [(1, "OTk2MzM3", "OTk2MzM3")]
    assert stream.report.counts["masks.unmapped_pixels"] == 6


def test_read__ontology_mapping_option_and_class_map_keyed_by_hash(tmp_path, write_png):
    write_png(tmp_path / "m" / "a.png", _two_classes())
    onto = tmp_path / "onto.json"
    onto.write_text(json.dumps({"OTk2MzM3": 1, "NzYyMjcx": 2}))
    ps = _load(tmp_path / "m", options={"ontology_mapping": str(onto)},
               class_map={"NzYyMjcx": {"id": 20, "name": "cyclist"}, "OTk2MzM3": {"id": 10, "name": "pedestrian"}})
    assert ps.frames[0].predictions.category_id.tolist() == [10, 20]
    assert [(c.id, c.name, c.external_id) for c in ps.categories] == [
        (10, "pedestrian", "OTk2MzM3"), (20, "cyclist", "NzYyMjcx")]


@pytest.mark.parametrize("bad", [{"h": 0}, {"h": "car"}, {"h": 1, "g": 1}, [1, 2]])
def test_read__malformed_ontology_mapping_is_a_config_error(tmp_path, write_png, bad):
    write_png(tmp_path / "a.png", _two_classes())
    (tmp_path / "ontology_mapping.json").write_text(json.dumps(bad))
    with pytest.raises(predport.ConfigError) as info:
        _load(tmp_path)
    assert info.value.file.endswith("ontology_mapping.json")


# ---------------------------------------------------------------------------- modes and options
def test_read__semantic_mode_gives_one_mask_per_class(tmp_path, write_png, decode):
    arr = _two_classes(8, 10)
    arr[6:8, 0:2] = 1  # a second region of class 1
    write_png(tmp_path / "a.png", arr)
    preds = list(_load(tmp_path, options={"mode": "semantic"}).frames[0].predictions)
    assert [p.category_id for p in preds] == [1, 2]
    assert all(p.polygon is None for p in preds)
    assert np.array_equal(decode(preds[0].mask), arr == 1)
    assert preds[0].box == (0.0, 1.0, 4.0, 7.0)


def test_read__score_option_sets_every_score(tmp_path, write_png):
    write_png(tmp_path / "a.png", _two_classes())
    frame = _load(tmp_path, options={"score": "0.25"}).frames[0]
    assert frame.predictions.score.tolist() == [0.25, 0.25]


@pytest.mark.parametrize(
    "options",
    [{"nope": 1}, {"mode": "panoptic"}, {"encord_parity": "maybe"}, {"score": "high"},
     {"max_pixels": 0}, {"ignore": [70000]}, {"names": "guess"}],
)
def test_read__bad_options_are_config_errors(tmp_path, write_png, options):
    write_png(tmp_path / "a.png", _two_classes())
    with pytest.raises(predport.ConfigError):
        _load(tmp_path, options=options)
