"""Detection: class-index masks are recognised; photos, colour masks, instance-id maps and
other formats' inputs are not claimed."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import predport
import pytest
from PIL import Image
from predport.testing import require_corpus

C = predport.Confidence


def _vote(path) -> predport.FormatMatch | None:
    for m in predport.detect(path):
        if m.format == "masks":
            return m
    return None


def _mask(h: int = 32, w: int = 48) -> np.ndarray:
    arr = np.zeros((h, w), np.uint8)
    arr[4:12, 4:20] = 3
    arr[20:30, 25:40] = 7
    return arr


def test_detect__folder_of_class_index_masks_is_high(tmp_path, write_png):
    write_png(tmp_path / "a.png", _mask())
    vote = _vote(tmp_path)
    assert vote.confidence == C.HIGH and "class-index" in vote.reason
    assert predport.detect(tmp_path)[0].format == "masks"


def test_detect__single_mask_file(tmp_path, write_png):
    path = write_png(tmp_path / "a.png", _mask(), palette=True)
    assert _vote(path).confidence == C.HIGH


def test_detect__mask_longer_than_the_detection_head_is_sampled_from_its_first_rows(tmp_path, write_png):
    arr = np.random.default_rng(0).integers(0, 12, (600, 600)).astype(np.uint8)
    path = write_png(tmp_path / "big.png", arr)
    assert path.stat().st_size > 64 * 1024
    vote = _vote(tmp_path)
    assert vote.confidence == C.HIGH and "12 distinct" in vote.reason


def test_detect__sixteen_bit_class_indices_are_high(tmp_path, write_png):
    write_png(tmp_path / "a.png", _mask().astype(np.uint16), mode="I;16")
    assert _vote(tmp_path).confidence == C.HIGH


def test_detect__sixteen_bit_instance_id_map_is_rejected_with_reason(tmp_path, write_png):
    arr = _mask().astype(np.uint16)
    arr[arr == 3] = 26001
    arr[arr == 7] = 26002
    write_png(tmp_path / "inst.png", arr, mode="I;16")
    vote = _vote(tmp_path)
    assert vote.confidence == C.NO and "instance-id" in vote.reason


def test_detect__greyscale_photo_is_rejected(tmp_path):
    y, x = np.mgrid[0:64, 0:64]
    photo = ((x * 3 + y * 2) % 256).astype(np.uint8)
    Image.fromarray(photo).save(tmp_path / "photo.png")
    vote = _vote(tmp_path)
    assert vote.confidence == C.NO and "photo" in vote.reason


def test_detect__colour_png_is_rejected_and_says_how_to_read_it(tmp_path):
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[2:5, 2:5] = (128, 0, 0)
    Image.fromarray(rgb).save(tmp_path / "c.png")
    vote = _vote(tmp_path)
    assert vote.confidence == C.NO and "colors=" in vote.reason


def test_detect__file_named_png_that_is_not_a_png_is_rejected(tmp_path):
    (tmp_path / "x.png").write_bytes(b"\xff\xd8\xff\xe0 a jpeg")
    assert _vote(tmp_path).confidence == C.NO


def test_detect__background_only_images_are_low_and_a_second_file_is_sampled(tmp_path, write_png):
    write_png(tmp_path / "a.png", np.zeros((8, 8), np.uint8))
    assert _vote(tmp_path).confidence == C.LOW
    write_png(tmp_path / "b.png", _mask())
    assert _vote(tmp_path).confidence == C.HIGH


def test_detect__pngs_beside_as_many_text_files_are_at_most_low(tmp_path, write_png):
    for i in range(3):
        write_png(tmp_path / "images" / f"{i:06d}.png", _mask())
        (tmp_path / "labels").mkdir(exist_ok=True)
        (tmp_path / "labels" / f"{i:06d}.txt").write_text("Car 0 0 0 1 2 3 4 0 0 0 0 0 0 0 0.5\n")
    assert _vote(tmp_path).confidence <= C.LOW


def test_detect__encord_ontology_mapping_with_int_values_is_a_hint(tmp_path, write_png):
    arr = _mask()
    arr[arr == 0] = 1  # no background value in the sample
    write_png(tmp_path / "clip.mp4.png", arr)
    assert _vote(tmp_path).confidence == C.MEDIUM
    (tmp_path / "ontology_mapping.json").write_text(json.dumps({"OTk2MzM3": 1, "NzYyMjcx": 3}))
    vote = _vote(tmp_path)
    assert vote.confidence == C.HIGH and "ontology_mapping.json" in vote.reason


def test_detect__frame_suffixed_names_are_a_hint(tmp_path, write_png):
    arr = _mask()
    arr[arr == 0] = 1
    write_png(tmp_path / "clip.mp4__00001.png", arr)
    vote = _vote(tmp_path)
    assert vote.confidence == C.HIGH and "__<frame>" in vote.reason


def test_detect__folder_without_pngs_gets_no_vote(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    assert _vote(tmp_path) is None
    assert _vote(tmp_path / "a.txt") is None


def test_detect__corpus_class_index_folders_are_masks():
    for rel in ("labelformat_voc", "labelme_voc/SegmentationClass", "mseg_api/camvid_preds",
                "mseg_api/ADEChallengeData2016", "datumaro/kaggle_16bit"):
        path = require_corpus("png_masks", *rel.split("/"))
        top = predport.detect(path)[0]
        assert (top.format, top.confidence) == ("masks", C.HIGH), rel


def test_detect__corpus_negatives_are_rejected():
    for rel in ("labelme_voc/SegmentationObject", "deeplabv3plus_vainf", "panopticapi",
                "mseg_api/ADE20K_2016_full", "datumaro/voc", "datumaro/camvid",
                "datumaro/cityscapes/defaultcity_000001_000031_gtFine_instanceIds.png",
                "datumaro/kitti_segmentation"):
        path = require_corpus("png_masks", *rel.split("/"))
        assert _vote(path).confidence == C.NO, rel


@pytest.mark.parametrize("fmt", ["coco", "kitti", "lightly", "aquarium"])
def test_detect__other_formats_corpus_inputs_are_not_claimed(fmt):
    root = require_corpus(fmt)
    paths: list[Path] = [root, *sorted(root.iterdir()), *sorted(root.glob("*/*"))]
    for p in paths:
        vote = _vote(p)
        assert vote is None or vote.confidence <= C.LOW, (p, vote)
