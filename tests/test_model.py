"""The canonical model: columns, the per-prediction view, and canonical JSON round trips."""
from __future__ import annotations

import math

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import predport
from predport import Detections, Frame, PredictionSet


def test_detections__none_score_is_nan_in_column_and_null_in_json():
    d = Detections([3], score=[None], box=[[1, 2, 3, 4]])
    assert math.isnan(d.score[0])
    assert d.to_records() == [{"category_id": 3, "score": None, "box": [1.0, 2.0, 3.0, 4.0]}]


def test_detections__row_without_box_has_no_box_key():
    d = Detections([1, 2], score=[0.5, 0.25], box=[[1, 2, 3, 4], [np.nan] * 4])
    recs = d.to_records()
    assert "box" in recs[0] and "box" not in recs[1]
    assert d.count("box") == 1


def test_detections__length_mismatch_is_an_error():
    with pytest.raises(predport.ParseError, match="score has 1 rows"):
        Detections([1, 2], score=[0.5])
    with pytest.raises(predport.ParseError, match="box must have shape"):
        Detections([1], box=[[1, 2, 3]])


def test_detections__concat_and_take_keep_rows(small_set):
    d = small_set.frames[0].predictions
    both = Detections.concat([d, Detections([7], score=[0.1], box=[[1, 1, 1, 1]])])
    assert len(both) == 4
    assert both.to_records()[:3] == d.to_records()
    assert both.to_records()[3] == {"category_id": 7, "score": 0.1, "box": [1.0, 1.0, 1.0, 1.0]}
    picked = d.take(np.array([False, True, False]))
    assert picked.to_records() == [d.to_records()[1]]


def test_detections__per_prediction_view_validates(small_set):
    preds = list(small_set.frames[0].predictions)
    assert preds[0].box == (10.0, 20.0, 30.5, 40.25)
    assert preds[1].score is None and preds[1].polygon == [[0.0, 0.0, 4.0, 0.0, 4.0, 3.0]]
    assert preds[2].mask.size == (3, 4) and preds[2].mask.counts == "411101"


def test_prediction__rejects_negative_width_and_nan():
    with pytest.raises(Exception):
        predport.Prediction(category_id=1, score=0.5, box=(0, 0, -1, 2))
    with pytest.raises(Exception):
        predport.Prediction(category_id=1, score=float("nan"))


def test_frame__accepts_list_of_prediction_dicts():
    f = Frame(data_id="x", predictions=[{"category_id": 1, "score": 0.5, "box": [0, 0, 2, 2]}])
    assert isinstance(f.predictions, Detections) and len(f.predictions) == 1


def test_prediction_set__summary_counts_fields(small_set):
    s = small_set.summary()
    assert s == {"frames": 2, "predictions": 3, "categories": 2,
                 "with": {"score": 2, "box": 2, "polygon": 1, "mask": 1, "keypoints": 1,
                          "probabilities": 1, "attributes": 1}}


def test_canonical__save_and_load_round_trip(tmp_path, hub, small_set):
    out = tmp_path / "p.json"
    summary = predport.save(small_set, out)
    assert summary["frames"] == 2 and summary["predictions"] == 3
    doc = orjson.loads(out.read_bytes())
    assert doc["schema"] == "predport/prediction-set/1"
    assert doc["frames"][0]["predictions"][1]["score"] is None
    back = predport.load(out)
    assert [c.model_dump() for c in back.categories] == [c.model_dump() for c in small_set.categories]
    for a, b in zip(back.frames, small_set.frames):
        assert a.to_json_dict() == b.to_json_dict()


def test_canonical_jsonl__one_frame_per_line(tmp_path, hub, small_set):
    out = tmp_path / "p.jsonl"
    predport.save(small_set, out, "canonical-jsonl")
    lines = out.read_bytes().splitlines()
    assert len(lines) == 3
    assert orjson.loads(lines[0])["frames"] == []
    assert orjson.loads(lines[2])["data_id"] == "clip.mp4"
    back = predport.load(out)
    assert [f.to_json_dict() for f in back.frames] == [f.to_json_dict() for f in small_set.frames]


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
size = st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False)
box = st.tuples(finite, finite, size, size)
row = st.fixed_dictionaries(
    {"category_id": st.integers(0, 90), "score": st.one_of(st.none(), finite)},
    optional={
        "box": box.map(list),
        "polygon": st.lists(st.lists(finite, min_size=6, max_size=12), min_size=1, max_size=3),
        "keypoints": st.lists(st.tuples(finite, finite, st.one_of(st.none(), finite)).map(list),
                              min_size=1, max_size=4),
        "probabilities": st.lists(st.floats(0, 1), min_size=1, max_size=4),
        "attributes": st.dictionaries(st.sampled_from(["a", "b", "truncated"]),
                                      st.one_of(st.integers(-(2**53), 2**53), st.text(max_size=5), st.none()), min_size=1),
    },
)
frame = st.builds(
    lambda data_id, idx, rows: Frame(data_id=data_id, frame_index=idx, predictions=rows),
    st.text(min_size=1, max_size=12),
    st.one_of(st.none(), st.integers(0, 10_000)),
    st.lists(row, max_size=6),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frames=st.lists(frame, max_size=4))
def test_canonical__property_round_trip_is_exact(tmp_path_factory, hub, frames):
    """Random frames survive canonical JSON and JSON Lines exactly (scores as given, null kept)."""
    ps = PredictionSet(categories=[predport.Category(id=i, name=f"c{i}") for i in range(91)], frames=frames)
    for fmt, name in (("canonical", "x.json"), ("canonical-jsonl", "x.jsonl")):
        out = tmp_path_factory.mktemp("rt") / name
        predport.save(ps, out, fmt)
        back = predport.load(out)
        assert [f.to_json_dict() for f in back.frames] == [f.to_json_dict() for f in frames]


def _doc_with_two_classes(path):
    ps = PredictionSet(
        categories=[predport.Category(id=1, name="car"), predport.Category(id=2, name="person")],
        frames=[Frame(data_id="a", predictions=Detections([1, 2, 1], [0.9, 0.8, 0.7], [[1, 2, 3, 4]] * 3))],
    )
    predport.save(ps, path)
    return path


def test_canonical__class_map_remaps_prediction_ids_and_drops_unmapped_rows(tmp_path, hub):
    src = _doc_with_two_classes(tmp_path / "in.json")
    stream = predport.open_stream(src, class_map={"car": 7})
    ps = stream.collect()
    assert [(c.id, c.name) for c in ps.categories] == [(7, "car")]
    assert ps.frames[0].predictions.category_id.tolist() == [7, 7]
    assert dict(stream.categories.unmapped) == {"person": 1}


def test_canonical__prediction_with_undeclared_category_is_a_located_error(tmp_path, hub):
    src = _doc_with_two_classes(tmp_path / "in.json")
    doc = orjson.loads(src.read_bytes())
    doc["frames"][0]["predictions"][2]["category_id"] = 99
    src.write_bytes(orjson.dumps(doc))
    with pytest.raises(predport.ParseError) as info:
        predport.load(src)
    assert "$.frames[0].predictions[2].category_id" in str(info.value) and "99" in str(info.value)
    assert len(predport.load(src, policy="skip").frames) == 0


def test_canonical__document_saved_with_jsonl_name_is_read_as_a_document(tmp_path, hub):
    src = _doc_with_two_classes(tmp_path / "in.json")
    renamed = tmp_path / "doc.jsonl"
    renamed.write_bytes(src.read_bytes())
    assert predport.get_hub().pick(renamed).id == "canonical"
    assert len(predport.load(renamed).frames[0].predictions) == 3
    with pytest.raises(predport.ParseError, match="not JSON Lines"):
        predport.load(renamed, format="canonical-jsonl")


def test_canonical__schema_key_after_4_kib_is_still_detected(tmp_path, hub):
    cats = [predport.Category(id=i, name=f"class_{i:04d}") for i in range(300)]
    doc = PredictionSet(categories=cats, frames=[]).to_json_dict()
    p = tmp_path / "sorted.json"
    p.write_bytes(orjson.dumps({"categories": doc["categories"], "frames": [], "schema": doc["schema"],
                                "source": None}))
    assert p.read_bytes().index(b'"schema"') > 4096
    assert predport.get_hub().pick(p).id == "canonical"
