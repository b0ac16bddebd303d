"""Fixtures of the Aquarium plugin tests.

``tests/data/legacy_0.0.67.jsonl`` and ``tests/data/v1_1.0.7.jsonl`` were written by the real
``aquariumlearning`` clients (see ``tests/data/README.md``); the tests compare what predport
reads with those rows parsed independently by the standard ``json`` module.
``handwritten_oldest_0.0.25.jsonl`` is written by hand after the 0.0.25 client's ``to_dict``.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest

DATA = Path(__file__).resolve().parent / "data"

#: The project class map the fixtures were made with (tests/data/README.md).
CLASSES = {
    "background": 0, "car": 1, "person": 2, "lane": 3, "building": 4, "tree": 5, "truck": 6,
    "outdoor": 7, "highway_scene": 8, "GREETING": 9, "O": 10,
}


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture
def legacy_file() -> Path:
    return DATA / "legacy_0.0.67.jsonl"


@pytest.fixture
def v1_file() -> Path:
    return DATA / "v1_1.0.7.jsonl"


@pytest.fixture
def oldest_file() -> Path:
    return DATA / "handwritten_oldest_0.0.25.jsonl"


@pytest.fixture
def classes() -> dict[str, int]:
    return dict(CLASSES)


@pytest.fixture
def rows_of() -> Callable[[Path], list[dict[str, Any]]]:
    """The rows of a JSON Lines file, parsed by the standard library (the independent reading)."""

    def read(path: Path) -> list[dict[str, Any]]:
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    return read


@pytest.fixture
def write_lines(tmp_path: Path) -> Callable[..., Path]:
    """Write rows as JSON Lines into tmp_path (``json.dumps``, like the client)."""

    def write(rows: list[Any], name: str = "rows.jsonl") -> Path:
        path = tmp_path / name
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        return path

    return write
