"""Datasets and COCO files the Deep Lake tests make in temporary folders (no network)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

GT = {
    "images": [{"id": 42, "file_name": "a.jpg", "width": 640, "height": 427},
               {"id": 7, "file_name": "b.jpg", "width": 100, "height": 50},
               {"id": 9, "file_name": "c.jpg", "width": 10, "height": 10}],
    "categories": [{"id": 18, "name": "dog", "supercategory": "animal"},
                   {"id": 3, "name": "car", "supercategory": "vehicle"}],
    "annotations": [{"id": 1, "image_id": 42, "category_id": 18, "bbox": [1, 2, 3, 4], "area": 12, "iscrowd": 0}],
}
RESULTS = [
    {"image_id": 42, "category_id": 18, "bbox": [258.15, 41.29, 348.26, 243.78], "score": 0.236},
    {"image_id": 42, "category_id": 3, "bbox": [1.5, 2.25, 3.125, 4.0], "score": 0.9, "area": 6},
    {"image_id": 7, "category_id": 3, "bbox": [0.1, 0.2, 0.3, 0.4], "score": 0.5},
]


@pytest.fixture
def coco_files(tmp_path: Path) -> tuple[Path, Path]:
    gt, res = tmp_path / "gt.json", tmp_path / "results.json"
    gt.write_text(json.dumps(GT))
    res.write_text(json.dumps(RESULTS))
    return res, gt


@pytest.fixture
def playbook_dataset(tmp_path: Path) -> Callable[..., Path]:
    """The playbook's ground-truth dataset: images, file names, pixel LTWH boxes, class labels."""

    def make(name: str = "pb", *, id_column: str | None = "filename") -> Path:
        import deeplake

        T = deeplake.types
        path = tmp_path / name
        ds = deeplake.create(str(path))
        ds.add_column("images", T.Image(dtype="uint8"))
        if id_column:
            ds.add_column(id_column, T.Text())
        ds.add_column("boxes", T.BoundingBox("float32", format="ltwh", bbox_type="pixel"))
        ds["boxes"].metadata["coords"] = {"type": "pixel", "mode": "LTWH"}
        ds.add_column("labels", T.ClassLabel(T.Array("uint32", dimensions=1)))
        ds["labels"].metadata["class_names"] = ["car", "dog"]
        row: dict[str, Any] = {
            "images": [np.zeros((50, 100, 3), np.uint8), np.zeros((10, 10, 3), np.uint8),
                       np.zeros((427, 640, 3), np.uint8)],
            "boxes": [np.array([[0, 0, 10, 10]], np.float32), np.zeros((0, 4), np.float32),
                      np.array([[258, 41, 348, 243], [1, 2, 3, 4]], np.float32)],
            "labels": [np.array([0], np.uint32), np.zeros(0, np.uint32), np.array([1, 0], np.uint32)],
        }
        if id_column:
            row[id_column] = ["b.jpg", "c.jpg", "a.jpg"]
        ds.append(row)
        ds.commit("ground truth")
        return path

    return make


@pytest.fixture
def sigkill_at(tmp_path: Path) -> Callable[..., None]:
    """Run a script in a child Python, SIGKILL it when it prints ``marker`` (the moment it
    waits at), and check that the kill is what ended it."""

    def run(script_text: str, args: list[Any], marker: str, timeout: float) -> None:
        script = tmp_path / "killer.py"
        script.write_text(script_text)
        proc = subprocess.Popen([sys.executable, str(script), *map(str, args)], stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None and proc.stdout.readline().strip() == marker
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.wait(timeout=timeout)
        assert proc.returncode == -signal.SIGKILL

    return run
