"""A folder of several formats is refused with its parts named (issue #13, deliverable 8),
and folders whose parts are one format (a KITTI tree, train/ and val/ of YOLO) are not."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import predport
from predport.cli import main as cli_main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def test_mixed__the_bundled_examples_folder_is_refused_naming_each_part() -> None:
    with pytest.raises(predport.AmbiguousFormatError) as info:
        predport.get_hub().pick(EXAMPLES)
    text = str(info.value)
    assert "several formats" in text
    for part in ("kitti: kitti/", "yolo: yolo/", "masks: masks/", "lightly: lightly/"):
        assert part in text
    assert info.value.file == str(EXAMPLES) and "--from" in (info.value.hint or "")
    with pytest.raises(predport.AmbiguousFormatError):
        predport.load(EXAMPLES)


def test_mixed__cli_detect_exits_non_zero_without_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    rc = cli_main(["detect", str(EXAMPLES)])
    captured = capsys.readouterr()
    assert rc != 0
    assert "several formats" in captured.err and "Traceback" not in captured.err + captured.out


def test_mixed__files_beside_a_folder_of_another_format_are_named(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLES / "masks", tmp_path / "masks")
    shutil.copy(EXAMPLES / "aquarium" / "frames.jsonl", tmp_path / "inferences.jsonl")
    with pytest.raises(predport.AmbiguousFormatError) as info:
        predport.get_hub().pick(tmp_path)
    assert "aquarium: inferences.jsonl" in str(info.value) and "masks: masks/" in str(info.value)


def test_mixed__a_format_named_by_the_user_is_read_without_detection(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLES / "kitti", tmp_path / "kitti")
    shutil.copytree(EXAMPLES / "yolo", tmp_path / "yolo")
    with pytest.raises(predport.AmbiguousFormatError):
        predport.get_hub().pick(tmp_path)
    assert predport.load(tmp_path / "kitti").frames  # pointing at a part reads it
    assert predport.get_hub().pick(tmp_path / "yolo").id == "yolo"


def test_mixed__parts_of_one_format_are_not_mixed(tmp_path: Path) -> None:
    # A KITTI tree (label_2/ and image_2/) and a folder of two YOLO label folders.
    assert predport.get_hub().pick(EXAMPLES / "kitti").id == "kitti"
    for split in ("train", "val"):
        shutil.copytree(EXAMPLES / "yolo" / "labels", tmp_path / split)
    assert predport.get_hub().pick(tmp_path).id == "yolo"


def test_mixed__parts_are_bounded_in_a_large_folder(tmp_path: Path) -> None:
    from predport.hub import MIXED_PARTS, mixed_parts

    for i in range(5 * MIXED_PARTS):
        (tmp_path / f"d{i:03d}").mkdir()
        (tmp_path / f"f{i:03d}.json").write_text("{}")
        (tmp_path / f"l{i:03d}.txt").write_text("")
    (tmp_path / ".hidden").mkdir()
    parts = mixed_parts(tmp_path)
    assert [p.name for p in parts] == [f"d{i:03d}" for i in range(MIXED_PARTS)] + [f"f{i:03d}.json" for i in range(MIXED_PARTS)]
