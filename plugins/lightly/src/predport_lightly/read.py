"""Reading Lightly prediction folders into canonical frames, streaming.

``parse`` resolves the layout, declares every task's categories, and yields one
*group* per mirrored relative path: the prediction files of that path in each
task (``[(task, file, rel_stem, json), ...]``). ``to_canonical`` turns each group
into one frame (several when the files disagree on ``file_name``).

Merging tasks with flat memory: task folders mirror the same image tree, so the
files of one image share their relative path. The first task's tree is walked and
the same path is opened in every later task; then each later task's tree is
walked and a path already present in an earlier task is skipped (it was merged
already: one ``stat`` per file instead of a set of every path seen). Only the
sorted names of the folder being walked are held.

A folder of one task (the usual case) is read in *batches* of ``BATCH`` files
(:func:`_decode_batch`: read, strict decode, columns), which worker processes can
decode while the main process builds frames (option ``workers``, below).

Speed: files are read with raw ``os.open``/``os.read`` (see :func:`_read`).
Object-detection files holding exactly ``file_name`` and predictions of
``category_id``, ``bbox`` and ``score`` are decoded by a strict msgspec decoder
(types checked in C: no booleans for numbers, no float ids, no extra keys) and
take a columnar path: the prediction structs of up to ``BATCH`` files are gathered
per task (``gc=False`` structs: the cyclic GC never scans them) and turned into
numpy arrays once per batch; the frames hold slices. Every other file, and any
batch that fails a check (an id not in the schema, a negative box size), goes
through the per-prediction path, which reports the exact file, JSON path and
field. ``tests/test_lightly_fast_path.py`` checks that both paths give the same frames.

Worker processes (option ``workers``): decoding JSON holds the GIL, so threads gain
nothing; processes do. With ``workers=N`` (N >= 1) the batches of a one-task folder
are decoded by N forked processes (:func:`predport.ordered_map`: round robin, one
pipe each, so memory stays flat) and handed back as arrays in
folder order; frames, checks and every report stay in the main process, so the
frames and the report are the same as with ``workers=0`` (no workers). The default
(``"auto"``) uses one worker per CPU (at most ``MAX_AUTO_WORKERS``) for folders of
``PARALLEL_MIN_FILES`` files or more, and none below that or with one CPU. Workers
are forked, so they exist only where ``fork`` is safe: on Linux, from a process
running a single Python thread; elsewhere reading stays in one process. Workers that
cannot start, or a worker that dies, are reported as a warning and the rest is read
in the main process; workers die with the main process, however it ends.
"""
from __future__ import annotations

import os
from array import array
from functools import partial
from itertools import chain, islice
from pathlib import Path
from typing import Annotated, Any, Iterable, Iterator, Mapping

import msgspec
import numpy as np
import orjson

import predport

from . import layout as _layout
from .names import Identity, identify, is_plain

#: Files per columnar batch: large enough to amortise numpy call overhead, small
#: enough that a batch (a few thousand boxes) never matters for memory.
BATCH = 256
#: With ``workers="auto"``, folders of this many files or more are decoded by worker processes.
PARALLEL_MIN_FILES = 4096
#: Most workers ``"auto"`` starts: the main process builds frames and becomes the bottleneck.
MAX_AUTO_WORKERS = 4


class _FastPrediction(msgspec.Struct, gc=False, forbid_unknown_fields=True):
    """An object-detection prediction with exactly the documented fields (units: pixels)."""

    category_id: int
    bbox: tuple[float, float, float, float]
    score: float


class _FastFile(msgspec.Struct, gc=False, forbid_unknown_fields=True):
    """A per-image object-detection file that the columnar path can take as it is.

    Decoding is strict (no booleans for numbers, no float ids, no extra keys, no
    missing score): anything else is decoded again with orjson and checked
    prediction by prediction, which names the exact place of a problem. ``gc=False``:
    these objects hold no cycles, so the garbage collector never scans them.
    """

    file_name: Annotated[str, msgspec.Meta(min_length=1)]
    predictions: list[_FastPrediction]


_FAST = msgspec.json.Decoder(_FastFile)
_FAST_ERRORS = (msgspec.ValidationError, msgspec.DecodeError)
_NUMBER = (int, float)


class _Task:
    """A task being read: its spec plus the schema-id -> canonical-id lookup table."""

    __slots__ = ("name", "task_type", "folder", "n_categories", "index", "values", "identity",
                 "unmapped", "fast", "names")

    def __init__(self, spec: _layout.TaskSpec, lut: dict[int, int]) -> None:
        self.name = spec.name
        self.task_type = spec.task_type
        self.folder = str(spec.folder)
        self.n_categories = len(spec.categories)
        # schema id -> position -> canonical id: memory grows with the number of categories,
        # never with the largest id (a table indexed by id took gigabytes for id 3e8)
        self.index = predport.IdIndex(lut)
        # unmapped: negative, and still says which class (-1 - schema id)
        self.values = np.fromiter((cid if cid >= 0 else -1 - sid for sid, cid in lut.items()), dtype=np.int64,
                                  count=len(lut))
        self.names = {c["id"]: c["name"] for c in spec.categories}
        self.identity = all(sid == cid for sid, cid in lut.items())
        self.unmapped = bool((self.values < 0).any())
        self.fast = spec.task_type == "object-detection"


# ---------------------------------------------------------------------------- parse
def workers_option(options: Mapping[str, Any]) -> int | None:
    """The ``workers`` option (declared in ``hooks.READ_OPTIONS``, parsed by the hub): worker
    processes (0: read in this process), or ``None`` for ``"auto"``."""
    value = options.get("workers", "auto")
    return None if value in (None, "auto") else int(value)


def declare_categories(tasks: list[_layout.TaskSpec], context: Any) -> list[_Task]:
    """Declare every task's categories; categories of different tasks never share an id.

    The first task keeps its schema ids. A later task whose ids collide with ids
    already declared is shifted past them (offset = largest id so far + 1); its
    categories keep the schema id in ``attributes["lightly_id"]``. Every category
    carries ``attributes["task"]`` and ``["task_type"]`` so a writer can put its
    predictions back in their task; other schema keys (``supercategory``,
    ``keypoint_names``...) are kept as attributes too.
    """
    out: list[_Task] = []
    taken: set[int] = set()
    for spec in tasks:
        ids = [c["id"] for c in spec.categories]
        offset = (max(taken) + 1) if taken.intersection(ids) else 0
        lut: dict[int, int] = {}
        for c in spec.categories:
            sid = c["id"]
            attrs: dict[str, Any] = {"task": spec.name, "task_type": spec.task_type}
            if offset:
                attrs["lightly_id"] = sid
            for k, v in c.items():
                if k not in ("id", "name", "external_id"):
                    attrs[k] = v
            ext = c.get("external_id")
            lut[sid] = context.categories.declare(
                sid + offset, c["name"], None if ext is None else str(ext), attrs
            )
            taken.add(sid + offset)
        out.append(_Task(spec, lut))
    return out


def parse(path: Path, options: Mapping[str, Any], context: Any) -> Iterator[Any]:
    """Resolve the layout and declare categories now; return the lazy group iterator.

    A one-task object-detection folder is listed first and, when workers are used,
    they start decoding here, before the categories are declared (see :class:`_Decoder`).
    """
    workers = workers_option(options)
    lay = _layout.resolve(path, options)
    for name in lay.ignored:
        context.report.warn(f"task folder {name!r} is not listed in tasks.json; ignored")
    decoder = None
    if lay.single_file is None and len(lay.tasks) == 1 and lay.tasks[0].task_type == "object-detection":
        decoder = _Decoder(str(lay.tasks[0].folder), workers)  # workers start now
    try:
        tasks = declare_categories(lay.tasks, context)
    except BaseException:
        if decoder is not None:
            decoder.close()
        raise
    if lay.single_file is not None:
        return _single(tasks[0], lay.single_file, lay.single_rel or lay.single_file.name, context)
    if decoder is not None:
        return decoder.batches(tasks[0], context)
    return _groups(tasks, context)


def _read(file: str) -> bytes:
    """The bytes of ``file`` (raw ``os`` calls, :func:`predport.read_bytes`: about 2.5x cheaper
    per small file than ``open()``, measured on 50,000 files); a FIFO or device, or a file
    that cannot be read, is a located :class:`~predport.ParseError`, never a hang."""
    return predport.read_bytes(file)


def _load(file: str, context: Any, fast: bool = False) -> Any:
    """The parsed file (a :class:`_FastFile` when ``fast`` and it fits, else JSON), or ``None`` (reported)."""
    try:
        raw = _read(file)
    except predport.PredportError as err:  # unreadable, or not a regular file (a FIFO)
        context.problem(err)
        return None
    if fast:
        try:
            return _FAST.decode(raw)
        except _FAST_ERRORS:
            pass  # not the plain shape: the general path below reports any problem exactly
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        context.problem(predport.ParseError(f"invalid JSON: {exc}", file=file))
    return None


def _single(task: _Task, file: Path, rel: str, context: Any) -> Iterator[Any]:
    obj = _load(str(file), context, task.fast)
    if obj is not None:
        yield ((task, str(file), rel[:-5] if rel.endswith(".json") else rel, obj),)


def _groups(tasks: list[_Task], context: Any) -> Iterator[Any]:
    load = _load
    isfile = os.path.isfile
    folders = [t.folder + os.sep for t in tasks]
    for k, task in enumerate(tasks):
        earlier = folders[:k]
        later = list(zip(tasks[k + 1 :], folders[k + 1 :]))
        base = folders[k]
        for rel in _layout.walk(Path(task.folder)):
            if earlier and any(isfile(f + rel) for f in earlier):
                continue  # merged when the earlier task's tree was walked
            file = base + rel
            obj = load(file, context, task.fast)
            if not later:
                if obj is not None:
                    yield ((task, file, rel[:-5], obj),)
                continue
            group = [] if obj is None else [(task, file, rel[:-5], obj)]
            for other, folder in later:
                ofile = folder + rel
                if isfile(ofile):
                    oobj = load(ofile, context, other.fast)
                    if oobj is not None:
                        group.append((other, ofile, rel[:-5], oobj))
            if group:
                yield group


class _Batch:
    """Up to ``BATCH`` files of one object-detection task, decoded by :func:`_decode_batch`.

    ``names[i]`` is file ``rels[i]``'s ``file_name``, or ``None`` when the file is not
    the plain shape (or cannot be read): the main process reads it the general way,
    which reports any problem exactly. Its predictions are rows ``ends[i-1]:ends[i]``
    of ``cols`` (``(category_id, score, box)`` arrays, unchecked; ``None`` when an id
    does not fit in int64).
    """

    __slots__ = ("task", "rels", "names", "ends", "cols")

    def __init__(self, task: _Task, rels: list[str], decoded: tuple[Any, Any, Any]) -> None:
        self.task = task
        self.rels = rels
        self.names, self.ends, self.cols = decoded


def _decode_batch(base: str, rels: list[str]) -> tuple[list[str | None], list[int], Any]:
    """Read and strictly decode the files ``base + rel``: their ``file_name`` values (``None``:
    not the plain shape, or unreadable), the end row of each file, and the columns.

    Runs in worker processes too: it touches no context and raises for no file content.
    """
    decode = _FAST.decode  # looked up per batch: tests replace it
    fails = _FAST_ERRORS
    names: list[str | None] = []
    ends: list[int] = []
    preds: list[_FastPrediction] = []
    for rel in rels:
        try:
            obj = decode(_read(base + rel))
        except (OSError, predport.PredportError, *fails):
            names.append(None)
        else:
            names.append(obj.file_name)
            preds += obj.predictions
        ends.append(len(preds))
    return names, ends, _arrays(preds)


def _arrays(preds: list[_FastPrediction]) -> tuple[Any, Any, Any] | None:
    """``(category_id, score, box)`` arrays of strictly decoded predictions (``None``: an id beyond int64)."""
    n = len(preds)
    try:
        cid = np.frombuffer(array("q", [p.category_id for p in preds]), dtype=np.int64)
    except OverflowError:
        return None
    score = np.frombuffer(array("d", [p.score for p in preds]), dtype=np.float64)
    box = np.fromiter(chain.from_iterable([p.bbox for p in preds]), dtype=np.float64, count=4 * n).reshape(n, 4)
    return cid, score, box


def _chunks(rels: Iterator[str]) -> Iterator[list[str]]:
    while True:
        chunk = list(islice(rels, BATCH))
        if not chunk:
            return
        yield chunk


#: The CPUs this process may use (a module name, so tests can pretend another machine).
_cpus = predport.usable_cpus


def auto_workers() -> int:
    """Worker processes for ``workers="auto"`` on a large folder: one per CPU this process may
    use, at most ``MAX_AUTO_WORKERS``; none on a machine with one CPU. (The main process
    mostly waits for decoded batches, so it needs no CPU of its own: measured on 2 CPUs,
    2 workers beat 1.)"""
    cpus = _cpus()
    return 0 if cpus < 2 else min(MAX_AUTO_WORKERS, cpus)


class _Decoder:
    """The decoded batches of a one-task object-detection folder, from this process or from workers.

    Made by :func:`parse` *before* it declares the categories, so that forked workers
    are already decoding while the main process sets up (the canonical model is
    imported then). The workers are the core's :func:`predport.ordered_map` (batches
    in folder order, flat memory, a failed worker's share read here); without workers
    the folder is walked lazily.
    """

    def __init__(self, folder: str, workers: int | None) -> None:
        rels = iter(_layout.walk(Path(folder)))
        if workers is None:  # auto: workers only for large folders, decided after a bounded look-ahead
            head = list(islice(rels, PARALLEL_MIN_FILES))
            workers = auto_workers() if len(head) >= PARALLEL_MIN_FILES else 0
            rels = chain(head, rels)
        self.decoded = predport.ordered_map(partial(_decode_batch, folder + os.sep), _chunks(rels), workers,
                                            name="predport-lightly", with_items=True)

    def batches(self, task: _Task, context: Any) -> Iterator[_Batch]:
        decoded = self.decoded
        said = None
        try:
            for chunk, columns in decoded:
                if decoded.note != said:  # the workers could not start, or one stopped
                    said = decoded.note
                    context.report.warn(f"Lightly: {said}")
                yield _Batch(task, chunk, columns)
        finally:
            self.close()

    def close(self) -> None:
        self.decoded.close()


# ---------------------------------------------------------------------------- to_canonical
def _err(msg: str, file: str, json_path: str | None = None, field: str | None = None) -> predport.ParseError:
    return predport.ParseError(msg, file=file, json_path=json_path, field=field)


def _file_fields(obj: Any, file: str) -> tuple[str, list[Any]]:
    if type(obj) is not dict:
        raise _err("a Lightly prediction file must be a JSON object", file, "$")
    fn = obj.get("file_name")
    preds = obj.get("predictions")
    if type(fn) is not str or not fn:
        raise _err("'file_name' must be a non-empty string", file, "$.file_name", "file_name")
    if type(preds) is not list:
        raise _err("'predictions' must be a list", file, "$.predictions", "predictions")
    return fn, preds


class _Reader:
    """State of one ``to_canonical`` run (the context and caches)."""

    def __init__(self, context: Any) -> None:
        self.ctx = context
        self.sizes = context.has_sizes

    # -- one prediction at a time: every task type, exact error places ------------------
    def slow(self, task: _Task, preds: list[Any], file: str, ident: Identity) -> Any:
        """Detections of one file, prediction by prediction; bad predictions go to ``context.problem``."""
        ctx = self.ctx
        tt = task.task_type
        needs_box = tt in ("object-detection", "instance-segmentation")
        needs_mask = tt in ("semantic-segmentation", "instance-segmentation")
        needs_kp = tt == "keypoint-detection"
        size = None
        if needs_mask and preds:
            size = ctx.image_size(ident.data_id)
            if size is None:
                ctx.problem(predport.ConfigError(
                    f"image size of {ident.data_id!r} is unknown: Lightly segmentation RLE has no size",
                    file=file,
                    hint="pass image_sizes= (a mapping or a sizes/COCO file) or images= (the image folder)",
                ))
                return None
        cids: list[int] = []
        scores: list[float | None] = []
        boxes: list[Any] = []
        masks: list[Any] = []
        kps: list[Any] = []
        probs: list[Any] = []
        index, values = task.index, task.values
        for i, p in enumerate(preds):
            jp = f"$.predictions[{i}]"
            try:
                row = self._one(p, jp, file, tt, needs_box, needs_mask, needs_kp, size, task, ident.data_id)
            except predport.PredportError as err:
                ctx.problem(err)
                continue
            cid, score, box, mask, kp, prob = row
            pos = index.get(cid)
            if pos < 0:
                ctx.problem(_err(f"category_id {cid} is not in the schema.json of task {task.name!r}",
                                 file, jp + ".category_id", "category_id"))
                continue
            mapped = int(values[pos])
            if mapped < 0:
                ctx.categories.left_out(name=task.names.get(cid), id=cid)
                continue
            cids.append(mapped)
            scores.append(score)
            boxes.append(box)
            masks.append(mask)
            kps.append(kp)
            probs.append(prob)
        if not cids:
            return predport.Detections.empty()
        box_col = None
        if any(b is not None for b in boxes):
            box_col = np.array([b if b is not None else (np.nan,) * 4 for b in boxes], dtype=np.float64)
        return predport.Detections(
            np.asarray(cids, dtype=np.int64),
            scores,
            box_col,
            mask=masks,
            keypoints=kps,
            probabilities=probs,
        )

    def _one(self, p: Any, jp: str, file: str, tt: str, needs_box: bool, needs_mask: bool, needs_kp: bool,
             size: tuple[int, int] | None, task: _Task, data_id: str) -> tuple[Any, ...]:
        if type(p) is not dict:
            raise _err("a prediction must be a JSON object", file, jp)
        cid = p.get("category_id")
        if type(cid) is not int:
            raise _err(f"category_id must be an integer, got {cid!r}", file, jp + ".category_id", "category_id")
        score = p.get("score")
        if score is not None and type(score) not in _NUMBER:
            raise _err(f"score must be a number, got {score!r}", file, jp + ".score", "score")
        box = p.get("bbox")
        if box is not None:
            if (type(box) is not list or len(box) != 4 or any(type(v) not in _NUMBER for v in box)):
                raise _err(f"bbox must be [x, y, width, height] (4 numbers), got {box!r}", file, jp + ".bbox", "bbox")
            if box[2] < 0 or box[3] < 0:
                raise _err(f"bbox width and height must be >= 0, got {box!r}", file, jp + ".bbox", "bbox")
        elif needs_box:
            raise _err(f"a {tt} prediction needs 'bbox'", file, jp + ".bbox", "bbox")
        mask = None
        seg = p.get("segmentation")
        if seg is not None or needs_mask:
            if seg is None:
                raise _err(f"a {tt} prediction needs 'segmentation'", file, jp + ".segmentation", "segmentation")
            if size is None:
                size = self.ctx.image_size(data_id)
                if size is None:
                    raise predport.ConfigError(
                        f"image size of {data_id!r} is unknown: Lightly segmentation RLE has no size",
                        file=file, json_path=jp + ".segmentation", field="segmentation",
                        hint="pass image_sizes= (a mapping or a sizes/COCO file) or images= (the image folder)",
                    )
            from .rle import check_counts, lightly_to_coco

            width, height = size
            why = check_counts(seg, height, width)
            if why is not None:
                raise _err(why, file, jp + ".segmentation", "segmentation")
            mask = lightly_to_coco(seg, height, width)
        kp = None
        raw_kp = p.get("keypoints")
        if raw_kp is not None or needs_kp:
            if (type(raw_kp) is not list or not raw_kp or len(raw_kp) % 3
                    or any(type(v) not in _NUMBER for v in raw_kp)):
                raise _err(f"keypoints must be a flat list [x1, y1, s1, ...] of 3*k numbers, got {raw_kp!r}",
                           file, jp + ".keypoints", "keypoints")
            kp = [raw_kp[j : j + 3] for j in range(0, len(raw_kp), 3)]
        prob = p.get("probabilities")
        if prob is not None:
            if type(prob) is not list or any(type(v) not in _NUMBER for v in prob):
                raise _err(f"probabilities must be a list of numbers, got {prob!r}",
                           file, jp + ".probabilities", "probabilities")
            if len(prob) != task.n_categories:
                self.ctx.report.warn(
                    f"task {task.name!r}: probabilities with {len(prob)} values for {task.n_categories} "
                    "categories (kept as given)"
                )
            prob = [float(v) for v in prob]
        extra = set(p) - _KNOWN_KEYS
        if extra:
            self.ctx.report.warn(f"task {task.name!r}: ignored prediction keys {sorted(extra)}")
        return cid, (None if score is None else float(score)), (None if box is None else [float(v) for v in box]), \
            mask, kp, prob

    # -- columnar fast path ---------------------------------------------------------------
    @staticmethod
    def columns(task: _Task, cols: tuple[Any, Any, Any] | None) -> tuple[Any, Any, Any] | None:
        """The arrays of a batch of object-detection predictions (types already checked by the
        strict decoder) with canonical ids, or ``None`` when an id is not in the schema or a
        value is one the canonical model refuses (a negative box size, say: the files are then
        read again, prediction by prediction). The frames are built from slices of these
        arrays with ``checked=True``: the core's column check runs once per batch, here."""
        if cols is None:
            return None
        cid, score, box = cols
        pos = task.index.positions(cid)
        if len(cid) and (pos < 0).any():
            return None
        if not predport.Detections.columns_ok(score, box):
            return None
        if not task.identity:
            cid = task.values[pos]
        return cid, score, box

    def frames(self, records: Iterable[Any]) -> Iterator[Any]:
        """Frames of the groups from :func:`parse`, in order.

        The predictions of a batch of files are gathered in one list per task
        (msgspec structs with ``gc=False``: the cyclic GC never scans them, so keeping a
        batch alive costs next to nothing, unlike parsed JSON dicts, which are reduced
        to a Detections as soon as they are read) and turned into arrays once per batch.
        A group of one strictly decoded file (the common case) is planned inline as one
        tuple, without the general per-group plumbing of :meth:`_extract`.
        """
        ctx = self.ctx
        inline = ctx.id_lookup is None
        plan: list[Any] = []
        cols: dict[_Task, list[_FastPrediction]] = {}
        extract = self._extract
        empty = predport.Detections.empty
        for group in records:
            if type(group) is _Batch:
                if plan:
                    yield from self._flush(plan, cols)
                    plan, cols = [], {}
                yield from self._batch(group)
                continue
            if inline and len(group) == 1:
                task, file, rel_stem, obj = group[0]
                if type(obj) is _FastFile:
                    fn = obj.file_name
                    ident, mismatch = identify(rel_stem, fn)
                    if mismatch:
                        self._mismatch(file, fn, rel_stem)
                    preds = obj.predictions
                    if preds:
                        start = _gather(cols, task, preds)
                        plan.append((ident, file, task, start, start + len(preds)))
                    else:
                        plan.append((ident, file, task, -1, empty()))
                    if len(plan) >= BATCH:
                        yield from self._flush(plan, cols)
                        plan, cols = [], {}
                    continue
            plan.append(extract(group, cols))
            if len(plan) >= BATCH:
                yield from self._flush(plan, cols)
                plan, cols = [], {}
        if plan:
            yield from self._flush(plan, cols)

    def _batch(self, batch: _Batch) -> Iterator[Any]:
        """Frames of a decoded batch. With no sizes, class-map drops or id function, a plain
        file's frame is built straight from the arrays (the hot loop of a large folder);
        every other file is planned by :meth:`_plan_file` and built by :meth:`_flush`."""
        task = batch.task
        base = task.folder + os.sep
        arrays = self.columns(task, batch.cols)
        plan_file = self._plan_file
        start = 0
        if arrays is None or self.ctx.id_lookup is not None or self.sizes or task.unmapped:
            plan = []
            for rel, fn, end in zip(batch.rels, batch.names, batch.ends):
                entry = plan_file(task, base, rel, fn, start, end)
                if entry is not None:
                    plan.append(entry)
                start = end
            yield from self._flush(plan, {}, {task: arrays})
            return
        cid, score, box = arrays
        Frame = predport.Frame
        Dets = predport.Detections
        empty = Dets.empty
        for rel, fn, end in zip(batch.rels, batch.names, batch.ends):
            if fn is not None and is_plain(rel[:-5], fn):
                yield Frame(data_id=fn, predictions=Dets(cid[start:end], score[start:end], box[start:end],
                                                         checked=True) if end > start else empty())
            else:
                entry = plan_file(task, base, rel, fn, start, end)
                if entry is not None:
                    yield from self._flush([entry], {}, {task: arrays})
            start = end

    def _plan_file(self, task: _Task, base: str, rel: str, fn: str | None, start: int, end: int) -> Any:
        """The plan entry of one file of a decoded batch (``None``: unreadable, reported): a
        file not in the plain shape is read again the general way."""
        ctx = self.ctx
        file = base + rel
        if fn is None:
            obj = _load(file, ctx)
            return None if obj is None else self._extract([(task, file, rel[:-5], obj)], {})
        ident, mismatch = identify(rel[:-5], fn)
        if mismatch:
            self._mismatch(file, fn, rel[:-5])
        if ctx.id_lookup is not None:
            data_id, frame = ctx.data_id_for(Path(file), (ident.data_id, ident.frame_index))
            ident = Identity(data_id, frame, ident.virtual_name)
        return (ident, file, task, start, end) if end > start else (ident, file, task, -1, predport.Detections.empty())

    def _mismatch(self, file: str, fn: str, rel_stem: str) -> None:
        self.ctx.report.count("file_name differs from the file's path")
        self.ctx.report.warn(
            f"{file}: file_name {fn!r} does not match the file's path {rel_stem + '.json'!r}; using file_name"
        )

    def _extract(self, group: Any, cols: dict[_Task, list[_FastPrediction]]) -> list[Any]:
        ctx = self.ctx
        items = []
        for task, file, rel_stem, obj in group:
            fast = type(obj) is _FastFile
            if fast:
                fn, preds = obj.file_name, obj.predictions
            else:
                try:
                    fn, preds = _file_fields(obj, file)
                except predport.ParseError as err:
                    ctx.problem(err)
                    continue
            ident, mismatch = identify(rel_stem, fn)
            if mismatch:
                self._mismatch(file, fn, rel_stem)
            if ctx.id_lookup is not None:
                data_id, frame = ctx.data_id_for(Path(file), (ident.data_id, ident.frame_index))
                ident = Identity(data_id, frame, ident.virtual_name)
            if not fast:
                items.append((ident, file, task, -1, self.slow(task, preds, file, ident)))
            elif not preds:
                items.append((ident, file, task, -1, predport.Detections.empty()))
            else:
                start = _gather(cols, task, preds)
                items.append((ident, file, task, start, start + len(preds)))
        return items

    def _flush(self, plan: list[Any], cols: Mapping[_Task, Any], arrays: dict[_Task, Any] | None = None,
               ) -> Iterator[Any]:
        """Frames of a planned batch: a plan entry is one file's tuple or a group's list.

        ``cols`` holds the strictly decoded predictions per task (turned into arrays
        here); ``arrays`` the arrays of a batch decoded by :func:`_decode_batch`.
        """
        if arrays is None:
            arrays = {}
        for task, preds in cols.items():
            arrays[task] = self.columns(task, _arrays(preds))
        # Frames without sizes need no clamping: the common image frame is built inline.
        # (Validated Frame(...) is kept: with pydantic 2.14, model_construct walks every
        # field and calls the default factories in Python, ~2-6x slower than validating.)
        plain = not self.sizes
        Frame = predport.Frame
        Dets = predport.Detections
        for items in plan:
            if type(items) is tuple:
                one = items
            elif not items:
                continue
            elif len(items) == 1:
                one = items[0]
            else:
                yield from self._merged(arrays, items)
                continue
            ident, file, task, start, end = one
            if start >= 0 and plain and not task.unmapped and ident.frame_index is None:
                got = arrays[task]
                if got is not None:
                    cid, score, box = got
                    yield Frame(data_id=ident.data_id,
                                predictions=Dets(cid[start:end], score[start:end], box[start:end], checked=True))
                    continue
            dets = self._dets(arrays, ident, file, task, start, end)
            if dets is not None:
                frame = self._frame(ident, file, dets)
                if frame is not None:
                    yield frame

    def _dets(self, arrays: Mapping[Any, Any], ident: Identity, file: str, task: _Task, start: int, end: Any) -> Any:
        if start < 0:
            return end  # already built by the per-prediction path (or None: skipped)
        cols = arrays[task]
        if cols is None:
            # The batch failed a check: read the file again and find the exact place.
            obj = _load(file, self.ctx)
            if obj is None:
                return None
            return self.slow(task, _file_fields(obj, file)[1], file, ident)
        cid, score, box = cols
        dets = predport.Detections(cid[start:end], score[start:end], box[start:end], checked=True)
        if task.unmapped:
            keep = dets.category_id >= 0
            if not keep.all():
                sids, rows = np.unique(-1 - dets.category_id[~keep], return_counts=True)
                for sid, n in zip(sids.tolist(), rows.tolist()):
                    self.ctx.categories.left_out(name=task.names.get(sid), id=sid, rows=n)
                dets = dets.take(keep)
        return dets

    def _merged(self, arrays: Mapping[Any, Any], items: list[Any]) -> Iterator[Any]:
        by_key: dict[tuple[str, int | None], list[Any]] = {}
        for ident, file, task, start, end in items:
            dets = self._dets(arrays, ident, file, task, start, end)
            if dets is not None:
                by_key.setdefault((ident.data_id, ident.frame_index), []).append((ident, file, dets))
        for parts in by_key.values():
            ident, file, _ = parts[0]
            frame = self._frame(ident, file, predport.Detections.concat([d for _, _, d in parts]))
            if frame is not None:
                yield frame

    def _frame(self, ident: Identity, file: str, dets: Any) -> Any:
        width = height = None
        if self.sizes:
            size = self.ctx.image_size(ident.data_id)
            if size is not None:
                width, height = size
        # Only the fields that are set: pydantic is measurably faster without defaults passed.
        fields: dict[str, Any] = {"data_id": ident.data_id, "predictions": dets}
        if ident.frame_index is not None:
            fields["frame_index"] = ident.frame_index
            if ident.virtual_name is not None:
                fields["attributes"] = {"lightly_file_name": ident.virtual_name}
        if width is not None:
            fields["width"] = width
            fields["height"] = height
        try:
            return predport.Frame(**fields)
        except ValueError as exc:  # pydantic's ValidationError: a bad size from the user's mapping
            self.ctx.problem(predport.ParseError(f"invalid frame: {exc}", file=file))
            return None


def _gather(cols: dict[_Task, list[_FastPrediction]], task: _Task, preds: list[_FastPrediction]) -> int:
    """Add a file's strictly decoded predictions to its task's batch; returns their first row."""
    batch = cols.get(task)
    if batch is None:
        batch = cols[task] = []
    start = len(batch)
    batch += preds
    return start


_KNOWN_KEYS = frozenset({"category_id", "score", "bbox", "segmentation", "keypoints", "probabilities"})


def to_canonical(records: Iterable[Any], context: Any) -> Iterator[Any]:
    return _Reader(context).frames(records)
