"""Deep Lake datasets on s3:// — a real S3-compatible server on loopback (moto server mode,
``tests/s3server.py``), which deeplake 4.7.4 and s3fs both talk to over HTTP (nothing mocked).

Deep Lake opens the dataset on the server itself (``creds`` with ``endpoint_url``, from the
storage options); predport's staged upload and manifest are not used for it.
"""
from __future__ import annotations

import importlib.util
import json
import os
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest

import predport
from predport.cli import main

REPO = Path(__file__).resolve().parents[3]


def _s3server():
    name = "predport_tests_s3server"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / "tests" / "s3server.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="module")
def server():
    if importlib.util.find_spec("moto") is None or importlib.util.find_spec("s3fs") is None:
        if os.environ.get("CI"):
            pytest.fail("moto[server] and s3fs must be installed (requirements-dev.txt) for the S3 tests")
        pytest.skip("moto[server] or s3fs not installed (pip install -r requirements-dev.txt)")
    module = _s3server()
    srv = module.start()
    yield srv
    srv.stop()
    module.stop_io_thread()


@pytest.fixture
def bucket(server):
    name = f"dl-{uuid.uuid4().hex[:10]}"
    server.boto("s3").create_bucket(Bucket=name)
    return name


def _creds(server) -> dict:
    return {"aws_access_key_id": server.options["key"], "aws_secret_access_key": server.options["secret"],
            "endpoint_url": server.endpoint}


def _keys(server, bucket: str) -> list[str]:
    return sorted(o["Key"] for o in server.boto("s3").list_objects_v2(Bucket=bucket).get("Contents", []))


def _storage_args(server) -> list[str]:
    return [arg for k, v in server.options.items() for arg in ("--storage-option", f"{k}={v}")]


def test_s3__coco_to_deeplake_on_s3_and_back_gives_the_same_records(tmp_path: Path, server, bucket,
                                                                     coco_files) -> None:
    import deeplake

    results, gt = coco_files
    RESULTS = json.loads(results.read_text())
    url = f"s3://{bucket}/ds"
    assert main(["convert", str(results), url, "--to", "deeplake", "-o", f"gt={gt}", *_storage_args(server)]) == 0
    keys = _keys(server, bucket)
    assert "ds/_deeplake_log/_meta/next_base" in keys
    assert not any(".predport" in k for k in keys)  # no predport manifest or staging prefix in a Deep Lake dataset
    ds = deeplake.open_read_only(url, creds=_creds(server))  # Deep Lake itself, over HTTP
    kinds = {c.name: str(c.dtype.kind).rsplit(".", 1)[-1] for c in ds.schema.columns}
    assert kinds["model_evaluation/boxes"] == "BoundingBox" and kinds["model_evaluation/labels"] == "ClassLabel"
    rows = {ds["data_id"][i]: i for i in range(len(ds))}
    assert np.asarray(ds["model_evaluation/boxes"][rows["a.jpg"]]).tolist() == [list(r["bbox"]) for r in RESULTS[:2]]
    assert ds["model_evaluation/labels"].metadata["class_names"] == ["car", "dog"]
    # and back out of S3 to COCO results: the same records (COCO results hold neither category names
    # nor image sizes, which the dataset keeps: the same loss as COCO -> COCO, allowed here)
    out = tmp_path / "back.json"
    assert main(["convert", url, str(out), "--to", "coco", "--allow-loss", *_storage_args(server)]) == 0
    back = json.loads(out.read_text())
    key = lambda r: (r["image_id"], r["category_id"], r["bbox"])  # noqa: E731
    assert sorted(({k: r[k] for k in ("image_id", "category_id", "bbox", "score")} for r in back), key=key) == \
        sorted(({k: r[k] for k in ("image_id", "category_id", "bbox", "score")} for r in RESULTS), key=key)


def _playbook_on_s3(server, url: str) -> str:
    """The playbook's ground-truth dataset, created on the server by deeplake itself."""
    import deeplake

    T = deeplake.types
    ds = deeplake.create(url, creds=_creds(server))
    ds.add_column("filename", T.Text())
    ds.add_column("boxes", T.BoundingBox("float32", format="ltwh", bbox_type="pixel"))
    ds["boxes"].metadata["coords"] = {"type": "pixel", "mode": "LTWH"}
    ds.add_column("labels", T.ClassLabel(T.Array("uint32", dimensions=1)))
    ds["labels"].metadata["class_names"] = ["car", "dog"]
    ds.append({"filename": ["b.jpg", "c.jpg", "a.jpg"],
               "boxes": [np.array([[0, 0, 10, 10]], np.float32), np.zeros((0, 4), np.float32),
                         np.array([[258, 41, 348, 243], [1, 2, 3, 4]], np.float32)],
               "labels": [np.array([0], np.uint32), np.zeros(0, np.uint32), np.array([1, 0], np.uint32)]})
    ds.commit("ground truth")
    return ds.version


def test_s3__predictions_onto_a_branch_of_a_dataset_on_s3_leave_main_untouched(server, bucket, coco_files) -> None:
    import deeplake

    results, gt = coco_files
    RESULTS = json.loads(results.read_text())
    url = f"s3://{bucket}/pb"
    main_version = _playbook_on_s3(server, url)
    # no --overwrite needed: the dataset is updated in place, on its branch
    assert main(["convert", str(results), url, "--to", "deeplake", "-o", f"gt={gt}", "-w", "branch=training_run",
                 "-w", "id_column=filename", *_storage_args(server)]) == 0
    root = deeplake.open_read_only(url, creds=_creds(server))
    assert root.version == main_version
    assert "model_evaluation/boxes" not in {c.name for c in root.schema.columns}
    ds = root.branches["training_run"].open()
    rows = {ds["filename"][i]: i for i in range(len(ds))}
    assert rows == {"b.jpg": 0, "c.jpg": 1, "a.jpg": 2}  # aligned to the dataset's own rows by file name
    assert np.asarray(ds["model_evaluation/boxes"][2]).tolist() == [list(r["bbox"]) for r in RESULTS[:2]]
    assert np.asarray(ds["model_evaluation/scores"][0]).tolist() == [0.5]
    assert len(ds["model_evaluation/labels"][1]) == 0
    assert not any(".predport" in k for k in _keys(server, bucket))
    # read back through predport: predictions from the branch, ground truth from main's top-level columns
    frames = {f.data_id: f for f in predport.load(url, read_options={"branch": "training_run",
                                                                      "id_column": "filename"},
                                                  storage_options=server.options).frames}
    assert frames["a.jpg"].predictions.score.tolist() == [0.236, 0.9]
    labels = {f.data_id: f for f in predport.load(url, role="ground_truth", read_options={"id_column": "filename"},
                                                  storage_options=server.options).frames}
    assert labels["a.jpg"].predictions.box.tolist() == [[258, 41, 348, 243], [1, 2, 3, 4]]
    assert np.isnan(labels["a.jpg"].predictions.score).all()  # no scores column: null, never an invented score


def test_s3__refusals_leave_the_dataset_as_it_was(server, bucket, coco_files, tmp_path: Path) -> None:
    import deeplake

    results, gt = coco_files
    RESULTS, GT = json.loads(results.read_text()), json.loads(gt.read_text())
    url = f"s3://{bucket}/pb"
    main_version = _playbook_on_s3(server, url)
    before = _keys(server, bucket)
    # an existing dataset is written on a branch only, even with --overwrite (never replaced by an upload)
    with pytest.raises(predport.OutputError, match="written on a branch"):
        predport.convert(results, url, to="deeplake", read_options={"gt": str(gt)}, overwrite=True,
                         storage_options=server.options)
    # a frame with no row in the dataset: refused with its id, nothing written
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps({**GT, "images": GT["images"] + [{"id": 5, "file_name": "zzz.jpg",
                                                                   "width": 4, "height": 4}]}))
    res2 = tmp_path / "res2.json"
    res2.write_text(json.dumps(RESULTS + [{"image_id": 5, "category_id": 3, "bbox": [0, 0, 1, 1], "score": 0.1}]))
    with pytest.raises(predport.OutputError, match="zzz.jpg"):
        predport.convert(res2, url, to="deeplake", read_options={"gt": str(extra)},
                         write_options={"branch": "training_run", "id_column": "filename"},
                         storage_options=server.options)
    # a storage option Deep Lake has no equivalent for is refused, not dropped
    with pytest.raises(predport.ConfigError, match="config_kwargs"):
        predport.convert(results, url, to="deeplake", read_options={"gt": str(gt)},
                         write_options={"branch": "training_run", "id_column": "filename"},
                         storage_options={**server.options, "config_kwargs": {"retries": {"max_attempts": 1}}})
    assert _keys(server, bucket) == before
    root = deeplake.open_read_only(url, creds=_creds(server))
    assert root.version == main_version and root.branches.names() == ["main"]


def test_s3__a_non_empty_folder_that_is_no_dataset_is_refused(server, bucket, coco_files) -> None:
    results, gt = coco_files
    server.boto("s3").put_object(Bucket=bucket, Key="out/notes.txt", Body=b"mine")
    with pytest.raises(predport.OutputError, match="not empty"):
        predport.convert(results, f"s3://{bucket}/out", to="deeplake", read_options={"gt": str(gt)},
                         storage_options=server.options)
    assert _keys(server, bucket) == ["out/notes.txt"]


def test_s3__other_stores_are_refused_with_the_reason(coco_files) -> None:
    results, gt = coco_files
    with pytest.raises(predport.OutputError, match=r"local paths, s3://, gs:// and az:// only, not memory://"):
        predport.convert(results, f"memory://dl-{uuid.uuid4().hex[:8]}/ds", to="deeplake",
                         read_options={"gt": str(gt)})


KILLER = r"""
import json, sys, time
import predport
from predport_deeplake import remote
from predport_deeplake import write as writer

stage, seconds = sys.argv[4], float(sys.argv[5])
if stage == "commit":                     # every column written on the server, nothing committed yet
    real = writer._commit_version
    def slow(ds, message):
        print("STOPPED", flush=True)
        time.sleep(seconds)
        real(ds, message)
    writer._commit_version = slow
else:                                     # a new dataset: its objects uploaded, its log not yet
    real = remote._put
    def slow(fs, local, key, rels):
        if any(r.startswith(remote.LOG_META + "/") for r in rels):
            print("STOPPED", flush=True)
            time.sleep(seconds)
        real(fs, local, key, rels)
    remote._put = slow
opts = {"branch": "training_run", "id_column": "filename"} if stage == "commit" else {}
predport.convert(sys.argv[1], sys.argv[2], to="deeplake", write_options=opts,
                 storage_options=json.loads(sys.argv[3]))
print("DONE", flush=True)
"""


def _kill_at(sigkill_at, server, src: Path, url: str, stage: str) -> None:
    sigkill_at(KILLER, [src, url, json.dumps(server.options), stage, "60"], "STOPPED", timeout=60)


def test_s3__a_killed_write_on_s3_leaves_the_previous_commit_as_it_was(tmp_path: Path, server, bucket,
                                                                         sigkill_at) -> None:
    import deeplake

    url = f"s3://{bucket}/pb"
    main_version = _playbook_on_s3(server, url)
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    for path, box in ((first, [1.0, 2.0, 3.0, 4.0]), (second, [7.0, 7.0, 7.0, 7.0])):
        predport.save(predport.PredictionSet(
            source=predport.SourceInfo(format="canonical", uri="mem", plugin="test"),
            categories=[predport.Category(id=3, name="car")],
            frames=[predport.Frame(data_id="a.jpg", predictions=predport.Detections([3], [0.5], [box]))]),
            path, "canonical-jsonl")
    predport.convert(first, url, to="deeplake", write_options={"branch": "training_run", "id_column": "filename"},
                     storage_options=server.options)

    def state():
        root = deeplake.open_read_only(url, creds=_creds(server))
        b = root.branches["training_run"].open()
        return root.version, b.version, np.asarray(b["model_evaluation/boxes"][2]).tolist()

    before = state()
    assert before[0] == main_version and before[2] == [[1, 2, 3, 4]]
    _kill_at(sigkill_at, server, second, url, "commit")  # killed with the new columns on the server, uncommitted
    assert state() == before


def test_s3__a_new_dataset_killed_while_uploading_is_no_dataset(tmp_path: Path, server, bucket, coco_files,
                                                                sigkill_at) -> None:
    import deeplake

    results, gt = coco_files
    src = tmp_path / "preds.jsonl"
    predport.convert(results, src, to="canonical-jsonl", read_options={"gt": str(gt)})
    url = f"s3://{bucket}/new"
    _kill_at(sigkill_at, server, src, url, "upload")
    keys = _keys(server, bucket)
    assert keys and not any(k.startswith("new/_deeplake_log/_meta/") for k in keys)  # objects, but no log
    assert not deeplake.exists(url, creds=_creds(server))
    assert not any(v.format == "deeplake" and v.confidence >= predport.Confidence.LOW
                   for v in predport.detect(url, storage_options=server.options))
    with pytest.raises(predport.OutputError, match="not empty"):  # never mistaken for a dataset to update
        predport.convert(src, url, to="deeplake", storage_options=server.options)
