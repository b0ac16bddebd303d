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
