"""The plugin contract, checked by predport's conformance kit, and the public-API rule."""
from __future__ import annotations

import json
import re
from pathlib import Path

import predport.testing
from predport.testing import Sample, check_plugin, corpus_dir

from predport_lightly import hooks

SRC = Path(hooks.__file__).parent


def test_conformance__the_kit_passes_predport_lightly(tmp_path: Path, lightly_task) -> None:
    good = tmp_path / "good" / ".lightly" / "predictions"
    good.mkdir(parents=True)
    (good / "tasks.json").write_text(json.dumps(["people", "weather"]))
    lightly_task(good, "people", "object-detection", ["person", "car"], {
        "a.json": {"file_name": "a.jpg", "predictions": [{"category_id": 1, "bbox": [1, 2, 3, 4], "score": 0.5}]},
        "v/clip-07-mp4.json": {"file_name": "v/clip-07-mp4.png",
                               "predictions": [{"category_id": 0, "bbox": [0, 0, 2, 2], "score": 0.25}]},
    })
    lightly_task(good, "weather", "classification", ["sunny", "cloudy"], {
        "a.json": {"file_name": "a.jpg", "predictions": [{"category_id": 0, "probabilities": [0.75, 0.25]}]},
    })
    bad = lightly_task(tmp_path / "bad", "od", "object-detection", ["car"], {
        "x.json": {"file_name": "x.jpg", "predictions": [{"category_id": 0, "bbox": [1, 2], "score": 0.5}]},
    })
    samples = [tmp_path / "good"]
    for parts in (("lightly", "lightly_dataset_examples", "coco_subset_128_images", "predictions"),
                  ("lightly", "labelformat", "detection-task-name")):
        p = corpus_dir(*parts)
        if p is not None:
            samples.append(Sample(p))
    report = check_plugin(hooks, samples={"lightly": samples}, malformed={"lightly": [bad]},
                          workdir=tmp_path / "kit")
    assert {c.rule for c in report.checks if c.status == "pass"} == set(predport.testing.RULES)


def test_public_api_only__no_private_core_module_is_imported() -> None:
    assert predport.testing.private_api_uses(SRC) == []


