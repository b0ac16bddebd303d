"""Writing KITTI files: line layout, devkit unknowns, naming, warnings, and round trips."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import predport
from predport.testing import require_corpus

DEVKIT = (
    # What writeLabels.m produces: every value followed by a space, 2-decimal numbers.
    "Car -1 -1 -10 598.00 155.00 630.00 190.00 -1 -1 -1 -1000 -1000 -1000 -10 0.93 \n"
    "Pedestrian -1 -1 -10 10.50 140.20 40.10 210.00 -1 -1 -1 -1000 -1000 -1000 -10 0.41 \n"
    "Cyclist 0.15 1 -1.65 676.60 163.95 688.98 193.93 1.86 0.60 2.02 4.59 1.32 45.84 -1.55 12.5 \n"
)


def prediction_set(frames: list[dict[str, Any]], categories: list[tuple[int, str, str | None]]) -> Any:
    return predport.PredictionSet(
        categories=[predport.Category(id=i, name=n, external_id=e) for i, n, e in categories],
        frames=[
            predport.Frame(
                data_id=f["data_id"],
                frame_index=f.get("frame_index"),
                predictions=predport.Detections.from_records(f.get("predictions", [])),
            )
            for f in frames
        ],
    )


def fields(text: str) -> list[list[str]]:
    return [line.split() for line in text.splitlines() if line.strip()]


def _is_number(tok: str) -> bool:
    try:
        float(tok)
    except ValueError:
        return False
    return True


def values(text: str) -> list[tuple[str, list[float]]]:
    """(class, numbers) per line; the numbers are read from the right (class names may hold spaces)."""
    out = []
    for row in fields(text):
        k = len(row)
        while k > 1 and _is_number(row[k - 1]):
            k -= 1
        out.append((" ".join(row[:k]), [float(v) for v in row[k:]]))
    return out


def same_predictions(a: Any, b: Any) -> None:
    assert [f.data_id for f in a.frames] == [f.data_id for f in b.frames]
    for fa, fb in zip(a.frames, b.frames):
        ra, rb = fa.predictions.to_records(), fb.predictions.to_records()
        for x, y in zip(ra, rb):
            assert a.category(x["category_id"]).name == b.category(y["category_id"]).name
            x.pop("category_id"), y.pop("category_id")
        assert ra == rb, fa.data_id


# -- line layout -------------------------------------------------------------------------------------
def test_write__sixteen_columns_with_devkit_unknowns(tmp_path: Path) -> None:
    ps = prediction_set(
        [{"data_id": "000042.png", "predictions": [{"category_id": 0, "score": 0.93, "box": [598.0, 155.0, 32.0, 35.0]}]}],
        [(0, "Car", None)],
    )
    summary = predport.save(ps, tmp_path / "out", format="kitti")
    assert summary["files"] == 1 and summary["kitti.lines_16"] == 1
    text = (tmp_path / "out" / "000042.txt").read_text()
    assert text == "Car -1 -1 -10 598 155 630 190 -1 -1 -1 -1000 -1000 -1000 -10 0.93\n"


def test_write__null_scores_give_fifteen_columns(tmp_path: Path) -> None:
    ps = prediction_set(
        [{"data_id": "a", "predictions": [{"category_id": 0, "score": None, "box": [1.0, 2.0, 3.0, 4.0]}]}],
        [(0, "Car", None)],
    )
    predport.save(ps, tmp_path / "out", format="kitti")
    assert fields((tmp_path / "out" / "a.txt").read_text()) == [
        ["Car", "-1", "-1", "-10", "1", "2", "4", "6", "-1", "-1", "-1", "-1000", "-1000", "-1000", "-10"]]


def test_write__mixed_scores_warn(tmp_path: Path) -> None:
    ps = prediction_set(
        [{"data_id": "a", "predictions": [{"category_id": 0, "score": None, "box": [1, 2, 3, 4]},
                                          {"category_id": 0, "score": 0.5, "box": [1, 2, 3, 4]}]}],
        [(0, "Car", None)],
    )
    ctx = predport.make_context()
    predport.save(ps, tmp_path / "out", format="kitti", context=ctx)
    assert [len(r) for r in fields((tmp_path / "out" / "a.txt").read_text())] == [15, 16]
    assert any("without a score" in w for w in ctx.report.warnings)


def test_write__empty_frames_get_empty_files(tmp_path: Path) -> None:
    ps = prediction_set([{"data_id": "000000.png"}, {"data_id": "000001.png"}], [])
    summary = predport.save(ps, tmp_path / "out", format="kitti")
    assert summary["files"] == 2
    assert [p.read_text() for p in sorted((tmp_path / "out").iterdir())] == ["", ""]


def test_write__class_names_with_spaces_become_underscores_and_are_reported(tmp_path: Path) -> None:
    ps = prediction_set(
        [{"data_id": "a", "predictions": [{"category_id": 0, "score": 1.0, "box": [1, 2, 3, 4]}]}],
        [(0, "traffic  light", None)],
    )
    ctx = predport.make_context()
    predport.save(ps, tmp_path / "out", format="kitti", context=ctx)
    assert fields((tmp_path / "out" / "a.txt").read_text())[0][0] == "traffic_light"
    assert ctx.report.counts["kitti.class_names_with_spaces"] == 1
    predport.save(ps, tmp_path / "kept", format="kitti", options={"keep_spaces": True})
    back = predport.load(tmp_path / "kept")
    assert [c.name for c in back.categories] == ["traffic light"]


def test_write__attributes_written_in_their_columns_and_others_reported(tmp_path: Path) -> None:
    attrs = {"truncated": 0.25, "occluded": 2, "alpha": -1.5, "dimensions": [1.5, 1.6, 3.9],
             "location": [1.0, 2.0, 30.5], "rotation_y": 0.1, "iscrowd": 0, "extra": ["7", "tag"]}
    ps = prediction_set(
        [{"data_id": "a", "predictions": [{"category_id": 0, "score": 0.5, "box": [1, 2, 3, 4], "attributes": attrs}]}],
        [(0, "Car", None)],
    )
    with pytest.raises(predport.LossError) as info:  # iscrowd has no KITTI column
        predport.save(ps, tmp_path / "out", format="kitti")
    assert info.value.report == {"predictions.attributes (keys without a KITTI column)": 1}
    ctx = predport.make_context()
    predport.save(ps, tmp_path / "out", format="kitti", context=ctx, allow_loss=True)
    assert (tmp_path / "out" / "a.txt").read_text() == "Car 0.25 2 -1.5 1 2 4 6 1.5 1.6 3.9 1 2 30.5 0.1 0.5 7 tag\n"
    assert any("iscrowd (1)" in w for w in ctx.report.warnings)


def test_write__attribute_values_of_the_wrong_type_become_unknown(tmp_path: Path) -> None:
    attrs = {"occluded": True, "alpha": "left", "dimensions": [1, 2]}
    ps = prediction_set(
        [{"data_id": "a", "predictions": [{"category_id": 0, "score": 0.5, "box": [1, 2, 3, 4], "attributes": attrs}]}],
        [(0, "Car", None)],
    )
    ctx = predport.make_context()
    predport.save(ps, tmp_path / "out", format="kitti", context=ctx)
    assert fields((tmp_path / "out" / "a.txt").read_text())[0][1:4] == ["-1", "-1", "-10"]
    assert ctx.report.counts["kitti.attribute_values_not_numbers"] == 3


def test_write__row_schema_is_registered_and_checks_rows() -> None:
    registry = predport.get_hub().registry
    assert "urn:predport:schema:kitti:row:1" in registry.ids()
    good = {"type": "Car", "truncated": -1, "occluded": -1, "alpha": -10, "bbox": [1, 2, 3, 4],
            "dimensions": [-1, -1, -1], "location": [-1000, -1000, -1000], "rotation_y": -10, "score": 0.5}
    registry.validate("urn:predport:schema:kitti:row:1", good)
    with pytest.raises(predport.SchemaValidationError):
        registry.validate("urn:predport:schema:kitti:row:1", {**good, "type": "two words\t"})
    with pytest.raises(predport.SchemaValidationError):
        registry.validate("urn:predport:schema:kitti:row:1#/$defs/file", [{**good, "bbox": [1, 2, 3]}])


def test_write__file_names_from_data_ids(tmp_path: Path) -> None:
    ps = prediction_set(
        [{"data_id": "000042.png"}, {"data_id": "seq/img.JPEG"}, {"data_id": "3f1c9a2e-8b7d"},
         {"data_id": "clip.mp4", "frame_index": 12}, {"data_id": "weird.name.with.dots"}],
        [],
    )
    predport.save(ps, tmp_path / "out", format="kitti")
    written = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.txt"))
    assert written == ["000042.txt", "3f1c9a2e-8b7d.txt", "clip.mp4__12.txt", "seq/img.txt",
                       "weird.name.with.dots.txt"]


def test_write__prediction_without_box_fails_or_is_skipped(tmp_path: Path) -> None:
    ps = prediction_set(
        [{"data_id": "a", "predictions": [{"category_id": 0, "score": 0.5, "probabilities": [0.5, 0.5]},
                                          {"category_id": 0, "score": 0.7, "box": [1, 2, 3, 4]}]}],
        [(0, "Car", None)],
    )
    with pytest.raises(predport.OutputError, match="no box") as info:
        predport.save(ps, tmp_path / "out", format="kitti", allow_loss=True)
    assert info.value.json_path == "$.predictions[0]"
    assert not (tmp_path / "out").exists()  # nothing left behind
    with pytest.raises(predport.LossError):
        predport.save(ps, tmp_path / "out", format="kitti", policy="skip")  # probabilities cannot be held
    predport.save(ps, tmp_path / "out", format="kitti", allow_loss=True, policy="skip")
    assert len(fields((tmp_path / "out" / "a.txt").read_text())) == 1


# -- round trips ---------------------------------------------------------------------------------------
def test_write__devkit_text_survives_value_exactly(tmp_path: Path) -> None:
    src = tmp_path / "data"
    src.mkdir()
    (src / "000042.txt").write_text(DEVKIT)
    predport.convert(src, tmp_path / "out", to="kitti", format="kitti")
    out = (tmp_path / "out" / "000042.txt").read_text()
    assert values(out) == values(DEVKIT)
    assert out.splitlines()[1] == "Pedestrian -1 -1 -10 10.5 140.2 40.1 210 -1 -1 -1 -1000 -1000 -1000 -10 0.41"


@pytest.mark.parametrize("rel", ["kitti_object_vis/label_2", "kitti_object_vis_history/label_2",
                                 "labelformat/labels", "datumaro/kitti_3d/label_2", "datumaro/kitti_detection/label_2"])
def test_write__corpus_round_trip_reproduces_every_value(rel: str, tmp_path: Path) -> None:
    folder = require_corpus("kitti", *rel.split("/"))
    opts = {"keep_dontcare": True, "find_images": False}
    first = predport.load(folder, format="kitti", options=opts)
    predport.save(first, tmp_path / "out", format="kitti", options={"keep_spaces": True})
    second = predport.load(tmp_path / "out", format="kitti", options=opts)
    same_predictions(first, second)
    for src in sorted(folder.glob("*.txt")):
        assert values((tmp_path / "out" / src.name).read_text()) == values(src.read_text())


def test_write__canonical_round_trip_through_json(tmp_path: Path) -> None:
    src = tmp_path / "data"
    src.mkdir()
    (src / "000042.txt").write_text(DEVKIT)
    predport.convert(src, tmp_path / "c.json", format="kitti")
    predport.convert(tmp_path / "c.json", tmp_path / "out", to="kitti")
    same_predictions(predport.load(src), predport.load(tmp_path / "out"))


def test_write__encord_naming_round_trips_frames_and_feature_hashes(tmp_path: Path) -> None:
    src = tmp_path / "preds"
    src.mkdir()
    (src / "clip.mp4__3.txt").write_text(DEVKIT)
    (src / "still.jpg.txt").write_text("")
    (src / "ontology_mapping.json").write_text(json.dumps(
        {"Nzg2ODEx": "Car", "OTk2MzM3": "Pedestrian", "Y3ljbGlz": "Cyclist"}))
    first = predport.load(src)
    summary = predport.convert(src, tmp_path / "out", to="kitti", write_options={"naming": "encord"})
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "clip.mp4__3.txt", "ontology_mapping.json", "still.jpg.txt"]
    assert summary["files"] == 3
    second = predport.load(tmp_path / "out")
    same_predictions(first, second)
    assert [(f.data_id, f.frame_index) for f in second.frames] == [("clip.mp4", 3), ("still.jpg", None)]
    assert {c.name: c.external_id for c in second.categories} == {
        "Car": "Nzg2ODEx", "Pedestrian": "OTk2MzM3", "Cyclist": "Y3ljbGlz"}


def test_write__unknown_write_option_is_a_config_error(tmp_path: Path) -> None:
    ps = prediction_set([{"data_id": "a"}], [])
    with pytest.raises(predport.ConfigError, match="nameing"):
        predport.save(ps, tmp_path / "out", format="kitti", options={"nameing": "encord"})


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
extent = st.floats(min_value=0, max_value=1e5, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(x=finite, y=finite, w=extent, h=extent, score=st.one_of(st.none(), finite), alpha=finite)
def test_write__any_box_and_score_round_trip_exactly(
    tmp_path_factory: pytest.TempPathFactory, x: float, y: float, w: float, h: float, score: float | None,
    alpha: float,
) -> None:
    out = tmp_path_factory.mktemp("rt")
    rec: dict[str, Any] = {"category_id": 0, "score": score, "box": [x, y, w, h]}
    if alpha != -10.0:
        rec["attributes"] = {"alpha": alpha}
    ps = prediction_set([{"data_id": "a", "predictions": [rec]}], [(0, "Car", None)])
    predport.save(ps, out / "k", format="kitti")
    back = predport.load(out / "k", format="kitti").frames[0].predictions.to_records()[0]
    bx, by, bw, bh = back["box"]
    assert (bx, by) == (x, y) and back["score"] == score
    # The far corner is written as the shortest decimal giving back the same width when it
    # exists; otherwise within one unit in the last place.
    assert bw == pytest.approx(w, rel=1e-15, abs=1e-9) and bh == pytest.approx(h, rel=1e-15, abs=1e-9)
    assert back.get("attributes", {}).get("alpha") == rec.get("attributes", {}).get("alpha")


# -- numbers as KITTI tools write them (issue #13) ---------------------------------------------------
def test_write__no_float_noise_and_no_exponent_form(tmp_path: Path) -> None:
    # 900.13 + 80.8 is 980.9300000000001 in floating point; 1e-07 prints as '1e-07' by repr.
    ps = prediction_set([{"data_id": "000000.png", "predictions": [
        {"category_id": 1, "score": 0.5, "box": [900.13, 10.25, 80.8, 20.5],
         "attributes": {"alpha": 1e-07, "rotation_y": -2.5e-10}},
    ]}], [(1, "Car", None)])
    predport.save(ps, tmp_path / "out", format="kitti")
    line = (tmp_path / "out" / "000000.txt").read_text()
    toks = line.split()
    assert toks[4:8] == ["900.13", "10.25", "980.93", "30.75"], line
    assert toks[3] == "0.0000001" and toks[14] == "-0.00000000025", line
    assert "e" not in line.replace("Car", "")
    back = predport.load(tmp_path / "out", format="kitti").frames[0].predictions.to_records()[0]
    # Corners are what KITTI stores: 980.93 - 900.13 is 80.79999999999995 in floating point, and
    # no decimal corner gives 80.8 back bit for bit; the short corner is the one to write.
    assert back["box"] == pytest.approx([900.13, 10.25, 80.8, 20.5], abs=1e-12)
    assert back["attributes"]["alpha"] == 1e-07


def test_write__decimals_option_writes_fixed_decimals_like_detectors(tmp_path: Path) -> None:
    ps = prediction_set([{"data_id": "000000.png", "predictions": [
        {"category_id": 1, "score": 0.93456, "box": [598.004, 155.0, 32.0, 35.0]},
    ]}], [(1, "Car", None)])
    predport.save(ps, tmp_path / "out", format="kitti", write_options={"decimals": 2})
    # The devkit's own writeLabels.m layout (DEVKIT above): 2 decimals, sentinels as integers.
    assert (tmp_path / "out" / "000000.txt").read_text() == (
        "Car -1 -1 -10 598.00 155.00 630.00 190.00 -1 -1 -1 -1000 -1000 -1000 -10 0.93\n")
