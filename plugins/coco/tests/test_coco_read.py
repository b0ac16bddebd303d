"""Reading COCO results: every record shape and edge case, on small fixtures built here."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import predport

BOX = {"image_id": 42, "category_id": 18, "bbox": [258.2, 41.3, 348.3, 243.8], "score": 0.93}


def boxes(n: int, *, images: int = 3) -> list[dict]:
    """``n`` plain box results over ``images`` images, grouped by image (as detectors write them)."""
    return [{"image_id": 1 + i * images // n, "category_id": 1 + i % 5,
             "bbox": [i * 1.5, i * 0.25, 10.0 + i, 20.5], "score": round(1 - i / (n + 1), 6)} for i in range(n)]


def records(ps: predport.PredictionSet) -> list[dict]:
    return [rec for frame in ps.frames for rec in frame.predictions.to_records()]


def mask_array() -> np.ndarray:
    """The spec's worked example (FORMATS.md 3.4): counts [4, 1, 1, 2, 1, 3], compressed '411101'."""
    return np.array([[0, 0, 1, 1], [0, 1, 1, 1], [0, 0, 0, 1]], dtype=np.uint8)


# -- ids and frames ---------------------------------------------------------------------------------
def test_parse__integer_image_ids_name_frames_and_stay_integers(write_json) -> None:
    ps = predport.load(write_json([BOX]))
    (frame,) = ps.frames
    # The data id "42" gives the integer image id back (the writer writes it as 42): it is not
    # kept twice, so a target without frame attributes loses nothing.
    assert frame.data_id == "42" and frame.attributes == {}
    assert records(ps) == [{"category_id": 18, "score": 0.93, "box": [258.2, 41.3, 348.3, 243.8]}]
    assert [c.name for c in ps.categories] == ["18"]  # no ground truth: categories are their ids


def test_parse__string_image_ids_are_kept_as_strings(write_json, tmp_path: Path) -> None:
    src = write_json([{**BOX, "image_id": "img_001.jpg"}, {**BOX, "image_id": "img_002.jpg", "score": 0.5}])
    ps = predport.load(src)
    assert [f.data_id for f in ps.frames] == ["img_001.jpg", "img_002.jpg"]
    assert ps.frames[0].attributes == {}  # the data id is the string image id
    out = tmp_path / "back.json"
    predport.convert(src, out, to="coco")
    assert json.loads(out.read_text()) == json.loads(src.read_text())


def test_parse__frames_follow_first_appearance_and_keep_order_within_an_image(write_json) -> None:
    recs = [{**BOX, "image_id": i, "score": s} for i, s in ((7, 0.1), (3, 0.2), (3, 0.3), (9, 0.4))]
    ps = predport.load(write_json(recs))
    assert [f.data_id for f in ps.frames] == ["7", "3", "9"]
    assert [r["score"] for r in records(ps)] == [0.1, 0.2, 0.3, 0.4]
    assert all("record_index" not in f.attributes for f in ps.frames)  # grouped: nothing to remember


def test_parse__interleaved_images_remember_record_positions_and_write_back_in_source_order(
        write_json, tmp_path: Path) -> None:
    recs = [{**BOX, "image_id": i, "score": s} for i, s in ((1, 0.1), (2, 0.2), (1, 0.3), (3, 0.4), (2, 0.5))]
    src = write_json(recs)
    ps = predport.load(src)
    assert [(f.data_id, f.attributes["record_index"]) for f in ps.frames] == [("1", [0, 2]), ("2", [1, 4]),
                                                                              ("3", [3])]
    canonical = tmp_path / "canonical.json"
    predport.convert(src, canonical)
    back = tmp_path / "back.json"
    predport.convert(canonical, back, to="coco")
    assert json.loads(back.read_text()) == recs


def test_parse__typed_fast_path_and_general_path_give_the_same_frames(write_json) -> None:
    plain = boxes(50)
    fast = predport.load(write_json(plain, "plain.json"))
    # One extra key anywhere sends the whole file down the record-by-record path.
    general = predport.load(write_json(plain[:-1] + [{**plain[-1], "id": 1}], "extra.json"))
    assert [f.data_id for f in fast.frames] == [f.data_id for f in general.frames]
    assert records(fast)[:-1] == records(general)[:-1]
    assert records(general)[-1]["attributes"] == {"id": 1}


def test_parse__empty_list_is_an_empty_prediction_set(write_json, tmp_path: Path) -> None:
    src = write_json([])
    vote = [v for v in predport.detect(src) if v.format == "coco"][0]
    assert vote.confidence == predport.Confidence.LOW
    ps = predport.load(src, format="coco")
    assert ps.frames == [] and ps.categories == []
    back = tmp_path / "back.json"
    predport.convert(src, back, format="coco", to="coco")
    assert json.loads(back.read_text()) == []


# -- kinds of results ----------------------------------------------------------------------------------
def test_parse__records_of_mixed_kinds_each_keep_their_geometry(write_json, tmp_path: Path) -> None:
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(mask_array()))
    recs = [
        BOX,
        {"image_id": 42, "category_id": 18, "segmentation": {"size": [3, 4], "counts": rle["counts"].decode()},
         "score": 0.88},
        {"image_id": 42, "category_id": 1, "keypoints": [426, 169, 1, 0, 0, 0, 431.5, 166, 2], "score": 0.77},
        {"image_id": 43, "category_id": 3, "bbox": [1, 2, 3, 4],
         "segmentation": [[0, 0, 4, 0, 4, 3], [10, 10, 12, 10, 12, 14]], "score": 0.6},
        {"image_id": 43, "category_id": 5, "score": 0.4},  # image-level: a category and a score
    ]
    src = write_json(recs)
    got = records(predport.load(src))
    assert got[0]["box"] == BOX["bbox"]
    assert got[1]["mask"] == {"size": [3, 4], "counts": "411101"} and "box" not in got[1]
    assert got[2]["keypoints"] == [[426, 169, 1], [0, 0, 0], [431.5, 166, 2]]
    assert got[3]["polygon"] == [[0, 0, 4, 0, 4, 3], [10, 10, 12, 10, 12, 14]] and got[3]["box"] == [1, 2, 3, 4]
    assert got[4] == {"category_id": 5, "score": 0.4}
    back = tmp_path / "back.json"
    predport.convert(src, back, to="coco")
    assert json.loads(back.read_text()) == recs


def test_parse__missing_or_null_score_is_null_never_invented(write_json, tmp_path: Path) -> None:
    recs = [{"image_id": 1, "category_id": 2, "segmentation": {"size": [3, 4], "counts": "411101"}},
            {"image_id": 1, "category_id": 2, "bbox": [1, 2, 3, 4], "score": None}]
    got = records(predport.load(write_json(recs)))
    assert [r["score"] for r in got] == [None, None]
    back = tmp_path / "back.json"
    summary = predport.convert(write_json(recs), back, to="coco")
    assert summary["report"]["counts"] == {"scores missing (score key omitted)": 2}
    assert json.loads(back.read_text()) == [recs[0], {k: v for k, v in recs[1].items() if k != "score"}]


def test_parse__uncompressed_rle_becomes_the_compressed_rle_pycocotools_makes(write_json, decode) -> None:
    from pycocotools import mask as mask_utils

    m = mask_array()
    # Column-major runs, starting with zeros, counted by hand: 0 0 0 0 | 1 | 0 | 1 1 | 0 | 1 1 1
    uncompressed = {"size": [3, 4], "counts": [4, 1, 1, 2, 1, 3]}
    src = write_json([{"image_id": 1, "category_id": 1, "segmentation": uncompressed, "score": 0.9}])
    context = predport.make_context()
    ps = predport.open_stream(src, context=context).collect()
    (rec,) = records(ps)
    expected = mask_utils.encode(np.asfortranarray(m))["counts"].decode("ascii")
    assert rec["mask"] == {"size": [3, 4], "counts": expected} == {"size": [3, 4], "counts": "411101"}
    assert np.array_equal(decode(rec["mask"]), m)
    assert context.report.counts["uncompressed RLE converted to compressed"] == 1


def test_parse__rle_counts_with_a_backslash_survive_the_round_trip_byte_exactly(
        write_json, tmp_path: Path, decode) -> None:
    from pycocotools import mask as mask_utils

    # A first run of 44 zeros: 44 = 12 + 32 is written as chunk 12 with the continuation flag,
    # 12 | 0x20 = 44, and 44 + 48 = 92, a backslash.
    flat = np.zeros(12 * 9, dtype=np.uint8)
    flat[44:70] = 1
    m = flat.reshape((12, 9), order="F")
    counts = mask_utils.encode(np.asfortranarray(m))["counts"].decode("ascii")
    assert counts.startswith("\\")
    rec = {"image_id": 5, "category_id": 1, "segmentation": {"size": [12, 9], "counts": counts}, "score": 0.5}
    src = write_json([rec])
    escaped = json.dumps(counts)  # the JSON text of the counts, backslashes doubled
    assert escaped.count("\\\\") >= 1 and escaped.encode() in src.read_bytes()
    (got,) = records(predport.load(src))
    assert got["mask"]["counts"] == counts
    assert np.array_equal(decode(got["mask"]), m)
    canonical = tmp_path / "canonical.json"
    predport.convert(src, canonical)
    back = tmp_path / "back.json"
    predport.convert(canonical, back, to="coco")
    assert escaped.encode() in canonical.read_bytes() and escaped.encode() in back.read_bytes()
    assert json.loads(back.read_text()) == [rec]


# -- malformed input ----------------------------------------------------------------------------------
def assert_parse_error(src: Path, tmp_path: Path, *, json_path: str, field: str | None, text: str) -> None:
    out = tmp_path / "out.json"
    with pytest.raises(predport.ParseError) as err:
        predport.convert(src, out, format="coco")
    message = str(err.value)
    assert str(src) in message and json_path in message and text in message, message
    assert err.value.json_path == json_path and err.value.field == field
    if field:
        assert f"field {field!r}" in message
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging left


def test_malformed__truncated_json_names_file_json_path_and_field(tmp_path: Path) -> None:
    text = json.dumps(boxes(20))
    src = tmp_path / "results.json"
    src.write_text(text[: text.index('"bbox"', text.index('"image_id": 2')) + 15])  # cut inside a bbox
    index = json.loads(text).index(next(r for r in json.loads(text) if r["image_id"] == 2))
    assert_parse_error(src, tmp_path, json_path=f"$[{index}].bbox", field="bbox", text="truncated")


@pytest.mark.parametrize("n", [3, 2000])  # a small file, and one that first tries the typed fast path
def test_malformed__bbox_of_three_numbers(write_json, tmp_path: Path, n: int) -> None:
    recs = boxes(n)
    recs[n - 2]["bbox"] = [1.0, 2.0, 3.0]
    assert_parse_error(write_json(recs), tmp_path, json_path=f"$[{n - 2}].bbox", field="bbox", text="4 numbers")


@pytest.mark.parametrize("n", [3, 2000])
def test_malformed__nan_score_written_by_python_json(write_json, tmp_path: Path, n: int) -> None:
    recs = boxes(n)
    recs[1]["score"] = float("nan")
    src = write_json(recs)
    assert b"NaN" in src.read_bytes()  # what json.dumps writes: not JSON, yet common
    assert_parse_error(src, tmp_path, json_path="$[1].score", field="score", text="not a JSON number")


@pytest.mark.parametrize("n", [3, 2000])
def test_malformed__missing_image_id(write_json, tmp_path: Path, n: int) -> None:
    recs = boxes(n)
    del recs[n - 1]["image_id"]
    assert_parse_error(write_json(recs), tmp_path, json_path=f"$[{n - 1}]", field="image_id",
                       text="missing image_id")


@pytest.mark.parametrize("bad,json_path,field,text", [
    ({"bbox": [0, 0, -1, 5]}, "$[1].bbox", "bbox", "width and height must be >= 0"),
    ({"bbox": [0, "1", 2, 3]}, "$[1].bbox", "bbox", "4 numbers"),
    ({"bbox": [0, 1, 2, float("inf")]}, "$[1].bbox[3]", "bbox", "not a JSON number"),
    ({"score": "0.5"}, "$[1].score", "score", "finite number"),
    ({"category_id": True}, "$[1].category_id", "category_id", "integer"),
    ({"category_id": 1.5}, "$[1].category_id", "category_id", "integer"),
    ({"image_id": [1]}, "$[1].image_id", "image_id", "integer or a non-empty string"),
    ({"keypoints": [1, 2, 1, 3]}, "$[1].keypoints", "keypoints", "not a multiple of 3"),
    ({"segmentation": [[1, 2, 3, 4]]}, "$[1].segmentation[0]", "segmentation", "at least 6 numbers"),
    ({"segmentation": [1, 2, 3, 4, 5, 6]}, "$[1].segmentation[0]", "segmentation", "list of rings"),
    ({"segmentation": {"size": [3, 4], "counts": "41 101"}}, "$[1].segmentation.counts", "segmentation",
     "'0' to 'o'"),
    ({"segmentation": {"size": [3, 4], "counts": [4, 1, 1]}}, "$[1].segmentation.counts", "segmentation",
     "sum to 6"),
    ({"segmentation": {"size": [3], "counts": "411101"}}, "$[1].segmentation.size", "segmentation",
     "[height, width]"),
])
def test_malformed__bad_fields_name_their_json_path(write_json, tmp_path: Path, bad: dict, json_path: str,
                                                    field: str, text: str) -> None:
    recs = boxes(3)
    recs[1].update(bad)
    assert_parse_error(write_json(recs), tmp_path, json_path=json_path, field=field, text=text)


def test_malformed__not_a_list_of_objects(write_json, tmp_path: Path) -> None:
    assert_parse_error(write_json([BOX, 5]), tmp_path, json_path="$[1]", field=None, text="JSON object")
    assert_parse_error(write_json("results"), tmp_path, json_path="$", field=None, text="JSON array")


def test_policy_skip__bad_records_are_counted_and_the_rest_kept(write_json, tmp_path: Path) -> None:
    recs = boxes(6)
    recs[1]["bbox"] = [1, 2, 3]
    recs[3]["score"] = float("nan")
    del recs[4]["image_id"]
    out = tmp_path / "out.json"
    summary = predport.convert(write_json(recs), out, policy="skip")
    assert summary["predictions"] == 3 and summary["report"]["skipped"] == 3
    kept = [r for frame in json.loads(out.read_text())["frames"] for r in frame["predictions"]]
    assert [r["box"] for r in kept] == [recs[i]["bbox"] for i in (0, 2, 5)]
    assert any("$[1].bbox" in e for e in summary["report"]["skipped_examples"])


# -- ground truth and class maps -------------------------------------------------------------------------
GT = {
    "images": [{"id": 42, "file_name": "sub/000042.jpg", "width": 640, "height": 480},
               {"id": 43, "file_name": "000043.jpg", "width": 320, "height": 200}],
    "categories": [{"id": 18, "name": "dog", "supercategory": "animal"},
                   {"id": 1, "name": "person", "supercategory": "person", "keypoints": ["nose"], "skeleton": []}],
    "annotations": [],
}


def test_gt__file_names_sizes_and_category_names_come_from_the_ground_truth(write_json) -> None:
    gt = write_json(GT, "gt.json")
    ps = predport.load(write_json([BOX, {**BOX, "image_id": "43"}]), options={"gt": str(gt)})
    assert [(f.data_id, f.width, f.height) for f in ps.frames] == [("sub/000042.jpg", 640, 480),
                                                                   ("000043.jpg", 320, 200)]
    assert ps.frames[1].attributes["image_id"] == "43"  # a string id matches GT id 43, and stays a string
    assert [(c.id, c.name, c.attributes) for c in ps.categories] == [
        (1, "person", {"supercategory": "person", "keypoints": ["nose"], "skeleton": []}),
        (18, "dog", {"supercategory": "animal"})]


def test_gt__an_image_missing_from_the_ground_truth_fails_or_is_skipped(write_json, tmp_path: Path) -> None:
    gt = write_json(GT, "gt.json")
    src = write_json([BOX, {**BOX, "image_id": 99}])
    with pytest.raises(predport.ParseError) as err:
        predport.load(src, options={"gt": str(gt)})
    assert err.value.json_path == "$[1].image_id" and err.value.field == "image_id"
    summary = predport.convert(src, tmp_path / "out.json", options={"gt": str(gt)}, policy="skip")
    assert summary["predictions"] == 1 and summary["report"]["skipped"] == 1


def test_gt__without_ground_truth_user_sizes_apply(write_json) -> None:
    ps = predport.load(write_json([BOX]), image_sizes={"42": [640, 480]})
    assert (ps.frames[0].width, ps.frames[0].height) == (640, 480)


def test_class_map__unmapped_categories_are_dropped_and_counted(write_json, tmp_path: Path) -> None:
    recs = [BOX, {**BOX, "category_id": 3}, {**BOX, "category_id": 18, "score": 0.1}]
    summary = predport.convert(write_json(recs), tmp_path / "out.json",
                               class_map={"18": {"id": 0, "name": "dog"}})
    assert summary["predictions"] == 2
    assert summary["report"]["counts"] == {}  # one key per event: the per-class unmapped counts
    assert sum(summary["report"]["unmapped_classes"].values()) == 1
    doc = json.loads((tmp_path / "out.json").read_text())
    assert doc["categories"] == [{"id": 0, "name": "dog", "external_id": None, "attributes": {}}]


# -- detection edge cases -------------------------------------------------------------------------------------
def test_detect__first_record_larger_than_the_head_is_still_coco(write_json) -> None:
    big = {"image_id": 1, "category_id": 1, "segmentation": {"size": [4000, 4000], "counts": "0" * 100_000},
           "score": 0.5}
    vote = [v for v in predport.detect(write_json([big])) if v.format == "coco"][0]
    assert vote.confidence == predport.Confidence.MEDIUM


@pytest.mark.parametrize("doc", [
    {"file_name": "a.jpg", "predictions": [{"category_id": 0, "bbox": [1, 2, 3, 4], "score": 0.5}]},  # Lightly
    {"task_id": "f1", "inference_data": []},  # Aquarium
    {"schema": "predport/prediction-set/1", "frames": []},  # canonical
    [{"data_hash": "x", "confidence": 0.5}],  # some other list
    ["vehicles"],  # a Lightly tasks.json
])
def test_detect__other_formats_json_is_not_claimed(write_json, doc) -> None:
    assert not [v for v in predport.detect(write_json(doc)) if v.format == "coco" and v.confidence > 0]
