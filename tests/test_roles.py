"""Reading as predictions or as ground truth: the role travels on the context, the hub checks it."""
from __future__ import annotations

import types

import numpy as np
import pytest

import predport


def test_role__unknown_role_is_refused():
    with pytest.raises(predport.ConfigError, match="unknown role 'labels'"):
        predport.make_context(role="labels")


def test_role__context_says_its_role():
    assert predport.make_context().role == "predictions" and not predport.make_context().ground_truth
    assert predport.make_context(role="ground_truth").ground_truth


def test_role__a_format_that_reads_predictions_only_refuses_ground_truth(hub, tmp_path, small_set):
    src = tmp_path / "in.json"
    predport.save(small_set, src)

    @predport.hookimpl
    def formats():
        return [predport.FormatInfo(id="preds-only", title="t", can_read=True)]

    @predport.hookimpl
    def parse(source, format):
        raise AssertionError("the reader must not run")

    hub.register(types.SimpleNamespace(formats=formats, parse=parse), name="predsonly")
    with pytest.raises(predport.ConfigError) as err:
        predport.load(src, format="preds-only", role="ground_truth")
    assert "reads predictions only, not ground truth" in str(err.value)
    assert "coco" in (err.value.hint or "")  # names the formats that do read ground truth


def test_role__ground_truth_with_scores_is_refused_as_predictions(hub, tmp_path, small_set):
    src = tmp_path / "in.json"
    predport.save(small_set, src)
    with pytest.raises(predport.ParseError) as err:
        predport.load(src, role="ground_truth")
    assert "read as ground truth, but this is predictions" in str(err.value)
    assert err.value.field == "score"


def test_role__canonical_without_scores_reads_as_ground_truth(hub, tmp_path):
    labels = predport.PredictionSet(
        categories=[predport.Category(id=1, name="car")],
        frames=[predport.Frame(data_id="a.jpg", predictions=predport.Detections([1], None, [[0, 0, 2, 2]]))])
    src = tmp_path / "gt.json"
    predport.save(labels, src)
    got = predport.load(src, role="ground_truth")
    assert np.isnan(got.frames[0].predictions.score).all() and got.frames[0].predictions.box.tolist() == [[0, 0, 2, 2]]


def test_role__votes_for_the_other_role_never_win(hub, tmp_path):
    src = tmp_path / "x.lbl"
    src.write_text("labels")

    @predport.hookimpl
    def formats():
        return [predport.FormatInfo(id="lbl", title="t", roles=("predictions", "ground_truth"))]

    @predport.hookimpl
    def detect_format(source):
        if source.suffix == ".lbl":
            return predport.FormatMatch("lbl", predport.Confidence.HIGH, "a label file", role="ground_truth")
        return None

    hub.register(types.SimpleNamespace(formats=formats, detect_format=detect_format), name="lbl")
    with pytest.raises(predport.UnknownFormatError) as err:
        hub.pick(src)
    assert "[ground truth, not predictions]" in str(err.value) and "role='ground_truth'" in str(err.value)
    assert hub.pick(src, role="ground_truth").id == "lbl"


def test_role__format_roles_are_checked():
    with pytest.raises(ValueError):
        predport.FormatInfo(id="x", title="x", roles=("labels",))
    with pytest.raises(ValueError):
        predport.FormatMatch("x", 50, "r", role="labels")
    assert predport.FormatInfo(id="x", title="x").to_dict()["roles"] == ["predictions"]
