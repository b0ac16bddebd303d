"""evaluate(engine=...): COCO matching shard by shard (locally and on a Dask LocalCluster)
gives exactly the single-process figures: every statistic, per class, per frame, confusion."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import predport
import predport_eval

GT = "faster_coco_eval/instances_val2014_100.json"
CASES = [("bbox", GT, "cocoapi/instances_val2014_fakebbox100_results.json"),
         ("segm", GT, "cocoapi/instances_val2014_fakesegm100_results.json"),
         ("keypoints", "faster_coco_eval/keypoints_gt_dataset.json", "faster_coco_eval/keypoints_dt_dataset.json")]
TESTS = Path(__file__).resolve().parents[3] / "tests"


def _figures(result) -> dict:
    doc = result.to_dict()
    doc.pop("settings", None)
    return doc


@pytest.fixture(scope="module")
def dask_cluster():
    """A LocalCluster (processes, 2 workers) in a child process (tests/daskcluster.py)."""
    pytest.importorskip("distributed")
    import importlib.util

    name = "predport_eval_tests_daskcluster"
    spec = importlib.util.spec_from_file_location(name, TESTS / "daskcluster.py")
    mod = sys.modules[name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    cluster = mod.start()
    yield cluster.address
    cluster.stop()


@pytest.mark.parametrize("iou_type,gt,results", CASES)
def test_distributed__corpus_figures_equal_single_process(coco_corpus, iou_type, gt, results):
    want = predport_eval.evaluate(coco_corpus(results), coco_corpus(gt), iou_type=iou_type, per_detection=True)
    for shards in (1, 3, 7, 500):  # 500: more shards than images
        got = predport_eval.evaluate(coco_corpus(results), coco_corpus(gt), iou_type=iou_type, per_detection=True,
                                     engine="local", shards=shards)
        assert _figures(got) == _figures(want), shards
        assert got.settings["engine"]["name"] == "local"


def _tied_case(tmp_path: Path, seed: int = 3) -> tuple[Path, Path]:
    """60 images, 3 classes, scores on a coarse grid (ties across images and shards), crowds, tiny boxes."""
    rng = np.random.default_rng(seed)
    images = [{"id": int(i), "file_name": f"{i}.jpg", "width": 200, "height": 200}
              for i in rng.permutation(np.arange(100, 160))]  # image ids not in file order
    anns, res = [], []
    for im in images:
        for k in range(int(rng.integers(0, 5))):
            x, y, w, h = (float(v) for v in rng.integers(0, 120, 4) + [0, 0, 5, 5])
            anns.append({"id": len(anns) + 1, "image_id": im["id"], "category_id": int(rng.integers(1, 4)),
                         "bbox": [x, y, w, h], "area": w * h, "iscrowd": int(rng.random() < 0.1)})
            for _ in range(int(rng.integers(0, 3))):
                res.append({"image_id": im["id"], "category_id": int(rng.integers(1, 4)),
                            "bbox": [x + float(rng.integers(-4, 5)), y + float(rng.integers(-4, 5)), w, h],
                            "score": float(rng.integers(1, 6)) / 5})
        if rng.random() < 0.5:
            res.append({"image_id": im["id"], "category_id": 1, "bbox": [1.0, 1.0, 3.0, 3.0], "score": 0.4})
    gt = {"images": images, "annotations": anns, "categories": [{"id": c, "name": f"c{c}"} for c in (1, 2, 3)]}
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "results.json").write_text(json.dumps(res))
    return tmp_path / "results.json", tmp_path / "gt.json"


def test_distributed__ties_across_shards_and_thresholds_keep_the_single_process_order(tmp_path, ref):
    res, gt = _tied_case(tmp_path)
    e = ref.eval(gt, res, "bbox")
    for kw in ({}, {"score_threshold": 0.5}, {"iou_threshold": 0.7, "max_dets": 20}):
        want = predport_eval.evaluate(res, gt, **kw)
        got = predport_eval.evaluate(res, gt, engine="local", shards=6, **kw)
        assert _figures(got) == _figures(want), kw
    assert np.allclose(list(predport_eval.evaluate(res, gt, engine="local", shards=5).metrics.values()), e.stats,
                       atol=1e-12)  # and both are pycocotools' figures


def test_distributed__dask_cluster_matches_on_workers_with_equal_figures(coco_corpus, tmp_path, dask_cluster):
    res, gt = _tied_case(tmp_path)
    cases = [(res, gt, "bbox")] + [(coco_corpus(r), coco_corpus(g), t) for t, g, r in CASES[:2]]
    for r, g, iou_type in cases:
        want = predport_eval.evaluate(r, g, iou_type=iou_type)
        got = predport.evaluate(r, g, iou_type=iou_type, engine="dask", scheduler=dask_cluster, shards=4)
        assert _figures(got) == _figures(want), r
        assert os.getpid() not in got.settings["engine"]["workers"]  # matched on the workers
        assert len(got.settings["engine"]["workers"]) == 2
    import threading

    assert threading.active_count() == 1  # the client left no thread behind (forking readers need that)


def test_distributed__cli_engine_flag_gives_the_same_json(tmp_path):
    res, gt = _tied_case(tmp_path)

    def run(*extra: str) -> dict:
        r = subprocess.run([sys.executable, "-m", "predport", "evaluate", str(res), str(gt), "--json", *extra],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        doc = json.loads(r.stdout)
        doc.pop("settings")
        return doc

    assert run("--engine", "local", "--shards", "5") == run()
    bad = subprocess.run([sys.executable, "-m", "predport", "evaluate", str(res), str(gt), "--engine", "local",
                          "--backend", "pycocotools"], capture_output=True, text=True)
    assert bad.returncode != 0 and "backend numpy" in bad.stderr and "Traceback" not in bad.stderr


def test_distributed__refuses_what_it_does_not_shard(tmp_path):
    res, gt = _tied_case(tmp_path)
    with pytest.raises(predport.ConfigError, match="iou_type 'semantic'"):
        predport_eval.evaluate(res, gt, iou_type="semantic", engine="local")
    with pytest.raises(predport.ConfigError, match="unknown engine"):
        predport_eval.evaluate(res, gt, engine="ray")
