"""Sharded conversion (predport.engine): the local engine, a Dask LocalCluster, --shard I/N + merge.

Every sharded output is compared byte for byte with the single-process one on the same
input; errors, skip counts, the all-or-nothing commit and remote inputs/outputs (memory://
and the loopback S3 server) hold under the engine as they do without it.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

import predport
from predport import engine
from predport.testing import corpus_dir

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
FOLDERS = ["lightly", "yolo", "kitti", "masks"]
pytestmark = pytest.mark.usefixtures("no_io_thread_afterwards")


def _synthetic(n: int, classes: int = 5) -> predport.PredictionSet:
    """``n`` frames, each with a few boxes of ``classes`` classes (classes met in varying order)."""
    frames = []
    for i in range(n):
        k = i % 4
        frames.append(predport.Frame(
            data_id=f"img_{i:05d}.png", width=640, height=480,
            predictions=predport.Detections(
                category_id=[(i * 7 + j) % classes + 1 for j in range(k)],
                score=[round(0.5 + 0.1 * j, 2) for j in range(k)],
                box=[[float(10 + j), float(20 + i % 50), 30.0 + j, 40.0] for j in range(k)])))
    cats = [predport.Category(id=c + 1, name=f"class{c}") for c in range(classes)]
    return predport.PredictionSet(source=predport.SourceInfo(format="test", uri="mem", plugin="tests"),
                                  categories=cats, frames=frames)


@pytest.fixture(scope="session")
def folders(tmp_path_factory) -> dict[str, Path]:
    """The same 60 frames as a folder of each first-party folder format, written by predport."""
    root = tmp_path_factory.mktemp("engine-in")
    out = {}
    data = _synthetic(60)
    for fmt in FOLDERS:
        dst = root / fmt / ("predictions" if fmt in ("lightly", "masks") else "out")
        dst.parent.mkdir()
        predport.save(data, dst, format=fmt, allow_loss=True)
        out[fmt] = dst
    return out


@pytest.fixture(scope="session")
def dask_cluster():
    """One LocalCluster (processes, 2 workers) for the whole session, in a child process
    (``daskcluster.py``: no cluster threads stay in this one): its scheduler address."""
    pytest.importorskip("distributed")
    import importlib.util

    name = "predport_tests_daskcluster"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("daskcluster.py"))
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    cluster = sys.modules[name].start()
    yield cluster.address
    cluster.stop()


def _single(src, dst, **kw) -> bytes:
    predport.convert(src, dst, **kw)
    return Path(dst).read_bytes()


def _inputs(folders: dict[str, Path]) -> list[Path]:
    items = [folders[f] for f in FOLDERS] + [EXAMPLES / "kitti", EXAMPLES / "yolo"]
    corpus = corpus_dir()
    if corpus is not None:
        for rel in ("lightly/lightly_dataset_examples/coco_subset_128_images/predictions",
                    "lightly/labelformat/detection-task-name", "kitti/kitti_object_vis/label_2"):
            if (corpus / rel).exists():
                items.append(corpus / rel)
    return items


@pytest.mark.parametrize("to,ext", [("canonical-jsonl", "jsonl"), ("canonical", "json")])
def test_engine__local_engine_is_byte_identical_to_single_process_for_every_folder_format(hub, folders, tmp_path,
                                                                                          to, ext):
    for n, src in enumerate(_inputs(folders)):
        want = _single(src, tmp_path / f"single{n}.{ext}", to=to)
        for shards in (1, 3, 7):
            got = tmp_path / f"sharded{n}-{shards}.{ext}"
            summary = predport.convert(src, got, to=to, engine="local", shards=shards)
            assert got.read_bytes() == want, (src, shards)
            assert summary["shards"] == shards
            assert not Path(engine.parts_location(got)).exists()


def test_engine__dask_cluster_is_byte_identical_and_runs_on_two_worker_processes(hub, folders, tmp_path,
                                                                                 dask_cluster):
    for n, src in enumerate(_inputs(folders)):
        want = _single(src, tmp_path / f"single{n}.jsonl", to="canonical-jsonl")
        got = tmp_path / f"dask{n}.jsonl"
        summary = predport.convert(src, got, to="canonical-jsonl", engine="dask", scheduler=dask_cluster, shards=6)
        assert got.read_bytes() == want, src
        assert summary["engine"]["name"] == "dask"
        assert os.getpid() not in summary["workers"]["pids"]  # parsed on the workers, not here
    import threading

    assert threading.active_count() == 1  # the client left no thread behind (forking readers need that)


def test_engine__plan_keeps_folder_order_and_puts_shared_files_in_every_shard(folders):
    shared, shards = engine.plan(folders["lightly"], format="lightly", shards=4)
    assert shared == ["object_detection/schema.json", "tasks.json"]
    flat = [f for s in shards for f in s]
    assert flat == sorted(flat) and len(flat) == 60 and all(shards)
    # YOLO: a label and its image stay in the same shard.
    _shared, yshards = engine.plan(EXAMPLES / "yolo", format="yolo", shards=2)
    for s in yshards:
        stems = {Path(f).stem for f in s if f.startswith("labels/")}
        assert stems == {Path(f).stem for f in s if f.startswith("images/")} or not stems


def test_engine__classes_without_names_split_over_shards_give_the_single_process_table(hub, tmp_path):
    # YOLO without names: each shard meets only some of the class ids.
    src = tmp_path / "yolo"
    (src / "labels").mkdir(parents=True)
    for i, line in enumerate(["3 0.5 0.5 0.1 0.1", "1 0.5 0.5 0.2 0.2\n3 0.1 0.1 0.1 0.1", "0 0.5 0.5 0.3 0.3",
                              "2 0.4 0.4 0.1 0.1\n1 0.2 0.2 0.1 0.1"]):
        (src / "labels" / f"f{i}.txt").write_text(line + "\n")
    sizes = tmp_path / "sizes.json"
    sizes.write_text(json.dumps({f"f{i}": [100, 80] for i in range(4)}))
    want = _single(src, tmp_path / "single.json", to="canonical", image_sizes=sizes)
    got = tmp_path / "sharded.json"
    predport.convert(src, got, to="canonical", engine="local", shards=4, image_sizes=sizes)
    assert got.read_bytes() == want
    assert len(json.loads(want)["categories"]) == 4


def _break(folder: Path, fmt: str) -> tuple[Path, Path]:
    """A copy of ``folder`` with one bad file near the end; returns (copy, bad file)."""
    copy = folder.parent.parent / f"broken-{fmt}-{uuid.uuid4().hex[:6]}" / folder.name
    shutil.copytree(folder, copy)
    files = sorted(p for p in copy.rglob("*") if p.is_file() and p.name not in ("schema.json", "classes.txt")
                   and p.suffix in (".json", ".txt"))
    bad = files[-3]
    if fmt == "lightly":
        bad.write_text('{"file_name": "x.png",\n "predictions": [{"category_id": 1, "bbox": "nope", "score": 0.5}]}')
    else:
        bad.write_text("0 0.5 0.5 0.1\nnot numbers here at all\n")
    return copy, bad


@pytest.mark.parametrize("fmt", ["lightly", "yolo"])
def test_engine__worker_errors_name_file_and_line_like_the_local_one(hub, folders, tmp_path, dask_cluster, fmt):
    src, bad = _break(folders[fmt], fmt)
    with pytest.raises(predport.PredportError) as local:
        predport.convert(src, tmp_path / "single.jsonl", to="canonical-jsonl")
    for kw in ({"engine": "local", "shards": 5}, {"engine": "dask", "scheduler": dask_cluster, "shards": 5}):
        with pytest.raises(predport.PredportError) as sharded:
            predport.convert(src, tmp_path / "sharded.jsonl", to="canonical-jsonl", **kw)
        assert sharded.value.file == local.value.file, kw
        assert Path(sharded.value.file).resolve() == bad.resolve()
        assert sharded.value.line == local.value.line and sharded.value.json_path == local.value.json_path
        assert str(bad.name) in str(sharded.value)
        assert not (tmp_path / "sharded.jsonl").exists()
        assert not Path(engine.parts_location(tmp_path / "sharded.jsonl")).exists()


def test_engine__policy_skip_counts_are_summed_over_shards(hub, folders, tmp_path, dask_cluster):
    src = folders["yolo"].parent.parent / f"skips-{uuid.uuid4().hex[:6]}" / "out"
    shutil.copytree(folders["yolo"], src)
    labels = sorted((src / "labels").glob("*.txt")) if (src / "labels").exists() else sorted(src.rglob("*.txt"))
    labels = [p for p in labels if p.name != "classes.txt"]
    for p in (labels[1], labels[30], labels[-2]):  # in different shards
        p.write_text(p.read_text() + "garbage line\n")
    single = predport.convert(src, tmp_path / "single.jsonl", to="canonical-jsonl", policy="skip")
    assert single["report"]["skipped"] == 3
    for kw in ({"engine": "local", "shards": 4}, {"engine": "dask", "scheduler": dask_cluster, "shards": 4}):
        out = tmp_path / f"sk-{kw['engine']}.jsonl"
        summary = predport.convert(src, out, to="canonical-jsonl", policy="skip", **kw)
        assert summary["report"]["skipped"] == 3
        assert out.read_bytes() == (tmp_path / "single.jsonl").read_bytes()


def test_engine__a_failing_shard_leaves_the_previous_output_exactly_as_it_was(hub, folders, tmp_path, dask_cluster):
    out = tmp_path / "out.jsonl"
    out.write_bytes(b"previous output\n")
    src, _bad = _break(folders["lightly"], "lightly")
    for kw in ({"engine": "local", "shards": 5}, {"engine": "dask", "scheduler": dask_cluster, "shards": 5}):
        with pytest.raises(predport.PredportError):
            predport.convert(src, out, to="canonical-jsonl", overwrite=True, **kw)
        assert out.read_bytes() == b"previous output\n"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]
    # Without --overwrite the existing output is refused before any shard runs.
    with pytest.raises(predport.PredportError, match="exists"):
        predport.convert(folders["lightly"], out, to="canonical-jsonl", engine="local")
    assert out.read_bytes() == b"previous output\n"


def _cli(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "predport", *args], capture_output=True, text=True, **kw)


def test_engine__slurm_array_style_shards_then_merge_equal_single_process(folders, tmp_path):
    src = folders["lightly"]
    assert _cli("convert", str(src), str(tmp_path / "single.jsonl"), "-q").returncode == 0
    out = tmp_path / "array.jsonl"
    # Array tasks run in any order, each in its own process.
    for i in (2, 0, 3):
        r = _cli("convert", str(src), str(out), "--shard", f"{i}/4", "--json")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["index"] == i
    r = _cli("merge", str(out))
    assert r.returncode != 0 and "1 of 4 shard(s)" in r.stderr and "1/4" in r.stderr and "Traceback" not in r.stderr
    assert not out.exists()
    assert _cli("convert", str(src), str(out), "--shard", "1/4", "-q").returncode == 0
    r = _cli("merge", str(out))
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == (tmp_path / "single.jsonl").read_bytes()
    assert not Path(engine.parts_location(out)).exists()
    bad = _cli("convert", str(src), str(out), "--shard", "4/4")
    assert bad.returncode != 0 and "--shard" in bad.stderr and "Traceback" not in bad.stderr


def test_engine__without_engine_nothing_imports_dask(folders, tmp_path):
    code = (
        "import sys, predport\n"
        f"predport.convert({str(folders['lightly'])!r}, {str(tmp_path / 'o.jsonl')!r}, to='canonical-jsonl')\n"
        "from predport import cli\n"
        "cli.main(['convert', {src!r}, {dst!r}, '-q'])\n".format(src=str(folders["yolo"]), dst=str(tmp_path / "p.json"))
        + "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed'))\n"
        "assert not bad, bad\n"
        "import predport.engine\n"
        "assert 'dask' not in sys.modules and 'distributed' not in sys.modules\n"
        "print('ok')\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


def test_engine__single_files_and_other_targets_are_refused_with_a_reason(hub, tmp_path):
    with pytest.raises(predport.ConfigError, match="single aquarium file"):
        predport.convert(EXAMPLES / "aquarium" / "frames.jsonl", tmp_path / "o.jsonl", to="canonical-jsonl",
                         engine="local")
    with pytest.raises(predport.ConfigError, match="canonical"):
        predport.convert(EXAMPLES / "yolo", tmp_path / "o", to="lightly", engine="local")
    assert not list(tmp_path.iterdir())


def test_engine__memory_urls_in_and_out(hub, folders, tmp_path):
    fsspec = pytest.importorskip("fsspec")
    fs = fsspec.filesystem("memory")
    key = f"/engine-{uuid.uuid4().hex[:8]}"
    fs.put(str(folders["lightly"]), f"{key}/predictions", recursive=True)
    want = _single(folders["lightly"], tmp_path / "single.jsonl", to="canonical-jsonl")
    want_uri = want.replace(str(folders["lightly"]).encode(), f"memory://{key}/predictions".encode())
    summary = predport.convert(f"memory://{key}/predictions", f"memory://{key}/out.jsonl", to="canonical-jsonl",
                               engine="local", shards=3)
    assert summary["frames"] == 60
    assert fs.cat_file(f"{key}/out.jsonl") == want_uri
    single_remote = predport.convert(f"memory://{key}/predictions", f"memory://{key}/one.jsonl",
                                     to="canonical-jsonl")
    assert single_remote["frames"] == 60
    assert fs.cat_file(f"{key}/one.jsonl") == want_uri
    assert not fs.exists(f"{key}/out.jsonl.predport-parts")
    fs.rm(key, recursive=True)


def test_engine__s3_in_and_out_on_the_dask_cluster(hub, folders, tmp_path, s3_server, dask_cluster):
    fs = s3_server.fs()
    name = f"b-{uuid.uuid4().hex[:10]}"
    fs.mkdir(name)
    try:
        fs.put(str(folders["lightly"]), f"{name}/preds", recursive=True)
        opts = dict(s3_server.options)
        src = f"s3://{name}/preds"
        predport.convert(src, f"s3://{name}/single.jsonl", to="canonical-jsonl", storage_options=opts)
        summary = predport.convert(src, f"s3://{name}/dask.jsonl", to="canonical-jsonl", storage_options=opts,
                                   engine="dask", scheduler=dask_cluster, shards=4)
        assert summary["frames"] == 60
        assert fs.cat_file(f"{name}/dask.jsonl") == fs.cat_file(f"{name}/single.jsonl")
        assert not fs.exists(f"{name}/dask.jsonl.predport-parts")
        # Remote input, local output: the local bytes with the bucket as the source uri.
        local = tmp_path / "from-s3.jsonl"
        predport.convert(src, local, to="canonical-jsonl", storage_options=opts, engine="local", shards=3)
        assert local.read_bytes() == fs.cat_file(f"{name}/single.jsonl")
    finally:
        fs.rm(name, recursive=True)


# -- single files: JSON Lines by line ranges, JSON documents by frame --------------------------------
DOCUMENT_FORMATS = [("canonical-jsonl", "set.jsonl"), ("canonical", "set.json"), ("coco", "results.json")]


@pytest.fixture(scope="session")
def documents(tmp_path_factory) -> dict[str, Path]:
    """The 60 synthetic frames as one file of each single-file format that shards."""
    root = tmp_path_factory.mktemp("engine-docs")
    data = _synthetic(60)
    out = {}
    for fmt, name in DOCUMENT_FORMATS:
        predport.save(data, root / name, format=fmt, allow_loss=True)
        out[fmt] = root / name
    return out


def _document_inputs(documents: dict[str, Path]) -> list[tuple[str, Path]]:
    items = list(documents.items()) + [("coco", EXAMPLES / "coco" / "results.json")]
    corpus = corpus_dir()
    if corpus is not None:
        for rel in ("coco/cocoapi/instances_val2014_fakebbox100_results.json",
                    "coco/cocoapi/instances_val2014_fakesegm100_results.json",
                    "coco/cocoapi/person_keypoints_val2014_fakekeypoints100_results.json",
                    "coco/faster_coco_eval/example_crowdpose_preds.json", "coco/sahi/coco_evaluate_result.json"):
            if (corpus / rel).exists():
                items.append(("coco", corpus / rel))
    return items


@pytest.mark.parametrize("to,ext", [("canonical-jsonl", "jsonl"), ("canonical", "json")])
def test_engine__single_documents_shard_by_frame_and_lines_byte_identical_to_single_process(hub, documents,
                                                                                             tmp_path, to, ext):
    for n, (fmt, src) in enumerate(_document_inputs(documents)):
        want = _single(src, tmp_path / f"single{n}.{ext}", to=to, format=fmt)
        for shards in (1, 3, 7, 200):  # 200: more shards than frames, some shards empty
            got = tmp_path / f"sharded{n}-{shards}.{ext}"
            summary = predport.convert(src, got, to=to, engine="local", shards=shards, format=fmt)
            assert got.read_bytes() == want, (src, shards)
            assert summary["shards"] == shards


def test_engine__single_documents_on_the_dask_cluster_are_byte_identical(hub, documents, tmp_path, dask_cluster):
    for n, (fmt, src) in enumerate(_document_inputs(documents)):
        want = _single(src, tmp_path / f"single{n}.jsonl", to="canonical-jsonl", format=fmt)
        got = tmp_path / f"dask{n}.jsonl"
        summary = predport.convert(src, got, to="canonical-jsonl", engine="dask", scheduler=dask_cluster, shards=4)
        assert got.read_bytes() == want, src
        assert os.getpid() not in summary["workers"]["pids"]


def test_engine__json_lines_plan_cuts_at_line_boundaries_and_covers_every_line(documents):
    from predport.docshard import plan_document

    data = documents["canonical-jsonl"].read_bytes()
    head_end = data.index(b"\n") + 1
    for shards in (2, 5, 13):
        pieces = [p[0] for p in plan_document(str(documents["canonical-jsonl"]), format="canonical-jsonl",
                                              shards=shards)]
        assert [p["start"] for p in pieces][0] == head_end
        assert all(a["end"] == b["start"] for a, b in zip(pieces, pieces[1:]))  # contiguous, no overlap
        assert pieces[-1]["end"] == len(data)
        for p in pieces:
            assert data[p["start"] - 1:p["start"]] == b"\n"  # each piece starts a line
        assert sum(data[p["start"]:p["end"]].count(b"\n") for p in pieces) == data.count(b"\n") - 1


def test_engine__coco_plan_never_cuts_an_image_and_refuses_interleaved_records(hub, tmp_path):
    from predport.docshard import plan_document

    recs = []
    for image, count in enumerate([5, 1, 9, 2, 2, 7, 1, 3]):  # images of uneven sizes
        recs += [{"image_id": image, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 0.5}] * count
    src = tmp_path / "results.json"
    src.write_text(json.dumps(recs))
    raw = src.read_bytes()
    for shards in (2, 3, 4, 6):
        pieces = [p[0] for p in plan_document(str(src), format="coco", shards=shards)]
        images = [sorted({r["image_id"] for r in json.loads(b"[" + raw[p["start"]:p["end"]] + b"]")})
                  for p in pieces if p["count"]]
        flat = [i for group in images for i in group]
        assert flat == list(range(8))  # every image in exactly one shard, in order
        assert sum(p["count"] for p in pieces) == len(recs)
    interleaved = tmp_path / "interleaved_results.json"
    interleaved.write_text(json.dumps(recs[:5] + recs[5:6] + recs[:1]))
    with pytest.raises(predport.ConfigError, match="image_id 0 .*not contiguous"):
        predport.convert(interleaved, tmp_path / "o.jsonl", to="canonical-jsonl", engine="local", format="coco")
    assert not (tmp_path / "o.jsonl").exists()


def _broken_document(documents: dict[str, Path], fmt: str, tmp_path: Path) -> Path:
    """A copy of the file with one bad frame/record/line near the end."""
    src = documents[fmt]
    out = tmp_path / f"broken-{src.name}"
    if fmt == "canonical-jsonl":
        lines = src.read_bytes().split(b"\n")
        at = max(i for i, line in enumerate(lines[:-4]) if b'"score":' in line)
        lines[at] = lines[at].replace(b'"score":', b'"score":"high","s":', 1)
        out.write_bytes(b"\n".join(lines))
    else:
        doc = json.loads(src.read_bytes())
        items = doc["frames"] if fmt == "canonical" else doc
        bad = next(x for x in reversed(items) if (x.get("predictions") if fmt == "canonical" else True))
        if fmt == "canonical":
            bad["predictions"][0]["score"] = "high"
        else:
            bad["bbox"] = "nope"
        out.write_text(json.dumps(doc))
    return out


@pytest.mark.parametrize("fmt", ["canonical-jsonl", "canonical", "coco"])
def test_engine__document_shard_errors_name_the_file_line_and_json_path_like_the_local_one(hub, documents,
                                                                                          tmp_path, fmt):
    src = _broken_document(documents, fmt, tmp_path)
    with pytest.raises(predport.PredportError) as local:
        predport.convert(src, tmp_path / "single.jsonl", to="canonical-jsonl", format=fmt)
    assert local.value.line or local.value.json_path
    with pytest.raises(predport.PredportError) as sharded:
        predport.convert(src, tmp_path / "sharded.jsonl", to="canonical-jsonl", format=fmt, engine="local",
                         shards=5)
    assert (sharded.value.file, sharded.value.line, sharded.value.json_path) == \
        (local.value.file, local.value.line, local.value.json_path)
    assert str(sharded.value) == str(local.value)
    assert not (tmp_path / "sharded.jsonl").exists()
    # Under policy=skip the examples in the report name the same places as the single process.
    single = predport.convert(src, tmp_path / "s.jsonl", to="canonical-jsonl", format=fmt, policy="skip")
    summary = predport.convert(src, tmp_path / "k.jsonl", to="canonical-jsonl", format=fmt, policy="skip",
                               engine="local", shards=5)
    assert summary["report"]["skipped"] == single["report"]["skipped"] >= 1
    assert summary["report"]["skipped_examples"] == single["report"]["skipped_examples"]
    assert (tmp_path / "k.jsonl").read_bytes() == (tmp_path / "s.jsonl").read_bytes()


def test_engine__document_from_s3_on_the_dask_cluster(hub, documents, s3_server, dask_cluster):
    fs = s3_server.fs()
    name = f"d-{uuid.uuid4().hex[:10]}"
    fs.mkdir(name)
    try:
        opts = dict(s3_server.options)
        for fmt, path in documents.items():
            fs.put(str(path), f"{name}/{path.name}")
            src = f"s3://{name}/{path.name}"
            predport.convert(src, f"s3://{name}/single-{fmt}.jsonl", to="canonical-jsonl", storage_options=opts)
            predport.convert(src, f"s3://{name}/dask-{fmt}.jsonl", to="canonical-jsonl", storage_options=opts,
                             engine="dask", scheduler=dask_cluster, shards=3)
            assert fs.cat_file(f"{name}/dask-{fmt}.jsonl") == fs.cat_file(f"{name}/single-{fmt}.jsonl"), fmt
    finally:
        fs.rm(name, recursive=True)


def test_engine__what_one_task_receives_does_not_grow_with_the_input(hub, tmp_path, monkeypatch):
    """The serialized arguments of one shard's task are the same size for 10x the input at the
    same shard size: no task is sent the whole plan, file list or categories."""
    import pickle

    sizes: dict[int, tuple[int, int]] = {}

    def capture(fn, tasks, **kw):  # stands in for the cluster: the tasks exactly as Dask gets them
        sizes[n] = (len(tasks), max(len(pickle.dumps((fn, *t))) for t in tasks))
        return [fn(*t) for t in tasks], {"start_seconds": 0.0, "run_seconds": 0.0}

    monkeypatch.setattr(engine, "run_tasks", capture)
    for n in (200, 2000):
        src = tmp_path / f"in{n}" / "predictions"
        src.parent.mkdir()
        predport.save(_synthetic(n), src, format="lightly")
        want = _single(src, tmp_path / f"single{n}.jsonl", to="canonical-jsonl")
        got = tmp_path / f"dask{n}.jsonl"
        predport.convert(src, got, to="canonical-jsonl", engine="dask", shards=n // 100)
        assert got.read_bytes() == want
    assert sizes[200][0] == 2 and sizes[2000][0] == 20
    assert sizes[2000][1] <= sizes[200][1] * 1.05, sizes  # the whole file list would be 10x


def test_engine__a_worker_holds_no_finished_task_whatever_the_number_of_tasks(dask_cluster):
    """run_tasks releases each task once its result is back and keeps a bounded window in
    flight, so a worker's state (each task's arguments and result) does not grow with the
    number of tasks — the cause of a worker's memory growing with the input."""
    def held(i):  # a local function: pickled by value, so the workers need not import this file
        from distributed import get_worker

        return len(get_worker().state.tasks)

    results, _ = engine.run_tasks(held, [(i,) for i in range(40)], engine="dask", scheduler=dask_cluster)
    assert len(results) == 40
    assert max(results) <= 6, results  # holding every future until the end: ~20 a worker
