"""OutputTarget for writers that write through a third-party library (stage_folder, in_place, on_commit)."""
from __future__ import annotations

from pathlib import Path

import pytest

import predport
from predport import OutputError, OutputTarget


def test_stage_folder__files_a_library_wrote_move_into_place_on_commit(tmp_path: Path) -> None:
    dest = tmp_path / "out"
    with OutputTarget(dest) as target:
        folder = target.stage_folder()
        (folder / "log").mkdir()
        (folder / "log" / "0001.jsonl").write_text("{}")
        (folder / "chunk").write_bytes(b"\x00\x01")
        assert not (dest / "chunk").exists()                    # nothing visible before the commit
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()) == \
        ["chunk", "log/0001.jsonl"]
    assert not [p for p in dest.iterdir() if p.name.startswith(".predport-staging-")]


def test_stage_folder__abort_leaves_nothing(tmp_path: Path) -> None:
    dest = tmp_path / "out"
    target = OutputTarget(dest)
    (target.stage_folder("sub") / "x").write_text("1")
    target.abort()
    assert not dest.exists()


def test_stage_folder__a_link_written_by_the_library_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("s")
    target = OutputTarget(tmp_path / "out")
    (target.stage_folder() / "link").symlink_to(tmp_path / "secret")
    with pytest.raises(OutputError, match="link"):
        target.commit()
    target.abort()
    assert not (tmp_path / "out").exists()


def test_in_place__only_for_formats_declared_in_place(tmp_path: Path) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "old").write_text("old")
    with pytest.raises(OutputError, match="not empty"):
        OutputTarget(dest)
    target = OutputTarget(dest, in_place=True)
    assert target.in_place() == dest
    with pytest.raises(OutputError, match="not empty"):            # staging into it stays refused
        target.write_bytes("new", b"x")
    target.commit()
    assert target.left_over == []
    with pytest.raises(OutputError, match="does not update outputs in place"):
        OutputTarget(tmp_path / "other").in_place()


def test_on_commit__steps_run_at_commit_only_and_a_failing_step_aborts(tmp_path: Path) -> None:
    ran: list[str] = []
    target = OutputTarget(tmp_path / "a")
    target.on_commit(lambda: ran.append("a"))
    assert ran == []
    target.commit()
    assert ran == ["a"]
    target = OutputTarget(tmp_path / "b")
    target.on_commit(lambda: ran.append("b"))
    target.abort()
    assert ran == ["a"]

    def boom() -> None:
        raise OutputError("library commit failed")

    with pytest.raises(OutputError, match="library commit failed"):
        with OutputTarget(tmp_path / "c") as target:
            target.write_bytes("f", b"x")
            target.on_commit(boom)
    assert not (tmp_path / "c").exists()


def test_on_commit__the_hub_runs_it_only_after_the_loss_check(tmp_path: Path) -> None:
    """A writer's commit step never runs when the conversion is refused for loss."""
    import types

    ran: list[int] = []
    plugin = types.ModuleType("library_writer_probe")

    @predport.hookimpl
    def formats():
        return [predport.FormatInfo(id="probe-lib", title="probe", can_read=False, can_write=True,
                                    target="folder", in_place=True, holds=frozenset({"box"}))]

    @predport.hookimpl
    def from_canonical(stream, format, target):
        if format != "probe-lib":
            return None
        frames = list(stream.frames)
        target.on_commit(lambda: ran.append(len(frames)))
        return True

    plugin.formats, plugin.from_canonical = formats, from_canonical
    hub = predport.get_hub()
    hub.register(plugin, name="library_writer_probe")
    try:
        data = predport.PredictionSet(
            source=predport.SourceInfo(format="canonical", uri="mem", plugin="t"),
            categories=[predport.Category(id=1, name="a")],
            frames=[predport.Frame(data_id="x", predictions=predport.Detections([1], [0.5], [[1, 2, 3, 4]]))])
        with pytest.raises(predport.LossError):
            predport.save(data, tmp_path / "o", "probe-lib")          # scores are not held
        assert ran == []
        predport.save(data, tmp_path / "o", "probe-lib", allow_loss=True)
        assert ran == [1]
    finally:
        hub.unregister("library_writer_probe")
