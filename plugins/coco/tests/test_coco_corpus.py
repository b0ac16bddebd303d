"""Every COCO file of the shared corpus, read in place and checked against independent readers:
the standard library's ``json`` (values), ``jsonschema`` (the committed canonical schema) and
pycocotools (mask pixels, ``loadRes``). What each file exercises is in the corpus's PROVENANCE.md."""
from __future__ import annotations

import contextlib
import io
import json
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

import predport

RESULTS = [
    "cocoapi/instances_val2014_fakebbox100_results.json",
    "cocoapi/instances_val2014_fakesegm100_results.json",
    "cocoapi/person_keypoints_val2014_fakekeypoints100_results.json",
    "faster_coco_eval/dt_dataset.json",
    "faster_coco_eval/dt_ignore_test.json",
    "faster_coco_eval/example_crowdpose_preds.json",
    "faster_coco_eval/keypoints_dt_dataset.json",
    "sahi/coco_evaluate_result.json",
]
#: Results stored as a dataset dict (annotations with a score).
DATASET_RESULTS = [
    "review_od_metrics/dets_coco_dets.json",
    "review_od_metrics/toy_coco_dets.json",
    "review_od_metrics/sampled_bbox_results.json",
]
GROUND_TRUTH = [
    "datumaro/image_info_val.json",
    "datumaro/instances_train.json",
    "datumaro/instances_val.json",
    "datumaro/person_keypoints_val.json",
    "faster_coco_eval/example_crowdpose_val.json",
    "faster_coco_eval/gt_dataset.json",
    "faster_coco_eval/gt_ignore_test.json",
    "faster_coco_eval/instances_val2014_100.json",
    "faster_coco_eval/keypoints_gt_dataset.json",
    "faster_coco_eval/lvis_val_100.json",
    "labelformat/instance_segmentation/instances.json",
    "labelformat/instance_segmentation/instances_with_binary_mask.json",
    "labelformat/object_detection/train.json",
    "labelme/annotations.json",
    "lightly_coco_subset_128/instances_train2017.json",
    "panopticapi/images_info_examples.json",
    "panopticapi/panoptic_coco_detection_format.json",
    "review_od_metrics/gts_instances_default.json",
    "review_od_metrics/sampled_gts_bbox_area.json",
    "review_od_metrics/toy_example_coco.JSON",
    "sahi/coco_evaluate_dataset.json",
    "sahi/visdrone2019-det-train-first50image.json",
]
CAPTIONS = "cocoapi/captions_val2014_fakecap_results.json"
FAKE_GT = "faster_coco_eval/instances_val2014_100.json"


def source_records(path: Path) -> list[dict]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    return doc["annotations"] if isinstance(doc, dict) else doc


def coco_votes(path: Path) -> list[predport.FormatMatch]:
    return [v for v in predport.detect(path) if v.format == "coco"]


def flat_predictions(prediction_set: predport.PredictionSet) -> list[tuple[dict, dict]]:
    """(frame attributes, canonical record) for every prediction, in frame order."""
    return [(f.attributes, rec) for f in prediction_set.frames for rec in f.predictions.to_records()]


def image_id_of(frame_attributes: dict, data_id: str) -> int | str:
    """The COCO image id of a frame: kept in the attributes only when the data id cannot give it."""
    if "image_id" in frame_attributes:
        return frame_attributes["image_id"]
    return int(data_id) if data_id.isdigit() and str(int(data_id)) == data_id else data_id


def canonical_schema() -> dict:
    text = (resources.files("predport") / "schemas" / "prediction-set-1.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


# -- detection ---------------------------------------------------------------------------------
@pytest.mark.parametrize("rel", RESULTS + DATASET_RESULTS)
def test_detect__results_files_are_coco(corpus, rel: str) -> None:
    path = corpus(rel)
    votes = predport.detect(path)
    assert votes[0].format == "coco" and votes[0].confidence == predport.Confidence.HIGH, votes
    assert predport.get_hub().pick(path).id == "coco"


@pytest.mark.parametrize("rel", GROUND_TRUTH)
def test_detect__ground_truth_is_never_picked_as_coco_results(corpus, rel: str) -> None:
    path = corpus(rel)
    votes = coco_votes(path)
    assert votes, "a COCO dataset dict deserves a reasoned vote"
    # A vote above EXTENSION says the content is ground truth: a read as predictions skips it.
    assert all(v.confidence <= predport.Confidence.EXTENSION or v.role == "ground_truth" for v in votes), votes
    if votes[0].role == "ground_truth":
        assert "not results" in votes[0].reason
        with pytest.raises(predport.UnknownFormatError) as err:
            predport.get_hub().pick(path)
        assert "ground truth" in str(err.value) and "role='ground_truth'" in str(err.value)
        assert predport.get_hub().pick(path, role="ground_truth").id == "coco"


def test_detect__captions_are_rejected_with_a_reason(corpus) -> None:
    (vote,) = coco_votes(corpus(CAPTIONS))
    assert vote.confidence == predport.Confidence.NO
    assert "captions are not predictions" in vote.reason
    with pytest.raises(predport.UnknownFormatError):
        predport.get_hub().pick(corpus(CAPTIONS))


def test_parse__captions_forced_as_coco_fail_naming_the_caption_field(corpus) -> None:
    with pytest.raises(predport.ParseError) as err:
        predport.load(corpus(CAPTIONS), format="coco")
    assert err.value.json_path == "$[0].caption" and err.value.field == "caption"
    assert "captions are not predictions" in str(err.value)


def test_parse__ground_truth_forced_as_coco_says_it_is_ground_truth(corpus) -> None:
    with pytest.raises(predport.ParseError, match="ground truth, not results"):
        predport.load(corpus("faster_coco_eval/gt_dataset.json"), format="coco")


# -- the acceptance file: 734 boxes ----------------------------------------------------------------
def test_acceptance__fakebbox100_gives_734_boxes_equal_to_the_source(corpus, tmp_path: Path) -> None:
    src = corpus("cocoapi/instances_val2014_fakebbox100_results.json")
    out = tmp_path / "canonical.json"
    summary = predport.convert(src, out)
    assert summary["from"] == "coco" and summary["predictions"] == 734 and summary["frames"] == 99

    doc = json.loads(out.read_text(encoding="utf-8"))
    import jsonschema

    jsonschema.Draft202012Validator(canonical_schema()).validate(doc)  # independent of predport's validator

    expected = source_records(src)
    got = [(image_id_of(frame.get("attributes", {}), frame["data_id"]), frame["data_id"], p)
           for frame in doc["frames"] for p in frame["predictions"]]
    assert len(got) == len(expected) == 734
    for (image_id, data_id, pred), rec in zip(got, expected):
        assert image_id == rec["image_id"] and data_id == str(rec["image_id"])
        assert pred["category_id"] == rec["category_id"]
        assert pred["box"] == rec["bbox"]
        assert pred["score"] == rec["score"]
    assert {c["id"] for c in doc["categories"]} == {r["category_id"] for r in expected}

    back = tmp_path / "back.json"
    predport.convert(out, back, to="coco")
    assert json.loads(back.read_text(encoding="utf-8")) == expected


@pytest.mark.parametrize("rel", RESULTS)
def test_round_trip__coco_results_to_canonical_and_back_reproduce_the_records(corpus, tmp_path: Path,
                                                                               rel: str) -> None:
    src = corpus(rel)
    canonical = tmp_path / "canonical.json"
    predport.convert(src, canonical)
    back = tmp_path / "back.json"
    summary = predport.convert(canonical, back, to="coco")
    # Nothing refused; masks carry their image's size, which a results list has no place for.
    assert summary["lost_content"] == {} and set(summary["lost_metadata"]) <= {"frames.width/height"}
    assert json.loads(back.read_text(encoding="utf-8")) == source_records(src)


@pytest.mark.parametrize("rel", DATASET_RESULTS)
def test_round_trip__dataset_dict_results_give_back_their_annotations(corpus, tmp_path: Path, rel: str) -> None:
    src = corpus(rel)
    back = tmp_path / "back.json"
    # The images' sizes come from the dataset dict; a results list has no place for them.
    summary = predport.convert(src, back, to="coco", allow_loss=True)
    # A results list has no image table and no category table: sizes, names and supercategories are lost.
    assert set(summary["loss"]) <= {"frames.width/height", "categories.attributes", "categories.name"}
    assert json.loads(back.read_text(encoding="utf-8")) == source_records(src)


# -- segmentation: pixels as pycocotools decodes them ------------------------------------------------
def test_segm__every_mask_decodes_to_the_pixels_of_the_source(corpus, decode) -> None:
    src = corpus("cocoapi/instances_val2014_fakesegm100_results.json")
    expected = source_records(src)
    got = flat_predictions(predport.load(src))
    assert len(got) == len(expected) == 734
    for (_, pred), rec in zip(got, expected):
        assert "box" not in pred  # the source has no bbox: none is invented
        assert isinstance(pred["mask"]["counts"], str)
        assert np.array_equal(decode(pred["mask"]), decode(rec["segmentation"]))


def test_segm__masks_equal_pycocotools_loadres_ann_to_mask(corpus, decode) -> None:
    from pycocotools.coco import COCO

    src = corpus("cocoapi/instances_val2014_fakesegm100_results.json")
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(corpus(FAKE_GT)))
        res = gt.loadRes(str(src))
    got = [(image_id_of(f.attributes, f.data_id), rec) for f in predport.load(src).frames
           for rec in f.predictions.to_records()]
    for ann_id in (1, 2, 100, 377, 734):  # loadRes numbers results 1..N in source order
        image_id, pred = got[ann_id - 1]
        ann = res.anns[ann_id]
        assert ann["image_id"] == image_id and ann["category_id"] == pred["category_id"]
        assert np.array_equal(decode(pred["mask"]), res.annToMask(ann))


def test_segm__ground_truth_names_frames_and_gives_sizes_and_category_names(corpus) -> None:
    src = corpus("cocoapi/instances_val2014_fakesegm100_results.json")
    gt_path = corpus(FAKE_GT)
    gt = json.loads(gt_path.read_text(encoding="utf-8"))
    images = {im["id"]: im for im in gt["images"]}
    ps = predport.load(src, options={"gt": str(gt_path)})
    for frame in ps.frames:
        im = images[frame.attributes["image_id"]]
        assert (frame.data_id, frame.width, frame.height) == (im["file_name"], im["width"], im["height"])
        for pred in frame.predictions.to_records():
            assert pred["mask"]["size"] == [im["height"], im["width"]]
    names = {c["id"]: c["name"] for c in gt["categories"]}
    assert {c.id: c.name for c in ps.categories} == names  # every GT category, used or not
    assert ps.category(18).attributes == {"supercategory": "animal"}


# -- polygons, keypoints, extra keys ------------------------------------------------------------------
def test_polygons__polygon_results_are_kept_with_box_and_extra_keys(corpus) -> None:
    src = corpus("faster_coco_eval/dt_dataset.json")
    expected = source_records(src)
    got = flat_predictions(predport.load(src))
    for (_, pred), rec in zip(got, expected):
        assert pred["polygon"] == rec["segmentation"]
        assert pred["box"] == rec["bbox"]
        assert pred["attributes"] == {k: rec[k] for k in ("id", "iscrowd", "area") if k in rec}


def test_polygons__multi_part_segmentations_are_kept_ring_by_ring(corpus, write_json, tmp_path: Path) -> None:
    # labelme's COCO export has real multi-part polygons (up to 4 parts); scored, they are results.
    gt = json.loads(corpus("labelme/annotations.json").read_text(encoding="utf-8"))
    results = [{"image_id": a["image_id"], "category_id": a["category_id"], "segmentation": a["segmentation"],
                "score": 0.5} for a in gt["annotations"] if isinstance(a["segmentation"], list)]
    assert max(len(r["segmentation"]) for r in results) >= 3
    src = write_json(results)
    got = flat_predictions(predport.load(src))
    assert [pred["polygon"] for _, pred in got] == [r["segmentation"] for r in results]
    back = tmp_path / "back.json"
    predport.convert(src, back, to="coco")
    assert json.loads(back.read_text(encoding="utf-8")) == results


@pytest.mark.parametrize("rel,joints", [
    ("cocoapi/person_keypoints_val2014_fakekeypoints100_results.json", 17),
    ("faster_coco_eval/keypoints_dt_dataset.json", 17),
    ("faster_coco_eval/example_crowdpose_preds.json", 14),
])
def test_keypoints__flat_lists_become_triplets(corpus, rel: str, joints: int) -> None:
    src = corpus(rel)
    expected = source_records(src)
    got = flat_predictions(predport.load(src))
    assert len(got) == len(expected)
    for (_, pred), rec in zip(got, expected):
        kp = rec["keypoints"]
        assert len(pred["keypoints"]) == joints
        assert pred["keypoints"] == [kp[i:i + 3] for i in range(0, len(kp), 3)]
        assert pred["score"] == rec["score"]


def test_sahi__extra_keys_and_empty_segmentation_are_kept_as_attributes(corpus) -> None:
    src = corpus("sahi/coco_evaluate_result.json")
    expected = source_records(src)
    got = flat_predictions(predport.load(src))
    for (_, pred), rec in zip(got, expected):
        assert pred["box"] == rec["bbox"] and "polygon" not in pred
        assert pred["attributes"] == {
            "category_name": rec["category_name"], "segmentation": [], "iscrowd": rec["iscrowd"], "area": rec["area"]}


def test_dataset_dict__frames_named_and_sized_from_its_own_images(corpus) -> None:
    src = corpus("review_od_metrics/dets_coco_dets.json")
    doc = json.loads(src.read_text(encoding="utf-8"))
    images = {im["id"]: im for im in doc["images"]}
    ps = predport.load(src)
    assert ps.num_predictions == len(doc["annotations"]) == 452
    assert ps.frames[0].attributes["image_id"] == doc["annotations"][0]["image_id"] == 0
    for frame in ps.frames:
        im = images[frame.attributes["image_id"]]
        assert (frame.data_id, frame.width, frame.height) == (im["file_name"], im["width"], im["height"])
    assert {c.id: c.name for c in ps.categories} == {c["id"]: c["name"] for c in doc["categories"]}


# -- the column-wise reader agrees with the record-by-record reader -----------------------------------------------
@pytest.mark.parametrize("rel", RESULTS + DATASET_RESULTS)
def test_paths__columnar_and_record_by_record_readers_agree(corpus, rel: str) -> None:
    from predport_coco import read as reader

    recs = source_records(corpus(rel))
    columnar, _ = reader._columnar_columns(recs)
    general = reader._general_columns(recs, base=(), file=rel, context=predport.make_context(), strict=True)
    assert np.array_equal(np.asarray(columnar.image_id), np.asarray(general.image_id))
    assert np.array_equal(columnar.category_id, general.category_id)
    assert np.array_equal(columnar.score, general.score, equal_nan=True)
    assert (columnar.box is None) == (general.box is None)
    if columnar.box is not None:
        assert np.array_equal(columnar.box, general.box, equal_nan=True)
    for name in ("polygon", "mask", "keypoints", "attributes"):
        assert getattr(columnar, name) == getattr(general, name), name
