"""Writing canonical frames as class-index PNGs, one per frame.

Each frame becomes ``<data id>.png`` (``street_001.jpg.png``, which reads back as
``street_001.jpg``), but a data id that is a PNG already is not doubled (``000000.png``, not
``000000.png.png``); ``<data id>__<frame:05d>.png`` for video frames; paths by the core's
rule, :class:`predport.FrameNames` whose pixel value is the category id of the prediction covering it and
``background`` (0) elsewhere. Masks (COCO RLE) are painted as they are; polygons
are rasterised with the rule in :mod:`predport_masks.extract`, so the polygons
this plugin reads paint back exactly their pixels. A prediction with neither a
mask nor a polygon has nothing to paint and is counted as not drawn.

Overlaps: predictions are painted in ascending score order (rows without a
score first, ties in input order), so where two overlap the higher score wins
and, among equals, the later row; option ``order=given`` paints in input order.
"""
from __future__ import annotations

import io
from typing import Any

import predport

from .options import WriteOptions

__all__ = ["write_masks", "FRAME_SCHEMA", "CLASS_MAP_SCHEMA", "ONTOLOGY_SCHEMA"]

FRAME_SCHEMA = "urn:predport:schema:masks:frame:1"
CLASS_MAP_SCHEMA = "urn:predport:schema:masks:class-map:1"
ONTOLOGY_SCHEMA = "urn:predport:schema:masks:ontology-mapping:1"


def _frame_size(frame: Any, context: Any) -> tuple[int, int]:
    """``(width, height)``: the frame's, else its first mask's, else the user's image sizes."""
    if frame.width is not None and frame.height is not None:
        return int(frame.width), int(frame.height)
    masks = frame.predictions.mask
    for m in masks or ():
        if m:
            return int(m["size"][1]), int(m["size"][0])
    known = context.image_size(frame.data_id)
    if known is not None:
        return int(known[0]), int(known[1])
    raise predport.OutputError(
        f"frame {frame.data_id!r} has no width/height and no mask to take them from",
        hint="give image sizes (image_sizes=... or images=FOLDER) so the PNG size is known",
    )


def _paint_order(dets: Any, order: str) -> list[int]:
    import numpy as np

    n = len(dets)
    if order == "given" or not n or np.isnan(dets.score).all():
        return list(range(n))
    key = np.where(np.isnan(dets.score), -np.inf, dets.score)
    return np.argsort(key, kind="stable").tolist()


def _is_extent(box: Any, pix: Any) -> bool:
    """Whether ``[x, y, w, h]`` is exactly the pixel extent of the binary mask ``pix``."""
    import numpy as np

    rows = np.flatnonzero(pix.any(axis=1))
    if not len(rows):
        return False
    cols = np.flatnonzero(pix.any(axis=0))
    extent = (cols[0], rows[0], cols[-1] + 1 - cols[0], rows[-1] + 1 - rows[0])
    return all(float(a) == float(b) for a, b in zip(box, extent))


def write_masks(stream: Any, target: Any, context: Any) -> dict[str, Any]:
    import numpy as np
    from PIL import Image

    from .extract import decode_rle, rasterize_rings

    opts = WriteOptions.from_context(context)
    background = opts.background
    files = drawn = not_drawn = box_changed = 0
    names = predport.FrameNames.from_context(context)  # the core's one naming rule (paths, root)
    for frame in stream.frames:
        # <image name>.png, which the reader gives back as the data id (street_001.jpg.png ->
        # street_001.jpg); a data id that is a PNG already is not doubled (000000.png, never
        # 000000.png.png). Frame 12 -> __00012.
        frame_part = None if frame.frame_index is None else f"__{frame.frame_index:05d}"
        rel = names.file(frame.data_id, ".png", frame_index=frame.frame_index, frame=frame_part,
                         keep_suffix=not frame.data_id.lower().endswith(".png"))
        # before the canvas (and any RLE) is allocated: a 100-byte RLE may declare 50000 x 50000
        width, height = predport.check_pixels(*_frame_size(frame, context), what="mask PNG", file=rel)
        dets = frame.predictions
        ids = dets.category_id
        bad = ids[(ids < 0) | (ids > 65535) | (ids == background)]
        if bad.size:
            raise predport.OutputError(
                f"category id {int(bad[0])} cannot be a pixel value here "
                f"(0..65535, and {background} is the background)",
                file=rel,
                hint="map the categories to other ids with class_map=..., or choose write option background=",
            )
        depth = opts.bit_depth or (16 if ids.size and int(ids.max()) > 255 else 8)
        if depth == 8 and ids.size and int(ids.max()) > 255:
            raise predport.OutputError(f"category id {int(ids.max())} does not fit 8 bits", file=rel,
                                       hint="use write option bit_depth=16")
        canvas = np.full((height, width), background, dtype=np.uint8 if depth == 8 else np.uint16)
        painted: set[int] = set()
        masks, polys, attrs, boxes = dets.mask, dets.polygon, dets.attributes, dets.box
        if attrs is not None:
            extra = sum(1 for a in attrs if a for k in a if k != "holes")
            context.report.loss("predictions.attributes (keys other than holes)", extra)
        for i in _paint_order(dets, opts.order):
            cid = int(ids[i])
            if masks is not None and masks[i]:
                m = masks[i]
                if [int(v) for v in m["size"]] != [height, width]:
                    raise predport.OutputError(
                        f"mask of prediction {i} is {m['size'][1]}x{m['size'][0]}, the frame {width}x{height}",
                        file=rel, field="mask",
                    )
                pix = decode_rle(m)
            elif polys is not None and polys[i]:
                holes = (attrs[i] or {}).get("holes", ()) if attrs is not None else ()
                pix = rasterize_rings(polys[i], height=height, width=width, holes=holes)
            else:
                not_drawn += 1
                continue
            np.copyto(canvas, cid, where=pix.view(bool), casting="unsafe")
            painted.add(cid)
            drawn += 1
            if boxes is not None and boxes[i, 0] == boxes[i, 0] and not _is_extent(boxes[i], pix):
                # Boxes are re-derived from the pixels on reading: one that is not its
                # pixels' extent cannot come back.
                box_changed += 1
        record = {
            "file": rel,
            "data_id": frame.data_id,
            "frame_index": frame.frame_index,
            "width": width,
            "height": height,
            "bit_depth": depth,
            "background": background,
            "classes": sorted(painted),
        }
        target.validate(FRAME_SCHEMA, record, relpath=rel)
        buf = io.BytesIO()
        Image.fromarray(canvas).save(buf, format="PNG")
        target.write_bytes(rel, buf.getvalue())
        files += 1
    cats = [c for c in stream.categories if 0 <= c.id <= 65535 and c.id != background]
    if cats:
        class_map = {str(c.id): {"id": c.id, "name": c.name, "external_id": c.external_id} for c in cats}
        target.write_json("class_map.json", class_map, schema=CLASS_MAP_SCHEMA)
        # Encord's ontology_mapping.json only when it covers every class: the reader
        # treats values missing from an ontology mapping as having no class.
        onto = {c.external_id: c.id for c in cats if c.external_id}
        if len(onto) == len(cats) and all(v >= 1 for v in onto.values()):
            target.write_json("ontology_mapping.json", onto, schema=ONTOLOGY_SCHEMA)
        elif len(onto) == len(cats):
            # Encord reserves pixel value 0 for background; class_map.json keeps the external ids.
            context.report.warn("ontology_mapping.json not written: a class has pixel value 0, which Encord "
                                "reads as background (class_map.json keeps the external ids)")
    # Rows without a mask or polygon (boxes only, classifications) cannot be painted.
    context.report.loss("predictions (no mask or polygon to paint)", not_drawn)
    context.report.loss("predictions.box (not the extent of its pixels; re-derived on reading)", box_changed)
    return {"masks_written": files, "predictions_drawn": drawn, "predictions_not_drawn": not_drawn,
            **names.summary("masks")}
