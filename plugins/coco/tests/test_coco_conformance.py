"""The plugin contract, checked by predport's conformance kit, and the public-API rule."""
from __future__ import annotations

import json
import re
from pathlib import Path

import predport.testing
from predport.testing import Sample, check_plugin, corpus_dir

from predport_coco import hooks

SRC = Path(hooks.__file__).parent


def test_conformance__the_kit_passes_predport_coco(tmp_path: Path) -> None:
    good = tmp_path / "results.json"
    good.write_text(json.dumps([
        {"image_id": 1, "category_id": 3, "bbox": [1.5, 2, 30, 40], "score": 0.9},
        {"image_id": 1, "category_id": 1, "segmentation": {"size": [3, 4], "counts": "411101"}, "score": 0.5},
        {"image_id": "b.jpg", "category_id": 1, "keypoints": [1, 2, 1, 3, 4, 2], "score": 0.25},
    ]))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"image_id": 1, "category_id": 3, "bbox": [1, 2, 3], "score": 0.9}]))
    samples: list = [good]
    for rel in ("cocoapi/instances_val2014_fakebbox100_results.json", "faster_coco_eval/dt_dataset.json",
                "sahi/coco_evaluate_result.json"):
        p = corpus_dir("coco", *rel.split("/"))
        if p is not None:
            samples.append(Sample(p))
    report = check_plugin(hooks, samples={"coco": samples}, malformed={"coco": [bad]}, workdir=tmp_path / "kit")
    assert {c.rule for c in report.checks if c.status == "pass"} == set(predport.testing.RULES)


def test_public_api_only__no_private_core_module_is_imported() -> None:
    assert predport.testing.private_api_uses(SRC) == []


