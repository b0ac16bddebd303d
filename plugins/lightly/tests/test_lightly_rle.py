"""Lightly row-major RLE <-> canonical COCO compressed RLE: hand-computed cases and properties.

Independent references: the worked example of FORMATS.md §3.4/§4.4 (hand-computed,
verified there with pycocotools), and pycocotools itself for the COCO side.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocotools import mask as mask_utils

import predport
from predport_lightly.rle import check_counts, coco_to_lightly, lightly_to_coco, mask_to_lightly

WORKED = np.array([[0, 0, 1, 1], [0, 1, 1, 1], [0, 0, 0, 1]], dtype=np.uint8)


def test_rle__worked_example_lightly_2_2_1_3_3_1_is_coco_4_1_1_2_1_3() -> None:
    assert mask_to_lightly(WORKED) == [2, 2, 1, 3, 3, 1]
    coco = lightly_to_coco([2, 2, 1, 3, 3, 1], 3, 4)
    assert coco == {"size": [3, 4], "counts": "411101"}
    # The same string pycocotools gives for the uncompressed column-major counts.
    ref = mask_utils.frPyObjects({"size": [3, 4], "counts": [4, 1, 1, 2, 1, 3]}, 3, 4)
    assert ref["counts"].decode() == "411101"
    assert coco_to_lightly(coco) == [2, 2, 1, 3, 3, 1]


@pytest.mark.parametrize(
    ("mask", "lightly", "coco"),
    [
        ([[1, 1], [1, 0]], [0, 3, 1], "031"),  # starts with foreground: first run is 0 zeros
        ([[0, 0, 0], [0, 0, 0]], [6], "6"),  # all zero
        ([[1, 1, 1], [1, 1, 1]], [0, 6], "06"),  # all one
    ],
)
def test_rle__vectors_from_formats_md(mask: list, lightly: list, coco: str) -> None:
    m = np.array(mask, dtype=np.uint8)
    assert mask_to_lightly(m) == lightly
    h, w = m.shape
    assert lightly_to_coco(lightly, h, w) == {"size": [h, w], "counts": coco}
    assert coco_to_lightly({"size": [h, w], "counts": coco}) == lightly


@pytest.mark.parametrize(
    ("counts", "why"),
    [
        ([2, 2, 1, 3, 3], "sum to 11"),
        ([2, -2, 1, 3, 3, 5], "non-negative"),
        ([2, 2.5, 8], "non-negative integer"),
        ("2 2 8", "list of run lengths"),
    ],
)
def test_rle__check_counts_explains_bad_runs(counts: object, why: str) -> None:
    assert why in (check_counts(counts, 3, 4) or "")


def test_rle__valid_counts_pass_check() -> None:
    assert check_counts([2, 2, 1, 3, 3, 1], 3, 4) is None


masks = st.integers(1, 12).flatmap(
    lambda h: st.integers(1, 12).flatmap(
        lambda w: st.lists(st.integers(0, 1), min_size=h * w, max_size=h * w).map(
            lambda v: np.array(v, dtype=np.uint8).reshape(h, w)
        )
    )
)


@settings(max_examples=300, deadline=None)
@given(masks)
def test_rle__random_mask_lightly_canonical_lightly_exact(m: np.ndarray) -> None:
    lightly = mask_to_lightly(m)
    assert sum(lightly) == m.size
    h, w = m.shape
    canonical = lightly_to_coco(lightly, h, w)
    assert np.array_equal(mask_utils.decode({"size": [h, w], "counts": canonical["counts"].encode()}), m)
    assert coco_to_lightly(canonical) == lightly


@settings(max_examples=300, deadline=None)
@given(masks)
def test_rle__random_mask_canonical_lightly_canonical_exact(m: np.ndarray) -> None:
    enc = mask_utils.encode(np.asfortranarray(m))
    canonical = {"size": [int(v) for v in enc["size"]], "counts": enc["counts"].decode()}
    h, w = m.shape
    assert lightly_to_coco(coco_to_lightly(canonical), h, w) == canonical


def _seg_folder(root: Path, counts: list, task_type: str = "semantic-segmentation") -> Path:
    folder = root / "seg"
    folder.mkdir(parents=True)
    (folder / "schema.json").write_text(json.dumps({"task_type": task_type, "categories": [{"id": 3, "name": "road"}]}))
    pred = {"category_id": 3, "segmentation": counts, "score": 0.9}
    if task_type == "instance-segmentation":
        pred["bbox"] = [1, 0, 3, 3]
    (folder / "img.json").write_text(json.dumps({"file_name": "img.png", "predictions": [pred]}))
    return folder


@pytest.mark.parametrize("task_type", ["semantic-segmentation", "instance-segmentation"])
def test_rle__folder_round_trip_both_directions(tmp_path: Path, task_type: str) -> None:
    folder = _seg_folder(tmp_path, [2, 2, 1, 3, 3, 1], task_type)
    ps = predport.load(folder, image_sizes={"img.png": (4, 3)})
    rec = ps.frames[0].predictions.to_records()[0]
    assert rec["mask"] == {"size": [3, 4], "counts": "411101"}
    assert (ps.frames[0].width, ps.frames[0].height) == (4, 3)
    predport.save(ps, tmp_path / "out", format="lightly", allow_loss=True)  # width/height are not stored
    written = json.loads((tmp_path / "out" / "seg" / "img.json").read_text())
    assert written["predictions"][0]["segmentation"] == [2, 2, 1, 3, 3, 1]
    again = predport.load(tmp_path / "out", image_sizes={"img.png": (4, 3)})
    assert again.frames[0].predictions.to_records() == ps.frames[0].predictions.to_records()


def test_rle__missing_image_size_is_an_error_naming_image_and_remedy(tmp_path: Path) -> None:
    folder = _seg_folder(tmp_path, [2, 2, 1, 3, 3, 1])
    with pytest.raises(predport.ConfigError) as exc:
        predport.load(folder)
    msg = str(exc.value)
    assert "'img.png'" in msg and "image_sizes=" in msg and "images=" in msg


def test_rle__size_from_image_folder_headers(tmp_path: Path) -> None:
    from PIL import Image

    folder = _seg_folder(tmp_path / "p", [2, 2, 1, 3, 3, 1])
    (tmp_path / "images").mkdir()
    Image.new("L", (4, 3)).save(tmp_path / "images" / "img.png")
    ps = predport.load(folder, images=tmp_path / "images")
    assert ps.frames[0].predictions.to_records()[0]["mask"]["counts"] == "411101"


def test_rle__sum_not_height_times_width_is_parse_error_with_json_path(tmp_path: Path) -> None:
    folder = _seg_folder(tmp_path, [2, 2, 1, 3, 3])
    with pytest.raises(predport.ParseError) as exc:
        predport.load(folder, image_sizes={"img.png": (4, 3)})
    assert exc.value.json_path == "$.predictions[0].segmentation"
    assert exc.value.file.endswith("img.json") and "sum to 11" in str(exc.value)
