"""The typed line decoder (`fast.py`) gives exactly what the general decoding gives.

Each case is converted twice, with ``fast.ENABLED`` on and off (off: every line is
decoded by orjson, as before the typed decoder existed); the canonical JSON bytes, the
report and error messages must be identical. Rows are built after the 0.0.67 and 1.0.7
clients' ``to_dict`` (see tests/data/README.md).
"""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

import predport
from predport_aquarium import fast as fastrows


def legacy_entry(i: int, task: str, label: str = "car", **attrs: Any) -> dict[str, Any]:
    a = {"top": 10.5 + i, "left": 20.25, "width": 30.0, "height": 40.0, "confidence": 0.5}
    a.update(attrs)
    return {"uuid": f"{task}_inf_{i}", "linked_labels": [], "label_type": "BBOX_2D", "label": label,
            "label_coordinate_frame": "DEFAULT", "attributes": a, "reuse_latest_embedding": False,
            "change": "ADD"}


def legacy_frame(task: str, n: int = 3, **frame: Any) -> dict[str, Any]:
    row = {"task_id": task, "type": "Inference", "custom_metrics": {},
           "inference_metadata": {"visualization_assets": {}, "user_metadata": {}},
           "inference_data": [legacy_entry(i, task, label=["car", "person"][i % 2]) for i in range(n)],
           "reuse_latest_embedding": False, "change": "ADD"}
    row.update(frame)
    return row


def v1_frame(task: str, n: int = 3) -> dict[str, Any]:
    entries = []
    for i in range(n):
        e = legacy_entry(i, task, label=["car", "person"][i % 2])
        del e["linked_labels"]
        e["class_id"] = 1 + i % 2
        entries.append(e)
    return {"task_id": task, "date_captured": "2024-01-01T00:00:00", "device_id": "default_device",
            "coordinate_frames": [{"coordinate_frame_id": "world", "coordinate_frame_type": "WORLD",
                                   "coordinate_frame_metadata": '{"parent_frame_id": null}'}],
            "sensor_data": [], "geo_data": {}, "inference_data": entries, "label_data": copy.deepcopy(entries),
            "user_metadata": {}, "user_metadata_types": {}, "user_metadata_modes": {}, "custom_metrics": {},
            "reuse_latest_embedding": False, "change": "ADD"}


def oldest_frame(task: str, n: int = 2) -> dict[str, Any]:
    entries = []
    for i in range(n):
        e = legacy_entry(i, task)
        del e["reuse_latest_embedding"], e["change"]
        entries.append(e)
    return {"task_id": task, "inference_data": entries, "custom_metrics": {},
            "inference_metadata": {"visualization_assets": {}}}


def write_lines(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def convert_both(tmp_path: Path, rows: list[Any], monkeypatch: pytest.MonkeyPatch,
                 **kwargs: Any) -> tuple[Any, Any]:
    """(fast, general) results: canonical bytes and report, or the ParseError message."""
    src = write_lines(tmp_path / "in.jsonl", rows)
    out = []
    for enabled in (True, False):
        monkeypatch.setattr(fastrows, "ENABLED", enabled)
        dst = tmp_path / f"out_{enabled}.json"
        try:
            summary = predport.convert(src, dst, format="aquarium", overwrite=True, **kwargs)
        except predport.ParseError as exc:
            out.append(("error", str(exc)))
        else:
            out.append((dst.read_bytes(), summary["report"]))
    return out[0], out[1]


def test_fast_rows__client_rows_of_plain_boxes_take_the_typed_path() -> None:
    for row in (legacy_frame("a.jpg"), v1_frame("b.jpg"), oldest_frame("c.jpg")):
        assert isinstance(fastrows.decode(json.dumps(row).encode()), fastrows.FastRow)


@pytest.mark.parametrize("change", [
    lambda r: r["inference_data"][1].update(label_type="POLYGON_LIST_2D"),
    lambda r: r["inference_data"][1].update(extra=1),
    lambda r: r["inference_data"][1]["attributes"].update(confidence=None),
    lambda r: r["inference_data"][1]["attributes"].update(top=True),
    lambda r: r["inference_data"][1]["attributes"].update(iscrowd=0),
    lambda r: r["inference_data"][1].update(linked_labels=["x"]),
    lambda r: r["inference_data"][1].update(change="MODIFY"),
    lambda r: r["inference_data"][1].update(label_coordinate_frame="cam"),
    lambda r: r["inference_data"][1].pop("uuid"),
])
def test_fast_rows__other_shapes_are_left_to_the_general_path(change: Any) -> None:
    row = legacy_frame("a.jpg")
    change(row)
    assert fastrows.decode(json.dumps(row).encode()) is None


CASES = {
    "legacy": [legacy_frame(f"{i}.jpg", n=i) for i in range(4)],
    "v1": [v1_frame("a.jpg"), v1_frame("b.jpg", n=0)],
    "oldest": [oldest_frame("a.jpg")],
    "custom_uuids": [dict(legacy_frame("a.jpg"), inference_data=[
        dict(legacy_entry(i, "a.jpg"), uuid=u) for i, u in enumerate(["a.jpg_inf_0", "det-1", "a.jpg_inf_2"])])],
    "non_default_frame_fields_in_another_order": [
        {"change": "MODIFY", "task_id": "a.jpg", "inference_data": legacy_frame("a.jpg")["inference_data"],
         "custom_metrics": {"m": 1}, "type": "Inference", "extra_key": [1],
         "inference_metadata": {"user_metadata": {"k": "v"}, "visualization_assets": {"x": "y"}, "other": 2}}],
    "int_and_edge_numbers": [dict(legacy_frame("a.jpg"), inference_data=[
        legacy_entry(0, "a.jpg", top=2**53 + 1, left=-0, width=0, height=7, confidence=1),
        legacy_entry(1, "a.jpg", top=2**63 + 1, left=2**64 + 1, width=1e-320, height=1.5e300, confidence=-0.0),
        legacy_entry(2, "a.jpg", top=-3, left=10**30, width=3, height=4, confidence=0.123456789012345678)])],
    "escaped_and_non_ascii_labels": [dict(legacy_frame("a.jpg"), inference_data=[
        legacy_entry(0, "a.jpg", label="café"), legacy_entry(1, "a.jpg", label="\U0001f600 \"q\"")])],
    "v1_label_data_differs": [dict(v1_frame("a.jpg"), label_data=[])],
    "mask_label_on_a_box": [dict(legacy_frame("a.jpg"), inference_data=[legacy_entry(0, "a.jpg", label="__mask")])],
    "mixed_lines": [legacy_frame("a.jpg"), "", dict(legacy_frame("b.jpg"), inference_data=[
        dict(legacy_entry(0, "b.jpg"), label_type="CLASSIFICATION_2D")]), v1_frame("c.jpg")],
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_fast_rows__typed_and_general_decoding_give_identical_output(
        case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fast, general = convert_both(tmp_path, CASES[case], monkeypatch)
    assert fast[0] != "error"
    assert fast == general


@pytest.mark.parametrize("keep_uuids", [True, False])
def test_fast_rows__keep_uuids_and_class_map_same_on_both_paths(
        keep_uuids: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [legacy_frame("a.jpg", n=5), legacy_frame("b.jpg", n=2)]
    fast, general = convert_both(tmp_path, rows, monkeypatch, class_map={"car": 3},
                                 options={"keep_uuids": keep_uuids})
    assert fast == general
    assert b"person" not in fast[0]


BAD = {
    "negative_width": lambda r: r["inference_data"][1]["attributes"].update(width=-1),
    "empty_uuid": lambda r: r["inference_data"][1].update(uuid=""),
    "empty_label": lambda r: r["inference_data"][1].update(label=""),
    "bool_coordinate": lambda r: r["inference_data"][1]["attributes"].update(left=False),
    "empty_task_id": lambda r: r.update(task_id=""),
}


@pytest.mark.parametrize("bad", sorted(BAD))
@pytest.mark.parametrize("policy", ["fail", "skip"])
def test_fast_rows__bad_rows_same_error_or_skip_count_on_both_paths(
        bad: str, policy: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    row = legacy_frame("b.jpg")
    BAD[bad](row)
    fast, general = convert_both(tmp_path, [legacy_frame("a.jpg"), row], monkeypatch, policy=policy)
    assert fast == general
    if policy == "fail":
        assert fast[0] == "error" and "in.jsonl:2" in fast[1]
    else:
        assert fast[1]["skipped"] == 1 and "in.jsonl:2" in fast[1]["skipped_examples"][0]


@pytest.mark.parametrize("class_id", [2**63, 2**64 + 1, -(2**63) - 1])
def test_fast_rows__v1_class_id_beyond_int64_is_a_parse_error_on_both_paths(
        class_id: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    row = v1_frame("b.jpg")
    row["inference_data"][1]["class_id"] = row["label_data"][1]["class_id"] = class_id
    fast, general = convert_both(tmp_path, [v1_frame("a.jpg"), row], monkeypatch)
    assert fast == general
    assert fast[0] == "error" and "class_id" in fast[1]


def test_fast_rows__invalid_json_line_same_error_on_both_paths(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    line = json.dumps(legacy_frame("b.jpg"))[:-5]
    fast, general = convert_both(tmp_path, [legacy_frame("a.jpg"), line], monkeypatch)
    assert fast == general
    assert fast[0] == "error" and "invalid JSON" in fast[1]
