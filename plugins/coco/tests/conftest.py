"""Fixtures for predport-coco tests: corpus paths, JSON fixture writers, an RLE decoder."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

from predport.testing import require_corpus


@pytest.fixture
def corpus() -> Callable[[str], Path]:
    """``corpus("cocoapi/x.json")``: a file of ../shared/corpus/coco, read in place (skip when absent)."""

    def _path(rel: str) -> Path:
        return require_corpus("coco", *rel.split("/"))

    return _path


@pytest.fixture
def write_json(tmp_path: Path) -> Callable[..., Path]:
    """``write_json(obj, name="results.json")``: a fixture file written with the standard library."""

    def _write(obj: Any, name: str = "results.json") -> Path:
        path = tmp_path / name
        path.write_text(json.dumps(obj), encoding="utf-8")
        return path

    return _write


@pytest.fixture
def decode() -> Callable[[Any], np.ndarray]:
    """A COCO RLE dict (string or bytes counts) as a uint8 H x W array, by pycocotools."""
    from pycocotools import mask as mask_utils

    def _decode(rle: Any) -> np.ndarray:
        counts = rle["counts"]
        if isinstance(counts, list):  # uncompressed: pycocotools converts it first
            h, w = rle["size"]
            return mask_utils.decode(mask_utils.frPyObjects(rle, h, w))
        if isinstance(counts, str):
            counts = counts.encode("ascii")
        return mask_utils.decode({"size": list(rle["size"]), "counts": counts})

    return _decode
