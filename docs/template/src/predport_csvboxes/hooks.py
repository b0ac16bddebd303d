"""Hooks of predport-csvboxes: one CSV file of boxes, read and written.

The format (a small but real one, to copy from)::

    image,class,x,y,w,h,score
    a.jpg,car,10,20,30.5,40,0.93
    a.jpg,person,1,2,3,4,
    b.jpg,,,,,,

* The header is exactly ``image,class,x,y,w,h,score``.
* ``x, y`` are the top-left corner and ``w, h`` the size of the box, in **pixels**
  (origin top-left) - the canonical ``[x, y, w, h]`` convention, so nothing is converted.
* ``score`` may be empty: the model gave none (canonical ``score: null``).
* A row whose ``class`` and numbers are empty is an image without predictions.
* The rows of one image are consecutive; one image is one canonical frame.

This module is imported by ``predport formats`` and ``predport detect``: it must stay
cheap. It declares the format and its options and hands each hook to the module that
does the work (``detect.py``, ``read.py``, ``write.py``), imported inside the hook.
"""
from __future__ import annotations

from typing import Any, Iterable, Iterator

import predport

FORMAT = "csvboxes"
HEADER = ("image", "class", "x", "y", "w", "h", "score")
ROW_SCHEMA = "urn:predport:schema:csvboxes:row:1"


@predport.hookimpl
def formats() -> list[predport.FormatInfo]:
    return [
        predport.FormatInfo(
            id=FORMAT,
            title="CSV boxes (image,class,x,y,w,h,score)",
            can_read=True,
            can_write=True,
            target="file",
            # Be honest: a row holds a box and a score, nothing else. Everything else in the
            # data (polygons, masks, attributes, frame indices, image sizes) is reported as loss.
            holds=frozenset({"box", "score", "category_names", "empty_frames"}),
            patterns=("*.csv",),
            tasks=("detection",),
            # Every option, declared once: the hub parses -o/-w text and API values against
            # these (types, unknown keys, "did you mean"), fills in the defaults, and
            # `predport formats csvboxes` prints them. `()` would say "takes none".
            read_options=(
                predport.Option("empty_frames", "bool", True,
                                "images without predictions become frames (false: left out)"),
            ),
            write_options=(
                predport.Option("decimals", "int", None,
                                "fixed decimals for numbers (default: the shortest exact text)", minimum=0),
            ),
        )
    ]


@predport.hookimpl
def schemas() -> list[dict[str, Any]]:
    return predport.package_schemas("predport_csvboxes")


@predport.hookimpl
def detect_format(source: predport.Source) -> predport.FormatMatch | None:
    from .detect import detect

    return detect(source)


@predport.hookimpl
def parse(source: predport.Source, context: predport.Context) -> Iterator[Any]:
    from .read import rows

    return rows(source.path, context)  # a generator: nothing is read until the hub iterates


@predport.hookimpl
def to_canonical(records: Iterable[Any], context: predport.Context) -> Iterator[predport.Frame]:
    from .read import frames

    return frames(records, context)


@predport.hookimpl
def from_canonical(stream: predport.PredictionStream, target: predport.OutputTarget,
                   context: predport.Context) -> dict[str, int]:
    from .write import write

    return write(stream, target, context)
