"""Every Lightly task type, folder layouts, multi-task merging: own fixtures built in tmp_path."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest

import predport

OD_CATS = ["person", "car"]


def _od(file_name: str, *rows: tuple[int, list, float]) -> dict[str, Any]:
    return {"file_name": file_name,
            "predictions": [{"category_id": c, "bbox": b, "score": s} for c, b, s in rows]}


def test_read__classification_with_probabilities_and_no_score(tmp_path: Path, lightly_task: Callable) -> None:
    folder = lightly_task(tmp_path, "weather", "classification", ["sunny", "cloudy", "rainy"], {
        "a.json": {"file_name": "a.jpg", "predictions": [{"category_id": 1, "probabilities": [0.1, 0.7, 0.2]}]},
        "b.json": {"file_name": "b.jpg", "predictions": [{"category_id": 0, "score": 0.9}]},
    })
    ps = predport.load(folder)
    a, b = ps.frames
    assert a.predictions.to_records() == [{"category_id": 1, "score": None, "probabilities": [0.1, 0.7, 0.2]}]
    assert b.predictions.to_records() == [{"category_id": 0, "score": 0.9}]
    assert a.predictions.box is None


def test_read__object_detection_with_probabilities_takes_exact_path(tmp_path: Path, lightly_task: Callable) -> None:
    folder = lightly_task(tmp_path, "od", "object-detection", OD_CATS, {
        "cam0/000001.json": {"file_name": "cam0/000001.jpg", "predictions": [
            {"category_id": 1, "bbox": [140, 100, 80, 90], "score": 0.8, "probabilities": [0.2, 0.8]}]},
    })
    ps = predport.load(folder)
    assert ps.frames[0].data_id == "cam0/000001.jpg"
    assert ps.frames[0].predictions.to_records() == [
        {"category_id": 1, "score": 0.8, "box": [140.0, 100.0, 80.0, 90.0], "probabilities": [0.2, 0.8]}]


def test_read__keypoint_triplets_third_value_kept_as_score(tmp_path: Path, lightly_task: Callable) -> None:
    folder = lightly_task(tmp_path, "kp", "keypoint-detection",
                          [{"id": 0, "name": "person", "keypoint_names": ["nose", "eye"]}], {
        "p.json": {"file_name": "p.png", "predictions": [
            {"category_id": 0, "keypoints": [10, 20, 0.9, 12.5, 18, 0.4], "score": 0.7}]},
    })
    ps = predport.load(folder)
    assert ps.frames[0].predictions.to_records() == [
        {"category_id": 0, "score": 0.7, "keypoints": [[10.0, 20.0, 0.9], [12.5, 18.0, 0.4]]}]
    assert ps.categories[0].attributes["keypoint_names"] == ["nose", "eye"]


def test_read__keypoints_not_multiple_of_three_is_parse_error(tmp_path: Path, lightly_task: Callable) -> None:
    folder = lightly_task(tmp_path, "kp", "keypoint-detection", ["person"], {
        "p.json": {"file_name": "p.png", "predictions": [{"category_id": 0, "keypoints": [1, 2], "score": 0.5}]},
    })
    with pytest.raises(predport.ParseError) as exc:
        predport.load(folder)
    assert exc.value.json_path == "$.predictions[0].keypoints" and exc.value.field == "keypoints"


def test_layout__tasks_json_merges_tasks_into_the_same_frames(predictions_root: Path, lightly_task: Callable) -> None:
    (predictions_root / "tasks.json").write_text(json.dumps(["people", "weather"]))
    lightly_task(predictions_root, "people", "object-detection", OD_CATS, {
        "sub/a.json": _od("sub/a.jpg", (0, [1, 2, 3, 4], 0.9)),
        "b.json": _od("b.jpg", (1, [5, 6, 7, 8], 0.5)),
    })
    lightly_task(predictions_root, "weather", "classification", ["sunny", "cloudy"], {
        "sub/a.json": {"file_name": "sub/a.jpg", "predictions": [{"category_id": 1, "score": 0.6}]},
        "c.json": {"file_name": "c.jpg", "predictions": [{"category_id": 0, "score": 0.4}]},
    })
    root = predictions_root.parent.parent  # the datasource root
    assert predport.detect(root)[0].confidence == predport.Confidence.CERTAIN
    ps = predport.load(root)
    assert [f.data_id for f in ps.frames] == ["b.jpg", "sub/a.jpg", "c.jpg"]
    a = ps.frame("sub/a.jpg")
    # Both tasks use ids 0 and 1: the second task is shifted past the first (ids 2, 3).
    assert [(c.id, c.name, c.attributes.get("lightly_id")) for c in ps.categories] == [
        (0, "person", None), (1, "car", None), (2, "sunny", 0), (3, "cloudy", 1)]
    assert [r["category_id"] for r in a.predictions.to_records()] == [0, 3]
    assert a.predictions.to_records()[1] == {"category_id": 3, "score": 0.6}
    assert ps.category(3).attributes["task"] == "weather"


def test_layout__multi_task_round_trip_puts_predictions_back_in_their_task(
        predictions_root: Path, lightly_task: Callable, tmp_path: Path) -> None:
    test_layout__tasks_json_merges_tasks_into_the_same_frames(predictions_root, lightly_task)
    first = predport.load(predictions_root)
    predport.save(first, tmp_path / "out", format="lightly")
    out = tmp_path / "out"
    assert json.loads((out / "tasks.json").read_text()) == ["people", "weather"]
    assert json.loads((out / "weather" / "schema.json").read_text()) == {
        "task_type": "classification", "categories": [{"id": 0, "name": "sunny"}, {"id": 1, "name": "cloudy"}]}
    assert json.loads((out / "weather" / "sub" / "a.json").read_text()) == {
        "file_name": "sub/a.jpg", "predictions": [{"category_id": 1, "score": 0.6}]}
    assert json.loads((out / "people" / "sub" / "a.json").read_text())["predictions"] == [
        {"category_id": 0, "bbox": [1.0, 2.0, 3.0, 4.0], "score": 0.9}]
    again = predport.load(out)
    assert again.categories == first.categories
    assert [f.to_json_dict() for f in again.frames] == [f.to_json_dict() for f in first.frames]


def test_layout__without_tasks_json_every_folder_with_schema_is_a_task(
        predictions_root: Path, lightly_task: Callable) -> None:
    lightly_task(predictions_root, "b_task", "object-detection", OD_CATS, {"x.json": _od("x.jpg", (0, [0, 0, 1, 1], 1))})
    lightly_task(predictions_root, "a_task", "object-detection", OD_CATS, {"y.json": _od("y.jpg", (1, [0, 0, 1, 1], 1))})
    (predictions_root / "not_a_task").mkdir()
    ps = predport.load(predictions_root)
    assert sorted(f.data_id for f in ps.frames) == ["x.jpg", "y.jpg"]
    assert {c.attributes["task"] for c in ps.categories} == {"a_task", "b_task"}


def test_layout__tasks_json_listing_a_missing_folder_is_an_error_naming_it(
        predictions_root: Path, lightly_task: Callable) -> None:
    lightly_task(predictions_root, "people", "object-detection", OD_CATS, {})
    (predictions_root / "tasks.json").write_text(json.dumps(["people", "vehicles"]))
    with pytest.raises(predport.ParseError, match="'vehicles'"):
        predport.load(predictions_root)


def test_layout__listed_task_without_schema_json_is_an_error_naming_it(predictions_root: Path) -> None:
    (predictions_root / "vehicles").mkdir()
    (predictions_root / "tasks.json").write_text(json.dumps(["vehicles"]))
    with pytest.raises(predport.ParseError, match="task 'vehicles' has no schema.json"):
        predport.load(predictions_root)


def test_layout__listed_task_with_invalid_schema_is_an_error_naming_it(
        predictions_root: Path, lightly_task: Callable) -> None:
    folder = lightly_task(predictions_root, "vehicles", "object-detection", OD_CATS, {})
    (folder / "schema.json").write_text(json.dumps({"task_type": "object-detection-3d", "categories": []}))
    (predictions_root / "tasks.json").write_text(json.dumps(["vehicles"]))
    with pytest.raises(predport.ParseError) as exc:
        predport.load(predictions_root)
    assert "'vehicles'" in str(exc.value) and exc.value.json_path == "$.task_type"


def test_layout__unlisted_task_folder_is_ignored_with_a_warning(
        predictions_root: Path, lightly_task: Callable) -> None:
    lightly_task(predictions_root, "people", "object-detection", OD_CATS, {"x.json": _od("x.jpg", (0, [0, 0, 1, 1], 1))})
    lightly_task(predictions_root, "extra", "object-detection", OD_CATS, {"y.json": _od("y.jpg", (0, [0, 0, 1, 1], 1))})
    (predictions_root / "tasks.json").write_text(json.dumps(["people"]))
    stream = predport.open_stream(predictions_root)
    ps = stream.collect()
    assert [f.data_id for f in ps.frames] == ["x.jpg"]
    assert any("'extra'" in w for w in stream.report.warnings)


def test_layout__tasks_option_selects_tasks(predictions_root: Path, lightly_task: Callable) -> None:
    test_layout__tasks_json_merges_tasks_into_the_same_frames(predictions_root, lightly_task)
    ps = predport.load(predictions_root, options={"tasks": "weather"})
    assert [f.data_id for f in ps.frames] == ["c.jpg", "sub/a.jpg"]  # files first, then sub-folders
    with pytest.raises(predport.ConfigError, match="nope"):
        predport.load(predictions_root, options={"tasks": "nope"})


def test_names__video_frame_file_maps_to_video_and_frame_index(tmp_path: Path, lightly_task: Callable) -> None:
    folder = lightly_task(tmp_path, "od", "object-detection", OD_CATS, {
        "subdir/video_1-099-mp4.json": _od("subdir/video_1-099-mp4.png", (0, [1, 1, 2, 2], 0.5)),
        "subdir/video_1-100-mp4.json": _od("subdir/video_1-100-mp4.png", (1, [1, 1, 2, 2], 0.6)),
        "photo-12-x.json": _od("photo-12-x.png", (0, [1, 1, 2, 2], 0.7)),  # "x" is no video extension
    })
    ps = predport.load(folder)
    keys = sorted((f.data_id, f.frame_index) for f in ps.frames)
    assert keys == [("photo-12-x.png", None), ("subdir/video_1.mp4", 99), ("subdir/video_1.mp4", 100)]
    f99 = ps.frame("subdir/video_1.mp4", 99)
    assert f99.attributes == {"lightly_file_name": "subdir/video_1-099-mp4.png"}


@pytest.mark.parametrize(("count", "name"), [(100, "v-005-mp4"), (99, "v-05-mp4"), (1000, "v-0005-mp4")])
def test_write__video_frame_padding_follows_frame_count(tmp_path: Path, count: int, name: str) -> None:
    frames = [predport.Frame(data_id="v.mp4", frame_index=i,
                             predictions=predport.Detections([0], [0.5], [[1.0, 2.0, 3.0, 4.0]]))
              for i in (5, count - 1)]
    ps = predport.PredictionSet(categories=[predport.Category(id=0, name="car")], frames=frames)
    predport.save(ps, tmp_path / "out", format="lightly")
    task = tmp_path / "out" / "object_detection"
    doc = json.loads((task / f"{name}.json").read_text())
    assert doc["file_name"] == f"{name}.png"
    last = f"v-{count - 1:0{len(str(count))}d}-mp4.json"  # 100 frames: v-099-mp4
    assert (task / last).is_file()
    again = predport.load(tmp_path / "out")
    assert sorted(f.frame_index for f in again.frames) == [5, count - 1]
    assert {f.data_id for f in again.frames} == {"v.mp4"}


def test_write__video_round_trip_keeps_original_padding(tmp_path: Path, lightly_task: Callable) -> None:
    # The video had 1000 frames (4 digits) but only frame 7 has predictions.
    folder = lightly_task(tmp_path, "od", "object-detection", OD_CATS, {
        "v-0007-mov.json": _od("v-0007-mov.png", (0, [1, 1, 2, 2], 0.5)),
    })
    predport.save(predport.load(folder), tmp_path / "out", format="lightly")
    assert (tmp_path / "out" / "od" / "v-0007-mov.json").is_file()


def test_write__frame_counts_option_sets_padding(tmp_path: Path) -> None:
    ps = predport.PredictionSet(categories=[predport.Category(id=0, name="car")], frames=[
        predport.Frame(data_id="d/v.mp4", frame_index=3, predictions=predport.Detections([0], [0.5], [[1, 2, 3, 4]]))])
    predport.save(ps, tmp_path / "out", format="lightly", options={"frame_counts": {"d/v.mp4": 250}})
    assert (tmp_path / "out" / "object_detection" / "d" / "v-003-mp4.json").is_file()


def test_names__file_name_contradicting_path_is_reported_and_trusted(tmp_path: Path, lightly_task: Callable) -> None:
    folder = lightly_task(tmp_path, "od", "object-detection", OD_CATS, {
        "a.json": _od("other/b.jpg", (0, [1, 1, 2, 2], 0.5)),
    })
    stream = predport.open_stream(folder)
    ps = stream.collect()
    assert ps.frames[0].data_id == "other/b.jpg"
    assert any("'other/b.jpg'" in w and "'a.json'" in w for w in stream.report.warnings)
    assert stream.report.counts["file_name differs from the file's path"] == 1


def test_read__single_file_without_schema_needs_the_schema_option(tmp_path: Path) -> None:
    f = tmp_path / "x.json"
    f.write_text(json.dumps(_od("x.jpg", (0, [1, 1, 2, 2], 0.5))))
    with pytest.raises(predport.ConfigError, match="schema"):
        predport.load(f, format="lightly")
    schema = tmp_path / "s" / "schema.json"
    schema.parent.mkdir()
    schema.write_text(json.dumps({"task_type": "object-detection", "categories": [{"id": 0, "name": "car"}]}))
    ps = predport.load(f, format="lightly", options={"schema": str(schema)})
    assert ps.categories[0].name == "car" and len(ps.frames[0].predictions) == 1
