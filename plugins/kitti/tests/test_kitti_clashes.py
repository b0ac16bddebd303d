"""Two label files that give one data unit are refused, naming both (issue 12, item 5).

Before: ``labels/a/000001.txt`` and ``labels/b/000001.txt`` with one ``images/000001.png``
were both read as data id ``000001.png`` — two frames of one image, written as two
frames (canonical) or merged into one image (COCO), at exit 0.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import predport

RES = "Car -1 -1 -10 10 20 110 70 -1 -1 -1 -1000 -1000 -1000 -10 97.85"
PED = "Pedestrian -1 -1 -10 5 5 15 45 -1 -1 -1 -1000 -1000 -1000 -10 0.5"
DATA_HASH = "3f1c9a2e-8b7d-4c1e-9f00-1234567890ab"


def write(root: Path, files: dict) -> None:
    for rel, content in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(content if isinstance(content, str) else json.dumps(content))


def png(path: Path, width: int, height: int) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (width, height)).save(path)


def read(path: Path, **kwargs):
    stream = predport.open_stream(path, format="kitti", **kwargs)
    return stream.collect(), stream.report


def _refused(root: Path, first: str, second: str, **kwargs) -> predport.ConfigError:
    with pytest.raises(predport.ConfigError) as info:
        read(root, **kwargs)
    err = info.value
    assert "two label files give" in err.message
    assert f": {first} and {second} (below the label folder)" in err.message
    assert err.file == str(root / second)
    return err


def test_two_subfolders_matching_one_image_by_name_are_refused(tmp_path):
    write(tmp_path, {"labels/a/000001.txt": RES, "labels/b/000001.txt": PED})
    png(tmp_path / "images" / "000001.png", 200, 100)
    err = _refused(tmp_path / "labels", "a/000001.txt", "b/000001.txt", images=tmp_path / "images")
    assert "data id '000001.png'" in err.message
    assert "data_id=label" in err.hint and "by file name only" in err.hint


def test_the_same_with_data_id_label_reads_both_as_their_own_units(tmp_path):
    write(tmp_path, {"labels/a/000001.txt": RES, "labels/b/000001.txt": PED})
    png(tmp_path / "images" / "000001.png", 200, 100)
    ps, _ = read(tmp_path / "labels", images=tmp_path / "images", read_options={"data_id": "label"})
    assert [f.data_id for f in ps.frames] == ["a/000001", "b/000001"]
    assert [len(f.predictions) for f in ps.frames] == [1, 1]


def test_a_root_label_and_a_subfolder_label_claiming_the_same_image_are_refused(tmp_path):
    # 000001.txt matches images/000001.png at its own path; b/000001.txt only by name
    write(tmp_path, {"labels/000001.txt": RES, "labels/b/000001.txt": PED})
    png(tmp_path / "images" / "000001.png", 200, 100)
    _refused(tmp_path / "labels", "000001.txt", "b/000001.txt", images=tmp_path / "images")


def test_the_exact_claimant_read_after_the_name_match_is_refused_too(tmp_path):
    # 000001.txt finds images/b/000001.png by name; b/000001.txt is that image's own label
    write(tmp_path, {"labels/000001.txt": RES, "labels/b/000001.txt": PED})
    png(tmp_path / "images" / "b" / "000001.png", 200, 100)
    with pytest.raises(predport.ConfigError, match="two label files give data id 'b/000001.png'") as info:
        read(tmp_path / "labels", images=tmp_path / "images")
    assert ": b/000001.txt and 000001.txt (below" in info.value.message  # the image's own label first


def test_subfolders_mirrored_by_the_images_are_not_a_clash(tmp_path):
    write(tmp_path, {"labels/a/000001.txt": RES, "labels/b/000001.txt": PED})
    png(tmp_path / "images" / "a" / "000001.png", 200, 100)
    png(tmp_path / "images" / "b" / "000001.png", 300, 150)
    ps, _ = read(tmp_path / "labels", images=tmp_path / "images")
    assert [(f.data_id, f.width, f.height) for f in ps.frames] == [
        ("a/000001.png", 200, 100), ("b/000001.png", 300, 150)]


def test_without_images_subfolder_paths_are_distinct_ids(tmp_path):
    write(tmp_path, {"a/000001.txt": RES, "b/000001.txt": PED})
    ps, _ = read(tmp_path)
    assert [f.data_id for f in ps.frames] == ["a/000001", "b/000001"]


def test_encord_old_two_files_of_one_data_hash_are_refused(tmp_path):
    write(tmp_path, {f"labels/{DATA_HASH}__one.txt": RES, f"labels/{DATA_HASH}__two.txt": PED,
                     "ontology_label_map.json": {"Car": "Car", "Pedestrian": "Pedestrian"}})
    err = _refused(tmp_path / "labels", f"{DATA_HASH}__one.txt", f"{DATA_HASH}__two.txt")
    assert "Encord Active would import both" in err.hint


def test_encord_new_two_subfolders_with_one_title_and_frame_are_refused(tmp_path):
    write(tmp_path, {"a/clip.mp4__3.txt": RES, "b/clip.mp4__3.txt": PED})
    new = {"layout": "encord-new"}
    err = _refused(tmp_path, "a/clip.mp4__3.txt", "b/clip.mp4__3.txt", read_options=new)
    assert "data id 'clip.mp4' frame 3" in err.message
    # other frames of the same title are other units
    (tmp_path / "b" / "clip.mp4__3.txt").rename(tmp_path / "b" / "clip.mp4__4.txt")
    ps, _ = read(tmp_path, read_options=new)
    assert sorted((f.data_id, f.frame_index) for f in ps.frames) == [("clip.mp4", 3), ("clip.mp4", 4)]


def test_an_id_lookup_giving_two_files_one_unit_is_refused(tmp_path):
    write(tmp_path, {"x/1.txt": RES, "y/1.txt": PED})
    err = _refused(tmp_path, "x/1.txt", "y/1.txt", id_lookup=lambda p: ("img-" + p.stem, None))
    assert "id_lookup returned it for both" in err.hint


def test_the_cli_exits_1_naming_both_files_and_writes_nothing(tmp_path):
    write(tmp_path, {"labels/a/000001.txt": RES, "labels/b/000001.txt": PED})
    png(tmp_path / "images" / "000001.png", 200, 100)
    out = tmp_path / "out.json"
    proc = subprocess.run([sys.executable, "-m", "predport", "convert", str(tmp_path / "labels"), str(out),
                           "--to", "canonical", "--images", str(tmp_path / "images")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "a/000001.txt and b/000001.txt (below the label folder)" in proc.stderr and "predport does not merge" in proc.stderr
    assert not out.exists()
