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
