"""Make the committed Encord Active prediction pickles and their equivalent JSON records.

    python make_pickles.py            # in a venv with pydantic 1.10 and numpy 1.x, then numpy 2.x

Each run writes, for every schema in ``standins.VARIANTS`` and protocols 2 to 5,
``<variant>-numpy<major>-p<protocol>.pkl``: the list of ``Prediction`` objects that
Encord Active's docs say to ``pickle.dump``, made by the stand-in models at their real
import paths (``standins.py``); numpy 1 writes arrays through
``numpy.core.multiarray._reconstruct`` (``numpy.core.numeric._frombuffer`` at
protocol 5), numpy 2 through ``numpy._core``. It also writes ``<variant>.json``: the
same predictions as the JSON records Encord Active's own ``Prediction.json()`` writes
(the flat schema's moved into the nested layout the JSON reader takes, ``class_id`` as
``feature_hash``), made without any predport code, and ``sizes.json``.

The committed files were made with CPython 3.11.7, pydantic 1.10.27 and numpy 1.26.4,
then numpy 2.4.6 (``pip install "pydantic==1.10.27" "numpy==1.26.4"``). The children run
with ``PYTHONHASHSEED=0``, so the order of each ``__fields_set__`` (a set of strings) and
hence the bytes are the same on every run.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import standins  # noqa: E402

BOX_DU = "c115344f-6869-4608-a4b8-644241fea10c"
VIDEO_DU = "9f4dae86-cad4-42f8-bb47-b179eb2e4886"
MASK_DU = "5c0e8f0b-1d2e-4f3a-9b8c-7d6e5f4a3b2c"
SIZES = {BOX_DU: [1280, 720], VIDEO_DU: [1920, 1080], MASK_DU: [6, 4]}

MASK = [[0, 0, 1, 1, 0, 0],
        [0, 1, 1, 1, 1, 0],
        [0, 1, 1, 1, 1, 0],
        [0, 0, 0, 1, 0, 0]]

# One entry per prediction: plain values, and how the arrays and numbers are typed in
# the pickle ("np" numbers are numpy float64 scalars, which pydantic v1 keeps as they are).
SAMPLES = [
    {"dh": BOX_DU, "frame": 0, "conf": 0.8, "fh": "OTK8MrM3", "box": [0.2, 0.3, 0.1, 0.4]},
    {"dh": VIDEO_DU, "frame": 3, "conf": 0.613, "np_conf": True, "fh": "OTK8MrM3",
     "box": [0.5, 0.25, 0.125, 0.5], "np_box": True, "track": 7},
    {"dh": VIDEO_DU, "frame": 3, "conf": 97.85, "fh": "Nr52O8Ex", "box": [0.1, 0.1, 0.3, 0.2],
     "theta": 30.0, "track": "car-1"},
    {"dh": BOX_DU, "frame": 0, "conf": 0.61, "fh": "Nr52O8Ex",
     "poly": [[0.2, 0.1], [0.2, 0.4], [0.3, 0.4], [0.3, 0.1]]},
    {"dh": BOX_DU, "frame": 0, "conf": 0.5, "fh": "Nr52O8Ex", "order": "F",
     "poly": [[0.1, 0.1], [0.6, 0.1], [0.7, 0.5], [0.4, 0.9], [0.05, 0.5]]},
    {"dh": VIDEO_DU, "frame": 5, "conf": 0.45, "fh": "OTK8MrM3", "dtype": "float32", "view": True,
     "poly": [[0.25, 0.5], [0.0, 0.0], [0.75, 0.5], [0.0, 0.0], [0.5, 1.0], [0.0, 0.0]]},
    {"dh": MASK_DU, "frame": 0, "conf": 0.9, "fh": "OTK8MrM3", "mask": MASK, "dtype": "uint8"},
    {"dh": MASK_DU, "frame": 0, "conf": 0.7, "fh": "Nr52O8Ex", "mask": MASK, "dtype": "bool"},
    {"dh": BOX_DU, "frame": None, "conf": 0.33, "fh": "OTK8MrM3", "box": [0.0, 0.0, 1.0, 1.0]},
    {"dh": VIDEO_DU, "frame": 4, "conf": 0.3, "np_dh": True,
     "cls": ["55eab8b3", "d446851e", "376b9761"]},
]

CHILD = r"""
import json, pickle, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, sys.argv[2])
import make_pickles
from importlib import import_module
mod = import_module(sys.argv[3])
preds = make_pickles.build(mod, np, nested=sys.argv[4] == "nested")
with open(sys.argv[6], "w") as fh:
    json.dump(make_pickles.records(preds), fh, indent=1)
    fh.write("\n")
for protocol in (2, 3, 4, 5):
    with open(f"{sys.argv[5]}-p{protocol}.pkl", "wb") as fh:
        pickle.dump(preds, fh, protocol=protocol)
"""


def _array(np, s):  # type: ignore[no-untyped-def]
    values = s.get("poly") or s["mask"]
    arr = np.array(values, dtype=s.get("dtype", "float64"))
    if s.get("order") == "F":
        arr = np.asfortranarray(arr)
    if s.get("view"):
        arr = arr[::2]  # a strided view: numpy pickles its copy through _reconstruct
    return arr


def build(mod, np, *, nested: bool) -> list:  # type: ignore[no-untyped-def]
    """The samples as ``mod.Prediction`` objects (``mod`` a stand-in module)."""
    out = []
    for s in SAMPLES:
        if "cls" in s and not nested:
            continue
        dh = np.str_(s["dh"]) if s.get("np_dh") else s["dh"]
        conf = np.float64(s["conf"]) if s.get("np_conf") else s["conf"]
        common = {"data_hash": dh, "frame": s["frame"], "confidence": conf}
        if "cls" in s:
            fh, ah, oh = s["cls"]
            out.append(mod.Prediction(**common, classification=mod.FrameClassification(
                feature_hash=fh, attribute_hash=ah, option_hash=oh)))
            continue
        if "box" in s:
            x, y, w, h = (np.float64(v) for v in s["box"]) if s.get("np_box") else s["box"]
            box = {"x": x, "y": y, "w": w, "h": h}
            if "theta" in s and nested:
                box["theta"] = s["theta"]
            fmt, data = mod.Format.BOUNDING_BOX, mod.BoundingBox(**box)
        else:
            fmt = mod.Format.POLYGON if "poly" in s else mod.Format.MASK
            data = _array(np, s)
        obj = {"format": fmt, "data": data}
        if "track" in s:
            obj["track_id"] = s["track"]
        if nested:
            out.append(mod.Prediction(**common, object=mod.ObjectDetection(feature_hash=s["fh"], **obj)))
        else:
            out.append(mod.Prediction(**common, class_id=s["fh"], **obj))
    return out


def records(preds: list) -> list[dict]:  # type: ignore[type-arg]
    """The same predictions as JSON records: Encord Active's own serialisation
    (``Prediction.json()`` with the models' encoder of numpy data: a JSON string); a flat-schema
    record is moved into the nested layout the JSON reader takes (``class_id`` as the
    object's ``feature_hash``)."""
    import numpy as np

    try:
        from pydantic.v1.json import pydantic_encoder
    except ImportError:
        from pydantic.json import pydantic_encoder

    def encoder(v):  # type: ignore[no-untyped-def]
        # ObjectDetection's json_encoders; the nested Prediction.json() does not apply a
        # sub-model's encoders (pydantic v1), so array data would not serialise at all.
        return json.dumps(v.tolist()) if isinstance(v, np.ndarray) else pydantic_encoder(v)

    out = []
    for p in preds:
        rec = json.loads(p.json(encoder=encoder))
        if "class_id" in rec:
            rec = {"data_hash": rec["data_hash"], "frame": rec["frame"], "confidence": rec["confidence"],
                   "object": {"feature_hash": rec["class_id"], "format": rec["format"], "data": rec["data"],
                              "track_id": rec["track_id"]}}
        out.append(rec)
    return out


def main() -> None:
    import numpy as np

    major = np.__version__.split(".")[0]
    for variant, (module, source, _) in standins.VARIANTS.items():
        nested = source is standins.NESTED
        with tempfile.TemporaryDirectory() as root:
            standins.install(Path(root), variant)
            subprocess.run([sys.executable, "-c", CHILD, root, str(HERE), module,
                            "nested" if nested else "flat", str(HERE / f"{variant}-numpy{major}"),
                            str(HERE / f"{variant}.json")],
                           check=True, env={**os.environ, "PYTHONHASHSEED": "0"})
    (HERE / "sizes.json").write_text(json.dumps(SIZES, indent=1) + "\n")


if __name__ == "__main__":
    main()
