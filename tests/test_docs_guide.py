"""Every python snippet of docs/guide.md runs as written (issue #13, deliverable 9).

The snippets are run in order in one namespace, in a folder laid out with the paths they
name, filled from the bundled examples (and the shared corpus's file where the guide's
numbers come from it); what they print or write is checked against the guide's comments.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

import predport
from predport.testing import corpus_dir

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "guide.md"
EX = ROOT / "examples"


def _snippets() -> list[tuple[int, str]]:
    text = GUIDE.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start()) + 2, m.group(1)) for m in re.finditer(r"```python\n(.*?)```", text, flags=re.S)]


def _sandbox(tmp_path: Path) -> Path | None:
    """The files the snippets name. ``detections/results.json``: the guide quotes the numbers of
    cocoapi's fake segmentation results (99 frames, 734 predictions, 75 categories)."""
    fake = corpus_dir("coco", "cocoapi", "instances_val2014_fakesegm100_results.json")
    (tmp_path / "detections").mkdir()
    if fake is not None:
        shutil.copy(fake, tmp_path / "detections" / "results.json")
    else:
        shutil.copy(EX / "coco" / "results.json", tmp_path / "detections" / "results.json")
    shutil.copytree(EX / "lightly", tmp_path / "datasource")
    shutil.copytree(EX / "kitti", tmp_path / "kitti")
    shutil.copy(EX / "coco" / "results.json", tmp_path / "results.json")
    shutil.copy(EX / "coco" / "gt.json", tmp_path / "gt.json")
    return fake


def test_docs_guide__there_are_snippets_to_run() -> None:
    assert len(_snippets()) >= 6


def test_docs_guide__every_python_snippet_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    # What the "write from your own code" snippet iterates: a detector's outputs per image.
    namespace: dict = {"model_outputs": [
        ("a.jpg", [((10.0, 20.0, 50.0, 80.0), 0.9, "car"), ((1.0, 2.0, 3.0, 4.0), 0.4, "person")]),
        ("b.jpg", []),
    ]}
    folders: dict[str, Path] = {}
    fake = None
    for i, (line, code) in enumerate(_snippets()):
        # A fresh folder per snippet (two snippets write preds.json); one namespace for all.
        here = tmp_path / f"snippet{i}"
        here.mkdir()
        fake = _sandbox(here)
        monkeypatch.chdir(here)
        try:
            exec(compile(code, f"{GUIDE}:{line}", "exec"), namespace)
        except Exception as err:  # the snippet's line in the message, for the reader of the failure
            raise AssertionError(f"docs/guide.md snippet at line {line} failed: {type(err).__name__}: {err}") from err
        for key in ("predport.load(", "open_stream(", "predport.convert(", "predport.Writer("):
            if key in code:
                folders.setdefault(key, here)
    assert set(folders) == {"predport.load(", "open_stream(", "predport.convert(", "predport.Writer("}
    printed = capsys.readouterr().out
    summary = namespace["preds"].summary()
    assert str(summary) in printed
    if fake is not None:  # the numbers the guide's comment quotes
        assert (summary["frames"], summary["predictions"], summary["categories"]) == (99, 734, 75)
    assert namespace["first"].data_id  # open_stream gave a frame of the Lightly folder
    converted = folders["predport.convert("]
    assert (converted / "preds.json").is_file() and (converted / "out" / "tasks.json").is_file()
    written = predport.load(folders["predport.Writer("] / "preds.json")  # the Writer snippet's output
    assert [f.data_id for f in written.frames] == ["a.jpg", "b.jpg"]
    assert [len(f.predictions) for f in written.frames] == [2, 0]
    assert written.frames[0].predictions.to_records()[0]["box"] == [10.0, 20.0, 40.0, 60.0]  # xyxy -> xywh
