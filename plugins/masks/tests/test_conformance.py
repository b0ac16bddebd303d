"""The plugin contract, checked by predport's conformance kit, and the public-API rule."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import predport
import predport.testing
from predport.testing import Sample, check_plugin, corpus_dir

from predport_masks import hooks

SRC = Path(hooks.__file__).parent


def test_conformance__the_kit_passes_predport_masks(tmp_path, write_png):
    arr = np.zeros((12, 16), np.uint8)
    arr[1:10, 1:10] = 1
    arr[4:6, 4:6] = 0
    arr[8:12, 11:16] = 2
    write_png(tmp_path / "good" / "street_001.jpg.png", arr)
    write_png(tmp_path / "good" / "clip.mp4__00003.png", arr, palette=True)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    samples = [tmp_path / "good", Sample(tmp_path / "good", options={"mode": "semantic"})]
    voc = corpus_dir("png_masks", "labelme_voc", "SegmentationClass")
    if voc is not None:
        samples.append(voc)
    report = check_plugin(hooks, samples={"masks": samples}, malformed={"masks": [bad]}, workdir=tmp_path / "kit")
    assert {c.rule for c in report.checks if c.status == "pass"} == set(predport.testing.RULES)


def test_public_api_only__no_private_core_module_is_imported() -> None:
    assert predport.testing.private_api_uses(SRC) == []


