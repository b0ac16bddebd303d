"""YOLO label lines: what their token counts mean per task, and how one file is decided.

Standard library only. A line is a class index followed by normalised numbers (0..1,
relative to the image width for x and the image height for y). What Ultralytics writes
(``Results.save_txt``: the task's values, then ``conf`` with ``save_conf``, then the
track id when the boxes are tracked):

* **detect** — ``class cx cy w h`` (5), ``+ conf`` (6), ``+ conf track_id`` (7);
* **segment** — ``class x1 y1 ... xk yk`` (odd, >= 7), ``+ conf`` (even, >= 8),
  ``+ conf track_id`` (odd again);
* **obb** — ``class x1 y1 x2 y2 x3 y3 x4 y4`` (9): read as the four-point polygon it is;
* **pose** — ``class cx cy w h`` + K keypoints of ``x y`` or ``x y v`` (the dataset's
  ``kpt_shape`` ``[K, D]``), ``+ conf``, ``+ track_id``: 56 / 57 / 58 tokens for the COCO
  shape ``[17, 3]``.

Token counts overlap between tasks: 7 tokens is a tracked box or a triangle, 56 a COCO pose
or a 27-point polygon with a score. :func:`decide` settles it **per file, from all its
lines**, with the dataset's hints (the ``task`` and ``kpt_shape`` options, ``kpt_shape`` in
data.yaml, a ``runs/<task>/`` folder) — or refuses with a reason that names the option.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from predport import parse_number

BOX, BOX_SCORE, BOX_TRACK = "box", "box+score", "box+score+track"
POLYGON, POLYGON_SCORE, POLYGON_TRACK = "polygon", "polygon+score", "polygon+score+track"
POSE, POSE_SCORE, POSE_TRACK = "pose", "pose+score", "pose+score+track"
BOX_KINDS = (BOX, BOX_SCORE, BOX_TRACK)
POLYGON_KINDS = (POLYGON, POLYGON_SCORE, POLYGON_TRACK)
POSE_KINDS = (POSE, POSE_SCORE, POSE_TRACK)
SCORED = (BOX_SCORE, BOX_TRACK, POLYGON_SCORE, POLYGON_TRACK, POSE_SCORE, POSE_TRACK)
TRACKED = (BOX_TRACK, POLYGON_TRACK, POSE_TRACK)
BOX_FIELDS = ("x_center", "y_center", "width", "height")
TASKS = ("auto", "detect", "segment", "obb", "pose")
#: Ultralytics' keypoint shapes (COCO persons, hands, dogs, tigers), tried when nothing states one.
STANDARD_KPT_SHAPES: tuple[tuple[int, int], ...] = ((17, 3), (17, 2), (21, 3), (24, 3), (12, 2))
#: Folder names that say the task (``runs/pose/predict/labels``); ``track`` is detect with ids.
FOLDER_TASKS = {"detect": "detect", "track": "detect", "segment": "segment", "obb": "obb", "pose": "pose"}
#: Normalised values may leave [0, 1] by this much (float rounding) without being an error.
EPS = 1e-9
#: How far (a fraction of the box size) keypoints may lie outside their box and still be taken
#: as evidence of a pose line (models predict points slightly outside the box).
_KPT_SLACK = 0.25


@dataclass(frozen=True)
class Scheme:
    """How the lines of one file read: the task, the keypoint shape (pose) and whether
    7-token (pose: P + 2, segment: odd) lines carry a track id."""

    task: str  # "detect", "segment", "obb" or "pose"
    kpt: tuple[int, int] | None = None
    tracked: bool = False
    reason: str = ""
    strict: bool = False  # the user named the task: only its own lines (and boxes) are read

    def kind_of(self, n: int) -> str | None:
        """The kind of a line of ``n`` tokens, or ``None`` when this task has no line of that length."""
        if self.task == "pose":
            assert self.kpt is not None
            p = 5 + self.kpt[0] * self.kpt[1]
            # Box and polygon lines beside pose lines (predictions without keypoints) are told
            # apart by their width once the keypoint shape is known.
            found = {p: POSE, p + 1: POSE_SCORE, p + 2: POSE_TRACK, 5: BOX, 6: BOX_SCORE, 7: BOX_TRACK}.get(n)
            if found is None and n >= 8 and not self.strict:
                found = POLYGON_SCORE if n % 2 == 0 else POLYGON
            return found
        if n in (5, 6):
            return BOX if n == 5 else BOX_SCORE
        if self.task == "detect":
            return BOX_TRACK if n == 7 else None
        if self.task == "obb" and n not in (9, 10, 11):
            return None
        if n >= 7:
            if n % 2 == 0:
                return POLYGON_SCORE
            return POLYGON_TRACK if self.tracked and n >= 9 else POLYGON
        return None

    def expected(self) -> str:
        if self.task == "pose":
            k, d = self.kpt or (0, 0)
            p = 5 + k * d
            return (f"{p}, {p + 1} or {p + 2} values (class cx cy w h + {k} keypoints of {d} values "
                    "[conf] [track_id])")
        if self.task == "detect":
            return "5, 6 or 7 values (class cx cy w h [conf] [track_id])"
        if self.task == "obb":
            return "9 or 10 values (class x1 y1 x2 y2 x3 y3 x4 y4 [conf])"
        return "a class and at least 3 points (class x1 y1 x2 y2 x3 y3 ... [conf])"


def field_name(kind: str, index: int, n_tokens: int, kpt: tuple[int, int] | None = None) -> str:
    """The name of token ``index`` (0-based) of a line, for error messages."""
    if index == 0:
        return "class"
    if kind in TRACKED and index == n_tokens - 1:
        return "track_id"
    if kind in SCORED and index == n_tokens - 1 - (kind in TRACKED):
        return "score"
    if kind in BOX_KINDS or (kind in POSE_KINDS and index <= 4):
        return BOX_FIELDS[index - 1]
    if kind in POSE_KINDS and kpt is not None:
        point, axis = divmod(index - 5, kpt[1])
        return f"keypoint {point + 1} {'xyv'[axis]}"
    point, axis = divmod(index - 1, 2)
    return f"{'xy'[axis]}{point + 1}"


def class_index(token: str) -> int | None:
    """The class index of a token (``3``, or ``3.0`` as some exporters write it), else ``None``."""
    if token.isdigit():
        # beyond int64 (thousands of digits would hit Python's int-string limit): not a class index
        return int(token) if len(token.lstrip("0")) <= 18 else None
    try:
        value = float(token)
    except ValueError:
        return None
    if value >= 0 and value.is_integer():
        return int(value)
    return None


def number(token: str) -> float | None:
    """A finite float, else ``None``."""
    return parse_number(token)


def in_unit(value: float) -> bool:
    return -EPS <= value <= 1 + EPS


def _track_token(token: str) -> int | None:
    """The track id a last token could be: a non-negative integer written without a fraction."""
    return int(token) if token.isdigit() else None


class Ambiguous(ValueError):
    """The lines of a file fit two tasks and nothing decides between them (the message says which option does)."""


def _keypoints_in_box(rows: Sequence[Sequence[str]], kpt: tuple[int, int]) -> bool:
    """Whether every row reads as a pose line: its keypoints lie in (or near) its box, and a third
    value per point (visibility or confidence) is in [0, 1] or 2 (COCO's "visible")."""
    k, d = kpt
    for toks in rows:
        vals = [number(t) for t in toks[1:5 + k * d]]
        if any(v is None for v in vals):
            return False
        cx, cy, w, h = vals[:4]  # type: ignore[misc]
        if w is None or h is None or w <= 0 or h <= 0:
            return False
        x0, x1 = cx - w / 2 - _KPT_SLACK * w, cx + w / 2 + _KPT_SLACK * w  # type: ignore[operator]
        y0, y1 = cy - h / 2 - _KPT_SLACK * h, cy + h / 2 + _KPT_SLACK * h  # type: ignore[operator]
        for j in range(k):
            x, y = vals[4 + j * d], vals[5 + j * d]
            v = vals[6 + j * d] if d == 3 else 1.0
            if d == 3 and not (0 <= v <= 1 or v == 2):  # type: ignore[operator]
                return False
            if x == 0 and y == 0:
                continue  # an unlabelled point (Ultralytics writes 0 0 [0])
            if v and not (x0 <= x <= x1 and y0 <= y <= y1):  # type: ignore[operator]
                return False
    return True


def decide(rows: Sequence[Sequence[str]], *, task: str = "auto", kpt: tuple[int, int] | None = None,
           folder_task: str | None = None, previous: Scheme | None = None) -> Scheme:
    """The :class:`Scheme` of one file from all its (non-empty) token rows.

    ``task``/``kpt``: the user's options (or ``kpt_shape`` from data.yaml); ``folder_task``:
    what a ``runs/<task>/`` folder says; ``previous``: the scheme an earlier file of the same
    read was decided as, used only when this file's lines alone cannot tell. Raises
    :class:`Ambiguous` naming the option that decides.
    """
    widths = {len(r) for r in rows}
    if task == "pose" or (task == "auto" and kpt is not None):
        shapes = [kpt] if kpt is not None else [s for s in STANDARD_KPT_SHAPES if _fits_pose(widths, s)]
        for shape in shapes:
            if task == "pose" or _fits_pose(widths, shape, boxes=kpt is not None):
                return Scheme("pose", shape, tracked=5 + shape[0] * shape[1] + 2 in widths,
                              reason="pose" + (" (kpt_shape)" if kpt is not None else ""), strict=task == "pose")
        if task == "pose":
            raise Ambiguous(f"task=pose, but no keypoint shape fits these lines of {sorted(widths)} values; "
                            "state it with -o kpt_shape=K,D (K keypoints of D values: 2 for x y, 3 for x y v)")
    if task == "detect":
        return Scheme("detect", tracked=7 in widths, reason="task=detect")
    if task in ("segment", "obb"):
        return Scheme(task, tracked=_tracked_polygons(rows), reason=f"task={task}")
    # task == "auto": the lines decide, then the folder, then an earlier file.
    if widths <= {5, 6}:
        return Scheme("detect", reason="box lines")
    hint = folder_task or (previous.task if previous is not None and previous.reason != "box lines" else None)
    if widths <= {5, 6, 7}:
        sevens = [r for r in rows if len(r) == 7]
        if any(_track_token(r[-1]) is None for r in sevens):
            return Scheme("segment", reason="triangles (a last value that is no track id)")
        if 5 in widths:
            # Ultralytics writes a track id after the score: a file with unscored boxes has no
            # tracked ones, so its 7-value lines are triangles.
            return Scheme("segment", reason="unscored boxes and triangles")
        if 6 in widths:
            return Scheme("detect", tracked=True, reason="scored boxes with and without a track id")
        if any(int(r[-1]) > 1 for r in sevens):
            return Scheme("detect", tracked=True, reason="box lines with track ids")
        if hint in ("detect", "segment", "obb"):
            return Scheme("detect" if hint == "detect" else "segment", tracked=hint == "detect",
                          reason=f"{hint} (from the folder or an earlier file)")
        raise Ambiguous("every line has 7 values: tracked boxes (class cx cy w h conf track_id) or triangles "
                        "(class x1 y1 x2 y2 x3 y3); say which with -o task=detect (tracked boxes) or "
                        "-o task=segment")
    poses = [s for s in STANDARD_KPT_SHAPES if _fits_pose(widths, s)]
    if hint == "pose" and poses:
        return Scheme("pose", poses[0], tracked=5 + poses[0][0] * poses[0][1] + 2 in widths, reason="pose folder")
    if hint in ("segment", "obb", "detect"):
        return Scheme("segment", tracked=_tracked_polygons(rows), reason=f"{hint} folder")
    if poses:
        fitting = [s for s in poses if _keypoints_in_box(rows, s)]
        one_width = len(widths) == 1
        # Evidence of pose without a hint: several lines of one width (contours of several objects
        # almost never have one length) whose keypoints lie in their boxes. One line alone: refused.
        if fitting and one_width and len(rows) > 1:
            s = fitting[0]
            return Scheme("pose", s, tracked=5 + s[0] * s[1] + 2 in widths,
                          reason=f"pose lines: {s[0]} keypoints of {s[1]} values inside their boxes")
        if fitting or one_width:
            raise Ambiguous(f"lines of {sorted(widths)} values fit both YOLO pose (kpt_shape {list(poses[0])}) and "
                            "segmentation polygons; say which with -o task=pose (-o kpt_shape=K,D) or -o task=segment")
    return Scheme("segment", tracked=_tracked_polygons(rows), reason="polygon lines")


def _fits_pose(widths: set[int], shape: tuple[int, int], *, boxes: bool = False) -> bool:
    """Whether every width is a pose line of ``shape`` (``boxes``: or a box line, when the shape is stated)."""
    p = 5 + shape[0] * shape[1]
    poses = {p, p + 1, p + 2}
    if boxes:  # a stated shape: any other line is a box or a polygon
        return bool(widths & poses)
    return bool(widths) and widths <= poses


def _tracked_polygons(rows: Sequence[Sequence[str]]) -> bool:
    """Whether polygon lines end in a track id: an odd line whose last value is an integer above 1
    (a coordinate never is) after a value in [0, 1]."""
    for r in rows:
        if len(r) >= 9 and len(r) % 2 == 1:
            t = _track_token(r[-1])
            if t is not None and t > 1:
                return True
    return False
