"""COCO instance datasets read as ground truth (role="ground_truth"), checked against the file's own
JSON read with the standard library, and the wrong role refused both ways."""
from __future__ import annotations

import json

import numpy as np
import pytest

import predport

FAKE_GT = "faster_coco_eval/instances_val2014_100.json"
CROWD_GT = "faster_coco_eval/gt_ignore_test.json"
RESULTS = "cocoapi/instances_val2014_fakebbox100_results.json"


def test_ground_truth__instance_dataset_gives_one_frame_per_image_with_its_annotations(corpus):
    path = corpus(FAKE_GT)
    doc = json.loads(path.read_text())
    got = predport.load(path, role="ground_truth")
    assert [f.data_id for f in got.frames] == [im["file_name"] for im in doc["images"]]
    by_image: dict[int, list[dict]] = {}
    for a in doc["annotations"]:
        by_image.setdefault(a["image_id"], []).append(a)
    for frame, im in zip(got.frames, doc["images"]):
        anns = by_image.get(im["id"], [])
        dets = frame.predictions
        assert (frame.width, frame.height) == (im["width"], im["height"])
        assert len(dets) == len(anns)
        assert np.isnan(dets.score).all()  # ground truth has no score: null, never 0 or 1
        if anns:
            assert dets.box.tolist() == [a["bbox"] for a in anns]
            assert [a["iscrowd"] for a in dets.attributes] == [a["iscrowd"] for a in anns]
            assert [a["area"] for a in dets.attributes] == [a["area"] for a in anns]
    assert sum(len(f.predictions) == 0 for f in got.frames) == sum(im["id"] not in by_image for im in doc["images"])
    names = {c["id"]: c["name"] for c in doc["categories"]}
    assert {c.id: c.name for c in got.categories} == names


def test_ground_truth__crowd_regions_keep_their_uncompressed_rle_as_a_mask(corpus):
    path = corpus(FAKE_GT)
    doc = json.loads(path.read_text())
    crowd = [a for a in doc["annotations"] if a["iscrowd"]]
    assert crowd, "the corpus file has crowd annotations"
    got = predport.load(path, role="ground_truth")
    rows = [(f, i) for f in got.frames for i, a in enumerate(f.predictions.attributes or []) if a["iscrowd"]]
    assert len(rows) == len(crowd)
    from pycocotools import mask as mask_utils

    by_id = {a["id"]: a for a in crowd}
    for frame, i in rows:
        a = by_id[frame.predictions.attributes[i]["id"]]
        h, w = a["segmentation"]["size"]
        ours = mask_utils.decode({"size": [h, w], "counts": frame.predictions.mask[i]["counts"].encode()})
        ref = mask_utils.decode(mask_utils.frPyObjects(a["segmentation"], h, w))
        assert (ours == ref).all()


def test_ground_truth__detection_picks_coco_only_for_the_ground_truth_role(corpus):
    path = corpus(FAKE_GT)
    with pytest.raises(predport.UnknownFormatError, match="ground truth"):
        predport.load(path)
    assert predport.get_hub().pick(path, role="ground_truth").id == "coco"


def test_ground_truth__results_read_as_ground_truth_are_refused(corpus):
    with pytest.raises(predport.UnknownFormatError):
        predport.load(corpus(RESULTS), role="ground_truth")  # a scored results list never wins as GT
    with pytest.raises(predport.ParseError) as err:
        predport.load(corpus(RESULTS), format="coco", role="ground_truth")
    assert "read as ground truth, but this is predictions" in str(err.value)


def test_ground_truth__dataset_dict_with_scores_read_as_ground_truth_is_refused(tmp_path):
    doc = {"images": [{"id": 1, "file_name": "a.jpg", "width": 10, "height": 10}],
           "categories": [{"id": 1, "name": "car"}],
           "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 2, 2], "score": 0.5}]}
    p = tmp_path / "dets.json"
    p.write_text(json.dumps(doc))
    with pytest.raises(predport.ParseError) as err:
        predport.load(p, format="coco", role="ground_truth")
    assert err.value.json_path == "$.annotations[0].score" and "predictions" in str(err.value)


def test_ground_truth__ignore_flag_is_kept(tmp_path):
    doc = {"images": [{"id": 7, "file_name": "a.jpg", "width": 10, "height": 10},
                      {"id": 8, "file_name": "b.jpg", "width": 10, "height": 10}],
           "categories": [{"id": 3, "name": "car"}],
           "annotations": [{"id": 1, "image_id": 7, "category_id": 3, "bbox": [0, 0, 2, 2], "area": 4,
                            "iscrowd": 0, "ignore": 1}]}
    p = tmp_path / "gt.json"
    p.write_text(json.dumps(doc))
    got = predport.load(p, role="ground_truth")
    assert [f.data_id for f in got.frames] == ["a.jpg", "b.jpg"]
    assert got.frames[0].predictions.attributes == [{"id": 1, "area": 4, "iscrowd": 0, "ignore": 1}]
    assert len(got.frames[1].predictions) == 0
