"""Canonical frames to Aquarium inference rows: JSON Lines (or a JSON array for ``*.json``).

Each row is built the way the chosen client generation builds it (keys, key order,
defaults), validated against ``urn:predport:schema:aquarium:frame:1`` and streamed
to the output. Values the reader kept in ``attributes`` come back where they were;
data from other formats gets the client's defaults.

Options (``write_options={...}`` / ``-w KEY=VALUE``):

* ``generation`` — ``legacy`` (0.0.x ``InferencesFrame``), ``v1`` (1.0.x ``InferenceFrame``)
  or ``oldest`` (<= 0.0.25). Default: the generation each frame was read from, else legacy.
* ``scores`` — ``error`` (default: a score outside [0, 1] stops the write, naming the
  frame and the value), ``clip`` (to [0, 1]) or ``rescale`` (linear min-max onto [0, 1]).
* ``score_range`` — ``"lo,hi"``: the range ``rescale`` maps onto [0, 1]. Without it,
  ``rescale`` uses the lowest and highest score of the whole set, which means holding
  every frame in memory until the last one is read.
* ``default_confidence`` — a float in [0, 1] written for predictions without a score
  (default: such predictions stop the write; the client requires a confidence).
* ``masks`` — ``error`` (default) or ``drop``: what to do with mask predictions that do
  not come from an Aquarium mask row (Aquarium masks are PNG files named by URL, which
  this writer does not create). ``drop`` writes the box of such a prediction, or leaves
  the prediction out when it has none, and counts both.
* ``classes`` — the Aquarium project class map (as for reading): ``class_id`` of 1.0.x rows
  by class name. Default: the canonical category id.
"""
from __future__ import annotations

import math
from operator import itemgetter
from typing import Any, Iterable

import numpy as np
import orjson

import predport

from . import spec
from .read import derived_type, load_classes



class Options:
    """The writer's options, parsed by the hub against ``hooks.WRITE_OPTIONS``; the rules that
    tie them together are checked here."""

    def __init__(self, context: Any) -> None:
        self.generation: str | None = context.option("generation")
        self.scores = context.option("scores") or "error"
        self.score_range = _range(context.option("score_range"))
        if self.score_range is not None and self.scores != "rescale":
            raise predport.ConfigError("score_range applies to scores=rescale", field="score_range")
        dc = context.option("default_confidence")
        if dc is not None and not 0.0 <= dc <= 1.0:
            raise predport.ConfigError("default_confidence must be a number in [0, 1]", field="default_confidence")
        self.default_confidence: float | None = dc
        self.masks = context.option("masks") or "error"
        self.classes = load_classes(context.option("classes"))


def _range(value: Any) -> tuple[float, float] | None:
    if value is None:
        return None
    try:
        lo, hi = (float(v) for v in (value.split(",") if isinstance(value, str) else value))
    except (TypeError, ValueError):
        raise predport.ConfigError("score_range is 'lo,hi' (two numbers)", field="score_range") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
        raise predport.ConfigError("score_range needs finite lo < hi", field="score_range")
    return lo, hi


def write(stream: Any, target: Any, context: Any) -> dict[str, Any]:
    opts = Options(context)
    frames: Iterable[Any] = stream.frames
    if opts.scores == "rescale" and opts.score_range is None:
        frames = list(frames)  # min-max over the whole set needs every score first
        opts.score_range = _set_range(frames)
    builder = RowBuilder(opts, stream, context)
    array = str(target.dest).lower().endswith(".json")
    out = target.open(None)
    if array:
        out.write(b"[")
    for i, frame in enumerate(frames):
        row = builder.frame_row(frame)
        try:
            target.validate(spec.SCHEMA_ID, row, base_path=(i,) if array else ())
        except predport.SchemaValidationError as exc:
            if not array:
                exc.line = i + 1
            raise
        try:
            blob = orjson.dumps(row)
        except TypeError as exc:
            raise predport.OutputError(f"frame {frame.data_id!r} cannot be serialised to JSON: {exc}",
                                       file=str(target.dest)) from None
        if array:
            out.write(blob if i == 0 else b",\n" + blob)
        else:
            out.write(blob + b"\n")
    if array:
        out.write(b"]\n")
    out.close()
    return {k: v for k, v in builder.counts.items() if v}


def _set_range(frames: list[Any]) -> tuple[float, float] | None:
    lo, hi = math.inf, -math.inf
    for f in frames:
        s = f.predictions.score
        if len(s) and not np.isnan(s).all():
            lo = min(lo, float(np.nanmin(s)))
            hi = max(hi, float(np.nanmax(s)))
    return None if lo == math.inf else (lo, hi)


class RowBuilder:
    """Builds one Aquarium frame row per canonical frame, for the chosen generation."""

    def __init__(self, opts: Options, stream: Any, context: Any) -> None:
        self.opts = opts
        self.stream = stream
        self.context = context
        self.counts: dict[str, Any] = {"scores clipped": 0, "scores rescaled": 0, "masks dropped": 0,
                                       "predictions dropped (mask without box)": 0,
                                       "frame fields dropped": 0, "frame attributes dropped": 0}
        self._warned: set[str] = set()

    def lose(self, count_key: str, loss_key: str, n: int = 1) -> None:
        """Count a value the row cannot carry and report it as loss (refused unless the user allows loss)."""
        self.counts[count_key] = self.counts.get(count_key, 0) + n
        self.context.report.loss(loss_key, n)

    def warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            self.context.report.warn(message)

    # -- frame rows ---------------------------------------------------------------------------
    def frame_row(self, frame: Any) -> dict[str, Any]:
        a = frame.attributes or {}
        src = a.get("aquarium_generation")
        if src not in spec.GENERATIONS:
            src = None
        gen = self.opts.generation or src or "legacy"
        d = spec.frame_defaults(gen)

        def get(key: str) -> Any:
            return a[key] if key in a else d[key]

        entries = self.entries(frame, gen, src)
        row: dict[str, Any] = {"task_id": frame.data_id}
        used = {"aquarium_generation", "unresolved_masks", "partial_rows", "aquarium_extra"}
        if gen == "legacy":
            row["type"] = get("type")
            row["custom_metrics"] = get("custom_metrics")
            row["inference_metadata"] = {"visualization_assets": get("visualization_assets"),
                                         "user_metadata": self.user_metadata(frame, a, src, d)}
            row["inference_data"] = entries
            row["reuse_latest_embedding"] = get("reuse_latest_embedding")
            row["change"] = get("change")
            used |= {"type", "custom_metrics", "visualization_assets", "user_metadata",
                     "reuse_latest_embedding", "change"}
        elif gen == "v1":
            if "date_captured" in a:
                row["date_captured"] = a["date_captured"]  # the client's str(datetime.now()); unknown otherwise
            for key in ("device_id", "coordinate_frames", "sensor_data", "geo_data", "reuse_latest_embedding",
                        "change", "user_metadata_types", "user_metadata_modes"):
                row[key] = get(key)
            if get("custom_metrics"):
                row["custom_metrics"] = get("custom_metrics")
            meta = {"user_metadata": self.user_metadata(frame, a, src, d)}
            if a.get("visualization_assets"):
                meta["visualization_assets"] = a["visualization_assets"]
            row["inference_metadata"] = meta
            row["inference_data"] = entries
            row["label_data"] = entries  # 1.0.x writes the same list twice
            used |= {"date_captured", "device_id", "coordinate_frames", "sensor_data", "geo_data",
                     "reuse_latest_embedding", "change", "user_metadata_types", "user_metadata_modes",
                     "custom_metrics", "user_metadata", "visualization_assets"}
            if row["change"] != "ADD":
                self.warn_once("v1-change", "1.0.x clients upload only ADD frames; MODIFY/DELETE rows were "
                                            "written as given")
        else:
            row["inference_data"] = entries
            row["custom_metrics"] = get("custom_metrics")
            row["inference_metadata"] = {"visualization_assets": get("visualization_assets")}
            used |= {"custom_metrics", "visualization_assets"}
        extra = a.get("aquarium_extra")
        if isinstance(extra, dict):
            for key, value in extra.items():
                if key == "inference_metadata" and isinstance(value, dict):
                    row["inference_metadata"].update(value)
                elif key == "label_data":
                    if gen == "v1":
                        row["label_data"] = value
                else:
                    row[key] = value
        if src is not None:
            lost = [k for k in a if k not in used]
            if lost:
                self.lose("frame fields dropped", "frames.attributes (fields the other generation cannot hold)",
                          len(lost))
                self.warn_once(f"lost-{gen}", f"fields a {gen} row cannot hold were dropped: {', '.join(sorted(lost))}")
        return row

    def user_metadata(self, frame: Any, a: dict[str, Any], src: str | None, d: dict[str, Any]) -> dict[str, Any]:
        given = a["user_metadata"] if "user_metadata" in a else d.get("user_metadata", {})
        if not isinstance(given, dict):
            raise predport.OutputError(f"frame {frame.data_id!r}: user_metadata must be an object, not "
                                       f"{type(given).__name__}", field="user_metadata")
        meta = dict(given)
        if src is None:
            # Frame attributes from another format become user metadata when Aquarium can hold them.
            for key, value in a.items():
                if key in spec.FRAME_OWN_KEYS:
                    continue
                if isinstance(value, (str, int, float, bool)) and key.replace("_", "a").isalnum():
                    meta.setdefault(key, value)
                else:
                    self.lose("frame attributes dropped", "frames.attributes (not scalar user metadata)")
                    self.warn_once("frame-attr", f"frame attribute {key!r} cannot be Aquarium user metadata "
                                                 "(scalars with alphanumeric keys only); dropped")
        return meta

    # -- entries ------------------------------------------------------------------------------
    def entries(self, frame: Any, gen: str, src: str | None) -> list[dict[str, Any]]:
        recs = frame.predictions.to_records()
        rows: list[dict[str, Any]] = []
        semantic_done: set[Any] = set()
        groups: dict[Any, dict[str, Any]] = {}
        for k, rec in enumerate(recs):
            a = rec.get("attributes") or {}
            lt: str | None = a.get("label_type")
            if lt is None:
                if "mask" in rec:
                    lt = self.foreign_mask(frame, k, rec)
                    if lt is None:
                        continue
                else:
                    lt = derived_type(box="box" in rec, polygon="polygon" in rec, mask=False,
                                      keypoints="keypoints" in rec, box3d="box3d" in rec)
                    assert lt is not None  # only a mask has no derived type
            if not isinstance(lt, str):
                raise predport.OutputError(f"frame {frame.data_id!r}, prediction {k}: attribute label_type must be "
                                           f"a string, not {type(lt).__name__}", field="label_type")
            if lt in spec.SEMANTIC_TYPES:
                key = a.get("uuid")
                if key not in semantic_done:
                    semantic_done.add(key)
                    rows.append(self.semantic_row(frame, k, a, lt, gen))
                continue
            if lt == spec.INSTANCE:
                group = groups.setdefault(a.get("mask_uuid"), {"first": len(rows), "attrs": a})
                group["last"] = len(rows)
                rows.append(self.instance_row(frame, k, rec, a, gen, src))
                continue
            if lt in spec.INSTANCE_MASK_TYPES:
                raise predport.OutputError(f"frame {frame.data_id!r}, prediction {k}: an {lt} row is written with "
                                           "its INSTANCE_LABEL_2D entries, not as a prediction")
            rows.append(self.entry_row(frame, k, rec, a, lt, gen))
        inserts = []
        for group in groups.values():
            # 0.0.x writes the instance entries first and the mask row after them; 1.0.x the other way.
            pos = group["first"] if gen == "v1" else group["last"] + 1
            inserts.append((pos, self.instance_mask_row(frame, group["attrs"], gen)))
        for pos, row in sorted(inserts, key=itemgetter(0), reverse=True):
            rows.insert(pos, row)
        kept = list(frame.attributes.get("unresolved_masks") or []) + list(frame.attributes.get("partial_rows") or [])
        for item in sorted(kept, key=lambda it: it.get("index", 1 << 62)):
            raw = item.get("row")
            if isinstance(raw, dict):
                rows.insert(min(int(item.get("index", len(rows))), len(rows)), self.raw_row(raw, gen, src))
        # Predictions without a uuid get <frame>_inf_<position>, the label ids the reader leaves out.
        for pos, row in enumerate(rows):
            if row["uuid"] is None:
                row["uuid"] = f"{frame.data_id}_inf_{pos}"
        return rows

    def foreign_mask(self, frame: Any, k: int, rec: dict[str, Any]) -> str | None:
        """The label type for a mask prediction that did not come from an Aquarium mask row."""
        if self.opts.masks != "drop":
            raise predport.OutputError(
                f"frame {frame.data_id!r}, prediction {k}: a mask that does not come from an Aquarium mask row; "
                "Aquarium masks are PNG files named by URL, which this writer does not create",
                hint="write with masks=drop to keep its box (or leave it out) and count it")
        lt = derived_type(box="box" in rec, polygon="polygon" in rec, mask=False,
                          keypoints="keypoints" in rec, box3d="box3d" in rec)
        if lt == spec.CLASS_2D:  # nothing but the mask: no Aquarium row can say it
            self.lose("predictions dropped (mask without box)", "predictions (a mask only, masks=drop)")
            return None
        self.lose("masks dropped", "predictions.mask (masks=drop)")
        return lt

    def name(self, category_id: int) -> str:
        return self.stream.category_name(category_id)

    def class_id(self, rec: dict[str, Any], a: dict[str, Any]) -> Any:
        if "class_id" in a:
            return a["class_id"]
        cid = rec["category_id"]
        return self.opts.classes.get(self.name(cid), cid)

    def confidence(self, frame: Any, k: int, score: Any, lt: str) -> float:
        if score is None:
            if self.opts.default_confidence is not None:
                return self.opts.default_confidence
            raise predport.OutputError(
                f"frame {frame.data_id!r}, prediction {k}: no score, and the Aquarium client requires a "
                f"confidence in [0, 1] for {lt}", hint="write with default_confidence=<float in [0, 1]>")
        s = float(score)
        rng = self.opts.score_range
        if self.opts.scores == "rescale" and rng is not None:
            lo, hi = rng
            if hi == lo:
                s = 1.0  # every score is the same: nothing to rank
            elif lo <= s <= hi:
                s = (s - lo) / (hi - lo)
            else:
                raise predport.OutputError(f"frame {frame.data_id!r}, prediction {k}: score {score!r} is outside "
                                           f"score_range [{lo}, {hi}]")
            self.counts["scores rescaled"] += 1
        if not 0.0 <= s <= 1.0:
            if self.opts.scores == "clip" and not math.isnan(s):
                self.counts["scores clipped"] += 1
                return min(max(s, 0.0), 1.0)
            raise predport.OutputError(
                f"frame {frame.data_id!r}, prediction {k}: score {score!r} is outside [0, 1], which the Aquarium "
                "client refuses", hint="write with scores=clip or scores=rescale (see docs/formats/aquarium.md)")
        return s

    def assemble(self, gen: str, *, uuid: str | None, lt: str, label: str, class_id: Any, sensor: str,
                 attributes: dict[str, Any], a: dict[str, Any], prefix: str = "", mask_order: bool = False) -> dict[str, Any]:
        """An entry with the generation's keys in the client's order."""
        row: dict[str, Any] = {"uuid": uuid}
        if gen == "v1":
            row.update(label_type=lt, label=label, class_id=class_id, label_coordinate_frame=sensor)
        else:
            row["linked_labels"] = a.get(prefix + "linked_labels", [])
            if mask_order:  # 0.0.x mask and instance entries list label before label_type
                row.update(label=label, label_coordinate_frame=sensor, label_type=lt)
            else:
                row.update(label_type=lt, label=label, label_coordinate_frame=sensor)
        row["attributes"] = attributes
        reuse = a.get(prefix + "reuse_latest_embedding", False)
        change = a.get(prefix + "change", "ADD")
        if gen != "oldest" or reuse is not False or change != "ADD":
            row["reuse_latest_embedding"] = reuse
            row["change"] = change
        extra = a.get(prefix + "row_extra")
        if isinstance(extra, dict):
            row.update(extra)
        return row

    def entry_row(self, frame: Any, k: int, rec: dict[str, Any], a: dict[str, Any], lt: str, gen: str) -> dict[str, Any]:
        attrs: dict[str, Any] = {}
        score = rec.get("score")
        sensor = a.get("sensor_id", spec.DEFAULT_SENSOR)

        def need(key: str) -> Any:
            if key not in a:
                raise predport.OutputError(f"frame {frame.data_id!r}, prediction {k}: a {lt} needs attribute {key!r}")
            return a[key]

        if lt == spec.BBOX:
            box = rec.get("box")
            if box is None:
                raise predport.OutputError(f"frame {frame.data_id!r}, prediction {k}: a BBOX_2D needs a box")
            attrs.update(top=box[1], left=box[0], width=box[2], height=box[3])
            attrs["confidence"] = self.confidence(frame, k, score, lt)
        elif lt == spec.LINE:
            for key in ("x1", "y1", "x2", "y2"):
                attrs[key] = need(key)
            attrs["confidence"] = self.confidence(frame, k, score, lt)
        elif lt == spec.KEYPOINTS:
            self.keypoints(frame, k, rec, a, attrs)
            attrs["confidence"] = self.confidence(frame, k, score, lt)
            kps = rec.get("keypoints")
            if kps and any(p[2] is not None for p in kps):
                attrs[spec.KEYPOINT_V_KEY] = [p[2] for p in kps]
        elif lt == spec.POLYGONS:
            if rec.get("box") is not None:
                self.lose("boxes dropped (beside a polygon)", "predictions.box (beside a polygon)")
            rings = rec.get("polygon")
            if rings:
                attrs["polygons"] = [{"vertices": [[r[j], r[j + 1]] for j in range(0, len(r) - 1, 2)]}
                                     for r in rings]
            else:
                attrs["polygons"] = need("polygons")
            attrs["center"] = a.get("center")
            attrs["confidence"] = self.confidence(frame, k, score, lt)
        elif lt == spec.CUBOID:
            if rec.get("box") is not None:
                self.lose("boxes dropped (beside a 3-D box)", "predictions.box (beside a 3-D box)")
            b3 = rec.get("box3d")
            if b3 is None:
                raise predport.OutputError(f"frame {frame.data_id!r}, prediction {k}: a CUBOID_3D needs a box3d")
            for names, values in (("pos", b3["position"]), ("dim", b3["dimensions"])):
                for axis, v in zip("xyz", values):
                    attrs[f"{names}_{axis}"] = v
            for axis, v in zip("xyzw", b3["rotation"]):
                attrs[f"rot_{axis}"] = v
            attrs["confidence"] = self.confidence(frame, k, score, lt)
            sensor = b3.get("coordinate_frame") or spec.DEFAULT_COORD_FRAME
        elif lt == spec.TEXT_TOKEN:
            for key in ("index", "token", "visible"):
                attrs[key] = need(key)
            attrs["confidence"] = self.confidence(frame, k, score, lt)
        else:  # CLASSIFICATION_2D / _3D
            attrs["confidence"] = self.confidence(frame, k, score, lt)
        for key, value in a.items():
            if key not in spec.BOOKKEEPING and key not in attrs:
                attrs[key] = value
        return self.assemble(gen, uuid=a.get("uuid"), lt=lt, label=self.name(rec["category_id"]),
                             class_id=self.class_id(rec, a), sensor=sensor, attributes=attrs, a=a)

    def keypoints(self, frame: Any, k: int, rec: dict[str, Any], a: dict[str, Any], attrs: dict[str, Any]) -> None:
        kps = rec.get("keypoints")
        if kps:
            names = a.get("keypoint_names")
            if not (isinstance(names, list) and len(names) == len(kps)):
                cat = self.stream.categories.get(rec["category_id"])
                names = (cat.attributes.get("keypoints") if cat is not None else None)
                if not (isinstance(names, list) and len(names) == len(kps)):
                    names = [str(j) for j in range(len(kps))]  # the client needs unique, non-empty names
            attrs["keypoints"] = [{"x": p[0], "y": p[1], "name": n} for p, n in zip(kps, names)]
        elif "keypoints" in a:
            attrs["keypoints"] = a["keypoints"]
        else:
            raise predport.OutputError(f"frame {frame.data_id!r}, prediction {k}: a KEYPOINTS_2D needs keypoints")
        box = rec.get("box")
        if box is not None:
            attrs.update(top=box[1], left=box[0], width=box[2], height=box[3])
        for key in ("polygons", "center"):
            if key in a:
                attrs[key] = a[key]

    def semantic_row(self, frame: Any, k: int, a: dict[str, Any], lt: str, gen: str) -> dict[str, Any]:
        attrs: dict[str, Any] = {}
        for key in ("url", "asset_uuid"):
            if key in a:
                attrs[key] = a[key]
        if gen == "legacy" or a.get("resize_mode") is not None:
            attrs["resize_mode"] = a.get("resize_mode")
        for key, value in a.items():
            if key not in spec.BOOKKEEPING and key not in attrs:
                attrs[key] = value
        return self.assemble(gen, uuid=a.get("uuid"), lt=lt, label=spec.MASK_LABEL,
                             class_id=None, sensor=a.get("sensor_id", spec.DEFAULT_SENSOR), attributes=attrs, a=a,
                             mask_order=True)

    def instance_row(self, frame: Any, k: int, rec: dict[str, Any], a: dict[str, Any], gen: str,
                     src: str | None) -> dict[str, Any]:
        own = {key: v for key, v in a.items()
               if key not in spec.BOOKKEEPING and key != "resize_mode"}
        resize = a.get("resize_mode")
        if gen == "v1":
            attrs: dict[str, Any] = {"id": a.get("instance_id")}
            if resize is not None:
                attrs["resize_mode"] = resize
            for key, value in own.items():
                # 1.0.x prefixes instance attributes with user__; 0.0.x kept the raw keys.
                attrs[key if src == "v1" or key.startswith("user__") else "user__" + key] = value
        else:
            attrs = {}
            for key, value in own.items():
                attrs[key[6:] if src == "v1" and key.startswith("user__") else key] = value
            attrs["id"] = a.get("instance_id")
            attrs["resize_mode"] = resize
        return self.assemble(gen, uuid=a.get("uuid") or f"{a.get('mask_uuid')}_{a.get('instance_id')}",
                             lt=spec.INSTANCE, label=self.name(rec["category_id"]), class_id=self.class_id(rec, a),
                             sensor=a.get("sensor_id", spec.DEFAULT_SENSOR), attributes=attrs, a=a, mask_order=True)

    def instance_mask_row(self, frame: Any, a: dict[str, Any], gen: str) -> dict[str, Any]:
        lt = a.get("mask_label_type", spec.INST_URL)
        attrs: dict[str, Any] = {}
        if lt == spec.INST_ASSET:
            attrs["asset_uuid"] = a.get("mask_asset_uuid")
        else:
            attrs["url"] = a.get("mask_url")
        resize = a.get("mask_resize_mode", a.get("resize_mode"))
        if gen == "legacy" or resize is not None:
            attrs["resize_mode"] = resize
        extra = a.get("mask_attributes_extra")
        if isinstance(extra, dict):
            attrs.update(extra)
        return self.assemble(gen, uuid=a.get("mask_uuid") or f"{frame.data_id}_mask", lt=lt, label=spec.MASK_LABEL,
                             class_id=None, sensor=a.get("mask_sensor_id", spec.DEFAULT_SENSOR), attributes=attrs,
                             a=a, prefix="mask_", mask_order=True)

    def raw_row(self, row: dict[str, Any], gen: str, src: str | None) -> dict[str, Any]:
        """A row kept verbatim by the reader (an unresolved mask, a partial MODIFY entry)."""
        if src is None or src == gen:
            return row
        out = dict(row)
        if gen == "v1":
            out.pop("linked_labels", None)
            if "class_id" not in out:
                label: Any = out.get("label")
                out["class_id"] = None if label == spec.MASK_LABEL else self.opts.classes.get(label)
        else:
            out.pop("class_id", None)
            out.setdefault("linked_labels", [])
        if gen == "oldest":
            for key in ("reuse_latest_embedding", "change"):
                if out.get(key) in (False, "ADD"):
                    out.pop(key)
        else:
            out.setdefault("reuse_latest_embedding", False)
            out.setdefault("change", "ADD")
        return out
