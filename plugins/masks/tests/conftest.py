"""Fixtures for predport-masks tests: PNG writers and a mask-to-class-pixels check."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
from PIL import Image


@pytest.fixture
def write_png() -> Callable[..., Path]:
    """``write_png(path, array, mode=None, palette=False)``: save a mask PNG (parents created)."""

    def _write(path: Path, array: Any, mode: str | None = None, palette: bool = False) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        arr = np.asarray(array)
        if mode == "1":
            im = Image.fromarray(arr.astype(bool))
        elif mode == "I;16":
            im = Image.fromarray(arr.astype(np.uint16))
        elif palette:
            a8 = np.ascontiguousarray(arr.astype(np.uint8))
            im = Image.frombytes("P", (a8.shape[1], a8.shape[0]), a8.tobytes())
            im.putpalette([v for i in range(256) for v in ((i * 7) % 256, (i * 13) % 256, (i * 29) % 256)])
        elif arr.ndim == 3:
            im = Image.fromarray(arr.astype(np.uint8))
        else:
            a8 = np.ascontiguousarray(arr.astype(np.uint8))
            im = Image.frombytes("L", (a8.shape[1], a8.shape[0]), a8.tobytes())
        im.save(path)
        return path

    return _write


@pytest.fixture
def decode() -> Callable[[Any], np.ndarray]:
    """A canonical RLE (pydantic model or dict) as a bool H x W array, by pycocotools."""
    from pycocotools import mask as mask_utils

    def _decode(rle: Any) -> np.ndarray:
        if hasattr(rle, "model_dump"):
            rle = rle.model_dump()
        return mask_utils.decode({"size": list(rle["size"]), "counts": rle["counts"].encode()}).astype(bool)

    return _decode
