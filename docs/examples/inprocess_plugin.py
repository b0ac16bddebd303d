"""An internal team's plugin, registered in-process: no packaging, no entry point.

The team's model server writes JSON Lines, one image per line, boxes as corners::

    {"image": "cam1/frame_000012.jpg", "dets": [{"label": "Car", "conf": 0.93, "xyxy": [10, 20, 40, 60]}]}

The team maps image names to their own data ids (the video's data hash and the frame
number), class names to their ontology (ids and feature hashes), skips bad lines
instead of stopping, and writes predport's canonical JSON. Run it:

    python docs/examples/inprocess_plugin.py
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any, Iterator

import predport

FORMAT = "acme-jsonl"


class AcmePlugin:
    """A plugin can be any object whose methods carry ``@predport.hookimpl``."""

    @predport.hookimpl
    def formats(self) -> list[predport.FormatInfo]:
        return [predport.FormatInfo(id=FORMAT, title="ACME model server JSON Lines", can_read=True)]

    @predport.hookimpl
    def detect_format(self, source: predport.Source) -> predport.FormatMatch | None:
        if source.is_file and source.head(size=256).lstrip().startswith(b'{"image"') and b'"dets"' in source.head():
            return predport.FormatMatch(FORMAT, predport.Confidence.HIGH, "JSON lines with image and dets")
        return None

    @predport.hookimpl
    def parse(self, source: predport.Source, format: str, context: predport.Context) -> Iterator[Any] | None:
        if format != FORMAT:
            return None
        return self._lines(source.path, context)

    def _lines(self, path: Path, context: predport.Context) -> Iterator[tuple[str, int, dict[str, Any]]]:
        with open(path, "rb") as fh:
            for line, raw in enumerate(fh, start=1):
                try:
                    rec = json.loads(raw)
                    if not isinstance(rec.get("image"), str) or not isinstance(rec.get("dets"), list):
                        raise ValueError("needs 'image' (a string) and 'dets' (a list)")
                except ValueError as exc:
                    context.problem(predport.ParseError(str(exc), file=str(path), line=line))
                    continue  # policy "skip": counted in the report, the other lines go on
                yield str(path), line, rec

    @predport.hookimpl
    def to_canonical(self, records: Any, format: str, context: predport.Context) -> Iterator[Any] | None:
        if format != FORMAT:
            return None
        return self._frames(records, context)

    def _frames(self, records: Any, context: predport.Context) -> Iterator[predport.Frame]:
        for file, line, rec in records:
            ids, scores, boxes = [], [], []
            for det in rec["dets"]:
                cid = context.categories.resolve(name=det["label"])  # through the team's class map
                if cid is None:
                    context.problem(predport.ParseError(f"class {det['label']!r} is not in the ontology",
                                                        file=file, line=line, field="label"))
                    continue
                x1, y1, x2, y2 = det["xyxy"]
                ids.append(cid)
                scores.append(det.get("conf"))
                boxes.append([x1, y1, x2 - x1, y2 - y1])  # corners -> [x, y, w, h] pixels
            # The team's id lookup turns "cam1/frame_000012.jpg" into (data hash, frame).
            data_id, frame = context.data_id_for(Path(rec["image"]), (rec["image"], None))
            yield predport.Frame(
                data_id=data_id,
                frame_index=frame,
                predictions=predport.Detections(category_id=ids, score=scores, box=boxes or None),
            )


# The team's own mappings.
DATA_HASHES = {"cam1": "7f3a9c2e-4b1d-4e8f-9a0b-1c2d3e4f5a6b"}
ONTOLOGY = {
    "Car": {"id": 1, "name": "car", "external_id": "OTk2MzM3"},
    "Pedestrian": {"id": 2, "name": "person", "external_id": "NzYyMjcx"},
}


def id_lookup(path: Path) -> tuple[str, int | None]:
    """``cam1/frame_000012.jpg`` -> (the video's data hash, frame 12)."""
    return DATA_HASHES[path.parent.name], int(path.stem.rsplit("_", 1)[1])


def main() -> None:
    record = predport.register(AcmePlugin(), name="acme")  # or predport.get_hub().register(...)
    assert record.status == "ok", record.reasons

    work = Path(tempfile.mkdtemp(prefix="acme-"))
    src = work / "predictions.jsonl"
    src.write_text(
        '{"image": "cam1/frame_000012.jpg", "dets": [{"label": "Car", "conf": 0.93, "xyxy": [10, 20, 40, 60]},'
        ' {"label": "Pedestrian", "conf": 0.41, "xyxy": [100, 50, 120, 110]}]}\n'
        '{"image": "cam1/frame_000013.jpg", "dets": []}\n'
        'this line is broken\n'
        '{"image": "cam1/frame_000014.jpg", "dets": [{"label": "car", "conf": 0.88, "xyxy": [12, 21, 42, 61]}]}\n'
    )
    print("detected:", predport.detect(src)[0].format)

    summary = predport.convert(src, work / "canonical.json", class_map=ONTOLOGY, id_lookup=id_lookup, policy="skip")
    print(f"frames: {summary['frames']}, predictions: {summary['predictions']}, "
          f"skipped: {summary['report']['skipped']}")

    preds = predport.load(work / "canonical.json")
    for cat in preds.categories:
        print(f"category {cat.id}: {cat.name} ({cat.external_id})")
    for frame in preds.frames:
        boxes = [(preds.category(p["category_id"]).name, p["box"]) for p in frame.predictions.to_records()]
        print(f"{frame.data_id} frame {frame.frame_index}: {boxes}")
    assert [f.frame_index for f in preds.frames] == [12, 13, 14]
    assert preds.frames[0].predictions.box.tolist()[0] == [10.0, 20.0, 30.0, 40.0]

    plugin = next(p for p in predport.get_hub().plugins() if p.name == "acme")
    print(f"plugin {plugin.name}: {plugin.origin}, formats {plugin.formats}")


if __name__ == "__main__":
    main()
