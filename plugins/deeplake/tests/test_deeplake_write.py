"""Writing: new datasets, branches of existing ones (rows by data id), all-or-nothing, evaluation columns."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import predport


def _frames(*items):
    return predport.PredictionSet(
        source=predport.SourceInfo(format="canonical", uri="mem", plugin="test"),
        categories=[predport.Category(id=3, name="car"), predport.Category(id=18, name="dog")],
        frames=list(items))


def _frame(data_id, ids, boxes, scores=None, **kw):
    return predport.Frame(data_id=data_id, predictions=predport.Detections(ids, scores, boxes), **kw)


def _branch(path: Path, name: str):
    """A branch's head, read-only (the root dataset must stay referenced while a branch opens)."""
    import deeplake

    root = deeplake.open_read_only(str(path))
    _KEEP.append(root)
    return root.branches[name].open()


_KEEP: list = []  # roots of the branches opened by the tests (a branch's dataset expires with its root)


def _state(path: Path) -> tuple:
    """What a reader of ``main`` sees: version, columns, and every value."""
    import deeplake

    ds = deeplake.open_read_only(str(path))
    cols = [c.name for c in ds.schema.columns]
    values = {c: [np.asarray(v).tolist() if not isinstance(v, str) else v for v in ds[c][0:len(ds)]]
              for c in cols if c != "images"}
    return ds.version, cols, json.dumps(values, sort_keys=True, default=str)


def test_write__branch_leaves_main_untouched_and_aligns_rows_by_data_id(playbook_dataset, coco_files) -> None:
    import deeplake

    res, gt = coco_files
    ds_path = playbook_dataset()
    before = _state(ds_path)
    summary = predport.convert(res, ds_path, to="deeplake", options={"gt": str(gt)},
                               write_options={"branch": "training_run", "id_column": "filename"})
    assert summary["branch"] == "training_run" and summary["matched_by"] == "filename"
    assert _state(ds_path) == before                                  # main: same commit, same values
    branch = _branch(ds_path, "training_run")
    assert branch.history[-1].message.startswith("predport")
    # Dataset rows are b.jpg, c.jpg, a.jpg; the results list a.jpg first.
    boxes = branch["model_evaluation/boxes"][0:3]
    assert boxes[0].tolist() == [[0.1, 0.2, 0.3, 0.4]]
    assert boxes[1].shape == (0, 4)                                   # c.jpg: no predictions
    assert boxes[2].tolist() == [[258.15, 41.29, 348.26, 243.78], [1.5, 2.25, 3.125, 4.0]]
    assert branch["model_evaluation/labels"].metadata["class_names"] == ["car", "dog"]
    assert branch["model_evaluation/labels"][2].tolist() == [1, 0]
    # Ground truth and predictions in the same dataset, read back side by side.
    preds = predport.load(ds_path, options={"branch": "training_run", "id_column": "filename"})
    labels = predport.load(ds_path, options={"branch": "training_run", "id_column": "filename", "group": ""})
    assert preds.frame("b.jpg").predictions.to_records() == [
        {"category_id": 3, "score": 0.5, "box": [0.1, 0.2, 0.3, 0.4]}]
    assert labels.frame("b.jpg").predictions.to_records() == [
        {"category_id": 0, "score": None, "box": [0.0, 0.0, 10.0, 10.0]}]


def test_write__frames_without_a_row_are_refused_listing_their_ids(playbook_dataset) -> None:
    ds_path = playbook_dataset()
    before = _state(ds_path)
    data = _frames(_frame("a.jpg", [3], [[1, 2, 3, 4]], [0.5]), _frame("zz.jpg", [3], [[1, 2, 3, 4]], [0.5]),
                   _frame("yy.jpg", [], np.zeros((0, 4))))
    with pytest.raises(predport.OutputError, match=r"2 frame\(s\) have no row.*'zz.jpg', 'yy.jpg'"):
        predport.save(data, ds_path, "deeplake", options={"branch": "run", "id_column": "filename"})
    import deeplake

    assert _state(ds_path) == before
    assert deeplake.open_read_only(str(ds_path)).branches.names() == ["main"]   # no branch was made


def test_write__an_existing_dataset_needs_a_branch(playbook_dataset) -> None:
    ds_path = playbook_dataset()
    with pytest.raises(predport.OutputError, match="written on a branch"):
        predport.save(_frames(_frame("a.jpg", [3], [[1, 2, 3, 4]], [0.5])), ds_path, "deeplake")


def test_write__row_index_alignment_without_an_id_column(playbook_dataset) -> None:
    import deeplake

    ds_path = playbook_dataset(id_column=None)
    predport.save(_frames(_frame("2", [18], [[5, 6, 7, 8]], [0.25])), ds_path, "deeplake",
                  options={"branch": "run"})
    branch = _branch(ds_path, "run")
    assert [b.shape[0] for b in branch["model_evaluation/boxes"][0:3]] == [0, 0, 1]
    with pytest.raises(predport.OutputError, match="row index"):
        predport.save(_frames(_frame("a.jpg", [18], [[5, 6, 7, 8]], [0.25])), ds_path, "deeplake",
                      options={"branch": "run2"})


def test_write__a_group_already_on_the_branch_needs_overwrite_and_then_adds_one_commit(playbook_dataset) -> None:
    import deeplake

    ds_path = playbook_dataset()
    opts = {"branch": "run", "id_column": "filename"}
    predport.save(_frames(_frame("a.jpg", [3], [[1, 2, 3, 4]], [0.5])), ds_path, "deeplake", options=opts)
    with pytest.raises(predport.OutputError, match="already has the columns"):
        predport.save(_frames(_frame("a.jpg", [3], [[9, 9, 9, 9]], [0.5])), ds_path, "deeplake", options=opts)
    n = len(list(_branch(ds_path, "run").history))
    predport.save(_frames(_frame("a.jpg", [3], [[9, 9, 9, 9]], [0.5])), ds_path, "deeplake", options=opts,
                  overwrite=True)
    branch = _branch(ds_path, "run")
    assert len(list(branch.history)) == n + 1
    assert branch["model_evaluation/boxes"][2].tolist() == [[9, 9, 9, 9]]


def test_write__refused_loss_changes_nothing(playbook_dataset) -> None:
    import deeplake

    ds_path = playbook_dataset()
    before = _state(ds_path)
    kp = predport.Frame(data_id="a.jpg", predictions=predport.Detections(
        [3], [0.5], [[1, 2, 3, 4]], keypoints=[[[1.0, 2.0, 2.0]]]))
    with pytest.raises(predport.LossError):
        predport.save(_frames(kp), ds_path, "deeplake", options={"branch": "run", "id_column": "filename"})
    assert _state(ds_path) == before
    assert deeplake.open_read_only(str(ds_path)).branches.names() == ["main"]


def test_write__evaluation_attributes_become_columns_and_the_worst_query_sorts_them(tmp_path: Path) -> None:
    import deeplake

    ev = [("a.jpg", 0.9, 2, 0, 0), ("b.jpg", 0.1, 0, 3, 1), ("c.jpg", 0.5, 1, 1, 0)]
    data = _frames(*[_frame(d, [3], [[1, 2, 3, 4]], [0.5], attributes={
        "eval.mean_iou": iou, "eval.tp": tp, "eval.fp": fp, "eval.fn": fn}) for d, iou, tp, fp, fn in ev])
    predport.save(data, tmp_path / "ds", "deeplake")
    ds = deeplake.open_read_only(str(tmp_path / "ds"))
    assert ds["model_evaluation/tp"][0:3].tolist() == [2, 0, 1]
    # The documented query (docs/formats/deeplake.md): worst samples first.
    worst = ds.query('select * order by "model_evaluation/iou" asc limit 2')
    assert worst["data_id"][0:2] == ["b.jpg", "c.jpg"]
    back = predport.load(tmp_path / "ds")
    assert back.frame("b.jpg").attributes == {"eval.mean_iou": 0.1, "eval.tp": 0, "eval.fp": 3, "eval.fn": 1}


def test_write__polygons_round_trip_and_inexact_points_are_loss(tmp_path: Path) -> None:
    poly = predport.Frame(data_id="a.jpg", predictions=predport.Detections(
        [3, 18], [0.5, 0.25], [[1, 2, 3, 4], [0, 0, 1, 1]], polygon=[[[1.5, 2.0, 3.0, 4.25, 5.0, 6.0]], None]))
    predport.save(_frames(poly), tmp_path / "ds", "deeplake")
    back = predport.load(tmp_path / "ds").frame("a.jpg").predictions
    assert back.polygon == [[[1.5, 2.0, 3.0, 4.25, 5.0, 6.0]], None]
    inexact = predport.Frame(data_id="a.jpg", predictions=predport.Detections(
        [3], [0.5], [[1, 2, 3, 4]], polygon=[[[0.1, 2.0, 3.0, 4.0, 5.0, 6.0], [1, 1, 2, 2, 3, 1]]]))
    with pytest.raises(predport.LossError) as err:
        predport.save(_frames(inexact), tmp_path / "ds2", "deeplake")
    assert set(err.value.report) == {"predictions.polygon (rings after the first)",
                                     "predictions.polygon (points not exact in float32)"}
    assert not (tmp_path / "ds2").exists()


def test_write__new_dataset_on_a_branch_keeps_the_data_ids_on_main(tmp_path: Path) -> None:
    import deeplake

    predport.save(_frames(_frame("a.jpg", [3], [[1, 2, 3, 4]], [0.5])), tmp_path / "ds", "deeplake",
                  options={"branch": "training_run"})
    ds = deeplake.open_read_only(str(tmp_path / "ds"))
    assert [c.name for c in ds.schema.columns] == ["data_id"]
    branch = _branch(tmp_path / "ds", "training_run")
    assert branch["model_evaluation/scores"][0].tolist() == [0.5]


def test_write__ground_truth_into_the_top_level_columns(tmp_path: Path) -> None:
    import deeplake

    predport.save(_frames(_frame("a.jpg", [18], [[1, 2, 3, 4]])), tmp_path / "ds", "deeplake",
                  options={"group": ""})
    ds = deeplake.open_read_only(str(tmp_path / "ds"))
    assert ds["labels"].metadata["class_names"] == ["car", "dog"] and ds["labels"][0].tolist() == [1]
    assert np.isnan(ds["scores"][0]).all()
    assert predport.load(tmp_path / "ds", options={"group": ""}).frame("a.jpg").predictions.to_records() == [
        {"category_id": 18, "score": None, "box": [1.0, 2.0, 3.0, 4.0]}]


def test_write__a_non_dataset_folder_that_is_not_empty_is_refused(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    with pytest.raises(predport.OutputError, match="not empty"):
        predport.save(_frames(_frame("a.jpg", [3], [[1, 2, 3, 4]], [0.5])), tmp_path / "out", "deeplake")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["notes.txt"]


KILLER = r"""
import sys, time
import predport
from predport_deeplake import write as writer

real = writer._commit_version
def slow(ds, message):
    print("COMMITTING", flush=True)      # every column is written, nothing committed yet
    time.sleep(float(sys.argv[3]))
    real(ds, message)
writer._commit_version = slow
predport.convert(sys.argv[1], sys.argv[2], to="deeplake", overwrite=True,
                 write_options={"branch": "training_run", "id_column": "filename"})
print("DONE", flush=True)
"""


def test_write__a_killed_write_leaves_the_previous_commit_as_it_was(tmp_path: Path, playbook_dataset,
                                                                    sigkill_at) -> None:
    import deeplake

    ds_path = playbook_dataset()
    first = tmp_path / "first.jsonl"
    second = tmp_path / "second.jsonl"
    for path, box in ((first, [1, 2, 3, 4]), (second, [7, 7, 7, 7])):
        predport.save(_frames(_frame("a.jpg", [3], [box], [0.5]), _frame("b.jpg", [18], [box], [0.25])),
                      path, "canonical-jsonl")
    predport.convert(first, ds_path, to="deeplake", write_options={"branch": "training_run", "id_column": "filename"})
    main_before = _state(ds_path)

    def branch_state():
        b = _branch(ds_path, "training_run")
        return b.version, [x.tolist() for x in b["model_evaluation/boxes"][0:3]]

    branch_before = branch_state()
    assert branch_before[1][2] == [[1, 2, 3, 4]]
    sigkill_at(KILLER, [second, ds_path, "30"], "COMMITTING", timeout=30)
    assert _state(ds_path) == main_before
    assert branch_state() == branch_before
    # The dataset still takes the next write, which then wins.
    predport.convert(second, ds_path, to="deeplake", overwrite=True,
                     write_options={"branch": "training_run", "id_column": "filename"})
    assert branch_state()[1][2] == [[7, 7, 7, 7]]


def test_write__kills_at_random_moments_leave_old_or_new(tmp_path: Path, playbook_dataset) -> None:
    import deeplake

    ds_path = playbook_dataset()
    old, new = tmp_path / "old.jsonl", tmp_path / "new.jsonl"
    for path, box in ((old, [1, 2, 3, 4]), (new, [7, 7, 7, 7])):
        predport.save(_frames(_frame("a.jpg", [3], [box], [0.5])), path, "canonical-jsonl")
    predport.convert(old, ds_path, to="deeplake", write_options={"branch": "training_run", "id_column": "filename"})
    script = tmp_path / "killer.py"
    script.write_text(KILLER)
    seen = set()
    for delay in (0.0, 0.3, 0.6, 0.9, 1.2):
        proc = subprocess.Popen([sys.executable, str(script), str(new), str(ds_path), "0"],
                                stdout=subprocess.DEVNULL)
        time.sleep(delay)
        proc.kill()
        proc.wait(timeout=30)
        b = _branch(ds_path, "training_run")
        boxes = b["model_evaluation/boxes"][2].tolist()
        assert boxes in ([[1, 2, 3, 4]], [[7, 7, 7, 7]])
        seen.add(str(boxes))
        if boxes == [[7, 7, 7, 7]]:
            break


def test_write__columns_eval_attaches_only_the_evaluation_columns(playbook_dataset, coco_files) -> None:
    res, gt = coco_files
    ds_path = playbook_dataset()
    opts = {"branch": "training_run", "id_column": "filename"}
    predport.convert(res, ds_path, to="deeplake", options={"gt": str(gt)}, write_options=opts)
    before = _branch(ds_path, "training_run")
    boxes_before = [b.tolist() for b in before["model_evaluation/boxes"][0:3]]
    # What predport-eval's attach gives: the predictions read back, with eval.* frame attributes.
    preds = predport.load(ds_path, options=opts)
    frames = [f.model_copy(update={"attributes": {**f.attributes, "eval.mean_iou": iou, "eval.tp": 1,
                                                  "eval.fp": 0, "eval.fn": 0}})
              for f, iou in zip(preds.frames, (0.75, 0.5, 0.25))]
    evaluated = preds.model_copy(update={"frames": frames})
    with pytest.raises(predport.OutputError, match="already has the columns"):     # without columns=eval
        predport.save(evaluated, ds_path, "deeplake", options=opts)
    predport.save(evaluated, ds_path, "deeplake", options={**opts, "columns": "eval"})
    branch = _branch(ds_path, "training_run")
    assert [b.tolist() for b in branch["model_evaluation/boxes"][0:3]] == boxes_before
    assert branch["model_evaluation/iou"][0:3].tolist() == [0.75, 0.5, 0.25]       # rows b, c, a
    worst = branch.query('select * order by "model_evaluation/iou" asc limit 1')
    assert worst["filename"][0:1] == ["a.jpg"]
    with pytest.raises(predport.OutputError, match="already has the columns"):
        predport.save(evaluated, ds_path, "deeplake", options={**opts, "columns": "eval"})
    with pytest.raises(predport.OutputError, match="no frame carries eval"):
        predport.save(preds, ds_path, "deeplake", options={**opts, "columns": "eval"}, overwrite=True)
