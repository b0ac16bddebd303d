"""Fixtures for the Lightly plugin tests: small Lightly folders built in tmp_path."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Mapping

import pytest


def write_task(
    root: Path,
    name: str,
    task_type: str,
    categories: list[Any],
    files: Mapping[str, Any],
) -> Path:
    """Write one task folder: ``schema.json`` and ``files`` (relative path -> JSON object)."""
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    cats = [c if isinstance(c, dict) else {"id": i, "name": c} for i, c in enumerate(categories)]
    (folder / "schema.json").write_text(json.dumps({"task_type": task_type, "categories": cats}))
    for rel, obj in files.items():
        p = folder / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return folder


@pytest.fixture
def lightly_task() -> Callable[..., Path]:
    """``lightly_task(root, name, task_type, categories, files)`` -> the task folder."""
    return write_task


@pytest.fixture
def predictions_root(tmp_path: Path) -> Path:
    """An empty ``<datasource>/.lightly/predictions`` folder."""
    root = tmp_path / "datasource" / ".lightly" / "predictions"
    root.mkdir(parents=True)
    return root


def box(i: int) -> list[Any]:
    """A made-up ``[x, y, w, h]`` box for row ``i`` (sizes >= 0, some floats, some integers)."""
    return [i * 1.5, i % 7, 10 + i, 3.25 * (i % 5)]


def detection_files(n: int, nested_every: int, subfolders: int) -> dict[str, Any]:
    """Files of an object-detection task with categories 0-2: ``n`` plain files ``img_NNNN.json``
    (every ``nested_every``-th in ``sub<k>/``, 0 to 5 predictions each, some integer scores)
    and four odd ones: a video frame, an extra prediction key, a ``file_name`` that
    contradicts its path, and probabilities."""
    files: dict[str, Any] = {}
    for i in range(n):
        sub = "" if i % nested_every else f"sub{i % subfolders}/"
        preds = [{"category_id": (i + k) % 3, "bbox": box(i + k), "score": ((i * 7 + k) % 100) / 100}
                 for k in range(i % 6)]
        if i % 11 == 0 and preds:
            preds[0]["score"] = 1  # an integer score
        files[f"{sub}img_{i:04d}.json"] = {"file_name": f"{sub}img_{i:04d}.jpg", "predictions": preds}
    files["video-07-mp4.json"] = {"file_name": "video-07-mp4.png",
                                  "predictions": [{"category_id": 1, "bbox": [1, 2, 3, 4], "score": 0.5}]}
    files["extra.json"] = {"file_name": "extra.jpg",
                           "predictions": [{"category_id": 2, "bbox": [0, 0, 1, 1], "score": 0.1, "note": "x"}]}
    files["moved.json"] = {"file_name": "elsewhere/moved.png",
                           "predictions": [{"category_id": 0, "bbox": [5, 5, 5, 5], "score": 0.9}]}
    files["probs.json"] = {"file_name": "probs.jpg", "predictions": [
        {"category_id": 0, "bbox": [1, 1, 2, 2], "score": 0.7, "probabilities": [0.7, 0.2, 0.1]}]}
    return files


@pytest.fixture
def made_up() -> Any:
    """The made-up data helpers: ``made_up.box(i)`` and ``made_up.detection_files(n, nested_every, subfolders)``."""
    import types

    return types.SimpleNamespace(box=box, detection_files=detection_files)
