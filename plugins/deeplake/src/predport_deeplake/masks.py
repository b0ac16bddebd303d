"""Instance masks: canonical COCO RLE <-> a Deep Lake ``BinaryMask`` column.

The layout is Deep Lake's own (its COCO ingestion, ``deeplake.ingestion.coco``): one
``BinaryMask(sample_compression="lz4")`` value per row, a bool array of shape
``(height, width, N)`` — plane ``i`` is the mask of the row's prediction ``i``. A row whose
predictions have no mask holds ``N = 0`` planes. When some predictions of a row have a mask
and others do not, those without get an all-zero plane and ``<group>/has_mask``
(``Array("bool", 1)``, written only then) says which planes are masks: an all-zero plane is
a real (empty) mask wherever that column is absent, never read as "no mask".

Encoding and decoding are pycocotools' (``pycocotools.mask``); masks are decoded a block of
rows at a time, so a dataset's masks never sit in memory as pixels all at once.
"""
from __future__ import annotations

import warnings
from typing import Any, Iterator, Sequence

import predport

#: Rows decoded (written) or read per block: a block holds H x W x N bytes per row.
BLOCK = 64


def frame_size(frame_id: str, masks: Sequence[Any]) -> tuple[int, int]:
    """The ``(height, width)`` every mask of a frame shares; refused when they differ."""
    size: tuple[int, int] | None = None
    for rle in masks:
        if rle is None:
            continue
        try:
            h, w = (int(v) for v in rle["size"])
        except (TypeError, KeyError, ValueError):
            raise predport.OutputError(f"frame {frame_id!r}: mask {rle!r} has no [height, width] size",
                                       field="mask") from None
        if size is None:
            size = (h, w)
        elif size != (h, w):
            raise predport.OutputError(
                f"frame {frame_id!r}: masks of sizes {size[0]}x{size[1]} and {h}x{w} (height x width); a Deep "
                "Lake BinaryMask row stacks a frame's masks, which must share one size", field="mask")
    assert size is not None  # called for frames with at least one mask
    return size


class MaskRows:
    """Per dataset row, the masks to write (a list of RLE dicts / ``None``, or ``None``), with the
    plane size used for rows that hold no mask. Decoded to planes a block at a time by
    :meth:`blocks`."""

    def __init__(self, rows: list[Any], sizes: list[tuple[int, int]], counts: list[int]) -> None:
        self.rows, self.sizes, self.counts = rows, sizes, counts

    def __len__(self) -> int:
        return len(self.rows)

    def blocks(self, where: str) -> Iterator[tuple[int, list[Any]]]:
        """``(first row, planes)`` per block of :data:`BLOCK` rows."""
        for start in range(0, len(self.rows), BLOCK):
            yield start, [self.planes(i, where) for i in range(start, min(start + BLOCK, len(self.rows)))]

    def planes(self, i: int, where: str) -> Any:
        import numpy as np
        from pycocotools import mask as mask_utils

        h, w = self.sizes[i]
        row = self.rows[i]
        if row is None:
            return np.zeros((h, w, 0), dtype=bool)
        out = np.zeros((h, w, len(row)), dtype=bool, order="F")
        present = [j for j, rle in enumerate(row) if rle is not None]
        if present:
            try:
                with warnings.catch_warnings():  # pycocotools' own __array__ under numpy 2: harmless
                    warnings.filterwarnings("ignore", message="__array__ implementation", category=DeprecationWarning)
                    decoded = mask_utils.decode([_bytes_rle(row[j]) for j in present])
            except Exception as exc:  # pycocotools raises plain ValueError/TypeError for a bad RLE
                raise predport.OutputError(f"{where}, row {i}: a mask does not decode as COCO RLE "
                                           f"({type(exc).__name__}: {exc})", field="mask") from None
            if decoded.shape[:2] != (h, w):
                raise predport.OutputError(f"{where}, row {i}: a mask decodes to {decoded.shape[:2]}, "
                                           f"its size says {(h, w)}", field="mask")
            out[:, :, present] = decoded.view(bool) if decoded.dtype == np.uint8 else decoded.astype(bool)
        return out


def _bytes_rle(rle: Any) -> dict[str, Any]:
    counts = rle["counts"]
    return {"size": [int(v) for v in rle["size"]], "counts": counts.encode("ascii") if isinstance(counts, str)
            else counts}


def encode(planes: Any) -> list[dict[str, Any]]:
    """``(H, W, N)`` bool planes -> N canonical RLE dicts (``counts`` a str), pycocotools' encoding."""
    import numpy as np
    from pycocotools import mask as mask_utils

    arr = np.asfortranarray(np.asarray(planes, dtype=bool).view(np.uint8))
    return [{"size": [int(r["size"][0]), int(r["size"][1])], "counts": r["counts"].decode("ascii")}
            for r in mask_utils.encode(arr)]
