"""Encord Active's predictions.pkl: every schema and protocol reads like its JSON records.

The fixtures in ``data/pickles`` were pickled from stand-ins of the real models at their
real import paths (``standins.py``, with the cited encord-active sources) by
``make_pickles.py`` under pydantic 1.10.27, with numpy 1.26 and numpy 2.4; beside them,
the JSON records Encord Active's own ``Prediction.json()`` writes for the same objects.
"""
from __future__ import annotations

import json
import pickle
import pickletools
import subprocess
import sys
from pathlib import Path

import pytest

import predport

PICKLES = Path(__file__).parent / "data" / "pickles"
FIXTURES = sorted(PICKLES.glob("*.pkl"))
SIZES = PICKLES / "sizes.json"
MODULE = {"v0.1.13": "encord_active.app.db.predictions", "v0.1.17": "encord_active.lib.db.predictions",
          "v0.1.33": "encord_active.lib.db.predictions"}


def canonical(path: Path, tmp_path: Path, **kw) -> dict:
    out = tmp_path / f"{path.name}.out.json"
    predport.convert(path, out, to="canonical", image_sizes=SIZES, overwrite=True, **kw)
    doc = json.loads(out.read_text())
    doc.pop("source")
    return doc


def globals_of(data: bytes) -> set[str]:
    """Every global a pickle names (pickletools only decodes; memoised strings followed)."""
    names, strings, memo, last = set(), [], {}, None
    for op, arg, _ in pickletools.genops(data):
        if op.name == "GLOBAL":
            names.add(arg.replace(" ", "."))
        elif op.name == "STACK_GLOBAL":
            names.add(f"{strings[-2]}.{strings[-1]}")
        if op.name in ("SHORT_BINUNICODE", "BINUNICODE"):
            last = arg
            strings.append(arg)
        elif op.name == "MEMOIZE":
            memo[len(memo)] = last
        elif op.name in ("BINPUT", "LONG_BINPUT"):
            memo[arg] = last
        elif op.name in ("BINGET", "LONG_BINGET"):
            last = memo.get(arg)
            strings.append(last)
        else:
            last = None
    return names


def test_pickle__fixtures_cover_every_schema_protocol_and_numpy():
    seen = set()
    for path in FIXTURES:
        variant, numpy, protocol = path.stem.split("-")
        data = path.read_bytes()
        assert data[:2] == bytes([0x80, int(protocol[1])])
        names = globals_of(data)
        core = "numpy.core" if numpy == "numpy1" else "numpy._core"
        assert f"{MODULE[variant]}.Prediction" in names
        assert f"{core}.multiarray.scalar" in names  # the numpy float64 confidence
        assert f"{core}.multiarray._reconstruct" in names  # the strided polygon, at every protocol
        if protocol == "p5":
            assert f"{core}.numeric._frombuffer" in names
        if protocol == "p2":
            assert {"__builtin__.set", "_codecs.encode"} <= names
        if variant == "v0.1.33":
            assert {f"{MODULE[variant]}.ObjectDetection", f"{MODULE[variant]}.FrameClassification"} <= names
        seen.add((variant, numpy, protocol))
    assert len(seen) == 3 * 2 * 4


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_pickle__converts_to_the_same_canonical_output_as_its_json_records(path, tmp_path):
    variant = path.stem.split("-")[0]
    json_path = PICKLES / f"{variant}.json"
    got = canonical(path, tmp_path)
    assert got == canonical(json_path, tmp_path)
    records = json.loads(json_path.read_text())
    assert sum(len(f["predictions"]) for f in got["frames"]) == len(records)
    # Hand-computed: the first box {x: 0.2, y: 0.3, w: 0.1, h: 0.4} on 1280 x 720.
    first = got["frames"][0]
    assert first["width"] == 1280 and first["predictions"][0]["box"] == [256.0, 216.0, 128.0, 288.0]
    # The Fortran-ordered polygon keeps its point order: (0.1, 0.1), (0.6, 0.1), ...
    polys = [p["polygon"][0] for p in first["predictions"] if "polygon" in p]
    assert polys[1][:4] == [128.0, 72.0, 768.0, 72.0]


def test_pickle__values_known_from_the_samples(tmp_path, pickles_dir):
    doc = canonical(pickles_dir / "v0.1.33-numpy1-p4.pkl", tmp_path)
    frames = {(f["data_id"], f["frame_index"]): f for f in doc["frames"]}
    video = frames[("9f4dae86-cad4-42f8-bb47-b179eb2e4886", 3)]["predictions"]
    # pydantic v1 coerced the int track id 7 to "7" (Union[str, int] tries str first).
    assert video[0]["attributes"] == {"track_id": "7"} and video[0]["score"] == 0.613
    assert video[1]["attributes"] == {"theta": 30.0, "track_id": "car-1"}
    strided = frames[("9f4dae86-cad4-42f8-bb47-b179eb2e4886", 5)]["predictions"][0]["polygon"][0]
    assert strided == [480.0, 540.0, 1440.0, 540.0, 960.0, 1080.0]  # rows 0, 2, 4 of the float32 array
    cls = frames[("9f4dae86-cad4-42f8-bb47-b179eb2e4886", 4)]["predictions"][0]
    assert cls["attributes"] == {"attribute_hash": "d446851e", "option_hash": "376b9761"}
    assert frames[("c115344f-6869-4608-a4b8-644241fea10c", None)]["predictions"][0]["box"] == [0, 0, 1280, 720]
    masks = frames[("5c0e8f0b-1d2e-4f3a-9b8c-7d6e5f4a3b2c", 0)]
    assert (masks["width"], masks["height"]) == (6, 4)
    assert all(p["mask"]["size"] == [4, 6] for p in masks["predictions"])
    assert masks["predictions"][0]["box"] == [1.0, 0.0, 4.0, 4.0]  # columns 1-4, rows 0-3


def test_pickle__flat_schema_class_id_is_the_feature_hash(tmp_path, pickles_dir):
    doc = canonical(pickles_dir / "v0.1.13-numpy2-p3.pkl", tmp_path, options={"ontology": str(
        Path(__file__).parent / "data" / "ontology.json")})
    assert {c["external_id"]: c["name"] for c in doc["categories"]} == {"OTK8MrM3": "cat", "Nr52O8Ex": "dog"}


def test_pickle__detected_high_with_the_class_named(pickles_dir):
    for path in FIXTURES:
        vote = predport.detect(path)[0]
        variant = path.stem.split("-")[0]
        assert vote.format == "encord" and vote.confidence == predport.Confidence.HIGH
        assert f"{MODULE[variant]}.Prediction" in vote.reason


def test_pickle__cli_convert_just_works(tmp_path, pickles_dir):
    src = tmp_path / "predictions.pkl"
    src.write_bytes((pickles_dir / "v0.1.33-numpy2-p4.pkl").read_bytes())
    out = tmp_path / "out.json"
    r = subprocess.run([sys.executable, "-m", "predport", "convert", str(src), str(out), "--sizes", str(SIZES)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "10 predictions" in r.stdout
    assert json.loads(out.read_text())["source"]["format"] == "encord"


SAME_BYTES = r"""
import os, pickle, sys, tempfile
from pathlib import Path
import numpy as np
here = Path(sys.argv[1])
sys.path.insert(0, str(here))
import make_pickles, standins
root = tempfile.mkdtemp()
module = standins.install(Path(root), "v0.1.33")
sys.path.insert(0, root)
import importlib
preds = make_pickles.build(importlib.import_module(module), np, nested=True)
same = [pickle.dumps(preds, protocol=p) == (here / f"v0.1.33-numpy2-p{p}.pkl").read_bytes() for p in (2, 3, 4, 5)]
print(np.__version__.split(".")[0], same)
"""


def test_pickle__fixtures_match_what_the_standins_pickle_here(pickles_dir):
    # The committed numpy 2 fixtures were made under pydantic 1.10.27; pydantic 2's bundled
    # v1 and numpy 2 here pickle the same objects to the same bytes (same hash seed, so the
    # same order of each __fields_set__).
    import os

    r = subprocess.run([sys.executable, "-c", SAME_BYTES, str(pickles_dir)], capture_output=True, text=True,
                       env={**os.environ, "PYTHONHASHSEED": "0"})
    assert r.returncode == 0, r.stderr
    major, same = r.stdout.split(" ", 1)
    if major != "2":
        pytest.skip("the committed comparison fixtures are numpy 2's")
    assert same.strip() == "[True, True, True, True]"


def test_pickle__real_pickle_load_of_the_fixtures_gives_the_same_values(standin, pickles_dir, tmp_path):
    # Independent check of the restricted reader: the real unpickler with the stand-in classes.
    mod = standin("v0.1.33")
    real = pickle.loads((pickles_dir / "v0.1.33-numpy2-p5.pkl").read_bytes())
    assert isinstance(real[0], mod.Prediction)
    doc = canonical(pickles_dir / "v0.1.33-numpy2-p5.pkl", tmp_path)
    scores = [p["score"] for f in doc["frames"] for p in f["predictions"]]
    assert sorted(scores) == sorted(float(p.confidence) for p in real)


def test_pickle__recognised_by_content_whatever_the_name(tmp_path, pickles_dir):
    path = tmp_path / "predictions.json"
    path.write_bytes((pickles_dir / "v0.1.17-numpy1-p4.pkl").read_bytes())
    vote = predport.detect(path)[0]
    assert vote.format == "encord" and vote.confidence == predport.Confidence.HIGH
    assert canonical(path, tmp_path) == canonical(PICKLES / "v0.1.17.json", tmp_path)


def test_pickle__never_written(tmp_path, pickles_dir):
    out = tmp_path / "back.pkl"
    with pytest.raises(predport.OutputError, match="never pickles"):
        predport.convert(pickles_dir / "v0.1.33.json", out, to="encord", image_sizes=SIZES)
    assert not out.exists()
