"""predport.columns_json: boxes-only prediction lists written straight from the columns."""
from __future__ import annotations

import json

import numpy as np
import orjson
import pytest

import predport
from predport import Detections


def test_columns_json__hand_written_bytes() -> None:
    dets = Detections([3, 1], [0.25, None], [[0, 0, 2, 3], [1.5, 2, 0, 1]])
    assert predport.columns_json(dets) == (
        b'[{"category_id":3,"score":0.25,"box":[0.0,0.0,2.0,3.0]},'
        b'{"category_id":1,"score":null,"box":[1.5,2.0,0.0,1.0]}]'
    )


def test_columns_json__attributes_after_the_box_empty_ones_left_out() -> None:
    dets = Detections([1, 2, 3], [0.5, 0.5, 0.5], np.ones((3, 4)),
                      attributes=[{"track": 7}, {}, None])
    blob = predport.columns_json(dets)
    assert blob == (b'[{"category_id":1,"score":0.5,"box":[1.0,1.0,1.0,1.0],"attributes":{"track":7}},'
                    b'{"category_id":2,"score":0.5,"box":[1.0,1.0,1.0,1.0]},'
                    b'{"category_id":3,"score":0.5,"box":[1.0,1.0,1.0,1.0]}]')
    assert blob == orjson.dumps(dets.to_records())


def test_columns_json__equals_the_records_for_awkward_floats() -> None:
    rng = np.random.default_rng(5)
    box = rng.random((50, 4)) * 1e4
    score = rng.random(50)
    score[::7] = np.nan
    dets = Detections(rng.integers(-5, 1 << 40, 50), score, box, checked=True)
    blob = predport.columns_json(dets)
    assert blob == orjson.dumps(dets.to_records())
    assert [r["box"] for r in json.loads(blob)] == box.tolist()  # shortest round trip, exact


@pytest.mark.parametrize("case", ["empty", "no box", "a NaN box row", "polygon", "non-dict attributes",
                                  "unserialisable attribute"])
def test_columns_json__none_sends_the_writer_the_general_way(case: str) -> None:
    box = np.array([[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 2.0, 2.0]])
    dets = {
        "empty": Detections.empty(),
        "no box": Detections([1, 2], [0.5, 0.5]),
        "a NaN box row": Detections([1, 2], [0.5, 0.5], np.array([[0.0, 0.0, 1.0, 1.0], [np.nan] * 4])),
        "polygon": Detections([1, 2], [0.5, 0.5], box, polygon=[[[0, 0, 1, 0, 1, 1]], None]),
        "non-dict attributes": Detections([1, 2], [0.5, 0.5], box, checked=True),
        "unserialisable attribute": Detections([1, 2], [0.5, 0.5], box, attributes=[{"x": object()}, None]),
    }[case]
    if case == "non-dict attributes":
        dets.attributes = ["label", None]  # what a careless plugin might hand over
    assert predport.columns_json(dets) is None


def test_columns_json__refuses_columns_the_model_refuses() -> None:
    # Built unchecked, as a reader that skipped its batch check would: never written as JSON.
    bad_w = Detections([1], [0.5], np.array([[0.0, 0.0, -1.0, 1.0]]), checked=True)
    inf_score = Detections([1], np.array([np.inf]), np.array([[0.0, 0.0, 1.0, 1.0]]), checked=True)
    assert predport.columns_json(bad_w) is None
    assert predport.columns_json(inf_score) is None


def test_canonical_writer_uses_it(tmp_path) -> None:
    frame = predport.Frame(data_id="a.jpg", predictions=Detections([1], [0.5], [[1, 2, 3, 4]]))
    ps = predport.PredictionSet(categories=[predport.Category(id=1, name="car")], frames=[frame])
    out = tmp_path / "out.json"
    predport.save(ps, out)
    doc = json.loads(out.read_text())
    assert doc["frames"][0]["predictions"] == [{"category_id": 1, "score": 0.5, "box": [1.0, 2.0, 3.0, 4.0]}]
