"""Writing canonical frames as a Lightly predictions folder.

The output folder *is* the ``.lightly/predictions`` folder: ``tasks.json``, one
folder per task with its ``schema.json``, and one file per image or video frame
mirroring the image path. Every file is validated against the schemas this
plugin contributes before it is staged; the target commits atomically.

Which task a prediction goes to:

1. option ``task=NAME``: every prediction (``task_type`` from the option, or
   derived from the predictions, which must then agree);
2. else the task of its category (``attributes["task"]``/``["task_type"]``, set
   when the data was read from a Lightly folder), schema id from
   ``attributes["lightly_id"]`` or the category id;
3. else a task named after the kind of prediction: ``object_detection`` (box),
   ``instance_segmentation`` (mask and box), ``semantic_segmentation`` (mask),
   ``keypoint_detection`` (keypoints), ``classification`` (no geometry).

A prediction carrying geometry its task type cannot hold (a mask in an
object-detection task) is refused, never silently dropped.
"""
from __future__ import annotations

import os
from typing import Any, Mapping

import numpy as np
import orjson

import predport

from .names import VIRTUAL_FRAME_EXT, frame_stem, pad_width, split_ext, video_parts

TASKS_ID = "urn:predport:schema:lightly:tasks:1"
SCHEMA_ID = "urn:predport:schema:lightly:schema:1"
FILE_ID = "urn:predport:schema:lightly:prediction-file:1"
DEFAULT_TASK = {
    "classification": "classification",
    "object-detection": "object_detection",
    "semantic-segmentation": "semantic_segmentation",
    "instance-segmentation": "instance_segmentation",
    "keypoint-detection": "keypoint_detection",
}
#: Frame attribute keys this writer turns into Lightly names; any other key is loss.
FRAME_KEYS = frozenset({"lightly_file_name", "frame_count"})
#: Category attribute keys that route predictions; other keys go into schema.json as they are.
ROUTE_KEYS = ("task", "task_type", "lightly_id")
_NEEDS_SCORE = frozenset({"object-detection", "semantic-segmentation", "instance-segmentation", "keypoint-detection"})
_HOLDS = {  # task type -> geometry a singleton may carry (besides category_id, score, probabilities)
    "classification": frozenset(),
    "object-detection": frozenset({"box"}),
    "semantic-segmentation": frozenset({"mask"}),
    "instance-segmentation": frozenset({"box", "mask"}),
    "keypoint-detection": frozenset({"keypoints", "box"}),
}
_REQUIRED = {
    "classification": frozenset(),
    "object-detection": frozenset({"box"}),
    "semantic-segmentation": frozenset({"mask"}),
    "instance-segmentation": frozenset({"box", "mask"}),
    "keypoint-detection": frozenset({"keypoints"}),
}


def _derive(has_box: bool, has_mask: bool, has_kp: bool) -> str:
    if has_mask:
        return "instance-segmentation" if has_box else "semantic-segmentation"
    if has_kp:
        return "keypoint-detection"
    if has_box:
        return "object-detection"
    return "classification"


def _frame_counts(value: Any) -> dict[str, int]:
    if value is None:
        return {}
    if isinstance(value, (str, os.PathLike)):
        value = predport.load_mapping_file(value)
    if not isinstance(value, Mapping) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value.values()
    ):
        raise predport.ConfigError("option frame_counts must map video data ids to frame counts (> 0)",
                                   field="frame_counts")
    return {str(k): int(v) for k, v in value.items()}


class _TaskOut:
    __slots__ = ("name", "task_type", "files", "prob_lengths", "own")

    def __init__(self, name: str, task_type: str, own: bool) -> None:
        self.name = name
        self.task_type = task_type
        self.files = 0
        self.prob_lengths: set[int] = set()
        self.own = own  # its categories are those whose attributes name it


class _Writer:
    def __init__(self, stream: Any, target: Any, context: Any) -> None:
        opts = context.options  # declared in hooks.WRITE_OPTIONS: parsed and checked by the hub
        self.stream = stream
        self.target = target
        self.ctx = context
        self.names = predport.FrameNames.from_context(context)  # the core's one naming rule
        self.task_opt: str | None = opts.get("task")
        self.type_opt: str | None = opts.get("task_type")
        ms = opts.get("missing_score")
        if ms is not None and ms > 1.0:
            raise predport.ConfigError("option missing_score must be a number in [0, 1]", field="missing_score")
        self.missing_score = ms
        self.frame_counts = _frame_counts(opts.get("frame_counts"))
        self.tasks: dict[str, _TaskOut] = {}
        self.routes: dict[int, tuple[str | None, str | None, int]] = {}
        self.deferred: list[tuple[str, int, int, int]] = []  # data_id, frame, offset, length
        self.max_frame: dict[str, int] = {}
        self.empty: list[tuple[str, int | None, dict[str, Any]]] = []
        self.spool: Any = None
        self.files = 0

    # -- routing ------------------------------------------------------------------------
    def route(self, cid: int) -> tuple[str | None, str | None, int]:
        """``(task or None, task_type or None, schema id)`` of a canonical category id."""
        r = self.routes.get(cid)
        if r is None:
            cat = self.stream.categories.get(cid)
            attrs = {} if cat is None else (cat.attributes or {})
            if self.task_opt is not None or "task" not in attrs:
                r = (self.task_opt, self.type_opt, cid)
            else:
                lid = attrs.get("lightly_id", cid)
                r = (str(attrs["task"]), attrs.get("task_type"), int(lid))
            self.routes[cid] = r
        return r

    def task_for(self, name: str | None, task_type: str, own: bool, where: str) -> _TaskOut:
        if name is None:
            name = self.task_opt or DEFAULT_TASK[task_type]
        t = self.tasks.get(name)
        if t is None:
            t = self.tasks[name] = _TaskOut(name, task_type, own)
        elif t.task_type != task_type:
            raise predport.OutputError(
                f"{where}: task {name!r} would hold both {t.task_type} and {task_type} predictions",
                hint="pass task_type=... (and task=...) to choose one",
            )
        return t

    # -- naming -------------------------------------------------------------------------
    def named(self, frame: Any) -> Any:
        """The frame with its data id as Lightly's ``file_name`` (a path relative to the datasource)
        by the core's rule (:class:`predport.FrameNames`: an absolute id by its base name, or
        relative to ``root``); a name outside the output folder or met twice is refused."""
        rel = self.names.path(frame.data_id)
        self.names.file(frame.data_id, "", frame_index=frame.frame_index, keep_suffix=True)
        return frame if rel == frame.data_id else frame.model_copy(update={"data_id": rel})

    def video_stem(self, frame: Any) -> str | None:
        """The ``<video>-<frame>-<ext>`` stem when the padding is known now, else ``None`` (defer)."""
        data_id, index = frame.data_id, frame.frame_index
        stem, ext = split_ext(data_id)
        if not ext:
            raise predport.OutputError(
                f"video frame {index} of {data_id!r}: the data id has no extension, which Lightly frame "
                "names (<video>-<frame>-<ext>.json) need"
            )
        virtual = frame.attributes.get("lightly_file_name") if frame.attributes else None
        if isinstance(virtual, str):
            vstem = split_ext(virtual)[0]
            if video_parts(vstem) == (stem, index, ext):
                return vstem
        count = self.frame_counts.get(data_id)
        if count is None and frame.attributes:
            fc = frame.attributes.get("frame_count")
            count = fc if isinstance(fc, int) and not isinstance(fc, bool) else None
        if count is not None:
            if index >= count:
                raise predport.OutputError(
                    f"frame {index} of {data_id!r} is past its frame count {count}"
                )
            return frame_stem(data_id, index, pad_width(count))
        return None

    # -- one frame ----------------------------------------------------------------------
    def files_of(self, frame: Any) -> dict[str, tuple[str, list[dict[str, Any]]]]:
        """``{task: (task_type, singletons)}`` for one frame."""
        dets = frame.predictions
        where = f"frame {frame.data_id!r}" + ("" if frame.frame_index is None else f" #{frame.frame_index}")
        n = len(dets)
        if dets.attributes is not None:
            # Lightly singletons have no attributes: a partial loss the hub refuses unless allowed.
            self.ctx.report.loss("predictions.attributes", dets.count("attributes"))
        cids = dets.category_id.tolist()
        box = dets.box
        simple = (dets.mask is None and dets.keypoints is None and dets.polygon is None and dets.box3d is None)
        if simple and box is not None and n and not np.isnan(box[:, 0]).any():
            get = self.routes.get
            uniq = set(cids)
            routes = {(get(c) or self.route(c))[:2] for c in uniq}
            if len(routes) == 1:
                name, tt = next(iter(routes))
                if tt is None or tt == "object-detection":
                    same_ids = all(self.routes[c][2] == c for c in uniq)
                    return self._simple_od(dets, cids, name, where, same_ids)
        return self._general(frame, dets, cids, where)

    def _simple_od(self, dets: Any, cids: list[int], name: str | None, where: str,
                   same_ids: bool) -> dict[str, Any]:
        """The common case, columnar: boxes with scores, one object-detection task."""
        task = self.task_for(name, "object-detection", name is not None and self.task_opt is None, where)
        ids = cids if same_ids else [self.routes[c][2] for c in cids]
        nan = np.isnan(dets.score)
        scores = dets.score.tolist()
        if nan.any():
            scores = self._fill_scores(scores, nan, where)
        if dets.probabilities is None:
            preds = [{"category_id": c, "bbox": b, "score": s} for c, b, s in zip(ids, dets.box.tolist(), scores)]
        else:
            preds = []
            for c, b, s, p in zip(ids, dets.box.tolist(), scores, dets.probabilities):
                rec = {"category_id": c, "bbox": b, "score": s}
                if p is not None:
                    rec["probabilities"] = p
                    task.prob_lengths.add(len(p))
                preds.append(rec)
        return {task.name: ("object-detection", preds)}

    def _fill_scores(self, scores: list[Any], nan: Any, where: str) -> list[Any]:
        if self.missing_score is None:
            i = int(np.flatnonzero(nan)[0])
            raise predport.OutputError(
                f"{where}, prediction {i}: no score, which Lightly requires for this task type",
                hint="pass missing_score=VALUE to write VALUE for predictions without a score",
            )
        return [self.missing_score if m else s for s, m in zip(scores, nan.tolist())]

    def _general(self, frame: Any, dets: Any, cids: list[int], where: str) -> dict[str, Any]:
        from .rle import coco_to_lightly

        out: dict[str, tuple[str, list[dict[str, Any]]]] = {}
        n = len(dets)
        boxes = dets.box.tolist() if dets.box is not None else [None] * n
        scores = dets.score.tolist()
        masks = dets.mask or [None] * n
        kps = dets.keypoints or [None] * n
        probs = dets.probabilities or [None] * n
        polys = dets.polygon or [None] * n
        b3d = dets.box3d or [None] * n
        for i in range(n):
            pw = f"{where}, prediction {i}"
            box = boxes[i]
            if box is not None and box[0] != box[0]:  # NaN row: no box
                box = None
            has = {k for k, v in (("box", box), ("mask", masks[i]), ("keypoints", kps[i])) if v is not None}
            if not has and (polys[i] is not None or b3d[i] is not None):
                # Only a polygon or a 3-D box: nothing Lightly can hold (the hub reports the loss).
                self.ctx.report.count("predictions without a geometry Lightly holds (polygon/box3d only), skipped")
                self.ctx.report.loss("predictions (polygon or box3d only)")
                continue
            name, tt, lid = self.route(cids[i])
            own = name is not None and self.task_opt is None
            if tt is None:
                tt = _derive("box" in has, "mask" in has, "keypoints" in has)
            extra = has - _HOLDS[tt]
            if extra:
                raise predport.OutputError(
                    f"{pw}: a {tt} task cannot hold {', '.join(sorted(extra))}",
                    hint="choose a task_type that holds it (task_type=...)",
                )
            missing = _REQUIRED[tt] - has
            if missing:
                raise predport.OutputError(f"{pw}: a {tt} prediction needs {', '.join(sorted(missing))}")
            task = self.task_for(name, tt, own, pw)
            rec: dict[str, Any] = {"category_id": lid}
            if "box" in has:
                rec["bbox"] = box
            if "mask" in has:
                m = masks[i]
                if frame.height is not None and frame.width is not None and \
                        list(m["size"]) != [frame.height, frame.width]:
                    raise predport.OutputError(
                        f"{pw}: mask size {m['size']} (h, w) differs from the image {frame.width}x{frame.height}; "
                        "Lightly masks have the image's size"
                    )
                rec["segmentation"] = coco_to_lightly(m)
            if "keypoints" in has:
                flat: list[Any] = []
                for j, k in enumerate(kps[i]):
                    if k[2] is None:
                        raise predport.OutputError(
                            f"{pw}: keypoint {j} has no third value; Lightly needs a per-keypoint confidence"
                        )
                    flat.extend(k)
                rec["keypoints"] = flat
            s = scores[i]
            if s != s:  # NaN: no score
                if tt in _NEEDS_SCORE:
                    s = self._fill_scores([s], np.array([True]), pw)[0]
                else:
                    s = None
            if s is not None:
                rec["score"] = s
            if probs[i] is not None:
                rec["probabilities"] = probs[i]
                task.prob_lengths.add(len(probs[i]))
            out.setdefault(task.name, (tt, []))[1].append(rec)
        return out

    # -- writing ------------------------------------------------------------------------
    def put(self, task: str, stem: str, file_name: str, preds: list[dict[str, Any]]) -> None:
        t = self.tasks[task]
        if stem == "schema":
            raise predport.OutputError(
                f"file_name {file_name!r} would be written as {task}/schema.json, which is the task's schema"
            )
        self.target.write_json(
            f"{task}/{stem}.json",
            {"file_name": file_name, "predictions": preds},
            schema=f"{FILE_ID}#/$defs/{t.task_type}",
        )
        t.files += 1
        self.files += 1

    def frame(self, frame: Any) -> None:
        if frame.attributes:
            extra = set(frame.attributes) - FRAME_KEYS
            if extra:
                for key in extra:
                    self.ctx.report.loss(f"frames.attributes.{key}")
        frame = self.named(frame)
        files = self.files_of(frame)
        stem: str | None
        if frame.frame_index is None:
            stem, file_name = split_ext(frame.data_id)[0], frame.data_id
        else:
            stem = self.video_stem(frame)
            if stem is None:
                self.defer(frame, files)
                return
            file_name = self.virtual_name(frame, stem)
        if not files:
            self.empty.append((frame.data_id, frame.frame_index, dict(frame.attributes or {})))
            return
        for task, (_, preds) in files.items():
            self.put(task, stem, file_name, preds)

    @staticmethod
    def virtual_name(frame: Any, stem: str) -> str:
        virtual = frame.attributes.get("lightly_file_name") if frame.attributes else None
        if isinstance(virtual, str) and split_ext(virtual)[0] == stem:
            return virtual
        return f"{stem}.{VIRTUAL_FRAME_EXT}"

    def defer(self, frame: Any, files: Mapping[str, Any]) -> None:
        """Keep a video frame until its video's frame count (max index + 1) is known."""
        if self.spool is None:
            self.spool = self.target.scratch()
        blob = orjson.dumps({"files": {k: v[1] for k, v in files.items()},
                             "attributes": dict(frame.attributes or {})})
        offset = self.spool.tell()
        self.spool.write(blob)
        self.deferred.append((frame.data_id, frame.frame_index, offset, len(blob)))
        prev = self.max_frame.get(frame.data_id, -1)
        if frame.frame_index > prev:
            self.max_frame[frame.data_id] = frame.frame_index

    def flush_deferred(self) -> None:
        if not self.deferred:
            return
        self.spool.flush()
        for data_id, index, offset, length in self.deferred:
            self.spool.seek(offset)
            doc = orjson.loads(self.spool.read(length))
            stem = frame_stem(data_id, index, pad_width(self.max_frame[data_id] + 1))
            file_name = f"{stem}.{VIRTUAL_FRAME_EXT}"
            if not doc["files"]:
                self.empty.append((data_id, index, {"lightly_file_name": file_name}))
                continue
            for task, preds in doc["files"].items():
                self.put(task, stem, file_name, preds)

    def flush_empty(self) -> None:
        """Frames without predictions: an empty file in every task ("nothing found")."""
        if not self.empty:
            return
        if not self.tasks:
            known = self.known_tasks()
            if known:
                for name, tt in known:
                    self.task_for(name, tt, True, "empty frames")
            else:
                tt = self.type_opt or "object-detection"
                self.task_for(None, tt, False, "empty frames")
        for data_id, index, attrs in self.empty:
            if index is None:
                stem, file_name = split_ext(data_id)[0], data_id
            else:
                vstem = split_ext(attrs.get("lightly_file_name", ""))[0]
                count = self.max_frame.get(data_id, index) + 1
                stem = vstem if video_parts(vstem) is not None else frame_stem(data_id, index, pad_width(count))
                file_name = attrs.get("lightly_file_name") or f"{stem}.{VIRTUAL_FRAME_EXT}"
            for task in list(self.tasks):
                self.put(task, stem, file_name, [])

    def known_tasks(self) -> list[tuple[str, str]]:
        """Tasks named by category attributes (a Lightly source), in category order."""
        if self.task_opt is not None:
            return [(self.task_opt, self.type_opt or "object-detection")]
        out: dict[str, str] = {}
        for cat in self.stream.categories:
            attrs = cat.attributes or {}
            if "task" in attrs and attrs.get("task_type") in DEFAULT_TASK:
                out.setdefault(str(attrs["task"]), attrs["task_type"])
        return list(out.items())

    def schema_doc(self, task: _TaskOut) -> dict[str, Any]:
        cats = []
        for cat in self.stream.categories:
            attrs = cat.attributes or {}
            if self.task_opt is None:
                if task.own != ("task" in attrs) or (task.own and str(attrs["task"]) != task.name):
                    continue
                lid = attrs.get("lightly_id", cat.id) if task.own else cat.id
            else:
                lid = cat.id
            entry: dict[str, Any] = {"id": lid, "name": cat.name}
            if cat.external_id is not None:
                entry["external_id"] = cat.external_id
            for k, v in attrs.items():
                if k not in ROUTE_KEYS and k not in entry:
                    entry[k] = v
            cats.append(entry)
        cats.sort(key=lambda c: c["id"])
        if len({c["id"] for c in cats}) != len(cats):
            raise predport.OutputError(f"task {task.name!r}: two categories share a Lightly id")
        bad = sorted(n for n in task.prob_lengths if n != len(cats))
        if bad:
            raise predport.OutputError(
                f"task {task.name!r}: probabilities with {bad[0]} values but the task has {len(cats)} categories; "
                "Lightly needs one probability per category, in category-id order"
            )
        return {"task_type": task.task_type, "categories": cats}

    def run(self) -> dict[str, Any]:
        for frame in self.stream.frames:
            self.frame(frame)
        self.flush_deferred()
        if self.spool is not None:
            self.spool.close()
        self.flush_empty()
        for name, tt in self.known_tasks() if self.task_opt is None else []:
            if name not in self.tasks:
                self.tasks[name] = _TaskOut(name, tt, True)  # a task with no prediction file
        order = sorted(self.tasks.values(), key=self._order)
        names = [t.name for t in order]
        self.target.write_json("tasks.json", names, schema=TASKS_ID)
        for t in order:
            self.target.write_json(f"{t.name}/schema.json", self.schema_doc(t), schema=SCHEMA_ID)
        return {"tasks": names, "prediction_files": self.files, **self.names.summary("lightly")}

    def _order(self, task: _TaskOut) -> tuple[int, int, str]:
        """Tasks of a Lightly source first, in their original order (smallest category id), then the rest."""
        if not task.own:
            return (1, 0, task.name)
        ids = [c.id for c in self.stream.categories if (c.attributes or {}).get("task") == task.name]
        return (0, min(ids, default=0), task.name)


def write(stream: Any, target: Any, context: Any) -> dict[str, Any]:
    return _Writer(stream, target, context).run()
