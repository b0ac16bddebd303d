"""Malformed input and policies, writer refusals, and detection votes (own fixtures)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest

import predport

CATS = ["person", "car"]


def _od(file_name: str, *preds: Any) -> dict[str, Any]:
    return {"file_name": file_name, "predictions": list(preds)}


GOOD = {"category_id": 0, "bbox": [1, 2, 3, 4], "score": 0.5}


@pytest.mark.parametrize(
    ("pred", "json_path", "field"),
    [
        ({"category_id": "car", "bbox": [1, 2, 3, 4], "score": 0.5}, "$.predictions[1].category_id", "category_id"),
        ({"category_id": 7, "bbox": [1, 2, 3, 4], "score": 0.5}, "$.predictions[1].category_id", "category_id"),
        ({"category_id": 0, "bbox": [1, 2, 3], "score": 0.5}, "$.predictions[1].bbox", "bbox"),
        ({"category_id": 0, "bbox": [1, 2, -3, 4], "score": 0.5}, "$.predictions[1].bbox", "bbox"),
        ({"category_id": 0, "bbox": [1, 2, "3", 4], "score": 0.5}, "$.predictions[1].bbox", "bbox"),
        ({"category_id": 0, "bbox": [1, 2, 3, 4], "score": "high"}, "$.predictions[1].score", "score"),
        ({"category_id": True, "bbox": [1, 2, 3, 4], "score": 0.5}, "$.predictions[1].category_id", "category_id"),
        ({"category_id": 0, "score": 0.5}, "$.predictions[1].bbox", "bbox"),
    ],
)
def test_parse__bad_prediction_is_parse_error_with_file_json_path_and_field(
        tmp_path: Path, lightly_task: Callable, pred: dict, json_path: str, field: str) -> None:
    folder = lightly_task(tmp_path, "od", "object-detection", CATS, {"img.json": _od("img.jpg", GOOD, pred)})
    with pytest.raises(predport.ParseError) as exc:
        predport.load(folder)
    err = exc.value
    assert err.file.endswith("img.json") and err.json_path == json_path and err.field == field
    assert err.plugin and "lightly" in err.plugin


def test_parse__skip_policy_counts_bad_predictions_and_keeps_the_rest(tmp_path: Path, lightly_task: Callable) -> None:
    folder = lightly_task(tmp_path, "od", "object-detection", CATS, {
        "a.json": _od("a.jpg", GOOD, {"category_id": 0, "bbox": [1, 2, 3], "score": 0.1}, GOOD),
        "b.json": "{not json",
        "c.json": {"file_name": "c.jpg"},
        "d.json": _od("d.jpg", GOOD),
    })
    stream = predport.open_stream(folder, policy="skip")
    ps = stream.collect()
    assert [(f.data_id, len(f.predictions)) for f in ps.frames] == [("a.jpg", 2), ("d.jpg", 1)]
    assert stream.report.skipped_total == 3


def test_parse__invalid_json_names_the_file(tmp_path: Path, lightly_task: Callable) -> None:
    folder = lightly_task(tmp_path, "od", "object-detection", CATS, {"b.json": "{not json"})
    with pytest.raises(predport.ParseError, match="invalid JSON") as exc:
        predport.load(folder)
    assert exc.value.file.endswith("b.json")


def test_parse__missing_predictions_key_names_json_path(tmp_path: Path, lightly_task: Callable) -> None:
    folder = lightly_task(tmp_path, "od", "object-detection", CATS, {"c.json": {"file_name": "c.jpg"}})
    with pytest.raises(predport.ParseError) as exc:
        predport.load(folder)
    assert exc.value.json_path == "$.predictions"


def test_parse__empty_predictions_is_a_frame_without_predictions(tmp_path: Path, lightly_task: Callable) -> None:
    folder = lightly_task(tmp_path, "od", "object-detection", CATS, {"e.json": _od("e.jpg")})
    ps = predport.load(folder)
    assert ps.frames[0].data_id == "e.jpg" and len(ps.frames[0].predictions) == 0


def test_parse__missing_score_is_none_never_invented(tmp_path: Path, lightly_task: Callable) -> None:
    folder = lightly_task(tmp_path, "od", "object-detection", CATS,
                          {"a.json": _od("a.jpg", {"category_id": 1, "bbox": [1, 2, 3, 4]})})
    assert predport.load(folder).frames[0].predictions.to_records()[0]["score"] is None


def test_parse__category_ids_with_gaps_and_offset_kept(tmp_path: Path, lightly_task: Callable) -> None:
    folder = lightly_task(tmp_path, "od", "object-detection",
                          [{"id": 5, "name": "car"}, {"id": 9, "name": "bus", "supercategory": "vehicle"}],
                          {"a.json": _od("a.jpg", {"category_id": 9, "bbox": [1, 2, 3, 4], "score": 0.3})})
    ps = predport.load(folder)
    assert [c.id for c in ps.categories] == [5, 9]
    assert ps.categories[1].attributes["supercategory"] == "vehicle"
    assert ps.frames[0].predictions.category_id.tolist() == [9]


def test_parse__class_map_renames_and_drops_unmapped(tmp_path: Path, lightly_task: Callable) -> None:
    folder = lightly_task(tmp_path, "od", "object-detection", CATS, {
        "a.json": _od("a.jpg", GOOD, {"category_id": 1, "bbox": [1, 2, 3, 4], "score": 0.9})})
    ps = predport.load(folder, class_map={"car": {"id": 30, "name": "vehicle"}})
    assert ps.frames[0].predictions.category_id.tolist() == [30]
    assert [c.name for c in ps.categories] == ["vehicle"]


def test_parse__clamp_policy_clips_boxes_to_the_image(tmp_path: Path, lightly_task: Callable) -> None:
    folder = lightly_task(tmp_path, "od", "object-detection", CATS, {
        "a.json": _od("a.jpg", {"category_id": 0, "bbox": [90, 10, 20, 5], "score": 0.5})})
    stream = predport.open_stream(folder, policy="clamp", image_sizes={"a.jpg": (100, 50)})
    ps = stream.collect()
    assert ps.frames[0].predictions.box.tolist() == [[90.0, 10.0, 10.0, 5.0]]
    assert stream.report.counts["clamp.boxes"] == 1


# ---------------------------------------------------------------------------- writing
def _set(*frames: Any, cats: tuple[str, ...] = ("car",)) -> Any:
    return predport.PredictionSet(categories=[predport.Category(id=i, name=n) for i, n in enumerate(cats)],
                                  frames=list(frames))


def _frame(data_id: str, **cols: Any) -> Any:
    return predport.Frame(data_id=data_id, predictions=predport.Detections(**cols))


# Absolute ids (/abs/x.jpg, C:\\x.jpg) are written by their base name, the rule of every
# folder writer (predport.FrameNames; tests/test_naming.py); only '..' escapes.
@pytest.mark.parametrize("bad", ["../x.jpg", "a/../../x.jpg"])
def test_write__escaping_file_name_is_refused_and_nothing_is_left(tmp_path: Path, bad: str) -> None:
    ps = _set(_frame("ok.jpg", category_id=[0], score=[0.5], box=[[1, 2, 3, 4]]),
              _frame(bad, category_id=[0], score=[0.5], box=[[1, 2, 3, 4]]))
    dest = tmp_path / "out"
    with pytest.raises(predport.OutputError, match="escape"):
        predport.save(ps, dest, format="lightly")
    assert not dest.exists()
    assert not (tmp_path / "x.jpg").exists() and not (tmp_path / "x.json").exists()


def test_write__missing_score_is_refused_unless_missing_score_option(tmp_path: Path) -> None:
    ps = _set(_frame("a.jpg", category_id=[0], box=[[1, 2, 3, 4]]))
    with pytest.raises(predport.OutputError, match="missing_score"):
        predport.save(ps, tmp_path / "out", format="lightly")
    assert not (tmp_path / "out").exists()
    predport.save(ps, tmp_path / "out", format="lightly", options={"missing_score": 0.0})
    doc = json.loads((tmp_path / "out" / "object_detection" / "a.json").read_text())
    assert doc["predictions"] == [{"category_id": 0, "bbox": [1.0, 2.0, 3.0, 4.0], "score": 0.0}]


def test_write__score_outside_unit_interval_fails_schema_validation(tmp_path: Path) -> None:
    ps = _set(_frame("a.jpg", category_id=[0], score=[3.5], box=[[1, 2, 3, 4]]))
    with pytest.raises(predport.SchemaValidationError) as exc:
        predport.save(ps, tmp_path / "out", format="lightly")
    assert exc.value.json_path == "$.predictions[0].score"
    assert not (tmp_path / "out").exists()


def test_write__kinds_go_to_derived_tasks_with_their_schemas(tmp_path: Path) -> None:
    mask = {"size": [3, 4], "counts": "411101"}
    f = predport.Frame(data_id="a.png", predictions=predport.Detections.from_records([
        {"category_id": 0, "score": 0.9, "box": [1, 2, 3, 4]},
        {"category_id": 1, "score": 0.8, "box": [1, 0, 3, 3], "mask": mask},
        {"category_id": 1, "score": 0.7, "mask": mask},
        {"category_id": 0, "score": 0.6, "keypoints": [[1, 2, 0.5], [3, 4, 0.25]]},
        {"category_id": 1, "score": 0.5, "probabilities": [0.5, 0.5]},
    ]))
    predport.save(_set(f, cats=("car", "road")), tmp_path / "out", format="lightly")
    out = tmp_path / "out"
    assert json.loads((out / "tasks.json").read_text()) == [
        "classification", "instance_segmentation", "keypoint_detection", "object_detection", "semantic_segmentation"]
    assert json.loads((out / "semantic_segmentation" / "a.json").read_text())["predictions"] == [
        {"category_id": 1, "segmentation": [2, 2, 1, 3, 3, 1], "score": 0.7}]
    assert json.loads((out / "keypoint_detection" / "a.json").read_text())["predictions"] == [
        {"category_id": 0, "keypoints": [1.0, 2.0, 0.5, 3.0, 4.0, 0.25], "score": 0.6}]
    assert json.loads((out / "classification" / "a.json").read_text())["predictions"] == [
        {"category_id": 1, "score": 0.5, "probabilities": [0.5, 0.5]}]
    assert json.loads((out / "instance_segmentation" / "schema.json").read_text())["task_type"] == \
        "instance-segmentation"
    back = predport.load(out, image_sizes={"a.png": (4, 3)})
    assert sorted(len(r) for r in back.frames[0].predictions.to_records()) == sorted(
        len(r) for r in f.predictions.to_records())


def test_write__geometry_the_task_type_cannot_hold_is_refused(tmp_path: Path) -> None:
    mask = {"size": [3, 4], "counts": "411101"}
    ps = _set(predport.Frame(data_id="a.png", predictions=predport.Detections.from_records(
        [{"category_id": 0, "score": 0.9, "box": [1, 0, 3, 3], "mask": mask}])))
    with pytest.raises(predport.OutputError, match="cannot hold mask"):
        predport.save(ps, tmp_path / "out", format="lightly", options={"task": "boxes", "task_type": "object-detection"})


def test_write__probabilities_must_have_one_value_per_category(tmp_path: Path) -> None:
    ps = _set(_frame("a.jpg", category_id=[0], score=[0.5], box=[[1, 2, 3, 4]], probabilities=[[0.2, 0.3, 0.5]]),
              cats=("car", "bus"))
    with pytest.raises(predport.OutputError, match="one probability per category"):
        predport.save(ps, tmp_path / "out", format="lightly")


def test_write__prediction_attributes_are_loss_refused_unless_allowed(tmp_path: Path) -> None:
    ps = _set(_frame("a.jpg", category_id=[0], score=[0.5], box=[[1, 2, 3, 4]], attributes=[{"truncated": 0.2}]))
    with pytest.raises(predport.LossError) as exc:
        predport.save(ps, tmp_path / "out", format="lightly")
    assert exc.value.report == {"predictions.attributes": 1}
    assert not (tmp_path / "out").exists()
    summary = predport.save(ps, tmp_path / "out", format="lightly", allow_loss=True)
    assert summary["loss"] == {"predictions.attributes": 1}


def test_write__empty_frame_writes_an_empty_file(tmp_path: Path) -> None:
    ps = _set(_frame("a.jpg", category_id=[0], score=[0.5], box=[[1, 2, 3, 4]]),
              predport.Frame(data_id="sub/b.jpg"))
    predport.save(ps, tmp_path / "out", format="lightly")
    assert json.loads((tmp_path / "out" / "object_detection" / "sub" / "b.json").read_text()) == {
        "file_name": "sub/b.jpg", "predictions": []}


def test_write__task_option_names_the_task(tmp_path: Path) -> None:
    ps = _set(_frame("a.jpg", category_id=[0], score=[0.5], box=[[1, 2, 3, 4]]))
    predport.save(ps, tmp_path / "out", format="lightly", options={"task": "vehicles"})
    assert json.loads((tmp_path / "out" / "tasks.json").read_text()) == ["vehicles"]


def test_write__unknown_option_is_config_error(tmp_path: Path) -> None:
    ps = _set(_frame("a.jpg", category_id=[0], score=[0.5], box=[[1, 2, 3, 4]]))
    with pytest.raises(predport.ConfigError, match="taks"):
        predport.save(ps, tmp_path / "out", format="lightly", options={"taks": "x"})


def test_write__polygon_only_prediction_is_loss_not_a_classification(tmp_path: Path) -> None:
    ps = _set(predport.Frame(data_id="a.jpg", predictions=predport.Detections.from_records([
        {"category_id": 0, "score": 0.5, "polygon": [[0, 0, 4, 0, 4, 4]]},
        {"category_id": 0, "score": 0.6, "box": [1, 2, 3, 4]}])))
    with pytest.raises(predport.LossError):
        predport.save(ps, tmp_path / "out", format="lightly")
    predport.save(ps, tmp_path / "out", format="lightly", allow_loss=True)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["object_detection", "tasks.json"]


# ---------------------------------------------------------------------------- detection
def test_detect__schema_json_without_task_type_is_a_reasoned_rejection(tmp_path: Path) -> None:
    (tmp_path / "schema.json").write_text(json.dumps({"categories": [{"id": 0, "name": "a"}]}))
    votes = predport.detect(tmp_path)
    assert votes and votes[0].format == "lightly" and votes[0].confidence == predport.Confidence.NO
    assert "task_type" in votes[0].reason


def test_detect__bare_task_folder_and_predictions_folder_are_certain(
        predictions_root: Path, lightly_task: Callable) -> None:
    task = lightly_task(predictions_root, "od", "object-detection", CATS, {"a.json": _od("a.jpg", GOOD)})
    (predictions_root / "tasks.json").write_text('["od"]')
    for path in (task, predictions_root, predictions_root.parent, predictions_root.parent.parent):
        vote = predport.detect(path)[0]
        assert (vote.format, vote.confidence) == ("lightly", predport.Confidence.CERTAIN), path


def test_detect__does_not_claim_other_formats(tmp_path: Path) -> None:
    coco = tmp_path / "results.json"
    coco.write_text(json.dumps([{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 0.5}]))
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps({"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": [], "categories": []}))
    canonical = tmp_path / "canonical.json"
    canonical.write_text(json.dumps({"schema": "predport/prediction-set/1", "categories": [],
                                     "frames": [{"data_id": "a", "predictions": []}]}))
    aq = tmp_path / "frames.jsonl"
    aq.write_text(json.dumps({"task_id": "a", "inference_data": {"label_data": []}}) + "\n")
    kitti = tmp_path / "kitti"
    kitti.mkdir()
    (kitti / "000001.txt").write_text("Car 0.00 0 -1.58 587.0 173.3 614.1 200.1 1.65 1.67 3.64 -0.65 1.71 46.70 -1.59 0.9\n")
    masks = tmp_path / "masks"
    masks.mkdir()
    from PIL import Image

    Image.new("L", (4, 4)).save(masks / "a.png")
    for p in (coco, gt, canonical, aq, kitti, masks):
        lightly = [v for v in predport.detect(p) if v.format == "lightly"]
        assert all(v.confidence == predport.Confidence.NO for v in lightly), (p, lightly)


def test_detect__tasks_json_file_itself_is_rejected_with_reason(predictions_root: Path) -> None:
    (predictions_root / "tasks.json").write_text('["od"]')
    vote = [v for v in predport.detect(predictions_root / "tasks.json") if v.format == "lightly"][0]
    assert vote.confidence == predport.Confidence.NO and "predictions folder" in vote.reason


def test_parse__bad_file_among_many_falls_back_and_keeps_the_good_ones(tmp_path: Path, lightly_task: Callable) -> None:
    files = {f"img{i:03d}.json": _od(f"img{i:03d}.jpg", GOOD) for i in range(300)}
    files["img150.json"] = _od("img150.jpg", {"category_id": 9, "bbox": [1, 2, 3, 4], "score": 0.5})
    files["img151.json"] = _od("img151.jpg", {"category_id": 1, "bbox": [1, 2, 3, 4], "score": None})
    folder = lightly_task(tmp_path, "od", "object-detection", CATS, files)
    stream = predport.open_stream(folder, policy="skip")
    ps = stream.collect()
    assert len(ps.frames) == 300 and stream.report.skipped_total == 1
    assert len(ps.frame("img150.jpg").predictions) == 0
    assert ps.frame("img151.jpg").predictions.to_records() == [
        {"category_id": 1, "score": None, "box": [1.0, 2.0, 3.0, 4.0]}]
    assert all(len(ps.frame(f"img{i:03d}.jpg").predictions) == 1 for i in range(150))
    with pytest.raises(predport.ParseError) as exc:
        predport.load(folder)
    assert exc.value.file.endswith("img150.json") and exc.value.json_path == "$.predictions[0].category_id"
