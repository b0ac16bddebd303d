"""OutputTarget: nothing outside the named output, nothing half-written, nothing invalid."""
from __future__ import annotations

import os

import pytest

import predport
from predport import OutputError, OutputTarget, safe_relpath


@pytest.mark.parametrize("bad", ["../x.json", "a/../../x", "/etc/passwd", "C:\\x.json", "a\\b", "", ".", "a\x00b"])
def test_safe_relpath__refuses_paths_that_escape(bad):
    with pytest.raises(OutputError):
        safe_relpath(bad)


def test_safe_relpath__normalises_harmless_paths():
    assert str(safe_relpath("./a//b/c.json")) == "a/b/c.json"


def test_output__folder_commit_moves_files_and_leaves_no_staging(tmp_path, hub):
    out = tmp_path / "out"
    with OutputTarget(out, kind="folder", registry=hub.registry) as t:
        t.write_bytes("a/b.txt", b"hello")
        assert not (out / "a" / "b.txt").exists(), "visible before commit"
    assert (out / "a" / "b.txt").read_bytes() == b"hello"
    assert [p.name for p in out.iterdir()] == ["a"]


def test_output__error_inside_block_leaves_nothing(tmp_path, hub):
    out = tmp_path / "out"
    with pytest.raises(RuntimeError):
        with OutputTarget(out, kind="folder", registry=hub.registry) as t:
            t.write_bytes("x.txt", b"1")
            raise RuntimeError("writer crashed")
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_output__invalid_json_is_never_written(tmp_path, hub, small_set):
    out = tmp_path / "p.json"
    doc = small_set.to_json_dict()
    doc["frames"][0]["predictions"][0]["box"] = [1, 2, 3]
    with pytest.raises(predport.SchemaValidationError, match=r"frames\[0\]\.predictions\[0\]\.box"):
        with OutputTarget(out, kind="file", registry=hub.registry) as t:
            t.write_json(None, doc, schema=predport.PREDICTION_SET_ID)
    assert list(tmp_path.iterdir()) == []


def test_output__existing_file_needs_overwrite(tmp_path, hub):
    out = tmp_path / "p.json"
    out.write_text("keep me")
    with pytest.raises(OutputError, match="exists"):
        OutputTarget(out, kind="file", registry=hub.registry)
    assert out.read_text() == "keep me"


def test_output__non_empty_folder_needs_overwrite(tmp_path, hub):
    (tmp_path / "mine.txt").write_text("x")
    with pytest.raises(OutputError, match="not empty"):
        OutputTarget(tmp_path, kind="folder", registry=hub.registry)


def test_output__two_frames_on_one_file_is_an_error(tmp_path, hub):
    t = OutputTarget(tmp_path / "o", kind="folder", registry=hub.registry)
    t.write_bytes("a.txt", b"1")
    with pytest.raises(OutputError, match="same file"):
        t.write_bytes("a.txt", b"2")
    t.abort()
    assert not (tmp_path / "o").exists()


def test_output__link_leading_outside_is_refused(tmp_path, hub):
    out = tmp_path / "out"
    out.mkdir()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    os.symlink(outside, out / "sub")
    t = OutputTarget(out, kind="folder", registry=hub.registry, overwrite=True)
    t.write_bytes("sub/x.txt", b"1")
    with pytest.raises(OutputError, match="link"):
        t.commit()
    assert list(outside.iterdir()) == []


def test_output__user_made_empty_folder_survives_abort(tmp_path, hub):
    out = tmp_path / "out"
    out.mkdir()
    t = OutputTarget(out, kind="folder", registry=hub.registry)
    t.write_bytes("a.txt", b"1")
    t.abort()
    assert out.is_dir() and list(out.iterdir()) == []


def test_output__missing_parent_folders_are_created_and_removed_on_abort(tmp_path, hub):
    out = tmp_path / "a" / "b" / "out.json"
    t = OutputTarget(out, kind="file", registry=hub.registry)
    t.write_bytes(None, b"{}")
    t.abort()
    assert list(tmp_path.iterdir()) == []
    with OutputTarget(tmp_path / "x" / "y", kind="folder", registry=hub.registry) as t:
        t.write_bytes("f.txt", b"1")
    assert (tmp_path / "x" / "y" / "f.txt").read_bytes() == b"1"


def test_output__nested_path_through_outside_link_creates_nothing_outside(tmp_path, hub):
    out = tmp_path / "out"
    out.mkdir()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    os.symlink(outside, out / "link")
    t = OutputTarget(out, kind="folder", registry=hub.registry, overwrite=True)
    t.write_bytes("a.txt", b"1")
    t.write_bytes("link/sub/x.txt", b"1")
    with pytest.raises(OutputError, match="link"):
        t.commit()
    assert list(outside.iterdir()) == []
    assert not (out / "a.txt").exists(), "nothing is committed when one path is refused"


def test_output__folder_in_the_way_is_an_error_and_nothing_changes(tmp_path, hub):
    out = tmp_path / "out"
    (out / "b.txt").mkdir(parents=True)
    (out / "a.txt").write_text("old")
    t = OutputTarget(out, kind="folder", registry=hub.registry, overwrite=True)
    t.write_bytes("a.txt", b"new")
    t.write_bytes("b.txt", b"new")
    with pytest.raises(OutputError, match="in the way"):
        t.commit()
    assert (out / "a.txt").read_text() == "old"
    assert sorted(p.name for p in out.iterdir()) == ["a.txt", "b.txt"]
