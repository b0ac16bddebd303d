"""``predport draw``: one drawn image per frame, written atomically into a folder."""
from __future__ import annotations

import io
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

from .draw import Style, category_name, draw_frame, select
from .images import ImageIndex, blank_canvas, canvas_size, open_image, output_name
from .reading import GroundTruthIndex, ReadOptions, load_ground_truth, open_predictions

__all__ = ["Filters", "Drawn", "FrameSource", "draw_folder", "encode_image"]


@dataclass(frozen=True)
class Filters:
    """Which predictions are drawn: a score threshold (rows without a score stay) and classes."""

    score_threshold: float | None = None
    classes: tuple[str, ...] | None = None

    def apply(self, dets: Any, categories: Any) -> Any:
        return select(dets, categories, score_threshold=self.score_threshold, classes=self.classes)


@dataclass
class Drawn:
    """One frame, ready to be drawn: its predictions (filtered), ground truth, and image."""

    data_id: str
    frame_index: int | None
    predictions: Any
    ground_truth: Any = None
    image_path: Any = None
    size: tuple[int, int] | None = None
    attributes: dict[str, Any] = field(default_factory=dict)

    def render(self, categories: Any, gt_categories: Any, style: Style) -> Any:
        """The drawn RGB image (the frame's image, or a grey canvas when it has none)."""
        import predport

        if self.image_path is not None:
            image = open_image(self.image_path)
            if self.size is not None and image.size != self.size:
                raise predport.PredportError(
                    f"image is {image.size[0]}x{image.size[1]} pixels but the frame says "
                    f"{self.size[0]}x{self.size[1]}", file=str(self.image_path), field="width/height",
                    hint="check that --images holds the images these predictions were made on")
        else:
            image = blank_canvas(self.size or (640, 480))
        return draw_frame(image, self.predictions, categories, ground_truth=self.ground_truth,
                          gt_categories=gt_categories, style=style, data_id=self.data_id)


class FrameSource:
    """Prediction frames paired with their ground truth and image, streaming.

    After iteration: ``categories`` / ``gt_categories`` are complete, and the counts
    say how many frames had an image, were drawn on a blank canvas, came only from
    the ground truth or only from the image folder.
    """

    def __init__(
        self,
        predictions: Any,
        *,
        images: str | os.PathLike[str] | None = None,
        read: ReadOptions | None = None,
        ground_truth: Any = None,
        gt_read: ReadOptions | None = None,
        filters: Filters = Filters(),
        include_unmatched_images: bool = True,
    ) -> None:
        import predport

        read = read or ReadOptions()
        if images is not None and read.images is None and read.image_sizes is None:
            read.images = images
        if isinstance(predictions, predport.PredictionSet):
            self.stream = predport.PredictionStream.from_set(predictions)
        else:
            self.stream = open_predictions(predictions, read)
        self.categories = self.stream.categories
        self.gt = None
        self.gt_categories: Any = None
        if ground_truth is not None:
            if isinstance(ground_truth, predport.PredictionSet):
                gt_set = ground_truth
            else:
                gt_read = gt_read or ReadOptions()
                if images is not None and gt_read.images is None and gt_read.image_sizes is None:
                    gt_read.images = images
                gt_set = load_ground_truth(ground_truth, gt_read)
            self.gt = GroundTruthIndex(gt_set.frames)
            self.gt_categories = {c.id: c for c in gt_set.categories}
        self.index = ImageIndex(images)
        self.filters = filters
        self.include_unmatched_images = include_unmatched_images
        self.counts: Counter[str] = Counter()
        self.drawn_per_class: Counter[str] = Counter()

    def _pair(self, frame: Any) -> Drawn:
        dets = self.filters.apply(frame.predictions, self.categories)
        gt = None
        if self.gt is not None:
            g = self.gt.find(frame.data_id, frame.frame_index)
            gt = None if g is None else g.predictions
            self.counts["frames with ground truth" if g is not None else "frames without ground truth"] += 1
        path = self.index.find(frame.data_id) if self.index.folder is not None and frame.frame_index is None else None
        size = (int(frame.width), int(frame.height)) if frame.width and frame.height else None
        d = Drawn(frame.data_id, frame.frame_index, dets, gt, path, size, dict(frame.attributes))
        if path is None:
            d.size = size or canvas_size(frame)
            self.counts["drawn on a blank canvas (no image)"] += 1
        else:
            self.counts["drawn on their image"] += 1
        for c in dets.category_id.tolist():
            self.drawn_per_class[category_name(self.categories, c)] += 1
        return d

    def __iter__(self) -> Iterator[Drawn]:
        import predport

        try:
            for frame in self.stream.frames:
                self.counts["frames"] += 1
                yield self._pair(frame)
        finally:
            self.stream.close()
        empty = predport.Detections.empty()
        if self.gt is not None:
            for g in self.gt.unused():
                self.counts["ground-truth frames without predictions"] += 1
                yield self._gt_only(g, empty)
        if self.include_unmatched_images and self.index.folder is not None:
            for path in list(self.index.unused()):
                self.counts["images without predictions"] += 1
                gt = None
                if self.gt is not None:
                    g = self.gt.find(self.index.data_id(path))
                    gt = None if g is None else g.predictions
                self.counts["drawn on their image"] += 1
                yield Drawn(self.index.data_id(path), None, empty, gt, path, None)

    def _gt_only(self, g: Any, empty: Any) -> Drawn:
        path = self.index.find(g.data_id) if self.index.folder is not None and g.frame_index is None else None
        size = (int(g.width), int(g.height)) if g.width and g.height else None
        d = Drawn(g.data_id, g.frame_index, empty, g.predictions, path, size)
        if path is None:
            d.size = size or canvas_size(g)
            self.counts["drawn on a blank canvas (no image)"] += 1
        else:
            self.counts["drawn on their image"] += 1
        return d


def encode_image(image: Any, fmt: str, quality: int) -> bytes:
    buf = io.BytesIO()
    if fmt == "png":
        image.save(buf, format="PNG", compress_level=3)
    elif fmt == "webp":
        image.save(buf, format="WEBP", quality=quality, method=4)
    else:
        image.save(buf, format="JPEG", quality=quality, subsampling=0 if quality >= 90 else 2)
    return buf.getvalue()


SUFFIX = {"jpg": ".jpg", "png": ".png", "webp": ".webp"}


def draw_folder(
    predictions: Any,
    out: str | os.PathLike[str],
    *,
    images: str | os.PathLike[str] | None = None,
    read: ReadOptions | None = None,
    ground_truth: Any = None,
    gt_read: ReadOptions | None = None,
    filters: Filters = Filters(),
    skip_empty: bool = False,
    overwrite: bool = False,
    style: Style = Style(),
    image_format: str = "jpg",
    quality: int = 90,
    progress: Callable[[Iterable[Any]], Iterable[Any]] | None = None,
) -> dict[str, Any]:
    """Draw every frame of ``predictions`` into the folder ``out``; returns a summary.

    ``predictions`` and ``ground_truth`` are paths (any readable format) or
    ``predport.PredictionSet`` objects. Frames without predictions, ground-truth
    frames without predictions and images of ``images`` that no frame names are
    written too, unless ``skip_empty``. Nothing is visible in ``out`` until every
    image is written (a failure leaves ``out`` as it was).
    """
    import predport

    if image_format not in SUFFIX:
        raise predport.ConfigError(f"image format must be one of {sorted(SUFFIX)}, got {image_format!r}",
                                   field="--image-format")
    source = FrameSource(predictions, images=images, read=read, ground_truth=ground_truth, gt_read=gt_read,
                         filters=filters, include_unmatched_images=not skip_empty)
    names: set[str] = set()
    written = skipped = 0
    draw_seconds = 0.0
    frames: Iterable[Drawn] = source if progress is None else progress(source)
    with predport.OutputTarget(out, kind="folder", overwrite=overwrite) as target:
        for d in frames:
            if skip_empty and not len(d.predictions) and (d.ground_truth is None or not len(d.ground_truth)):
                skipped += 1
                continue
            t0 = time.perf_counter()
            image = d.render(source.categories, source.gt_categories, style)
            draw_seconds += time.perf_counter() - t0
            name = output_name(d.data_id, d.frame_index, SUFFIX[image_format])
            base, n = name, 1
            while name.lower() in names:  # two data ids with one stem (a.png, a.jpg): keep both
                n += 1
                stem, dot, ext = base.rpartition(".")
                name = f"{stem}__{n}.{ext}"
            names.add(name.lower())
            target.write_bytes(name, encode_image(image, image_format, quality))
            written += 1
    counts = dict(source.counts)
    return {
        "frames": counts.pop("frames", 0),
        "written": written,
        "skipped_empty": skipped,
        "counts": counts,
        "predictions_drawn": dict(sorted(source.drawn_per_class.items())),
        "draw_seconds": draw_seconds,
        "output": str(out),
    }
