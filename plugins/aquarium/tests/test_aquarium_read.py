"""Reading the frames the real aquariumlearning clients wrote (0.0.67 and 1.0.7), type by type.

Expected values come from the fixture rows parsed by the standard ``json`` module, and
from the fixture README (class map, mask contents).
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import predport

GENERATIONS = ["legacy_file", "v1_file"]


def load(path: Path, **kwargs: Any) -> predport.PredictionSet:
    return predport.load(path, format="aquarium", **kwargs)


def entries(rows: list[dict[str, Any]], label_type: str) -> list[tuple[str, dict[str, Any]]]:
    """(frame id, entry) for every entry of ``label_type`` in the fixture rows."""
    return [(r["task_id"], e) for r in rows for e in r["inference_data"] if e["label_type"] == label_type]


def by_uuid(pset: predport.PredictionSet) -> dict[str, tuple[str, dict[str, Any]]]:
    """Canonical predictions by the uuid kept in their attributes: uuid -> (frame id, record)."""
    out = {}
    for frame in pset.frames:
        for rec in frame.predictions.to_records():
            uuid = rec.get("attributes", {}).get("uuid")
            if uuid is not None:
                out.setdefault(uuid, (frame.data_id, rec))
    return out


def name(pset: predport.PredictionSet, category_id: int) -> str:
    return pset.category(category_id).name


@pytest.fixture(params=GENERATIONS)
def fixture_file(request: pytest.FixtureRequest) -> Path:
    return request.getfixturevalue(request.param)


def test_read__frame_ids_are_the_task_ids_in_file_order(fixture_file: Path, rows_of: Any) -> None:
    pset = load(fixture_file)
    assert [f.data_id for f in pset.frames] == [r["task_id"] for r in rows_of(fixture_file)]


def test_read__bbox_2d_keyword_fields_become_xywh_with_confidence(fixture_file: Path, rows_of: Any) -> None:
    pset = load(fixture_file)
    preds = by_uuid(pset)
    boxes = entries(rows_of(fixture_file), "BBOX_2D")
    assert len(boxes) >= 3
    for task_id, e in boxes:
        frame_id, rec = preds[e["uuid"]]
        a = e["attributes"]
        assert frame_id == task_id
        assert rec["box"] == [a["left"], a["top"], a["width"], a["height"]]
        assert rec["score"] == a["confidence"] and isinstance(rec["score"], float)
        assert name(pset, rec["category_id"]) == e["label"]


def test_read__bbox_extra_attributes_are_kept_as_given(legacy_file: Path) -> None:
    rec = by_uuid(load(legacy_file))["frame_0001_bbox_0"][1]
    assert rec["attributes"] == {"uuid": "frame_0001_bbox_0", "iscrowd": False, "area": 1200.0,
                                 "user__source": "yolo", "user__track_id": 7}


def test_read__v1_class_id_is_the_category_id(v1_file: Path, rows_of: Any) -> None:
    pset = load(v1_file)
    preds = by_uuid(pset)
    for row in rows_of(v1_file):
        for e in row["inference_data"]:
            if e["label"] != "__mask" and e["uuid"] in preds:
                assert preds[e["uuid"]][1]["category_id"] == e["class_id"]
                assert name(pset, e["class_id"]) == e["label"]


def test_read__zero_confidence_is_kept_not_dropped(fixture_file: Path) -> None:
    rec = by_uuid(load(fixture_file))["frame_0005_bbox_0"][1]
    assert rec["score"] == 0.0 and rec["box"] == [0.0, 0.0, 8.0, 6.0]


def test_read__polygon_list_becomes_one_ring_per_polygon(fixture_file: Path, rows_of: Any) -> None:
    preds = by_uuid(load(fixture_file))
    for _, e in entries(rows_of(fixture_file), "POLYGON_LIST_2D"):
        rec = preds[e["uuid"]][1]
        expected = [[c for vertex in p["vertices"] for c in vertex] for p in e["attributes"]["polygons"]]
        assert rec["polygon"] == expected and len(expected) == 2
        assert rec["score"] == e["attributes"]["confidence"]
        assert "box" not in rec
    assert preds["frame_0002_poly_1"][1]["attributes"]["center"] == [1.5, 4.5]
    assert "center" not in preds["frame_0002_poly_0"][1]["attributes"]  # null: the writer restores it


def test_read__keypoints_keep_names_and_their_optional_box(fixture_file: Path, rows_of: Any) -> None:
    preds = by_uuid(load(fixture_file))
    for _, e in entries(rows_of(fixture_file), "KEYPOINTS_2D"):
        rec = preds[e["uuid"]][1]
        kps = e["attributes"]["keypoints"]
        assert rec["keypoints"] == [[k["x"], k["y"], None] for k in kps]
        assert rec["attributes"]["keypoint_names"] == [k["name"] for k in kps]
        assert rec["score"] == e["attributes"]["confidence"]
    assert preds["frame_0001_kp_0"][1]["box"] == [60.0, 50.25, 12.5, 30.0]
    assert "box" not in preds["frame_0001_kp_1"][1]
    assert "box" not in preds["frame_0001_kp_2"][1]  # the client dropped the partial box (top+left only)


def test_read__line_segment_is_kept_as_attributes_with_its_type(fixture_file: Path) -> None:
    rec = by_uuid(load(fixture_file))["frame_0001_line_0"][1]
    a = rec["attributes"]
    assert (a["label_type"], a["x1"], a["y1"], a["x2"], a["y2"]) == ("LINE_SEGMENT_2D", 0, 100.5, 200, 90.0)
    assert rec["score"] == 0.8 and a["iscrowd"] is False
    assert not {"box", "polygon", "keypoints"} & set(rec)


def test_read__legacy_line_segment_keeps_its_link(legacy_file: Path) -> None:
    assert by_uuid(load(legacy_file))["frame_0001_line_0"][1]["attributes"]["link__parent"] == "frame_0001_bbox_0"


def test_read__classifications_have_a_score_and_no_geometry(fixture_file: Path) -> None:
    pset = load(fixture_file)
    preds = by_uuid(pset)
    c2, c3 = preds["frame_0003_cls2d"][1], preds["frame_0003_cls3d"][1]
    assert (name(pset, c2["category_id"]), c2["score"]) == ("outdoor", 0.95)
    assert (name(pset, c3["category_id"]), c3["score"]) == ("highway_scene", 0.55)
    assert c2["attributes"] == {"uuid": "frame_0003_cls2d", "user__model": "resnet18"}
    assert c3["attributes"]["label_type"] == "CLASSIFICATION_3D"
    for rec in (c2, c3):
        assert not {"box", "polygon", "keypoints", "mask", "box3d"} & set(rec)


def test_read__legacy_classification_3d_keeps_its_world_sensor(legacy_file: Path, v1_file: Path) -> None:
    assert by_uuid(load(legacy_file))["frame_0003_cls3d"][1]["attributes"]["sensor_id"] == "world"
    assert "sensor_id" not in by_uuid(load(v1_file))["frame_0003_cls3d"][1]["attributes"]  # DEFAULT


def test_read__cuboid_becomes_box3d_with_xyzw_quaternion(fixture_file: Path) -> None:
    pset = load(fixture_file)
    rec = by_uuid(pset)["frame_0003_cuboid_0"][1]
    assert rec["box3d"] == {"position": [1.5, -2.0, 0.75], "dimensions": [4.2, 1.9, 1.6],
                            "rotation": [0.0, 0.0, 0.3826834323650898, 0.9238795325112867],
                            "coordinate_frame": "world"}
    x, y, z, w = rec["box3d"]["rotation"]
    assert np.degrees(2 * np.arctan2(z, w)) == pytest.approx(45.0)  # 45 degrees about z, w last
    assert (name(pset, rec["category_id"]), rec["score"]) == ("truck", 0.82)


def test_read__text_tokens_are_attributes(fixture_file: Path) -> None:
    pset = load(fixture_file)
    preds = by_uuid(pset)
    for uuid, index, token, visible, label, score in (("frame_0003_tok_0", 0, "Hello", True, "GREETING", 0.99),
                                                      ("frame_0003_tok_1", 1, "world", False, "O", 0.51)):
        rec = preds[uuid][1]
        a = rec["attributes"]
        assert (a["label_type"], a["index"], a["token"], a["visible"]) == ("TEXT_TOKEN", index, token, visible)
        assert (name(pset, rec["category_id"]), rec["score"]) == (label, score)


def test_read__custom_metrics_and_user_metadata_are_frame_attributes(fixture_file: Path) -> None:
    frames = {f.data_id: f for f in load(fixture_file).frames}
    a = frames["frame_0001"].attributes
    assert a["custom_metrics"] == {"iou_estimate": 0.72, "confusion": [[5, 1], [0, 3]]}
    assert a["user_metadata"] == {"weather": "sunny", "num_objects": 5, "exposure": 0.25, "is_night": False}
    assert frames["frame_0003"].attributes["user_metadata"] == {"split": "val"}


def test_read__generation_is_recorded_per_frame(legacy_file: Path, v1_file: Path, oldest_file: Path) -> None:
    for path, gen in ((legacy_file, "legacy"), (v1_file, "v1"), (oldest_file, "oldest")):
        assert {f.attributes["aquarium_generation"] for f in load(path).frames} == {gen}
    assert load(v1_file).frames[0].attributes["date_captured"] == "2023-03-01 12:00:00"


def test_read__empty_frame_is_a_frame_without_predictions(fixture_file: Path) -> None:
    frame = load(fixture_file).frame("frame_0004")
    assert frame is not None and len(frame.predictions) == 0


def test_read__legacy_modify_frame_keeps_its_change(legacy_file: Path) -> None:
    frame = load(legacy_file).frame("frame_0007")
    assert frame.attributes["change"] == "MODIFY"
    rec = frame.predictions.to_records()[0]
    assert (rec["box"], rec["score"]) == ([2.0, 1.0, 3.0, 4.0], 1.0)


def test_read__legacy_delete_frame_has_no_predictions_and_says_delete(legacy_file: Path) -> None:
    stream = predport.open_stream(legacy_file, format="aquarium")
    frames = {f.data_id: f for f in stream.frames}
    frame = frames["frame_0008"]
    assert len(frame.predictions) == 0
    assert frame.attributes["change"] == "DELETE" and frame.attributes["reuse_latest_embedding"] is True
    assert stream.report.counts["aquarium DELETE frames (attributes.change)"] == 1


# -- masks -------------------------------------------------------------------------------------

def decode(rle: dict[str, Any]) -> np.ndarray:
    from pycocotools import mask as mask_utils

    return mask_utils.decode({"size": rle["size"], "counts": rle["counts"].encode("ascii")})


def png(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im)


def test_read__semantic_mask_gives_one_prediction_per_class_value(fixture_file: Path, data_dir: Path,
                                                                  classes: dict[str, int]) -> None:
    pset = load(fixture_file, options={"classes": classes})
    arr = png(data_dir / "masks" / "frame_0002_semseg.png")
    recs = [r for r in pset.frame("frame_0002").predictions.to_records()
            if r["attributes"].get("label_type") == "SEMANTIC_LABEL_URL_2D"]
    assert [r["category_id"] for r in recs] == sorted(np.unique(arr).tolist()) == [0, 1, 2, 4, 5]
    names = {v: k for k, v in classes.items()}
    for r in recs:
        assert name(pset, r["category_id"]) == names[r["category_id"]]
        assert np.array_equal(decode(r["mask"]), (arr == r["category_id"]).astype(np.uint8))
        assert r["mask"]["size"] == [6, 8]  # [height, width]
        assert r["score"] is None  # semantic masks have no confidence
        assert r["attributes"]["url"] == "masks/frame_0002_semseg.png"
        ys, xs = np.nonzero(arr == r["category_id"])
        assert r["box"] == [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]


def test_read__instance_mask_entries_join_their_mask_by_uuid_prefix(fixture_file: Path, data_dir: Path) -> None:
    pset = load(fixture_file)  # instance classes come from the entries' labels: no class map needed
    arr = png(data_dir / "masks" / "frame_0002_instances.png")
    preds = by_uuid(pset)
    for uuid, inst, label in (("frame_0002_inst_1", 1, "car"), ("frame_0002_inst_2", 2, "person")):
        rec = preds[uuid][1]
        assert name(pset, rec["category_id"]) == label and rec["score"] is None
        assert np.array_equal(decode(rec["mask"]), (arr == inst).astype(np.uint8))
        a = rec["attributes"]
        assert (a["instance_id"], a["mask_uuid"], a["mask_url"], a["resize_mode"]) == (
            inst, "frame_0002_inst", "masks/frame_0002_instances.png", "fill")
    legacy = "occluded" in preds["frame_0002_inst_1"][1]["attributes"]
    expected = {"occluded": True, "color": "red"} if legacy else {"user__occluded": True, "user__color": "red"}
    assert expected.items() <= preds["frame_0002_inst_1"][1]["attributes"].items()


def test_read__missing_png_is_reported_unresolved_with_the_frame_id(fixture_file: Path) -> None:
    stream = predport.open_stream(fixture_file, format="aquarium")
    frames = {f.data_id: f for f in stream.frames}
    frame = frames["frame_0005"]
    assert all(r.get("mask") is None for r in frame.predictions.to_records())  # never an empty mask
    [kept] = frame.attributes["unresolved_masks"]
    assert kept["index"] == 0 and kept["row"]["uuid"] == "frame_0005_semseg"
    assert "masks/frame_0005_semseg.png" in kept["reason"]
    assert any("frame_0005" in w and "frame_0005_semseg" in w and "unresolved" in w
               for w in stream.report.warnings)


def test_read__legacy_asset_masks_are_unresolved_rows_in_order(legacy_file: Path, rows_of: Any) -> None:
    frame = load(legacy_file).frame("frame_0006")
    assert len(frame.predictions) == 0
    kept = frame.attributes["unresolved_masks"]
    row = next(r for r in rows_of(legacy_file) if r["task_id"] == "frame_0006")
    assert [k["index"] for k in kept] == [0, 1, 2, 3]
    assert [k["row"] for k in kept] == row["inference_data"]
    assert all("Arrow" in k["reason"] for k in kept)


def test_read__legacy_semantic_mask_without_a_class_map_is_unresolved(legacy_file: Path) -> None:
    frame = load(legacy_file).frame("frame_0002")
    kept = frame.attributes["unresolved_masks"]
    assert [k["row"]["uuid"] for k in kept] == ["frame_0002_semseg"]
    assert "classes=" in kept[0]["reason"]
    # the instance mask needs no class map: its entries name the classes
    assert [r["attributes"]["instance_id"] for r in frame.predictions.to_records() if "mask" in r] == [1, 2]


def test_read__v1_semantic_mask_names_classes_from_class_ids_seen(v1_file: Path) -> None:
    pset = load(v1_file)
    recs = [r for r in pset.frame("frame_0002").predictions.to_records()
            if r["attributes"].get("label_type") == "SEMANTIC_LABEL_URL_2D"]
    assert [name(pset, r["category_id"]) for r in recs] == ["0", "car", "person", "building", "tree"]


def test_read__masks_found_through_mask_root(tmp_path: Path, legacy_file: Path, data_dir: Path,
                                             classes: dict[str, int]) -> None:
    moved = tmp_path / "elsewhere.jsonl"
    shutil.copy(legacy_file, moved)
    alone = load(moved, options={"classes": classes}).frame("frame_0002")
    assert not any("mask" in r for r in alone.predictions.to_records())
    assert len(alone.attributes["unresolved_masks"]) == 4  # semantic row, 2 entries, instance row
    found = load(moved, options={"classes": classes, "mask_root": str(data_dir)}).frame("frame_0002")
    assert sum("mask" in r for r in found.predictions.to_records()) == 7
    assert "unresolved_masks" not in found.attributes


def test_read__remote_mask_url_is_never_fetched(write_lines: Any, classes: dict[str, int]) -> None:
    row = {"task_id": "f1", "inference_data": [
        {"uuid": "m", "label_type": "SEMANTIC_LABEL_URL_2D", "label": "__mask", "class_id": None,
         "label_coordinate_frame": "DEFAULT", "attributes": {"url": "https://example.com/m.png"},
         "reuse_latest_embedding": False, "change": "ADD"}], "device_id": "default_device"}
    frame = load(write_lines([row]), options={"classes": classes}).frames[0]
    assert "remote URL" in frame.attributes["unresolved_masks"][0]["reason"]


def test_read__resolve_masks_false_keeps_every_mask_row(fixture_file: Path, classes: dict[str, int]) -> None:
    frame = load(fixture_file, options={"classes": classes, "resolve_masks": "false"}).frame("frame_0002")
    assert len(frame.attributes["unresolved_masks"]) == 4 and len(frame.predictions) == 2


def test_read__fill_masks_are_resized_to_the_known_image_size(v1_file: Path, data_dir: Path) -> None:
    pset = load(v1_file, image_sizes={"frame_0002": (16, 12)})
    frame = pset.frame("frame_0002")
    assert (frame.width, frame.height) == (16, 12)
    inst = by_uuid(pset)["frame_0002_inst_1"][1]
    expected = np.kron((png(data_dir / "masks" / "frame_0002_instances.png") == 1).astype(np.uint8),
                       np.ones((2, 2), dtype=np.uint8))  # nearest-neighbour 2x
    assert np.array_equal(decode(inst["mask"]), expected)
    assert inst["box"] == [2.0, 2.0, 4.0, 4.0]


# -- categories ----------------------------------------------------------------------------------

def test_read__legacy_labels_get_ids_in_order_of_appearance(legacy_file: Path) -> None:
    cats = [(c.id, c.name) for c in load(legacy_file).categories]
    assert cats[:4] == [(0, "car"), (1, "person"), (2, "lane"), (3, "building")]


def test_read__classes_option_gives_legacy_labels_project_ids(legacy_file: Path, classes: dict[str, int]) -> None:
    pset = load(legacy_file, options={"classes": [{"name": k, "class_id": v} for k, v in classes.items()]})
    assert {c.name: c.id for c in pset.categories} == classes
    assert by_uuid(pset)["frame_0003_cuboid_0"][1]["category_id"] == 6


def test_read__class_map_renames_and_drops(legacy_file: Path) -> None:
    stream = predport.open_stream(legacy_file, format="aquarium", class_map={"car": {"id": 3, "name": "vehicle"}})
    frames = list(stream.frames)
    recs = [r for f in frames for r in f.predictions.to_records()]
    assert {r["category_id"] for r in recs} == {3}
    assert [c.name for c in stream.categories] == ["vehicle"]
    # frame_0001_bbox_0, the car instance of frame_0002, frame_0007_bbox_0
    assert [r["attributes"]["uuid"] for r in recs] == ["frame_0001_bbox_0", "frame_0002_inst_1", "frame_0007_bbox_0"]
    assert stream.categories.unmapped["person"] == 5  # one box, three keypoint sets, one instance


# -- input shapes ------------------------------------------------------------------------------------

def test_read__json_array_reads_like_json_lines(tmp_path: Path, fixture_file: Path, rows_of: Any,
                                                classes: dict[str, int], data_dir: Path) -> None:
    array = tmp_path / "frames.json"
    array.write_text(json.dumps(rows_of(fixture_file), indent=2))
    opts = {"classes": classes, "mask_root": str(data_dir)}
    assert predport.detect(array)[0].format == "aquarium"
    a, b = load(array, options=opts), load(fixture_file, options=opts)
    assert a.to_json_dict()["frames"] == b.to_json_dict()["frames"]


def test_read__single_frame_object_in_a_json_file(write_lines: Any, tmp_path: Path) -> None:
    path = tmp_path / "one.json"
    row = {"task_id": "f", "type": "Inference", "inference_data": [], "change": "ADD"}
    path.write_text(json.dumps(row, indent=2))
    assert [f.data_id for f in load(path).frames] == ["f"]


def test_read__oldest_rows_without_type_or_change(oldest_file: Path, classes: dict[str, int]) -> None:
    pset = load(oldest_file, options={"classes": classes})
    f1, f2 = pset.frames
    assert f1.attributes == {"aquarium_generation": "oldest", "custom_metrics": {"iou_estimate": 0.5},
                             "visualization_assets": {"cam_front": "https://example.com/old_0001.jpg"}}
    box = f1.predictions.to_records()[0]
    assert (box["box"], box["score"], box["attributes"]) == ([40.0, 12.0, 55.5, 30.0], 0.87, {"sensor_id": "cam_front"})
    kp = f1.predictions.to_records()[1]
    assert kp["box"] == [2.0, 1.0, 10.0, 20.0] and kp["attributes"]["keypoint_names"] == ["head", "foot"]
    cuboid = f2.predictions.to_records()[0]
    assert cuboid["box3d"]["rotation"] == [0.0, 0.0, 0.0, 1.0] and cuboid["score"] == 0.25


def test_read__position_uuids_are_not_stored(write_lines: Any) -> None:
    entry = {"linked_labels": [], "label_type": "BBOX_2D", "label": "car", "label_coordinate_frame": "DEFAULT",
             "attributes": {"top": 1.0, "left": 2.0, "width": 3.0, "height": 4.0, "confidence": 0.5},
             "reuse_latest_embedding": False, "change": "ADD"}
    row = {"task_id": "img", "type": "Inference", "inference_data": [
        {"uuid": "img_inf_0", **entry}, {"uuid": "custom-id", **entry}], "change": "ADD"}
    path = write_lines([row])
    recs = load(path).frames[0].predictions.to_records()
    assert "attributes" not in recs[0] and recs[1]["attributes"] == {"uuid": "custom-id"}
    kept = load(path, options={"keep_uuids": True}).frames[0].predictions.to_records()
    assert [r["attributes"]["uuid"] for r in kept] == ["img_inf_0", "custom-id"]


def test_read__fast_box_path_equals_the_general_path(legacy_file: Path, write_lines: Any, rows_of: Any) -> None:
    row = rows_of(legacy_file)[0]
    boxes = [e for e in row["inference_data"] if e["label_type"] == "BBOX_2D"] * 3
    boxes = [dict(e, uuid=f"u{i}") for i, e in enumerate(boxes)]
    plain = dict(row, inference_data=[dict(e, attributes={k: e["attributes"][k] for k in
                                                          ("top", "left", "width", "height", "confidence")})
                                      for e in boxes])
    cls = {"uuid": "c", "linked_labels": [], "label_type": "CLASSIFICATION_2D", "label": "car",
           "label_coordinate_frame": "DEFAULT", "attributes": {"confidence": 0.5},
           "reuse_latest_embedding": False, "change": "ADD"}
    mixed = dict(plain, task_id="mixed", inference_data=plain["inference_data"] + [cls])
    fast, general = load(write_lines([plain, mixed])).frames
    assert fast.predictions.to_records() == general.predictions.to_records()[:-1]
