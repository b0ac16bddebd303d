"""The folder commit is a transaction: any interruption leaves exactly the old or exactly the new output.

Interruptions are placed at every rename of a commit: an exception raised by the rename
itself (``KeyboardInterrupt`` as Ctrl-C and SIGTERM raise it, an ``OSError``), and a
SIGKILL of a child process at that rename, after which the next run into the output
must roll back (or finish) what the killed run left.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import predport
from predport import OutputError, OutputTarget
from predport.output import STAGING_PREFIX, output_state

OLD = {"a.txt": b"old a", "sub/b.txt": b"old b", "keep.txt": b"untouched", "sub/deep/c.txt": b"old c"}
NEW = {"a.txt": b"new a", "sub/b.txt": b"new b", "sub/deep/c.txt": b"new c", "fresh/x/y.txt": b"new y",
       "z.txt": b"new z"}


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every file (bytes) and folder (None) below ``root``; staging folders are reported by name."""
    out: dict[str, bytes | None] = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        out[rel] = p.read_bytes() if p.is_file() else None
    return out


def make_old(out: Path) -> dict[str, bytes | None]:
    for rel, data in OLD.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(data)
    return snapshot(out)


def expected_new(old: dict[str, bytes | None]) -> dict[str, bytes | None]:
    """--overwrite replaces files of the same name and deletes nothing else."""
    new = dict(old)
    for rel, data in NEW.items():
        new[rel] = data
        parts = rel.split("/")
        for i in range(1, len(parts)):
            new["/".join(parts[:i])] = None
    return dict(sorted(new.items()))


def stage(out: Path, registry) -> OutputTarget:
    t = OutputTarget(out, kind="folder", registry=registry, overwrite=True)
    for rel, data in NEW.items():
        t.write_bytes(rel, data)
    return t


def count_renames(tmp_path: Path, registry, monkeypatch) -> int:
    out = tmp_path / "count"
    out.mkdir()
    make_old(out)
    calls = []
    real = os.replace
    t = stage(out, registry)
    monkeypatch.setattr("predport.output.os.replace", lambda *a: (calls.append(a), real(*a))[1])
    t.commit()
    monkeypatch.setattr("predport.output.os.replace", real)
    return len(calls)


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, OSError])
def test_commit__exception_at_every_rename_leaves_old_or_new_output(tmp_path, hub, monkeypatch, exc_type):
    total = count_renames(tmp_path, hub.registry, monkeypatch)
    assert total >= len(NEW) + 4  # the journal, the backups, the files, the commit point
    real = os.replace
    for k in range(total + 1):
        out = tmp_path / f"out{k}"
        out.mkdir()
        old = make_old(out)
        calls = {"n": 0}

        def flaky(src, dst, k=k, calls=calls):
            calls["n"] += 1
            if calls["n"] == k + 1:
                raise exc_type("interrupted here") if exc_type is KeyboardInterrupt else OSError(28, "No space")
            return real(src, dst)

        t = stage(out, hub.registry)
        monkeypatch.setattr("predport.output.os.replace", flaky)
        try:
            t.commit()
            raised = None
        except (KeyboardInterrupt, OutputError) as exc:
            raised = exc
        finally:
            monkeypatch.setattr("predport.output.os.replace", real)
        now = snapshot(out)
        assert not any(STAGING_PREFIX in rel for rel in now), f"staging left after an interruption at rename {k}"
        if raised is None:
            assert k == total and now == expected_new(old)
        elif now == old:
            assert isinstance(raised, OutputError) or output_state(raised) == "unchanged", k
        else:
            assert now == expected_new(old), f"mixed output after an interruption at rename {k}"
            assert output_state(raised) == "written", k


_CHILD = textwrap.dedent('''
    import os, signal, sys
    import predport
    from predport import OutputTarget
    k = int(sys.argv[2])

    real = os.replace
    calls = {"n": 0}
    def killing(src, dst):
        real(src, dst)
        calls["n"] += 1
        if calls["n"] == k + 1:  # killed right after this rename
            os.kill(os.getpid(), signal.SIGKILL)
    NEW = %r
    t = OutputTarget(sys.argv[1], kind="folder", registry=predport.get_hub().registry, overwrite=True)
    for rel, data in NEW.items():
        t.write_bytes(rel, data)
    import predport.output
    predport.output.os.replace = killing
    t.commit()
''' % (NEW,))


def test_commit__sigkill_at_every_rename_is_recovered_by_the_next_run(tmp_path, hub, monkeypatch):
    total = count_renames(tmp_path, hub.registry, monkeypatch)
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    outcomes = set()
    for k in range(total):
        out = tmp_path / f"out{k}"
        out.mkdir()
        old = make_old(out)
        proc = subprocess.run([sys.executable, str(script), str(out), str(k)], capture_output=True, timeout=60)
        assert proc.returncode == -9, proc.stderr.decode()
        assert any(STAGING_PREFIX in rel for rel in snapshot(out)), "a killed run leaves its staging"
        nxt = OutputTarget(out, kind="folder", registry=hub.registry, overwrite=True)  # the next run
        nxt.abort()
        now = snapshot(out)
        assert not any(STAGING_PREFIX in rel for rel in now)
        if now == old:
            outcomes.add("old")
        else:
            assert now == expected_new(old), f"mixed output after SIGKILL at rename {k}"
            outcomes.add("new")
        assert nxt.notes and "interrupted" in nxt.notes[0] and STAGING_PREFIX not in nxt.notes[0]
    assert outcomes == {"old", "new"}  # kills landed on both sides of the commit point


def test_commit__stale_staging_without_journal_is_removed_and_does_not_hide_content(tmp_path, hub):
    out = tmp_path / "out"
    stale = out / f"{STAGING_PREFIX}123-deadbeef"
    (stale / "new").mkdir(parents=True)
    (stale / ".lock").write_bytes(b"")
    (stale / "new" / "half.txt").write_bytes(b"half written")
    t = OutputTarget(out, kind="folder", registry=hub.registry)  # empty apart from the stale staging
    assert not stale.exists()
    assert t.notes == [f"removed the unfinished files of an earlier, interrupted run into {out}"]
    t.abort()
    assert out.is_dir() and list(out.iterdir()) == []


def test_commit__live_staging_of_a_concurrent_run_is_left_alone(tmp_path, hub):
    out = tmp_path / "out"
    first = OutputTarget(out, kind="folder", registry=hub.registry)
    first.write_bytes("a.txt", b"1")
    second = OutputTarget(out, kind="folder", registry=hub.registry)
    assert second.notes == []
    second.write_bytes("b.txt", b"2")
    second.commit()
    first.commit()
    assert snapshot(out) == {"a.txt": b"1", "b.txt": b"2"}


@pytest.mark.parametrize("data_id", [f"{STAGING_PREFIX}x.json", f"sub/{STAGING_PREFIX}1-ab/new/a.txt"])
def test_commit__a_data_id_never_collides_with_the_staging_name(tmp_path, hub, data_id):
    t = OutputTarget(tmp_path / "out", kind="folder", registry=hub.registry)
    with pytest.raises(OutputError, match="reserved"):
        t.write_bytes(data_id, b"1")
    t.abort()
    assert not (tmp_path / "out").exists()


def test_commit__file_output_stale_staging_is_removed(tmp_path, hub):
    dest = tmp_path / "p.json"
    stale = tmp_path / f".p.json{STAGING_PREFIX}1-ab"
    (stale / "new").mkdir(parents=True)
    (stale / ".lock").write_bytes(b"")
    (stale / "new" / "p.json").write_bytes(b"{")
    with OutputTarget(dest, kind="file", registry=hub.registry) as t:
        t.write_bytes(None, b"{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.json"] and dest.read_bytes() == b"{}"
    assert t.notes


def test_commit__folder_named_like_staging_but_not_ours_is_content(tmp_path, hub):
    out = tmp_path / "out"
    (out / f"{STAGING_PREFIX}mine").mkdir(parents=True)
    (out / f"{STAGING_PREFIX}mine" / "data.txt").write_text("user data")
    with pytest.raises(OutputError, match="not empty"):
        OutputTarget(out, kind="folder", registry=hub.registry)
    assert (out / f"{STAGING_PREFIX}mine" / "data.txt").read_text() == "user data"


def test_commit__removal_of_staging_interrupted_keeps_the_lock_so_the_next_run_removes_it(tmp_path, monkeypatch):
    """Found by the real-CLI kill tests: a SIGTERM while the staging folder was being removed could
    delete its lock first; a staging folder without a lock is left alone (someone else's) forever."""
    from predport import output as out

    staging = tmp_path / f"{STAGING_PREFIX}x"
    (staging / "new" / "sub").mkdir(parents=True)
    (staging / "new" / "sub" / "a.txt").write_text("x")
    (staging / "old").mkdir()
    (staging / ".lock").write_text("")
    real, calls = out.shutil.rmtree, []

    def interrupted(path, *args, **kwargs):
        calls.append(path)
        if len(calls) == 2:
            raise KeyboardInterrupt
        real(path, *args, **kwargs)

    monkeypatch.setattr(out.shutil, "rmtree", interrupted)
    with pytest.raises(KeyboardInterrupt):
        out._remove_staging(staging)
    assert (staging / ".lock").exists()
    monkeypatch.setattr(out.shutil, "rmtree", real)
    notes = out.recover(tmp_path, STAGING_PREFIX)
    assert not staging.exists() and len(notes) == 1
