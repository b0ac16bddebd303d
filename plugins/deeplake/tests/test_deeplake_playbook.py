"""Deep Lake's "Evaluating Model Performance" playbook, one predport command per step.

1. ``predport convert results.json ds/ --to deeplake -w branch=training_run`` — predictions onto a branch;
2. ``predport evaluate ds/ ds/`` — the predictions group against the top-level labels;
3. ``predport convert evaluated.jsonl ds/ --to deeplake -w branch=training_run -w columns=eval`` — ``iou``,
   ``tp``, ``fp``, ``fn`` attached back onto the branch;
4. ``select * order by "model_evaluation/iou" asc`` — the worst samples first.

The expected values are computed here by hand from the fixture's boxes (IoU of two
``[x, y, w, h]`` boxes), not by the evaluator under test.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from predport.cli import main

BRANCH = "training_run"


# Hand-computed from the fixture's boxes ([x, y, w, h]; intersection / union):
# a.jpg dog: prediction [258.15, 41.29, 348.26, 243.78] on ground truth [258, 41, 348, 243]
#   intersection (606 - 258.15) x (284 - 41.29), union 348.26 x 243.78 + 348 x 243 - intersection
IOU_A_DOG = 347.85 * 242.71 / (348.26 * 243.78 + 348 * 243 - 347.85 * 242.71)  # 0.99283...
# a.jpg car: prediction [1.5, 2.25, 3.125, 4] on [1, 2, 3, 4]: (4 - 1.5) x (6 - 2.25) = 9.375, union 12.5 + 12 - 9.375
IOU_A_CAR = 9.375 / 15.125  # 0.61983...
# b.jpg car: prediction [0.1, 0.2, 0.3, 0.4] inside ground truth [0, 0, 10, 10]: 0.12 / 100, below the 0.5 threshold
IOU_B_CAR = 0.12 / 100
MEAN_IOU_A = (IOU_A_DOG + IOU_A_CAR) / 2  # mean IoU over a.jpg's two true positives: 0.80633...


def _branch(path: Path):
    import deeplake

    root = deeplake.open_read_only(str(path))
    return root, root.branches[BRANCH].open()


def _convert(results: Path, gt: Path, ds: Path) -> None:
    assert main(["convert", str(results), str(ds), "--to", "deeplake", "-o", f"gt={gt}",
                 "-w", f"branch={BRANCH}", "-w", "id_column=filename"]) == 0


def test_playbook__step1_convert_onto_a_branch_in_one_command(playbook_dataset, coco_files) -> None:
    import deeplake

    results, gt = coco_files
    ds_path = playbook_dataset()
    main_version = deeplake.open_read_only(str(ds_path)).version
    _convert(results, gt, ds_path)
    root, ds = _branch(ds_path)
    assert root.version == main_version  # main untouched
    names = {c.name for c in ds.schema.columns}
    assert {"model_evaluation/boxes", "model_evaluation/labels", "model_evaluation/scores"} <= names
    rows = {ds["filename"][i]: i for i in range(len(ds))}
    a = rows["a.jpg"]
    assert np.asarray(ds["model_evaluation/boxes"][a]).tolist() == [[258.15, 41.29, 348.26, 243.78],
                                                                    [1.5, 2.25, 3.125, 4.0]]
    assert np.asarray(ds["model_evaluation/scores"][a]).tolist() == [0.236, 0.9]
    assert len(ds["model_evaluation/labels"][rows["c.jpg"]]) == 0  # a row without predictions stays empty


def test_playbook__evaluate_attach_iou_and_list_the_worst_samples(tmp_path: Path, playbook_dataset,
                                                                  coco_files, capsys) -> None:
    import deeplake

    results, gt = coco_files
    ds_path = playbook_dataset()
    main_version = deeplake.open_read_only(str(ds_path)).version
    _convert(results, gt, ds_path)
    evaluated = tmp_path / "evaluated.jsonl"
    capsys.readouterr()
    # 2. the predictions group (on the branch) against the labels (top-level columns, main)
    assert main(["evaluate", str(ds_path), str(ds_path), "-o", f"branch={BRANCH}", "-o", "id_column=filename",
                 "-g", "id_column=filename", "--json", "--attach", str(evaluated)]) == 0
    report = json.loads(capsys.readouterr().out)
    per_frame = {r["data_id"]: r for r in report["per_frame"]}
    counts = {d: (r["tp"], r["fp"], r["fn"]) for d, r in per_frame.items()}
    # a.jpg: both predictions match (IoU above 0.5); b.jpg: its car (IoU 0.0012) is one fp and one fn;
    # c.jpg: nothing predicted, nothing there
    assert counts == {"a.jpg": (2, 0, 0), "b.jpg": (0, 1, 1), "c.jpg": (0, 0, 0)}
    assert IOU_B_CAR < 0.5 < IOU_A_CAR
    assert per_frame["a.jpg"]["mean_iou"] == pytest.approx(MEAN_IOU_A, rel=1e-9)
    assert per_frame["b.jpg"]["mean_iou"] is None and per_frame["c.jpg"]["mean_iou"] is None  # no true positive
    branch_version = _branch(ds_path)[1].version
    history_before = [v.id for v in _branch(ds_path)[1].history]
    # 3. iou / tp / fp / fn back onto the branch, next to the predictions
    assert main(["convert", str(evaluated), str(ds_path), "--to", "deeplake", "-w", f"branch={BRANCH}",
                 "-w", "id_column=filename", "-w", "columns=eval"]) == 0
    root, ds = _branch(ds_path)
    assert root.version == main_version  # main untouched
    assert "model_evaluation/iou" not in {c.name for c in root.schema.columns}
    assert ds.version != branch_version and [v.id for v in ds.history][:-1] == history_before  # one commit
    rows = {ds["filename"][i]: i for i in range(len(ds))}
    iou = {d: float(ds["model_evaluation/iou"][i]) for d, i in rows.items()}
    assert iou["a.jpg"] == pytest.approx(MEAN_IOU_A, rel=1e-9)
    assert np.isnan(iou["b.jpg"]) and np.isnan(iou["c.jpg"])  # not a single match: no IoU, never an invented 0
    assert {d: tuple(int(ds[f"model_evaluation/{c}"][i]) for c in ("tp", "fp", "fn")) for d, i in rows.items()} == counts
    # the predictions written in step 1 are still there, unchanged
    assert np.asarray(ds["model_evaluation/boxes"][rows["a.jpg"]]).tolist() == [[258.15, 41.29, 348.26, 243.78],
                                                                                [1.5, 2.25, 3.125, 4.0]]
    # 4. the documented query: worst first (a NaN IoU, i.e. no match at all, sorts before every IoU)
    worst = ds.query('select * order by "model_evaluation/iou" asc')
    order = [worst["filename"][i] for i in range(len(worst))]
    assert len(order) == 3 and set(order[:2]) == {"b.jpg", "c.jpg"} and order[2] == "a.jpg"
    assert float(worst["model_evaluation/iou"][2]) == pytest.approx(MEAN_IOU_A, rel=1e-9)
    failing = ds.query('select * where "model_evaluation/fp" + "model_evaluation/fn" > 0 '
                       'order by "model_evaluation/iou" asc')
    assert [failing["filename"][i] for i in range(len(failing))] == ["b.jpg"]
    assert (int(failing["model_evaluation/tp"][0]), int(failing["model_evaluation/fp"][0]),
            int(failing["model_evaluation/fn"][0])) == (0, 1, 1)
    # the sort really sorts (a.jpg is the last row, so "asc" alone could be the row order)
    best = ds.query('select * order by "model_evaluation/iou" desc')
    assert best["filename"][0] == "a.jpg"
