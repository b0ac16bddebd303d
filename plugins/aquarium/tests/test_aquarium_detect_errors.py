"""Detection (what is claimed and what is rejected, with reasons), located parse errors,
policies, and the conformance kit."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

import predport
import predport.testing
from predport.testing import Sample, check_plugin, corpus_dir

from predport_aquarium import hooks

SRC = Path(hooks.__file__).parent

BOX = {"uuid": "f_inf_0", "linked_labels": [], "label_type": "BBOX_2D", "label": "car",
       "label_coordinate_frame": "DEFAULT",
       "attributes": {"top": 1.0, "left": 2.0, "width": 3.0, "height": 4.0, "confidence": 0.5},
       "reuse_latest_embedding": False, "change": "ADD"}


def frame(task_id: str, *entries: dict[str, Any]) -> dict[str, Any]:
    return {"task_id": task_id, "type": "Inference", "custom_metrics": {},
            "inference_metadata": {"visualization_assets": {}, "user_metadata": {}},
            "inference_data": list(entries), "reuse_latest_embedding": False, "change": "ADD"}


def aquarium_vote(path: Path) -> predport.FormatMatch | None:
    return next((v for v in predport.detect(path) if v.format == "aquarium"), None)


# -- detection --------------------------------------------------------------------------------

def test_detect__client_files_of_both_generations_are_aquarium(legacy_file: Path, v1_file: Path,
                                                               oldest_file: Path) -> None:
    for path, gen in ((legacy_file, "0.0.x"), (v1_file, "1.0.x"), (oldest_file, "0.25")):
        votes = predport.detect(path)
        assert votes[0].format == "aquarium" and votes[0].confidence == predport.Confidence.HIGH
        assert gen in votes[0].reason


def test_detect__v1_rows_with_label_data_are_still_inferences(v1_file: Path, rows_of: Any) -> None:
    assert "label_data" in rows_of(v1_file)[0]  # 1.0.x repeats inference_data as label_data
    assert aquarium_vote(v1_file).confidence == predport.Confidence.HIGH


def test_detect__ground_truth_rows_are_rejected_with_a_reason(write_lines: Any) -> None:
    gt = {"task_id": "f", "date_captured": "2023-03-01 12:00:00", "device_id": "default_device",
          "sensor_data": [{"sensor_id": "cam", "data_urls": {"image_url": "https://x/f.jpg"}}],
          "label_data": [dict(BOX, attributes={"top": 1, "left": 2, "width": 3, "height": 4})]}
    path = write_lines([gt])
    vote = aquarium_vote(path)
    assert vote.confidence == predport.Confidence.NO
    assert vote.reason == "Aquarium ground-truth (label_data) rows, not inferences"
    with pytest.raises(predport.UnknownFormatError):
        predport.load(path)
    with pytest.raises(predport.ParseError, match="ground-truth") as info:
        predport.load(path, format="aquarium")
    assert info.value.field == "inference_data" and info.value.line == 1


def test_detect__first_line_longer_than_the_head_is_still_recognised(write_lines: Any) -> None:
    entries = [dict(BOX, uuid=f"f_inf_{i}") for i in range(600)]  # ~180 KB, beyond the 64 KiB head
    path = write_lines([frame("f", *entries)])
    assert path.stat().st_size > 64 * 1024
    vote = predport.detect(path)[0]
    assert (vote.format, vote.confidence) == ("aquarium", predport.Confidence.HIGH)
    assert "longer than the head" in vote.reason
    assert len(predport.load(path).frames[0].predictions) == 600


def test_detect__json_array_of_frames(tmp_path: Path) -> None:
    path = tmp_path / "frames.json"
    path.write_text(json.dumps([frame("a", BOX), frame("b")]))
    vote = predport.detect(path)[0]
    assert vote.format == "aquarium" and "JSON array" in vote.reason


def test_detect__task_id_without_aquarium_entries_is_only_medium(write_lines: Any) -> None:
    path = write_lines([{"task_id": "t", "inference_data": [{"bbox": [1, 2, 3, 4]}]}])
    assert aquarium_vote(path).confidence == predport.Confidence.MEDIUM


def test_detect__other_formats_are_not_claimed(tmp_path: Path) -> None:
    samples = predport.testing.write_foreign_samples(tmp_path)
    for fmt, path in samples.items():
        vote = aquarium_vote(path)
        if fmt == "aquarium":
            assert vote.confidence == predport.Confidence.HIGH
        else:
            assert vote is None or vote.confidence <= predport.Confidence.EXTENSION, (fmt, vote)


def test_detect__corpus_files_of_other_formats_are_not_claimed() -> None:
    root = predport.testing.require_corpus()
    files = [p for p in sorted(root.rglob("*.json"))[:200] if p.stat().st_size < 5_000_000]
    assert files
    for path in files:
        vote = aquarium_vote(path)
        assert vote is None or vote.confidence <= predport.Confidence.EXTENSION, (path, vote)


# -- located errors --------------------------------------------------------------------------------

def test_parse__missing_top_names_file_line_path_and_field(write_lines: Any) -> None:
    bad = dict(BOX, attributes={"left": 2.0, "width": 3.0, "height": 4.0, "confidence": 0.5})
    path = write_lines([frame("a", BOX), frame("b", BOX, bad)])
    with pytest.raises(predport.ParseError) as info:
        predport.load(path)
    err = info.value
    assert (err.file, err.line, err.json_path, err.field) == (str(path), 2, "$.inference_data[1].attributes.top", "top")
    assert "top" in str(err) and str(path) in str(err)


def test_parse__errors_in_a_json_array_name_the_element(tmp_path: Path) -> None:
    bad = dict(BOX, attributes=dict(BOX["attributes"], confidence="high"))
    path = tmp_path / "frames.json"
    path.write_text(json.dumps([frame("a", BOX), frame("b", bad)]))
    with pytest.raises(predport.ParseError) as info:
        predport.load(path)
    assert (info.value.json_path, info.value.field) == ("$[1].inference_data[0].attributes.confidence", "confidence")


@pytest.mark.parametrize("row, json_path, field", [
    (frame("a", dict(BOX, label_type="BBOX_3D")), "$.inference_data[0].label_type", "label_type"),
    (frame("a", dict(BOX, uuid=7)), "$.inference_data[0].uuid", "uuid"),
    (frame("a", dict(BOX, label="")), "$.inference_data[0].label", "label"),
    (frame("a", dict(BOX, attributes=dict(BOX["attributes"], width=-3.0))), "$.inference_data[0].attributes.width",
     "width"),
    (frame("a", dict(BOX, attributes=dict(BOX["attributes"], top=None))), "$.inference_data[0].attributes.top",
     "top"),
    (frame("a", dict(BOX, label_type="POLYGON_LIST_2D", attributes={"polygons": [{"vertices": [[1, 2, 3]]}],
                                                                    "center": None, "confidence": 0.5})),
     "$.inference_data[0].attributes.polygons[0].vertices[0]", "vertices"),
    (dict(frame("a", BOX), task_id=""), "$.task_id", "task_id"),
    (dict(frame("a"), inference_data={"x": 1}), "$.inference_data", "inference_data"),
])
def test_parse__malformed_entries_raise_located_errors(write_lines: Any, row: Any, json_path: str, field: str) -> None:
    path = write_lines([row])
    with pytest.raises(predport.ParseError) as info:
        predport.load(path, format="aquarium")
    assert (info.value.line, info.value.json_path, info.value.field) == (1, json_path, field)


def test_parse__invalid_json_line_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text(json.dumps(frame("a", BOX)) + "\n{not json\n")
    with pytest.raises(predport.ParseError) as info:
        predport.load(path, format="aquarium")
    assert info.value.line == 2 and "invalid JSON" in str(info.value)


def test_policy__skip_counts_bad_entries_and_keeps_the_rest(tmp_path: Path) -> None:
    bad_entry = dict(BOX, uuid="x", attributes={"confidence": 0.5})
    path = tmp_path / "x.jsonl"
    path.write_text("\n".join([json.dumps(frame("a", BOX, bad_entry)), "{not json", json.dumps({"task_id": 3}),
                               json.dumps(frame("d", BOX))]) + "\n")
    stream = predport.open_stream(path, format="aquarium", policy="skip")
    frames = list(stream.frames)
    assert [f.data_id for f in frames] == ["a", "d"]
    assert [len(f.predictions) for f in frames] == [1, 1]
    assert stream.report.skipped_total == 3
    assert {e.line for e in stream.report.skipped} == {1, 2, 3}


def test_parse__bad_classes_option_is_a_config_error(legacy_file: Path) -> None:
    with pytest.raises(predport.ConfigError):
        predport.load(legacy_file, options={"classes": {"car": "one"}})


# -- the kit and the rules ----------------------------------------------------------------------------

def test_conformance__the_kit_passes_predport_aquarium(tmp_path: Path, data_dir: Path, classes: dict[str, int],
                                                        write_lines: Any) -> None:
    opts = {"classes": classes, "mask_root": str(data_dir)}
    samples = [Sample(data_dir / name, options=opts)
               for name in ("legacy_0.0.67.jsonl", "v1_1.0.7.jsonl", "handwritten_oldest_0.0.25.jsonl")]
    bad = write_lines([frame("a", BOX), frame("b", dict(BOX, attributes={"top": 1.0}))], name="bad.jsonl")
    report = check_plugin(hooks, samples={"aquarium": samples}, malformed={"aquarium": [bad]},
                          workdir=tmp_path / "kit")
    assert report.passed, report.summary()
    assert {c.rule for c in report.checks if c.status == "pass"} == set(predport.testing.RULES)


def test_public_api_only__no_private_core_module_is_imported() -> None:
    assert predport.testing.private_api_uses(SRC) == []


def test_corpus__aquarium_folder_holds_no_real_files() -> None:
    """The shared corpus has no public Aquarium files (see its README); the client-made fixtures stand in."""
    folder = corpus_dir("aquarium")
    if folder is None:
        pytest.skip("no corpus")
    assert not list(folder.glob("*.json*"))
