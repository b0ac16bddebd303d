"""One naming rule for every folder writer (issue #13, deliverable 6): ``predport.FrameNames``.

The rule by hand (unit cases), then every folder writer (KITTI, YOLO, PNG masks, Lightly)
on the same frames with absolute data ids, as COCO files made on Colab carry them
(``/content/drive/...``): base names by default, paths relative to ``root=``, collisions
refused naming both frames, nothing written outside the output folder.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import predport

FOLDER_WRITERS = ("kitti", "yolo", "masks", "lightly")


# -- the rule -------------------------------------------------------------------------------

@pytest.mark.parametrize(("data_id", "suffix", "kwargs", "expected"), [
    ("train/000042.png", ".txt", {}, "train/000042.txt"),
    ("000000.png", ".png", {}, "000000.png"),                         # not 000000.png.png
    ("street_001.JPG", ".png", {}, "street_001.png"),
    ("scan.v2.tar", ".txt", {}, "scan.v2.tar.txt"),                    # not an image suffix: kept
    ("train\\sub\\a.jpg", ".txt", {}, "train/sub/a.txt"),              # Windows separators
    ("./train/a.jpg", ".txt", {}, "train/a.txt"),
    ("/content/drive/MyDrive/data/a.jpg", ".txt", {}, "a.txt"),        # absolute: base name
    ("C:\\Users\\me\\data\\a.jpg", ".txt", {}, "a.txt"),
    ("s3://bucket/data/a.jpg", ".txt", {}, "a.txt"),
    ("/content/drive/MyDrive/data/a.jpg", ".txt", {"root": "/content/drive/MyDrive"}, "data/a.txt"),
    ("/content/drive/MyDrive/data/a.jpg", ".txt", {"root": "/content/drive/MyDrive/"}, "data/a.txt"),
    ("train/sub/a.jpg", ".txt", {"paths": "name"}, "a.txt"),
    ("clip.mp4", ".txt", {"frame_index": 12}, "clip.mp4__12.txt"),      # a video suffix is not an image's
    ("burst.jpg", ".txt", {"frame_index": 3}, "burst__3.txt"),
    ("burst.jpg", ".txt", {"frame_index": 3, "keep_suffix": True}, "burst.jpg__3.txt"),
    ("clip.mp4", ".png", {"frame_index": 12, "frame": "__00012"}, "clip.mp4__00012.png"),
    ("a.jpg", ".txt", {"prefix": "labels/"}, "labels/a.txt"),
])
def test_naming__the_rule_by_hand(data_id: str, suffix: str, kwargs: dict, expected: str) -> None:
    init = {k: kwargs.pop(k) for k in ("root", "paths") if k in kwargs}
    assert predport.FrameNames(**init).file(data_id, suffix, **kwargs) == expected


@pytest.mark.parametrize("data_id", ["../a.jpg", "train/../../a.jpg", "a/..", ""])
def test_naming__never_outside_the_output_folder(data_id: str) -> None:
    with pytest.raises(predport.OutputError) as info:
        predport.FrameNames().file(data_id, ".txt")
    assert repr(data_id) in str(info.value) or "empty" in str(info.value)


def test_naming__an_id_not_under_root_is_refused() -> None:
    with pytest.raises(predport.OutputError) as info:
        predport.FrameNames(root="/content/drive").file("/mnt/data/a.jpg", ".txt")
    assert "'/mnt/data/a.jpg' is not under root '/content/drive'" in str(info.value)


def test_naming__two_frames_meeting_at_one_file_are_refused_naming_both() -> None:
    names = predport.FrameNames()
    assert names.file("/x/1/a.jpg", ".txt") == "a.txt"
    assert names.file("/x/1/a.jpg", ".txt") == "a.txt"  # the same frame again is not a collision here
    with pytest.raises(predport.OutputError) as info:
        names.file("/y/2/a.png", ".txt")
    text = str(info.value)
    assert "'/x/1/a.jpg' and '/y/2/a.png' would both be written as 'a.txt'" in text and "root" in text
    assert names.summary("kitti") == {"kitti.absolute_ids_as_base_names": 2}


def test_naming__options_declared_once_for_the_writers() -> None:
    assert [o.name for o in predport.NAMING_OPTIONS] == ["paths", "root"]
    kitti = predport.get_hub().format_info("kitti")
    assert {"paths", "root"} <= {o.name for o in kitti.write_options or ()}


# -- every folder writer ----------------------------------------------------------------------

def _source(tmp_path: Path, ids: list[str]) -> Path:
    """A canonical document: one polygon+box prediction per frame (16x12 images)."""
    doc = {
        "schema": "predport/prediction-set/1", "source": None,
        "categories": [{"id": 1, "name": "car", "external_id": None, "attributes": {}}],
        "frames": [
            {"data_id": d, "frame_index": None, "width": 16, "height": 12, "attributes": {},
             "predictions": [{"category_id": 1, "score": 0.5, "box": [2.0, 2.0, 4.0, 4.0],
                              "polygon": [[2.0, 2.0, 5.0, 2.0, 5.0, 5.0, 2.0, 5.0]]}]}
            for d in ids
        ],
    }
    path = tmp_path / "src.json"
    path.write_text(json.dumps(doc))
    return path


def _written(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


#: What each writer makes of one frame, by its file name without the format's suffix.
def _frame_files(writer: str, out: Path) -> set[str]:
    files = _written(out)
    if writer == "kitti":
        return {f[:-4] for f in files if f.endswith(".txt")}
    if writer == "yolo":
        return {f[len("labels/"):-4] for f in files if f.startswith("labels/")}
    if writer == "masks":  # <image name>.png, but a PNG's name is not doubled
        return {f[:-4] for f in files if f.endswith(".png")}
    # Lightly: <task>/<stem>.json beside the task's schema.json
    return {f.split("/", 1)[1][:-5] for f in files if "/" in f and not f.endswith("schema.json")}


@pytest.mark.parametrize("writer", FOLDER_WRITERS)
def test_naming__absolute_ids_by_base_name_in_every_folder_writer(tmp_path: Path, writer: str) -> None:
    src = _source(tmp_path, ["/content/drive/MyDrive/data/a.jpg", "/content/drive/MyDrive/data/b.png"])
    out = tmp_path / "out"
    summary = predport.convert(src, out, to=writer, allow_loss=True)
    assert _frame_files(writer, out) == ({"a.jpg", "b"} if writer == "masks" else {"a", "b"})
    assert summary[f"{writer}.absolute_ids_as_base_names"] == 2
    back = predport.load(out, format=writer)
    got = sorted(f.data_id for f in back.frames)
    # Writers that keep the image's name (YOLO's sizes.json, Lightly's file_name) give it back whole.
    assert got == {"yolo": ["a.jpg", "b.png"], "lightly": ["a.jpg", "b.png"], "masks": ["a.jpg", "b"]}.get(writer, ["a", "b"])


@pytest.mark.parametrize("writer", FOLDER_WRITERS)
def test_naming__root_keeps_the_folders_below_it_in_every_folder_writer(tmp_path: Path, writer: str) -> None:
    src = _source(tmp_path, ["/content/drive/MyDrive/train/a.jpg", "/content/drive/MyDrive/val/a.jpg"])
    out = tmp_path / "out"
    predport.convert(src, out, to=writer, allow_loss=True, write_options={"root": "/content/drive/MyDrive"})
    assert _frame_files(writer, out) == ({"train/a.jpg", "val/a.jpg"} if writer == "masks" else {"train/a", "val/a"})


@pytest.mark.parametrize("writer", FOLDER_WRITERS)
def test_naming__collisions_are_refused_and_nothing_is_written(tmp_path: Path, writer: str) -> None:
    src = _source(tmp_path, ["/content/drive/MyDrive/train/a.jpg", "/content/drive/MyDrive/val/a.jpg"])
    out = tmp_path / "out"
    with pytest.raises(predport.OutputError) as info:
        predport.convert(src, out, to=writer, allow_loss=True)
    assert "/train/a.jpg" in str(info.value) and "/val/a.jpg" in str(info.value)
    assert not out.exists()


@pytest.mark.parametrize("writer", FOLDER_WRITERS)
def test_naming__relative_ids_keep_their_folders_and_dotdot_is_refused(tmp_path: Path, writer: str) -> None:
    out = tmp_path / "out"
    predport.convert(_source(tmp_path, ["train/000000.png", "val/000001.jpg"]), out, to=writer, allow_loss=True)
    expected = {"train/000000", "val/000001.jpg" if writer == "masks" else "val/000001"}
    assert _frame_files(writer, out) == expected
    assert not any(f.endswith(".png.png") for f in _written(out))
    bad = tmp_path / "bad"
    bad.mkdir()
    with pytest.raises(predport.OutputError):
        predport.convert(_source(bad, ["../escape.jpg"]), bad / "out", to=writer, allow_loss=True)
    assert not (tmp_path / "escape.txt").exists() and not (bad / "out").exists()


def test_naming__cli_option_on_the_command_line(tmp_path: Path) -> None:
    from predport.cli import main

    src = _source(tmp_path, ["/content/drive/MyDrive/train/a.jpg"])
    out = tmp_path / "out"
    assert main(["convert", str(src), str(out), "--to", "kitti", "--allow-loss",
                 "-w", "root=/content/drive/MyDrive", "--quiet"]) == 0
    assert _written(out) == {"train/a.txt"}
