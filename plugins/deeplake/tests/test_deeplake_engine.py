"""Deep Lake and sharded conversion (--engine, --shard I/N, predport merge).

A Deep Lake dataset is written by deeplake's one commit, in place, and its files are column
chunks: sharded conversion refuses both sides, naming deeplake and why. The route it points
to — shard the reading into canonical JSON Lines on a Dask cluster, then one conversion of
that file — gives the single-process dataset, record for record (tested here on a
LocalCluster of 2 processes)."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import predport

ROOT = Path(__file__).resolve().parents[3]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "predport", *args], capture_output=True, text=True, timeout=120)


def _results(tmp_path: Path, images: int = 40) -> tuple[Path, Path]:
    """COCO results with a GT: several boxes per image, a few images without any."""
    rng = np.random.default_rng(7)
    gt = {"images": [{"id": i, "file_name": f"{i:03d}.jpg", "width": 64, "height": 48} for i in range(1, images + 1)],
          "categories": [{"id": 2, "name": "car"}, {"id": 9, "name": "dog"}], "annotations": []}
    res = []
    for i in range(1, images + 1):
        for _ in range(int(rng.integers(0, 4))):
            x, y = (round(float(v), 2) for v in rng.random(2) * 30)
            res.append({"image_id": i, "category_id": int(rng.choice([2, 9])), "bbox": [x, y, 10.5, 7.25],
                        "score": round(float(rng.random()), 4)})
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "results.json").write_text(json.dumps(res))
    return tmp_path / "results.json", tmp_path / "gt.json"


def test_engine__writing_deeplake_sharded_is_refused_naming_deeplake_and_why(tmp_path: Path) -> None:
    res, gt = _results(tmp_path)
    out = tmp_path / "ds"
    for kw in ({"engine": "local", "shards": 2}, {"engine": "dask", "shards": 2}):
        with pytest.raises(predport.ConfigError, match="sharded conversion cannot write deeplake") as err:
            predport.convert(res, out, to="deeplake", read_options={"gt": str(gt)}, **kw)
        assert "in one commit" in str(err.value) and "canonical-jsonl" in (err.value.hint or "")
    for args in (["--engine", "local"], ["--shard", "0/2"]):
        r = _cli("convert", str(res), str(out), "--to", "deeplake", "-o", f"gt={gt}", *args)
        assert r.returncode != 0 and "cannot write deeplake" in r.stderr and "Traceback" not in r.stderr
    assert not out.exists() and not Path(f"{out}.predport-parts").exists()   # nothing written


def test_engine__reading_a_deeplake_dataset_sharded_is_refused_with_the_reason(tmp_path: Path) -> None:
    res, gt = _results(tmp_path)
    predport.convert(res, tmp_path / "ds", to="deeplake", read_options={"gt": str(gt)})
    with pytest.raises(predport.ConfigError, match="cannot shard a deeplake dataset: its files are"):
        predport.convert(tmp_path / "ds", tmp_path / "out.jsonl", to="canonical-jsonl", engine="local", shards=2)
    r = _cli("convert", str(tmp_path / "ds"), str(tmp_path / "out.jsonl"), "--shard", "1/2")
    assert r.returncode != 0 and "cannot shard a deeplake dataset" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "out.jsonl").exists()


@pytest.fixture(scope="module")
def dask_cluster():
    pytest.importorskip("distributed")
    name = "predport_tests_daskcluster"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "tests" / "daskcluster.py")
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    cluster = sys.modules[name].start()
    yield cluster.address
    cluster.stop()


def _columns(path: Path) -> dict:
    import deeplake

    ds = deeplake.open_read_only(str(path))
    out = {}
    for c in ds.schema.columns:
        values = ds[c.name][0:len(ds)]
        out[c.name] = [v if isinstance(v, str) else np.asarray(v).tolist() for v in values]
        out[c.name + ".meta"] = {k: ds[c.name].metadata[k] for k in ds[c.name].metadata.keys()}
    return out


def test_engine__sharded_reading_on_dask_then_one_write_gives_the_single_process_dataset(tmp_path: Path,
                                                                                         dask_cluster) -> None:
    res, gt = _results(tmp_path)
    single = tmp_path / "single"
    predport.convert(res, single, to="deeplake", read_options={"gt": str(gt)})
    parts = tmp_path / "parts.jsonl"
    summary = predport.convert(res, parts, to="canonical-jsonl", read_options={"gt": str(gt)}, engine="dask",
                               scheduler=dask_cluster, shards=4)
    assert summary["shards"] == 4 and len(summary["workers"]["pids"]) == 2     # two worker processes
    sharded = tmp_path / "sharded"
    predport.convert(parts, sharded, to="deeplake")
    assert _columns(sharded) == _columns(single)
    back_single = predport.load(single).to_json_dict()
    back_sharded = predport.load(sharded).to_json_dict()
    assert back_sharded["frames"] == back_single["frames"]
    assert back_sharded["categories"] == back_single["categories"]
