"""Writing Aquarium rows: lossless round trips of the client-written fixtures, both generations,
cross-generation writes, scores the client refuses, and data from other formats."""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import predport

#: Keys whose integer values come back as floats: the canonical box column is float64.
BOX_KEYS = {"top", "left", "width", "height"}


def strict_diffs(a: Any, b: Any, path: str = "$") -> list[str]:
    """Every difference between two parsed JSON values, JSON types included (1 != 1.0),
    except integer box coordinates written back as the same float."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return [f"{path}: keys {sorted(a.keys() ^ b.keys())}"]
        return [d for k in a for d in strict_diffs(a[k], b[k], f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} items became {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in strict_diffs(x, y, f"{path}[{i}]")]
    if type(a) is int and type(b) is float and path.rsplit(".", 1)[-1] in BOX_KEYS and a == b:
        return []
    return [] if type(a) is type(b) and a == b else [f"{path}: {a!r} became {b!r}"]


def fixture_options(classes: dict[str, int], data_dir: Path) -> dict[str, Any]:
    return {"classes": classes, "mask_root": str(data_dir)}


@pytest.mark.parametrize("name", ["legacy_0.0.67.jsonl", "v1_1.0.7.jsonl", "handwritten_oldest_0.0.25.jsonl"])
def test_write__same_generation_reproduces_every_row(tmp_path: Path, data_dir: Path, rows_of: Any,
                                                     classes: dict[str, int], name: str) -> None:
    """Aquarium -> canonical JSON file -> Aquarium: each line's object is the client's object."""
    src = data_dir / name
    canonical = tmp_path / "canonical.json"
    predport.convert(src, canonical, options=fixture_options(classes, data_dir))
    back = tmp_path / "back.jsonl"
    summary = predport.convert(canonical, back, to="aquarium")
    assert summary["loss"] == {}
    before, after = rows_of(src), rows_of(back)
    assert after == before  # Python equality: 10 == 10.0
    assert [d for x, y in zip(before, after) for d in strict_diffs(x, y, x["task_id"])] == []


def test_write__reread_of_the_written_rows_is_the_same_canonical_data(tmp_path: Path, data_dir: Path,
                                                                      classes: dict[str, int]) -> None:
    for name in ("legacy_0.0.67.jsonl", "v1_1.0.7.jsonl"):
        shutil.copytree(data_dir / "masks", tmp_path / name / "masks")
        first = predport.load(data_dir / name, options={"classes": classes})
        out = tmp_path / name / "out.jsonl"
        predport.save(first, out, format="aquarium")
        second = predport.load(out, options={"classes": classes})
        assert second.to_json_dict()["frames"] == first.to_json_dict()["frames"]
        assert [c.model_dump() for c in second.categories] == [c.model_dump() for c in first.categories]


def test_write__every_line_validates_against_the_contributed_schema(tmp_path: Path, legacy_file: Path,
                                                                    rows_of: Any) -> None:
    out = tmp_path / "out.jsonl"
    predport.convert(legacy_file, out, to="aquarium", write_options={"generation": "v1"})
    registry = predport.get_hub().registry
    for row in rows_of(out):
        registry.validate("urn:predport:schema:aquarium:frame:1", row)


def test_write__legacy_to_v1_writes_the_v1_keys(tmp_path: Path, legacy_file: Path, data_dir: Path,
                                               classes: dict[str, int], rows_of: Any) -> None:
    out = tmp_path / "v1.jsonl"
    opts = fixture_options(classes, data_dir)
    predport.convert(legacy_file, out, to="aquarium", options=opts, write_options={"generation": "v1",
                                                                                   "classes": classes})
    rows = {r["task_id"]: r for r in rows_of(out)}
    r1 = rows["frame_0001"]
    assert "type" not in r1 and r1["device_id"] == "default_device" and r1["label_data"] == r1["inference_data"]
    assert r1["inference_metadata"]["user_metadata"]["weather"] == "sunny"
    for e in r1["inference_data"]:
        assert "linked_labels" not in e and e["class_id"] == classes[e["label"]]
    inst = next(e for e in rows["frame_0002"]["inference_data"] if e["uuid"] == "frame_0002_inst_1")
    assert inst["attributes"] == {"id": 1, "resize_mode": "fill", "user__occluded": True, "user__color": "red"}
    # 1.0.x writes the instance mask row before its entries
    kinds = [e["label_type"] for e in rows["frame_0002"]["inference_data"]]
    assert kinds.index("INSTANCE_LABEL_URL_2D") < kinds.index("INSTANCE_LABEL_2D")
    # and the predictions read back are the same
    a = predport.load(legacy_file, options=opts)
    b = predport.load(out, options=opts)
    for fa, fb in zip(a.frames, b.frames):
        ra, rb = fa.predictions.to_records(), fb.predictions.to_records()
        assert [(r["category_id"], r["score"], r.get("box"), r.get("mask")) for r in ra] == \
               [(r["category_id"], r["score"], r.get("box"), r.get("mask")) for r in rb]


def test_write__v1_to_legacy_writes_the_legacy_keys(tmp_path: Path, v1_file: Path, rows_of: Any) -> None:
    out = tmp_path / "legacy.jsonl"
    summary = predport.convert(v1_file, out, to="aquarium", write_options={"generation": "legacy"},
                               allow_loss=True)
    assert summary["loss"] == {"frames.attributes (fields the other generation cannot hold)": 5}
    rows = {r["task_id"]: r for r in rows_of(out)}
    r1 = rows["frame_0001"]
    assert r1["type"] == "Inference" and "label_data" not in r1 and "date_captured" not in r1
    assert r1["inference_metadata"] == {"visualization_assets": {}, "user_metadata": {
        "weather": "sunny", "num_objects": 5, "exposure": 0.25, "is_night": False}}
    assert all(e["linked_labels"] == [] and "class_id" not in e for e in r1["inference_data"])
    inst = next(e for e in rows["frame_0002"]["inference_data"] if e["uuid"] == "frame_0002_inst_1")
    assert inst["attributes"] == {"occluded": True, "color": "red", "id": 1, "resize_mode": "fill"}
    assert summary["frame fields dropped"] == 5  # date_captured of each frame


def test_write__json_array_for_a_json_destination(tmp_path: Path, v1_file: Path, rows_of: Any) -> None:
    out = tmp_path / "frames.json"
    predport.convert(v1_file, out, to="aquarium")
    assert json.loads(out.read_text()) == rows_of(v1_file)


# -- data from other formats ------------------------------------------------------------------

def foreign_set(scores: list[float | None]) -> predport.PredictionSet:
    n = len(scores)
    dets = predport.Detections(category_id=[1] * n, score=scores, box=[[10.0, 20.0, 30.0, 40.0]] * n)
    return predport.PredictionSet(categories=[predport.Category(id=1, name="car")],
                                  frames=[predport.Frame(data_id="img1.jpg", predictions=dets)])


def test_write__scores_outside_unit_range_are_refused_with_frame_and_value(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    with pytest.raises(predport.OutputError) as info:
        predport.save(foreign_set([0.5, 97.85]), out, format="aquarium")
    text = str(info.value)
    assert "img1.jpg" in text and "97.85" in text and "[0, 1]" in text and "scores=" in text
    assert not out.exists()


def test_write__scores_clip_option(tmp_path: Path, rows_of: Any) -> None:
    out = tmp_path / "out.jsonl"
    summary = predport.save(foreign_set([-0.5, 0.25, 97.85]), out, format="aquarium",
                            options={"scores": "clip"})
    confs = [e["attributes"]["confidence"] for e in rows_of(out)[0]["inference_data"]]
    assert confs == [0.0, 0.25, 1.0] and summary["scores clipped"] == 2


def test_write__scores_rescale_is_min_max_over_the_set(tmp_path: Path, rows_of: Any) -> None:
    out = tmp_path / "out.jsonl"
    predport.save(foreign_set([-10.0, 0.0, 30.0]), out, format="aquarium", options={"scores": "rescale"})
    confs = [e["attributes"]["confidence"] for e in rows_of(out)[0]["inference_data"]]
    assert confs == [0.0, 0.25, 1.0] and all(type(c) is float for c in confs)


def test_write__scores_rescale_with_a_given_range(tmp_path: Path, rows_of: Any) -> None:
    out = tmp_path / "out.jsonl"
    predport.save(foreign_set([50.0, 75.0]), out, format="aquarium",
                  options={"scores": "rescale", "score_range": "0,100"})
    assert [e["attributes"]["confidence"] for e in rows_of(out)[0]["inference_data"]] == [0.5, 0.75]
    with pytest.raises(predport.OutputError, match="score_range"):
        predport.save(foreign_set([150.0]), tmp_path / "o2.jsonl", format="aquarium",
                      options={"scores": "rescale", "score_range": "0,100"})


def test_write__missing_score_is_refused_unless_a_default_is_given(tmp_path: Path, rows_of: Any) -> None:
    with pytest.raises(predport.OutputError, match="no score"):
        predport.save(foreign_set([None]), tmp_path / "a.jsonl", format="aquarium")
    predport.save(foreign_set([None]), tmp_path / "b.jsonl", format="aquarium", options={"default_confidence": 1.0})
    assert rows_of(tmp_path / "b.jsonl")[0]["inference_data"][0]["attributes"]["confidence"] == 1.0


def test_write__unknown_options_values_are_config_errors(tmp_path: Path) -> None:
    for opts in ({"generation": "2.0"}, {"scores": "round"}, {"score_range": "1"}, {"default_confidence": 2},
                 {"masks": "keep"}):
        with pytest.raises(predport.ConfigError):
            predport.save(foreign_set([0.5]), tmp_path / "x.jsonl", format="aquarium", options=opts)


def test_write__generated_uuids_follow_frame_inf_position(tmp_path: Path, rows_of: Any) -> None:
    out = tmp_path / "out.jsonl"
    predport.save(foreign_set([0.5, 0.6]), out, format="aquarium")
    row = rows_of(out)[0]
    assert [e["uuid"] for e in row["inference_data"]] == ["img1.jpg_inf_0", "img1.jpg_inf_1"]
    assert row["inference_data"][0]["attributes"] == {"top": 20.0, "left": 10.0, "width": 30.0, "height": 40.0,
                                                      "confidence": 0.5}


def test_write__polygons_keypoints_and_box3d_from_other_formats(tmp_path: Path, rows_of: Any) -> None:
    dets = predport.Detections(
        category_id=[1, 1, 2], score=[0.9, 0.8, 0.7],
        polygon=[[[0.0, 0.0, 4.0, 0.0, 4.0, 3.0]], None, None],
        keypoints=[None, [[1.0, 2.0, 2.0], [3.0, 4.0, None]], None],
        box3d=[None, None, {"position": [1.0, 2.0, 3.0], "dimensions": [1.0, 1.0, 1.0],
                            "rotation": [0.0, 0.0, 0.0, 1.0], "coordinate_frame": None}],
    )
    pset = predport.PredictionSet(
        categories=[predport.Category(id=1, name="person", attributes={"keypoints": ["nose", "eye"]}),
                    predport.Category(id=2, name="truck")],
        frames=[predport.Frame(data_id="a", predictions=dets)])
    out = tmp_path / "out.jsonl"
    # Keypoint names come from the category; other category attributes have no place in rows.
    summary = predport.save(pset, out, format="aquarium", allow_loss=True)
    assert summary["loss"] == {"categories.attributes": 1}
    poly, kp, cub = rows_of(out)[0]["inference_data"]
    assert poly["label_type"] == "POLYGON_LIST_2D"
    assert poly["attributes"] == {"polygons": [{"vertices": [[0.0, 0.0], [4.0, 0.0], [4.0, 3.0]]}], "center": None,
                                  "confidence": 0.9}
    assert kp["label_type"] == "KEYPOINTS_2D"
    assert [k["name"] for k in kp["attributes"]["keypoints"]] == ["nose", "eye"]  # from the category
    assert kp["attributes"]["user__keypoint_v"] == [2.0, None]
    assert cub["label_type"] == "CUBOID_3D" and cub["label_coordinate_frame"] == "world"
    assert cub["attributes"]["rot_w"] == 1.0
    again = predport.load(out).frames[0].predictions.to_records()
    assert again[1]["keypoints"] == [[1.0, 2.0, 2.0], [3.0, 4.0, None]]  # visibility survives


def test_write__foreign_masks_are_refused_unless_dropped(tmp_path: Path, rows_of: Any) -> None:
    dets = predport.Detections(category_id=[1, 1], score=[0.9, 0.8], box=[[1.0, 1.0, 2.0, 2.0], [np.nan] * 4],
                               mask=[{"size": [3, 4], "counts": "411101"}] * 2)
    pset = predport.PredictionSet(categories=[predport.Category(id=1, name="car")],
                                  frames=[predport.Frame(data_id="a", predictions=dets)])
    with pytest.raises(predport.OutputError, match="masks=drop"):
        predport.save(pset, tmp_path / "a.jsonl", format="aquarium")
    with pytest.raises(predport.LossError) as info:  # dropping is a loss the user must allow
        predport.save(pset, tmp_path / "b.jsonl", format="aquarium", options={"masks": "drop"})
    assert info.value.report == {"predictions (a mask only, masks=drop)": 1, "predictions.mask (masks=drop)": 1}
    summary = predport.save(pset, tmp_path / "b.jsonl", format="aquarium", options={"masks": "drop"},
                            allow_loss=True)
    assert [e["label_type"] for e in rows_of(tmp_path / "b.jsonl")[0]["inference_data"]] == ["BBOX_2D"]
    assert summary["masks dropped"] == 1 and summary["predictions dropped (mask without box)"] == 1


def test_write__probabilities_are_reported_as_loss(tmp_path: Path) -> None:
    dets = predport.Detections(category_id=[1], score=[0.9], box=[[1.0, 1.0, 2.0, 2.0]], probabilities=[[0.1, 0.9]])
    pset = predport.PredictionSet(categories=[predport.Category(id=1, name="car")],
                                  frames=[predport.Frame(data_id="a", predictions=dets)])
    with pytest.raises(predport.LossError):
        predport.save(pset, tmp_path / "a.jsonl", format="aquarium")


def test_write__scalar_frame_attributes_of_other_formats_become_user_metadata(tmp_path: Path, rows_of: Any) -> None:
    pset = predport.PredictionSet(categories=[], frames=[predport.Frame(data_id="a", attributes={
        "image_id": 397133, "camera": "front", "nested": {"x": 1}})])
    # The nested attribute has no place: frame metadata, reported; refused only when strict.
    assert predport.save(pset, tmp_path / "s.jsonl", format="aquarium")["lost_metadata"]
    with pytest.raises(predport.LossError):
        predport.save(pset, tmp_path / "a.jsonl", format="aquarium", strict_loss=True)
    summary = predport.save(pset, tmp_path / "a.jsonl", format="aquarium", allow_loss=True)
    row = rows_of(tmp_path / "a.jsonl")[0]
    assert row["inference_metadata"]["user_metadata"] == {"image_id": 397133, "camera": "front"}
    assert summary["frame attributes dropped"] == 1
    assert summary["loss"] == {"frames.attributes (not scalar user metadata)": 1}


def test_write__partial_modify_entries_are_kept_verbatim(tmp_path: Path, write_lines: Any, rows_of: Any) -> None:
    partial = {"uuid": "f_inf_0", "linked_labels": [], "label_type": "BBOX_2D",
               "attributes": {"confidence": 0.4}, "reuse_latest_embedding": False, "change": "MODIFY"}
    full = {"uuid": "f_inf_1", "linked_labels": [], "label_type": "BBOX_2D", "label": "car",
            "label_coordinate_frame": "DEFAULT",
            "attributes": {"top": 1.5, "left": 2.5, "width": 3.0, "height": 4.0, "confidence": 0.5},
            "reuse_latest_embedding": False, "change": "ADD"}
    row = {"task_id": "f", "type": "Inference", "custom_metrics": {},
           "inference_metadata": {"visualization_assets": {}, "user_metadata": {}},
           "inference_data": [partial, full], "reuse_latest_embedding": True, "change": "MODIFY"}
    src = write_lines([row])
    frame = predport.load(src).frames[0]
    assert frame.attributes["partial_rows"] == [{"index": 0, "row": partial}]
    assert len(frame.predictions) == 1
    out = tmp_path / "out.jsonl"
    predport.convert(src, out, to="aquarium")
    assert rows_of(out) == [row]
