"""Everyday command-line conventions: ``-`` for stdin/stdout, filters while converting, a
conversion that reads nothing, and ``detect --explain`` naming every installed plugin."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

import predport
from predport.cli import main

ROOT = Path(__file__).resolve().parents[1]
COCO = ROOT / "examples" / "coco" / "results.json"


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "predport", *args], input=stdin, capture_output=True,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})


@pytest.fixture
def canonical_file(tmp_path, hub, small_set):
    p = tmp_path / "in.json"
    predport.save(small_set, p)
    return p


# -- "-": stdin and stdout -------------------------------------------------------------------------
def test_stdin_to_stdout_is_the_same_conversion_as_files(tmp_path):
    expected = tmp_path / "expected.json"
    assert run("convert", str(COCO), str(expected)).returncode == 0
    r = run("convert", "-", "-", stdin=COCO.read_bytes())
    assert r.returncode == 0, r.stderr
    got, want = orjson.loads(r.stdout), orjson.loads(expected.read_bytes())
    assert got["frames"] == want["frames"] and got["categories"] == want["categories"]
    assert got["source"]["uri"] == "-" and got["source"]["format"] == "coco"
    # stdout holds the data only: the summary went to stderr
    assert b"read    3 frames, 5 predictions from - [coco]" in r.stderr


def test_stdin_with_from_and_stdout_in_a_file_format(tmp_path):
    r = run("convert", "-", "-", "--from", "coco", "--to", "coco", stdin=COCO.read_bytes())
    assert r.returncode == 0, r.stderr
    rows = orjson.loads(r.stdout)
    original = orjson.loads(COCO.read_bytes())
    assert [(x["image_id"], x["category_id"], x["bbox"], x["score"]) for x in rows] == \
        [(x["image_id"], x["category_id"], x["bbox"], x["score"]) for x in original]
    r = run("convert", "-", str(tmp_path / "o.jsonl"), stdin=COCO.read_bytes())
    assert r.returncode == 0 and (tmp_path / "o.jsonl").read_bytes().count(b"\n") == 1 + 3  # head + 3 frames


def test_stdout_refuses_a_folder_format_and_a_refused_conversion_prints_nothing(canonical_file):
    r = run("convert", str(canonical_file), "-", "--to", "kitti")
    assert r.returncode == 1 and r.stdout == b""
    assert b"<stdout>: format 'kitti' writes a folder" in r.stderr
    r = run("convert", str(canonical_file), "-", "--to", "coco")  # masks, keypoints...: would lose data
    assert r.returncode == 3 and r.stdout == b""


def test_stdin_errors_name_stdin():
    r = run("convert", "-", "-", "--from", "coco", stdin=b'[{"image_id": 1, "category_id": 1, "bbox": [0, 0, -1, 2]}]')
    assert r.returncode == 1 and r.stdout == b""
    assert b"<stdin>" in r.stderr and b"predport-stdio-" not in r.stderr


# -- --min-score and --classes -----------------------------------------------------------------------
def test_min_score_keeps_scores_at_least_the_threshold_and_counts_the_rest(tmp_path, canonical_file, capsys):
    out = tmp_path / "o.json"
    assert main(["convert", str(canonical_file), str(out), "--min-score", "1.0", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    ps = predport.load(out)
    # small_set scores: 0.9, none, 97.85 -> only 97.85 stays; the empty frame stays empty
    assert [p.score for p in ps.frames[0].predictions] == [97.85] and len(ps.frames) == 2
    assert summary["report"]["counts"] == {"filter.below_min_score": 1, "filter.no_score": 1}
    assert summary["predictions"] == 1
    summary = predport.convert(canonical_file, tmp_path / "o2.json", min_score=0.9)  # inclusive
    assert summary["predictions"] == 2


def test_classes_match_names_in_any_case_and_ids(tmp_path, canonical_file, capsys):
    for spec, kept in (("CAR", [1, 1]), ("2", [2]), ("person,1", [1, 2, 1])):
        out = tmp_path / f"{spec}.json"
        assert main(["convert", str(canonical_file), str(out), "--classes", spec, "-q"]) == 0
        assert predport.load(out).frames[0].predictions.category_id.tolist() == kept, spec
    summary = predport.convert(canonical_file, tmp_path / "b.json", classes=["car", "bus"])
    assert summary["report"]["counts"] == {"filter.other_classes": 1}
    assert any("'bus' was read" in w for w in summary["report"]["warnings"])


def test_filters_apply_the_same_to_every_reader(tmp_path, hub):
    # The filters run on canonical columns: a COCO file and its canonical copy give the same result.
    canon = tmp_path / "c.json"
    predport.convert(COCO, canon)
    a = predport.convert(COCO, tmp_path / "a.json", min_score=0.7, classes="3")
    b = predport.convert(canon, tmp_path / "b.json", min_score=0.7, classes="3")
    assert a["predictions"] == b["predictions"] == sum(
        1 for r in orjson.loads(COCO.read_bytes()) if r["category_id"] == 3 and r["score"] >= 0.7)
    assert a["report"]["counts"] == b["report"]["counts"]


# -- a conversion that reads nothing --------------------------------------------------------------------
def test_empty_folder_exits_1_and_writes_nothing_unless_allowed(tmp_path, capsys):
    empty = tmp_path / "labels"
    empty.mkdir()
    out = tmp_path / "o.json"
    assert main(["convert", str(empty), str(out), "--from", "kitti"]) == 1
    err = capsys.readouterr().err
    assert "nothing was read: the source holds no frame; nothing was written" in err and "--allow-empty" in err
    assert not out.exists()
    assert main(["convert", str(empty), str(out), "--from", "kitti", "--allow-empty", "-q"]) == 0
    assert predport.load(out).frames == []


def test_every_file_skipped_exits_1(tmp_path, capsys):
    folder = tmp_path / "labels"
    folder.mkdir()
    (folder / "a.txt").write_text("Car 0 0 0 10 10 5 5 1 1 1 1 1 1 1 0.9\n")  # right < left
    out = tmp_path / "o.json"
    assert main(["convert", str(folder), str(out), "--from", "kitti", "--policy", "skip"]) == 1
    assert "every record was skipped as bad (1)" in capsys.readouterr().err
    assert not out.exists()


def test_an_empty_results_list_is_a_conversion_that_read_nothing(tmp_path, capsys):
    src = tmp_path / "results.json"
    src.write_text("[]")
    assert main(["convert", str(src), str(tmp_path / "o.json"), "--from", "coco"]) == 1
    assert main(["convert", str(src), str(tmp_path / "o.json"), "--from", "coco", "--allow-empty", "-q"]) == 0
    # the library keeps reading an empty source as an empty set
    assert predport.convert(src, tmp_path / "p.json", format="coco")["frames"] == 0


# -- detect --explain ----------------------------------------------------------------------------------
def test_detect_explain_lists_every_installed_plugin(hub, capsys):
    assert main(["detect", str(COCO), "--explain"]) == 0
    out = capsys.readouterr().out
    labels = {rec.label for rec in hub.plugins()}
    listed = {label for label in labels if label in out}
    assert listed == labels
    assert "predport-coco" in out.splitlines()[2]  # the winner's vote first
    assert "no vote: declares no format (adds commands only)" in out  # predport-eval, predport-report
    assert main(["detect", str(COCO), "--explain", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {v["plugin"] for v in doc["votes"]} | {p["name"] for p in doc["silent"]} == set(hub.records)


def test_detect_explain_names_a_failed_plugin(hub, capsys):
    class Broken:
        @predport.hookimpl
        def formats(self):
            raise RuntimeError("boom")

    hub.register(Broken(), name="brokenplugin")
    assert main(["detect", str(COCO), "--explain"]) == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if "brokenplugin" in line)
    assert "not loaded (failed): formats() raised RuntimeError: boom" in line
