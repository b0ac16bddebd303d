"""Reading Encord Active prediction records: normalised -> pixels, errors and policies.

Expected pixel values are hand-computed from Encord's definition (x = pixel x /
image width, y = pixel y / image height; encord_active.lib.db.predictions).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import predport

IMAGE = "c115344f-6869-4608-a4b8-644241fea10c"
VIDEO = "9f4dae86-cad4-42f8-bb47-b179eb2e4886"


def load_sample(data_dir: Path, **kw):
    return predport.load(data_dir / "predictions.json", image_sizes=data_dir / "sizes.json", **kw)


# -- the committed sample --------------------------------------------------------------------
def test_parse__sample_is_detected_and_grouped_by_data_unit_and_frame(data_dir: Path) -> None:
    ps = load_sample(data_dir)
    assert ps.source.format == "encord"
    assert [(f.data_id, f.frame_index) for f in ps.frames] == [(IMAGE, 0), (VIDEO, 3), (VIDEO, 4)]
    assert [(f.width, f.height) for f in ps.frames] == [(1280, 720), (1920, 1080), (1920, 1080)]


def test_parse__normalised_box_becomes_pixels(data_dir: Path) -> None:
    ps = load_sample(data_dir)
    first = ps.frames[0].predictions
    # x = 0.2 * 1280, y = 0.3 * 720, w = 0.1 * 1280, h = 0.4 * 720
    np.testing.assert_allclose(first.box[0], [256.0, 216.0, 128.0, 288.0], rtol=0, atol=1e-9)
    video = ps.frames[1].predictions
    np.testing.assert_allclose(video.box[0], [960.0, 540.0, 960.0, 270.0], rtol=0, atol=1e-9)


def test_parse__normalised_polygon_becomes_pixel_ring(data_dir: Path) -> None:
    ps = load_sample(data_dir)
    poly = ps.frames[0].predictions.polygon[1]
    assert len(poly) == 1  # one ring
    np.testing.assert_allclose(poly[0], [256, 72, 256, 288, 384, 288, 384, 72], rtol=0, atol=1e-9)
    assert np.isnan(ps.frames[0].predictions.box[1]).all()  # a polygon prediction has no box


def test_parse__confidence_kept_as_given(data_dir: Path) -> None:
    ps = load_sample(data_dir)
    assert ps.frames[0].predictions.score.tolist() == [0.8, 0.61]
    assert ps.frames[1].predictions.score.tolist() == [97.85]  # not clipped to [0, 1]


def test_parse__classification_keeps_attribute_and_option_hashes(data_dir: Path) -> None:
    ps = load_sample(data_dir)
    cls = ps.frames[2].predictions
    assert cls.box is None and cls.polygon is None
    assert cls.attributes == [{"attribute_hash": "d446851e", "option_hash": "376b9761"}]
    cat = ps.category(int(cls.category_id[0]))
    assert (cat.name, cat.external_id) == ("55eab8b3", "55eab8b3")


def test_parse__categories_from_feature_hashes_in_order_of_appearance(data_dir: Path) -> None:
    ps = load_sample(data_dir)
    assert [(c.id, c.name, c.external_id) for c in ps.categories] == [
        (0, "OTK8MrM3", "OTK8MrM3"), (1, "Nr52O8Ex", "Nr52O8Ex"), (2, "55eab8b3", "55eab8b3")]
    assert ps.frames[1].predictions.category_id.tolist() == [0]  # same hash, same category


def test_parse__theta_zero_is_not_kept(data_dir: Path) -> None:
    ps = load_sample(data_dir)
    assert ps.frames[1].predictions.attributes is None


def test_parse__ontology_print_output_names_objects(data_dir: Path) -> None:
    ps = load_sample(data_dir, options={"ontology": str(data_dir / "ontology.json")})
    assert [(c.name, c.external_id) for c in ps.categories] == [
        ("cat", "OTK8MrM3"), ("dog", "Nr52O8Ex"), ("55eab8b3", "55eab8b3")]


def test_parse__ontology_hash_to_name_map(data_dir: Path, tmp_path: Path) -> None:
    onto = tmp_path / "map.json"
    onto.write_text(json.dumps({"OTK8MrM3": "car", "55eab8b3": "weather"}))
    ps = load_sample(data_dir, options={"ontology": str(onto)})
    assert [c.name for c in ps.categories] == ["car", "Nr52O8Ex", "weather"]


def test_parse__ontology_structure_names_objects_and_classifications(data_dir: Path, tmp_path: Path) -> None:
    onto = tmp_path / "ontology_structure.json"
    onto.write_text(json.dumps({
        "objects": [{"id": "1", "name": "cat", "shape": "bounding_box", "featureNodeHash": "OTK8MrM3"}],
        "classifications": [{"id": "2", "featureNodeHash": "55eab8b3",
                             "attributes": [{"name": "Animal?", "featureNodeHash": "d446851e", "options": []}]}],
    }))
    ps = load_sample(data_dir, options={"ontology": str(onto)})
    assert [c.name for c in ps.categories] == ["cat", "Nr52O8Ex", "Animal?"]


def test_parse__class_map_keyed_by_feature_hash_selects_classes(data_dir: Path) -> None:
    ps = load_sample(data_dir, class_map={"OTK8MrM3": {"id": 7, "name": "cat", "external_id": "OTK8MrM3"}})
    assert [(c.id, c.name) for c in ps.categories] == [(7, "cat")]
    assert ps.num_predictions == 2  # the polygon and the classification are unmapped
    stream = predport.open_stream(data_dir / "predictions.json", image_sizes=data_dir / "sizes.json",
                                  class_map={"OTK8MrM3": 7})
    list(stream.frames)
    assert sum(stream.categories.unmapped.values()) == 2  # one key: the per-class unmapped counts


# -- layouts -----------------------------------------------------------------------------------
def test_parse__jsonl_reads_one_record_per_line(write_records, box) -> None:
    path = write_records([box("a"), box("b", frame=2), box("a", x=0.5, w=0.5)], "p.jsonl")
    ps = predport.load(path, image_sizes={"a": [100, 50], "b": [10, 10]})
    assert [(f.data_id, f.frame_index, len(f.predictions)) for f in ps.frames] == [("a", 0, 2), ("b", 2, 1)]
    np.testing.assert_allclose(ps.frames[0].predictions.box[1], [50, 10, 50, 20], atol=1e-9)


def test_parse__predictions_document_is_read(tmp_path: Path, box) -> None:
    path = tmp_path / "doc.json"
    path.write_text(json.dumps({"predictions": [box("a")]}))
    ps = predport.load(path, image_sizes={"a": [10, 10]})
    np.testing.assert_allclose(ps.frames[0].predictions.box[0], [1, 2, 3, 4], atol=1e-9)


def test_parse__jsonl_content_named_json_is_read_as_lines(tmp_path: Path, box) -> None:
    path = tmp_path / "lines.json"
    path.write_text(json.dumps(box("a")) + "\n" + json.dumps(box("b")) + "\n")
    ps = predport.load(path, format="encord", image_sizes={"a": [10, 10], "b": [10, 10]})
    assert [f.data_id for f in ps.frames] == ["a", "b"]


def test_parse__interleaved_records_of_one_data_unit_make_one_frame(write_records, box) -> None:
    path = write_records([box("a", x=0.0), box("b"), box("a", x=0.5)])
    ps = predport.load(path, image_sizes={"a": [10, 10], "b": [10, 10]})
    assert [(f.data_id, len(f.predictions)) for f in ps.frames] == [("a", 2), ("b", 1)]
    assert ps.frames[0].predictions.box[:, 0].tolist() == [0.0, 5.0]


def test_parse__data_as_json_string_is_read(write_records) -> None:
    # Encord's pydantic model serialises numpy data as a JSON string (json_encoders).
    rec = {"data_hash": "a", "frame": 0, "confidence": 0.5,
           "object": {"feature_hash": "f", "format": "polygon", "data": "[[0.0, 0.0], [1.0, 0.0], [1.0, 0.5]]"}}
    ps = predport.load(write_records([rec]), image_sizes={"a": [200, 100]})
    assert ps.frames[0].predictions.polygon[0] == [[0.0, 0.0, 200.0, 0.0, 200.0, 50.0]]


# -- frames --------------------------------------------------------------------------------------
def test_parse__missing_frame_is_encords_default_zero(write_records, box) -> None:
    rec = box("a")
    del rec["frame"]
    ps = predport.load(write_records([rec]), image_sizes={"a": [10, 10]})
    assert ps.frames[0].frame_index == 0


def test_parse__null_frame_is_none(write_records, box) -> None:
    ps = predport.load(write_records([box("a", frame=None)]), image_sizes={"a": [10, 10]})
    assert ps.frames[0].frame_index is None


def test_parse__frame0_none_option_reads_frame_zero_as_image(write_records, box) -> None:
    path = write_records([box("a", frame=0), box("v", frame=5)])
    ps = predport.load(path, image_sizes={"a": [10, 10], "v": [10, 10]}, options={"frame0": "none"})
    assert [f.frame_index for f in ps.frames] == [None, 5]


@pytest.mark.parametrize("frame", [-1, 1.5, "3", True])
def test_parse__bad_frame_is_parse_error(write_records, box, frame) -> None:
    with pytest.raises(predport.ParseError) as exc:
        predport.load(write_records([box("a", frame=frame)]), image_sizes={"a": [10, 10]})
    assert exc.value.json_path == "$[0].frame" and exc.value.field == "frame"


# -- image sizes ---------------------------------------------------------------------------------
def test_parse__width_height_in_record_give_the_size(write_records, box) -> None:
    ps = predport.load(write_records([box("a", width=200, height=100)]))
    assert (ps.frames[0].width, ps.frames[0].height) == (200, 100)
    np.testing.assert_allclose(ps.frames[0].predictions.box[0], [20, 20, 60, 40], atol=1e-9)


def test_parse__conflicting_sizes_for_one_data_unit_is_error(write_records, box) -> None:
    path = write_records([box("a", width=200, height=100), box("a", width=100, height=100)])
    with pytest.raises(predport.ParseError, match="differs") as exc:
        predport.load(path)
    assert exc.value.json_path == "$[1].width"


def test_parse__image_folder_named_by_data_hash_gives_size(write_records, box, tmp_path: Path) -> None:
    from PIL import Image

    images = tmp_path / "images"
    images.mkdir()
    Image.new("RGB", (64, 32)).save(images / "a.png")
    ps = predport.load(write_records([box("a")]), images=images)
    np.testing.assert_allclose(ps.frames[0].predictions.box[0], [6.4, 6.4, 19.2, 12.8], atol=1e-9)


def test_parse__data_mapping_finds_size_by_file_name(write_records, box, tmp_path: Path) -> None:
    mapping = tmp_path / "data_mapping.json"
    mapping.write_text(json.dumps({"a": "street_001.jpg"}))
    ps = predport.load(write_records([box("a")]), image_sizes={"street_001.jpg": [1000, 500]},
                       options={"data_mapping": str(mapping)})
    assert ps.frames[0].data_id == "a"  # the data hash stays the data id
    np.testing.assert_allclose(ps.frames[0].predictions.box[0], [100, 100, 300, 200], atol=1e-9)


def test_parse__missing_size_is_config_error_naming_data_hash(write_records, box) -> None:
    with pytest.raises(predport.ConfigError) as exc:
        predport.load(write_records([box("deadbeef", frame=7)]))
    text = str(exc.value)
    assert "'deadbeef'" in text and "frame 7" in text and "image_sizes" in text
    assert text.startswith("[predport-encord 0.1.0]")  # the plugin is named


def test_parse__missing_size_under_skip_keeps_classifications(write_records, box) -> None:
    cls = {"data_hash": "a", "frame": 0, "confidence": 0.4,
           "classification": {"feature_hash": "c", "attribute_hash": "at", "option_hash": "op"}}
    stream = predport.open_stream(write_records([box("a"), cls]), policy="skip")
    frames = list(stream.frames)
    assert len(frames[0].predictions) == 1 and frames[0].predictions.attributes[0]["option_hash"] == "op"
    assert stream.report.skipped_total == 1


def test_parse__classification_alone_needs_no_size(write_records) -> None:
    cls = {"data_hash": "a", "confidence": 0.4,
           "classification": {"feature_hash": "c", "attribute_hash": "at", "option_hash": "op"}}
    ps = predport.load(write_records([cls]))
    assert ps.frames[0].width is None and len(ps.frames[0].predictions) == 1


# -- Encord's validation rules ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("values", "path"),
    [((-0.1, 0.2, 0.3, 0.4), "$[1].object.data.x"),
     ((0.1, 1.2, 0.3, 0.4), "$[1].object.data.y"),
     ((0.8, 0.2, 0.3, 0.4), "$[1].object.data.w"),  # x + w = 1.1 > 1
     ((0.1, 0.7, 0.3, 0.4), "$[1].object.data.h")],  # y + h = 1.1 > 1
)
def test_parse__box_outside_unit_square_is_error_with_json_path(write_records, box, values, path) -> None:
    records = [box("a"), box("a", *values)]
    with pytest.raises(predport.ParseError) as exc:
        predport.load(write_records(records), image_sizes={"a": [10, 10]})
    assert exc.value.json_path == path
    assert exc.value.file.endswith("preds.json")


def test_parse__box_error_in_jsonl_names_the_line(write_records, box) -> None:
    path = write_records([box("a"), box("a"), box("a", 0.9, 0.0, 0.2, 0.1)], "p.jsonl")
    with pytest.raises(predport.ParseError) as exc:
        predport.load(path, image_sizes={"a": [10, 10]})
    assert exc.value.line == 3 and exc.value.json_path == "$.object.data.w" and exc.value.field == "w"
    assert "p.jsonl:3" in str(exc.value)


def test_parse__skip_policy_counts_bad_records_and_keeps_the_rest(write_records, box) -> None:
    records = [box("a"), box("a", 0.9, 0.0, 0.2, 0.1), {"data_hash": "a"}, box("a", x=0.5)]
    stream = predport.open_stream(write_records(records), policy="skip", image_sizes={"a": [10, 10]})
    frames = list(stream.frames)
    assert stream.report.skipped_total == 2
    assert frames[0].predictions.box[:, 0].tolist() == [1.0, 5.0]


def test_parse__clamp_policy_clamps_box_into_the_image(write_records, box) -> None:
    stream = predport.open_stream(write_records([box("a", 0.9, -0.1, 0.2, 0.5)]), policy="clamp",
                                  image_sizes={"a": [100, 100]})
    frame = next(stream.frames)
    # x: 0.9 .. 1.1 -> 0.9 .. 1.0; y: -0.1 .. 0.4 -> 0.0 .. 0.4
    np.testing.assert_allclose(frame.predictions.box[0], [90, 0, 10, 40], atol=1e-9)
    assert stream.report.counts["clamp.boxes"] == 1
    assert stream.report.skipped_total == 0


def test_parse__float_noise_on_the_edge_is_accepted(write_records, box) -> None:
    ps = predport.load(write_records([box("a", 0.7, 0.0, 0.3 + 1e-12, 1.0)]), image_sizes={"a": [10, 10]})
    assert len(ps.frames[0].predictions) == 1


def test_parse__polygon_needs_three_points(write_records) -> None:
    rec = {"data_hash": "a", "frame": 0, "confidence": 0.5,
           "object": {"feature_hash": "f", "format": "polygon", "data": [[0.1, 0.1], [0.2, 0.2]]}}
    with pytest.raises(predport.ParseError, match="at least 3 points") as exc:
        predport.load(write_records([rec]), image_sizes={"a": [10, 10]})
    assert exc.value.json_path == "$[0].object.data"


def test_parse__polygon_point_outside_is_error_and_clamped_under_clamp(write_records) -> None:
    rec = {"data_hash": "a", "frame": 0, "confidence": 0.5,
           "object": {"feature_hash": "f", "format": "polygon", "data": [[0.1, 0.1], [1.5, 0.2], [0.2, 0.9]]}}
    path = write_records([rec])
    with pytest.raises(predport.ParseError) as exc:
        predport.load(path, image_sizes={"a": [10, 10]})
    assert exc.value.json_path == "$[0].object.data[1][0]"
    ps = predport.load(path, image_sizes={"a": [10, 10]}, policy="clamp")
    np.testing.assert_allclose(ps.frames[0].predictions.polygon[0][0], [1, 1, 10, 2, 2, 9], atol=1e-9)


@pytest.mark.parametrize(
    ("record", "path", "message"),
    [({"frame": 0, "confidence": 0.5}, "$[0].data_hash", "missing data_hash"),
     ({"data_hash": "a", "confidence": 0.5}, "$[0]", "exactly one"),
     ({"data_hash": "a", "confidence": "high", "classification": {}}, "$[0].confidence", "number"),
     ({"data_hash": "a", "object": {"feature_hash": "f", "format": "polygon", "data": []}},
      "$[0].confidence", "missing confidence"),
     ({"data_hash": "a", "confidence": 1, "object": {"feature_hash": "f", "format": "x", "data": []},
       "classification": {"feature_hash": "f", "attribute_hash": "a", "option_hash": "o"}}, "$[0]", "exactly one"),
     ({"data_hash": "a", "confidence": 1, "object": {"feature_hash": "f", "format": "rotatable", "data": {}}},
      "$[0].object.format", "unknown format"),
     ({"data_hash": "a", "confidence": 1, "classification": {"feature_hash": "f", "attribute_hash": "a"}},
      "$[0].classification.option_hash", "option_hash"),
     ({"data_hash": "a", "confidence": 1, "object": {"feature_hash": "f", "format": "bounding-box",
                                                       "data": {"x": 0, "y": 0, "w": "1", "h": 1}}},
      "$[0].object.data.w", "number"),
     ([1, 2], "$[0]", "object")],
)
def test_parse__malformed_record_names_json_path(write_records, record, path, message) -> None:
    with pytest.raises(predport.ParseError, match=message) as exc:
        predport.load(write_records([record]), format="encord", image_sizes={"a": [10, 10]})
    assert exc.value.json_path == path


def test_parse__invalid_json_line_is_skipped_and_counted(tmp_path: Path, box) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps(box("a")) + "\n{not json\n" + json.dumps(box("a")) + "\n")
    with pytest.raises(predport.ParseError) as exc:
        predport.load(path, image_sizes={"a": [10, 10]})
    assert exc.value.line == 2
    stream = predport.open_stream(path, policy="skip", image_sizes={"a": [10, 10]})
    assert len(next(stream.frames).predictions) == 2 and stream.report.skipped_total == 1


def test_parse__not_a_list_is_parse_error(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text('{"preds": []}')
    with pytest.raises(predport.ParseError, match="list of prediction records") as exc:
        predport.load(path, format="encord")
    assert exc.value.json_path == "$"


def test_parse__unknown_option_is_config_error(write_records, box) -> None:
    with pytest.raises(predport.ConfigError, match="lnes"):
        predport.load(write_records([box("a")]), options={"lnes": True})


# -- extras Encord carries -----------------------------------------------------------------------
def test_parse__theta_and_track_id_kept_as_attributes(write_records, box) -> None:
    rec = box("a")
    rec["object"]["data"]["theta"] = 30
    rec["object"]["track_id"] = 12
    ps = predport.load(write_records([rec]), image_sizes={"a": [10, 10]})
    assert ps.frames[0].predictions.attributes == [{"theta": 30.0, "track_id": 12}]


def test_parse__mask_becomes_coco_rle_and_box(write_records) -> None:
    from pycocotools import mask as mask_utils

    m = np.zeros((4, 6), dtype=np.uint8)
    m[1:3, 2:5] = 1
    m[0, 0] = 1
    rec = {"data_hash": "a", "frame": 0, "confidence": 1.0,
           "object": {"feature_hash": "f", "format": "mask", "data": m.tolist()}}
    ps = predport.load(write_records([rec]))
    frame = ps.frames[0]
    assert (frame.width, frame.height) == (6, 4)  # an Encord mask is image-sized
    expected = mask_utils.encode(np.asfortranarray(m))
    assert frame.predictions.mask[0] == {"size": [4, 6], "counts": expected["counts"].decode("ascii")}
    assert frame.predictions.box[0].tolist() == mask_utils.toBbox(expected).tolist() == [0.0, 0.0, 5.0, 3.0]


def test_parse__mask_of_wrong_size_is_error(write_records) -> None:
    rec = {"data_hash": "a", "frame": 0, "confidence": 1.0,
           "object": {"feature_hash": "f", "format": "mask", "data": [[0, 1], [1, 0]]}}
    with pytest.raises(predport.ParseError, match="mask is 2x2") as exc:
        predport.load(write_records([rec]), image_sizes={"a": [10, 10]})
    assert exc.value.json_path == "$[0].object.data"


def test_parse__mask_values_other_than_0_1_are_error(write_records) -> None:
    rec = {"data_hash": "a", "frame": 0, "confidence": 1.0,
           "object": {"feature_hash": "f", "format": "mask", "data": [[0, 2], [1, 0]]}}
    with pytest.raises(predport.ParseError, match="only 0 and 1"):
        predport.load(write_records([rec]))


@pytest.mark.parametrize("seed", range(5))
def test_rle__encoder_matches_pycocotools(seed: int) -> None:
    from pycocotools import mask as mask_utils

    from predport_encord.mask import mask_to_rle

    rng = np.random.default_rng(seed)
    m = (rng.random((37, 53)) > rng.random()).astype(np.uint8)
    m[5:30, 10:40] = seed % 2  # long runs: multi-byte counts and negative deltas
    expected = mask_utils.encode(np.asfortranarray(m))
    assert mask_to_rle(m) == {"size": [37, 53], "counts": expected["counts"].decode("ascii")}


def test_parse__pydantic_json_of_encords_model_is_read(write_records) -> None:
    # What Prediction.json() (pydantic v1, json_encoders for numpy) writes: numpy data as a
    # JSON string, null for the absent member, theta and track_id always present.
    records = [
        {"data_hash": "a", "frame": 0, "confidence": 0.8,
         "object": {"format": "polygon", "data": "[[0.2, 0.1], [0.2, 0.4], [0.3, 0.4]]",
                    "feature_hash": "Nr52O8Ex", "track_id": None},
         "classification": None},
        {"data_hash": "a", "frame": 0, "confidence": 0.7,
         "object": {"format": "bounding-box", "data": {"x": 0.1, "y": 0.2, "h": 0.4, "w": 0.3, "theta": 0.0},
                    "feature_hash": "OTK8MrM3", "track_id": None},
         "classification": None},
        {"data_hash": "a", "frame": 0, "confidence": 0.3, "object": None,
         "classification": {"feature_hash": "55eab8b3", "attribute_hash": "d446851e", "option_hash": "376b9761"}},
    ]
    ps = predport.load(write_records(records, "p.jsonl"), image_sizes={"a": [100, 100]})
    dets = ps.frames[0].predictions
    np.testing.assert_allclose(dets.polygon[0][0], [20, 10, 20, 40, 30, 40], atol=1e-9)
    np.testing.assert_allclose(dets.box[1], [10, 20, 30, 40], atol=1e-9)
    assert dets.attributes == [None, None, {"attribute_hash": "d446851e", "option_hash": "376b9761"}]


@pytest.mark.parametrize("options", [{"frame0": "drop"}, {"lines": "maybe"}])
def test_parse__bad_option_value_is_config_error(write_records, box, options) -> None:
    with pytest.raises(predport.ConfigError):
        predport.load(write_records([box("a")]), image_sizes={"a": [10, 10]}, options=options)
