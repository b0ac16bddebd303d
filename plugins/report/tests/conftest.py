"""Fixtures of predport-report's tests: a synthetic scene, and a real headless Chromium.

The browser is the system Chromium (``/usr/bin/chromium`` with its
``/usr/bin/chromedriver``), driven by Selenium; ``.ci/run`` installs both. Where
either is missing the browser tests skip with the reason, except under CI (the
``CI`` environment variable set), where they fail: CI must run them.
"""
from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples"
DOCS_IMAGES = ROOT / "docs" / "images"
CHROMIUM = Path(os.environ.get("PREDPORT_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("PREDPORT_CHROMEDRIVER", "/usr/bin/chromedriver"))
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1280,900", "--hide-scrollbars", "--force-device-scale-factor=1")


def _browser_missing() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -r requirements-dev.txt)"
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not path.exists():
            return f"{path} not found (apt-get install {package})"
    return None


@pytest.fixture(scope="session")
def browser():
    """A headless Chromium with a fresh profile, shared by the session's browser tests."""
    missing = _browser_missing()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser tests, but: {missing}")
        pytest.skip(f"no browser: {missing}")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="predport-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS + (f"--user-data-dir={profile}",):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # An explicit driver path: Selenium Manager never tries to download one.
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="session")
def scene(tmp_path_factory):
    """The synthetic scene of :mod:`predport_report.sample` (6 frames, known errors)."""
    from predport_report.sample import make_scene

    return make_scene(tmp_path_factory.mktemp("scene"))


@pytest.fixture
def docs_image():
    """``docs_image(name, png_bytes)``: a picture for the docs, refreshed when PREDPORT_UPDATE_DOCS=1.

    The tests always make the pictures (and assert on them); they are copied into
    docs/images only on request, so an ordinary run leaves the checkout untouched.
    """

    def save(name: str, data: bytes) -> Path:
        if os.environ.get("PREDPORT_UPDATE_DOCS"):
            DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
            (DOCS_IMAGES / name).write_bytes(data)
        return DOCS_IMAGES / name

    return save


# Every bundled example: (name, predictions, the extra arguments it needs, frames in it or None).
BUNDLED = [
    ("coco", "coco/results.json", ["--option", f"gt={EXAMPLES / 'coco/gt.json'}"], 3),
    ("kitti", "kitti/label_2", ["--images", str(EXAMPLES / "kitti/image_2")], 3),
    ("masks", "masks/predictions", ["--class-map", str(EXAMPLES / "masks/classes.yaml")], 2),
    ("lightly", "lightly/.lightly/predictions", ["--images", str(EXAMPLES / "lightly/images")], 2),
    ("aquarium", "aquarium/frames.jsonl", ["--option", f"mask_root={EXAMPLES / 'aquarium'}"], None),
    ("yolo", "yolo/labels", ["--images", str(EXAMPLES / "yolo/images")], 2),
    ("encord", "encord/predictions.json", ["--sizes", str(EXAMPLES / "encord/sizes.json"),
                                            "--option", f"ontology={EXAMPLES / 'encord/ontology.json'}"], None),
]


def pytest_generate_tests(metafunc):
    if "bundled" in metafunc.fixturenames:
        metafunc.parametrize("bundled", BUNDLED, ids=[b[0] for b in BUNDLED])


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """``predport ARGV`` in-process: exit code, stdout, stderr."""
    from predport.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture(scope="session")
def bundled_reports(tmp_path_factory) -> dict[str, Path]:
    """The report of every bundled example, written by ``predport report``."""
    folder = tmp_path_factory.mktemp("bundled-reports")
    out = {}
    for name, rel, extra, _ in BUNDLED:
        path = folder / f"{name}.html"
        code, _, err = run_cli(["report", str(EXAMPLES / rel), *extra, "-o", str(path)])
        assert code == 0, f"{name}: {err}"
        out[name] = path
    return out
