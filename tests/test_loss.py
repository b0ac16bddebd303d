"""Loss reports: a target that cannot hold something refuses, or converts with --allow-loss."""
from __future__ import annotations

import types

import orjson
import pytest

import predport
from predport.cli import main


def _boxes_only_writer() -> types.ModuleType:
    mod = types.ModuleType("boxes_only")

    @predport.hookimpl
    def formats():
        return [predport.FormatInfo(id="boxes-only", title="Boxes only", can_read=False, can_write=True,
                                    target="file", holds=frozenset({"box", "score"}))]

    @predport.hookimpl
    def from_canonical(stream, format, target):
        if format != "boxes-only":
            return None
        rows = [[f.data_id, r["category_id"], r.get("box"), r["score"]]
                for f in stream.frames for r in f.predictions.to_records()]
        target.write_bytes(None, orjson.dumps(rows))
        return True

    mod.formats, mod.from_canonical = formats, from_canonical
    return mod


@pytest.fixture
def boxes_only(hub):
    hub.register(_boxes_only_writer(), name="boxes-only")
    return hub


def test_loss__refused_at_the_first_lossy_frame_and_nothing_written(tmp_path, boxes_only, small_set):
    out = tmp_path / "o.json"
    with pytest.raises(predport.LossError) as info:
        predport.save(small_set, out, "boxes-only")
    # The first frame already loses content: the refusal names what it lost, and no later frame
    # (the video frame's index) was looked at.
    assert info.value.report == {
        "frames.width/height": 1,
        "predictions.attributes": 1,
        "predictions.keypoints": 1,
        "predictions.mask": 1,
        "predictions.polygon": 1,
        "predictions.probabilities": 1,
    }
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_loss__allowed_reports_every_kind_apart(tmp_path, boxes_only, small_set):
    out = tmp_path / "o.json"
    summary = predport.save(small_set, out, "boxes-only", allow_loss=True)
    assert summary["loss"] == {
        "categories.external_id": 1,
        "categories.name": 2,
        "frames (without predictions)": 1,
        "frames.frame_index": 1,
        "frames.width/height": 1,
        "predictions.attributes": 1,
        "predictions.keypoints": 1,
        "predictions.mask": 1,
        "predictions.polygon": 1,
        "predictions.probabilities": 1,
    }
    assert summary["lost_metadata"] == {"frames.width/height": 1}
    assert "frames.width/height" not in summary["lost_content"] and out.exists()


def test_loss__named_kinds_allow_only_those(tmp_path, boxes_only, small_set):
    kinds = "masks,polygons,keypoints,probabilities,attributes"
    with pytest.raises(predport.LossError) as info:
        predport.save(small_set, tmp_path / "a.json", "boxes-only", allow_loss=kinds)
    # The first frame passes; the second loses its frame index (and is empty).
    assert info.value.report["frames.frame_index"] == 1
    assert "--allow-loss empty-frames,frame-index" in str(info.value.hint)
    summary = predport.save(small_set, tmp_path / "b.json", "boxes-only",
                            allow_loss=kinds + ",frame-index,empty-frames,categories")
    assert summary["lost_metadata"] == {"frames.width/height": 1}
    with pytest.raises(predport.ConfigError, match="unknown loss kind"):
        predport.save(small_set, tmp_path / "c.json", "boxes-only", allow_loss="size")


def test_loss__frame_metadata_is_reported_not_refused_unless_strict(tmp_path, boxes_only):
    ps = predport.PredictionSet(categories=[predport.Category(id=1, name="1")], frames=[
        predport.Frame(data_id="a", width=20, height=10, attributes={"weather": "rain", "camera": 2},
                       predictions=predport.Detections([1], [0.5], [[1, 2, 3, 4]]))])
    summary = predport.save(ps, tmp_path / "o.json", "boxes-only")
    assert summary["loss"] == {"frames.attributes.camera": 1, "frames.attributes.weather": 1,
                               "frames.width/height": 1}
    assert summary["lost_content"] == {}
    with pytest.raises(predport.LossError) as info:
        predport.save(ps, tmp_path / "s.json", "boxes-only", strict_loss=True)
    assert info.value.report == summary["loss"] and not (tmp_path / "s.json").exists()
    # Strict, but the kinds named are allowed.
    assert predport.save(ps, tmp_path / "t.json", "boxes-only", strict_loss=True,
                         allow_loss=["sizes", "frame-attributes"])["loss"] == summary["loss"]


def test_loss__table_shows_content_and_metadata_apart():
    from predport.loss import format_loss_table, kind_of

    text = format_loss_table({"predictions.mask": 2, "frames.width/height": 5, "categories.name": 1})
    head, _, tail = text.partition("\n\n")
    assert head.startswith("prediction content (refused unless allowed):")
    assert "predictions.mask" in head and "categories.name" in head and "frames.width" not in head
    assert tail.startswith("frame metadata the target has no place for (reported):") and "frames.width/height" in tail
    assert [kind_of(k) for k in ("predictions.box (beside a polygon)", "predictions (no box or polygon)",
                                 "frames.attributes.weather", "categories.external_id", "something new")] == \
        ["boxes", "predictions", "frame-attributes", "categories", "predictions"]


def test_loss__cli_exits_3_with_table_then_allow_loss_succeeds(tmp_path, boxes_only, small_set, capsys):
    src = tmp_path / "in.json"
    predport.save(small_set, src)
    out = tmp_path / "o.bin"
    assert main(["convert", str(src), str(out), "--to", "boxes-only"]) == 3
    err = capsys.readouterr().err
    assert "cannot hold everything" in err and "predictions.polygon" in err and "--allow-loss" in err
    assert not out.exists()
    assert main(["convert", str(src), str(out), "--to", "boxes-only", "--allow-loss"]) == 0
    text = capsys.readouterr().out
    assert "lost (allowed by --allow-loss)" in text and "predictions.mask" in text
    out2 = tmp_path / "o2.bin"
    assert main(["convert", str(src), str(out2), "--to", "boxes-only", "--allow-loss=masks"]) == 3
    assert "--allow-loss " in capsys.readouterr().err and not out2.exists()


def test_loss__nothing_lost_when_target_holds_everything(tmp_path, boxes_only):
    ps = predport.PredictionSet(categories=[predport.Category(id=1, name="1")], frames=[
        predport.Frame(data_id="a", predictions=predport.Detections([1], [0.5], [[1, 2, 3, 4]]))])
    summary = predport.save(ps, tmp_path / "o.json", "boxes-only")
    assert summary["loss"] == {}  # a category named by its id has no name to lose


def test_loss__partial_loss_reported_by_a_writer_is_refused_like_a_missing_field(tmp_path, hub):
    mod = types.ModuleType("one_ring")

    @predport.hookimpl
    def formats():
        return [predport.FormatInfo(id="one-ring", title="One ring", can_read=False, can_write=True,
                                    holds=frozenset({"polygon", "score"}))]

    @predport.hookimpl
    def from_canonical(stream, format, target, context):
        if format != "one-ring":
            return None
        for f in stream.frames:
            for r in f.predictions.to_records():
                context.report.loss("predictions.polygon (rings after the first)", len(r["polygon"]) - 1)
        target.write_bytes(None, b"{}")
        return True

    mod.formats, mod.from_canonical = formats, from_canonical
    hub.register(mod, name="one-ring")
    ps = predport.PredictionSet(categories=[predport.Category(id=1, name="1")], frames=[
        predport.Frame(data_id="a", predictions=predport.Detections(
            [1], [0.5], polygon=[[[0, 0, 1, 0, 1, 1], [0, 0, 2, 0, 2, 2], [5, 5, 6, 5, 6, 6]]]))])
    with pytest.raises(predport.LossError) as info:
        predport.save(ps, tmp_path / "o.json", "one-ring")
    assert info.value.report == {"predictions.polygon (rings after the first)": 2}
    assert not (tmp_path / "o.json").exists()
