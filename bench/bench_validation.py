"""Schema validation cost per record: why predport validates with jsonschema-rs.

Validates the frames of a canonical document built from the first 100,000 records of
the COCO benchmark file against the committed frame schema, with jsonschema-rs (what
predport uses), fastjsonschema and jsonschema, and prints microseconds per prediction.

    python bench/bench_validation.py --data /path/to/bench-data
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import orjson

import predport
from predport._schema_gen import build_prediction_set_schema


def frames_from(records: list[dict]) -> list[dict]:
    by_image: dict[int, list[dict]] = {}
    for r in records:
        by_image.setdefault(r["image_id"], []).append(
            {"category_id": r["category_id"], "score": r["score"], "box": r["bbox"]})
    return [{"data_id": str(k), "frame_index": None, "width": 1920, "height": 1080, "predictions": v}
            for k, v in by_image.items()]


def timed(fn, frames, n_preds: int) -> float:
    t = time.perf_counter()
    for f in frames:
        fn(f)
    return (time.perf_counter() - t) / n_preds * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="bench-data", help="folder made by shared/bench/gen.py")
    a = ap.parse_args()
    recs_file = Path(a.data) / "coco" / "records_100000.json"
    records = orjson.loads(recs_file.read_bytes())
    frames = frames_from(records)
    n = len(records)
    schema = build_prediction_set_schema()
    frame_schema = {"$schema": schema["$schema"], "$defs": schema["$defs"], "$ref": "#/$defs/Frame"}
    rows = []
    import jsonschema_rs

    v = jsonschema_rs.Draft202012Validator(frame_schema)
    rows.append(("jsonschema-rs (predport)", timed(v.is_valid, frames, n)))
    try:
        import fastjsonschema

        fv = fastjsonschema.compile(json.loads(json.dumps(frame_schema)))
        rows.append(("fastjsonschema", timed(fv, frames, n)))
    except Exception as exc:  # fastjsonschema has partial 2020-12 support (prefixItems)
        rows.append((f"fastjsonschema (failed: {type(exc).__name__})", float("nan")))
    import jsonschema

    jv = jsonschema.Draft202012Validator(frame_schema)
    sample = frames[: max(1, len(frames) // 20)]
    rows.append(("jsonschema", timed(jv.validate, sample, sum(len(f["predictions"]) for f in sample))))
    hub = predport.get_hub()
    rows.append(("predport registry (frame ref)",
                 timed(lambda f: hub.registry.validate(predport.FRAME_REF, f), frames, n)))
    print(f"validation of {n} predictions in {len(frames)} frames, microseconds per prediction")
    for name, us in rows:
        print(f"  {name:<40} {us:8.2f} us")


if __name__ == "__main__":
    main()
