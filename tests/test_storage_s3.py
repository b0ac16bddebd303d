"""Remote storage against a real S3 server on loopback (moto server mode, see ``s3server.py``).

Detection, every folder reader and every writer give what they give on local paths;
the two command lines of the issue's acceptance produce the local outputs; a killed
upload never leaves a published half output; permission errors are clear.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

import predport
from predport import storage
from predport.testing import corpus_dir

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SIZES = json.loads((EXAMPLES / "encord" / "sizes.json").read_text())
FOLDER_WRITERS = ["lightly", "yolo", "kitti", "masks"]


pytestmark = pytest.mark.usefixtures("no_io_thread_afterwards")


@pytest.fixture
def bucket(s3_server, hub):
    """A new, empty bucket on the server; removed afterwards."""
    fs = s3_server.fs()
    name = f"b-{uuid.uuid4().hex[:10]}"
    fs.mkdir(name)
    yield fs, name
    fs.rm(name, recursive=True)


@pytest.fixture(scope="session")
def lightly_folder(tmp_path_factory) -> Path:
    """A Lightly predictions folder written by predport from the YOLO example."""
    out = tmp_path_factory.mktemp("lightly") / "predictions"
    predport.convert(EXAMPLES / "yolo", out, to="lightly", allow_loss=True)
    return out


def _inputs(lightly_folder: Path) -> list[tuple[Path, dict]]:
    items = [(EXAMPLES / "kitti", {}), (EXAMPLES / "yolo", {}), (EXAMPLES / "masks" / "predictions", {}),
             (lightly_folder, {}), (EXAMPLES / "coco" / "results.json", {}),
             (EXAMPLES / "aquarium" / "frames.jsonl", {}), (EXAMPLES / "encord" / "predictions.json", {"image_sizes": SIZES})]
    corpus = corpus_dir()
    if corpus is not None:
        for rel in ("lightly/labelformat/detection-task-name",
                    "lightly/lightly_dataset_examples/coco_subset_128_images/predictions",
                    "png_masks/labelformat_voc", "png_masks/labelme_voc"):
            if (corpus / rel).exists():
                items.append((corpus / rel, {}))
    return items


def _upload(fs, local: Path, key: str) -> str:
    if local.is_dir():
        fs.put(str(local), key, recursive=True)
    else:
        fs.put_file(str(local), key)
    return key


def _tree(fs, key: str) -> dict[str, bytes]:
    return {p[len(key) + 1:]: fs.cat_file(p) for p in sorted(fs.find(key))}


def _local_tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_s3__detection_and_every_reader_equal_local(bucket, s3_server, lightly_folder):
    fs, name = bucket
    opts = s3_server.options
    for i, (local, kwargs) in enumerate(_inputs(lightly_folder)):
        url = "s3://" + _upload(fs, local, f"{name}/in{i}/{local.name}")
        want = predport.detect(local)
        got = predport.detect(url, storage_options=opts)
        assert [(v.format, v.confidence, v.reason) for v in got] == \
            [(v.format, v.confidence, v.reason) for v in want], local
        a = predport.load(local, **kwargs)
        b = predport.load(url, storage_options=opts, **kwargs)
        assert b.frames == a.frames and b.categories == a.categories, local
        assert b.source.uri == url


@pytest.mark.parametrize("to", FOLDER_WRITERS)
def test_s3__every_folder_writer_publishes_the_local_files(bucket, s3_server, tmp_path, to):
    fs, name = bucket
    src = EXAMPLES / ("masks/predictions" if to == "masks" else "kitti" if to == "kitti" else "yolo")
    predport.convert(src, tmp_path / "out", to=to, allow_loss=True)
    predport.convert(src, f"s3://{name}/out", to=to, allow_loss=True, storage_options=s3_server.options)
    got = _tree(fs, f"{name}/out")
    manifest = json.loads(got.pop(storage.MANIFEST))
    want = _local_tree(tmp_path / "out")
    assert got == want
    assert sorted(f["path"] for f in manifest["files"]) == sorted(want)


@pytest.mark.parametrize("to, ext, src", [("canonical", ".json", "kitti"), ("canonical-jsonl", ".jsonl", "kitti"),
                                          ("coco", ".json", "kitti"), ("aquarium", ".jsonl", "aquarium/frames.jsonl"),
                                          ("encord", ".json", "encord/predictions.json")])
def test_s3__every_file_writer_publishes_the_local_file(bucket, s3_server, tmp_path, to, ext, src):
    fs, name = bucket
    src = EXAMPLES / src
    kw = {"image_sizes": SIZES} if to == "encord" else {}
    predport.convert(src, tmp_path / f"out{ext}", to=to, allow_loss=True, **kw)
    predport.convert(src, f"s3://{name}/x/out{ext}", to=to, allow_loss=True, storage_options=s3_server.options, **kw)
    assert fs.cat_file(f"{name}/x/out{ext}") == (tmp_path / f"out{ext}").read_bytes()
    assert fs.ls(f"{name}/x", detail=False) == [f"{name}/x/out{ext}"]  # the staging object is gone


def _cli(server, *args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "predport", *args, "--storage-option",
                           f"endpoint_url={server.endpoint}"], env=server.env(), capture_output=True, text=True,
                          timeout=120, **kwargs)


def test_s3__acceptance_convert_from_a_bucket_equals_local(bucket, s3_server, tmp_path, lightly_folder):
    """``predport convert s3://bucket/preds out.json`` gives the local output (the head names its input)."""
    fs, name = bucket
    _upload(fs, lightly_folder, f"{name}/preds")
    r = _cli(s3_server, "convert", f"s3://{name}/preds", str(tmp_path / "out.json"), "-q")
    assert r.returncode == 0, r.stderr
    shutil.copytree(lightly_folder, tmp_path / "preds")
    r = _cli(s3_server, "convert", "preds", "local.json", "-q", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    remote = json.loads((tmp_path / "out.json").read_bytes())
    local = json.loads((tmp_path / "local.json").read_bytes())
    assert remote["source"].pop("uri") == f"s3://{name}/preds" and local["source"].pop("uri") == "preds"
    assert remote == local
    # Byte for byte too, once the uri is the same.
    raw = (tmp_path / "out.json").read_bytes().replace(f"s3://{name}/preds".encode(), b"preds")
    assert raw == (tmp_path / "local.json").read_bytes()


def test_s3__acceptance_convert_to_a_bucket_equals_local(bucket, s3_server, tmp_path):
    """``predport convert preds s3://bucket/out --to lightly`` publishes the local folder."""
    fs, name = bucket
    shutil.copytree(EXAMPLES / "yolo", tmp_path / "preds")
    r = _cli(s3_server, "convert", "preds", f"s3://{name}/out", "--to", "lightly", "--allow-loss", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"to s3://{name}/out [lightly]" in r.stdout
    r = _cli(s3_server, "convert", "preds", "out", "--to", "lightly", "--allow-loss", "-q", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    got = _tree(fs, f"{name}/out")
    assert json.loads(got.pop(storage.MANIFEST))["schema"] == "predport/manifest/1"
    assert got == _local_tree(tmp_path / "out")


def _many_labels(folder: Path, n: int) -> Path:
    """A KITTI label_2 folder of ``n`` one-line files."""
    folder.mkdir(parents=True)
    for i in range(n):
        (folder / f"{i:06d}.txt").write_text(
            f"{'Car' if i % 2 else 'Pedestrian'} -1 -1 -10 {i % 300}.00 10.00 {i % 300 + 20}.00 40.00 "
            "-1 -1 -1 -1000 -1000 -1000 -10 0.75\n")
    return folder


def _start_upload(server, src: Path, url: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "predport", "convert", str(src), url, "--to", "kitti", "-q",
                             "--storage-option", f"endpoint_url={server.endpoint}"], env=server.env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(check, proc: subprocess.Popen, timeout: float = 90.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if check():
            return True
        time.sleep(0.02)
    return False


@pytest.fixture(scope="module")
def many(tmp_path_factory) -> Path:
    return _many_labels(tmp_path_factory.mktemp("many") / "label_2", 300)


@pytest.mark.parametrize("phase", ["upload", "publish"])
def test_s3__killed_upload_is_never_published_and_the_next_write_cleans_up(bucket, s3_server, many, phase):
    fs, name = bucket
    key = f"{name}/out"
    url = f"s3://{key}"

    def staging_started() -> bool:
        return any(storage.STAGING_MARK in p for p in fs.ls(key, detail=False, refresh=True)) \
            if fs.exists(key) else False

    def publishing() -> bool:  # a published file name exists outside the staging prefix
        return fs.exists(f"{key}/000000.txt")

    proc = _start_upload(s3_server, many, url)
    try:
        assert _wait_for(staging_started if phase == "upload" else publishing, proc), proc.communicate()
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    fs.invalidate_cache()
    assert not fs.exists(f"{key}/{storage.MANIFEST}")
    assert any(storage.STAGING_MARK in p for p in fs.ls(key, detail=False))
    with pytest.raises(predport.OutputError, match="unpublished predport upload"):
        predport.load(url, storage_options=s3_server.options)
    # The next write removes the dead writer's staging prefix and says so.
    summary = predport.convert(many, url, to="kitti", overwrite=True, storage_options=s3_server.options)
    assert any("interrupted upload" in w for w in summary["report"]["warnings"])
    fs.invalidate_cache()
    assert not any(storage.STAGING_MARK in p for p in fs.ls(key, detail=False))
    assert len(predport.load(url, storage_options=s3_server.options).frames) == 300


def test_s3__terminated_upload_removes_its_staging(bucket, s3_server, many):
    fs, name = bucket
    key = f"{name}/out"
    proc = _start_upload(s3_server, many, f"s3://{key}")
    try:
        assert _wait_for(lambda: fs.exists(key) and any(
            storage.STAGING_MARK in p for p in fs.ls(key, detail=False, refresh=True)), proc)
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    fs.invalidate_cache()
    assert not fs.exists(key) or not fs.find(key)  # nothing published, nothing staged


# -- permissions: a second server that checks IAM credentials --------------------------------
#: Requests the locked server serves before it checks credentials: the set-up below.
SETUP_REQUESTS = 6
READ_ONLY_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"}]})


@pytest.fixture(scope="module")
def locked_server(s3_start):
    server = s3_start(auth_after=SETUP_REQUESTS)
    try:
        iam, s3 = server.boto("iam"), server.boto("s3")
        iam.create_user(UserName="reader")
        iam.put_user_policy(UserName="reader", PolicyName="read-only", PolicyDocument=READ_ONLY_POLICY)
        key = iam.create_access_key(UserName="reader")["AccessKey"]
        s3.create_bucket(Bucket="locked")
        s3.put_object(Bucket="locked", Key="in/results.json", Body=(EXAMPLES / "coco" / "results.json").read_bytes())
        s3.put_object(Bucket="locked", Key="in/gt.json", Body=(EXAMPLES / "coco" / "gt.json").read_bytes())
        reader = {"key": key["AccessKeyId"], "secret": key["SecretAccessKey"], "endpoint_url": server.endpoint}
        yield server, reader
    finally:
        server.stop()


def test_s3__unknown_credentials_are_a_clear_access_denied(locked_server, hub):
    server, reader = locked_server
    wrong = {**reader, "key": "AKIANOBODY", "secret": "nothing"}
    with pytest.raises(predport.PredportError, match="access denied reading s3://locked/in/results.json") as info:
        predport.load("s3://locked/in/results.json", storage_options=wrong)
    assert "credentials" in (info.value.hint or "")


def test_s3__read_only_user_reads_but_cannot_write(locked_server, hub, tmp_path):
    server, reader = locked_server
    frames = predport.load("s3://locked/in/results.json", storage_options=reader).frames
    assert frames == predport.load(EXAMPLES / "coco" / "results.json").frames
    with pytest.raises(predport.OutputError, match="Access Denied.*nothing was published") as info:
        predport.convert(EXAMPLES / "yolo", "s3://locked/out", to="yolo", storage_options=reader)
    assert "credentials" in (info.value.hint or "")
    r = subprocess.run([sys.executable, "-m", "predport", "convert", str(EXAMPLES / "coco" / "results.json"),
                        "s3://locked/out.json", *sum((["--storage-option", f"{k}={v}"] for k, v in reader.items()), [])],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "predport: error:" in r.stderr and "Traceback" not in r.stderr
    assert "Access Denied" in r.stderr
    # Nothing was written (listed as the reader: the set-up credentials are refused by now).
    listing = server.fs(**{k: reader[k] for k in ("key", "secret")}).find("locked")
    assert sorted(listing) == ["locked/in/gt.json", "locked/in/results.json"]
