"""The committed JSON Schema stays in step with the pydantic models and validates real output."""
from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import orjson
import pytest

import predport
from predport._schema_gen import build_prediction_set_schema

SCHEMA_FILE = Path(predport.__file__).parent / "schemas" / "prediction-set-1.schema.json"


def test_schema__committed_file_equals_schema_generated_from_models():
    committed = json.loads(SCHEMA_FILE.read_text())
    assert committed == build_prediction_set_schema(), (
        "models and committed schema drifted; regenerate with "
        "python -m predport._schema_gen > core/predport/schemas/prediction-set-1.schema.json"
    )


def test_schema__is_a_valid_draft_2020_12_schema_with_stable_id():
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$id"] == predport.PREDICTION_SET_ID
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_schema__written_document_validates_with_independent_validator(tmp_path, hub, small_set):
    out = tmp_path / "p.json"
    predport.save(small_set, out)
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text()))
    assert list(validator.iter_errors(orjson.loads(out.read_bytes()))) == []


@pytest.mark.parametrize(
    "mutate, path",
    [
        (lambda d: d["frames"][0]["predictions"][0].pop("score"), "score"),
        (lambda d: d["frames"][0]["predictions"][0]["box"].pop(), "box"),
        (lambda d: d["frames"][0]["predictions"][0].__setitem__("box", [0, 0, -1, 2]), "box"),
        (lambda d: d["frames"][0].__setitem__("data_id", ""), "data_id"),
        (lambda d: d["frames"][0]["predictions"][0].__setitem__("colour", "red"), "colour"),
        (lambda d: d["frames"][0]["predictions"][2]["mask"].__setitem__("counts", [4, 1]), "counts"),
    ],
)
def test_schema__rejects_broken_documents(tmp_path, hub, small_set, mutate, path):
    doc = small_set.to_json_dict()
    mutate(doc)
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text()))
    assert list(validator.iter_errors(doc)), "independent validator accepted a broken document"
    with pytest.raises(predport.SchemaValidationError) as info:
        hub.registry.validate(predport.PREDICTION_SET_ID, doc, file="x.json")
    assert "$.frames[0]" in str(info.value)


def test_registry__plugin_schema_id_conflict_is_refused(hub):
    reg = hub.registry
    reg.register({"$id": "urn:test:a", "type": "object"}, owner="one")
    with pytest.raises(predport.ConfigError, match="already registered by one"):
        reg.register({"$id": "urn:test:a", "type": "object"}, owner="two")


def test_canonical_writer__fast_box_path_equals_schema_validated_path(tmp_path, hub):
    """Columns refuse what the schema refuses; boxes-only frames skip per-record dicts and write the schema path's bytes."""
    import numpy as np
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    values = st.one_of(st.floats(-1e9, 1e9), st.sampled_from([0.0, -0.0, 1e-300, -1.5, float("inf"),
                                                              float("-inf"), float("nan")]))

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(rows=st.lists(st.tuples(st.integers(-5, 2**40), st.one_of(st.none(), values),
                                   st.tuples(values, values, values, values)), min_size=1, max_size=5))
    def check(rows):
        boxes = np.array([r[2] for r in rows], dtype=float)
        scores = np.array([np.nan if r[1] is None else r[1] for r in rows], dtype=float)
        # The columns' rules (FORMATS.md, the canonical schema): a score is finite or None (a
        # NaN given as a number is refused); a box row is all NaN (no box) or finite with
        # width and height >= 0.
        nan_rows = np.isnan(boxes).all(axis=1)
        with_box = boxes[~nan_rows]
        columns_ok = bool(np.isfinite(with_box).all() and (with_box[:, 2:] >= 0).all()
                          and np.isfinite(scores[[r[1] is not None for r in rows]]).all())
        try:
            dets = predport.Detections([r[0] for r in rows], [r[1] for r in rows], [list(r[2]) for r in rows])
        except predport.ParseError:
            assert not columns_ok
            return
        assert columns_ok
        frame = predport.Frame(data_id="f", predictions=dets)
        ps = predport.PredictionSet(frames=[frame])
        doc = frame.to_json_dict()
        # What the columns accept, the schema accepts, and both writer paths write the same bytes.
        assert hub.registry.is_valid(predport.FRAME_REF, doc)
        out = tmp_path / "o.json"
        if out.exists():
            out.unlink()
        predport.save(ps, out)
        written = orjson.loads(out.read_bytes())["frames"][0]
        assert written == orjson.loads(orjson.dumps(doc))

    check()


def test_canonical_writer__fast_path_with_attributes_writes_the_general_bytes(tmp_path, hub):
    attrs = [{"uuid": "f_inf_0", "sensor": "cam"}, None, {}, {"nested": {"a": [1, 2.5, None]}, "s": "x},{y"}]
    dets = predport.Detections([1, 2, 3, 4], [0.5, None, 1e-7, 97.85],
                               [[1, 2, 3, 4], [0, 0, 0, 0], [1.5, 2.5, 3.5, 4.5], [9, 9, 1, 1]], attributes=attrs)
    frame = predport.Frame(data_id="f", predictions=dets)
    out = tmp_path / "o.json"
    predport.save(predport.PredictionSet(frames=[frame]), out)
    written = orjson.loads(out.read_bytes())["frames"][0]
    assert written == orjson.loads(orjson.dumps(frame.to_json_dict()))
    assert out.read_bytes().count(orjson.dumps(frame.to_json_dict()["predictions"])) == 1
