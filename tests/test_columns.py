"""Column validation: a Frame built from Detections columns is refused for exactly what the
same predictions as dicts are refused for, with the same located PredportError."""
from __future__ import annotations

import math
import types

import numpy as np
import pytest

import predport
from predport import Detections, Frame

INF, NAN = math.inf, math.nan

# (score, box) of one prediction the canonical model refuses, and the field and words the
# error must carry (FORMATS.md: scores are finite or null, box [x, y, w, h] with w, h >= 0).
BAD = {
    "infinite score": (INF, [0, 0, 1, 1], "score", "score: Input should be a finite number (got inf)"),
    "minus infinite score": (-INF, None, "score", "score: Input should be a finite number (got -inf)"),
    "negative width": (0.5, [10, 20, -3, 4], "box", "box width: Input should be greater than or equal to 0"),
    "negative height": (0.5, [10, 20, 3, -4], "box", "box height: Input should be greater than or equal to 0"),
    "infinite x": (0.5, [INF, 20, 3, 4], "box", "box x: Input should be a finite number (got inf)"),
    "half a box (NaN y)": (0.5, [1, NAN, 3, 4], "box", "box y: Input should be a finite number (got nan)"),
}


def _as_dict(score, box):
    rec = {"category_id": 1, "score": score}
    if box is not None:
        rec["box"] = box
    return rec


def _as_columns(score, box, before=0):
    """The same prediction as columns, after ``before`` good rows."""
    n = before + 1
    sc = np.full(n, 0.5)
    sc[-1] = score
    bx = None
    if box is not None:
        bx = np.tile([1.0, 2.0, 3.0, 4.0], (n, 1))
        bx[-1] = box
    return Detections(np.ones(n, dtype=np.int64), sc, bx)


@pytest.mark.parametrize("case", sorted(BAD))
def test_columns__refused_exactly_as_the_same_dicts(case):
    score, box, field, words = BAD[case]
    with pytest.raises(predport.ParseError) as as_dicts:
        Frame(data_id="a.jpg", predictions=[_as_dict(score, box)])
    with pytest.raises(predport.ParseError) as as_columns:
        Frame(data_id="a.jpg", predictions=_as_columns(score, box))
    for err in (as_dicts.value, as_columns.value):
        assert err.field == field
        assert err.message.startswith("prediction 0: ") and words in err.message
    assert as_columns.value.message.replace(".0)", ")") == as_dicts.value.message.replace(".0)", ")")


def test_columns__bad_row_is_located_among_many():
    with pytest.raises(predport.ParseError, match=r"field .box.: prediction 1234: box width") as err:
        _as_columns(0.5, [0, 0, -1e-9, 1], before=1234)
    assert err.value.field == "box"
    with pytest.raises(predport.ParseError, match=r"prediction 7: score"):
        _as_columns(INF, None, before=7)


def test_columns__what_the_model_allows_is_kept():
    d = Detections([1, 2, 3], score=np.array([NAN, 0.0, 97.85]),
                   box=np.array([[0, 0, 0, 0], [NAN] * 4, [-5, -5, 1, 1]], dtype=float))
    assert d.to_records() == [
        {"category_id": 1, "score": None, "box": [0.0, 0.0, 0.0, 0.0]},
        {"category_id": 2, "score": 0.0},
        {"category_id": 3, "score": 97.85, "box": [-5.0, -5.0, 1.0, 1.0]},
    ]
    assert len(Detections.empty()) == 0 and len(Detections([], score=[], box=np.zeros((0, 4)))) == 0


def test_columns__a_nan_given_as_a_number_is_not_taken_for_no_score():
    # As dicts, NaN is refused and None means "no score"; a list of scores says the same.
    with pytest.raises(predport.ParseError, match=r"prediction 1: score: .*finite number \(got nan"):
        Detections([1, 2], score=[0.5, float("nan")])
    assert Detections([1, 2], score=[0.5, None]).to_records()[1]["score"] is None


@pytest.mark.parametrize("kwargs, field, words", [
    ({"category_id": [1, 2], "score": [0.5]}, "score", "score has 1 rows, category_id has 2"),
    ({"category_id": [1], "box": [[1, 2, 3]]}, "box", "box must have shape (1, 4), got (1, 3)"),
    ({"category_id": [1, 2], "box": np.zeros((3, 4))}, "box", "box must have shape (2, 4), got (3, 4)"),
    ({"category_id": [[1, 2], [3, 4]]}, "category_id", "one-dimensional, got shape (2, 2)"),
    ({"category_id": [1], "score": np.zeros((1, 2))}, "score", "one-dimensional, got shape (1, 2)"),
    ({"category_id": [1.0, 2.5]}, "category_id", "prediction 1: category_id: not an integer (got 2.5)"),
    ({"category_id": [1], "polygon": [None, None]}, "polygon", "polygon has 2 rows, category_id has 1"),
])
def test_columns__wrong_shapes_are_located_errors(kwargs, field, words):
    with pytest.raises(predport.ParseError) as err:
        Detections(**kwargs)
    assert err.value.field == field and words in err.value.message


def test_columns__integral_float_ids_are_ids():
    assert Detections(np.array([1.0, 7.0])).category_id.tolist() == [1, 7]


def test_columns__take_and_concat_of_valid_columns_stay_valid():
    d = _as_columns(0.5, [1, 2, 3, 4], before=3)
    assert len(Detections.concat([d, d.take([0, 2])])) == 6


def test_columns__a_reader_yielding_bad_columns_fails_at_read_naming_the_plugin(tmp_path, hub):
    # model_construct skips pydantic: the check in Detections still runs, before any writing.
    def formats():
        return [predport.FormatInfo(id="cols", title="columns")]

    def parse(source, format):
        return iter([1])

    def to_canonical(records, format, context):
        for _ in records:
            yield predport.Frame.model_construct(
                data_id="a.jpg", frame_index=None, width=None, height=None, attributes={},
                predictions=Detections(np.array([0, 0]), np.array([0.5, 0.25]),
                                       np.array([[1.0, 2, 3, 4], [1, 2, 3, -4]])))

    mod = types.SimpleNamespace(formats=predport.hookimpl(formats), parse=predport.hookimpl(parse),
                                to_canonical=predport.hookimpl(to_canonical))
    hub.register(mod, name="cols")
    src = tmp_path / "x.cols"
    src.write_text("x")
    out = tmp_path / "out.json"
    with pytest.raises(predport.ParseError) as err:
        predport.convert(src, out, format="cols")
    assert err.value.plugin.startswith("cols") and err.value.field == "box"
    assert "prediction 1: box height: Input should be greater than or equal to 0 (got -4.0)" in err.value.message
    assert not out.exists()


def test_columns__empty_columns_are_empty_arrays_never_none(small_set):
    d = small_set.frames[0].predictions
    for empty in (Detections.empty(), Detections.from_records([]), Detections([], score=None),
                  d.take(np.zeros(len(d), dtype=bool)), Frame(data_id="x").predictions,
                  Detections.concat([])):
        assert empty.category_id.shape == (0,) and empty.score.shape == (0,)
        assert isinstance(empty.box, np.ndarray) and empty.box.shape == (0, 4)
        assert empty.box[:2].tolist() == [] and not empty.has("box") and empty.to_records() == []
    # With rows, None still says "no row has a box" (a frame of masks only).
    assert Detections([1], score=[0.5], mask=[{"size": [1, 1], "counts": "1"}]).box is None


@pytest.mark.parametrize("case", sorted(BAD))
def test_columns__a_batch_is_checked_once_with_columns_ok(case):
    score, box, _field, _words = BAD[case]
    good = _as_columns(0.5, [1, 2, 3, 4], before=99)
    assert Detections.columns_ok(good.score, good.box)
    bad = np.concatenate([good.score, [score]]), None
    if box is not None:
        bad = bad[0], np.vstack([good.box, [box]])
    assert not Detections.columns_ok(*bad)
    # Slices of a checked batch skip the per-frame check; shapes are still checked.
    part = Detections(good.category_id[:10], good.score[:10], good.box[:10], checked=True)
    assert len(part) == 10
    with pytest.raises(predport.ParseError, match="box must have shape"):
        Detections(good.category_id[:10], good.score[:10], good.box[:9], checked=True)


def test_columns__no_score_rows_and_no_box_rows_pass_the_batch_check():
    score = np.array([np.nan, 0.5, np.nan])
    box = np.array([[np.nan] * 4, [1.0, 2, 3, 4], [0.0, 0, 0, 0]])
    assert Detections.columns_ok(score, box) and Detections.columns_ok(score, None)
    assert Detections.columns_ok(np.array([1e308, 1e308]), None)  # the sum overflows; no value is infinite
