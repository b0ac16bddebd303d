"""Fixtures of the predport-encord tests: the committed sample and small record builders."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture
def write_records(tmp_path: Path) -> Callable[..., Path]:
    """Write records as a JSON list (``name`` ending in .json) or JSON Lines (.jsonl)."""

    def write(records: list[Any], name: str = "preds.json") -> Path:
        path = tmp_path / name
        if name.endswith(".jsonl"):
            path.write_text("".join(json.dumps(r) + "\n" for r in records))
        else:
            path.write_text(json.dumps(records))
        return path

    return write


def box_record(data_hash: str = "img", x: float = 0.1, y: float = 0.2, w: float = 0.3, h: float = 0.4,
               *, frame: Any = 0, confidence: Any = 0.9, feature_hash: str = "OTk2MzM3",
               **extra: Any) -> dict[str, Any]:
    rec = {"data_hash": data_hash, "frame": frame, "confidence": confidence,
           "object": {"feature_hash": feature_hash, "format": "bounding-box",
                      "data": {"x": x, "y": y, "w": w, "h": h}}}
    rec.update(extra)
    return rec


@pytest.fixture
def box() -> Callable[..., dict[str, Any]]:
    return box_record


# -- pickles -------------------------------------------------------------------------------
PICKLES = DATA / "pickles"


def _load_module(name: str, path: Path) -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


@pytest.fixture
def standin(tmp_path: Path) -> Any:
    """``standin(variant)``: the stand-in ``encord_active`` module of that schema, imported
    from a temporary folder (pydantic 2's bundled pydantic v1), removed again afterwards."""
    import sys

    standins = _load_module("encord_standins", PICKLES / "standins.py")
    before = set(sys.modules)
    roots: list[str] = []

    def make(variant: str = "v0.1.33") -> Any:
        import importlib

        root = tmp_path / f"standin-{variant}"
        module = standins.install(root, variant)
        sys.path.insert(0, str(root))
        roots.append(str(root))
        return importlib.import_module(module)

    yield make
    for name in set(sys.modules) - before:
        if name.split(".")[0] == "encord_active":
            del sys.modules[name]
    for root in roots:
        sys.path.remove(root)


@pytest.fixture
def pickles_dir() -> Path:
    return PICKLES
