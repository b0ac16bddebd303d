"""The command line: exit codes, errors without tracebacks, machine-readable output."""
from __future__ import annotations

import json
import subprocess
import sys

import orjson
import pytest

import predport
from predport.cli import main


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "predport", *args], capture_output=True, text=True)


@pytest.fixture
def canonical_file(tmp_path, hub, small_set):
    p = tmp_path / "in.json"
    predport.save(small_set, p)
    return p


def test_cli__help_and_version():
    r = run("--help")
    assert r.returncode == 0 and "convert" in r.stdout and "Exit codes" in r.stdout
    r = run("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"predport {predport.__version__}"


def test_cli__no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "usage" in capsys.readouterr().out


def test_cli__convert_prints_summary_and_json(tmp_path, canonical_file, capsys):
    out = tmp_path / "o.jsonl"
    assert main(["convert", str(canonical_file), str(out)]) == 0
    text = capsys.readouterr().out
    assert "read    2 frames, 3 predictions" in text and "[canonical-jsonl]" in text
    out2 = tmp_path / "o2.json"
    assert main(["convert", str(canonical_file), str(out2), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["frames"] == 2 and summary["predictions"] == 3 and summary["format"] == "canonical"


def test_cli__malformed_input_names_place_exits_1_and_writes_nothing(tmp_path, canonical_file):
    doc = orjson.loads(canonical_file.read_bytes())
    doc["frames"][0]["predictions"][0]["box"] = [1, 2, 3]
    bad = tmp_path / "bad.json"
    bad.write_bytes(orjson.dumps(doc))
    out = tmp_path / "out.json"
    r = run("convert", str(bad), str(out))
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    assert str(bad) in r.stderr and "$.frames[0].predictions[0].box" in r.stderr
    assert not out.exists()


def test_cli__truncated_json_is_a_clear_error(tmp_path, canonical_file):
    bad = tmp_path / "cut.json"
    bad.write_bytes(canonical_file.read_bytes()[:100])
    r = run("convert", str(bad), str(tmp_path / "o.json"), "--from", "canonical")
    assert r.returncode == 1 and "invalid JSON" in r.stderr and "Traceback" not in r.stderr


def test_cli__unknown_format_suggests(tmp_path, canonical_file):
    r = run("convert", str(canonical_file), str(tmp_path / "o"), "--to", "canonicl")
    assert r.returncode == 1 and "did you mean canonical" in r.stderr


def test_cli__detect_explain_and_json(canonical_file):
    r = run("detect", str(canonical_file), "--explain")
    assert r.returncode == 0 and r.stdout.startswith("canonical")
    assert "confidence" in r.stdout
    r = run("detect", str(canonical_file), "--json")
    data = json.loads(r.stdout)
    assert data["format"] == "canonical" and data["votes"][0]["confidence"] == 100


def test_cli__detect_unknown_exits_1(tmp_path):
    f = tmp_path / "x.bin"
    f.write_bytes(b"\x00\x01")
    r = run("detect", str(f))
    assert r.returncode == 1 and "no format recognised" in r.stderr


def test_cli__validate_good_and_bad(tmp_path, canonical_file):
    r = run("validate", str(canonical_file))
    assert r.returncode == 0 and "valid against urn:predport:schema:prediction-set:1" in r.stdout
    doc = orjson.loads(canonical_file.read_bytes())
    doc["frames"][1]["frame_index"] = -1
    bad = tmp_path / "bad.json"
    bad.write_bytes(orjson.dumps(doc))
    r = run("validate", str(bad))
    assert r.returncode == 1 and "$.frames[1].frame_index" in r.stderr


def test_cli__validate_jsonl_names_the_line(tmp_path, hub, small_set):
    p = tmp_path / "x.jsonl"
    predport.save(small_set, p, "canonical-jsonl")
    lines = p.read_bytes().splitlines()
    frame = orjson.loads(lines[2])
    frame["width"] = 0
    lines[2] = orjson.dumps(frame)
    p.write_bytes(b"\n".join(lines) + b"\n")
    r = run("validate", str(p))
    assert r.returncode == 1 and f"{p}:3" in r.stderr and "width" in r.stderr


def test_cli__existing_output_is_kept_without_overwrite(tmp_path, canonical_file):
    out = tmp_path / "o.json"
    out.write_text("precious")
    r = run("convert", str(canonical_file), str(out))
    assert r.returncode == 1 and "--overwrite" in r.stderr
    assert out.read_text() == "precious"
    assert run("convert", str(canonical_file), str(out), "--overwrite").returncode == 0
    assert orjson.loads(out.read_bytes())["schema"] == "predport/prediction-set/1"


def test_cli__formats_plugins_schema_json():
    fm = json.loads(run("formats", "--json").stdout)
    assert {"canonical", "canonical-jsonl"} <= {f["id"] for f in fm}
    pl = json.loads(run("plugins", "--json").stdout)
    assert any(p["name"] == "canonical" and p["status"] == "ok" for p in pl)
    sc = json.loads(run("schema").stdout)
    assert sc["$id"] == predport.PREDICTION_SET_ID
    assert predport.PREDICTION_SET_ID in run("schema", "--list").stdout


def test_cli__missing_input_is_an_error_not_a_traceback(tmp_path):
    r = run("convert", str(tmp_path / "nope.json"), str(tmp_path / "o.json"))
    assert r.returncode == 1 and "no such file" in r.stderr and "Traceback" not in r.stderr


def test_cli__json_flag_makes_errors_machine_readable(tmp_path, capsys):
    assert main(["convert", str(tmp_path / "nope.json"), str(tmp_path / "o.json"), "--json"]) == 1
    err = json.loads(capsys.readouterr().out)["error"]
    assert err["error"] == "UnknownFormatError" and err["file"].endswith("nope.json")


def test_cli__validate_jsonl_bad_json_names_its_line_and_empty_file_is_an_error(tmp_path, hub, small_set):
    p = tmp_path / "x.jsonl"
    predport.save(small_set, p, "canonical-jsonl")
    lines = p.read_bytes().splitlines()
    lines[2] = lines[2][:20]
    p.write_bytes(b"\n".join(lines) + b"\n")
    r = run("validate", str(p))
    assert r.returncode == 1 and f"{p}:3" in r.stderr and "invalid JSON" in r.stderr
    empty = tmp_path / "e.jsonl"
    empty.write_text("")
    r = run("validate", str(empty), "--schema", "prediction-set")
    assert r.returncode == 1 and "empty file" in r.stderr and "Traceback" not in r.stderr


def test_cli__validate_rejects_predictions_of_undeclared_categories(tmp_path, canonical_file):
    doc = orjson.loads(canonical_file.read_bytes())
    doc["frames"][0]["predictions"][1]["category_id"] = 42
    bad = tmp_path / "bad.json"
    bad.write_bytes(orjson.dumps(doc))
    r = run("validate", str(bad))
    assert r.returncode == 1 and "$.frames[0].predictions[1].category_id" in r.stderr and "42" in r.stderr


def test_cli__overwrite_into_a_folder_warns_about_files_left_from_before(tmp_path, hub, small_set, capsys):
    import types

    mod = types.ModuleType("per_frame")

    @predport.hookimpl
    def formats():
        from predport.format_detection import HOLDABLE

        return [predport.FormatInfo(id="per-frame", title="x", can_read=False, can_write=True, target="folder",
                                    holds=frozenset(HOLDABLE))]

    @predport.hookimpl
    def from_canonical(stream, format, target):
        if format != "per-frame":
            return None
        for f in stream.frames:
            target.write_bytes(f"{f.data_id}.txt", b"x")
        return True

    mod.formats, mod.from_canonical = formats, from_canonical
    hub.register(mod, name="per-frame")
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("from before")
    src = tmp_path / "in.json"
    predport.save(small_set, src)
    assert main(["convert", str(src), str(out), "--to", "per-frame", "--overwrite"]) == 0
    text = capsys.readouterr().out
    assert "1 file(s) from before are still in" in text and "old.txt" in text
    assert (out / "old.txt").read_text() == "from before"


def test_cli__options_the_format_does_not_declare_are_refused(tmp_path, canonical_file, capsys):
    # The canonical formats declare no options: a typo is a usage error, not a silent no-op
    # (plugins without declarations still get the "was not used" warning: tests/test_options.py).
    assert main(["convert", str(canonical_file), str(tmp_path / "o.json"), "-o", "gtt=x.json"]) == 2
    assert "field 'gtt': unknown read option: format 'canonical' takes no read options" in capsys.readouterr().err
    assert main(["convert", str(canonical_file), str(tmp_path / "o.json"), "-w", "bogus=1"]) == 2
    assert "field 'bogus': unknown write option" in capsys.readouterr().err
    assert not (tmp_path / "o.json").exists()
