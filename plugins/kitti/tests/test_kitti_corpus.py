"""Every KITTI file of the shared corpus, read in place and checked against an independent reader.

The reference reader here is the spec's rule, written separately from the plugin: split on
whitespace, the last 14 (ground truth) or 15 (results) fields are numbers, everything before
them is the class name. Which folders hold which column count is stated in the corpus's
PROVENANCE.md, so it is fixed here rather than inferred.
"""
from __future__ import annotations

from pathlib import Path

import pytest

import predport
from predport.testing import require_corpus

#: Label folder -> number of numeric fields per line (14: ground truth, 15: results with a score).
CORPUS = {
    "kitti_object_vis/label_2": 14,
    "kitti_object_vis_history/label_2": 15,
    "labelformat/labels": 14,
    "datumaro/kitti_3d/label_2": 14,
    "datumaro/kitti_detection/label_2": 14,
}
#: Image sizes stated in PROVENANCE.md (and by the PNG/JPEG files beside the labels).
SIZES = {
    "kitti_object_vis/label_2": {"000000": (1224, 370), "000001": (1242, 375), "000002": (1242, 375)},
    "labelformat/labels": {"a-weird Filename.asdf": (640, 416),
                           "aNother-weird__ filename.with.many.characters": (640, 428)},
    "datumaro/kitti_detection/label_2": {"000030_10": (10, 10), "000030_11": (10, 10)},
}


def reference_objects(path: Path, numbers: int) -> list[tuple[str, list[float], float | None]]:
    """(class, [left, top, right, bottom], score) per line, by the spec's from-the-right rule."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        toks = line.split()
        if not toks:
            continue
        name = " ".join(toks[:-numbers])
        nums = [float(t) for t in toks[-numbers:]]
        out.append((name, nums[3:7], nums[14] if numbers == 15 else None))
    return out


def corpus_folder(rel: str) -> Path:
    return require_corpus("kitti", *rel.split("/"))


@pytest.mark.parametrize("rel", sorted(CORPUS))
def test_corpus__every_object_matches_the_source(rel: str) -> None:
    folder = corpus_folder(rel)
    numbers = CORPUS[rel]
    ps = predport.load(folder, format="kitti", options={"keep_dontcare": True})
    files = sorted(folder.glob("*.txt"))
    assert len(ps.frames) == len(files)
    for frame, path in zip(ps.frames, files):
        expected = reference_objects(path, numbers)
        records = frame.predictions.to_records()
        assert len(records) == len(expected), path.name
        for rec, (name, (left, top, right, bottom), score) in zip(records, expected):
            assert ps.category(rec["category_id"]).name == name
            assert rec["box"] == [left, top, right - left, bottom - top]  # corners -> [x, y, w, h]
            assert rec["score"] == score  # None for 15-column files


@pytest.mark.parametrize("rel", sorted(CORPUS))
def test_corpus__converts_to_canonical_json(rel: str, tmp_path: Path) -> None:
    summary = predport.convert(corpus_folder(rel), tmp_path / "out.json", format="kitti")
    back = predport.load(tmp_path / "out.json")
    assert summary["frames"] == len(back.frames)
    assert back.num_predictions == summary["predictions"]


def test_corpus__fifteen_columns_give_null_scores() -> None:
    ps = predport.load(corpus_folder("kitti_object_vis/label_2"))
    scores = [r["score"] for f in ps.frames for r in f.predictions.to_records()]
    assert scores and all(s is None for s in scores)


def test_corpus__sixteenth_column_is_kept_as_given_even_above_one() -> None:
    ps = predport.load(corpus_folder("kitti_object_vis_history/label_2"))
    first = ps.frames[0].predictions.to_records()[0]
    assert first["score"] == 123.0  # not a probability: kept, never rescaled
    assert ps.category(first["category_id"]).name == "Car"
    assert first["box"] == [0.0, 0.0, 0.0, 0.0]


def test_corpus__dontcare_dropped_by_default_and_counted() -> None:
    stream = predport.open_stream(corpus_folder("kitti_object_vis/label_2"))
    ps = stream.collect()
    names = {ps.category(r["category_id"]).name for f in ps.frames for r in f.predictions.to_records()}
    assert "DontCare" not in names
    assert stream.report.counts["kitti.dontcare_dropped"] == 4  # 000001.txt has four DontCare rows


def test_corpus__sentinels_read_as_unknown_and_real_values_kept() -> None:
    ps = predport.load(corpus_folder("kitti_object_vis/label_2"), options={"keep_dontcare": True})
    frame = next(f for f in ps.frames if f.data_id.startswith("000001"))
    recs = frame.predictions.to_records()
    truck, dontcare = recs[0], recs[3]
    assert truck["attributes"] == {
        "truncated": 0.0, "occluded": 0, "alpha": -1.57, "dimensions": [2.85, 2.63, 12.34],
        "location": [0.47, 1.49, 69.44], "rotation_y": -1.56,
    }
    assert "attributes" not in dontcare  # -1 -1 -10 ... -1 -1 -1 -1000 -1000 -1000 -10: all unknown


@pytest.mark.parametrize("rel", sorted(SIZES))
def test_corpus__image_sizes_from_the_images_beside_the_labels(rel: str) -> None:
    ps = predport.load(corpus_folder(rel))
    got = {Path(f.data_id).with_suffix("").name: (f.width, f.height) for f in ps.frames}
    assert got == SIZES[rel]


def test_corpus__data_ids_are_the_matching_image_names() -> None:
    ps = predport.load(corpus_folder("labelformat/labels"))
    assert [f.data_id for f in ps.frames] == [
        "a-difficult subfolder/a-weird Filename.asdf.jpg",
        "a-difficult subfolder/aNother-weird__ filename.with.many.characters.jpg",
    ]
    plain = predport.load(corpus_folder("kitti_object_vis_history/label_2"))
    assert [f.data_id for f in plain.frames] == ["001360", "001400", "004100"]  # no images: the stem


def test_corpus__class_names_with_spaces_read_whole() -> None:
    ps = predport.load(corpus_folder("labelformat/labels"))
    assert "bicycle with space" in {c.name for c in ps.categories}


def test_corpus__kitti_tree_root_reads_label_2() -> None:
    root = require_corpus("kitti", "kitti_object_vis")
    ps = predport.load(root)
    assert [f.data_id for f in ps.frames] == ["000000.png", "000001.png", "000002.png"]


@pytest.mark.parametrize("rel", sorted(CORPUS))
def test_corpus__detected_as_kitti(rel: str) -> None:
    votes = predport.detect(corpus_folder(rel))
    assert votes[0].format == "kitti" and votes[0].confidence >= predport.Confidence.HIGH


def test_corpus__every_label_file_converts_on_its_own(tmp_path: Path) -> None:
    root = require_corpus("kitti")
    labels = sorted(p for p in root.rglob("*.txt") if p.parent.name != "calib")
    assert len(labels) == 11
    for i, path in enumerate(labels):
        numbers = next(n for rel, n in CORPUS.items() if path.parent == corpus_folder(rel))
        summary = predport.convert(path, tmp_path / f"{i}.json", options={"keep_dontcare": True})
        assert summary["frames"] == 1
        assert summary["predictions"] == len(reference_objects(path, numbers))


def test_corpus__the_whole_corpus_folder_reads_as_one_tree() -> None:
    stream = predport.open_stream(require_corpus("kitti"), format="kitti")
    ps = stream.collect()
    assert len(ps.frames) == 11  # calib/ and image folders are not label files
    assert not stream.report.warnings
