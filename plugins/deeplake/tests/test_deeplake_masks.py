"""Instance masks: COCO RLE <-> Deep Lake BinaryMask columns ((H, W, N) bool per row).

The masks are made here with numpy and encoded by pycocotools; every check of pixels
decodes with pycocotools itself (the independent reading of an RLE) and compares with
what ``deeplake.open_read_only`` gives back for the column."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import predport

mask_utils = pytest.importorskip("pycocotools.mask")
CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "corpus"


def _rle(pixels: np.ndarray) -> dict:
    r = mask_utils.encode(np.asfortranarray(pixels.astype(np.uint8)))
    return {"size": [int(v) for v in r["size"]], "counts": r["counts"].decode("ascii")}


def _disk(h: int, w: int, cy: float, cx: float, radius: float) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= radius ** 2


GT = {
    "images": [{"id": 1, "file_name": "a.jpg", "width": 40, "height": 30},
               {"id": 2, "file_name": "b.jpg", "width": 20, "height": 10},
               {"id": 3, "file_name": "c.jpg", "width": 8, "height": 8}],
    "categories": [{"id": 1, "name": "cat"}, {"id": 5, "name": "dog"}],
    "annotations": [],
}


def _bbox(pixels: np.ndarray) -> list[float]:
    ys, xs = np.nonzero(pixels)
    if not len(ys):
        return [0.0, 0.0, 0.0, 0.0]
    return [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)]


def _segm_results(with_boxes: bool) -> list[dict]:
    masks = [(1, 1, _disk(30, 40, 10, 12, 6), 0.9), (1, 5, _disk(30, 40, 20, 30, 8), 0.25),
             (1, 5, np.zeros((30, 40), bool), 0.125),                 # an empty mask is a mask
             (2, 1, _disk(10, 20, 4, 15, 3), 0.5)]
    out = []
    for image_id, cat, pixels, score in masks:
        rec = {"image_id": image_id, "category_id": cat, "segmentation": _rle(pixels), "score": score}
        if with_boxes:
            rec["bbox"] = _bbox(pixels)
        out.append(rec)
    return out


def _write_coco(tmp_path: Path, results: list[dict]) -> tuple[Path, Path]:
    res, gt = tmp_path / "results.json", tmp_path / "gt.json"
    res.write_text(json.dumps(results))
    gt.write_text(json.dumps(GT))
    return res, gt


def _same_pixels(a: list[dict], b: list[dict]) -> None:
    key = lambda r: (r["image_id"], r["category_id"], r["score"])  # noqa: E731
    a, b = sorted(a, key=key), sorted(b, key=key)
    assert [key(r) for r in a] == [key(r) for r in b]
    for x, y in zip(a, b):
        assert y["segmentation"] == x["segmentation"]                 # the same RLE ...
        np.testing.assert_array_equal(mask_utils.decode(y["segmentation"]), mask_utils.decode(x["segmentation"]))


@pytest.mark.parametrize("with_boxes", [True, False], ids=["masks-and-boxes", "masks-only"])
def test_masks__coco_segm_results_round_trip_to_the_same_rles(tmp_path: Path, with_boxes: bool) -> None:
    import deeplake

    results = _segm_results(with_boxes)
    res, gt = _write_coco(tmp_path, results)
    ds_path = tmp_path / "ds"
    predport.convert(res, ds_path, to="deeplake", read_options={"gt": str(gt)})
    predport.convert(ds_path, tmp_path / "back.json", to="coco", allow_loss=True)
    back = json.loads((tmp_path / "back.json").read_text())
    _same_pixels(results, back)
    assert all(("bbox" in r) == with_boxes for r in back)
    if with_boxes:
        assert sorted(r["bbox"] for r in back) == sorted(r["bbox"] for r in results)

    ds = deeplake.open_read_only(str(ds_path))
    kinds = {c.name: c.dtype.kind for c in ds.schema.columns}
    assert kinds["model_evaluation/masks"] == deeplake.types.TypeKind.BinaryMask
    assert "model_evaluation/has_mask" not in kinds                   # every prediction has a mask
    ids = ds["data_id"][0:len(ds)]
    assert sorted(ids) == ["a.jpg", "b.jpg"]                          # COCO results name only scored images
    a = np.asarray(ds["model_evaluation/masks"][ids.index("a.jpg")])
    assert a.shape == (30, 40, 3) and a.dtype == bool
    labels = ds["model_evaluation/labels"][ids.index("a.jpg")].tolist()
    names = ds["model_evaluation/labels"].metadata["class_names"]
    on_a = [r for r in results if r["image_id"] == 1]
    for plane, label, rec in zip(np.moveaxis(a, 2, 0), labels, on_a):  # plane i is prediction i
        assert names[label] == {1: "cat", 5: "dog"}[rec["category_id"]]
        np.testing.assert_array_equal(plane, mask_utils.decode(rec["segmentation"]).astype(bool))


def test_masks__empty_frames_and_frames_without_masks_hold_no_planes(tmp_path: Path) -> None:
    import deeplake

    pset = predport.PredictionSet(
        source=predport.SourceInfo(format="canonical", uri="mem", plugin="test"),
        categories=[predport.Category(id=1, name="cat")],
        frames=[
            predport.Frame(data_id="m.jpg", width=6, height=4, predictions=predport.Detections(
                [1], [0.5], [[0, 0, 2, 2]], mask=[_rle(_disk(4, 6, 1, 1, 1))])),
            predport.Frame(data_id="empty.jpg", width=5, height=3, predictions=predport.Detections.empty()),
            predport.Frame(data_id="boxes.jpg", width=7, height=2, predictions=predport.Detections(
                [1, 1], [0.1, 0.2], [[0, 0, 1, 1], [1, 1, 1, 1]])),
        ])
    predport.save(pset, tmp_path / "ds", "deeplake")
    ds = deeplake.open_read_only(str(tmp_path / "ds"))
    shapes = [np.asarray(m).shape for m in ds["model_evaluation/masks"][0:3]]
    assert shapes == [(4, 6, 1), (3, 5, 0), (2, 7, 0)]                # no plane where there is no mask
    back = predport.load(tmp_path / "ds")
    assert [f.data_id for f in back.frames] == ["m.jpg", "empty.jpg", "boxes.jpg"]
    assert back.frame("m.jpg").predictions.mask == pset.frames[0].predictions.mask
    assert len(back.frame("empty.jpg").predictions) == 0
    assert back.frame("boxes.jpg").predictions.mask is None
    assert back.frame("boxes.jpg").predictions.box.tolist() == [[0, 0, 1, 1], [1, 1, 1, 1]]


def test_masks__a_frame_mixing_masks_and_none_keeps_which_is_which(tmp_path: Path) -> None:
    import deeplake

    empty = _rle(np.zeros((4, 6), bool))
    disk = _rle(_disk(4, 6, 2, 3, 2))
    pset = predport.PredictionSet(
        source=predport.SourceInfo(format="canonical", uri="mem", plugin="test"),
        categories=[predport.Category(id=1, name="cat")],
        frames=[predport.Frame(data_id="x.jpg", width=6, height=4, predictions=predport.Detections(
            [1, 1, 1], [0.5, 0.6, 0.7], [[0, 0, 2, 2], [1, 1, 2, 2], [2, 2, 1, 1]], mask=[disk, None, empty]))])
    predport.save(pset, tmp_path / "ds", "deeplake")
    ds = deeplake.open_read_only(str(tmp_path / "ds"))
    assert ds["model_evaluation/has_mask"][0].tolist() == [True, False, True]
    assert np.asarray(ds["model_evaluation/masks"][0]).shape == (4, 6, 3)
    masks = predport.load(tmp_path / "ds").frames[0].predictions.mask
    assert masks == [disk, None, empty]                               # the empty mask stays a mask


def test_masks__masks_of_different_sizes_in_one_frame_are_refused(tmp_path: Path) -> None:
    pset = predport.PredictionSet(
        source=predport.SourceInfo(format="canonical", uri="mem", plugin="test"),
        categories=[predport.Category(id=1, name="cat")],
        frames=[predport.Frame(data_id="x.jpg", predictions=predport.Detections(
            [1, 1], [0.5, 0.6], mask=[_rle(np.ones((4, 6), bool)), _rle(np.ones((5, 6), bool))]))])
    with pytest.raises(predport.OutputError, match=r"'x.jpg': masks of sizes 4x6 and 5x6"):
        predport.save(pset, tmp_path / "ds", "deeplake")
    assert not (tmp_path / "ds").exists()                             # nothing written


def test_masks__written_onto_a_branch_follow_the_rows_data_ids(playbook_dataset, tmp_path: Path) -> None:
    import deeplake

    ds_path = playbook_dataset()                                      # rows b.jpg (100x50), c.jpg, a.jpg (640x427)
    a_mask, b_mask = _disk(427, 640, 100, 300, 40), _disk(50, 100, 20, 20, 10)
    pset = predport.PredictionSet(
        source=predport.SourceInfo(format="canonical", uri="mem", plugin="test"),
        categories=[predport.Category(id=0, name="car"), predport.Category(id=1, name="dog")],
        frames=[predport.Frame(data_id="a.jpg", predictions=predport.Detections([1], [0.9], mask=[_rle(a_mask)])),
                predport.Frame(data_id="b.jpg", predictions=predport.Detections([0], [0.4], mask=[_rle(b_mask)]))])
    predport.save(pset, ds_path, "deeplake", write_options={"branch": "training_run", "id_column": "filename"})
    root = deeplake.open_read_only(str(ds_path))
    assert "model_evaluation/masks" not in [c.name for c in root.schema.columns]  # main untouched
    branch = root.branches["training_run"].open()
    planes = branch["model_evaluation/masks"][0:3]
    np.testing.assert_array_equal(np.asarray(planes[0])[:, :, 0], b_mask)
    assert planes[1] is None or np.asarray(planes[1]).size == 0      # c.jpg: no prediction, no plane
    np.testing.assert_array_equal(np.asarray(planes[2])[:, :, 0], a_mask)
    back = predport.load(ds_path, read_options={"branch": "training_run", "id_column": "filename"})
    assert back.frame("a.jpg").predictions.mask == [_rle(a_mask)]


def _ingested(path: Path, masks_type=None) -> Path:
    """Ground truth in Deep Lake's own COCO-ingestion layout: top-level categories/boxes/masks."""
    import deeplake

    T = deeplake.types
    ds = deeplake.create(str(path))
    ds.add_column("labels", T.ClassLabel(T.Array("uint32", 1)))
    ds["labels"].metadata["class_names"] = ["cat", "dog"]
    ds.add_column("boxes", T.BoundingBox(T.Float32(), "LTWH", "pixel"))
    ds["boxes"].metadata["coords"] = {"type": "pixel", "mode": "LTWH"}
    ds.add_column("masks", masks_type or T.BinaryMask(sample_compression="lz4"))
    m = np.stack([_disk(10, 12, 3, 3, 2), _disk(10, 12, 6, 8, 3)], axis=2)
    ds.append({"labels": [np.array([1, 0], np.uint32), np.zeros(0, np.uint32)],
               "boxes": [np.array([[1, 1, 4, 4], [5, 3, 6, 6]], np.float32), np.zeros((0, 4), np.float32)],
               "masks": [m if masks_type is None else m[:, :, 0].astype(np.uint8), np.zeros((10, 12, 0), bool)
                         if masks_type is None else np.zeros((10, 12), np.uint8)]})
    ds.commit()
    return path


def test_masks__deeplakes_own_coco_layout_reads_as_ground_truth_masks(tmp_path: Path) -> None:
    path = _ingested(tmp_path / "gt")
    gt = predport.load(path, role="ground_truth")
    first = gt.frames[0].predictions
    names = {c.id: c.name for c in gt.categories}
    assert [names[c] for c in first.category_id.tolist()] == ["dog", "cat"]
    np.testing.assert_array_equal(mask_utils.decode(first.mask[0]), _disk(10, 12, 3, 3, 2))
    np.testing.assert_array_equal(mask_utils.decode(first.mask[1]), _disk(10, 12, 6, 8, 3))
    assert len(gt.frames[1].predictions) == 0


def test_masks__a_segment_mask_column_is_named_as_not_read(tmp_path: Path) -> None:
    import deeplake

    path = _ingested(tmp_path / "gt", deeplake.types.SegmentMask())
    with pytest.raises(predport.ParseError, match="'masks' is a segmentmask column, not a BinaryMask"):
        predport.load(path, role="ground_truth")


def test_masks__plane_count_that_does_not_match_the_labels_is_an_error(tmp_path: Path) -> None:
    import deeplake

    path = _ingested(tmp_path / "gt")
    ds = deeplake.open(str(path))
    ds["masks"][0] = np.zeros((10, 12, 3), bool)
    ds.commit()
    with pytest.raises(predport.ParseError, match="row 0: 3 mask planes for 2 labels"):
        predport.load(path, role="ground_truth")


def test_masks__the_corpus_fakesegm_results_round_trip(tmp_path: Path) -> None:
    res = CORPUS / "coco" / "cocoapi" / "instances_val2014_fakesegm100_results.json"
    gt = CORPUS / "coco" / "faster_coco_eval" / "instances_val2014_100.json"
    if not (res.exists() and gt.exists()):
        pytest.skip("the shared corpus is not here")
    predport.convert(res, tmp_path / "ds", to="deeplake", read_options={"gt": str(gt)})
    predport.convert(tmp_path / "ds", tmp_path / "back.json", to="coco", allow_loss=True)
    _same_pixels(json.loads(res.read_text()), json.loads((tmp_path / "back.json").read_text()))
