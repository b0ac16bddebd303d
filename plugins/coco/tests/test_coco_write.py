"""Writing COCO results: round trips, image ids, what COCO cannot hold, the schema, the CLI."""
from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import predport


def results_schema() -> dict:
    text = (resources.files("predport_coco") / "schemas" / "coco-results-1.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


def prediction_set(frames: list[predport.Frame]) -> predport.PredictionSet:
    ids = sorted({int(c) for f in frames for c in f.predictions.category_id.tolist()})
    # Categories named by their id: a results list holds ids, not names (see the companion tests).
    return predport.PredictionSet(categories=[predport.Category(id=i, name=str(i)) for i in ids], frames=frames)


# -- the property: boxes and scores survive canonical -> coco -> canonical ---------------------------------
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
extent = st.floats(min_value=0, allow_nan=False, allow_infinity=False, width=64)
row = st.tuples(st.integers(0, 1000), st.one_of(st.none(), finite), finite, finite, extent, extent)
frame_rows = st.lists(row, min_size=1, max_size=8)
data_ids = st.one_of(st.integers(0, 10**12).map(str), st.from_regex(r"[a-z][a-z0-9_]{0,12}\.jpg", fullmatch=True))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(data_ids, frame_rows, min_size=0, max_size=6))
def test_property__boxes_and_scores_survive_coco_and_back(tmp_path_factory, frames: dict) -> None:
    tmp = tmp_path_factory.mktemp("prop")
    built = [
        predport.Frame(data_id=data_id, predictions=predport.Detections(
            category_id=[r[0] for r in rows], score=[r[1] for r in rows], box=[list(r[2:]) for r in rows]))
        for data_id, rows in frames.items()
    ]
    out = tmp / "results.json"
    predport.save(prediction_set(built), out, format="coco")
    results = json.loads(out.read_text())
    import jsonschema

    jsonschema.Draft202012Validator(results_schema()).validate(results)
    back = predport.load(out, format="coco")
    assert [f.data_id for f in back.frames] == list(frames)
    written = {r["image_id"] for r in results}
    assert written == {int(d) if d.isdigit() else d for d in frames}
    for frame, (data_id, rows) in zip(back.frames, frames.items()):
        assert frame.attributes == {}  # the data id gives the image id back
        got = frame.predictions.to_records()
        assert [g["category_id"] for g in got] == [r[0] for r in rows]
        assert [g["score"] for g in got] == [r[1] for r in rows]
        assert [g["box"] for g in got] == [list(r[2:]) for r in rows]


# -- image ids ----------------------------------------------------------------------------------------------
def test_write__image_ids_from_attributes_then_ground_truth_then_digits(tmp_path: Path) -> None:
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps({"images": [{"id": 7, "file_name": "images/cat.jpg", "width": 10, "height": 10}],
                              "categories": []}))
    one = predport.Detections(category_id=[1], score=[0.5], box=[[0, 0, 1, 1]])
    frames = [
        predport.Frame(data_id="whatever", attributes={"image_id": "kept"}, predictions=one),
        predport.Frame(data_id="cat.jpg", predictions=one),  # by GT file name (base name matches)
        predport.Frame(data_id="0042", predictions=one),  # leading zeros: not an integer id
        predport.Frame(data_id="42", predictions=one),
        predport.Frame(data_id="dog.jpg", predictions=one),
    ]
    out = tmp_path / "results.json"
    predport.save(prediction_set(frames), out, format="coco", options={"gt": str(gt)})
    assert [r["image_id"] for r in json.loads(out.read_text())] == ["kept", 7, "0042", 42, "dog.jpg"]


# -- what COCO results cannot hold ----------------------------------------------------------------------
def test_write__a_mask_and_a_polygon_on_one_prediction_lose_the_polygon(tmp_path: Path) -> None:
    dets = predport.Detections(category_id=[1], score=[0.9], polygon=[[[0, 0, 4, 0, 4, 3]]],
                               mask=[{"size": [3, 4], "counts": "411101"}])
    frames = [predport.Frame(data_id="1", predictions=dets)]
    out = tmp_path / "results.json"
    with pytest.raises(predport.LossError) as err:  # a polygon of its own, not traced from the mask
        predport.save(prediction_set(frames), out, format="coco")
    assert err.value.report == {"predictions.polygon (a mask took the segmentation)": 1}
    assert not out.exists()
    predport.save(prediction_set(frames), out, format="coco", allow_loss=True)
    assert json.loads(out.read_text())[0]["segmentation"] == {"size": [3, 4], "counts": "411101"}


def test_write__sizes_frame_attributes_and_probabilities_are_reported_as_loss(tmp_path: Path) -> None:
    dets = predport.Detections(category_id=[1], score=[0.9], box=[[1, 2, 3, 4]], probabilities=[[0.1, 0.9]])
    frames = [predport.Frame(data_id="1", width=640, height=480, attributes={"camera": "left"}, predictions=dets)]
    with pytest.raises(predport.LossError) as err:  # the probabilities refuse, at the first frame
        predport.save(prediction_set(frames), tmp_path / "results.json", format="coco")
    assert err.value.report == {"frames.width/height": 1, "predictions.probabilities": 1}
    summary = predport.save(prediction_set(frames), tmp_path / "results.json", format="coco",
                            allow_loss="probabilities")
    assert summary["lost_metadata"] == {"frames.attributes.camera": 1, "frames.width/height": 1}


def test_write__keypoints_without_visibility_are_written_with_v_1_and_reported_as_loss(tmp_path: Path) -> None:
    dets = predport.Detections(category_id=[1], score=[0.7], keypoints=[[[1.0, 2.0, None], [3.0, 4.0, 2]]])
    out = tmp_path / "results.json"
    data = prediction_set([predport.Frame(data_id="5", predictions=dets)])
    with pytest.raises(predport.LossError) as info:  # null comes back as 1: a changed value
        predport.save(data, out, format="coco")
    assert info.value.report == {"predictions.keypoints (visibility null written as 1)": 1}
    summary = predport.save(data, out, format="coco", allow_loss=True)
    assert summary["records"] == 1
    assert json.loads(out.read_text()) == [{"image_id": 5, "category_id": 1, "keypoints": [1.0, 2.0, 1, 3.0, 4.0, 2],
                                            "score": 0.7}]


def test_write__output_validates_against_the_contributed_schema(tmp_path: Path, corpus) -> None:
    import jsonschema

    for rel in ("cocoapi/instances_val2014_fakesegm100_results.json", "faster_coco_eval/dt_dataset.json",
                "faster_coco_eval/keypoints_dt_dataset.json", "sahi/coco_evaluate_result.json"):
        out = tmp_path / (rel.replace("/", "_"))
        predport.convert(corpus(rel), out, to="coco")
        jsonschema.Draft202012Validator(results_schema()).validate(json.loads(out.read_text()))
    assert results_schema()["$id"] in predport.get_hub().registry.ids()


# -- the canonical writer's column path (core, used on this plugin's hot path) ----------------------------------
def test_canonical__boxes_only_frames_serialise_exactly_as_their_records(tmp_path: Path) -> None:
    import orjson

    rng = np.random.default_rng(11)
    n = 500
    src = tmp_path / "results.json"
    src.write_bytes(orjson.dumps([
        {"image_id": int(i), "category_id": int(c), "bbox": [float(v) for v in b], "score": float(s)}
        for i, c, b, s in zip(np.sort(rng.integers(0, 40, n)), rng.integers(1, 91, n),
                              np.abs(rng.normal(size=(n, 4)) * 10.0 ** rng.integers(-8, 8, (n, 1))),
                              rng.random(n))]))
    out = tmp_path / "canonical.json"
    predport.convert(src, out)
    ps = predport.load(src)
    frames = orjson.dumps([f.to_json_dict() for f in ps.frames])
    assert out.read_bytes().endswith(b'"frames":' + frames + b"}")


# -- command line ------------------------------------------------------------------------------------------------
def test_cli__convert_to_coco_and_a_malformed_file_exits_non_zero(tmp_path: Path, capsys) -> None:
    cli = pytest.importorskip("predport.cli")
    src = tmp_path / "results.json"
    src.write_text(json.dumps([{"image_id": 1, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 0.5}]))
    out = tmp_path / "back.json"
    assert cli.main(["convert", str(src), str(out), "--to", "coco", "--quiet"]) == 0
    assert json.loads(out.read_text()) == json.loads(src.read_text())
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"image_id": 1, "category_id": 2, "bbox": [1, 2, 3], "score": 0.5}]))
    out2 = tmp_path / "out2.json"
    assert cli.main(["convert", str(bad), str(out2)]) != 0
    err = capsys.readouterr().err
    assert str(bad) in err and "$[0].bbox" in err and "'bbox'" in err
    assert not out2.exists()


# -- the companion file: names, sizes and images without predictions --------------------------------------
def test_write__companion_keeps_names_sizes_and_empty_frames_for_a_read_back(tmp_path: Path) -> None:
    cats = [predport.Category(id=0, name="Car"), predport.Category(id=1, name="Pedestrian")]
    frames = [
        predport.Frame(data_id="000000.png", width=1242, height=375, predictions=predport.Detections(
            category_id=[0, 1], score=[0.9, 0.4], box=[[1, 2, 3, 4], [5, 6, 7, 8]])),
        predport.Frame(data_id="000001.png", width=1242, height=375),
    ]
    data = predport.PredictionSet(categories=cats, frames=frames)
    with pytest.raises(predport.LossError) as err:  # the empty frame refuses, then the names would
        predport.save(data, tmp_path / "plain.json", format="coco")
    assert err.value.report["frames (without predictions)"] == 1
    summary = predport.save(data, tmp_path / "plain.json", format="coco", allow_loss="empty-frames,categories")
    assert summary["lost_content"] == {"categories.name": 2, "frames (without predictions)": 1}

    out, cats_file = tmp_path / "results.json", tmp_path / "categories.json"
    summary = predport.save(data, out, format="coco", options={"categories": str(cats_file)})
    assert summary["loss"] == {}
    companion = json.loads(cats_file.read_text())
    assert companion["categories"] == [{"id": 0, "name": "Car"}, {"id": 1, "name": "Pedestrian"}]
    assert companion["images"] == [
        {"id": "000000.png", "file_name": "000000.png", "width": 1242, "height": 375},
        {"id": "000001.png", "file_name": "000001.png", "width": 1242, "height": 375}]
    assert companion["annotations"] == []
    back = predport.load(out, options={"gt": str(cats_file)})
    assert [(f.data_id, len(f.predictions), f.width) for f in back.frames] == [
        ("000000.png", 2, 1242), ("000001.png", 0, 1242)]
    assert [c.name for c in back.categories] == ["Car", "Pedestrian"]
    # pycocotools reads the companion as a ground truth and the results against it.
    from pycocotools.coco import COCO
    import contextlib, io

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(cats_file))
        res = gt.loadRes(str(out))
    assert {a["image_id"] for a in res.anns.values()} == {"000000.png"} and len(res.anns) == 2
    assert sorted(gt.getImgIds()) == ["000000.png", "000001.png"]


def test_write__companion_is_not_left_behind_when_the_write_is_refused(tmp_path: Path) -> None:
    dets = predport.Detections(category_id=[1], score=[0.9], box=[[1, 2, 3, 4]], probabilities=[[0.1, 0.9]])
    data = prediction_set([predport.Frame(data_id="1", predictions=dets)])
    with pytest.raises(predport.LossError):
        predport.save(data, tmp_path / "r.json", format="coco", options={"categories": str(tmp_path / "c.json")})
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_write__ground_truth_names_are_not_lost(tmp_path: Path) -> None:
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps({"images": [{"id": 7, "file_name": "cat.jpg"}],
                              "categories": [{"id": 1, "name": "cat"}]}))
    dets = predport.Detections(category_id=[1], score=[0.9], box=[[1, 2, 3, 4]])
    named = predport.PredictionSet(categories=[predport.Category(id=1, name="cat")],
                                   frames=[predport.Frame(data_id="cat.jpg", predictions=dets)])
    assert predport.save(named, tmp_path / "a.json", format="coco", options={"gt": str(gt)})["loss"] == {}
    other = predport.PredictionSet(categories=[predport.Category(id=1, name="dog")], frames=named.frames)
    with pytest.raises(predport.LossError) as err:
        predport.save(other, tmp_path / "b.json", format="coco", options={"gt": str(gt)})
    assert err.value.report == {"categories.name (not the ground truth's name for the id)": 1}
