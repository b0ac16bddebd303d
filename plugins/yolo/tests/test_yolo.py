"""Tests of predport-yolo: hand-computed values, labelformat as reference, errors, round trips, the kit."""
from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

import predport
import predport.testing
import predport_yolo.hooks as hooks
from predport.testing import Sample, check_plugin

SRC = Path(hooks.__file__).parent


def png(width: int, height: int) -> bytes:
    """A valid black greyscale PNG of the given size (standard library only)."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + bytes(width) for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def tree(root: Path, labels: dict[str, str], images: dict[str, tuple[int, int]] | None = None,
         names: str | None = "names: [car, person, dog]\n") -> Path:
    """An Ultralytics-style tree: root/labels/*.txt, root/images/*, root/data.yaml."""
    for rel, text in labels.items():
        p = root / "labels" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    for rel, (w, h) in (images or {}).items():
        p = root / "images" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(png(w, h))
    if names is not None:
        (root / "data.yaml").write_text(names)
    return root


BOXES = "0 0.5 0.5 0.25 0.5 0.9\n1 0.1 0.2 0.05 0.1\n"
POLY = "2 0.1 0.1 0.5 0.1 0.5 0.6 0.77\n1 0.25 0.25 0.75 0.25 0.5 0.75\n"


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    return tree(tmp_path / "ds", {"a.txt": BOXES, "b.txt": POLY, "c.txt": ""},
                {"a.jpg": (640, 480), "b.png": (320, 200), "c.png": (10, 10)})


# -- detection ---------------------------------------------------------------------------

def test_detect__labels_tree_with_data_yaml_is_yolo(dataset: Path) -> None:
    votes = predport.detect(dataset)
    assert votes[0].format == "yolo" and votes[0].confidence == predport.Confidence.HIGH
    assert "data.yaml" in votes[0].reason
    assert predport.get_hub().pick(dataset).id == "yolo"


def test_detect__bare_labels_folder_is_yolo(dataset: Path) -> None:
    assert predport.get_hub().pick(dataset / "labels").id == "yolo"


def test_detect__kitti_text_is_rejected_with_a_reason(tmp_path: Path) -> None:
    (tmp_path / "000042.txt").write_text(
        "Car -1 -1 -10 598.00 155.00 630.00 190.00 -1 -1 -1 -1000 -1000 -1000 -10 0.93 \n")
    votes = [v for v in predport.detect(tmp_path) if v.plugin == "yolo"]
    assert [v.confidence for v in votes] == [predport.Confidence.NO]
    assert "KITTI" in votes[0].reason


def test_detect__pixel_coordinates_vote_low_and_reading_names_the_value(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("0 320 240 50 60\n")
    vote = next(v for v in predport.detect(tmp_path) if v.plugin == "yolo")
    assert vote.confidence == predport.Confidence.LOW and "outside [0, 1]" in vote.reason
    with pytest.raises(predport.ParseError) as info:
        predport.load(tmp_path, format="yolo", image_sizes={"a": (640, 480)})
    err = info.value
    assert (err.file, err.line, err.field) == (str(tmp_path / "a.txt"), 1, "x_center")
    assert "normalised" in err.message


def test_detect__data_yaml_file_is_yolo(dataset: Path) -> None:
    assert predport.detect(dataset / "data.yaml")[0].format == "yolo"


# -- reading: known values ----------------------------------------------------------------

def test_parse__boxes_are_converted_to_pixels_by_hand(dataset: Path) -> None:
    preds = predport.load(dataset)
    a = preds.frame("a.jpg")
    assert (a.width, a.height) == (640, 480)
    recs = a.predictions.to_records()
    # class 0: cx=0.5*640=320, cy=0.5*480=240, w=0.25*640=160, h=0.5*480=240 -> x=240, y=120
    assert recs[0]["box"] == pytest.approx([240.0, 120.0, 160.0, 240.0], abs=1e-9)
    assert recs[0]["score"] == 0.9
    # class 1: cx=64, cy=96, w=32, h=48 -> x=48, y=72; five tokens: no score, never invented
    assert recs[1]["box"] == pytest.approx([48.0, 72.0, 32.0, 48.0], abs=1e-9)
    assert recs[1]["score"] is None
    assert [preds.category(r["category_id"]).name for r in recs] == ["car", "person"]


def test_parse__polygons_by_token_count_with_and_without_score(dataset: Path) -> None:
    recs = predport.load(dataset).frame("b.png").predictions.to_records()
    # 8 tokens: 3 points + a score; 7 tokens: 3 points. Image 320x200.
    assert recs[0]["polygon"] == [pytest.approx([32.0, 20.0, 160.0, 20.0, 160.0, 120.0], abs=1e-9)]
    assert recs[0]["score"] == 0.77 and "box" not in recs[0]
    assert recs[1]["polygon"] == [pytest.approx([80.0, 50.0, 240.0, 50.0, 160.0, 150.0], abs=1e-9)]
    assert recs[1]["score"] is None


def test_parse__empty_label_file_is_a_frame_without_predictions(dataset: Path) -> None:
    c = predport.load(dataset).frame("c.png")
    assert len(c.predictions) == 0 and (c.width, c.height) == (10, 10)


def test_parse__all_names_are_declared_in_index_order(dataset: Path) -> None:
    cats = predport.load(dataset).categories
    assert [(c.id, c.name) for c in cats] == [(0, "car"), (1, "person"), (2, "dog")]


def test_parse__matches_labelformat_reference_reader(tmp_path: Path) -> None:
    labelformat = pytest.importorskip("labelformat.formats")
    root = tree(tmp_path / "ds", {"train/a.txt": BOXES.replace(" 0.9", "") + "2 0.9 0.9 0.2 0.2\n"},
                {"train/a.png": (640, 480)}, names="path: .\ntrain: images/train\nnames: [car, person, dog]\n")
    reference = labelformat.YOLOv8ObjectDetectionInput(input_file=root / "data.yaml", input_split="train")
    expected = [(o.category.name, o.box.to_format(labelformat.yolov8.BoundingBoxFormat.XYWH))
                for label in reference.get_labels() for o in label.objects]
    preds = predport.load(root / "data.yaml", options={"split": "train"})
    got = [(preds.category(r["category_id"]).name, r["box"]) for f in preds.frames
           for r in f.predictions.to_records()]
    assert [n for n, _ in got] == [n for n, _ in expected]
    for (_, b1), (_, b2) in zip(got, expected):
        assert b1 == pytest.approx(list(b2), abs=1e-9)
    assert preds.frames[0].data_id == "a.png"


def test_parse__names_from_classes_txt_and_name_option(tmp_path: Path) -> None:
    labels = tmp_path / "labels"
    labels.mkdir()
    (labels / "x.txt").write_text("1 0.5 0.5 0.1 0.1\n")
    (labels / "classes.txt").write_text("cat\ndog\n")
    preds = predport.load(labels, image_sizes={"x": (100, 100)})
    assert [c.name for c in preds.categories] == ["cat", "dog"]
    preds = predport.load(labels, image_sizes={"x": (100, 100)}, options={"names": {"1": "wolf"}})
    assert [(c.id, c.name) for c in preds.categories] == [(1, "wolf")]


def test_parse__without_names_the_index_is_the_category(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("7 0.5 0.5 0.1 0.1\n")
    preds = predport.load(tmp_path, image_sizes={"x.jpg": (100, 100)})
    assert [(c.id, c.name) for c in preds.categories] == [(7, "7")]


def test_parse__sizes_from_images_option_and_predict_layout(tmp_path: Path) -> None:
    # `yolo predict save_txt=True`: runs/detect/predict/{bus.jpg, labels/bus.txt}
    run = tmp_path / "predict"
    (run / "labels").mkdir(parents=True)
    (run / "labels" / "bus.txt").write_text("0 0.5 0.5 1 1 0.5\n")
    (run / "bus.png").write_bytes(png(810, 1080))
    frame = predport.load(run).frames[0]
    assert (frame.data_id, frame.width, frame.height) == ("bus.png", 810, 1080)
    assert frame.predictions.box.tolist() == [[0.0, 0.0, 810.0, 1080.0]]
    elsewhere = tmp_path / "imgs"
    elsewhere.mkdir()
    (elsewhere / "bus.png").write_bytes(png(100, 50))
    frame = predport.load(run / "labels", images=elsewhere).frames[0]
    assert (frame.width, frame.height) == (100, 50)


def test_parse__missing_size_is_a_config_error_naming_image_and_fix(tmp_path: Path) -> None:
    (tmp_path / "frame_7.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    with pytest.raises(predport.ConfigError) as info:
        predport.load(tmp_path, format="yolo")
    err = info.value
    assert "'frame_7'" in err.message and err.file == str(tmp_path / "frame_7.txt")
    assert "images=" in err.hint and "image_sizes=" in err.hint
    stream = predport.open_stream(tmp_path, format="yolo", policy="skip")
    assert stream.collect().frames == [] and stream.report.skipped_total == 1


def test_parse__class_map_and_id_lookup_apply(dataset: Path) -> None:
    preds = predport.load(dataset, class_map={"car": {"id": 10, "external_id": "OTk2"}, "person": 11, "dog": 12},
                          id_lookup=lambda p: (f"hash-{p.stem}", 3))
    a = preds.frame("hash-a", 3)
    assert a.predictions.category_id.tolist() == [10, 11] and (a.width, a.height) == (640, 480)
    assert preds.category(10).external_id == "OTk2"


def test_parse__unmapped_class_is_left_out_and_counted_under_every_policy(dataset: Path) -> None:
    for policy in ("fail", "skip", "clamp"):
        stream = predport.open_stream(dataset, class_map={"car": 1}, policy=policy)
        preds = stream.collect()
        assert preds.frame("a.jpg").predictions.category_id.tolist() == [1]
        assert stream.report.skipped_total == 0 and sum(stream.categories.unmapped.values()) == 3


# -- reading: errors and policies -------------------------------------------------------------

@pytest.mark.parametrize(
    ("line", "field", "words"),
    [
        ("0 0.5 0.5 0.1", None, "found 4 values"),
        ("car 0.5 0.5 0.1 0.1", "class", "not a class index"),
        ("5 0.5 0.5 0.1 0.1", "class", "not among the names"),
        ("0 0.5 nan 0.1 0.1", "y_center", "not a finite number"),
        ("0 0.5 0.5 -0.1 0.1", "width", "negative"),
        ("0 0.5 0.5 0.1 0.1 high", "score", "not a finite number"),
        ("0 0.1 0.1 0.5 0.1 1.5 0.6", "x3", "outside [0, 1]"),
    ],
)
def test_parse__malformed_line_names_file_line_and_field(tmp_path: Path, line: str, field: str | None,
                                                         words: str) -> None:
    root = tree(tmp_path, {"a.txt": "0 0.5 0.5 0.1 0.1\n" + line + "\n"}, {"a.png": (100, 100)})
    with pytest.raises(predport.ParseError) as info:
        predport.load(root)
    err = info.value
    assert (err.file, err.line, err.field) == (str(root / "labels" / "a.txt"), 2, field)
    assert words in err.message and "predport-yolo" in str(err)


def test_parse__skip_policy_counts_bad_lines_and_keeps_the_rest(tmp_path: Path) -> None:
    root = tree(tmp_path, {"a.txt": "0 0.5 0.5 0.1 0.1\n0 0.5 x 0.1 0.1\n9 0.5 0.5 0.1 0.1\n1 0.5 0.5 0.2 0.2\n"},
                {"a.png": (100, 100)})
    stream = predport.open_stream(root, policy="skip")
    preds = stream.collect()
    assert preds.frames[0].predictions.category_id.tolist() == [0, 1]
    assert stream.report.skipped_total == 2


def test_parse__clamp_policy_clamps_boxes_to_the_image(tmp_path: Path) -> None:
    root = tree(tmp_path, {"a.txt": "0 1.02 0.5 0.1 0.2\n"}, {"a.png": (100, 100)})
    stream = predport.open_stream(root, format="yolo", policy="clamp")  # 1.02: not YOLO enough to detect
    box = stream.collect().frames[0].predictions.box.tolist()[0]
    # corners x 97..107 -> clamped to 97..100; y 40..60 kept
    assert box == pytest.approx([97.0, 40.0, 3.0, 20.0], abs=1e-9)
    assert stream.report.counts["clamp.boxes"] == 1


def test_parse__task_detect_refuses_polygon_lines(dataset: Path) -> None:
    with pytest.raises(predport.ParseError) as info:
        predport.load(dataset, options={"task": "detect"})
    assert info.value.file.endswith("b.txt") and "5, 6 or 7 values" in info.value.message


def test_parse__split_reads_one_subfolder(tmp_path: Path) -> None:
    root = tree(tmp_path, {"train/a.txt": BOXES, "val/b.txt": "2 0.5 0.5 0.1 0.1\n"},
                {"train/a.png": (64, 48), "val/b.png": (64, 48)})
    assert [f.data_id for f in predport.load(root).frames] == ["train/a.png", "val/b.png"]
    assert [f.data_id for f in predport.load(root, options={"split": "val"}).frames] == ["b.png"]


# -- writing ---------------------------------------------------------------------------------

def test_write__roundtrip_yolo_to_yolo_keeps_lines_names_and_sizes(dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    summary = predport.convert(dataset, out, to="yolo")
    assert summary["loss"] == {} and summary["labels"] == 3
    assert (out / "labels" / "a.txt").read_text() == BOXES
    assert (out / "labels" / "b.txt").read_text() == POLY
    assert (out / "labels" / "c.txt").read_text() == ""
    assert (out / "data.yaml").read_text() == "names:\n  0: car\n  1: person\n  2: dog\n"
    first, again = predport.load(dataset), predport.load(out)  # no images: sizes.json
    assert [(f.data_id, f.width, f.height) for f in again.frames] == [(f.data_id, f.width, f.height)
                                                                       for f in first.frames]
    for f1, f2 in zip(first.frames, again.frames):
        assert f1.predictions.to_records() == f2.predictions.to_records()


def test_write__classes_txt_and_decimals_options(dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    predport.convert(dataset, out, to="yolo", write_options={"names": "classes.txt", "decimals": 6})
    assert (out / "classes.txt").read_text() == "car\nperson\ndog\n"
    assert (out / "labels" / "a.txt").read_text().splitlines()[1] == "1 0.100000 0.200000 0.050000 0.100000"


def test_write__size_comes_from_the_frame_or_the_user(tmp_path: Path) -> None:
    frame = predport.Frame(data_id="img/1.jpg", predictions=predport.Detections(
        category_id=[3], score=[0.5], box=[[10.0, 20.0, 30.0, 40.0]]))
    data = predport.PredictionSet(categories=[predport.Category(id=3, name="cat")], frames=[frame])
    with pytest.raises(predport.ConfigError) as info:
        predport.save(data, tmp_path / "a", format="yolo")
    assert "'img/1.jpg'" in info.value.message
    assert not (tmp_path / "a").exists()  # nothing is left behind
    predport.save(data, tmp_path / "b", format="yolo", image_sizes={"img/1.jpg": (100, 200)})
    # cx = (10 + 15) / 100, cy = (20 + 20) / 200, w = 30 / 100, h = 40 / 200; class id 3 is the
    # first (and only) class: index 0, as an Ultralytics training run counts them.
    assert (tmp_path / "b" / "labels" / "img" / "1.txt").read_text() == "0 0.25 0.2 0.3 0.2 0.5\n"
    assert "names:\n  0: cat\n" in (tmp_path / "b" / "data.yaml").read_text()
    predport.save(data, tmp_path / "c", format="yolo", image_sizes={"img/1.jpg": (100, 200)},
                  options={"classes": "ids"})
    assert (tmp_path / "c" / "labels" / "img" / "1.txt").read_text() == "3 0.25 0.2 0.3 0.2 0.5\n"


def test_write__box_outside_the_image_fails_or_is_clamped(tmp_path: Path) -> None:
    frame = predport.Frame(data_id="a.jpg", width=100, height=100, predictions=predport.Detections(
        category_id=[0], score=[0.5], box=[[-50.0, 10.0, 40.0, 10.0]]))
    data = predport.PredictionSet(categories=[predport.Category(id=0, name="car")], frames=[frame])
    with pytest.raises(predport.OutputError) as info:
        predport.save(data, tmp_path / "a", format="yolo")
    assert info.value.field == "x_center" and "clamp" in info.value.hint
    predport.save(data, tmp_path / "b", format="yolo", policy="clamp")
    assert (tmp_path / "b" / "labels" / "a.txt").read_text() == "0 0 0.15 0 0.1 0.5\n"


def test_write__box_and_polygon_keeps_the_polygon_and_reports_it(tmp_path: Path) -> None:
    frame = predport.Frame(data_id="a.jpg", width=100, height=100, predictions=predport.Detections(
        category_id=[0], score=[None], box=[[10.0, 10.0, 40.0, 40.0]],
        polygon=[[[10.0, 10.0, 50.0, 10.0, 50.0, 50.0]]]))
    data = predport.PredictionSet(categories=[predport.Category(id=0, name="car")], frames=[frame])
    with pytest.raises(predport.LossError) as info:
        predport.save(data, tmp_path / "a", format="yolo")
    assert info.value.report == {"predictions.box (beside a polygon)": 1}
    assert not (tmp_path / "a").exists()
    summary = predport.save(data, tmp_path / "a", format="yolo", allow_loss=True)
    assert summary["boxes not written (the polygon was)"] == 1
    assert summary["loss"] == {"predictions.box (beside a polygon)": 1}
    assert (tmp_path / "a" / "labels" / "a.txt").read_text() == "0 0.1 0.1 0.5 0.1 0.5 0.5\n"
    predport.save(data, tmp_path / "b", format="yolo", options={"geometry": "box"}, allow_loss=True)
    assert (tmp_path / "b" / "labels" / "a.txt").read_text() == "0 0.3 0.3 0.4 0.4\n"


def test_write__frame_index_and_attributes_are_reported_as_loss(tmp_path: Path) -> None:
    frame = predport.Frame(data_id="clip.mp4", frame_index=4, width=10, height=10, attributes={"k": 1})
    data = predport.PredictionSet(frames=[frame])
    with pytest.raises(predport.LossError) as info:
        predport.save(data, tmp_path / "a", format="yolo")
    assert info.value.report == {"frames.attributes.k": 1, "frames.frame_index": 1}
    predport.save(data, tmp_path / "a", format="yolo", allow_loss=True)
    assert (tmp_path / "a" / "labels" / "clip.mp4__4.txt").read_text() == ""


# -- through COCO results and back ----------------------------------------------------------

def test_roundtrip__yolo_to_coco_results_and_back_within_1e6_pixels(dataset: Path, tmp_path: Path) -> None:
    if "coco" not in predport.get_hub().formats():
        pytest.importorskip("predport_coco")
        pytest.skip("predport-coco is importable but not registered")
    boxes_only = tree(tmp_path / "boxes", {"a.txt": BOXES, "d.txt": "2 0.123456789 0.987654321 0.2 0.01 0.5\n"},
                      {"a.jpg": (640, 480), "d.png": (1920, 1080)})
    coco = tmp_path / "results.json"
    s1 = predport.convert(boxes_only, coco, to="coco", allow_loss=True)
    # COCO results hold no image size and no class names (a companion file would: -w categories=).
    assert set(s1["loss"]) <= {"frames.width/height", "categories.name"}
    back = tmp_path / "back"
    s2 = predport.convert(coco, back, to="yolo", images=boxes_only / "images", allow_loss=True)
    assert set(s2["loss"]) <= {"frames.attributes"}  # the COCO image_id, which YOLO cannot hold
    first, again = predport.load(boxes_only), predport.load(back)
    assert sorted(f.data_id for f in again.frames) == sorted(f.data_id for f in first.frames)
    for f1 in first.frames:
        f2 = again.frame(f1.data_id)
        assert (f2.width, f2.height) == (f1.width, f1.height)
        assert np.abs(f2.predictions.box - f1.predictions.box).max() <= 1e-6  # pixels
        # COCO results carry category ids, not names: the ids (= YOLO class indices) survive.
        assert f2.predictions.category_id.tolist() == f1.predictions.category_id.tolist()
        np.testing.assert_array_equal(f2.predictions.score, f1.predictions.score)


# -- the contract --------------------------------------------------------------------------------

def test_conformance__the_kit_passes_predport_yolo(dataset: Path, tmp_path: Path) -> None:
    bad = tree(tmp_path / "bad", {"a.txt": "0 0.5 0.5 0.1 0.1\n0 0.5 0.5 0.1\n"}, {"a.png": (100, 100)})
    labels_only = tmp_path / "plain"
    labels_only.mkdir()
    (labels_only / "x.txt").write_text(BOXES)
    report = check_plugin(
        hooks,
        samples={"yolo": [dataset, dataset / "labels", Sample(labels_only, image_sizes={"x": (64, 64)})]},
        malformed={"yolo": [bad]},
        workdir=tmp_path / "kit",
    )
    assert {c.rule for c in report.checks if c.status == "pass"} == set(predport.testing.RULES)


def test_public_api_only__no_private_core_module_is_imported() -> None:
    assert predport.testing.private_api_uses(SRC) == []




# -- Ultralytics line shapes: tracked boxes, pose, ambiguity ----------------------------------

# Lines as `yolo track save_txt=True save_conf=True` writes them (cls cx cy w h conf id; a box the
# tracker has not confirmed yet has no id).
TRACKED = "0 0.5 0.5 0.2 0.4 0.91 1\n2 0.25 0.3 0.1 0.2 0.8 14\n0 0.75 0.75 0.1 0.1 0.33\n"


def test_parse__tracked_lines_mixed_with_untracked_read_as_boxes_scores_and_track_ids(tmp_path: Path) -> None:
    root = tree(tmp_path, {"f.txt": TRACKED}, {"f.png": (200, 100)})
    (frame,) = predport.load(root).frames
    recs = frame.predictions.to_records()
    assert [r["category_id"] for r in recs] == [0, 2, 0]
    assert [r["score"] for r in recs] == [0.91, 0.8, 0.33]
    # pixels by hand: cx 0.5*200=100, w 0.2*200=40 -> x 80; cy 0.5*100=50, h 0.4*100=40 -> y 30
    assert recs[0]["box"] == [80.0, 30.0, 40.0, 40.0]
    assert [r.get("attributes") for r in recs] == [{"track_id": 1}, {"track_id": 14}, None]
    assert all("polygon" not in r for r in recs)


def test_parse__seven_values_alone_are_refused_naming_the_option_then_read_as_told(tmp_path: Path) -> None:
    root = tree(tmp_path, {"f.txt": "0 0.5 0.5 0.2 0.4 0.91 1\n"}, {"f.png": (200, 100)})
    with pytest.raises(predport.ParseError) as info:
        predport.load(root)
    assert "task=detect" in info.value.message and "task=segment" in info.value.message
    assert info.value.file.endswith("f.txt")
    tracked = predport.load(root, options={"task": "detect"}).frames[0].predictions.to_records()[0]
    assert tracked["attributes"] == {"track_id": 1} and tracked["score"] == 0.91
    triangle = predport.load(root, options={"task": "segment"}).frames[0].predictions.to_records()[0]
    assert triangle["polygon"] == [[100.0, 50.0, 40.0, 40.0, 182.0, 100.0]] and triangle["score"] is None
    # A track id above 1 cannot be a normalised coordinate: that decides by itself.
    (tmp_path / "labels" / "f.txt").write_text("0 0.5 0.5 0.2 0.4 0.91 7\n")
    assert predport.load(root).frames[0].predictions.to_records()[0]["attributes"] == {"track_id": 7}


def _pose_line(cls: int, box: tuple[float, float, float, float], kps: list[tuple[float, float, float]],
               conf: float | None) -> str:
    vals = [str(cls), *(f"{v:g}" for v in box)]
    for x, y, v in kps:
        vals += [f"{x:g}", f"{y:g}", f"{v:g}"]
    if conf is not None:
        vals.append(f"{conf:g}")
    return " ".join(vals) + "\n"


def _person(cx: float) -> list[tuple[float, float, float]]:
    # 17 COCO keypoints inside a box centred at (cx, 0.5) of 0.2 x 0.6; two unlabelled (0 0 0).
    pts = [(cx - 0.05 + 0.1 * (j % 3) / 2, 0.3 + 0.4 * j / 16, 0.9) for j in range(15)]
    return pts + [(0.0, 0.0, 0.0), (0.0, 0.0, 0.0)]


def test_parse__pose_lines_of_56_values_read_as_box_and_17_keypoints(tmp_path: Path) -> None:
    text = _pose_line(0, (0.3, 0.5, 0.2, 0.6), _person(0.3), None) + \
        _pose_line(0, (0.7, 0.5, 0.2, 0.6), _person(0.7), None)
    assert len(text.splitlines()[0].split()) == 56
    root = tree(tmp_path, {"p.txt": text}, {"p.png": (100, 200)}, names="names: [person]\n")
    recs = predport.load(root).frames[0].predictions.to_records()
    assert len(recs) == 2 and all("polygon" not in r for r in recs)
    kp = recs[0]["keypoints"]
    assert len(kp) == 17
    # keypoint 1: x (0.3 - 0.05) * 100 = 25, y 0.3 * 200 = 60, v as written
    assert kp[0] == [pytest.approx(25.0), pytest.approx(60.0), 0.9]
    assert recs[0]["box"] == [pytest.approx(20.0), pytest.approx(40.0), pytest.approx(20.0), pytest.approx(120.0)]
    assert recs[0]["score"] is None


def test_parse__pose_with_a_score_and_kpt_shape_from_data_yaml(tmp_path: Path) -> None:
    # kpt_shape [4, 2]: 5 + 8 = 13 values, 14 with the score (odd/even would say polygon).
    line = "1 0.5 0.5 0.4 0.4 0.4 0.4 0.6 0.4 0.6 0.6 0.4 0.6 0.77\n"
    root = tree(tmp_path, {"q.txt": line}, {"q.png": (10, 10)}, names="names: [a, b]\nkpt_shape: [4, 2]\n")
    (rec,) = predport.load(root).frames[0].predictions.to_records()
    assert rec["score"] == 0.77 and rec["keypoints"] == [[4.0, 4.0, None], [6.0, 4.0, None], [6.0, 6.0, None],
                                                         [4.0, 6.0, None]]
    assert "polygon" not in rec
    # The same file read as told otherwise: a polygon of 6 points and a score.
    (poly,) = predport.load(root, options={"task": "segment"}).frames[0].predictions.to_records()
    assert len(poly["polygon"][0]) == 12


def test_parse__one_width_polygon_or_pose_is_refused_unless_told(tmp_path: Path) -> None:
    # Two 56-value lines whose "keypoints" fall outside their "box": not evidence of pose.
    import random

    rnd = random.Random(3)
    rows = "".join("0 0.1 0.1 0.05 0.05 " + " ".join(f"{rnd.uniform(0.6, 0.9):.4f}" for _ in range(51)) + "\n"
                   for _ in range(2))
    root = tree(tmp_path, {"s.txt": rows}, {"s.png": (10, 10)})
    # Read as a pose line the "keypoints" would lie far from the "box": still, one width is no proof.
    with pytest.raises(predport.ParseError) as info:  # lines of one width fit pose: not decided silently
        predport.load(root)
    assert "task=pose" in info.value.message and "task=segment" in info.value.message
    frames = predport.load(root, options={"task": "segment"}).frames
    assert len(frames[0].predictions.to_records()[0]["polygon"][0]) == 54
    with pytest.raises(predport.ParseError, match="expected 20, 21 or 22 values"):
        predport.load(root, options={"task": "pose", "kpt_shape": "5,3"})


def test_parse__runs_pose_folder_decides_pose(tmp_path: Path) -> None:
    line = _pose_line(0, (0.3, 0.5, 0.2, 0.6), _person(0.3), 0.9)
    root = tree(tmp_path / "runs" / "pose" / "predict", {"x.txt": line}, {"x.png": (10, 10)}, names=None)
    (rec,) = predport.load(root).frames[0].predictions.to_records()
    assert len(rec["keypoints"]) == 17 and rec["score"] == 0.9


def test_write__tracked_and_pose_lines_keep_their_shapes(tmp_path: Path) -> None:
    root = tree(tmp_path / "t", {"f.txt": TRACKED}, {"f.png": (200, 100)})
    predport.convert(root, tmp_path / "t-out", to="yolo")
    assert (tmp_path / "t-out" / "labels" / "f.txt").read_text().splitlines() == TRACKED.splitlines()
    text = _pose_line(0, (0.3, 0.5, 0.2, 0.6), _person(0.3), 0.5)
    root = tree(tmp_path / "p", {"p.txt": text}, {"p.png": (100, 200)}, names="names: [person]\nkpt_shape: [17, 3]\n")
    predport.convert(root, tmp_path / "p-out", to="yolo")
    out = tmp_path / "p-out"
    written = (out / "labels" / "p.txt").read_text().split()
    assert len(written) == 57 and [float(v) for v in written] == pytest.approx([float(v) for v in text.split()])
    assert "kpt_shape:\n- 17\n- 3\n" in (out / "data.yaml").read_text()
    assert predport.load(out).frames[0].predictions.to_records()[0]["keypoints"] == \
        predport.load(root).frames[0].predictions.to_records()[0]["keypoints"]


def test_write__coco_ids_become_contiguous_indices_with_names(tmp_path: Path) -> None:
    cats = [predport.Category(id=1, name="person"), predport.Category(id=3, name="car"),
            predport.Category(id=90, name="toothbrush")]
    frame = predport.Frame(data_id="a.jpg", width=10, height=10, predictions=predport.Detections(
        category_id=[90, 1, 3], score=[0.1, 0.2, 0.3], box=[[0, 0, 1, 1]] * 3))
    predport.save(predport.PredictionSet(categories=cats, frames=[frame]), tmp_path / "o", format="yolo")
    assert [ln.split()[0] for ln in (tmp_path / "o" / "labels" / "a.txt").read_text().splitlines()] == ["2", "0", "1"]
    import yaml

    assert yaml.safe_load((tmp_path / "o" / "data.yaml").read_text())["names"] == {0: "person", 1: "car",
                                                                                2: "toothbrush"}


def test_parse__a_huge_class_index_does_not_allocate_by_its_value(tmp_path: Path) -> None:
    import tracemalloc

    root = tree(tmp_path, {"a.txt": "3000000000 0.5 0.5 0.1 0.1\n7 0.5 0.5 0.1 0.1\n"}, {"a.png": (10, 10)}, names=None)
    tracemalloc.start()
    frames = predport.load(root).frames
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert frames[0].predictions.category_id.tolist() == [3000000000, 7]
    assert peak < 50 * 2**20  # an array indexed by class would need 24 GB


def test_parse__a_single_pose_width_line_is_refused_without_a_hint(tmp_path: Path) -> None:
    line = _pose_line(0, (0.3, 0.5, 0.2, 0.6), _person(0.3), None)
    root = tree(tmp_path, {"x.txt": line}, {"x.png": (10, 10)}, names=None)
    with pytest.raises(predport.ParseError) as info:
        predport.load(root)
    assert "task=pose" in info.value.message and "kpt_shape" in info.value.message
    (rec,) = predport.load(root, options={"kpt_shape": [17, 3]}).frames[0].predictions.to_records()
    assert len(rec["keypoints"]) == 17
