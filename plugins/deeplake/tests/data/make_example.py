"""Rebuild ``coco-example/``: the bundled COCO example (examples/coco) written as a Deep Lake dataset
(its one RLE mask in a BinaryMask column).

Used by the conversion matrix as the Deep Lake input (``tests/matrix_cases.py``) and by the
plugin's tests; ``test_example__the_committed_dataset_is_what_predport_writes`` checks it.

    python plugins/deeplake/tests/data/make_example.py
"""
from __future__ import annotations

import shutil
from pathlib import Path

import predport

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[3]


def build(dest: Path) -> dict:
    return predport.convert(ROOT / "examples" / "coco" / "results.json", dest, to="deeplake",
                            # Sizes from the GT, frames named by image id (as COCO results name them).
                            image_sizes=str(ROOT / "examples" / "coco" / "gt.json"),
                            write_options={"message": "predport example: examples/coco"},
                            allow_loss=True)  # COCO results hold no category attributes


if __name__ == "__main__":
    out = HERE / "coco-example"
    shutil.rmtree(out, ignore_errors=True)
    print(build(out))
