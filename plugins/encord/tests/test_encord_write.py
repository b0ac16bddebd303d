"""Writing Encord records: pixels -> normalised, schema and Encord's box rule, round trips."""
from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import jsonschema
import numpy as np
import pytest

import predport

IMAGE = "c115344f-6869-4608-a4b8-644241fea10c"
VIDEO = "9f4dae86-cad4-42f8-bb47-b179eb2e4886"


def schema() -> dict:
    text = (resources.files("predport_encord") / "schemas" / "encord-record-1.schema.json").read_text("utf-8")
    return json.loads(text)


def read_records(path: Path) -> list[dict]:
    text = path.read_text()
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return json.loads(text)


def assert_encord_valid(records: list[dict]) -> None:
    """The committed schema (independent validator) and Encord's own box rule."""
    doc = schema()
    jsonschema.Draft202012Validator({**doc, "$ref": "#/$defs/List"}).validate(records)
    for rec in records:
        obj = rec.get("object")
        if obj and obj["format"] == "bounding-box":
            d = obj["data"]
            assert d["x"] + d["w"] <= 1 and d["y"] + d["h"] <= 1, rec


def one_frame_set(dets: "predport.Detections", *, width=640, height=480, data_id="img", frame_index=None,
                  categories=None) -> "predport.PredictionSet":
    cats = categories or [predport.Category(id=1, name="car", external_id="OTk2MzM3"),
                          predport.Category(id=2, name="person", external_id="NzYyMjcx")]
    return predport.PredictionSet(
        categories=cats,
        frames=[predport.Frame(data_id=data_id, frame_index=frame_index, width=width, height=height,
                               predictions=dets)],
    )


# -- normalisation ------------------------------------------------------------------------------
def test_write__box_normalised_by_frame_size(tmp_path: Path) -> None:
    dets = predport.Detections(category_id=[1], score=[0.93], box=[[64.0, 96.0, 192.0, 192.0]])
    out = tmp_path / "out.json"
    predport.save(one_frame_set(dets), out, format="encord")
    records = read_records(out)
    assert records == [{
        "data_hash": "img", "frame": 0, "confidence": 0.93, "width": 640, "height": 480,
        "object": {"feature_hash": "OTk2MzM3", "format": "bounding-box",
                   "data": {"x": 0.1, "y": 0.2, "w": 0.3, "h": 0.4}},
    }]
    assert_encord_valid(records)


def test_write__polygon_normalised_pairs(tmp_path: Path) -> None:
    dets = predport.Detections(category_id=[2], score=[0.5], polygon=[[[64.0, 48.0, 320.0, 48.0, 320.0, 240.0]]])
    out = tmp_path / "out.json"
    predport.save(one_frame_set(dets), out, format="encord")
    rec = read_records(out)[0]
    assert rec["object"] == {"feature_hash": "NzYyMjcx", "format": "polygon",
                             "data": [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]]}


def test_write__classification_from_hash_attributes(tmp_path: Path) -> None:
    dets = predport.Detections(category_id=[1], score=[0.3],
                               attributes=[{"attribute_hash": "d446851e", "option_hash": "376b9761"}])
    out = tmp_path / "out.json"
    predport.save(one_frame_set(dets, width=None, height=None, frame_index=4), out, format="encord")
    assert read_records(out) == [{
        "data_hash": "img", "frame": 4, "confidence": 0.3,
        "classification": {"feature_hash": "OTk2MzM3", "attribute_hash": "d446851e", "option_hash": "376b9761"},
    }]


def test_write__box_touching_the_edge_keeps_x_plus_w_at_most_one(tmp_path: Path) -> None:
    # Boxes ending exactly on the right/bottom edge: x / W + w / W can round above 1.
    rows = []
    rng = np.random.default_rng(1)
    for size in (640, 480, 720, 1080, 1280, 1920):
        for _ in range(2000):
            x = float(rng.random() * size)
            if x / size + (size - x) / size > 1:
                rows.append((size, x))
    assert rows, "no float-noise case found; the test would prove nothing"
    frames = [predport.Frame(data_id=f"i{k}", width=size, height=size,
                             predictions=predport.Detections(category_id=[1], score=[0.5],
                                                             box=[[x, x, size - x, size - x]]))
              for k, (size, x) in enumerate(rows)]
    out = tmp_path / "edge.json"
    predport.save(predport.PredictionSet(categories=[predport.Category(id=1, name="car")], frames=frames),
                  out, format="encord")
    records = read_records(out)
    assert len(records) == len(rows)
    assert_encord_valid(records)
    back = predport.load(out)  # width/height travel in the records
    for (size, x), frame in zip(rows, back.frames):
        np.testing.assert_allclose(frame.predictions.box[0], [x, x, size - x, size - x], atol=1e-9)


# -- file layout and options ---------------------------------------------------------------------
def test_write__jsonl_when_name_ends_in_jsonl(tmp_path: Path) -> None:
    dets = predport.Detections(category_id=[1, 2], score=[0.9, 0.8], box=[[0, 0, 64, 48], [64, 48, 64, 48]])
    out = tmp_path / "out.jsonl"
    predport.save(one_frame_set(dets), out, format="encord")
    lines = out.read_text().splitlines()
    assert len(lines) == 2 and all(json.loads(line)["data_hash"] == "img" for line in lines)
    assert_encord_valid([json.loads(line) for line in lines])


def test_write__lines_option_overrides_the_name(tmp_path: Path) -> None:
    dets = predport.Detections(category_id=[1], score=[0.9], box=[[0, 0, 64, 48]])
    out = tmp_path / "out.json"
    predport.save(one_frame_set(dets), out, format="encord", options={"lines": "true"})
    assert json.loads(out.read_text().splitlines()[0])["confidence"] == 0.9


def test_write__sizes_false_writes_encords_keys_only(tmp_path: Path) -> None:
    dets = predport.Detections(category_id=[1], score=[0.9], box=[[0, 0, 64, 48]])
    out = tmp_path / "out.json"
    ctx = predport.make_context(options={"sizes": False})
    predport.get_hub().write(predport.PredictionStream.from_set(one_frame_set(dets)), out, format="encord",
                             context=ctx)
    assert set(read_records(out)[0]) == {"data_hash", "frame", "confidence", "object"}
    assert ctx.report.counts["encord: image sizes not written (sizes=false)"] == 1


def test_write__size_from_context_when_frame_has_none(tmp_path: Path) -> None:
    dets = predport.Detections(category_id=[1], score=[0.9], box=[[10, 10, 20, 20]])
    out = tmp_path / "out.json"
    predport.save(one_frame_set(dets, width=None, height=None), out, format="encord", image_sizes={"img": [100, 200]})
    assert read_records(out)[0]["object"]["data"] == {"x": 0.1, "y": 0.05, "w": 0.2, "h": 0.1}


def test_write__missing_size_is_error_naming_frame_and_nothing_written(tmp_path: Path) -> None:
    dets = predport.Detections(category_id=[1], score=[0.9], box=[[10, 10, 20, 20]])
    out = tmp_path / "out.json"
    with pytest.raises(predport.OutputError, match="frame 'img' #3: no image size"):
        predport.save(one_frame_set(dets, width=None, height=None, frame_index=3), out, format="encord")
    assert not out.exists()


def test_write__data_mapping_turns_file_names_into_hashes(tmp_path: Path) -> None:
    mapping = tmp_path / "data_mapping.json"
    mapping.write_text(json.dumps({IMAGE: "image_1.jpg"}))
    dets = predport.Detections(category_id=[1], score=[0.9], box=[[0, 0, 64, 48]])
    out = tmp_path / "out.json"
    predport.save(one_frame_set(dets, data_id="images/image_1.jpg"), out, format="encord",
                  options={"data_mapping": str(mapping)})
    assert read_records(out)[0]["data_hash"] == IMAGE


# -- what Encord cannot hold ----------------------------------------------------------------------
@pytest.mark.parametrize("policy", ["fail", "skip", "clamp"])
def test_write__box_leaving_the_image_by_policy(tmp_path: Path, policy: str) -> None:
    dets = predport.Detections(category_id=[1, 1], score=[0.9, 0.8],
                               box=[[600.0, 0.0, 80.0, 48.0], [0.0, 0.0, 64.0, 48.0]])
    out = tmp_path / "out.json"
    if policy == "fail":
        with pytest.raises(predport.OutputError, match="leaves the 640x480 image"):
            predport.save(one_frame_set(dets), out, format="encord", policy=policy)
        assert not out.exists()
        return
    summary = predport.save(one_frame_set(dets), out, format="encord", policy=policy)
    records = read_records(out)
    assert_encord_valid(records)
    if policy == "skip":
        assert len(records) == 1 and summary["records"] == 1
    else:
        assert records[0]["object"]["data"] == {"x": 600 / 640, "y": 0.0, "w": 1 - 600 / 640, "h": 0.1}


def test_write__extra_polygon_rings_are_reported_as_loss(tmp_path: Path) -> None:
    dets = predport.Detections(category_id=[1], score=[0.9],
                               box=[[0, 0, 10, 10]],
                               polygon=[[[0, 0, 10, 0, 10, 10], [1, 1, 2, 1, 2, 2]]],
                               attributes=[{"holes": [1], "truncated": 0.5}])
    out = tmp_path / "out.json"
    with pytest.raises(predport.LossError) as info:
        predport.get_hub().write(predport.PredictionStream.from_set(one_frame_set(dets)), out,
                                 format="encord", context=predport.make_context())
    assert not out.exists()
    expected = {
        "predictions.polygon (rings after the first)": 1,
        "predictions.box (beside a polygon)": 1,
        "predictions.attributes (keys Encord records cannot hold)": 2,
    }
    assert info.value.report == expected
    ctx = predport.make_context()
    summary = predport.get_hub().write(predport.PredictionStream.from_set(one_frame_set(dets)), out,
                                       format="encord", context=ctx, allow_loss=True)
    assert summary["loss"] == expected
    rec = read_records(out)[0]
    assert rec["object"]["format"] == "polygon" and len(rec["object"]["data"]) == 3
    assert any("holes, truncated" in w for w in ctx.report.warnings)


def test_write__missing_score_needs_default_confidence(tmp_path: Path) -> None:
    dets = predport.Detections(category_id=[1], score=[None], box=[[0, 0, 64, 48]])
    with pytest.raises(predport.OutputError, match="no score"):
        predport.save(one_frame_set(dets), tmp_path / "a.json", format="encord")
    predport.save(one_frame_set(dets), tmp_path / "b.json", format="encord", options={"default_confidence": "1.0"})
    assert read_records(tmp_path / "b.json")[0]["confidence"] == 1.0


def test_write__prediction_without_geometry_fails_or_is_skipped(tmp_path: Path) -> None:
    dets = predport.Detections(category_id=[1, 1], score=[0.9, 0.5], box=[[np.nan] * 4, [0, 0, 64, 48]],
                               probabilities=[[0.1, 0.9], None])
    with pytest.raises(predport.OutputError, match="cannot hold it"):
        predport.save(one_frame_set(dets), tmp_path / "a.json", format="encord", allow_loss=True)
    predport.save(one_frame_set(dets), tmp_path / "b.json", format="encord", allow_loss=True, policy="skip")
    assert [r["confidence"] for r in read_records(tmp_path / "b.json")] == [0.5]


def test_write__category_without_external_id_writes_its_name(tmp_path: Path) -> None:
    dets = predport.Detections(category_id=[0], score=[0.9], box=[[0, 0, 64, 48]])
    ctx = predport.make_context()
    out = tmp_path / "out.json"
    ps = one_frame_set(dets, categories=[predport.Category(id=0, name="car")])
    predport.get_hub().write(predport.PredictionStream.from_set(ps), out, format="encord", context=ctx)
    assert read_records(out)[0]["object"]["feature_hash"] == "car"
    assert any("no external id" in w for w in ctx.report.warnings)


def test_write__mask_is_loss(tmp_path: Path) -> None:
    dets = predport.Detections(category_id=[1], score=[0.9], box=[[0, 0, 1, 1]],
                               mask=[{"size": [480, 640], "counts": "0"}])
    with pytest.raises(predport.LossError) as exc:
        predport.save(one_frame_set(dets), tmp_path / "a.json", format="encord")
    assert exc.value.report == {"predictions.mask": 1}


def test_write__unknown_option_is_config_error(tmp_path: Path) -> None:
    dets = predport.Detections(category_id=[1], score=[0.9], box=[[0, 0, 64, 48]])
    with pytest.raises(predport.ConfigError, match="frame0"):
        predport.save(one_frame_set(dets), tmp_path / "a.json", format="encord", options={"frame0": "none"})


# -- round trips ---------------------------------------------------------------------------------
def _records_close(a: list[dict], b: list[dict], tol: float) -> None:
    assert len(a) == len(b)
    for ra, rb in zip(a, b):
        assert {k: v for k, v in ra.items() if k not in ("object", "width", "height")} == \
            {k: v for k, v in rb.items() if k not in ("object", "width", "height")}
        if "object" not in ra:
            continue
        oa, ob = ra["object"], rb["object"]
        assert (oa["feature_hash"], oa["format"], oa.get("track_id")) == (ob["feature_hash"], ob["format"], ob.get("track_id"))
        if oa["format"] == "bounding-box":
            for k in ("x", "y", "w", "h"):
                assert abs(oa["data"][k] - ob["data"][k]) <= tol
            assert oa["data"].get("theta", 0) == ob["data"].get("theta", 0)
        else:
            np.testing.assert_allclose(np.asarray(oa["data"]), np.asarray(ob["data"]), rtol=0, atol=tol)


@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
def test_roundtrip__encord_canonical_encord_within_1e9(tmp_path: Path, data_dir: Path, suffix: str) -> None:
    original = read_records(data_dir / "predictions.json")
    original[0]["object"]["track_id"] = "t-1"
    original[2]["object"]["data"]["theta"] = 12.5
    rng = np.random.default_rng(0)
    for k in range(200):  # random boxes anywhere in the unit square
        x, y = rng.random(2)
        w, h = rng.random() * (1 - x), rng.random() * (1 - y)
        original.append({"data_hash": VIDEO, "frame": 10 + k % 7, "confidence": float(rng.random()),
                         "object": {"feature_hash": "OTK8MrM3", "format": "bounding-box",
                                    "data": {"x": x, "y": y, "w": w, "h": h}}})
    src = tmp_path / f"src{suffix}"
    src.write_text(json.dumps(original) if suffix == ".json" else "".join(json.dumps(r) + "\n" for r in original))
    canon = tmp_path / "canon.json"
    predport.convert(src, canon, to="canonical", image_sizes=data_dir / "sizes.json")
    out = tmp_path / f"out{suffix}"
    predport.convert(canon, out, to="encord")  # sizes travel in the canonical frames
    written = read_records(out)
    assert_encord_valid(written)
    # Frames group records by data unit and frame: compare in that order.
    order = sorted(range(len(original)), key=lambda i: (original[i]["data_hash"] != IMAGE, original[i]["frame"], i))
    _records_close([original[i] for i in order], written, tol=1e-9)


def test_roundtrip__written_file_reads_back_without_sizes(tmp_path: Path, data_dir: Path) -> None:
    first = predport.load(data_dir / "predictions.json", image_sizes=data_dir / "sizes.json")
    out = tmp_path / "out.jsonl"
    predport.save(first, out, format="encord")
    again = predport.load(out)  # no sizes given: width/height are in the records
    assert [(f.data_id, f.frame_index, f.width, f.height) for f in again.frames] == \
        [(f.data_id, f.frame_index, f.width, f.height) for f in first.frames]
    assert [(c.id, c.external_id) for c in again.categories] == [(c.id, c.external_id) for c in first.categories]
    for a, b in zip(first.frames, again.frames):
        ra, rb = a.predictions.to_records(), b.predictions.to_records()
        assert [(r["category_id"], r["score"], r.get("attributes")) for r in ra] == \
            [(r["category_id"], r["score"], r.get("attributes")) for r in rb]
        for pa, pb in zip(ra, rb):
            assert ("box" in pa, "polygon" in pa) == ("box" in pb, "polygon" in pb)
            if "box" in pa:
                np.testing.assert_allclose(pa["box"], pb["box"], rtol=0, atol=1e-9)
            if "polygon" in pa:
                np.testing.assert_allclose(pa["polygon"], pb["polygon"], rtol=0, atol=1e-9)
