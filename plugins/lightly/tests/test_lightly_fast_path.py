"""The columnar fast path gives exactly the frames and report of the per-prediction path.

The per-prediction path is forced by making the strict decoder refuse every file
(every file then goes through orjson and ``_Reader.slow``, the reference).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

import msgspec
import numpy as np
import pytest

import predport
from predport_lightly import read as reader


class _Refuse:
    """A stand-in for the strict decoder that takes no file: everything goes the slow way."""

    def decode(self, raw: bytes) -> Any:
        raise msgspec.ValidationError("forced slow path")


def _varied(root: Path, lightly_task: Callable, made_up: Any) -> Path:
    """A two-task folder with nested files, empty files, integer scores, video frames,
    extra keys, a file_name contradicting its path, and more files than one batch."""
    files = made_up.detection_files(reader.BATCH + 40, nested_every=3, subfolders=4)
    lightly_task(root, "det", "object-detection", ["car", "person", "bike"], files)
    other = {f"img_{i:04d}.json": {"file_name": f"img_{i:04d}.jpg",
                                   "predictions": [{"category_id": 5, "bbox": made_up.box(i), "score": 0.25}]}
             for i in range(1, 30, 4)}
    other["only_here.json"] = {"file_name": "only_here.jpg",
                               "predictions": [{"category_id": 6, "bbox": [2, 2, 2, 2], "score": 0.5}]}
    lightly_task(root, "det2", "object-detection", [{"id": 5, "name": "dog"}, {"id": 6, "name": "cat"}], other)
    (root / "tasks.json").write_text(json.dumps(["det", "det2"]))
    return root


def _read(path: Path, **kwargs: Any) -> tuple[list[Any], dict[str, Any]]:
    stream = predport.open_stream(path, **kwargs)
    frames = [f.to_json_dict() for f in stream.frames]
    report = stream.report.to_dict(stream.categories)
    # A batch that fails a check is re-read after the batch: its problems come later
    # in the report than in file order (same messages, same count).
    report["skipped_examples"] = sorted(report["skipped_examples"])
    return frames, report


def _both(monkeypatch: pytest.MonkeyPatch, path: Path, **kwargs: Any) -> tuple[Any, Any]:
    fast = _read(path, **kwargs)
    with monkeypatch.context() as m:
        m.setattr(reader, "_FAST", _Refuse())
        slow = _read(path, **kwargs)
    return fast, slow


def test_fast_path__varied_folder_gives_the_frames_and_report_of_the_slow_path(
    predictions_root: Path, lightly_task: Callable, made_up: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _varied(predictions_root, lightly_task, made_up)
    fast, slow = _both(monkeypatch, root)
    assert fast == slow
    frames = {(f["data_id"], f["frame_index"]): f for f in fast[0]}
    # Every det image, the video frame, 3 odd files, only_here, and det2's img_0009/img_0021,
    # which sit at the top level in det2 but below sub1/ in det (so they are other images).
    assert len(frames) == reader.BATCH + 40 + 4 + 1 + 2
    assert ("img_0009.jpg", None) in frames and ("sub1/img_0009.jpg", None) in frames
    # Independent values: img_0001 has one prediction in each task, merged in task order.
    merged = frames[("img_0001.jpg", None)]["predictions"]
    assert [p["category_id"] for p in merged] == [1, 5]
    assert merged[0]["box"] == made_up.box(1) and merged[0]["score"] == pytest.approx(0.07)
    assert frames[("sub0/img_0000.jpg", None)]["predictions"] == []
    assert frames[("video.mp4", 7)]["attributes"] == {"lightly_file_name": "video-07-mp4.png"}


def test_fast_path__class_map_sizes_and_clamp_match_the_slow_path(
    predictions_root: Path, lightly_task: Callable, made_up: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _varied(predictions_root, lightly_task, made_up)
    sizes = {f"img_{i:04d}.jpg": (20, 10) for i in range(0, 60)}
    fast, slow = _both(monkeypatch, root, policy="clamp", image_sizes=sizes,
                       class_map={"car": {"id": 30, "name": "vehicle"}, "dog": {"id": 31, "name": "dog"}})
    assert fast == slow
    assert fast[1]["counts"]["clamp.boxes"] > 0
    assert sum(fast[1]["unmapped_classes"].values()) > 0  # the one key for dropped classes
    for f in fast[0]:
        assert all(p["category_id"] in (30, 31) for p in f["predictions"])


def test_fast_path__bad_batch_falls_back_with_exact_places_under_skip(
    predictions_root: Path, lightly_task: Callable, made_up: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {f"img_{i:03d}.json": {"file_name": f"img_{i:03d}.jpg",
                                   "predictions": [{"category_id": 0, "bbox": made_up.box(i), "score": 0.5}]}
             for i in range(20)}
    files["img_005.json"]["predictions"].append({"category_id": 9, "bbox": [0, 0, 1, 1], "score": 0.5})
    files["img_006.json"]["predictions"].append({"category_id": 0, "bbox": [0, 0, -1, 1], "score": 0.5})
    files["img_007.json"] = "{not json"
    files["img_008.json"] = {"file_name": "img_008.jpg", "predictions": [{"category_id": True, "bbox": [0, 0, 1, 1]}]}
    lightly_task(predictions_root, "det", "object-detection", ["car"], files)
    fast, slow = _both(monkeypatch, predictions_root, policy="skip")
    assert fast == slow
    assert fast[1]["skipped"] == 4
    assert len(fast[0]) == 19  # img_007 is not JSON: no frame
    # Policy "fail": with only batch-level problems left, the first one is named exactly.
    (predictions_root / "det" / "img_007.json").unlink()
    (predictions_root / "det" / "img_008.json").unlink()
    with pytest.raises(predport.ParseError) as exc:
        list(predport.iter_frames(predictions_root))
    assert "img_005.json" in str(exc.value) and "$.predictions[1].category_id" in str(exc.value)


def test_read__file_larger_than_one_read_is_read_whole(tmp_path: Path, lightly_task: Callable) -> None:
    n = 3000  # ~200 KiB: several os.read calls
    preds = [{"category_id": 0, "bbox": [i, i, 1, 1], "score": 0.5} for i in range(n)]
    folder = lightly_task(tmp_path, "det", "object-detection", ["car"], {"big.json": {"file_name": "big.jpg",
                                                                                     "predictions": preds}})
    assert os.path.getsize(folder / "big.json") > 2 << 16  # more than two 64 KiB reads
    (frame,) = predport.iter_frames(folder)
    assert len(frame.predictions) == n
    np.testing.assert_array_equal(frame.predictions.box[:, 0], np.arange(n, dtype=np.float64))
