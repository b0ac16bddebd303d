"""``predport draw`` and ``predport report`` on the command line: every bundled example, errors."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from PIL import Image


EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
NAMES = ["coco", "kitti", "masks", "lightly", "aquarium", "yolo", "encord"]


def test_cli__draw_runs_on_every_bundled_example(tmp_path, bundled, cli):
    name, rel, extra, frames = bundled
    out = tmp_path / "drawn"
    code, stdout, err = cli(["draw", str(EXAMPLES / rel), *extra, "-o", str(out), "--json"])
    assert code == 0, err
    summary = json.loads(stdout)
    files = sorted(p for p in out.rglob("*.jpg"))
    assert len(files) == summary["written"] >= summary["frames"] > 0
    if frames is not None:
        assert summary["frames"] == frames
    for f in files:
        with Image.open(f) as im:
            im.verify()


@pytest.mark.parametrize("name", NAMES)
def test_cli__report_runs_on_every_bundled_example(bundled_reports, name):
    text = bundled_reports[name].read_text()
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    figures = re.findall(r'<figure class="fr"', text)
    frames = re.search(r"<b>(\d+)</b><span>frames</span>", text)
    assert frames and len(figures) == int(frames.group(1)) > 0
    assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in text


def test_cli__draw_and_report_are_listed_in_help(cli):
    code, out, _ = cli(["--help"])
    assert code == 0
    assert re.search(r"^\s+draw\s", out, re.M) and re.search(r"^\s+report\s", out, re.M)


def test_cli__draw_refuses_a_non_empty_output_folder_and_leaves_it_alone(tmp_path, cli):
    out = tmp_path / "drawn"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    code, _, err = cli(["draw", str(EXAMPLES / "yolo/labels"), "--images", str(EXAMPLES / "yolo/images"),
                        "-o", str(out)])
    assert code == 1 and "not empty" in err and "Traceback" not in err
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_cli__a_failure_half_way_leaves_no_output(tmp_path, cli):
    """The second frame's image has the wrong size: nothing is written, the error names the image."""
    images = tmp_path / "images"
    images.mkdir()
    Image.new("RGB", (640, 480)).save(images / "a.jpg")
    Image.new("RGB", (100, 100)).save(images / "b.jpg")
    preds = tmp_path / "p.json"
    preds.write_text(json.dumps({
        "schema": "predport/prediction-set/1", "source": None,
        "categories": [{"id": 1, "name": "car", "external_id": None, "attributes": {}}],
        "frames": [{"data_id": n, "frame_index": None, "width": 640, "height": 480,
                    "predictions": [{"category_id": 1, "score": 0.5, "box": [1, 2, 30, 40]}]} for n in ("a.jpg", "b.jpg")]}))
    out = tmp_path / "drawn"
    code, _, err = cli(["draw", str(preds), "--images", str(images), "-o", str(out)])
    assert code == 1 and "b.jpg" in err and "100x100" in err and "640x480" in err
    assert not out.exists()
    code, _, err = cli(["report", str(preds), "--images", str(images), "-o", str(tmp_path / "r.html")])
    assert code == 1 and "b.jpg" in err and not (tmp_path / "r.html").exists()


def test_cli__images_without_predictions_are_drawn_unless_skip_empty(tmp_path, cli):
    images = tmp_path / "images"
    images.mkdir()
    for n in ("a.jpg", "b.jpg", "c.jpg"):
        Image.new("RGB", (64, 48), (200, 200, 200)).save(images / n)
    preds = tmp_path / "p.json"
    preds.write_text(json.dumps({
        "schema": "predport/prediction-set/1", "source": None,
        "categories": [{"id": 1, "name": "car", "external_id": None, "attributes": {}}],
        "frames": [{"data_id": "a.jpg", "frame_index": None, "width": 64, "height": 48,
                    "predictions": [{"category_id": 1, "score": 0.5, "box": [1, 2, 30, 40]}]},
                   {"data_id": "b.jpg", "frame_index": None, "width": 64, "height": 48, "predictions": []}]}))
    code, out, err = cli(["draw", str(preds), "--images", str(images), "-o", str(tmp_path / "all"), "--json"])
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "all").iterdir()) == ["a.jpg", "b.jpg", "c.jpg"]
    assert json.loads(out)["counts"]["images without predictions"] == 1
    code, _, err = cli(["draw", str(preds), "--images", str(images), "-o", str(tmp_path / "some"), "--skip-empty"])
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "some").iterdir()) == ["a.jpg"]


def test_cli__score_threshold_and_classes_choose_what_is_drawn(tmp_path, scene, cli):
    code, out, err = cli(["draw", str(scene.results), "--option", f"gt={scene.gt}", "--images", str(scene.images),
                          "-o", str(tmp_path / "d"), "--score-threshold", "0.5", "--classes", "car,dog", "--json"])
    assert code == 0, err
    drawn = json.loads(out)["predictions_drawn"]
    results = json.loads(scene.results.read_text())
    expected: dict[str, int] = {}
    for r in results:
        name = ("car", "person", "bicycle", "dog")[r["category_id"] - 1]
        if r["score"] >= 0.5 and name in ("car", "dog"):
            expected[name] = expected.get(name, 0) + 1
    assert drawn == expected and expected


def test_cli__report_embeds_at_most_max_frames_and_lists_the_rest(tmp_path, scene, cli):
    path = tmp_path / "r.html"
    code, out, err = cli(["report", str(scene.results), "--option", f"gt={scene.gt}", "--images", str(scene.images),
                          "-o", str(path), "--max-frames", "2", "--json"])
    assert code == 0, err
    text = path.read_text()
    assert text.count('<figure class="fr"') == 2
    assert len(re.findall(r"<tr><td>scene_\d+\.jpg</td>", text)) == len(scene.frames) - 2
    summary = json.loads(out)
    assert summary["embedded"] == 2 and summary["listed"] == len(scene.frames) - 2


def test_cli__draw_with_ground_truth_writes_every_frame_and_a_docs_picture(tmp_path, scene, cli, docs_image):
    out = tmp_path / "d"
    code, stdout, err = cli(["draw", str(scene.results), "--option", f"gt={scene.gt}", "--gt", str(scene.gt),
                             "--images", str(scene.images), "-o", str(out), "--image-format", "png", "--json"])
    assert code == 0, err
    summary = json.loads(stdout)
    assert summary["counts"]["frames with ground truth"] == len(scene.frames)
    picture = out / scene.frames[1].replace(".jpg", ".png")
    with Image.open(picture) as im:
        assert im.size == (640, 480)
    docs_image("draw-frame.png", picture.read_bytes())
