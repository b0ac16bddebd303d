"""predport.Writer: the prediction-loop writer, validated on close, nothing written on error."""
from __future__ import annotations

import numpy as np
import orjson
import pytest

import predport


def test_writer__collects_frames_and_writes_canonical(tmp_path, hub):
    out = tmp_path / "preds.json"
    with predport.Writer(out, categories=["car", "person"]) as w:
        w.add(data_id="a.jpg", category="car", box=[10, 20, 50, 40], score=0.91)
        w.add(data_id="a.jpg", category="person", box=[0, 0, 5, 10], box_format="xyxy", score=0.5)
        w.add(data_id="clip.mp4", frame=7, category_id=1, keypoints=[[1, 2, 2], [3, 4]])
        w.add_frame(data_id="empty.jpg", width=640, height=480)
    ps = predport.load(out)
    assert [f.key for f in ps.frames] == [("a.jpg", None), ("clip.mp4", 7), ("empty.jpg", None)]
    recs = ps.frames[0].predictions.to_records()
    assert recs[0] == {"category_id": 0, "score": 0.91, "box": [10.0, 20.0, 50.0, 40.0]}
    assert recs[1]["box"] == [0.0, 0.0, 5.0, 10.0] and recs[1]["category_id"] == 1
    assert ps.frames[1].predictions.to_records()[0]["keypoints"] == [[1, 2, 2], [3, 4, None]]
    assert ps.frames[1].predictions.to_records()[0]["score"] is None
    assert (ps.frames[2].width, ps.frames[2].height) == (640, 480)


def test_writer__binary_mask_is_encoded_as_coco_rle(tmp_path, hub):
    m = np.array([[0, 0, 1, 1], [0, 1, 1, 1], [0, 0, 0, 1]], dtype=np.uint8)
    out = tmp_path / "m.json"
    with predport.Writer(out, categories={3: "blob"}) as w:
        w.add(data_id="x", category="blob", mask=m, score=1.0)
    rec = orjson.loads(out.read_bytes())["frames"][0]["predictions"][0]
    assert rec["mask"] == {"size": [3, 4], "counts": "411101"}  # FORMATS.md §3.4 worked example


def test_writer__error_in_loop_writes_nothing(tmp_path, hub):
    out = tmp_path / "preds.json"
    with pytest.raises(RuntimeError):
        with predport.Writer(out, categories=["car"]) as w:
            w.add(data_id="a.jpg", category="car", box=[1, 2, 3, 4], score=0.5)
            raise RuntimeError("model crashed")
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_writer__bad_prediction_fails_at_add(tmp_path, hub):
    w = predport.Writer(tmp_path / "p.json", categories=["car"], strict_categories=True)
    with pytest.raises(predport.ConfigError, match="unknown category 'bus'"):
        w.add(data_id="a", category="bus", box=[1, 2, 3, 4])
    with pytest.raises(predport.ConfigError, match="4 numbers"):
        w.add(data_id="a", category="car", box=[1, 2, 3])
    with pytest.raises(Exception):
        w.add(data_id="a", category="car", box=[1, 2, -3, 4])


def test_writer__numpy_integer_labels_are_category_ids(tmp_path, hub):
    out = tmp_path / "p.json"
    with predport.Writer(out, categories=["car", "person"]) as w:
        for label in np.array([0, 1, 1]):
            w.add(data_id="a", category=label, box=[1, 2, 3, 4], score=0.5)
    ps = predport.load(out)
    assert [c.name for c in ps.categories] == ["car", "person"]
    assert ps.frames[0].predictions.category_id.tolist() == [0, 1, 1]


def test_writer__failed_close_can_be_retried(tmp_path, hub):
    w = predport.Writer(tmp_path / "p.json", categories=["car"])
    w.add(data_id="a", category="car", box=[1, 2, 3, 4], score=0.5)
    (tmp_path / "p.json").write_text("keep")  # appeared during the run: close refuses, keeps the data
    with pytest.raises(predport.OutputError):
        w.close()
    assert (tmp_path / "p.json").read_text() == "keep"
    w.overwrite = True
    assert w.close()["predictions"] == 1


# -- fail fast (issue 12, item 8): checked when the writer opens and at the first add -------
def test_writer__existing_output_is_refused_when_the_writer_opens(tmp_path, hub):
    (tmp_path / "p.json").write_text("keep")
    with pytest.raises(predport.OutputError, match="output file exists"):
        predport.Writer(tmp_path / "p.json", categories=["car"])
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "old.txt").write_text("x")
    with pytest.raises(predport.OutputError, match="not empty"):
        predport.Writer(tmp_path / "folder", format="yolo", categories=["car"])
    assert predport.Writer(tmp_path / "folder", format="yolo", categories=["car"], overwrite=True)


def test_writer__unwritable_place_and_unknown_format_are_refused_when_the_writer_opens(tmp_path, hub):
    (tmp_path / "file").write_text("x")
    with pytest.raises(predport.OutputError, match="is a file, not a folder"):
        predport.Writer(tmp_path / "file" / "p.json")
    with pytest.raises(predport.UnknownFormatError):
        predport.Writer(tmp_path / "p.json", format="no-such-format")


def test_writer__first_add_the_format_cannot_hold_raises_and_keeps_what_was_added(tmp_path, hub):
    w = predport.Writer(tmp_path / "out", format="yolo", categories=["car"])
    w.add(data_id="a", category="car", box=[1, 2, 3, 4], score=0.5, width=10, height=10)
    with pytest.raises(predport.LossError, match=r"cannot hold the probabilities .*not added \(the 1 added") as info:
        w.add(data_id="b", category="car", box=[1, 2, 3, 4], score=0.5, probabilities=[0.5, 0.5], width=10, height=10)
    assert "allow_loss" in str(info.value)
    w.add(data_id="c", category="car", box=[2, 2, 3, 4], score=0.25, width=10, height=10)
    assert w.close()["predictions"] == 2
    assert sorted(f.data_id for f in predport.load(tmp_path / "out", format="yolo").frames) == ["a", "c"]


def test_writer__allowed_loss_is_not_refused_at_add(tmp_path, hub):
    with predport.Writer(tmp_path / "out", format="yolo", categories=["car"], allow_loss=True) as w:
        w.add(data_id="b", category="car", box=[1, 2, 3, 4], score=0.5, probabilities=[0.5, 0.5], width=10, height=10)
    assert w.summary["loss"] == {"predictions.probabilities": 1}


# The box [x=10, y=20, w=30, h=40] on a 200 x 100 image, in every format detectors emit
# (hand-computed: corners (10, 20)-(40, 60), centre (25, 40)).
SAME_BOX = {
    "xywh": [10, 20, 30, 40],
    "xyxy": [10, 20, 40, 60],
    "cxcywh": [25, 40, 30, 40],
    "xywhn": [0.05, 0.2, 0.15, 0.4],
    "xyxyn": [0.05, 0.2, 0.2, 0.6],
    "cxcywhn": [0.125, 0.4, 0.15, 0.4],
}


@pytest.mark.parametrize("box_format", sorted(SAME_BOX))
def test_writer__box_formats_detectors_emit(tmp_path, hub, box_format):
    out = tmp_path / "p.json"
    with predport.Writer(out, categories=["car"]) as w:
        w.add_frame(data_id="a.jpg", width=200, height=100)
        w.add(data_id="a.jpg", category="car", score=0.5, box=np.array(SAME_BOX[box_format]),
              box_format=box_format)
    box = orjson.loads(out.read_bytes())["frames"][0]["predictions"][0]["box"]
    assert box == pytest.approx([10, 20, 30, 40], abs=1e-9)


@pytest.mark.parametrize("kwargs, field, words", [
    ({"box": [10, 20, 5, 40], "box_format": "xyxy"}, "box",
     "add(data_id='a'): box=[10, 20, 5, 40], box_format='xyxy': the second corner is left of the first"),
    ({"box": np.array([10.0, 20.0, -5.0, 40.0])}, "box",
     "add(data_id='a'): box width: Input should be greater than or equal to 0 "
     "(box=[10.0, 20.0, -5.0, 40.0], box_format='xywh')"),
    ({"box": [1, 2, 3, 4], "score": float("inf")}, "score",
     "add(data_id='a'): score: Input should be a finite number (got inf)"),
    ({"box": [1, 2, 3, 4], "score": "high"}, "score", "add(data_id='a'): score: a number is needed (got 'high')"),
    ({"box": [0.1, 0.2, 0.3, 0.4], "box_format": "xyxyn"}, "box_format", "pass width= and height="),
    ({"box": [1, 2, 3, 4], "box_format": "ltrb"}, "box_format",
     "unknown box_format 'ltrb': one of xywh, xyxy, cxcywh, xywhn, xyxyn, cxcywhn"),
    ({"box": (1, 2, 3)}, "box", "box needs 4 numbers, got 3: [1, 2, 3]"),
    ({"polygon": [1, 2, 3, 4]}, "polygon", "add(data_id='a'): polygon[0]: List should have at least 6 items"),
])
def test_writer__add_errors_are_predport_errors_with_the_values_passed(tmp_path, hub, kwargs, field, words):
    from pydantic import ValidationError

    w = predport.Writer(tmp_path / "p.json", categories=["car"])
    with pytest.raises(predport.ConfigError) as err:
        w.add(data_id="a", category="car", **kwargs)
    assert not isinstance(err.value, ValidationError)
    assert err.value.field == field and words in str(err.value)
    w.add(data_id="a", category="car", box=[1, 2, 3, 4], score=0.5)  # the writer goes on
    assert w.close()["predictions"] == 1
