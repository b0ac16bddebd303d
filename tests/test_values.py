"""The shared value helpers (predport.is_number, parse_number, parse_bool, clamp_boxes),
against hand-computed cases."""
from __future__ import annotations

import math

import numpy as np
import pytest

import predport


@pytest.mark.parametrize("value, number, finite", [
    (0, True, True), (-7, True, True), (2.5, True, True), (np.float64(1.5), True, True),
    (math.nan, True, False), (math.inf, True, False), (-math.inf, True, False),
    (True, False, False), (False, False, False), ("3", False, False), (b"3", False, False),
    (None, False, False), ([1], False, False), (1 + 2j, False, False),
])
def test_is_number(value: object, number: bool, finite: bool) -> None:
    assert predport.is_number(value) is number
    assert predport.is_number(value, finite=True) is finite


@pytest.mark.parametrize("text, finite, allowed", [
    ("2.50", 2.5, 2.5), (b"-1e2", -100.0, -100.0), (" 7 ", 7.0, 7.0), ("0x10", None, None),
    ("", None, None), ("1,5", None, None), ("abc", None, None), (b"", None, None),
    ("nan", None, "nan"), ("inf", None, math.inf), (b"-inf", None, -math.inf),
])
def test_parse_number(text: str | bytes, finite: float | None, allowed: object) -> None:
    assert predport.parse_number(text) == finite
    got = predport.parse_number(text, finite=False)
    if allowed == "nan":
        assert got is not None and math.isnan(got)
    else:
        assert got == allowed


@pytest.mark.parametrize("value, flag", [
    (True, True), (False, False), (1, True), (0, False), (2, None), (-1, None),
    ("true", True), (" Yes ", True), ("ON", True), ("1", True), (b"on", True),
    ("false", False), ("No", False), ("off", False), ("0", False),
    ("nope", None), ("", None), ("t", None), (None, None), (1.0, None), ("2", None),
])
def test_parse_bool(value: object, flag: bool | None) -> None:
    assert predport.parse_bool(value) is flag


def test_parse_bool_is_what_bool_options_accept() -> None:
    opt = predport.Option("keep", "bool", False, "keep it")
    from predport.options import resolve_options

    for word in ("Yes", "off", "1"):
        assert resolve_options((opt,), {"keep": word}, format="x")["keep"] is predport.parse_bool(word)
    with pytest.raises(predport.OptionError):
        resolve_options((opt,), {"keep": "nope"}, format="x")


def test_clamp_boxes__hand_computed() -> None:
    boxes = np.array([
        [-5.0, 2.0, 10.0, 4.0],   # left of the 8x5 image, bottom below: x 0..5, y 2..5
        [1.0, 1.0, 2.0, 2.0],     # inside: unchanged
        [6.0, -1.0, 4.0, 3.0],    # right and top out: x 6..8, y 0..2
        [9.0, 6.0, 1.0, 1.0],     # wholly outside (beyond the corner): empty box at (8, 5)
        [np.nan] * 4,             # no box: stays NaN, not counted
        [0.1, 0.1, 0.2, 0.2],     # inside, with values whose x + w - x is not w: kept exactly
    ])
    out, changed = predport.clamp_boxes(boxes, 8, 5)
    assert changed == 3
    assert out[:4].tolist() == [[0.0, 2.0, 5.0, 3.0], [1.0, 1.0, 2.0, 2.0], [6.0, 0.0, 2.0, 2.0],
                                [8.0, 5.0, 0.0, 0.0]]
    assert np.isnan(out[4]).all()
    assert out[5].tolist() == [0.1, 0.1, 0.2, 0.2]
    assert boxes[0].tolist() == [-5.0, 2.0, 10.0, 4.0]  # the input is not changed


def test_clamp_boxes__nothing_outside_returns_the_same_array() -> None:
    boxes = np.array([[0.0, 0.0, 8.0, 5.0], [2.0, 3.0, 1.0, 1.0]])
    out, changed = predport.clamp_boxes(boxes, 8, 5)
    assert changed == 0 and out is boxes
    empty, none = predport.clamp_boxes(np.zeros((0, 4)), 8, 5)
    assert none == 0 and empty.shape == (0, 4)
    with pytest.raises(ValueError, match=r"shape \(N, 4\)"):
        predport.clamp_boxes(np.zeros((2, 3)), 8, 5)


def test_every_helper_of_docs_helpers_md_is_public_and_documented() -> None:
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "helpers.md").read_text()
    sections = re.findall(r"^## (\S+)$", text, flags=re.M)
    assert {"columns_json", "ordered_map", "is_number", "parse_number", "parse_bool", "clamp_boxes",
            "read_bytes", "Detections.columns_ok"} <= set(sections)
    for name in sections:
        top = name.split(".")[0]
        assert top in predport.__all__, name
        obj = getattr(predport, top)
        for part in name.split(".")[1:]:
            obj = getattr(obj, part)
        assert (obj.__doc__ or "").strip(), f"{name} has no docstring"
