"""Remote sources and outputs through fsspec, on the in-process ``memory://`` store.

The same inputs are read from a local path and from a copy on the store; everything
predport sees must be equal (votes, frames, categories, written bytes). The S3 server
tests (``test_storage_s3.py``) repeat the folder cases against a real server.
"""
from __future__ import annotations

import json
import os
import tempfile
import uuid
from pathlib import Path

import pytest

import predport
from predport import storage
from predport.cli import main

fsspec = pytest.importorskip("fsspec")

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SIZES = json.loads((EXAMPLES / "encord" / "sizes.json").read_text())

#: (input below examples/, load keyword arguments)
INPUTS = [
    ("coco/results.json", {}),
    ("kitti", {}),
    ("aquarium/frames.jsonl", {}),
    ("encord/predictions.json", {"image_sizes": SIZES}),
    ("yolo", {}),
    ("masks/predictions", {}),
]

#: (input, writer, output name): one case per writer.
WRITES = [
    ("coco/results.json", "canonical", "out.json"),
    ("coco/results.json", "canonical-jsonl", "out.jsonl"),
    ("coco/results.json", "coco", "results.json"),
    ("aquarium/frames.jsonl", "aquarium", "frames.jsonl"),
    ("yolo", "lightly", "lightly"),
    ("yolo", "yolo", "yolo"),
    ("kitti", "kitti", "kitti"),
    ("masks/predictions", "masks", "masks"),
    ("encord/predictions.json", "encord", "encord.json"),
]


@pytest.fixture
def mem(hub):
    """A fresh ``memory://`` root with the examples copied in; removed afterwards."""
    fs = fsspec.filesystem("memory")
    root = f"/t-{uuid.uuid4().hex[:8]}"
    fs.put(str(EXAMPLES), f"{root}/ex", recursive=True)
    yield fs, root
    fs.rm(root, recursive=True)


def _local_files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _remote_files(fs, key: str) -> dict[str, bytes]:
    return {p[len(key) + 1:]: fs.cat_file(p) for p in sorted(fs.find(key))}


@pytest.mark.parametrize("rel, kwargs", INPUTS, ids=[i[0] for i in INPUTS])
def test_remote__detection_and_frames_equal_local(mem, rel, kwargs):
    fs, root = mem
    url = f"memory://{root}/ex/{rel}"
    local = predport.detect(EXAMPLES / rel)
    remote = predport.detect(url)
    assert [(v.format, v.confidence, v.reason) for v in remote] == [(v.format, v.confidence, v.reason) for v in local]
    a = predport.load(EXAMPLES / rel, **kwargs)
    b = predport.load(url, **kwargs)
    assert b.frames == a.frames and b.categories == a.categories
    assert b.source.uri == url and b.source.format == a.source.format


@pytest.mark.parametrize("rel, to, name", WRITES, ids=[w[1] for w in WRITES])
def test_remote__every_writer_publishes_the_local_bytes_and_a_manifest(mem, tmp_path, rel, to, name):
    fs, root = mem
    kw = {"image_sizes": SIZES} if rel.startswith("encord") else {}
    local = tmp_path / name
    predport.convert(EXAMPLES / rel, local, to=to, allow_loss=True, **kw)
    summary = predport.convert(EXAMPLES / rel, f"memory://{root}/out/{name}", to=to, allow_loss=True, **kw)
    key = f"{root}/out/{name}"
    if local.is_file():
        assert fs.cat_file(key) == local.read_bytes()
        assert fs.ls(f"{root}/out", detail=False) == [key]  # no staging object left beside it
        assert summary["files"] == 1
        return
    want = _local_files(local)
    got = _remote_files(fs, key)
    manifest = json.loads(got.pop(storage.MANIFEST))
    assert got == want
    assert manifest["schema"] == "predport/manifest/1"
    assert {f["path"]: f["size"] for f in manifest["files"]} == {k: len(v) for k, v in want.items()}
    assert summary["files"] == len(want)


def test_remote__read_from_remote_write_to_remote_round_trips(mem):
    fs, root = mem
    predport.convert(f"memory://{root}/ex/yolo", f"memory://{root}/lightly", to="lightly", allow_loss=True)
    back = predport.load(f"memory://{root}/lightly")  # the manifest is not shown to the reader
    direct = predport.load(EXAMPLES / "yolo")
    assert [f.data_id for f in back.frames] == [f.data_id for f in direct.frames]
    assert [len(f.predictions) for f in back.frames] == [len(f.predictions) for f in direct.frames]


def test_remote__a_folder_is_read_without_its_siblings(mem, tmp_path):
    """KITTI looks for image_2/ beside label_2/ for names and sizes; a remote label_2
    reads as a local label_2 that has no image_2 beside it (name the tree to have both)."""
    fs, root = mem
    import shutil

    alone = tmp_path / "label_2"
    shutil.copytree(EXAMPLES / "kitti" / "label_2", alone)
    remote = predport.load(f"memory://{root}/ex/kitti/label_2")
    assert remote.frames == predport.load(alone).frames
    assert remote.frames[0].width is None
    tree = predport.load(f"memory://{root}/ex/kitti")
    assert tree.frames == predport.load(EXAMPLES / "kitti").frames and tree.frames[0].width == 1242


def test_remote__source_below_a_remote_path_is_remote(mem):
    fs, root = mem
    source = storage.remote_source(f"memory://{root}/ex/yolo")
    sub = predport.Source(source.path / "labels")
    assert isinstance(sub, storage.RemoteSource)
    assert (source.path / "labels").is_dir() and not (source.path / "nothing").exists()
    assert [p.as_posix() for p in sub.files(".txt")] == ["street_0001.txt", "street_0002.txt"]
    assert str(source.path) == f"memory://{root}/ex/yolo"


def test_remote__listing_is_bounded_like_local(mem, tmp_path):
    fs, root = mem
    n = predport.format_detection.LISTING_LIMIT + 37
    for i in range(n):
        name = f"f{i:05d}.txt"
        fs.pipe_file(f"{root}/many/{name}", b"0 0.5 0.5 0.1 0.1\n")
        (tmp_path / name).write_bytes(b"0 0.5 0.5 0.1 0.1\n")
    remote = storage.remote_source(f"memory://{root}/many")
    local = predport.Source(tmp_path)
    assert remote.listing() == local.listing()
    assert remote.listing_truncated and local.listing_truncated
    assert len(remote.listing()) == predport.format_detection.LISTING_LIMIT


def test_remote__head_read_by_detection_is_not_downloaded_again(mem, monkeypatch):
    fs, root = mem
    source = storage.remote_source(f"memory://{root}/ex/coco/results.json")
    assert source.head().startswith(b"[")
    fetched = []
    monkeypatch.setattr(type(fs), "get_file", lambda self, *a, **k: fetched.append(a))
    spool = storage.Spool(source)
    try:
        assert spool.local.read_bytes() == (EXAMPLES / "coco" / "results.json").read_bytes()
        assert fetched == []
    finally:
        spool.close()
    assert not spool.root.exists()


def test_remote__spool_is_removed_when_the_stream_ends(mem, tmp_path, monkeypatch):
    fs, root = mem
    # spools in a folder of this test only: /tmp is shared with other runs' spools
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    stream = predport.open_stream(f"memory://{root}/ex/masks/predictions")
    spools = [p for p in tmp_path.glob("predport-spool-*")]
    assert spools
    frames = list(stream.frames)
    assert len(frames) == 2
    assert all(not p.exists() for p in spools)


def test_remote__errors_name_the_remote_object(mem):
    fs, root = mem
    fs.pipe_file(f"{root}/bad/results.json", b'[{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3], "score": 0.5}]')
    url = f"memory://{root}/bad/results.json"
    with pytest.raises(predport.PredportError) as info:
        predport.load(url, format="coco")
    assert info.value.file == url
    assert "/predport-spool-" not in str(info.value)


def test_remote__existing_output_is_refused_before_anything_is_written(mem):
    fs, root = mem
    url = f"memory://{root}/out.json"
    predport.convert(EXAMPLES / "coco" / "results.json", url)
    first = fs.cat_file(f"{root}/out.json")
    with pytest.raises(predport.OutputError, match="exists"):
        predport.convert(EXAMPLES / "aquarium" / "frames.jsonl", url)
    assert fs.cat_file(f"{root}/out.json") == first
    predport.convert(EXAMPLES / "aquarium" / "frames.jsonl", url, overwrite=True)
    assert b'"aquarium"' in fs.cat_file(f"{root}/out.json")


def test_remote__folder_overwrite_reports_files_from_before(mem):
    fs, root = mem
    fs.pipe_file(f"{root}/yolo/old.txt", b"x")
    url = f"memory://{root}/yolo"
    with pytest.raises(predport.OutputError, match="not empty"):
        predport.convert(EXAMPLES / "yolo", url, to="yolo")
    summary = predport.convert(EXAMPLES / "yolo", url, to="yolo", overwrite=True)
    assert any("old.txt" in w for w in summary["report"]["warnings"])


def test_remote__failed_upload_publishes_nothing_and_removes_its_staging(mem, monkeypatch):
    fs, root = mem
    url = f"memory://{root}/lightly"
    real_copy = type(fs).copy

    def failing_copy(self, path1, path2, *args, **kwargs):
        real_copy(self, path1[:1], path2[:1], *args, **kwargs)  # one file lands, then the store fails
        raise OSError("connection reset")

    monkeypatch.setattr(type(fs), "copy", failing_copy)
    with pytest.raises(predport.OutputError, match="nothing was published.*removed") as info:
        predport.convert(EXAMPLES / "yolo", url, to="lightly", allow_loss=True)
    assert "not resumable" in str(info.value)
    left = [p for p in fs.find(f"{root}/lightly")]
    assert not any(storage.STAGING_MARK in p or p.endswith(storage.MANIFEST) for p in left)


def test_remote__unpublished_folder_is_refused_when_read(mem):
    fs, root = mem
    fs.pipe_file(f"{root}/half/object_detection/schema.json",
                 (EXAMPLES / ".." / "examples" / "coco" / "gt.json").read_bytes()[:0] + b"{}")
    fs.pipe_file(f"{root}/half/{storage.STAGING_MARK}123-abcd/object_detection/a.json", b"{}")
    with pytest.raises(predport.OutputError, match="unpublished predport upload"):
        predport.load(f"memory://{root}/half", format="lightly")


def test_remote__incomplete_published_folder_is_refused(mem):
    fs, root = mem
    predport.convert(EXAMPLES / "yolo", f"memory://{root}/y", to="yolo")
    fs.rm_file(f"{root}/y/labels/street_0002.txt")
    with pytest.raises(predport.OutputError, match="incomplete: labels/street_0002.txt"):
        predport.load(f"memory://{root}/y")


def test_remote__stale_staging_of_a_dead_writer_is_removed_by_the_next_write(mem):
    fs, root = mem
    dead = {"host": storage.socket.gethostname(), "pid": 2 ** 22 + 12345, "started": 0}
    fs.pipe_file(f"{root}/y/{storage.STAGING_MARK}1-dead/.lease", json.dumps(dead).encode())
    fs.pipe_file(f"{root}/y/{storage.STAGING_MARK}1-dead/labels/a.txt", b"0 0.5 0.5 0.1 0.1\n")
    alive = {"host": storage.socket.gethostname(), "pid": os.getpid(), "started": 0}
    fs.pipe_file(f"{root}/y/{storage.STAGING_MARK}2-live/.lease", json.dumps(alive).encode())
    summary = predport.convert(EXAMPLES / "yolo", f"memory://{root}/y", to="yolo")
    assert any("1-dead" in w and "interrupted upload" in w for w in summary["report"]["warnings"])
    names = fs.ls(f"{root}/y", detail=False)
    assert not any("1-dead" in n for n in names)
    assert any("2-live" in n for n in names)  # a writer that is still running is left alone


def test_remote__unknown_protocol_and_read_only_http_are_refused(hub, tmp_path):
    with pytest.raises(predport.ConfigError, match="unknown storage protocol 'nosuch'"):
        predport.load("nosuch://bucket/x.json")
    with pytest.raises(predport.OutputError, match="read-only"):
        predport.convert(EXAMPLES / "coco" / "results.json", "https://example.invalid/out.json")


def test_remote__file_url_is_a_local_path(hub, tmp_path):
    out = tmp_path / "o.json"
    predport.convert(f"file://{EXAMPLES / 'coco' / 'results.json'}", f"file://{out}")
    assert predport.load(out).frames == predport.load(EXAMPLES / "coco" / "results.json").frames


def test_cli__convert_and_detect_remote_with_storage_options(mem, tmp_path, capsys):
    fs, root = mem
    url = f"memory://{root}/ex/kitti"
    assert main(["detect", url, "--storage-option", "skip_instance_cache=true"]) == 0
    assert capsys.readouterr().out.startswith("kitti")
    assert main(["convert", url, f"memory://{root}/o.jsonl", "-q"]) == 0
    assert main(["convert", str(EXAMPLES / "kitti"), str(tmp_path / "o.jsonl"), "-q"]) == 0
    remote = fs.cat_file(f"{root}/o.jsonl").split(b"\n")
    local = (tmp_path / "o.jsonl").read_bytes().split(b"\n")
    assert remote[1:] == local[1:]  # frames byte for byte; the head names each input's own uri
    assert json.loads(remote[0])["source"]["uri"] == url
    assert main(["convert", "nosuch://x", str(tmp_path / "p.json")]) == 1
    assert "unknown storage protocol" in capsys.readouterr().err
