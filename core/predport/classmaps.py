"""Built-in class maps, given by name where a class-map file is accepted (``--class-map NAME``).

* ``coco91-to-coco80`` — COCO's category ids (1..90, eleven of them unused) to the
  contiguous 0-based indices Ultralytics models are trained with (0..79);
* ``coco80-to-coco91`` — back: an Ultralytics COCO model's class index to COCO's id, as
  pycocotools and COCO results expect.

The names of the classes are kept (the map changes ids only). The order is COCO's own
(``instances_val2017.json`` lists the 80 categories by ascending id); it is the table
Ultralytics ships as ``coco80_to_coco91_class()``. Standard library only.
"""
from __future__ import annotations

from typing import Any

__all__ = ["COCO80_TO_COCO91", "BUILTIN_CLASS_MAPS", "builtin_class_map"]

#: ``COCO80_TO_COCO91[i]`` is the COCO category id of Ultralytics' class index ``i``.
COCO80_TO_COCO91: tuple[int, ...] = (
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 27, 28,
    31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55,
    56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 67, 70, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 84,
    85, 86, 87, 88, 89, 90,
)

#: The names accepted in place of a class-map file.
BUILTIN_CLASS_MAPS: tuple[str, ...] = ("coco91-to-coco80", "coco80-to-coco91")


def builtin_class_map(name: str) -> dict[str, Any] | None:
    """The class map called ``name`` (``{source id as text: target id}``), or ``None``."""
    if name == "coco91-to-coco80":
        return {str(coco): index for index, coco in enumerate(COCO80_TO_COCO91)}
    if name == "coco80-to-coco91":
        return {str(index): coco for index, coco in enumerate(COCO80_TO_COCO91)}
    return None
