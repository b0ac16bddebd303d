"""``predport report``: one self-contained HTML file (no CDN, no server, opens from disk).

The page holds a summary (frames, predictions per class, score histogram), the frames
as thumbnails with the predictions drawn over them as SVG (click for the full-size
view), filters by class and score threshold, and — with ground truth — the
evaluation of ``predport evaluate`` (metrics, PR curves, confusion matrix) with the
frames sorted worst first, each showing its TP/FP/FN. At most ``max_frames`` frames
are embedded; the others are listed in a table. A Content-Security-Policy forbids
every fetch: whatever the page shows is inside the file.
"""
from __future__ import annotations

import base64
import json
import math
import os
import time
from collections import Counter
from importlib import resources
from typing import Any, Callable, Iterable, Mapping, Sequence

from .colors import class_colour, hex_colour
from .draw import category_name
from .images import open_image
from .reading import ReadOptions, load_ground_truth, open_predictions
from .render import Drawn, Filters, FrameSource
from .svg import bar_chart, esc, histogram, overlay, pr_chart

__all__ = ["write_report", "build_report", "thumbnail"]

CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
       "base-uri 'none'; form-action 'none'")


def _asset(name: str) -> str:
    return resources.files("predport_report").joinpath("assets", name).read_text(encoding="utf-8")


def _image_format() -> str:
    from PIL import features

    return "webp" if features.check("webp") else "jpeg"


def thumbnail(d: Drawn, size: int, quality: int) -> tuple[str, int, int, int, int]:
    """The frame's picture downscaled to fit ``size`` (long side) as a data URI.

    Returns ``(uri, thumb_w, thumb_h, image_w, image_h)``. JPEG files are decoded at
    a reduced scale straight away (Pillow's draft mode), which keeps this cheap.
    """
    import io

    import predport
    from PIL import Image, ImageOps

    im: Image.Image
    if d.image_path is not None:
        try:
            with Image.open(d.image_path) as im:
                full = im.size
                orientation = im.getexif().get(0x0112, 1)
                if orientation in (5, 6, 7, 8):
                    full = (full[1], full[0])
                im.draft("RGB", (size, size))
                im = ImageOps.exif_transpose(im)
                im = im.convert("RGB") if im.mode not in ("I", "I;16", "I;16B", "F") else open_image(d.image_path)
        except OSError as exc:
            raise predport.PredportError(f"cannot read image: {exc}", file=str(d.image_path)) from None
        if d.size is not None and full != d.size:
            raise predport.PredportError(
                f"image is {full[0]}x{full[1]} pixels but the frame says {d.size[0]}x{d.size[1]}",
                file=str(d.image_path), field="width/height",
                hint="check that --images holds the images these predictions were made on")
    else:
        full = d.size or (640, 480)
        im = Image.new("RGB", (max(1, min(size, full[0])), max(1, min(size, full[1]))), (128, 128, 128))
    im.thumbnail((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0)
    fmt = _image_format()
    buf = io.BytesIO()
    if fmt == "webp":
        im.save(buf, format="WEBP", quality=quality, method=4)
    else:
        im.save(buf, format="JPEG", quality=quality)
    uri = f"data:image/{fmt};base64," + base64.b64encode(buf.getvalue()).decode("ascii")
    return uri, im.width, im.height, int(full[0]), int(full[1])


def _frame_key(data_id: str, frame_index: int | None) -> tuple[str, int | None]:
    return (data_id.replace("\\", "/"), frame_index)


def _score_histogram(scores: Sequence[float]) -> tuple[list[int], list[float]]:
    import numpy as np

    a = np.asarray([s for s in scores if not math.isnan(s)], dtype=np.float64)
    if a.size == 0:
        return [], []
    lo, hi = (0.0, 1.0) if a.min() >= 0 and a.max() <= 1 else (float(a.min()), float(a.max()))
    if hi <= lo:
        hi = lo + 1.0
    counts, edges = np.histogram(a, bins=20, range=(lo, hi))
    return counts.tolist(), edges.tolist()


def _fmt_metric(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if isinstance(v, float):
        return f"{v:.3f}"
    return esc(v)


def _metrics_html(ev: Mapping[str, Any]) -> str:
    metrics = ev.get("metrics") or {}
    head = "".join(f"<th>{esc(k)}</th>" for k in metrics)
    row = "".join(f'<td data-metric="{esc(k)}">{_fmt_metric(v)}</td>' for k, v in metrics.items())
    out = [f'<table id="metrics"><tr>{head}</tr><tr>{row}</tr></table>']
    per_class = ev.get("per_class") or []
    if per_class:
        keys = [k for k in per_class[0] if k not in ("category", "category_id")]
        out.append('<h3>Per class</h3><table id="per-class"><tr><th>class</th>'
                   + "".join(f"<th>{esc(k)}</th>" for k in keys) + "</tr>")
        for r in per_class:
            name = str(r.get("category"))
            out.append(f'<tr><td><span class="sw" style="background:{hex_colour(class_colour(name))}"></span>'
                       f'{esc(name)}</td>' + "".join(f"<td>{_fmt_metric(r.get(k))}</td>" for k in keys) + "</tr>")
        out.append("</table>")
    return "".join(out)


def _confusion_html(cm: Mapping[str, Any] | None) -> str:
    if not cm or not cm.get("labels"):
        return '<p class="none">no confusion matrix</p>'
    labels, matrix = list(cm["labels"]), cm["matrix"]
    top = max((v for row in matrix for v in row), default=0) or 1
    out = ['<table class="cm" id="confusion"><tr><th>ground truth \\ predicted</th>'
           + "".join(f"<th>{esc(lab)}</th>" for lab in labels) + "</tr>"]
    for lab, row in zip(labels, matrix):
        cells = []
        for v in row:
            a = 0.08 + 0.8 * v / top if v else 0
            fg = "#fff" if a > 0.5 else "inherit"
            cells.append(f'<td style="background:rgba(40,90,180,{a:.2f});color:{fg}">{v}</td>')
        out.append(f"<tr><th>{esc(lab)}</th>{''.join(cells)}</tr>")
    out.append("</table>")
    note = []
    if cm.get("iou_threshold") is not None:
        note.append(f"IoU ≥ {cm['iou_threshold']}")
    if cm.get("score_threshold") is not None:
        note.append(f"score ≥ {cm['score_threshold']}")
    if note:
        out.append(f'<p class="note">matched at {esc(", ".join(note))}</p>')
    return "".join(out)


def build_report(
    drawn: Sequence[Drawn],
    *,
    categories: Any,
    gt_categories: Any = None,
    evaluation: Mapping[str, Any] | None = None,
    max_frames: int = 100,
    thumb_size: int = 320,
    quality: int = 70,
    title: str = "predport report",
    source: str = "",
    score_threshold: float | None = None,
    report_dir: str | os.PathLike[str] | None = None,
    counts: Mapping[str, int] | None = None,
) -> tuple[str, dict[str, Any]]:
    """The HTML of a report over ``drawn`` frames (in the order to show), and its figures."""
    import numpy as np

    from . import __version__

    t0 = time.perf_counter()
    per_frame: dict[tuple[str, int | None], Mapping[str, Any]] = {}
    order = list(range(len(drawn)))
    if evaluation is not None:
        rank: dict[tuple[str, int | None], int] = {}
        for k, r in enumerate(evaluation.get("per_frame") or []):
            key = _frame_key(str(r["data_id"]), r.get("frame_index"))
            per_frame[key] = r
            rank.setdefault(key, k)
        # The evaluation lists frames worst first; frames it does not know keep their order, last.
        order.sort(key=lambda i: (rank.get(_frame_key(drawn[i].data_id, drawn[i].frame_index), len(rank)), i))

    # Classes: every class met in predictions or ground truth, by name (colours are by name too).
    per_class: Counter[str] = Counter()
    gt_per_class: Counter[str] = Counter()
    scores: list[float] = []
    for d in drawn:
        for c in d.predictions.category_id.tolist():
            per_class[category_name(categories, c)] += 1
        scores.extend(d.predictions.score.tolist())
        if d.ground_truth is not None:
            for c in d.ground_truth.category_id.tolist():
                gt_per_class[category_name(gt_categories if gt_categories is not None else categories, c)] += 1
    names = sorted(set(per_class) | set(gt_per_class), key=str.lower)
    class_index = {n: i for i, n in enumerate(names)}
    finite = [s for s in scores if not math.isnan(s)]
    lo = min(finite) if finite else 0.0
    hi = max(finite) if finite else 1.0
    if finite and lo >= 0 and hi <= 1:
        lo, hi = 0.0, 1.0
    start = score_threshold if score_threshold is not None else lo
    step = (hi - lo) / 100 if hi > lo else 0.01

    has_gt = any(d.ground_truth is not None for d in drawn)
    embedded = order[:max(0, max_frames)]
    listed = order[max(0, max_frames):]
    figures = []
    frame_bytes: list[int] = []
    for i in embedded:
        d = drawn[i]
        uri, tw, th, w, h = thumbnail(d, thumb_size, quality)
        svg = overlay(w, h, d.predictions, categories, class_index, ground_truth=d.ground_truth,
                      gt_categories=gt_categories)
        svg = svg.replace("<svg ", f'<svg style="font-size:{max(10, round(max(w, h) / 45))}px" ', 1)
        r = per_frame.get(_frame_key(d.data_id, d.frame_index))
        badges = ""
        err = ""
        if r is not None:
            badges = (f'<span class="b tp" title="true positives">TP {r.get("tp", 0)}</span>'
                      f'<span class="b fp" title="false positives">FP {r.get("fp", 0)}</span>'
                      f'<span class="b fn" title="false negatives (missed ground truth)">FN {r.get("fn", 0)}</span>')
            err = f' data-tp="{r.get("tp", 0)}" data-fp="{r.get("fp", 0)}" data-fn="{r.get("fn", 0)}"'
        name = d.data_id + (f" #{d.frame_index}" if d.frame_index is not None else "")
        src = ""
        if d.image_path is not None:
            try:
                rel = os.path.relpath(d.image_path, report_dir) if report_dir is not None else str(d.image_path)
                src = f' data-src="{esc(rel.replace(os.sep, "/"))}"'
            except ValueError:  # another drive (Windows): no relative path
                src = ""
        npred = len(d.predictions)
        ngt = f' · {len(d.ground_truth)} ground truth' if d.ground_truth is not None else ""
        fig = (f'<figure class="fr" data-id="{esc(d.data_id)}" data-w="{w}"{src}{err}>'
               f'<div class="frame" style="aspect-ratio:{w}/{h}"><img src="{uri}" alt="{esc(name)}" '
               f'width="{tw}" height="{th}" loading="eager">{svg}</div>'
               f'<figcaption><span class="id">{esc(name)}</span><span>{w}×{h} · {npred} '
               f'prediction{"" if npred == 1 else "s"}{ngt}</span>{badges}</figcaption></figure>')
        frame_bytes.append(len(fig.encode("utf-8")))
        figures.append(fig)

    rows = []
    for i in listed:
        d = drawn[i]
        r = per_frame.get(_frame_key(d.data_id, d.frame_index))
        classes = Counter(category_name(categories, c) for c in d.predictions.category_id.tolist())
        cells = [esc(d.data_id + (f" #{d.frame_index}" if d.frame_index is not None else "")),
                 str(len(d.predictions)), esc(", ".join(f"{k} {v}" for k, v in sorted(classes.items())))]
        if r is not None:
            cells += [str(r.get("tp", 0)), str(r.get("fp", 0)), str(r.get("fn", 0))]
        elif evaluation is not None:
            cells += ["", "", ""]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")

    n_pred = sum(per_class.values())
    with_preds = sum(1 for d in drawn if len(d.predictions))
    cards = [("frames", len(drawn)), ("predictions", n_pred), ("classes", len(names)),
             ("frames with predictions", with_preds), ("frames shown", f"{len(embedded)} of {len(drawn)}")]
    if has_gt:
        cards.insert(2, ("ground-truth objects", sum(gt_per_class.values())))
    no_score = len(scores) - len(finite)
    hcounts, hedges = _score_histogram(scores)
    class_rows = [(n, per_class[n], hex_colour(class_colour(n))) for n in names if per_class[n]]
    class_rows.sort(key=lambda r: -r[1])

    filters = "".join(
        f'<label><input type="checkbox" class="cls" data-c="{class_index[n]}" data-name="{esc(n)}" checked>'
        f'<span class="sw" style="background:{hex_colour(class_colour(n))}"></span>{esc(n)}</label>' for n in names)
    gt_toggle = '<label><input type="checkbox" id="showgt" checked> ground truth (dashed)</label>' if has_gt else ""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta name="generator" content="predport-report {__version__}">',
        f"<title>{esc(title)}</title><style>{_asset('report.css')}</style></head>",
        f'<body style="--thumb:{min(thumb_size, 320)}px">',
        f'<header><h1>{esc(title)}</h1><div class="src">{esc(source)}</div></header>',
        f'<nav id="filters" aria-label="filters"><strong>Classes</strong>{filters}'
        '<button type="button" data-all="1">all</button><button type="button" data-all="0">none</button>'
        f'<label>score ≥ <input type="range" id="thr" min="{lo:.6g}" max="{hi:.6g}" step="{step:.6g}" '
        f'value="{start:.6g}"> <output id="thrv">{start:.6g}</output></label>{gt_toggle}'
        f'<span><output id="shown">{n_pred}</output> predictions shown</span></nav>',
        "<main>",
        '<section id="summary"><h2>Summary</h2><div class="cards">'
        + "".join(f'<div class="card"><b>{esc(v)}</b><span>{esc(k)}</span></div>' for k, v in cards)
        + '</div><div class="charts">'
        + f'<div><h3>Predictions per class</h3>{bar_chart(class_rows)}</div>'
        + f'<div><h3>Scores</h3>{histogram(hcounts, hedges)}'
        + (f'<p class="note">{no_score} prediction(s) without a score</p>' if no_score else "")
        + "</div></div></section>",
    ]
    if evaluation is not None:
        parts.append(
            '<section id="evaluation"><h2>Evaluation</h2>'
            + _metrics_html(evaluation)
            + '<div class="charts"><div><h3>Precision-recall</h3>'
            + pr_chart(evaluation.get("pr_curves") or {})
            + '</div><div><h3>Confusion matrix</h3>'
            + _confusion_html(evaluation.get("confusion"))
            + "</div></div>"
            + '<script type="application/json" id="evaluation-data">'
            + json.dumps({k: evaluation.get(k) for k in ("metrics", "per_class", "unmatched") if k in evaluation},
                         default=str).replace("</", "<\\/")
            + "</script></section>")
    heading = "Frames, worst first" if evaluation is not None else "Frames"
    note = ("sorted by the evaluation's per-frame results (most false positives and false negatives first)"
            if evaluation is not None else "in input order")
    parts.append(f'<section id="frames-section"><h2>{heading}</h2><p class="note">{len(embedded)} of '
                 f'{len(drawn)} frames embedded, {note}; click a frame for the full-size view.</p>'
                 f'<div class="grid" id="frames">{"".join(figures)}</div></section>')
    if rows:
        head = "<th>frame</th><th>predictions</th><th>classes</th>" + (
            "<th>TP</th><th>FP</th><th>FN</th>" if evaluation is not None else "")
        parts.append(f'<section id="rest-section"><h2>Other frames ({len(rows)})</h2>'
                     f'<p class="note">not embedded (raise --max-frames to embed more)</p>'
                     f'<table id="rest"><tr>{head}</tr>{"".join(rows)}</table></section>')
    if counts:
        parts.append('<p class="note" id="counts">' + esc("; ".join(f"{k}: {v}" for k, v in counts.items()))
                     + "</p>")
    parts.append(f'</main><dialog id="big" aria-label="full-size frame"></dialog><script>{_asset("report.js")}'
                 "</script></body></html>")
    text = "".join(parts)
    figures_info = {
        "frames": len(drawn),
        "embedded": len(embedded),
        "listed": len(listed),
        "predictions": n_pred,
        "classes": names,
        "frame_bytes": frame_bytes,
        "build_seconds": time.perf_counter() - t0,
    }
    return text, figures_info


def write_report(
    predictions: Any,
    out: str | os.PathLike[str],
    *,
    images: str | os.PathLike[str] | None = None,
    read: ReadOptions | None = None,
    ground_truth: Any = None,
    gt_read: ReadOptions | None = None,
    filters: Filters = Filters(),
    max_frames: int = 100,
    thumb_size: int = 320,
    quality: int = 70,
    overwrite: bool = False,
    title: str | None = None,
    evaluate: Mapping[str, Any] | None = None,
    include_unmatched_images: bool = True,
) -> dict[str, Any]:
    """Write the report of ``predictions`` (and ``ground_truth``) to the HTML file ``out``.

    ``predictions``/``ground_truth`` are paths (any readable format) or
    ``predport.PredictionSet`` objects. With ground truth, the evaluation is
    ``predport_eval.evaluate`` on the same sets with the keyword arguments
    ``evaluate`` (``iou_type``, ``iou_threshold``, ...; the score threshold is
    ``filters.score_threshold``). The file is written atomically; returns a summary.
    """
    import predport

    if max_frames < 0:
        raise predport.ConfigError("--max-frames must be 0 or more", field="--max-frames")
    if not 16 <= thumb_size <= 4096:
        raise predport.ConfigError("--thumb-size must be between 16 and 4096 pixels", field="--thumb-size")
    read = read or ReadOptions()
    if images is not None and read.images is None and read.image_sizes is None:
        read.images = images
    if isinstance(predictions, predport.PredictionSet):
        pred_set, src = predictions, (predictions.source.uri if predictions.source else "predictions")
        fmt = predictions.source.format if predictions.source else ""
    else:
        stream = open_predictions(predictions, read)
        try:
            pred_set = stream.collect()
        finally:
            stream.close()
        src, fmt = str(predictions), (pred_set.source.format if pred_set.source else "")
    gt_set = None
    evaluation = None
    if ground_truth is not None:
        if isinstance(ground_truth, predport.PredictionSet):
            gt_set = ground_truth
        else:
            gt_read = gt_read or ReadOptions()
            if images is not None and gt_read.images is None and gt_read.image_sizes is None:
                gt_read.images = images
            gt_set = load_ground_truth(ground_truth, gt_read)
        evaluation = _evaluate(pred_set, gt_set, filters, evaluate or {})
    source = FrameSource(pred_set, images=images, ground_truth=gt_set, filters=filters,
                         include_unmatched_images=include_unmatched_images)
    drawn = list(source)
    title = title or f"predport report: {os.path.basename(str(src).rstrip('/')) or src}"
    described = f"{src} [{fmt}]"
    if ground_truth is not None:
        described += " against " + ("ground truth" if isinstance(ground_truth, predport.PredictionSet)
                                    else str(ground_truth))
    text, info = build_report(
        drawn, categories=source.categories, gt_categories=source.gt_categories, evaluation=evaluation,
        max_frames=max_frames, thumb_size=thumb_size, quality=quality, title=title, source=described,
        score_threshold=filters.score_threshold, report_dir=os.path.dirname(os.path.abspath(out)),
        counts={k: v for k, v in source.counts.items() if k != "frames"})
    data = text.encode("utf-8")
    with predport.OutputTarget(out, kind="file", overwrite=overwrite) as target:
        target.write_bytes(None, data)
    info.update(bytes=len(data), output=str(out), counts=dict(source.counts))
    if evaluation is not None:
        info["metrics"] = evaluation.get("metrics")
    return info


def _evaluate(pred_set: Any, gt_set: Any, filters: Filters, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """``predport_eval.evaluate`` on the sets, as its ``to_dict()`` (what ``predport evaluate --json`` prints)."""
    import predport

    try:
        import predport_eval
    except ImportError:
        raise predport.ConfigError(
            "the evaluation needs predport-eval", hint="pip install predport-eval (or leave out --gt)") from None
    kw = dict(kwargs)
    if filters.score_threshold is not None:
        kw.setdefault("score_threshold", filters.score_threshold)
    return predport_eval.evaluate(pred_set, gt_set, **kw).to_dict()
