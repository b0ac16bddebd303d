"""Worker processes (option ``workers``): the same frames, order and report as one process.

Workers are forked, so the tests that start them run on Linux only; the rest (option
checks, the fallbacks) run everywhere.
"""
from __future__ import annotations

import gc
import json
import multiprocessing
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Callable

import pytest

import predport
from predport import workers as pool
from predport_lightly import read as reader

needs_fork = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers are forked on Linux only")


def _folder(root: Path, lightly_task: Callable, made_up: Any, n: int = 2 * reader.BATCH + 50,
            bad: bool = True) -> Path:
    """One object-detection task of ``n`` plain files (nested ones too) and the odd files of
    ``made_up.detection_files``; with ``bad``, also invalid JSON, an id missing from the
    schema and a negative box size, in later batches."""
    files = made_up.detection_files(n, nested_every=5, subfolders=3)
    if bad:
        files["img_0201.json"] = "{not json"
        files["img_0301.json"]["predictions"].append({"category_id": 9, "bbox": [0, 0, 1, 1], "score": 0.5})
        files["img_0401.json"]["predictions"].append({"category_id": 0, "bbox": [0, 0, -1, 1], "score": 0.5})
    return lightly_task(root, "det", "object-detection", ["car", "person", "bike"], files)


def _big_folder(root: Path, lightly_task: Callable, made_up: Any, batches: int = 6) -> Path:
    """100 boxes a file: a batch is ~1.2 MB of columns, more than a pipe holds, so a worker
    with batches left is alive (waiting on its pipe) until the main process reads them."""
    files = {f"img_{i:04d}.json": {"file_name": f"img_{i:04d}.jpg",
                                   "predictions": [{"category_id": 0, "bbox": made_up.box(i), "score": 0.5}] * 100}
             for i in range(batches * reader.BATCH)}
    return lightly_task(root, "det", "object-detection", ["car"], files)


def _read(path: Path, workers: Any, **kwargs: Any) -> tuple[list[Any], dict[str, Any]]:
    stream = predport.open_stream(path, options={"workers": workers}, **kwargs)
    frames = [f.to_json_dict() for f in stream.frames]
    return frames, stream.report.to_dict(stream.categories)


def _ours() -> list[Any]:
    return [p for p in multiprocessing.active_children() if p.name.startswith("predport-lightly-")]


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The worker counts of the pools started (the real ones), so a test knows workers ran."""
    counts: list[int] = []
    real = pool._Pool

    class Spy(real):  # type: ignore[misc, valid-type]
        def __init__(self, func: Any, items: list[Any], n: int, *rest: Any) -> None:
            counts.append(n)
            super().__init__(func, items, n, *rest)

    monkeypatch.setattr(pool, "_Pool", Spy)
    return counts


@needs_fork
@pytest.mark.parametrize("workers", [1, 2, 3])
def test_workers__same_frames_order_and_report_as_one_process(
    tmp_path: Path, lightly_task: Callable, made_up: Any, workers: int, started: list[int]
) -> None:
    folder = _folder(tmp_path, lightly_task, made_up)
    one = _read(folder, 0, policy="skip")
    assert started == []
    many = _read(folder, workers, policy="skip")
    assert started == [workers]
    assert many == one
    frames, report = many
    # Independent facts of the folder: every file but the invalid one gives a frame, in walk order
    # (top-level files, then sub0/, sub1/, sub2/); the bad id and the bad box are the skipped rows.
    assert len(frames) == 2 * reader.BATCH + 50 - 1 + 4
    ids = [f["data_id"] for f in frames]
    assert ids.index("img_0001.jpg") < ids.index("sub0/img_0000.jpg") < ids.index("sub2/img_0005.jpg")
    assert report["skipped"] == 3  # invalid JSON, id 9, negative width
    assert report["counts"]["file_name differs from the file's path"] == 1
    video = next(f for f in frames if f["data_id"] == "video.mp4")
    assert video["frame_index"] == 7 and video["attributes"] == {"lightly_file_name": "video-07-mp4.png"}
    assert not _ours()  # all stopped once the stream is exhausted


@needs_fork
def test_workers__match_the_per_prediction_path_with_class_map_sizes_and_clamp(
    tmp_path: Path, lightly_task: Callable, made_up: Any, monkeypatch: pytest.MonkeyPatch, started: list[int]
) -> None:
    folder = _folder(tmp_path, lightly_task, made_up, bad=False)
    sizes = {f"img_{i:04d}.jpg": (20, 10) for i in range(0, 600)}
    kwargs = dict(policy="clamp", image_sizes=sizes, class_map={"car": {"id": 30, "name": "vehicle"}})
    fast = _read(folder, 2, **kwargs)
    assert started == [2]

    class _Refuse:  # the strict decoder takes no file: every file goes the per-prediction way
        def decode(self, raw: bytes) -> Any:
            raise reader.msgspec.ValidationError("forced")

    monkeypatch.setattr(reader, "_FAST", _Refuse())
    slow = _read(folder, 0, **kwargs)
    assert fast == slow
    assert fast[1]["counts"]["clamp.boxes"] > 0
    assert sum(fast[1]["unmapped_classes"].values()) > 0  # the one key for dropped classes
    assert {p["category_id"] for f in fast[0] for p in f["predictions"]} == {30}


@needs_fork
def test_workers__stop_when_reading_stops_early_or_the_stream_is_dropped(
    tmp_path: Path, lightly_task: Callable, made_up: Any
) -> None:
    folder = _big_folder(tmp_path, lightly_task, made_up)
    frames = predport.iter_frames(folder, options={"workers": 2})
    first = next(frames)
    assert first.data_id == "img_0000.jpg" and len(first.predictions) == 100
    assert len(_ours()) == 2
    frames.close()
    assert not _ours()
    # Opened and never read: the workers go with the stream.
    stream = predport.open_stream(folder, options={"workers": 2})
    assert len(_ours()) == 2
    del stream
    gc.collect()
    assert not _ours()


@needs_fork
def test_workers__stop_when_a_conversion_fails(tmp_path: Path, lightly_task: Callable, made_up: Any) -> None:
    folder = _big_folder(tmp_path, lightly_task, made_up)
    gc.disable()  # stopped by convert itself, not by the garbage collector
    try:
        with pytest.raises(predport.ConfigError, match="image size") as exc:  # YOLO needs sizes
            predport.convert(folder, tmp_path / "out", to="yolo", options={"workers": 2})
        assert not _ours()  # the workers had batches left: they were stopped, not finished
        del exc
    finally:
        gc.enable()


@needs_fork
def test_workers__stop_when_the_reader_raises(tmp_path: Path, lightly_task: Callable, made_up: Any) -> None:
    folder = _big_folder(tmp_path, lightly_task, made_up)
    (folder / "img_0300.json").write_text("{not json")
    gc.disable()
    try:
        with pytest.raises(predport.ParseError, match="img_0300.json") as exc:
            with predport.open_stream(folder, options={"workers": 2}) as stream:  # policy "fail"
                for _ in stream:
                    pass
        assert not _ours()  # the kept error (and its traceback) does not keep them alive
        del exc
    finally:
        gc.enable()


@needs_fork
def test_workers__a_killed_worker_is_reported_and_the_rest_read_here(
    tmp_path: Path, lightly_task: Callable, made_up: Any
) -> None:
    folder = _big_folder(tmp_path, lightly_task, made_up)
    expected = _read(folder, 0)
    stream = predport.open_stream(folder, options={"workers": 2})
    victim = next(p for p in _ours() if p.name.endswith("-1"))  # blocked on its first batch: alive
    os.kill(victim.pid, signal.SIGKILL)
    victim.join(5)
    frames = [f.to_json_dict() for f in stream.frames]
    report = stream.report.to_dict(stream.categories)
    (warning,) = [w for w in report["warnings"] if w.startswith("Lightly: a worker process stopped")]
    assert "worker 1" in warning
    report["warnings"].remove(warning)
    assert (frames, report) == expected
    assert not _ours()


@needs_fork
def test_workers__die_with_a_killed_main_process(tmp_path: Path, lightly_task: Callable, made_up: Any) -> None:
    """A main process killed outright (no clean-up) leaves no worker behind, blocked on a pipe."""
    import subprocess
    import time

    folder = _big_folder(tmp_path, lightly_task, made_up)
    code = (
        "import os, sys, signal, multiprocessing, predport\n"
        "frames = predport.iter_frames(sys.argv[1], options={'workers': 2})\n"
        "next(frames)\n"
        "print(' '.join(str(p.pid) for p in multiprocessing.active_children()), flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(folder)], capture_output=True, text=True, timeout=30)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    pids = [int(p) for p in proc.stdout.split()]
    assert len(pids) == 2

    def alive(pid: int) -> bool:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                return fh.read().split(") ")[1][0] != "Z"  # a zombie is dead, waiting to be reaped
        except FileNotFoundError:
            return False

    deadline = time.monotonic() + 10
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(p) for p in pids)


def test_workers__that_cannot_start_are_reported_and_reading_goes_on(
    tmp_path: Path, lightly_task: Callable, made_up: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _folder(tmp_path, lightly_task, made_up)
    expected = _read(folder, 0, policy="skip")

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("daemonic processes are not allowed to have children")

    monkeypatch.setattr(pool, "_Pool", refuse)
    monkeypatch.setattr(pool, "can_fork", lambda: True)
    frames, report = _read(folder, 2, policy="skip")
    assert report["warnings"][0].startswith("Lightly: worker processes could not start (daemonic")
    report["warnings"] = report["warnings"][1:]
    assert (frames, report) == expected


def test_workers__auto_starts_them_for_large_folders_only(
    tmp_path: Path, lightly_task: Callable, made_up: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[int] = []

    class Recording:
        def __init__(self, func: Any, items: list[Any], n: int, *rest: Any) -> None:
            started.append(n)
            raise RuntimeError("not needed here")

    n = 4 * reader.BATCH  # and the 4 odd files: 5 batches
    folder = _folder(tmp_path, lightly_task, made_up, n=n, bad=False)
    monkeypatch.setattr(pool, "_Pool", Recording)
    monkeypatch.setattr(pool, "can_fork", lambda: True)
    monkeypatch.setattr(reader, "_cpus", lambda: 2)
    monkeypatch.setattr(reader, "PARALLEL_MIN_FILES", n + 5)
    list(predport.iter_frames(folder))  # one file short of the threshold
    assert started == []
    monkeypatch.setattr(reader, "PARALLEL_MIN_FILES", n + 4)
    list(predport.iter_frames(folder))
    assert started == [2]  # one worker per CPU
    monkeypatch.setattr(reader, "_cpus", lambda: 1)
    list(predport.iter_frames(folder))
    assert started == [2]  # one CPU: no workers
    monkeypatch.setattr(reader, "_cpus", lambda: 64)
    list(predport.iter_frames(folder))
    assert started == [2, reader.MAX_AUTO_WORKERS]
    # An explicit count is capped by the batches there are to decode.
    list(predport.iter_frames(folder, options={"workers": 9}))
    assert started == [2, reader.MAX_AUTO_WORKERS, 5]


def test_workers__never_forked_beside_other_threads(
    tmp_path: Path, lightly_task: Callable, made_up: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _folder(tmp_path, lightly_task, made_up, n=40, bad=False)
    expected = _read(folder, 0)
    monkeypatch.setattr(pool, "_Pool", None)  # calling it would fail the read
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert not pool.can_fork()
        assert _read(folder, 2) == expected
    finally:
        stop.set()
        other.join()


@pytest.mark.parametrize("value", [-1, "two", True, 1.5, [2]])
def test_workers__option_must_be_a_count_or_auto(
    tmp_path: Path, lightly_task: Callable, made_up: Any, value: Any
) -> None:
    folder = _folder(tmp_path, lightly_task, made_up, n=3, bad=False)
    with pytest.raises(predport.ConfigError) as exc:
        list(predport.iter_frames(folder, options={"workers": value}))
    assert "'workers'" in str(exc.value) and repr(value) in str(exc.value)


def test_workers__option_takes_text_from_the_command_line(
    tmp_path: Path, lightly_task: Callable, made_up: Any
) -> None:
    folder = _folder(tmp_path, lightly_task, made_up, n=3, bad=False)
    assert reader.workers_option({"workers": "3"}) == 3
    assert reader.workers_option({"workers": "auto"}) is None
    assert reader.workers_option({}) is None
    out = tmp_path / "out.json"
    from predport.cli import main

    assert main(["convert", str(folder), str(out), "--quiet", "-o", "workers=0"]) == 0
    assert len(json.loads(out.read_text())["frames"]) == 3 + 4  # and the 4 odd files
