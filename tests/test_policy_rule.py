"""One rule for policies and unmapped classes in every first-party reader (issue 14, item 2).

The same source content in each format: one image of 100 x 50 pixels, a car box inside it
([10, 10, 20, 10]), a car box that leaves it at the bottom right ([90, 40, 20, 20]) and a
bus box. The class map lists the car only. Under every policy each reader leaves the bus
out and counts it per class; under ``clamp`` the second car box is clamped to the image,
by hand: x in [90, 100] and y in [40, 50], so [90, 40, 10, 10].
"""
from __future__ import annotations

import json

import numpy as np
import pytest

import predport

W, H = 100, 50
# (class name, source id, [x, y, w, h] pixels)
ROWS = [("car", 3, [10.0, 10.0, 20.0, 10.0]), ("car", 3, [90.0, 40.0, 20.0, 20.0]), ("bus", 6, [5.0, 5.0, 10.0, 10.0])]
CLASS_MAP = {"car": {"id": 1, "name": "car"}, "3": {"id": 1, "name": "car"}}
INSIDE, OUTSIDE, CLAMPED = ROWS[0][2], ROWS[1][2], [90.0, 40.0, 10.0, 10.0]
def coco(d):
    p = d / "results.json"
    p.write_text(json.dumps([{"image_id": 1, "category_id": c, "bbox": b, "score": 0.9} for _, c, b in ROWS]))
    return p, {"image_sizes": {"1": [W, H]}}
def kitti(d):
    f = d / "label_2"; f.mkdir()
    (f / "000001.txt").write_text("".join(
        f"{n.capitalize()} -1 -1 -10 {b[0]:.2f} {b[1]:.2f} {b[0]+b[2]:.2f} {b[1]+b[3]:.2f} -1 -1 -1 -1000 -1000 -1000 -10 0.90\n" for n, _, b in ROWS))
    return f, {"image_sizes": {"000001": [W, H]}}
def yolo(d):
    (d / "labels").mkdir()
    (d / "classes.txt").write_text("\n".join(["a", "b", "c", "car", "d", "e", "bus"]) + "\n")
    (d / "labels" / "img1.txt").write_text("".join(
        f"{c} {(b[0]+b[2]/2)/W:.6f} {(b[1]+b[3]/2)/H:.6f} {b[2]/W:.6f} {b[3]/H:.6f} 0.9\n" for _, c, b in ROWS))
    return d, {"image_sizes": {"img1": [W, H]}}
def encord(d):
    p = d / "predictions.json"
    p.write_text(json.dumps([{"data_hash": "img1", "frame": 0, "confidence": 0.9, "width": W, "height": H,
        "object": {"feature_hash": n, "format": "bounding-box", "data": {"x": b[0]/W, "y": b[1]/H, "w": b[2]/W, "h": b[3]/H}}}
        for n, _, b in ROWS]))
    return p, {}
def lightly(d):
    root = d / "preds"; (root / ".lightly" / "predictions" / "det").mkdir(parents=True)
    (root / ".lightly" / "predictions" / "tasks.json").write_text(json.dumps(["det"]))
    (root / ".lightly" / "predictions" / "det" / "schema.json").write_text(json.dumps(
        {"task_type": "object-detection", "categories": [{"id": 3, "name": "car"}, {"id": 6, "name": "bus"}]}))
    (root / ".lightly" / "predictions" / "det" / "img1.json").write_text(json.dumps(
        {"file_name": "img1.png", "predictions": [{"category_id": c, "bbox": b, "score": 0.9} for _, c, b in ROWS]}))
    return root, {"image_sizes": {"img1.png": [W, H]}}
def aquarium(d):
    p = d / "frames.jsonl"
    p.write_text(json.dumps({"task_id": "img1", "type": "Inference", "custom_metrics": {}, "inference_metadata": {},
        "inference_data": [{"uuid": f"u{i}", "linked_labels": [], "label_type": "BBOX_2D", "label": n, "label_coordinate_frame": "DEFAULT",
            "attributes": {"top": b[1], "left": b[0], "width": b[2], "height": b[3], "confidence": 0.9}} for i, (n, _, b) in enumerate(ROWS)]}) + "\n")
    return p, {"image_sizes": {"img1": [W, H]}}
    import numpy as np
    from PIL import Image
    f = d / "predictions"; f.mkdir()
    a = np.zeros((H, W), dtype=np.uint8)
    a[10:20, 10:30] = 3
    a[30:40, 60:80] = 6
    Image.fromarray(a).save(f / "img1.png")
    return f, {}
def deeplake(d):
    fr = predport.Frame(data_id="img1", width=W, height=H, predictions=predport.Detections(
        [c for _, c, _ in ROWS], [0.9] * len(ROWS), [b for _, _, b in ROWS]))
    ps = predport.PredictionSet(frames=[fr], categories=[predport.Category(id=3, name="car"), predport.Category(id=6, name="bus")])
    predport.save(ps, d / "ds", "deeplake")
    return d / "ds", {}


def masks(d):
    from PIL import Image

    f = d / "predictions"
    f.mkdir()
    a = np.zeros((H, W), dtype=np.uint8)
    a[10:20, 10:30] = 3  # the car: [10, 10, 20, 10]
    a[30:40, 60:80] = 6  # the bus
    Image.fromarray(a).save(f / "img1.png")
    return f, {}


BOXED = ["aquarium", "coco", "deeplake", "encord", "kitti", "lightly", "yolo"]
NORMALISED = {"encord"}  # a box outside [0, 1] is a bad record there under fail and skip
READERS = BOXED + ["masks"]


def _read(fmt, tmp_path, policy):
    pytest.importorskip(f"predport_{fmt}")
    if fmt == "deeplake":
        pytest.importorskip("deeplake")
    src, kw = globals()[fmt](tmp_path)
    stream = predport.open_stream(src, format=fmt, class_map=CLASS_MAP, policy=policy, **kw)
    frames = list(stream.frames)
    return frames, stream


@pytest.mark.parametrize("policy", ["fail", "skip", "clamp"])
@pytest.mark.parametrize("fmt", READERS)
def test_unmapped_classes_are_left_out_and_counted_under_every_policy(fmt, policy, tmp_path):
    if fmt in NORMALISED and policy == "fail":  # the outside box stops the run first (tested below)
        policy = "skip"
    frames, stream = _read(fmt, tmp_path, policy)
    assert [f.data_id.rsplit(".", 1)[0] for f in frames] in (["img1"], ["1"], ["000001"])
    ids = frames[0].predictions.category_id.tolist()
    assert ids and set(ids) == {1}
    assert sum(stream.categories.unmapped.values()) == 1
    assert [k.casefold() for k in stream.categories.unmapped] in (["bus"], ["6"])
    assert [c.name for c in stream.categories] == ["car"]
    # One key per event: nothing else counts the dropped bus.
    assert not [k for k in stream.report.counts if ("map" in k or "dropped" in k) and not k.startswith("masks.")]


@pytest.mark.parametrize("fmt", BOXED)
def test_clamp_clamps_in_every_reader_with_image_sizes(fmt, tmp_path):
    frames, stream = _read(fmt, tmp_path, "clamp")
    (frame,) = frames
    assert (frame.width, frame.height) == (W, H)
    np.testing.assert_allclose(frame.predictions.box, [INSIDE, CLAMPED], atol=1e-9)
    assert stream.report.counts["clamp.boxes"] == 1
    assert stream.report.skipped_total == 0


@pytest.mark.parametrize("fmt", [f for f in BOXED if f not in NORMALISED])
@pytest.mark.parametrize("policy", ["fail", "skip"])
def test_without_clamp_a_pixel_box_is_kept_as_written(fmt, policy, tmp_path):
    frames, stream = _read(fmt, tmp_path, policy)
    np.testing.assert_allclose(frames[0].predictions.box, [INSIDE, OUTSIDE], atol=1e-9)
    assert "clamp.boxes" not in stream.report.counts


@pytest.mark.parametrize("fmt", sorted(NORMALISED))
def test_a_normalised_box_outside_the_image_fails_or_is_skipped(fmt, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with pytest.raises(predport.PredportError, match="outside|leaves the image"):
        _read(fmt, tmp_path / "a", "fail")
    frames, stream = _read(fmt, tmp_path / "b", "skip")
    np.testing.assert_allclose(frames[0].predictions.box, [INSIDE], atol=1e-9)
    assert stream.report.skipped_total == 1


def test_yolo_values_outside_the_unit_square_are_clamped_by_the_core(tmp_path):
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "img1.txt").write_text("0 0.95 0.5 0.2 0.4\n")  # x from 0.85 to 1.05 of 100
    frames, stream = _read_yolo(tmp_path, "clamp")
    np.testing.assert_allclose(frames[0].predictions.box, [[85.0, 15.0, 15.0, 20.0]], atol=1e-9)
    frames, stream = _read_yolo(tmp_path, "fail")  # every value in [0, 1]: kept as written
    np.testing.assert_allclose(frames[0].predictions.box, [[85.0, 15.0, 20.0, 20.0]], atol=1e-9)
    (tmp_path / "labels" / "img1.txt").write_text("0 1.02 0.5 0.2 0.4\n")  # cx > 1: x from 0.92 to 1.12
    frames, stream = _read_yolo(tmp_path, "clamp")
    np.testing.assert_allclose(frames[0].predictions.box, [[92.0, 15.0, 8.0, 20.0]], atol=1e-9)
    with pytest.raises(predport.PredportError, match=r"outside \[0, 1\]"):
        _read_yolo(tmp_path, "fail")
    frames, stream = _read_yolo(tmp_path, "skip")
    assert stream.report.skipped_total == 1 and not len(frames[0].predictions)


def _read_yolo(d, policy):
    stream = predport.open_stream(d, format="yolo", policy=policy, image_sizes={"img1": [W, H]})
    return list(stream.frames), stream


def test_clamp_frame_clamps_polygons_by_hand():
    from predport.policy import POLYGONS_CLAMPED, clamp_frame

    frame = predport.Frame(data_id="a", width=W, height=H, predictions=predport.Detections(
        [1], [0.5], None, polygon=[[[-5.0, 10.0, 120.0, 10.0, 50.0, 60.0]]]))
    report = predport.Report()
    out = clamp_frame(frame, report)
    assert out.predictions.polygon == [[[0.0, 10.0, 100.0, 10.0, 50.0, 50.0]]]
    assert report.counts[POLYGONS_CLAMPED] == 1
    assert clamp_frame(out, report) is out  # nothing left outside: the frame itself
