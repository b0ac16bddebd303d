"""Shared fixtures of the core tests: an isolated hub per test, small canonical data."""
from __future__ import annotations

import numpy as np
import pytest

import predport


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> "predport.Hub":
    """A fresh process-wide hub (entry points loaded), restored after the test."""
    monkeypatch.delenv("PREDPORT_STRICT", raising=False)
    monkeypatch.delenv("PREDPORT_BLOCK", raising=False)
    new = predport.Hub()
    old = predport.reset_hub(new)
    yield new
    predport.reset_hub(old)


@pytest.fixture
def small_set() -> "predport.PredictionSet":
    """Two frames, one with every kind of geometry, one empty."""
    dets = predport.Detections(
        category_id=[1, 2, 1],
        score=[0.9, None, 97.85],
        box=[[10.0, 20.0, 30.5, 40.25], [np.nan] * 4, [0.0, 0.0, 1.0, 1.0]],
        polygon=[None, [[0.0, 0.0, 4.0, 0.0, 4.0, 3.0]], None],
        mask=[None, None, {"size": [3, 4], "counts": "411101"}],
        keypoints=[[[1.0, 2.0, 2.0], [3.0, 4.0, None]], None, None],
        probabilities=[[0.1, 0.9], None, None],
        attributes=[{"truncated": 0.5}, None, None],
    )
    return predport.PredictionSet(
        source=predport.SourceInfo(format="test", uri="mem", plugin="tests"),
        categories=[predport.Category(id=1, name="car"), predport.Category(id=2, name="person", external_id="OTk2")],
        frames=[
            predport.Frame(data_id="a.jpg", width=640, height=480, predictions=dets),
            predport.Frame(data_id="clip.mp4", frame_index=3),
        ],
    )
