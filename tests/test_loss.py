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


def test_loss__refused_with_per_field_counts_and_nothing_written(tmp_path, boxes_only, small_set):
    out = tmp_path / "o.json"
    with pytest.raises(predport.LossError) as info:
        predport.save(small_set, out, "boxes-only")
    assert info.value.report == {
        "frames.frame_index": 1,
        "frames.width/height": 1,
        "predictions.attributes": 1,
        "predictions.keypoints": 1,
        "predictions.mask": 1,
        "predictions.polygon": 1,
        "predictions.probabilities": 1,
        "categories.external_id": 1,
    }
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_loss__allowed_converts_and_reports_the_same_table(tmp_path, boxes_only, small_set):
    out = tmp_path / "o.json"
    summary = predport.save(small_set, out, "boxes-only", allow_loss=True)
    assert summary["loss"]["predictions.mask"] == 1 and out.exists()


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


def test_loss__nothing_lost_when_target_holds_everything(tmp_path, boxes_only):
    ps = predport.PredictionSet(categories=[predport.Category(id=1, name="car")], frames=[
        predport.Frame(data_id="a", predictions=predport.Detections([1], [0.5], [[1, 2, 3, 4]]))])
    summary = predport.save(ps, tmp_path / "o.json", "boxes-only")
    assert summary["loss"] == {}


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
    ps = predport.PredictionSet(categories=[predport.Category(id=1, name="car")], frames=[
        predport.Frame(data_id="a", predictions=predport.Detections(
            [1], [0.5], polygon=[[[0, 0, 1, 0, 1, 1], [0, 0, 2, 0, 2, 2], [5, 5, 6, 5, 6, 6]]]))])
    with pytest.raises(predport.LossError) as info:
        predport.save(ps, tmp_path / "o.json", "one-ring")
    assert info.value.report == {"predictions.polygon (rings after the first)": 2}
    assert not (tmp_path / "o.json").exists()
