"""Acceptance: Encord records with normalised boxes -> COCO results -> Encord, boxes equal
within 1e-6 pixels given the image sizes (needs the predport-coco plugin)."""
from __future__ import annotations

import json
import uuid
from pathlib import Path

import numpy as np
import pytest

import predport

pytest.importorskip("predport_coco")


@pytest.fixture
def encord_file(tmp_path: Path) -> tuple[Path, dict[str, list[int]], list[dict]]:
    """300 boxes on 40 images of different sizes, as Encord would store them."""
    rng = np.random.default_rng(7)
    sizes: dict[str, list[int]] = {}
    records: list[dict] = []
    hashes = ["OTk2MzM3", "NzYyMjcx", "MjkXn2Mx"]
    for k in range(40):
        data_hash = str(uuid.UUID(bytes=rng.bytes(16), version=4))  # Encord data hashes are UUIDs
        sizes[data_hash] = [int(rng.integers(100, 4000)), int(rng.integers(100, 3000))]
        for _ in range(int(rng.integers(1, 15))):
            x, y = rng.random(2)
            w, h = rng.random() * (1 - x), rng.random() * (1 - y)
            records.append({"data_hash": data_hash, "frame": 0, "confidence": float(rng.random()),
                            "object": {"feature_hash": hashes[int(rng.integers(0, 3))], "format": "bounding-box",
                                       "data": {"x": float(x), "y": float(y), "w": float(w), "h": float(h)}}})
    path = tmp_path / "predictions.json"
    path.write_text(json.dumps(records))
    return path, sizes, records


def pixels(rec: dict, sizes: dict[str, list[int]]) -> list[float]:
    """Encord's definition, computed here independently: x * width, y * height."""
    w, h = sizes[rec["data_hash"]]
    d = rec["object"]["data"]
    return [d["x"] * w, d["y"] * h, d["w"] * w, d["h"] * h]


def test_acceptance__encord_to_coco_results_and_back_boxes_within_1e6_px(tmp_path: Path, encord_file) -> None:
    if "coco" not in predport.get_hub().formats():
        pytest.skip("the coco format is not registered")
    src, sizes, original = encord_file
    coco = tmp_path / "results.json"
    # COCO results hold neither image sizes nor frames: the sizes are given again on the way back,
    # and frame0=none reads Encord's frame 0 as "an image".
    first = predport.convert(src, coco, to="coco", image_sizes=sizes, options={"frame0": "none"}, allow_loss=True)
    # COCO results hold neither image sizes nor a category table (the feature hashes come back
    # through the class map below).
    assert set(first["loss"]) <= {"frames.width/height", "categories.external_id", "categories.name"}

    results = json.loads(coco.read_text())
    assert len(results) == len(original)
    by_image: dict[str, list[dict]] = {}
    for rec in original:
        by_image.setdefault(rec["data_hash"], []).append(rec)
    expected = [r for recs in by_image.values() for r in recs]  # COCO frames: one per image
    for res, rec in zip(results, expected):
        assert res["image_id"] == rec["data_hash"] and res["score"] == rec["confidence"]
        np.testing.assert_allclose(res["bbox"], pixels(rec, sizes), rtol=0, atol=1e-6)

    back = tmp_path / "back.json"
    class_map = {"0": {"id": 0, "external_id": "OTk2MzM3"}, "1": {"id": 1, "external_id": "NzYyMjcx"},
                 "2": {"id": 2, "external_id": "MjkXn2Mx"}}
    # The COCO reader keeps each frame's image_id in frame attributes; Encord records have no
    # place for frame attributes, so that (and only that) is reported as lost.
    second = predport.convert(coco, back, to="encord", format="coco", image_sizes=sizes, class_map=class_map,
                              allow_loss=True)
    assert set(second["loss"]) <= {"frames.attributes"}
    returned = json.loads(back.read_text())
    assert len(returned) == len(expected)
    for got, rec in zip(returned, expected):
        assert (got["data_hash"], got["frame"], got["confidence"]) == (rec["data_hash"], 0, rec["confidence"])
        assert got["object"]["feature_hash"] == rec["object"]["feature_hash"]
        np.testing.assert_allclose(pixels(got, sizes), pixels(rec, sizes), rtol=0, atol=1e-6)
