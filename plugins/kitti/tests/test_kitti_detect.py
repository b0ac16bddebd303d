"""Detection: KITTI by content, with reasons; YOLO, KITTI tracking and other formats rejected."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import predport
from predport.testing import corpus_dir

GT = "Car 0.00 0 -1.57 599.41 156.40 629.75 189.25 2.85 2.63 12.34 0.47 1.49 69.44 -1.56"
RES = "Pedestrian -1 -1 -10 10.50 140.20 40.10 210.00 -1 -1 -1 -1000 -1000 -1000 -10 0.41"


def folder(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "src"
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    root.mkdir(exist_ok=True)
    return root


def vote(path: Path) -> predport.FormatMatch | None:
    """The kitti plugin's vote on ``path`` (through the hub, as ``predport detect --explain`` shows it)."""
    return next((m for m in predport.detect(path) if m.format == "kitti"), None)


def test_detect__results_folder_is_high_and_explains(tmp_path: Path) -> None:
    root = folder(tmp_path, {"000000.txt": RES + "\n", "000001.txt": RES + "\n" + RES + "\n"})
    m = vote(root)
    assert m is not None and m.confidence == predport.Confidence.HIGH
    assert "16 fields" in m.reason and "six-digit" in m.reason and "-10/-1000" in m.reason
    assert "Pedestrian" in m.reason
    assert predport.detect(root)[0].format == "kitti"


def test_detect__ground_truth_with_tabs_crlf_and_class_with_spaces(tmp_path: Path) -> None:
    text = GT.replace(" ", "\t") + "\r\n" + GT.replace("Car", "traffic light") + "\r\n\r\n"
    m = vote(folder(tmp_path, {"frame.txt": text}))
    assert m is not None and m.confidence == predport.Confidence.HIGH and "15 fields" in m.reason


def test_detect__single_file(tmp_path: Path) -> None:
    root = folder(tmp_path, {"a.txt": RES + "\n"})
    assert vote(root / "a.txt").confidence == predport.Confidence.HIGH


def test_detect__kitti_tree_root_uses_label_2(tmp_path: Path) -> None:
    files = {f"calib/{i:06d}.txt": "P0: 7.2e+02 0 6.1e+02 0\n" for i in range(5)}
    files["label_2/000000.txt"] = GT + "\n"
    m = vote(folder(tmp_path, files))
    assert m.confidence == predport.Confidence.HIGH and "KITTI tree" in m.reason


def test_detect__kitti_tree_with_a_listing_that_ends_before_label_2(tmp_path: Path) -> None:
    # More calib files than the hub lists: label_2/ is never reached by the bounded listing.
    files = {f"calib/{i:06d}.txt": "" for i in range(2100)}
    files["label_2/000000.txt"] = GT + "\n"
    m = vote(folder(tmp_path, files))
    assert m.confidence == predport.Confidence.HIGH


def test_detect__yolo_rejected_with_reason(tmp_path: Path) -> None:
    m = vote(folder(tmp_path, {"img1.txt": "0 0.5 0.5 0.2 0.3\n1 0.1 0.2 0.05 0.05 0.9\n"}))
    assert m is not None and m.confidence == predport.Confidence.NO and m.reason.startswith("looks like YOLO")


def test_detect__kitti_tracking_rejected_with_reason(tmp_path: Path) -> None:
    text = (
        "0 -1 DontCare -1 -1 -10 219.31 188.49 245.50 218.56 -1000 -1000 -1000 -10 -1 -1 -1\n"
        "0 0 Van 0 0 -1.79 296.74 161.75 455.23 292.25 2.00 1.82 4.43 -4.55 1.65 13.51 -2.11\n"
    )
    m = vote(folder(tmp_path, {"0000.txt": text}))
    assert m.confidence == predport.Confidence.NO and "tracking" in m.reason


#: What predport's KITTI writer writes for a category with an id and no name (issue #13).
NUMERIC = "1 -1 -1 -10 133.7 150.2 200.5 260.1 -1 -1 -1 -1000 -1000 -1000 -10 0.9"
NUMERIC_GT = "3 0.00 0 -1.57 599.41 156.40 629.75 189.25 2.85 2.63 12.34 0.47 1.49 69.44 -1.56"


def test_detect__numeric_classes_are_kitti_not_yolo(tmp_path: Path) -> None:
    root = folder(tmp_path, {"000000.txt": NUMERIC + "\n" + NUMERIC_GT + "\n"})
    m = vote(root)
    assert m.confidence == predport.Confidence.HIGH and "numeric classes (1, 3)" in m.reason
    yolo = next(v for v in predport.detect(root) if v.format == "yolo")
    assert yolo.confidence == predport.Confidence.NO and "KITTI" in yolo.reason
    assert predport.get_hub().pick(root).id == "kitti"
    preds = predport.load(root)
    recs = preds.frames[0].predictions.to_records()
    names = {c.id: c.name for c in preds.categories}
    assert [names[r["category_id"]] for r in recs] == ["1", "3"] and recs[0]["box"] == pytest.approx([133.7, 150.2, 66.8, 109.9])


@pytest.mark.parametrize(("line", "why"), [
    # 7-point YOLO polygon (15 tokens) and the same with a score (16): normalised values.
    ("1 0.1 0.1 0.2 0.1 0.3 0.2 0.3 0.4 0.2 0.5 0.1 0.4 0.05 0.2", "normalised"),
    ("1 0.1 0.1 0.2 0.1 0.3 0.2 0.3 0.4 0.2 0.5 0.1 0.4 0.05 0.2 0.88", "normalised"),
    # occlusion 7 is not a KITTI occlusion state; truncation 5 is not a fraction.
    ("1 -1 7 -10 133.7 150.2 200.5 260.1 -1 -1 -1 -1000 -1000 -1000 -10 0.9", "occlusion"),
    ("1 5 0 -10 133.7 150.2 200.5 260.1 -1 -1 -1 -1000 -1000 -1000 -10 0.9", "truncation"),
    # alpha 9 is neither -10 nor an angle; right < left.
    ("1 -1 -1 9 133.7 150.2 200.5 260.1 -1 -1 -1 -1000 -1000 -1000 -10 0.9", "alpha"),
    ("1 -1 -1 -10 233.7 150.2 200.5 260.1 -1 -1 -1 -1000 -1000 -1000 -10 0.9", "inverted"),
])
def test_detect__numeric_lines_that_break_kitti_constraints_are_not_kitti(tmp_path: Path, line: str, why: str) -> None:
    m = vote(folder(tmp_path, {"000000.txt": line + "\n"}))
    assert m.confidence == predport.Confidence.NO, why


def test_detect__half_numeric_kitti_half_yolo_polygons_is_refused_as_ambiguous(tmp_path: Path) -> None:
    poly = "1 0.1 0.1 0.2 0.1 0.3 0.2 0.3 0.4 0.2 0.5 0.1 0.4 0.05 0.2 0.88"
    root = folder(tmp_path, {"000000.txt": NUMERIC + "\n" + poly + "\n"})
    with pytest.raises(predport.PredportError) as info:
        predport.get_hub().pick(root)
    assert "kitti" in str(info.value) and "--from" in str(info.value)


def test_detect__other_text_rejected(tmp_path: Path) -> None:
    m = vote(folder(tmp_path, {"class_names.txt": "_background_\naeroplane\nbicycle\n"}))
    assert m.confidence == predport.Confidence.NO and "1 fields" in m.reason


def test_detect__inverted_box_is_not_kitti(tmp_path: Path) -> None:
    bad = GT.replace("599.41 156.40 629.75", "629.75 156.40 599.41")
    assert vote(folder(tmp_path, {"a.txt": bad + "\n"})).confidence == predport.Confidence.NO


def test_detect__empty_label_files_are_weak_evidence(tmp_path: Path) -> None:
    m = vote(folder(tmp_path, {"000000.txt": "", "000001.txt": ""}))
    assert m.confidence <= predport.Confidence.EXTENSION
    m = vote(folder(tmp_path, {"label_2/000000.txt": ""}))
    assert m.confidence == predport.Confidence.LOW


def test_detect__encord_layouts_named_in_the_reason(tmp_path: Path) -> None:
    new = folder(tmp_path / "new", {"clip.mp4__3.txt": RES + "\n", "ontology_mapping.json": "{}"})
    assert "Encord Active layout" in vote(new).reason
    old = folder(tmp_path / "old", {"labels/ab12__x.txt": RES + "\n", "ontology_label_map.json": "{}"})
    m = vote(old)
    assert m.confidence == predport.Confidence.HIGH and "old layout" in m.reason


def test_detect__not_claimed_other_formats(tmp_path: Path) -> None:
    coco = tmp_path / "results.json"
    coco.write_text(json.dumps([{"image_id": 1, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 0.5}]))
    lightly = folder(tmp_path / "lightly", {".lightly/predictions/tasks.json": "[\"det\"]",
                                           ".lightly/predictions/det/a.json": "{}"})
    aquarium = tmp_path / "frames.jsonl"
    aquarium.write_text('{"task_id": "a", "inferences": []}\n')
    canonical = tmp_path / "c.json"
    canonical.write_text('{"schema": "predport/prediction-set/1", "frames": []}')
    masks = tmp_path / "masks"
    masks.mkdir()
    (masks / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    for path in (coco, lightly, aquarium, canonical, masks):
        m = vote(path)
        assert m is None or m.confidence == predport.Confidence.NO, path


def _corpus_paths(fmt: str) -> list[Path]:
    root = corpus_dir(fmt)
    if root is None:
        return []
    return sorted([root, *root.rglob("*")])


@pytest.mark.parametrize("fmt", ["coco", "png_masks", "lightly", "aquarium"])
def test_detect__corpus_of_other_formats_never_claimed(fmt: str) -> None:
    paths = _corpus_paths(fmt)
    if not paths:
        pytest.skip("../shared/corpus is not present")
    for path in paths:
        m = vote(path)
        assert m is None or m.confidence == predport.Confidence.NO, (path, m)


def test_conformance__the_kit_passes_predport_kitti(tmp_path: Path) -> None:
    import predport.testing
    from predport.testing import RULES, check_plugin
    from predport_kitti import hooks

    good = folder(tmp_path / "good", {"000000.txt": RES + "\n" + GT + "\n", "000001.txt": ""})
    encord = folder(tmp_path / "encord", {"clip.mp4__3.txt": RES + "\n", "still.jpg.txt": GT + "\n",
                                          "ontology_mapping.json": '{"Y2Fy": "Car", "cGVk": "Pedestrian"}'})
    bad = folder(tmp_path / "bad", {"000000.txt": GT + "\n" + " ".join(GT.split()[:9]) + "\n"})
    samples: list = [good, predport.testing.Sample(encord, write_options={"naming": "encord"})]
    for rel in ("kitti_object_vis/label_2", "kitti_object_vis_history/label_2", "labelformat/labels"):
        corpus = corpus_dir("kitti", *rel.split("/"))
        if corpus is not None:
            # With the image folder beside it a frame's data id is the image's name
            # (000000.png), which the written label file (000000.txt) cannot repeat on its
            # own: round-trip by label name.
            # Class names with spaces are written with '_' unless asked (the devkit splits them).
            samples.append(predport.testing.Sample(corpus, options={"data_id": "label", "keep_dontcare": True},
                                                   write_options={"keep_spaces": True}))
    report = check_plugin(hooks, samples={"kitti": samples}, malformed={"kitti": [bad]}, workdir=tmp_path / "kit")
    assert {c.rule for c in report.checks if c.status == "pass"} == set(RULES)
