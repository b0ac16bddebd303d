"""Loss reports: what a target format cannot hold, per field and count, in two kinds.

A writer declares in :class:`~predport.FormatInfo` ``holds`` the canonical fields it
keeps. While frames stream to it, :class:`LossTracker` counts every value present in
the data that the target does not hold. The rule, in one line (docs/guide.md):

    a value the target can reconstruct exactly is not lost; lost prediction content
    refuses unless allowed; lost frame metadata is reported loudly and refuses only
    with ``strict_loss``.

* **Prediction content** — geometry, scores, keypoints, probabilities, prediction
  attributes, whole predictions, categories (names, external ids, attributes), video
  frame indices (frames would merge) and frames without predictions (the model's
  "nothing here"). The hub refuses such a conversion, at the first frame that loses
  something, unless the user allows that kind (``allow_loss=True`` or by name).
* **Frame metadata** — image sizes and frame attributes a target has no place for.
  Reported in the summary (and ``--json``) without refusing; ``strict_loss=True``
  (``--strict-loss``) refuses it too.

Loss kinds, for ``--allow-loss KIND,KIND`` (:data:`KINDS`): each key of the table
belongs to one kind (:func:`kind_of`).
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Iterable, Iterator, Mapping

from .format_detection import PREDICTION_FIELDS, FormatInfo

__all__ = ["LossTracker", "LossPolicy", "KINDS", "METADATA_KINDS", "kind_of", "is_metadata",
           "split_loss", "format_loss_table"]

_PRED_FIELDS = ("score",) + PREDICTION_FIELDS
_LIST_FIELDS = frozenset(PREDICTION_FIELDS[1:])  # held as lists, ``None`` when no row has one

#: Loss kinds: name -> what it covers. Named in ``--allow-loss`` (``allow_loss="sizes,masks"``).
KINDS: dict[str, str] = {
    "scores": "prediction scores",
    "boxes": "boxes",
    "polygons": "polygons",
    "masks": "masks",
    "keypoints": "keypoints",
    "probabilities": "class probabilities",
    "box3d": "3-D boxes",
    "attributes": "prediction attributes",
    "predictions": "whole predictions the target cannot write",
    "categories": "category names, external ids and attributes",
    "frame-index": "video frame indices (frames of one video would merge)",
    "empty-frames": "frames without predictions",
    "sizes": "image width/height (frame metadata)",
    "frame-attributes": "frame attributes (frame metadata)",
}
#: Kinds that are frame metadata: reported, refused only with ``strict_loss``.
METADATA_KINDS = frozenset({"sizes", "frame-attributes"})

_FIELD_KIND = {"score": "scores", "box": "boxes", "polygon": "polygons", "mask": "masks",
               "keypoints": "keypoints", "probabilities": "probabilities", "box3d": "box3d",
               "attributes": "attributes"}
#: Table keys of frames without predictions and of category names.
EMPTY_FRAMES_KEY = "frames (without predictions)"
CATEGORY_NAMES_KEY = "categories.name"


def kind_of(key: str) -> str:
    """The loss kind of a table key (``"predictions.mask"`` -> ``"masks"``)."""
    if key.startswith("predictions."):
        name = key[len("predictions."):].split(" ", 1)[0]
        return _FIELD_KIND.get(name, "predictions")
    if key.startswith("predictions"):
        return "predictions"
    if key.startswith("categories"):
        return "categories"
    if key.startswith("frames.width") or key.startswith("frames.height"):
        return "sizes"
    if key.startswith("frames.attributes"):
        return "frame-attributes"
    if key.startswith("frames.frame_index"):
        return "frame-index"
    if key.startswith(EMPTY_FRAMES_KEY):
        return "empty-frames"
    return "predictions"  # an unknown key refuses: never drop something silently


def is_metadata(key: str) -> bool:
    """Whether a table key is frame metadata (reported, not refused by default)."""
    return kind_of(key) in METADATA_KINDS


def split_loss(loss: Mapping[str, int]) -> tuple[dict[str, int], dict[str, int]]:
    """``(prediction content, frame metadata)`` parts of a loss table."""
    content = {k: v for k, v in loss.items() if not is_metadata(k)}
    meta = {k: v for k, v in loss.items() if is_metadata(k)}
    return content, meta


class LossPolicy:
    """Which losses refuse a conversion.

    ``allow``: ``False`` (nothing allowed), ``True`` (everything), or kinds — a
    comma-separated string or an iterable of :data:`KINDS` names (``"all"`` = everything).
    ``strict``: frame metadata refuses too, unless its kind is allowed.
    """

    def __init__(self, allow: bool | str | Iterable[str] | None = False, strict: bool = False) -> None:
        from .errors import ConfigError

        self.strict = bool(strict)
        self.all = allow is True
        self.kinds: frozenset[str] = frozenset()
        if allow is True or allow is False or allow is None:
            return
        names = [p.strip() for p in (allow.split(",") if isinstance(allow, str) else allow)]
        names = [n for n in names if n]
        unknown = sorted(set(names) - set(KINDS) - {"all"})
        if unknown:
            raise ConfigError(f"unknown loss kind(s) {', '.join(unknown)}", field="allow_loss",
                              hint=f"kinds: {', '.join(KINDS)}, or all")
        self.all = "all" in names
        self.kinds = frozenset(names)

    def refuses(self, key: str) -> bool:
        if self.all:
            return False
        kind = kind_of(key)
        if kind in self.kinds:
            return False
        return self.strict or kind not in METADATA_KINDS

    def refused(self, loss: Mapping[str, int]) -> dict[str, int]:
        """The part of ``loss`` that refuses the conversion."""
        return {k: v for k, v in loss.items() if v and self.refuses(k)}


def _named(cat: Any) -> bool:
    """A category whose name says more than its id (readers name unnamed classes ``str(id)``)."""
    name = getattr(cat, "name", None)
    return bool(name) and name != str(getattr(cat, "id", None))


class LossTracker:
    """Counts, frame by frame, what ``info``'s writer cannot hold.

    With a ``policy``, :meth:`watch` raises :class:`~predport.LossError` at the first frame
    after which something refused was counted (by the tracker or by the writer through
    ``context.report.loss``), instead of after all the work. ``held``: fields the writer
    holds in this conversion beyond its declaration (``context.report.hold``: a writer
    option made room for them). ``derived`` names fields the source derives from others
    (``{"polygon": "mask"}``: a masks reader traces polygons from its masks): a derived
    field is not lost while the target holds the field it comes from.
    """

    def __init__(self, info: FormatInfo, *, policy: LossPolicy | None = None, partial: Any = None,
                 held: Any = None, derived: Mapping[str, str] | None = None, dest: str | None = None) -> None:
        self.info = info
        self.policy = policy
        self.partial = partial  # the writer's Counter of partial losses (context.report.lost)
        self.held = held if held is not None else set()
        self._derived = dict(derived or {})
        self.dest = dest
        self.counts: Counter[str] = Counter()

    @property
    def holds(self) -> frozenset[str]:
        return self.info.holds | frozenset(self.held)

    @property
    def derived(self) -> dict[str, str]:
        """Derived fields whose origin the target holds (reconstructed, so not lost)."""
        holds = self.holds
        return {k: v for k, v in self._derived.items() if v in holds}

    def watch(self, frames: Iterable[Any]) -> Iterator[Any]:
        counts = self.counts
        held_seen = -1
        for frame in frames:
            # The writer asks for the next frame once it has taken the previous one: check now.
            if counts or self.partial:
                self._check()  # nothing counted yet: nothing to refuse
            if len(self.held) != held_seen:  # a writer may make room for a field (report.hold) while it writes
                held_seen = len(self.held)
                holds, derived = self.holds, self.derived
                fields = [n for n in _PRED_FIELDS if n not in holds and n not in derived]
                keep_index, keep_size = "frame_index" in holds, "size" in holds
                keep_attrs, keep_empty = "frame_attributes" in holds, "empty_frames" in holds
            dets = frame.predictions
            for name in fields:
                if name in _LIST_FIELDS and getattr(dets, name) is None:
                    continue  # the usual case, without a call
                n = dets.count(name)
                if n:
                    counts[f"predictions.{name}"] += n
            if not keep_index and frame.frame_index is not None:
                counts["frames.frame_index"] += 1
            if not keep_size and (frame.width is not None or frame.height is not None):
                counts["frames.width/height"] += 1
            if not keep_attrs and frame.attributes:
                for key in frame.attributes:  # one row per key: which keys, in how many frames
                    counts[f"frames.attributes.{key}"] += 1
            if not keep_empty and not len(dets):
                counts[EMPTY_FRAMES_KEY] += 1
            yield frame
        self._check()

    def _check(self) -> None:
        if self.policy is not None:
            self.check_final(self.table())

    def error(self, loss: Mapping[str, int]) -> Exception:
        from .errors import LossError

        kinds = sorted({kind_of(k) for k in (self.policy.refused(loss) if self.policy else loss)})
        return LossError(
            f"format {self.info.id!r} cannot hold everything in this data; nothing was written",
            file=self.dest,
            report=dict(sorted(loss.items())),
            hint=f"pass --allow-loss (allow_loss=True), or allow only these kinds: --allow-loss {','.join(kinds)}",
        )

    def table(self) -> dict[str, int]:
        """The counts so far, with the writer's partial losses (derived values left out)."""
        out: dict[str, int] = dict(self.counts)
        derived = self.derived
        for key, n in (self.partial or {}).items():
            field = key.split(" ", 1)[0]
            if field.startswith("predictions.") and field[len("predictions."):] in derived:
                continue  # derived from a field the target holds: reconstructed, not lost
            if n:
                out[key] = out.get(key, 0) + n
        return out

    def report(self, categories: Iterable[Any] = (), partial: Mapping[str, int] | None = None) -> dict[str, int]:
        """The loss table: fields the target does not hold, plus the ``partial`` losses a
        writer reported through ``context.report.loss`` (values of held fields it could not keep)."""
        if partial is not None:
            self.partial = partial
        out = self.table()
        cats = list(categories)
        holds = self.holds
        for field, key in (("category_external_id", "external_id"), ("category_attributes", "attributes")):
            if field not in holds:
                n = sum(1 for c in cats if getattr(c, key, None))
                if n:
                    out[f"categories.{key}"] = n
        if "category_names" not in holds:
            n = sum(1 for c in cats if _named(c))
            if n:
                out[CATEGORY_NAMES_KEY] = n
        return dict(sorted(out.items()))

    def check_final(self, loss: Mapping[str, int]) -> None:
        """Raise the :class:`~predport.LossError` for ``loss`` when the policy refuses part of it."""
        if self.policy is not None and self.policy.refused(loss):
            raise self.error(loss)


def format_loss_table(loss: Mapping[str, int]) -> str:
    """A text table of the two kinds apart: prediction content (refused unless allowed), then
    frame metadata the target has no place for (reported). Columns: field, count, kind."""
    if not loss:
        return "nothing lost"
    content, meta = split_loss(loss)
    width = max(len(k) for k in loss)
    lines: list[str] = []
    for title, part in (("prediction content (refused unless allowed):", content),
                        ("frame metadata the target has no place for (reported):", meta)):
        if not part:
            continue
        if lines:
            lines.append("")
        lines.append(title)
        lines.append(f"  {'field'.ljust(width)}  {'lost':>6}  kind")
        lines += [f"  {k.ljust(width)}  {v:>6}  {kind_of(k)}" for k, v in sorted(part.items())]
    return "\n".join(lines)
