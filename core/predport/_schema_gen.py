"""Build the canonical JSON Schema from the pydantic models.

The committed file ``schemas/prediction-set-1.schema.json`` is the output of
this module; ``tests/test_schema.py`` fails when the models and the file drift
apart. After changing a model, regenerate with::

    python -m predport._schema_gen > core/predport/schemas/prediction-set-1.schema.json
"""
from __future__ import annotations

import json
from typing import Any


def build_prediction_set_schema() -> dict[str, Any]:
    from .model import PredictionSet
    from .registry import PREDICTION_SET_ID

    body = PredictionSet.model_json_schema(by_alias=True, mode="validation")
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": PREDICTION_SET_ID,
        "title": "predport prediction set, version 1",
        "description": (
            "Model predictions in one canonical form. Coordinates are pixels, origin top-left; "
            "boxes are [x, y, width, height]; masks are COCO compressed RLE (column-major, "
            "size [height, width]); scores are as given by the source, null when it has none."
        ),
    }
    body.pop("title", None)
    body.pop("description", None)
    schema.update(body)
    return schema


def main() -> None:
    print(json.dumps(build_prediction_set_schema(), indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
