"""Third-party files committed as fixtures (issue #13, deliverable 7), each read by predport and
checked against an independent reading: the same labels written by the same tool in another
format (labelformat's COCO files of its YOLOv8 fixtures). Provenance and licences:
``tests/fixtures/thirdparty/PROVENANCE.md``.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import predport

HERE = Path(__file__).resolve().parent / "fixtures" / "thirdparty"
LF = HERE / "labelformat"


def test_thirdparty__every_fixture_has_its_provenance() -> None:
    text = (HERE / "PROVENANCE.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| `([^`]+)` \|", text, flags=re.M))
    files = {p.relative_to(HERE).as_posix() for p in HERE.rglob("*") if p.is_file() and p.name != "PROVENANCE.md"}
    assert files and files == listed
    for row in (r for r in text.splitlines() if r.startswith("| `")):
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert re.fullmatch(r"`[0-9a-f]{40}`", cells[3]) and cells[4] == "MIT", row


def _coco(rel: str) -> tuple[dict, dict[str, list[int]], dict[str, list[dict]]]:
    coco = json.loads((LF / rel).read_text())
    sizes = {im["file_name"]: [im["width"], im["height"]] for im in coco["images"]}
    by_stem = {im["file_name"].rsplit(".", 1)[0]: [a for a in coco["annotations"] if a["image_id"] == im["id"]]
               for im in coco["images"]}
    return {c["id"]: c["name"] for c in coco["categories"]}, sizes, by_stem


def test_thirdparty__labelformat_yolov8_boxes_equal_its_coco_file() -> None:
    folder = LF / "object_detection" / "YOLOv8"
    assert predport.get_hub().pick(folder).id == "yolo"  # detected, names from example.yaml
    coco_names, sizes, by_stem = _coco("object_detection/COCO/train.json")
    preds = predport.load(folder, image_sizes=sizes)
    names = {c.id: c.name for c in preds.categories}
    assert names[1] == "bicycle with space" and len(names) == 32
    assert len(preds.frames) == 2 and sum(len(f.predictions) for f in preds.frames) == 16
    first = preds.frames[0]
    assert first.data_id == "a-difficult subfolder/a-weird Filename.asdf" and (first.width, first.height) == (640, 416)
    # By hand, line 1 "16 0.861211 0.73232 0.0357969 0.0442067" of a 640x416 image:
    # w = 0.0357969*640 = 22.910016, x = 0.861211*640 - w/2 = 539.720032,
    # h = 0.0442067*416 = 18.3899872, y = 0.73232*416 - h/2 = 295.4501264.
    rec = first.predictions.to_records()[0]
    assert names[rec["category_id"]] == "dog" and rec["score"] is None
    assert rec["box"] == pytest.approx([539.720032, 295.4501264, 22.910016, 18.3899872], abs=1e-9)
    for frame in preds.frames:
        anns = by_stem[frame.data_id.rsplit("/", 1)[-1]]
        recs = frame.predictions.to_records()
        assert len(recs) == len(anns)
        for r, a in zip(recs, anns):
            assert names[r["category_id"]] == coco_names[a["category_id"]]
            # labelformat's COCO boxes are whole pixels: within half a pixel of the YOLO box.
            assert r["box"] == pytest.approx(a["bbox"], abs=0.5 + 1e-6)


def test_thirdparty__labelformat_yolov8_polygons_equal_its_coco_file() -> None:
    folder = LF / "instance_segmentation" / "YOLOv8"
    coco_names, sizes, by_stem = _coco("instance_segmentation/COCO/instances.json")
    preds = predport.load(folder, image_sizes=sizes)
    names = {c.id: c.name for c in preds.categories}
    assert sorted(f.data_id for f in preds.frames) == ["000000036086", "000000109005"]
    for frame in preds.frames:
        anns = by_stem[frame.data_id]
        recs = frame.predictions.to_records()
        assert len(recs) == len(anns)
        for r, a in zip(recs, anns):
            assert names[r["category_id"]] == coco_names[a["category_id"]]
            assert len(r["polygon"]) == 1 and len(r["polygon"][0]) == len(a["segmentation"][0])
            # Six significant digits of a 640 px side: 640 * 5e-7 = 3.2e-4 px.
            assert r["polygon"][0] == pytest.approx(a["segmentation"][0], abs=3.3e-4)


@pytest.mark.parametrize("writer", ["coco", "kitti", "lightly", "masks"])
def test_thirdparty__labelformat_yolov8_converts_and_reads_back(tmp_path: Path, writer: str) -> None:
    """The folder through other writers keeps its boxes (and their class names) to 1e-6 px."""
    _coco_names, sizes, _ = _coco("object_detection/COCO/train.json")
    source = predport.load(LF / "object_detection" / "YOLOv8", image_sizes=sizes)
    if writer == "masks":  # boxes have no pixels to paint: the polygon folder instead
        _n, sizes, _ = _coco("instance_segmentation/COCO/instances.json")
        source = predport.load(LF / "instance_segmentation" / "YOLOv8", image_sizes=sizes)
    out = tmp_path / ("out.json" if writer == "coco" else "out")
    options = {"lightly": {"missing_score": 1.0}, "kitti": {"keep_spaces": True}}.get(writer)
    predport.save(source, out, format=writer, allow_loss=True, write_options=options)
    back = predport.load(out, format=writer, image_sizes={f.data_id: [f.width, f.height] for f in source.frames})
    assert predport.get_hub().pick(out).id == writer

    def boxes(ps: object) -> list[tuple[str, tuple[float, ...]]]:
        cats = {c.id: c.name for c in ps.categories}  # type: ignore[attr-defined]
        out = []
        for f in ps.frames:  # type: ignore[attr-defined]
            for r in f.predictions.to_records():
                box = r.get("box")
                if box is None:  # a polygon: its extent
                    xs, ys = r["polygon"][0][0::2], r["polygon"][0][1::2]
                    box = [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]
                out.append((cats.get(r["category_id"], str(r["category_id"])), tuple(round(v, 6) for v in box)))
        return sorted(out)

    got, want = boxes(back), boxes(source)
    if writer == "coco":  # COCO results have ids, not names
        got, want = sorted(b for _, b in got), sorted(b for _, b in want)
    if writer == "masks":  # boxes re-derived from painted pixels: within a pixel of the polygon's extent
        assert [n for n, _ in got] == [n for n, _ in want]
        for (_, gb), (_, wb) in zip(got, want):
            assert gb == pytest.approx(wb, abs=1.0)
        return
    assert got == want
