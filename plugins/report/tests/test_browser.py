"""The report as a person sees it: rendered by a real headless Chromium, asserted on what is shown.

Skipped with the reason where no browser is installed; under CI (``CI`` set) a missing
browser fails instead (see conftest.py).
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from predport_report.colors import class_colour

NAMES = ["coco", "kitti", "masks", "lightly", "aquarium", "yolo", "encord"]


def open_page(browser, path: Path) -> None:
    browser.get(path.resolve().as_uri())
    browser.execute_script("return document.readyState")
    # Images are data: URIs; wait until each one has decoded (or failed).
    browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        Promise.all([...document.images].map(i => i.decode().catch(() => null))).then(() => done(true));
    """)


def severe_console_messages(browser) -> list[str]:
    return [e["message"] for e in browser.get_log("browser") if e.get("level") == "SEVERE"]


def colour_pixels(png: bytes, rgb: tuple[int, int, int], tol: int = 24) -> int:
    a = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    return int((np.abs(a - np.array(rgb)).max(axis=2) <= tol).sum())


@pytest.mark.parametrize("name", NAMES)
def test_browser__every_bundled_example_report_shows_its_thumbnails(browser, bundled_reports, name):
    open_page(browser, bundled_reports[name])
    images = browser.execute_script(
        "return [...document.querySelectorAll('figure.fr img')].map(i => [i.complete, i.naturalWidth, "
        "i.getBoundingClientRect().width])")
    assert images, "no thumbnails"
    for complete, natural, shown in images:
        assert complete and natural > 0 and shown > 0
    # Nothing was fetched: every resource of the page is inside the file.
    fetched = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name).filter(n => !n.startsWith('data:'))")
    assert fetched == []
    assert severe_console_messages(browser) == []
    n_figs = len(browser.find_elements("css selector", "figure.fr"))
    frames = int(browser.find_element("css selector", "#summary .card b").text)
    assert n_figs == frames


def _scene_report(cli, scene, tmp_path, *extra) -> Path:
    path = tmp_path / "scene.html"
    code, _, err = cli(["report", str(scene.results), "--option", f"gt={scene.gt}", "--images", str(scene.images),
                        "-o", str(path), *extra])
    assert code == 0, err
    return path


def test_browser__class_filter_hides_the_other_classes_boxes(browser, cli, scene, tmp_path):
    open_page(browser, _scene_report(cli, scene, tmp_path))
    results = json.loads(scene.results.read_text())
    n_car = sum(1 for r in results if r["category_id"] == 1)
    first = browser.find_element("css selector", "figure.fr .frame")
    before = first.screenshot_as_png
    names = {e.get_attribute("data-name") for e in browser.find_elements("css selector", "input.cls")}
    assert names == {"car", "person", "bicycle", "dog"}

    browser.find_element("css selector", "button[data-all='0']").click()
    browser.find_element("css selector", "input.cls[data-name='car']").click()

    car = browser.execute_script("return document.querySelector(\"input.cls[data-name='car']\").dataset.c")
    groups = browser.find_elements("css selector", "#frames g.p")
    shown = [g for g in groups if g.is_displayed()]
    assert len(shown) == n_car > 0
    assert all(g.get_attribute("data-c") == car for g in shown)
    assert browser.find_element("css selector", "#shown").text == str(n_car)
    # What the eye sees: the first frame's person box (blue) is gone, its car box stays.
    after = first.screenshot_as_png
    person, car_rgb = class_colour("person"), class_colour("car")
    assert colour_pixels(before, person) > 100
    assert colour_pixels(after, person) < colour_pixels(before, person) / 10
    assert colour_pixels(after, car_rgb) >= 0.9 * colour_pixels(before, car_rgb) > 100


def test_browser__score_threshold_hides_lower_scores(browser, cli, scene, tmp_path):
    open_page(browser, _scene_report(cli, scene, tmp_path))
    browser.execute_script(
        "const t = document.getElementById('thr'); t.value = '0.5'; t.dispatchEvent(new Event('input'));")
    results = json.loads(scene.results.read_text())
    shown = [float(g.get_attribute("data-s")) for g in browser.find_elements("css selector", "#frames g.p")
             if g.is_displayed()]
    assert len(shown) == sum(1 for r in results if r["score"] >= 0.5) > 0
    assert min(shown) >= 0.5
    assert browser.find_element("css selector", "#thrv").text == "0.5"


def test_browser__a_frame_opens_full_size_with_its_labels(browser, cli, scene, tmp_path, docs_image):
    open_page(browser, _scene_report(cli, scene, tmp_path))
    thumb = browser.find_element("css selector", "figure.fr .frame")
    thumb_w = thumb.size["width"]
    thumb.click()
    dialog = browser.find_element("css selector", "dialog#big")
    assert dialog.get_attribute("open") is not None
    big = dialog.find_element("css selector", ".frame img")
    assert big.size["width"] > 1.3 * thumb_w
    labels = [t.text for t in dialog.find_elements("css selector", "svg.ov text") if t.is_displayed()]
    assert labels and any(label.startswith(("car ", "person ", "bicycle ", "dog ")) for label in labels)
    assert dialog.find_element("css selector", ".bar a").get_attribute("href").endswith(scene.frames[0])
    docs_image("report-full-size.png", browser.get_screenshot_as_png())
    thumb_png = browser.find_element("css selector", "dialog .frame").screenshot_as_png
    assert Image.open(io.BytesIO(thumb_png)).width > 1.3 * thumb_w
    browser.find_element("css selector", "dialog .frame").click()
    assert dialog.get_attribute("open") is None


def test_browser__with_ground_truth_the_worst_frame_is_first_and_metrics_equal_predport_evaluate(
        browser, cli, scene, tmp_path, docs_image):
    pytest.importorskip("predport_eval", reason="the evaluation needs predport-eval")
    path = tmp_path / "gt.html"
    code, _, err = cli(["report", str(scene.results), "--option", f"gt={scene.gt}", "--gt", str(scene.gt),
                        "--images", str(scene.images), "-o", str(path)])
    assert code == 0, err
    code, out, err = cli(["evaluate", str(scene.results), str(scene.gt), "-o", f"gt={scene.gt}", "--json"])
    assert code == 0, err
    expected = json.loads(out)
    open_page(browser, path)
    # The scene was built so that one frame misses every object and has three confident false positives.
    first = browser.find_element("css selector", "#frames figure.fr")
    assert first.get_attribute("data-id") == scene.worst
    assert first.find_element("css selector", ".b.fn").text == f"FN {len(scene.objects[scene.worst])}"
    assert first.find_element("css selector", ".b.fp").text == "FP 3"
    assert first.find_element("css selector", ".b.tp").text == "TP 0"
    shown = {c.get_attribute("data-metric"): c.text for c in browser.find_elements("css selector", "#metrics td")}
    assert shown == {k: f"{v:.3f}" for k, v in expected["metrics"].items()}
    embedded = json.loads(browser.find_element("css selector", "#evaluation-data").get_attribute("textContent"))
    assert embedded["metrics"] == expected["metrics"]
    assert len(browser.find_elements("css selector", "polyline.pr")) == len(expected["pr_curves"])
    cells = browser.find_elements("css selector", "#confusion td")
    assert [int(c.text) for c in cells] == [v for row in expected["confusion"]["matrix"] for v in row]
    dashed = [g for g in browser.find_elements("css selector", "#frames g.g") if g.is_displayed()]
    assert len(dashed) == sum(len(v) for v in scene.objects.values())
    browser.find_element("css selector", "#showgt").click()
    assert not any(g.is_displayed() for g in browser.find_elements("css selector", "#frames g.g"))
    browser.find_element("css selector", "#showgt").click()
    browser.execute_script("document.getElementById('evaluation').scrollIntoView()")
    docs_image("report-evaluation.png", browser.get_screenshot_as_png())
    browser.execute_script("document.getElementById('frames-section').scrollIntoView()")
    docs_image("report-frames.png", browser.get_screenshot_as_png())
    browser.execute_script("window.scrollTo(0, 0)")
    docs_image("report-summary.png", browser.get_screenshot_as_png())
