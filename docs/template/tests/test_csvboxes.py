"""Tests of predport-csvboxes: known values by hand, error paths, round trip, conformance kit."""
from __future__ import annotations

from pathlib import Path

import pytest

import predport
import predport_csvboxes.hooks as hooks
from predport.testing import RULES, predport_conformance  # noqa: F401  (a fixture, imported by name)

GOOD = (
    "image,class,x,y,w,h,score\n"
    "a.jpg,car,10,20,30.5,40,0.93\n"
    "a.jpg,person,1,2,3,4,\n"
    "b.jpg,,,,,,\n"
    "c.jpg,car,0,0,1e3,2.5,97.85\n"
)


def write(tmp_path: Path, text: str, name: str = "boxes.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_formats__installed_plugin_is_listed_by_the_hub() -> None:
    # The entry point in pyproject.toml is what makes `predport formats` list the plugin.
    info = predport.get_hub().formats()["csvboxes"]
    assert info.can_read and info.can_write and info.target == "file"
    assert info.holds == frozenset({"box", "score", "category_names", "empty_frames"})


def test_detect__header_gives_csvboxes(tmp_path: Path) -> None:
    votes = predport.detect(write(tmp_path, GOOD))
    assert votes[0].format == "csvboxes"
    assert votes[0].confidence == predport.Confidence.HIGH


def test_detect__other_csv_header_is_rejected_with_reason(tmp_path: Path) -> None:
    path = write(tmp_path, "image,class,xmin,ymin,xmax,ymax\na.jpg,car,1,2,3,4\n")
    votes = [v for v in predport.detect(path) if v.format == "csvboxes"]
    assert [v.confidence for v in votes] == [predport.Confidence.NO]
    assert "xmin" in votes[0].reason


def test_parse__reads_boxes_scores_and_empty_frames(tmp_path: Path) -> None:
    preds = predport.load(write(tmp_path, GOOD))
    assert [f.data_id for f in preds.frames] == ["a.jpg", "b.jpg", "c.jpg"]
    names = {c.id: c.name for c in preds.categories}
    a = preds.frames[0].predictions.to_records()
    assert [names[r["category_id"]] for r in a] == ["car", "person"]
    assert a[0]["box"] == [10.0, 20.0, 30.5, 40.0] and a[0]["score"] == 0.93
    assert a[1]["score"] is None  # an empty score stays "no score", never 0.0
    assert len(preds.frames[1].predictions) == 0
    c = preds.frames[2].predictions.to_records()[0]
    assert c["box"] == [0.0, 0.0, 1000.0, 2.5] and c["score"] == 97.85  # kept as given, not clipped


def test_parse__class_map_and_id_lookup_apply(tmp_path: Path) -> None:
    preds = predport.load(
        write(tmp_path, GOOD),
        class_map={"car": {"id": 7, "name": "vehicle"}, "person": 3},
        id_lookup=lambda path: ("hash-" + path.stem, None),
    )
    assert [f.data_id for f in preds.frames] == ["hash-a", "hash-b", "hash-c"]
    assert preds.frames[0].predictions.category_id.tolist() == [7, 3]
    assert preds.category(7).name == "vehicle"


def test_parse__bad_number_names_file_line_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + "d.jpg,car,1,2,wide,4,0.5\n")
    with pytest.raises(predport.ParseError) as info:
        predport.load(path)
    err = info.value
    assert (err.file, err.line, err.field) == (str(path), 6, "w")
    assert "csvboxes" in str(err)  # the hub names the plugin


def test_parse__negative_size_and_short_row_are_errors(tmp_path: Path) -> None:
    with pytest.raises(predport.ParseError) as info:
        predport.load(write(tmp_path, "image,class,x,y,w,h,score\na.jpg,car,1,2,-3,4,\n"))
    assert (info.value.line, info.value.field) == (2, "w")
    with pytest.raises(predport.ParseError) as info:
        predport.load(write(tmp_path, "image,class,x,y,w,h,score\na.jpg,car,1,2\n", "short.csv"))
    assert info.value.line == 2 and "columns" in info.value.message


def test_parse__rows_of_an_image_must_be_consecutive(tmp_path: Path) -> None:
    text = "image,class,x,y,w,h,score\na.jpg,car,1,2,3,4,\nb.jpg,car,1,2,3,4,\na.jpg,car,5,6,7,8,\n"
    with pytest.raises(predport.ParseError) as info:
        predport.load(write(tmp_path, text))
    assert (info.value.line, info.value.field) == (4, "image")


def test_parse__skip_policy_counts_bad_rows_and_keeps_the_rest(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + "d.jpg,car,1,2,wide,4,0.5\nd.jpg,car,nan,2,3,4,\n")
    stream = predport.open_stream(path, policy="skip")
    preds = stream.collect()
    assert stream.report.skipped_total == 2
    assert [f.data_id for f in preds.frames] == ["a.jpg", "b.jpg", "c.jpg"]


def test_options__declared_options_arrive_parsed(tmp_path: Path) -> None:
    # "-o empty_frames=no" on the command line: the hub hands the hook a bool.
    preds = predport.load(write(tmp_path, GOOD), read_options={"empty_frames": "no"})
    assert [f.data_id for f in preds.frames] == ["a.jpg", "c.jpg"]
    out = tmp_path / "out.csv"
    predport.save(preds, out, format="csvboxes", write_options={"decimals": "2"})
    assert out.read_text().splitlines()[1] == "a.jpg,car,10.00,20.00,30.50,40.00,0.93"
    with pytest.raises(predport.OptionError, match="did you mean 'empty_frames'"):
        predport.load(write(tmp_path, GOOD), read_options={"empty_frame": False})
    with pytest.raises(predport.OptionError, match="at least 0"):
        predport.save(preds, tmp_path / "o2.csv", format="csvboxes", write_options={"decimals": -1})


def test_roundtrip__canonical_to_csvboxes_and_back(tmp_path: Path) -> None:
    original = predport.load(write(tmp_path, GOOD))
    out = tmp_path / "out.csv"
    summary = predport.save(original, out, format="csvboxes")
    assert summary["rows"] == 4
    again = predport.load(out)
    assert [f.data_id for f in again.frames] == ["a.jpg", "b.jpg", "c.jpg"]
    for f1, f2 in zip(original.frames, again.frames):
        assert f1.predictions.to_records() == f2.predictions.to_records()


def test_write__polygon_is_reported_as_loss(tmp_path: Path) -> None:
    data = predport.PredictionSet(
        categories=[predport.Category(id=0, name="car")],
        frames=[predport.Frame(data_id="a.jpg", predictions=predport.Detections(
            category_id=[0], score=[0.5], box=[[1.0, 2.0, 3.0, 4.0]],
            polygon=[[[1.0, 2.0, 4.0, 2.0, 4.0, 6.0]]]))],
    )
    with pytest.raises(predport.LossError) as info:
        predport.save(data, tmp_path / "lossy.csv", format="csvboxes")
    assert info.value.report == {"predictions.polygon": 1}
    assert not (tmp_path / "lossy.csv").exists()  # nothing half-written


def test_conformance__the_kit_passes_the_plugin(tmp_path: Path, predport_conformance) -> None:  # noqa: F811
    bad = write(tmp_path, "image,class,x,y,w,h,score\na.jpg,car,1,2,3,four,\n", "bad.csv")
    report = predport_conformance(
        hooks,
        samples={"csvboxes": [write(tmp_path, GOOD)]},
        malformed={"csvboxes": [bad]},
    )
    assert report.passed
    assert {c.rule for c in report.checks if c.status == "pass"} == set(RULES)


def test_hooks__parse_and_to_canonical_give_the_rows_and_frames(tmp_path: Path) -> None:
    # The hub calls these only for csvboxes (dispatch by declaration): no format guard.
    context = predport.make_context(options={"empty_frames": True})
    records = list(hooks.parse(source=predport.Source(write(tmp_path, GOOD)), context=context))
    assert [(r.image, r.cls, r.line) for r in records] == [
        ("a.jpg", "car", 2), ("a.jpg", "person", 3), ("b.jpg", None, 4), ("c.jpg", "car", 5)]
    frames = list(hooks.to_canonical(records=iter(records), context=context))
    assert [f.data_id for f in frames] == ["a.jpg", "b.jpg", "c.jpg"]
    assert frames[0].predictions.box.tolist() == [[10.0, 20.0, 30.5, 40.0], [1.0, 2.0, 3.0, 4.0]]
