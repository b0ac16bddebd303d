"""Layouts (plain, KITTI tree, Encord Active old and new, user function), image sizes, clamping."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import predport

RES = "Car -1 -1 -10 10 20 110 70 -1 -1 -1 -1000 -1000 -1000 -10 97.85"
PED = "Pedestrian -1 -1 -10 5 5 15 45 -1 -1 -1 -1000 -1000 -1000 -10 0.5"
DATA_HASH = "3f1c9a2e-8b7d-4c1e-9f00-1234567890ab"


def write(root: Path, files: dict[str, str | bytes | dict[str, Any]]) -> Path:
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, dict):
            p.write_text(json.dumps(content), encoding="utf-8")
        elif isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content, encoding="utf-8")
    return root


def png(path: Path, width: int, height: int) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (width, height)).save(path)


def read(path: Path, **kwargs: Any) -> tuple[Any, Any]:
    stream = predport.open_stream(path, format=kwargs.pop("format", "kitti"), **kwargs)
    return stream.collect(), stream.report


def summary(ps: Any) -> list[tuple[str, int | None, list[str]]]:
    return [
        (f.data_id, f.frame_index, [ps.category(r["category_id"]).name for r in f.predictions.to_records()])
        for f in ps.frames
    ]


# -- KITTI tree and image sizes --------------------------------------------------------------------
def kitti_tree(root: Path) -> Path:
    write(root, {"label_2/000000.txt": RES + "\n", "label_2/000001.txt": "",
                 "calib/000000.txt": "P0: 1 0 0 0 0 1 0 0 0 0 1 0\n", "calib/000001.txt": "P0: 1\n"})
    png(root / "image_2" / "000000.png", 1242, 375)
    png(root / "image_2" / "000001.png", 1224, 370)
    return root


def test_layout__kitti_tree_root_reads_label_2_and_sizes_from_png_headers(tmp_path: Path) -> None:
    ps, report = read(kitti_tree(tmp_path / "training"))
    assert [(f.data_id, f.width, f.height) for f in ps.frames] == [
        ("000000.png", 1242, 375), ("000001.png", 1224, 370)]
    assert not report.warnings  # calib/ and image_2/ are not label files


def test_layout__label_2_folder_finds_image_2_beside_it(tmp_path: Path) -> None:
    ps, _ = read(kitti_tree(tmp_path / "training") / "label_2")
    assert [(f.data_id, f.width) for f in ps.frames] == [("000000.png", 1242), ("000001.png", 1224)]


def test_layout__data_id_label_option_keeps_the_stem_but_still_reads_sizes(tmp_path: Path) -> None:
    ps, _ = read(kitti_tree(tmp_path / "training"), options={"data_id": "label"})
    assert [(f.data_id, f.width) for f in ps.frames] == [("000000", 1242), ("000001", 1224)]


def test_layout__find_images_off_gives_no_sizes(tmp_path: Path) -> None:
    ps, _ = read(kitti_tree(tmp_path / "training"), options={"find_images": "false"})
    assert [(f.data_id, f.width) for f in ps.frames] == [("000000", None), ("000001", None)]


def test_layout__images_argument_and_jpeg_headers(tmp_path: Path) -> None:
    from PIL import Image

    labels = write(tmp_path / "preds", {"a.txt": RES + "\n"})
    (tmp_path / "pics").mkdir()
    Image.new("RGB", (321, 123)).save(tmp_path / "pics" / "a.jpg")
    ps, _ = read(labels, images=tmp_path / "pics")
    assert [(f.data_id, f.width, f.height) for f in ps.frames] == [("a.jpg", 321, 123)]
    ps, _ = read(labels, options={"images": str(tmp_path / "pics")})
    assert (ps.frames[0].width, ps.frames[0].height) == (321, 123)


def test_layout__images_in_another_subfolder_matched_by_stem(tmp_path: Path) -> None:
    labels = write(tmp_path / "labels", {"x y.txt": RES + "\n"})
    png(tmp_path / "images" / "sub dir" / "x y.png", 64, 32)
    ps, _ = read(labels)
    assert [(f.data_id, f.width, f.height) for f in ps.frames] == [("sub dir/x y.png", 64, 32)]


def test_layout__image_sizes_mapping_without_images(tmp_path: Path) -> None:
    labels = write(tmp_path / "preds", {"a.txt": RES + "\n"})
    ps, _ = read(labels, image_sizes={"a.png": [640, 480]})
    assert (ps.frames[0].data_id, ps.frames[0].width, ps.frames[0].height) == ("a", 640, 480)


def test_layout__clamp_policy_clamps_to_the_image_and_counts(tmp_path: Path) -> None:
    line = "Car -1 -1 -10 -5 10 1300 380 -1 -1 -1 -1000 -1000 -1000 -10 0.9\n"
    root = kitti_tree(tmp_path / "training")
    (root / "label_2" / "000000.txt").write_text(line + RES + "\n")
    ps, report = read(root, policy="clamp")
    outside, inside = (r["box"] for r in ps.frames[0].predictions.to_records())
    assert outside == [0.0, 10.0, 1242.0, 365.0]
    assert inside == [10.0, 20.0, 100.0, 50.0]
    assert report.counts["clamp.boxes"] == 1


def test_layout__boxes_outside_the_image_kept_under_fail_and_skip(tmp_path: Path) -> None:
    line = "Car -1 -1 -10 -5 10 1300 380 -1 -1 -1 -1000 -1000 -1000 -10 0.9\n"
    root = kitti_tree(tmp_path / "training")
    (root / "label_2" / "000000.txt").write_text(line)
    for policy in ("fail", "skip"):
        ps, report = read(root, policy=policy)
        assert ps.frames[0].predictions.to_records()[0]["box"] == [-5.0, 10.0, 1305.0, 370.0]
        assert report.skipped_total == 0


def test_layout__clamp_without_a_size_leaves_boxes_and_counts_frames(tmp_path: Path) -> None:
    labels = write(tmp_path / "preds", {"a.txt": "Car -1 -1 -10 -5 10 1300 380 -1 -1 -1 -1000 -1000 -1000 -10 0.9\n"})
    ps, report = read(labels, policy="clamp")
    assert ps.frames[0].predictions.to_records()[0]["box"] == [-5.0, 10.0, 1305.0, 370.0]
    assert report.counts["clamp.frames_without_size"] == 1


# -- plain folders ------------------------------------------------------------------------------------
def test_layout__plain_folder_reports_files_that_are_not_labels(tmp_path: Path) -> None:
    labels = write(tmp_path / "preds", {"a.txt": RES + "\n", "notes.md": "x", "b.TXT": PED + "\n", "c.json": "{}"})
    ps, report = read(labels)
    assert [f.data_id for f in ps.frames] == ["a", "b"]
    assert report.counts["kitti.unmatched_files"] == 2
    assert any("c.json" in w and "notes.md" in w for w in report.warnings)


# -- Encord Active, old layout ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "label_map",
    [
        pytest.param({"OTk2MzM3": "Pedestrian", "Nzg2ODEx": "Car"}, id="hash-to-name (documented)"),
        pytest.param({"Pedestrian": "OTk2MzM3", "Car": "Nzg2ODEx"}, id="name-to-hash (Encord's code)"),
    ],
)
def test_layout__encord_old_either_key_style(tmp_path: Path, label_map: dict[str, str]) -> None:
    root = write(tmp_path / "root", {
        f"labels/{DATA_HASH}__frame.txt": RES + "\n" + PED + "\n",
        "labels/0a1b__other image.png.csv": "car -1 -1 -10 1 1 2 2 -1 -1 -1 -1000 -1000 -1000 -10 0.2\n",
        "ontology_label_map.json": label_map,
    })
    ps, report = read(root)
    assert summary(ps) == [("0a1b", None, ["Car"]), (DATA_HASH, None, ["Car", "Pedestrian"])]
    cats = {c.name: c.external_id for c in ps.categories}
    assert cats == {"Pedestrian": "OTk2MzM3", "Car": "Nzg2ODEx"}
    assert ps.frames[0].predictions.to_records()[0]["attributes"] == {"class_name": "car"}
    assert ps.frames[1].predictions.to_records()[0]["score"] == 97.85


def test_layout__encord_old_detected_from_labels_folder_too(tmp_path: Path) -> None:
    root = write(tmp_path / "root", {f"labels/{DATA_HASH}__x.txt": RES + "\n",
                                     "ontology_label_map.json": {"Nzg2ODEx": "Car"}})
    ps, _ = read(root / "labels")
    assert summary(ps) == [(DATA_HASH, None, ["Car"])]
    assert predport.detect(root)[0].format == "kitti"


def test_layout__encord_old_names_without_hash_are_reported(tmp_path: Path) -> None:
    root = write(tmp_path / "root", {
        f"labels/{DATA_HASH}__ok.txt": RES + "\n",
        "labels/NOT-HEX__x.txt": RES + "\n",
        "labels/plain.txt": RES + "\n",
        "labels/__empty-hash.txt": RES + "\n",
        "labels/nested/deadbeef__x.txt": RES + "\n",  # the old importer does not recurse
        "ontology_label_map.json": {"Nzg2ODEx": "Car"},
    })
    ps, report = read(root)
    assert [f.data_id for f in ps.frames] == [DATA_HASH]
    assert report.counts["kitti.unmatched_files"] == 3
    (warning,) = [w for w in report.warnings if "naming rule" in w]
    assert "NOT-HEX__x.txt" in warning and "plain.txt" in warning and "__empty-hash.txt" in warning


# -- Encord Active, new layout ---------------------------------------------------------------------------
def test_layout__encord_new_titles_and_frames(tmp_path: Path) -> None:
    root = write(tmp_path / "preds", {
        "example_image.jpg__0.txt": RES + "\n",
        "clip.mp4__00012.txt": PED + "\n",
        "still.png.txt": RES + "\n",  # no frame: Encord's own importer crashes here (int(None))
        "sub/deep.jpg__3.CSV": PED + "\n",
        "ontology_mapping.json": {"OTk2MzM3": "Pedestrian", "Nzg2ODEx": "Car"},
        "readme.md": "not a label",
    })
    ps, report = read(root)
    assert sorted(summary(ps)) == [
        ("clip.mp4", 12, ["Pedestrian"]),
        ("deep.jpg", 3, ["Pedestrian"]),
        ("example_image.jpg", 0, ["Car"]),
        ("still.png", None, ["Car"]),
    ]
    assert {c.name: c.external_id for c in ps.categories} == {"Pedestrian": "OTk2MzM3", "Car": "Nzg2ODEx"}
    assert [c.id for c in ps.categories] == [0, 1]  # ids follow the map's order
    assert report.counts["kitti.unmatched_files"] == 1 and any("readme.md" in w for w in report.warnings)


def test_layout__encord_new_unmapped_class_is_left_out_and_counted_like_encord(tmp_path: Path) -> None:
    root = write(tmp_path / "preds", {"a.jpg__0.txt": RES + "\n" + PED + "\n",
                                      "ontology_mapping.json": {"Nzg2ODEx": "Car"}})
    ps, report = read(root)  # the core's rule, under every policy: left out, counted per class
    assert [c.name for c in ps.categories] == ["Car"] and ps.num_predictions == 1
    assert dict(ps_unmapped(root)) == {"Pedestrian": 1}


def ps_unmapped(root: Path) -> dict[str, int]:
    stream = predport.open_stream(root, format="kitti")
    list(stream.frames)
    return dict(stream.categories.unmapped)


def test_layout__user_class_map_wins_over_encord_map(tmp_path: Path) -> None:
    root = write(tmp_path / "preds", {"a.jpg__0.txt": RES + "\n",
                                      "ontology_mapping.json": {"Nzg2ODEx": "Car"}})
    ps, report = read(root, class_map={"car": {"id": 9, "name": "vehicle", "external_id": "mine"}})
    assert [(c.id, c.name, c.external_id) for c in ps.categories] == [(9, "vehicle", "mine")]
    assert any("ontology_mapping.json ignored" in w for w in report.warnings)


def test_layout__bad_ontology_map_is_a_config_error(tmp_path: Path) -> None:
    root = write(tmp_path / "preds", {"a.jpg__0.txt": RES + "\n", "ontology_mapping.json": "[1, 2"})
    with pytest.raises(predport.ConfigError) as info:
        read(root)
    assert info.value.file is not None and info.value.file.endswith("ontology_mapping.json")
    (root / "ontology_mapping.json").write_text(json.dumps({"Nzg2ODEx": 3}))
    with pytest.raises(predport.ConfigError, match="non-empty strings"):
        read(root)


# -- user function -----------------------------------------------------------------------------------------
def test_layout__user_function_gives_data_id_and_frame(tmp_path: Path) -> None:
    root = write(tmp_path / "preds", {"vid_a/000004.txt": RES + "\n", "vid_b/000000.txt": PED + "\n",
                                      "odd name.txt": ""})
    seen: list[Path] = []

    def lookup(path: Path) -> tuple[str, int | None]:
        seen.append(path)
        if path.parent.name.startswith("vid_"):
            return (path.parent.name, int(path.stem))
        return ("still-" + path.stem.replace(" ", "-"), None)

    ps, _ = read(root, id_lookup=lookup)
    assert summary(ps) == [("still-odd-name", None, []), ("vid_a", 4, ["Car"]), ("vid_b", 0, ["Pedestrian"])]
    assert all(isinstance(p, Path) and p.is_absolute() for p in seen)


def test_layout__user_function_overrides_encord_naming(tmp_path: Path) -> None:
    root = write(tmp_path / "preds", {"no-frame-here.txt": RES + "\n", "ontology_mapping.json": {"Nzg2ODEx": "Car"}})
    ps, _ = read(root, id_lookup=lambda p: ("hash-" + p.stem, 7))
    assert summary(ps) == [("hash-no-frame-here", 7, ["Car"])]


def test_layout__user_function_errors_name_the_file(tmp_path: Path) -> None:
    root = write(tmp_path / "preds", {"a.txt": RES + "\n"})
    with pytest.raises(predport.ConfigError) as info:
        read(root, id_lookup=lambda p: 1 / 0)
    assert info.value.file is not None and info.value.file.endswith("a.txt")
    with pytest.raises(predport.ConfigError, match="frame"):
        read(root, id_lookup=lambda p: ("a", -1))


def test_layout__explicit_layout_option(tmp_path: Path) -> None:
    root = write(tmp_path / "preds", {"clip.mp4__5.txt": RES + "\n"})
    ps, _ = read(root)
    assert summary(ps) == [("clip.mp4__5", None, ["Car"])]  # plain folder: the stem
    ps, _ = read(root, options={"layout": "encord-new"})
    assert summary(ps) == [("clip.mp4", 5, ["Car"])]
    with pytest.raises(predport.ConfigError, match="layout"):
        read(root, options={"layout": "yolo"})


def test_layout__memory_flat_frames_are_streamed(tmp_path: Path) -> None:
    root = write(tmp_path / "preds", {f"{i:06d}.txt": RES + "\n" for i in range(50)})
    frames = predport.iter_frames(root, format="kitti")
    first = next(iter(frames))
    assert first.data_id == "000000"  # a generator: one file read per frame asked for


def test_layout__labels_without_an_image_are_counted(tmp_path: Path) -> None:
    root = kitti_tree(tmp_path / "training")
    (root / "label_2" / "000009.txt").write_text(RES + "\n")
    ps, report = read(root)
    assert [(f.data_id, f.width) for f in ps.frames] == [("000000.png", 1242), ("000001.png", 1224), ("000009", None)]
    assert report.counts["kitti.labels_without_image"] == 1
    ps, report = read(root, options={"data_id": "image"})
    assert [f.data_id for f in ps.frames] == ["000000.png", "000001.png"]
    assert report.counts["kitti.unmatched_files"] == 1
