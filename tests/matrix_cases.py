"""The conversion matrix: real inputs of every readable format, through every writer, and back.

Shared by ``tests/test_matrix.py`` (the test) and ``tools/matrix_table.py`` (the table in
``docs/matrix.md``). Not a test module itself (pytest collects only ``test_*.py``); both
users load it by path, because the suite runs with ``--import-mode=importlib``.

One *pair* is one input (a :class:`Case`) and one writer. :func:`run_pair` loads the
input, saves it with ``allow_loss=True`` (the loss table is kept), reads the output back
with the writer's own format, and compares the two prediction sets field by field. The
expectations are derived, not written per pair:

* a field **must survive exactly** when the writer's ``FormatInfo.holds`` names it, the
  source has it, and the loss table does not name it;
* every field the source has and the writer does not hold **must be in the loss table**
  (nothing is dropped silently), with the count of values the source had;
* a held field the writer reports as (partly) lost must really have lost something.

Rules for what "the same" means (frame identity, categories, tolerances, the few
transformations a format makes by nature) are stated where they are implemented and in
``docs/matrix.md``. Units: pixels, as in the canonical model.
"""
from __future__ import annotations

import json
import math
import importlib
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np

import predport
from predport.loss import split_loss
from predport.testing import corpus_dir

ROOT = Path(__file__).resolve().parents[1]

#: Pixels two coordinates may differ by (boxes, polygons, keypoints, 3-D boxes).
TOLERANCE = 1e-6

PRED_FIELDS = ("box", "polygon", "mask", "keypoints", "probabilities", "box3d", "attributes")

#: Short codes of the table, in table order: (code, field, what it is).
CODES: tuple[tuple[str, str, str], ...] = (
    ("B", "box", "boxes"),
    ("S", "score", "scores (null stays null)"),
    ("P", "polygon", "polygons"),
    ("M", "mask", "masks (decoded pixels)"),
    ("K", "keypoints", "keypoints"),
    ("R", "probabilities", "class probabilities"),
    ("D", "box3d", "3-D boxes"),
    ("A", "attributes", "prediction attributes"),
    ("F", "frame_index", "video frame index"),
    ("Z", "size", "image width/height"),
    ("E", "frame_attributes", "frame attributes"),
    ("C", "category_extras", "category external ids and attributes"),
    ("V", "empty_frames", "frames without predictions"),
    ("N", "rows", "whole predictions (shown only when some are left out)"),
)
CODE_OF = {fieldname: code for code, fieldname, _ in CODES}


# -- inputs ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rel:
    """A path inside the case's root (``examples/``, a plugin folder, the corpus, or the work dir)."""

    path: str


@dataclass(frozen=True)
class Case:
    """One real input of a readable format and how to read it.

    * ``id`` — ``"<format>:<name>"``, the row of the table.
    * ``root`` — ``"examples"`` (the bundled examples), ``"repo"`` (a file in the
      repository, e.g. a plugin's test fixture), ``"corpus"`` (the shared corpus, read in
      place; the case is skipped when it is absent) or ``"inline"`` (``text`` is written
      to the work dir first).
    * ``read`` — keyword arguments of ``predport.load``; :class:`Rel` values (also inside
      ``options``) are paths under the same root.
    * ``sizes`` — image sizes ``{data_id: (width, height)}`` the input itself does not
      carry, handed to the writer and the reader (``image_sizes=``), with where they come from.
    """

    id: str
    root: str
    path: str
    read: Mapping[str, Any] = field(default_factory=dict)
    exercises: str = ""
    sizes: Mapping[str, tuple[int, int]] | None = None
    text: str | None = None

    @property
    def format(self) -> str:
        return self.id.split(":", 1)[0]


def _csv_text() -> str:
    # The template plugin's own fixture (docs/template/tests/test_csvboxes.py): a KITTI-style
    # score above 1, a null score, and an image without predictions.
    return (
        "image,class,x,y,w,h,score\n"
        "a.jpg,car,10,20,30.5,40,0.93\n"
        "a.jpg,person,1,2,3,4,\n"
        "b.jpg,,,,,,\n"
        "c.jpg,car,0,0,1e3,2.5,97.85\n"
    )


def _rle(rows: Sequence[str]) -> dict[str, Any]:
    """COCO compressed RLE of a small mask drawn as text rows (``#`` = set)."""
    from pycocotools import mask as mask_utils

    arr = np.asfortranarray(np.array([[c == "#" for c in r] for r in rows], dtype=np.uint8))
    rle = mask_utils.encode(arr)
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def canonical_document(*, scored: bool = False) -> dict[str, Any]:
    """A hand-written canonical document with every field the model has.

    Written by hand against ``predport/prediction-set/1`` (``predport schema``): a still
    image with boxes, a null score, keypoints with a null visibility, a pixel-centre
    polygon with a hole, an RLE mask, class probabilities and attributes; a two-frame
    video with a 3-D box; and an image without predictions. Sizes 16x12 px.

    ``scored=True``: the same with every score and keypoint visibility given, for the
    writers that require them (Aquarium, Encord, Lightly).
    """
    null = 0.35 if scored else None
    mask_rows = ["." * 16] * 12
    mask_rows = [r if not 2 <= i <= 5 else "......####......" for i, r in enumerate(mask_rows)]
    return {
        "schema": "predport/prediction-set/1",
        "source": None,
        "categories": [
            {"id": 1, "name": "car", "external_id": "OTk2MzM3", "attributes": {"supercategory": "vehicle"}},
            {"id": 2, "name": "person", "external_id": None, "attributes": {}},
            {"id": 3, "name": "road", "external_id": None, "attributes": {}},
        ],
        "frames": [
            {
                "data_id": "street.jpg", "frame_index": None, "width": 16, "height": 12,
                "attributes": {"weather": "sunny"},
                "predictions": [
                    {"category_id": 1, "score": 0.93, "box": [1.0, 2.5, 4.25, 3.0],
                     "attributes": {"track_id": 7}},
                    {"category_id": 2, "score": null, "box": [9.0, 1.0, 2.0, 6.0],
                     "keypoints": [[9.5, 1.5, 0.5], [10.5, 1.5, null], [10.0, 6.5, 1.0]]},
                    {"category_id": 3, "score": 0.5,
                     "polygon": [[0.5, 8.5, 15.5, 8.5, 15.5, 11.5, 0.5, 11.5], [6.5, 9.5, 8.5, 9.5, 8.5, 10.5]],
                     "attributes": {"holes": [1]}},
                    {"category_id": 1, "score": 0.61, "box": [6.0, 2.0, 4.0, 4.0], "mask": _rle(mask_rows)},
                    {"category_id": 1, "score": 0.25, "box": [12.0, 0.0, 3.5, 2.0],
                     "probabilities": [0.25, 0.7, 0.05]},
                ],
            },
            {
                "data_id": "drive.mp4", "frame_index": 0, "width": 16, "height": 12, "predictions": [
                    {"category_id": 1, "score": 0.8, "box": [2.0, 3.0, 5.0, 4.0]},
                ],
            },
            {
                "data_id": "drive.mp4", "frame_index": 1, "width": 16, "height": 12, "predictions": [
                    {"category_id": 1, "score": 0.75, "box": [3.0, 3.0, 5.0, 4.0],
                     "box3d": {"position": [1.5, -2.0, 0.75], "dimensions": [4.2, 1.9, 1.6],
                               "rotation": [0.0, 0.0, 0.3826834323650898, 0.9238795325112867],
                               "coordinate_frame": "world"}},
                ],
            },
            {"data_id": "empty.jpg", "frame_index": None, "width": 16, "height": 12, "predictions": []},
        ],
    }


def _canonical_text() -> str:
    return json.dumps(canonical_document(), indent=1) + "\n"


def _canonical_jsonl_text() -> str:
    doc = canonical_document(scored=True)
    head = {**doc, "frames": []}
    return "".join(json.dumps(obj) + "\n" for obj in [head, *doc["frames"]])


#: The inputs. Every readable format has at least one input that needs no corpus.
CASES: tuple[Case, ...] = (
    Case("aquarium:example", "examples", "aquarium/frames.jsonl",
         {"options": {"mask_root": Rel("aquarium")}},
         "boxes, scores, user metadata (legacy 0.0.x rows)",
         # examples/make_examples.py draws every example scene at W, H = 640, 480.
         sizes={"street_0001": (640, 480), "street_0002": (640, 480)}),
    Case("aquarium:legacy", "repo", "plugins/aquarium/tests/data/legacy_0.0.67.jsonl", {},
         "rows written by aquariumlearning 0.0.67: boxes, lines, keypoints, polygons, masks, "
         "classifications, a cuboid, custom metrics"),
    Case("aquarium:v1", "repo", "plugins/aquarium/tests/data/v1_1.0.7.jsonl", {},
         "rows written by aquariumlearning 1.0.7 (the same kinds, 1.0.x keys)"),
    Case("canonical:handwritten", "inline", "handwritten.json", {},
         "every canonical field: null score, keypoints, polygon with a hole, mask, probabilities, "
         "3-D box, attributes, video frames, an empty image", text=_canonical_text()),
    Case("canonical-jsonl:scored", "inline", "scored.jsonl", {},
         "the same document as JSON Lines, every score and keypoint visibility given",
         text=_canonical_jsonl_text()),
    Case("coco:example", "examples", "coco/results.json", {"options": {"gt": Rel("coco/gt.json")}},
         "boxes, scores and one RLE mask, names and sizes from the GT"),
    Case("coco:keypoints", "corpus", "coco/faster_coco_eval/keypoints_dt_dataset.json",
         {"options": {"gt": Rel("coco/faster_coco_eval/keypoints_gt_dataset.json")}},
         "keypoints with float visibilities, boxes, scores"),
    Case("coco:polygons", "corpus", "coco/faster_coco_eval/dt_dataset.json",
         {"options": {"gt": Rel("coco/faster_coco_eval/gt_dataset.json")}},
         "polygon results with boxes, scores and extra keys (area, id)"),
    Case("coco:fakesegm", "corpus", "coco/cocoapi/instances_val2014_fakesegm100_results.json",
         {"options": {"gt": Rel("coco/faster_coco_eval/instances_val2014_100.json")}},
         "734 compressed-RLE masks without boxes on 99 images"),
    Case("csvboxes:template", "inline", "boxes.csv", {},
         "boxes, a null score, a score above 1, an image without boxes", text=_csv_text()),
    Case("deeplake:example", "repo", "plugins/deeplake/tests/data/coco-example", {},
         "a dataset written from examples/coco: pixel LTWH boxes, scores, one BinaryMask plane, class "
         "labels with category ids, image sizes, COCO image ids"),
    Case("encord:example", "examples", "encord/predictions.json",
         {"image_sizes": Rel("encord/sizes.json")},
         "normalised box and polygon, a classification with attributes"),
    Case("encord:fixture", "repo", "plugins/encord/tests/data/predictions.json",
         {"image_sizes": Rel("plugins/encord/tests/data/sizes.json"),
          "options": {"ontology": Rel("plugins/encord/tests/data/ontology.json")}},
         "the plugin's fixture: frames, polygons, a score above 1, names from an ontology"),
    Case("kitti:example", "examples", "kitti/label_2", {},
         "16-column results (scores, one above 1), truncation/occlusion attributes"),
    Case("kitti:object_vis", "corpus", "kitti/kitti_object_vis/label_2", {},
         "real KITTI ground truth: 3-D attributes, DontCare, sizes from image_2/"),
    Case("kitti:labelformat", "corpus", "kitti/labelformat/labels",
         {"images": Rel("kitti/labelformat/images/a-difficult subfolder")},
         "class names and file names with spaces"),
    Case("lightly:example", "examples", "lightly/.lightly/predictions", {"images": Rel("lightly/images")},
         "boxes, scores, probabilities, a task folder with a sub-folder"),
    Case("lightly:coco128", "corpus", "lightly/lightly_dataset_examples/coco_subset_128_images/predictions",
         {"image_sizes": Rel("coco/lightly_coco_subset_128/instances_train2017.json")},
         "real LightlyTrain predictions: 128 images, 732 boxes"),
    Case("lightly:labelformat", "corpus", "lightly/labelformat/detection-task-name",
         {"images": Rel("lightly/labelformat/images")},
         "score 0, names with spaces, odd file names"),
    Case("masks:example", "examples", "masks/predictions", {},
         "class-index PNGs: instances, a hole, a one-pixel region"),
    Case("masks:voc", "corpus", "png_masks/labelformat_voc/SegmentationClass",
         {"class_map": Rel("png_masks/labelformat_voc/class_id_to_name.json")},
         "VOC palette masks with a void border, a sub-folder, names from a class map"),
    Case("yolo:example", "examples", "yolo/labels", {"images": Rel("yolo/images")},
         "normalised boxes with scores, names from classes.txt"),
)

CASE_BY_ID = {c.id: c for c in CASES}


def case_root(case: Case, workdir: Path) -> Path | None:
    """The folder ``case.path`` and its :class:`Rel` values are relative to (``None``: absent)."""
    if case.root == "examples":
        return ROOT / "examples"
    if case.root == "repo":
        return ROOT
    if case.root == "corpus":
        return corpus_dir()
    if case.root == "inline":
        return workdir
    raise ValueError(f"unknown root {case.root!r}")


def _resolve(value: Any, root: Path) -> Any:
    if isinstance(value, Rel):
        return str(root / value.path)
    if isinstance(value, Mapping):
        return {k: _resolve(v, root) for k, v in value.items()}
    return value


def materialise(case: Case, workdir: Path) -> tuple[Path, dict[str, Any]] | None:
    """``(input path, load keyword arguments)``, or ``None`` when the corpus file is absent."""
    root = case_root(case, workdir)
    if root is None:
        return None
    path = root / case.path
    if case.text is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(case.text, encoding="utf-8")
    if not path.exists():
        return None
    kwargs = _resolve(dict(case.read), root)
    if case.sizes:
        kwargs.setdefault("image_sizes", {k: list(v) for k, v in case.sizes.items()})
    return path, kwargs


TEMPLATE_SRC = Path(__file__).resolve().parents[1] / "docs" / "template" / "src"


def hub() -> Any:
    """The process-wide hub, with the plugin template (``csvboxes``) registered from its source.

    The template is not installed into the quick-start environment (it is an example, not
    a format users have); the matrix still runs it, loaded in process as a third-party
    plugin. ``.ci/run`` checks it installed with pip, in an environment of its own.
    """
    current = predport.get_hub()
    if "csvboxes" not in current.formats():
        if str(TEMPLATE_SRC) not in sys.path:
            sys.path.append(str(TEMPLATE_SRC))
        current.register(importlib.import_module("predport_csvboxes.hooks"), name="csvboxes")
    return current


def writers() -> list[str]:
    """Every installed format that can be written, sorted by id."""
    return sorted(fid for fid, info in hub().formats().items() if info.can_write)


def readable_formats() -> list[str]:
    return sorted(fid for fid, info in hub().formats().items() if info.can_read)


# -- what the matrix hands a writer, and the rules of a few formats ----------------------------

#: Refusals a writer makes by design, recognised by message: (pattern, short label, meaning).
#: The matrix passes no option that invents or changes a value (a default score, clipped
#: scores), so these pairs stay refused, as they are for a user who passes nothing.
REFUSALS: tuple[tuple[str, str, str], ...] = (
    (r"no image size|no width/height", "sizes", "needs image sizes (YOLO/Encord normalise, a PNG needs its size)"),
    (r"no score", "score", "needs a score on every prediction"),
    (r"outside \[0, 1\]|greater than the maximum of 1|less than the minimum of 0", "0..1",
     "scores must lie in [0, 1]"),
    (r"keypoint \d+ has no third value", "kp-conf", "keypoints need a confidence"),
    (r"has no box; a KITTI line needs one", "no-box", "every prediction needs a box"),
    (r"no box, no polygon and no Encord classification", "mask-only",
     "a prediction with only a mask or keypoints cannot be written"),
    (r"data id has no extension", "ext", "video frames need a data id with a file extension"),
)


def background_for(source: Any) -> int:
    """A masks background value no category of ``source`` uses (0 when free).

    Class-index PNGs paint category ids, and 0 is the background by default, so data with a
    category 0 (KITTI, YOLO, Lightly, Encord) is written with another background: one above
    the largest id. 254 and 255 are skipped: the masks reader ignores them ("void") by default.
    """
    ids = {c.id for c in source.categories} | {
        int(i) for f in source.frames for i in f.predictions.category_id.tolist()
    }
    if 0 not in ids:
        return 0
    value = max(ids) + 1
    return value if value < 254 else 65535


def writer_options(writer: str, source: Any, case: Case, input_path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(write options, read-back options)`` the matrix passes for ``writer``.

    Only options that change no value:

    * masks: ``background`` (a pixel value, not data) when a category has id 0;
    * aquarium: ``masks=drop`` (masks that do not come from an Aquarium mask row are left out
      instead of stopping the write; the writer must report them as loss), and on reading
      back ``mask_root`` = the input's folder, because Aquarium rows point at mask PNGs by
      URL relative to the file they were read from.
    """
    if writer == "masks":
        bg = background_for(source)
        return ({"background": bg}, {"background": bg}) if bg else ({}, {})
    if writer == "aquarium":
        root = dict(case.read).get("options", {}).get("mask_root")
        back = {} if root is not None or case.format != "aquarium" else {"mask_root": str(input_path.parent)}
        return {"masks": "drop"}, back
    return {}, {}


def _kitti_name(name: str) -> str:
    return name.replace(" ", "_")


#: Class names a writer changes by nature of its format: writer -> (rule, function).
NAME_RULES: dict[str, tuple[str, Any]] = {
    "kitti": ("spaces in class names become `_` (KITTI fields are whitespace-separated; "
              "write option `keep_spaces=true` keeps them)", _kitti_name),
}

#: Where a writer keeps the frame attributes of other formats: writer -> (key, rule).
FRAME_ATTRIBUTE_HOMES: dict[str, tuple[str, str]] = {
    "aquarium": ("user_metadata", "frame attributes of other formats come back inside `user_metadata` "
                                  "(Aquarium frames keep user data there)"),
}

def _coco_image_id_of(data_id: str) -> Any:
    return int(data_id) if data_id.isascii() and data_id.isdigit() and str(int(data_id)) == data_id else data_id


#: Frame attributes a reader does not keep because the data id gives them back: reader -> (rule, test).
#: COCO's writer derives ``image_id`` from the data id (``"42"`` -> 42, any other id as it is), so the
#: COCO reader keeps ``image_id`` only when it differs (a ground truth names the frames).
RECONSTRUCTED_FRAME_ATTRIBUTES: dict[str, tuple[str, Any]] = {
    "coco": ("an `image_id` equal to what the data id gives is not kept (the data id carries it)",
             lambda key, value, data_id: key == "image_id" and type(value) is type(_coco_image_id_of(data_id))
             and value == _coco_image_id_of(data_id)),
}

#: Writers whose output is a class per pixel: compared as painted classes (see Comparison.compare_raster).
RASTER_WRITERS = ("masks",)


# -- known bugs ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Bug:
    """A plugin bug the matrix found: the pairs it breaks, in one aspect (strict xfail)."""

    id: str
    aspect: str  # "values", "classes" or "loss"
    text: str
    pairs: tuple[str, ...]


def _pairs(writer: str, *cases: str) -> tuple[str, ...]:
    return tuple(f"{case}->{writer}" for case in cases)



#: Plugin bugs the matrix found (plugins are fixed by their owners; the matrix only marks them).
KNOWN_BUGS: tuple[Bug, ...] = (
    # None open. Add an entry (strict xfail) when the matrix finds a plugin bug; remove it once fixed.
)

ASPECTS = ("values", "classes", "loss")


def known_bugs(pair: str, aspect: str) -> list[Bug]:
    """The known bugs that break ``pair`` (``"case->writer"``) in ``aspect``."""
    return [bug for bug in KNOWN_BUGS if bug.aspect == aspect and pair in bug.pairs]


# -- results ---------------------------------------------------------------------------------

@dataclass
class PairResult:
    """What one pair did: refused, or the loss table and the fields that survived.

    ``diffs`` are ``(aspect, text)``: ``values`` (frames, geometry, scores, attributes),
    ``classes`` (category names, external ids and attributes), ``loss`` (the loss table and
    the refusal without ``allow_loss``). ``failed`` names the table fields that changed.
    """

    case: str
    writer: str
    refused: str | None = None
    loss: dict[str, int] = field(default_factory=dict)
    present: list[str] = field(default_factory=list)
    survived: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    diffs: list[tuple[str, str]] = field(default_factory=list)
    output: Path | None = None  # what the writer wrote (read back, and detected by test_matrix)

    @property
    def id(self) -> str:
        return f"{self.case}->{self.writer}"

    def problems(self, aspect: str) -> list[str]:
        return [text for a, text in self.diffs if a == aspect]


def _ext(info: Any) -> str:
    if info.target != "file":
        return ""
    for pattern in info.patterns:
        if pattern.startswith("*."):
            return pattern[1:]
    return ".out"


@dataclass
class Loaded:
    """A case read in: the prediction set, the input path and the ``load`` arguments used."""

    case: Case
    source: Any
    path: Path
    kwargs: dict[str, Any]


def load_case(case: Case, workdir: Path) -> Loaded | None:
    """The input read into a PredictionSet (``None``: the corpus file is absent)."""
    found = materialise(case, workdir)
    if found is None:
        return None
    path, kwargs = found
    hub()
    return Loaded(case, predport.load(path, format=case.format, **kwargs), path, kwargs)


def image_sizes_of(loaded: Loaded) -> dict[str, list[int]]:
    """``{data_id: [w, h]}`` from the frames that carry a size, plus the case's own sizes."""
    sizes = {k: list(v) for k, v in (loaded.case.sizes or {}).items()}
    for f in loaded.source.frames:
        if f.width is not None and f.height is not None:
            sizes.setdefault(f.data_id, [f.width, f.height])
    return sizes


def run_pair(loaded: Loaded, writer: str, workdir: Path) -> PairResult:
    """Convert one input to ``writer`` and back, and compare.

    The first write is without ``allow_loss``: a conversion that would lose data must raise
    :class:`predport.LossError` carrying the loss table and leave nothing behind. The
    second write allows loss and must report the very same table.
    """
    case, source = loaded.case, loaded.source
    info = hub().format_info(writer)
    result = PairResult(case.id, writer, present=present_fields(source))
    wopts, ropts = writer_options(writer, source, case, loaded.path)
    sizes = image_sizes_of(loaded)
    stem = f"{re.sub(r'[^A-Za-z0-9]+', '_', case.id)}-to-{writer}"
    strict_dest = workdir / f"{stem}-strict{_ext(info)}"
    dest = workdir / f"{stem}{_ext(info)}"
    save = {"format": writer, "options": wopts, "image_sizes": sizes or None}
    try:
        summary = predport.save(source, strict_dest, **save)
        refused_with: dict[str, int] = {}
        dest = strict_dest  # nothing to lose: this is the output to read back
    except predport.LossError as err:
        refused_with = dict(err.report or {})
        if strict_dest.exists():
            result.diffs.append(("loss", f"refused for loss but left {strict_dest.name} behind"))
        try:
            summary = predport.save(source, dest, allow_loss=True, **save)
        except predport.PredportError as err2:
            # Refused for loss at the first lossy frame, before a later frame met a refusal by design.
            result.refused = _refusal_label(err2)
            if result.refused is None:
                result.diffs.append(("values", f"writing with allow_loss failed: {type(err2).__name__}: {err2}"))
            return result
    except predport.PredportError as err:
        if strict_dest.exists():
            result.diffs.append(("values", f"refused ({err}) but left {strict_dest.name} behind"))
        result.refused = _refusal_label(err)
        if result.refused is None:
            result.diffs.append(("values", f"writing failed: {type(err).__name__}: {err}"))
        return result
    result.output = dest
    result.loss = dict(summary["loss"])
    content, _metadata = split_loss(result.loss)
    if not refused_with and content:
        result.diffs.append(("loss", f"without allow_loss nothing was refused, but {content} was lost"))
    elif refused_with:
        # The refusal comes at the first lossy frame: a part of the whole table, with something
        # refused in it (lost prediction content; frame metadata alone only is reported).
        if not split_loss(refused_with)[0]:
            result.diffs.append(("loss", f"refused for frame metadata alone: {refused_with}"))
        over = {k: v for k, v in refused_with.items() if result.loss.get(k, 0) < v}
        if over:
            result.diffs.append(("loss", f"the refusal named {over}, more than the whole table {result.loss}"))
    back_kwargs: dict[str, Any] = {"image_sizes": sizes or None, "options": ropts}
    if writer == case.format:  # the format's own read options (a COCO GT, an ontology...)
        back_kwargs = {**loaded.kwargs, "options": {**loaded.kwargs.get("options", {}), **ropts}}
        back_kwargs.setdefault("image_sizes", sizes or None)
    try:
        back = predport.load(dest, format=writer, **back_kwargs)
    except predport.PredportError as err:
        result.diffs.append(("values", f"the output does not read back: {type(err).__name__}: {err}"))
        return result
    Comparison(source, back, info=info, result=result, sizes=sizes).run()
    return result


def _refusal_label(err: Exception) -> str | None:
    if isinstance(err, predport.PluginError):  # an exception the plugin did not mean to raise
        return None
    text = str(err)
    for pattern, label, _meaning in REFUSALS:
        if re.search(pattern, text):
            return label
    return None


# -- what a prediction set holds ---------------------------------------------------------------

def _used_categories(pset: Any) -> set[int]:
    return {int(i) for f in pset.frames for i in f.predictions.category_id.tolist()}


def present_fields(pset: Any) -> list[str]:
    """The table fields ``pset`` has values of, in table order (``rows`` is never "present")."""
    have: set[str] = set()
    for f in pset.frames:
        for name in ("score",) + PRED_FIELDS:
            if f.predictions.count(name):
                have.add(name)
        if f.frame_index is not None:
            have.add("frame_index")
        if f.width is not None or f.height is not None:
            have.add("size")
        if f.attributes:
            have.add("frame_attributes")
        if not len(f.predictions):
            have.add("empty_frames")
    used = _used_categories(pset)
    if any(c.id in used and (c.external_id or c.attributes) for c in pset.categories):
        have.add("category_extras")
    return [fieldname for _, fieldname, _ in CODES if fieldname in have]


@dataclass
class LossTable:
    """The loss table read as table fields."""

    fields: set[str] = field(default_factory=set)  # named, whole or in part
    rows: int = 0  # predictions left out whole ("predictions (no box or polygon)")
    unknown: list[str] = field(default_factory=list)

    @staticmethod
    def field_of(key: str) -> str | None:
        m = re.match(r"predictions\.(\w+)", key)
        if m and m.group(1) in ("score",) + PRED_FIELDS:
            return m.group(1)
        if key.startswith("predictions"):
            return "rows"
        if key.startswith("frames (without predictions)"):
            return "empty_frames"
        for prefix, name in (("frames.width/height", "size"), ("frames.frame_index", "frame_index"),
                             ("frames.attributes", "frame_attributes"), ("categories.", "category_extras")):
            if key.startswith(prefix):
                return name
        return None

    @classmethod
    def parse(cls, loss: Mapping[str, int]) -> "LossTable":
        out = cls()
        for key, n in loss.items():
            name = cls.field_of(key)
            if name == "rows":
                out.rows += n
            elif name is not None:
                out.fields.add(name)
            else:
                out.unknown.append(key)
        return out


def _field_counts(pset: Any) -> dict[str, int]:
    counts = {name: sum(f.predictions.count(name) for f in pset.frames) for name in ("score",) + PRED_FIELDS}
    counts["frame_index"] = sum(1 for f in pset.frames if f.frame_index is not None)
    counts["size"] = sum(1 for f in pset.frames if f.width is not None or f.height is not None)
    counts["empty_frames"] = sum(1 for f in pset.frames if not len(f.predictions))
    return counts


# -- comparing values ----------------------------------------------------------------------------

# Nested equality with a tolerance for numbers: the conformance kit's own comparison.
from predport.testing import _close  # noqa: E402


def decode_mask(rle: Mapping[str, Any]) -> np.ndarray:
    """The pixels of a canonical RLE (compressed, or uncompressed ``counts`` list)."""
    from pycocotools import mask as mask_utils

    h, w = (int(v) for v in rle["size"])
    counts = rle["counts"]
    if isinstance(counts, list):
        coded = mask_utils.frPyObjects({"size": [h, w], "counts": counts}, h, w)
    else:
        coded = {"size": [h, w], "counts": counts.encode("ascii")}
    return mask_utils.decode(coded)


def _same_mask(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    if [int(v) for v in a["size"]] != [int(v) for v in b["size"]]:
        return False
    return bool(np.array_equal(decode_mask(a), decode_mask(b)))


def _same_keypoints(a: Sequence[Any], b: Sequence[Any]) -> bool:
    if len(a) != len(b):
        return False
    for (xa, ya, va), (xb, yb, vb) in zip(a, b):
        if abs(xa - xb) > TOLERANCE or abs(ya - yb) > TOLERANCE:
            return False
        if (va is None) != (vb is None) or (va is not None and float(va) != float(vb)):
            return False
    return True


def attributes_kept(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None, home: str | None = None) -> bool:
    """Every source attribute is back with an equal value (a reader may add keys of its own).

    ``home``: a key under which the target keeps attributes of other formats (Aquarium's
    ``user_metadata``); a value found there counts as kept.
    """
    a, b = a or {}, b or {}
    nested = b.get(home) if home and isinstance(b.get(home), Mapping) else {}
    return all((k in b and _close(v, b[k], 0.0)) or (k in nested and _close(v, nested[k], 0.0))
               for k, v in a.items())


def same_value(name: str, a: Any, b: Any) -> bool:
    """Whether the source value ``a`` of field ``name`` survived as ``b``.

    A value the source did not have may appear (a reader derives a box from a polygon or a
    mask); a score may not: ``null`` stays ``null``. Scores and probabilities are compared
    exactly, coordinates within :data:`TOLERANCE`, masks by their decoded pixels,
    keypoint visibilities exactly.
    """
    if name == "score":
        return (a is None and b is None) or (a is not None and b is not None and float(a) == float(b))
    if name == "attributes":
        return attributes_kept(a, b)
    if a is None:
        return True
    if b is None:
        return False
    if name == "mask":
        return _same_mask(a, b)
    if name == "keypoints":
        return _same_keypoints(a, b)
    if name == "probabilities":
        return len(a) == len(b) and all(float(x) == float(y) for x, y in zip(a, b))
    return _close(a, b, TOLERANCE)  # box, polygon, box3d


_FRAME_SUFFIX = re.compile(r"^(?P<id>.+)__(?P<frame>\d+)$")


def _strip_ext(data_id: str) -> str:
    head, sep, name = data_id.replace("\\", "/").rpartition("/")
    stem = name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name
    return f"{head}{sep}{stem}"


def pixel_extent(pixels: np.ndarray) -> list[float] | None:
    """``[x, y, w, h]`` of the set pixels (pixel ``(col, row)`` covers ``[col, col+1) x [row, row+1)``)."""
    ys, xs = np.nonzero(pixels)
    if not xs.size:
        return None
    return [float(xs.min()), float(ys.min()), float(np.ptp(xs) + 1), float(np.ptp(ys) + 1)]


def paint(rows: Sequence[Mapping[str, Any]], size: tuple[int, int], value: Any, *,
          order: str = "score") -> np.ndarray | None:
    """A class image ``(height, width)`` of ``rows`` painted with ``value(row)`` (0 = nothing).

    ``order="score"``: ascending score, rows without a score first, ties in input order
    (the masks writer's documented rule); ``"given"``: input order. Masks are painted as
    decoded; polygons with the masks plugin's own rasterisation rule (pixel centres inside
    or on an outer ring, rings in ``attributes["holes"]`` are holes). ``None`` when a mask
    has another size than the image.
    """
    from predport_masks.extract import rasterize_rings

    height, width = int(size[0]), int(size[1])
    canvas = np.zeros((height, width), dtype=np.int32)
    idx = list(range(len(rows)))
    if order == "score":
        idx.sort(key=lambda i: -math.inf if rows[i].get("score") is None else rows[i]["score"])
    for i in idx:
        r = rows[i]
        if r.get("mask"):
            if [int(v) for v in r["mask"]["size"]] != [height, width]:
                return None
            pix = decode_mask(r["mask"]).astype(bool)
        elif r.get("polygon"):
            holes = (r.get("attributes") or {}).get("holes", ())
            pix = rasterize_rings(r["polygon"], height=height, width=width, holes=holes).astype(bool)
        else:
            continue
        canvas[pix] = value(r)
    return canvas


class Comparison:
    """Source against read-back for one pair, filling ``result``.

    **Frames.** A read-back frame matches the source frame whose data id is equal, or equal
    once the source id's last extension is dropped (writers that name files
    ``<stem>.txt``/``<stem>.png`` read back the stem); a read-back ``<id>__<n>`` without a
    frame index stands for frame ``n`` of ``<id>`` (the frame index kept in a file name). A
    still image (frame index ``null``) may come back as frame 0 from a format whose records
    always carry a frame number. When the frame index is not kept, the source frames of one
    data id are compared with the one frame they became, their predictions in order. A
    source frame without predictions may be missing (a format with one record per
    prediction cannot write an empty image).

    **Predictions** are matched one to one on every kept field (see :meth:`compare_rows`).
    **Categories** are compared by name (ids may be renumbered); a read-back name equal to
    its id (a format without names) is compared by id.
    """

    def __init__(self, source: Any, back: Any, *, info: Any, result: PairResult,
                 sizes: Mapping[str, Sequence[int]]) -> None:
        self.src, self.back, self.info, self.result, self.sizes = source, back, info, result, sizes
        self.writer = info.id
        self.table = LossTable.parse(result.loss)
        self.held = set(info.holds)
        held_level = {  # frame and category attributes are declared apart from prediction attributes
            "frame_index": "frame_index" in self.held, "size": "size" in self.held,
            "frame_attributes": "frame_attributes" in self.held,
            "category_extras": bool({"category_external_id", "category_attributes"} & self.held),
        }
        self.holds_field = {f: held_level.get(f, f in self.held) for _, f, _ in CODES}
        #: Fields the source format derives from others the writer holds (the masks reader's
        #: polygons and boxes, traced from its masks): reconstructible, so neither kept nor lost.
        src_format = getattr(source.source, "format", None)
        src_info = hub().formats().get(src_format or "")
        self.derived = {f: origin for f, origin in (src_info.derived if src_info else {}).items()
                        if origin in self.held}
        present = set(result.present) - {f for f in self.derived if f not in self.held}
        #: Table fields the pair must keep exactly: held, present, and not in the loss table.
        self.kept = {f for f in present if self.holds_field[f] and f not in self.table.fields}
        #: Held fields the loss table names: something of them must really be lost.
        self.reported_held = {f for f in present if self.holds_field[f] and f in self.table.fields}
        self.really_lost: set[str] = set()
        self.pred_kept = [f for f in ("score",) + PRED_FIELDS if f in self.kept]
        self.row_budget = self.table.rows
        self.rows_dropped = 0
        self.failed: set[str] = set()
        #: Kept fields of which at least one source value was compared (and so can be said to survive).
        self.seen: set[str] = set()
        self.raster = self.writer in RASTER_WRITERS
        name_rule = NAME_RULES.get(self.writer)
        rename = name_rule[1] if name_rule else (lambda n: n)
        self.src_names = {c.id: rename(c.name) for c in source.categories}
        self.src_cats = {c.id: c for c in source.categories}
        self.src_by_external_id = {c.external_id: rename(c.name) for c in source.categories if c.external_id}
        self.back_cats = {c.id: c for c in back.categories}
        self.home = FRAME_ATTRIBUTE_HOMES.get(self.writer, (None,))[0]
        self.category_pairs: set[tuple[int, int]] = set()

    # -- helpers ---------------------------------------------------------------------------
    def diff(self, aspect: str, fieldname: str | None, text: str) -> None:
        if fieldname:
            self.failed.add(fieldname)
        if sum(1 for a, _ in self.result.diffs if a == aspect) < 10:
            self.result.diffs.append((aspect, text))

    def note(self, text: str) -> None:
        if text not in self.result.notes:
            self.result.notes.append(text)

    def back_name(self, cid: int) -> str:
        """The read-back name of category ``cid``.

        A format without names gives the id as the name (COCO results without a GT, YOLO
        without names), or the external id (Encord's feature hash, without an ontology):
        then the source category with that id or external id gives the name.
        """
        cat = self.back_cats.get(cid)
        if cat is None:
            return f"<undeclared id {cid}>"
        if cat.name == str(cid) and cid in self.src_names and self.src_names[cid] != cat.name:
            self.note("category names are not kept, ids are")
            return self.src_names[cid]
        by_hash = self.src_by_external_id.get(cat.name)
        if cat.external_id == cat.name and by_hash is not None and by_hash != cat.name:
            self.note("category names are not kept, external ids (feature hashes) are")
            return by_hash
        return cat.name

    # -- the comparison ----------------------------------------------------------------------
    def run(self) -> None:
        self.check_loss_table()
        for src_frames, back_frame in self.match_frames():
            self.compare_frame(src_frames, back_frame)
        if self.row_budget < 0:
            self.diff("values", "rows", f"{-self.row_budget} prediction(s) vanished beyond what the loss "
                                        "table reports")
        if self.rows_dropped and self.row_budget >= 0:
            self.note("predictions it cannot hold are left out (reported)")
        self.check_categories()
        self.check_overreport()
        present = self.result.present
        unseen = [f for f in present if f in self.kept and f not in self.seen and f not in self.failed]
        if self.row_budget < 0:
            self.failed.update(unseen)  # every value sat in predictions that vanished silently
        self.result.survived = [f for f in present if f in self.kept and f in self.seen and f not in self.failed]
        # Not kept, or kept but never compared (every value sat in predictions left out, reported).
        self.result.lost = [f for f in present if f not in self.result.survived and f not in self.failed]
        if self.rows_dropped and "rows" not in self.failed:
            self.result.lost.append("rows")
        self.result.failed = [f for _, f, _ in CODES if f in self.failed]

    def check_loss_table(self) -> None:
        """Every field the source has and the writer does not hold is in the table, with its count."""
        loss, counts = self.result.loss, _field_counts(self.src)
        keys = {"frame_index": "frames.frame_index", "size": "frames.width/height",
                "empty_frames": "frames (without predictions)"}
        for f in self.result.present:
            if self.holds_field[f] or f in self.derived:
                continue
            if f in ("score",) + PRED_FIELDS or f in keys:
                key = keys.get(f, f"predictions.{f}")
                if loss.get(key) != counts[f]:
                    self.diff("loss", f, f"{key} is {loss.get(key)} in the loss table; the source has {counts[f]}")
            elif f not in self.table.fields:
                self.diff("loss", f, f"{f.replace('_', ' ')} are not held and not in the loss table")
        for key in self.table.unknown:
            self.diff("loss", None, f"loss table key {key!r} names no canonical field")

    def match_frames(self) -> list[tuple[list[Any], Any]]:
        """``(source frames, read-back frame)`` pairs; unmatched frames are diffs or left-out rows."""
        by_id: dict[str, list[Any]] = {}
        stripped: dict[str, list[Any]] = {}
        for f in self.src.frames:
            by_id.setdefault(f.data_id, []).append(f)
            stripped.setdefault(_strip_ext(f.data_id), []).append(f)
        index_kept = "frame_index" in self.kept
        resolved: list[tuple[Any, list[Any], bool]] = []  # (read-back frame, source frames, by group)
        for bf in self.back.frames:
            named = _FRAME_SUFFIX.match(bf.data_id) if bf.frame_index is None else None
            candidates = [(bf.data_id, bf.frame_index)] + ([(named["id"], int(named["frame"]))] if named else [])
            hit: tuple[Any, list[Any], bool] | None = None
            for cid, cfi in candidates:
                group = by_id.get(cid) or stripped.get(cid)
                if not group:
                    continue
                same = [f for f in group if f.frame_index == cfi or (f.frame_index is None and cfi == 0)]
                if len(same) == 1:
                    hit = (bf, same, False)
                    if same[0].frame_index is None and cfi == 0:
                        self.note("still images come back as frame 0")
                    elif named and cid == named["id"]:
                        self.note("the frame index is kept in the file name")
                elif not index_kept and cfi is None:
                    hit = (bf, group, True)
                if hit:
                    if cid not in by_id:
                        self.note("data ids come back without their file extension")
                    break
            if hit is None:
                where = f"{bf.data_id!r}" + (f" #{bf.frame_index}" if bf.frame_index is not None else "")
                self.diff("values", None, f"frame {where} was not in the source")
            else:
                resolved.append(hit)
        # Without a frame index, the read-back frames of one data id stand for its source
        # frames in order when there are as many; one read-back frame stands for all of them.
        mates: dict[int, list[Any]] = {}
        for bf, group, by_group in resolved:
            if by_group:
                mates.setdefault(id(group[0]), []).append(bf)
        used: set[int] = set()
        pairs: list[tuple[list[Any], Any]] = []
        for bf, group, by_group in resolved:
            found = group
            if by_group and len(group) > 1:
                same_id = mates[id(group[0])]
                if len(same_id) == len(group):
                    found = [group[same_id.index(bf)]]
                    self.note("the frames of one video come back as frames without an index, in order")
                elif len(same_id) == 1:
                    self.note("the frames of one video become one frame")
                else:
                    self.diff("values", None, f"{len(group)} frames of {bf.data_id!r} came back as {len(same_id)}")
                    continue
            if any(id(f) in used for f in found):
                self.diff("values", None, f"frame {bf.data_id!r} matches a source frame twice")
                continue
            used.update(id(f) for f in found)
            pairs.append((found, bf))
            if any(not len(f.predictions) for f in found) and not len(bf.predictions):
                self.seen.add("empty_frames")
        for f in self.src.frames:
            if id(f) in used:
                continue
            n = len(f.predictions)
            if n == 0:
                if "empty_frames" in self.kept:
                    self.diff("values", "empty_frames", f"frame {f.data_id!r} without predictions is missing")
                else:
                    self.note("images without predictions are not written (reported)")
                continue
            self.row_budget -= n
            self.rows_dropped += n
            if self.row_budget < 0:
                self.diff("values", "rows", f"frame {f.data_id!r} #{f.frame_index} ({n} predictions) is missing")
        return pairs

    def compare_frame(self, src_frames: list[Any], bf: Any) -> None:
        where = f"frame {bf.data_id!r}" + (f" #{bf.frame_index}" if bf.frame_index is not None else "")
        sf = src_frames[0]
        if sf.width is not None:
            self.seen.add("size")
            if (sf.width, sf.height) != (bf.width, bf.height):
                if "size" in self.kept:
                    self.diff("values", "size", f"{where}: size {sf.width}x{sf.height} became {bf.width}x{bf.height}")
                self.really_lost.add("size")
        if "frame_index" in self.kept and len(src_frames) == 1 and sf.frame_index is not None:
            self.seen.add("frame_index")
            named = _FRAME_SUFFIX.match(bf.data_id) if bf.frame_index is None else None
            got = int(named["frame"]) if named else bf.frame_index
            if sf.frame_index != got:
                self.diff("values", "frame_index", f"{where}: frame index {sf.frame_index} became {bf.frame_index}")
        rebuilt = RECONSTRUCTED_FRAME_ATTRIBUTES.get(self.writer)
        for f in src_frames:
            if f.attributes:
                self.seen.add("frame_attributes")
            attrs = f.attributes
            if rebuilt is not None and any(rebuilt[1](k, v, bf.data_id) for k, v in attrs.items()):
                attrs = {k: v for k, v in attrs.items() if not rebuilt[1](k, v, bf.data_id)}
                self.note(rebuilt[0])
            if not attributes_kept(attrs, bf.attributes, self.home):
                self.really_lost.add("frame_attributes")
                if "frame_attributes" in self.kept:
                    self.diff("values", "frame_attributes",
                              f"{where}: frame attributes {_short(f.attributes)} became {_short(bf.attributes)}")
        if self.home and any(f.attributes for f in src_frames):
            self.note(FRAME_ATTRIBUTE_HOMES[self.writer][1])
        src_rows = [r for f in src_frames for r in f.predictions.to_records()]
        back_rows = bf.predictions.to_records()
        if self.raster:
            self.compare_raster(src_frames, src_rows, back_rows, bf, where)
        else:
            self.compare_rows(src_rows, back_rows, where)

    def row_diffs(self, a: Mapping[str, Any], b: Mapping[str, Any], fields: Iterable[str]) -> list[tuple[str, str]]:
        out = []
        na, nb = self.src_names.get(a["category_id"]), self.back_name(b["category_id"])
        if self.writer in NAME_RULES and na != self.src_cats[a["category_id"]].name and na == nb:
            self.note(NAME_RULES[self.writer][0])
        if na != nb:
            out.append(("category", f"category {na!r} became {nb!r}"))
        for name in fields:
            va, vb = a.get(name), b.get(name)
            if vb is None and va is not None and name in self.derived:
                # Traced from a field the writer holds: tracing that field again gives it back.
                self.note(f"{name}s traced from the {self.derived[name]}s are not written (the "
                          f"{self.derived[name]}s are)")
                continue
            if not same_value(name, va, vb):
                out.append((name, f"{name} {_short(va)} became {_short(vb)}"))
        return out

    def compare_rows(self, src_rows: list[dict[str, Any]], back_rows: list[dict[str, Any]], where: str) -> None:
        """Predictions matched one to one: in order when they all agree, else by content.

        A writer may reorder predictions (Lightly writes each task to its own folder): a
        source prediction matches the first unused read-back prediction of the same class,
        equal in every kept field. Leftovers on both sides are then paired in order and
        their differences reported. As many source predictions may stay unpaired as the
        loss table says were left out whole; a read-back prediction may not stay unpaired.
        """
        kept = self.pred_kept
        if len(src_rows) == len(back_rows) and not any(self.row_diffs(a, b, kept) for a, b in zip(src_rows, back_rows)):
            matched = list(zip(src_rows, back_rows))
            dropped: list[int] = []
        else:
            free = list(range(len(back_rows)))
            matched, unmatched = [], []
            for i, a in enumerate(src_rows):
                hit = next((j for j in free if not self.row_diffs(a, back_rows[j], kept)), None)
                if hit is None:
                    unmatched.append(i)
                else:
                    free.remove(hit)
                    matched.append((a, back_rows[hit]))
            for i, j in zip(unmatched, free):  # changed rather than left out
                matched.append((src_rows[i], back_rows[j]))
                for name, text in self.row_diffs(src_rows[i], back_rows[j], kept):
                    aspect = "classes" if name == "category" else "values"
                    self.diff(aspect, None if name == "category" else name, f"{where} prediction {i}: {text}")
            if len(free) > len(unmatched):
                self.diff("values", None, f"{where}: {len(free) - len(unmatched)} prediction(s) that were not "
                                          "in the source")
            dropped = unmatched[len(free):]
            self.row_budget -= len(dropped)
            self.rows_dropped += len(dropped)
        for a, b in matched:
            self.category_pairs.add((a["category_id"], b["category_id"]))
            self.seen.update(f for f in kept if a.get(f) is not None)
            for f in self.reported_held:
                if f in ("score",) + PRED_FIELDS and not same_value(f, a.get(f), b.get(f)):
                    self.really_lost.add(f)
        for i in dropped:
            self.really_lost.update(f for f in ("score",) + PRED_FIELDS if src_rows[i].get(f) is not None)

    def compare_raster(self, src_frames: list[Any], src_rows: list[dict[str, Any]],
                       back_rows: list[dict[str, Any]], bf: Any, where: str) -> None:
        """Class-index targets: the painted class of every pixel, not the instances.

        A class-index PNG keeps one class per pixel: instances of one class that touch
        merge, and where classes overlap the painting order decides. The source is painted
        with the writer's documented order, the read-back from its masks; the two class
        images must be equal, and every read-back box must be its mask's extent.
        """
        self.note("instances become regions: touching instances of one class merge")
        sf = src_frames[0]
        size: tuple[int, int] | None = (sf.height, sf.width) if sf.width is not None else None
        for r in src_rows if size is None else ():
            if r.get("mask"):
                size = (int(r["mask"]["size"][0]), int(r["mask"]["size"][1]))
                break
        if size is None:
            known = self.sizes.get(sf.data_id)
            size = (known[1], known[0]) if known else (bf.height, bf.width)
        names = sorted({self.src_names.get(r["category_id"], "?") for r in src_rows}
                       | {self.back_name(r["category_id"]) for r in back_rows})
        code = {n: i + 1 for i, n in enumerate(names)}
        want = paint(src_rows, size, lambda r: code[self.src_names.get(r["category_id"], "?")])
        got = paint(back_rows, size, lambda r: code[self.back_name(r["category_id"])], order="given")
        painted = [f for f in ("mask", "polygon") if any(r.get(f) for r in src_rows)]
        if want is None or got is None:
            self.diff("values", painted[0] if painted else None, f"{where}: a mask is not {size[1]}x{size[0]}")
        elif not np.array_equal(want, got):
            n = int(np.count_nonzero(want != got))
            self.diff("values", painted[0] if painted else None,
                      f"{where}: {n} pixel(s) have another class after the round trip")
        for r in back_rows:
            if r.get("mask") and r.get("box") is not None:
                extent = pixel_extent(decode_mask(r["mask"]))
                if not _close(extent, r["box"], TOLERANCE):
                    self.diff("values", "box", f"{where}: read-back box {r['box']} is not its mask's extent {extent}")
        painted = [r for r in src_rows if r.get("mask") or r.get("polygon")]
        self.seen.update(f for f in ("mask", "polygon") if any(r.get(f) for r in painted))
        for i, r in enumerate(painted):
            # The box of a painted prediction comes back as the extent of its pixels.
            if r.get("box") is None:
                continue
            self.seen.add("box")
            extent = pixel_extent(paint([r], size, lambda _r: 1, order="given"))
            if not _close(extent, r["box"], TOLERANCE):
                self.really_lost.add("box")
                if "box" in self.kept:
                    self.diff("values", "box", f"{where}: box {r['box']} of a painted prediction came back as "
                                               f"its pixels' extent {extent}")
        if any(set(r.get("attributes") or {}) == {"holes"} for r in painted):
            self.seen.add("attributes")  # holes are geometry, painted with the polygon
        self.rows_dropped += len(src_rows) - len(painted)
        self.row_budget -= len(src_rows) - len(painted)
        self.really_lost.update(self.reported_held)  # instances cannot be told apart: trust the table
        back_ids = {self.back_name(r["category_id"]): r["category_id"] for r in back_rows}
        for r in painted:
            bid = back_ids.get(self.src_names.get(r["category_id"], "?"))
            if bid is not None:
                self.category_pairs.add((r["category_id"], bid))

    def check_categories(self) -> None:
        """Categories of matched predictions keep their external id and attributes when held."""
        for sid, bid in sorted(self.category_pairs):
            a, b = self.src_cats.get(sid), self.back_cats.get(bid)
            if a is None or b is None or not (a.external_id or a.attributes):
                continue
            self.seen.add("category_extras")
            if (a.external_id and a.external_id != b.external_id) or not attributes_kept(a.attributes, b.attributes):
                self.really_lost.add("category_extras")
                if "category_extras" in self.kept:
                    self.diff("classes", "category_extras",
                              f"category {a.name!r}: external id {a.external_id!r} and attributes "
                              f"{_short(a.attributes)} became {b.external_id!r} and {_short(b.attributes)}")

    def check_overreport(self) -> None:
        """A held field the loss table names must really have lost something."""
        for f in sorted(self.reported_held - self.really_lost):
            keys = [k for k in self.result.loss if LossTable.field_of(k) == f]
            self.diff("loss", None, f"the loss table reports {keys}, but every value survived")


def _short(value: Any, limit: int = 160) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


# -- running everything --------------------------------------------------------------------------

def run_matrix(workdir: Path, cases: Iterable[Case] = CASES) -> Iterator[PairResult | Case]:
    """Every pair of the available cases (a :class:`Case` stands for an absent input)."""
    names = writers()
    for case in cases:
        sub = workdir / re.sub(r"[^A-Za-z0-9]+", "_", case.id)
        if sub.exists():
            shutil.rmtree(sub)
        sub.mkdir(parents=True)
        loaded = load_case(case, sub)
        if loaded is None:
            yield case
            continue
        for writer in names:
            yield run_pair(loaded, writer, sub)
