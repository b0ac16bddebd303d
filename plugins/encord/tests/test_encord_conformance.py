"""The plugin contract, checked by predport's conformance kit."""
from __future__ import annotations

import json
from pathlib import Path

import predport.testing
from predport.testing import Sample, check_plugin

from predport_encord import hooks

DATA = Path(__file__).parent / "data"


def test_conformance__the_kit_passes_predport_encord(tmp_path: Path) -> None:
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps([
        {"data_hash": "c115344f-6869-4608-a4b8-644241fea10c", "frame": 0, "confidence": 0.8,
         "object": {"feature_hash": "OTK8MrM3", "format": "bounding-box",
                    "data": {"x": 0.25, "y": 0.5, "w": 0.125, "h": 0.25}}},
    ]))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([
        {"data_hash": "c115344f-6869-4608-a4b8-644241fea10c", "frame": 0, "confidence": 0.8,
         "object": {"feature_hash": "OTK8MrM3", "format": "bounding-box", "data": {"x": 0.9, "y": 0.5, "w": 0.5}}},
    ]))
    sizes = str(DATA / "sizes.json")
    report = check_plugin(
        hooks,
        samples={"encord": [Sample(boxes, image_sizes=sizes), Sample(DATA / "predictions.json", image_sizes=sizes)]},
        malformed={"encord": [Sample(bad, image_sizes=sizes)]},
        workdir=tmp_path / "kit",
    )
    assert {c.rule for c in report.checks if c.status == "pass"} == set(predport.testing.RULES)
