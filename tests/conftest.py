"""Shared fixtures of the core tests: an isolated hub per test, small canonical data."""
from __future__ import annotations

import numpy as np
import pytest

import predport


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> "predport.Hub":
    """A fresh process-wide hub (entry points loaded), restored after the test."""
    monkeypatch.delenv("PREDPORT_STRICT", raising=False)
    monkeypatch.delenv("PREDPORT_BLOCK", raising=False)
    new = predport.Hub()
    old = predport.reset_hub(new)
    yield new
    predport.reset_hub(old)


@pytest.fixture
def small_set() -> "predport.PredictionSet":
    """Two frames, one with every kind of geometry, one empty."""
    dets = predport.Detections(
        category_id=[1, 2, 1],
        score=[0.9, None, 97.85],
        box=[[10.0, 20.0, 30.5, 40.25], [np.nan] * 4, [0.0, 0.0, 1.0, 1.0]],
        polygon=[None, [[0.0, 0.0, 4.0, 0.0, 4.0, 3.0]], None],
        mask=[None, None, {"size": [3, 4], "counts": "411101"}],
        keypoints=[[[1.0, 2.0, 2.0], [3.0, 4.0, None]], None, None],
        probabilities=[[0.1, 0.9], None, None],
        attributes=[{"truncated": 0.5}, None, None],
    )
    return predport.PredictionSet(
        source=predport.SourceInfo(format="test", uri="mem", plugin="tests"),
        categories=[predport.Category(id=1, name="car"), predport.Category(id=2, name="person", external_id="OTk2")],
        frames=[
            predport.Frame(data_id="a.jpg", width=640, height=480, predictions=dets),
            predport.Frame(data_id="clip.mp4", frame_index=3),
        ],
    )


# -- a real S3-compatible server on loopback (moto server mode), for the storage tests ---------
def _s3server_module():
    import importlib.util
    import sys
    from pathlib import Path

    name = "predport_tests_s3server"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("s3server.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _need_moto() -> None:
    import importlib.util
    import os

    if importlib.util.find_spec("moto") is None or importlib.util.find_spec("s3fs") is None:
        if os.environ.get("CI"):
            pytest.fail("moto[server] and s3fs must be installed (requirements-dev.txt) for the S3 tests")
        pytest.skip("moto[server] or s3fs not installed (pip install -r requirements-dev.txt)")


@pytest.fixture(scope="session")
def s3_server():
    """An S3 server on 127.0.0.1 (moto, a child process) for the whole session; no auth checks."""
    _need_moto()
    server = _s3server_module().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_start():
    """``start(auth_after=None)``: another S3 server (e.g. one that checks IAM credentials)."""
    _need_moto()
    return _s3server_module().start


@pytest.fixture(scope="module")
def no_io_thread_afterwards():
    """s3fs runs its requests on fsspec's IO thread; stop it after the module using this fixture, so that the
    tests after it run in a single-threaded process again (the Lightly reader forks
    workers only then)."""
    yield
    _s3server_module().stop_io_thread()
