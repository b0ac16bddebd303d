"""YAML through the shared limits (issue 12): depth, aliases, safe loading only.

Before: a YOLO ``data.yaml`` nested a few thousand levels deep made ``yaml.safe_load``
raise ``RecursionError`` (the CLI said "parse raised RecursionError ... a bug in the
plugin", exit 70). Every YAML predport reads (a YOLO data.yaml, a class map, a sizes
file, an ontology, any option naming a mapping file) goes through
``predport.load_mapping_file`` -> ``predport.load_yaml``; a test below keeps it that way.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import predport
from predport import ConfigError, ParseError

ROOT = Path(__file__).resolve().parents[1]


def _nested_flow(depth: int) -> str:
    return "names: " + "[" * depth + "x" + "]" * depth + "\n"


def _nested_block(depth: int) -> str:
    return "".join("  " * i + "a:\n" for i in range(depth)) + "  " * depth + "b: 1\n"


def _depth(obj) -> int:
    depth = 0
    while isinstance(obj, (list, dict)):
        depth += 1
        if not obj:
            break
        obj = obj[0] if isinstance(obj, list) else next(iter(obj.values()))
    return depth


def test_load_yaml__flow_nesting_thousands_deep_is_a_located_error_not_recursion():
    with pytest.raises(ParseError, match=r"YAML nested more than 256 levels deep .*PREDPORT_MAX_JSON_DEPTH") as info:
        predport.load_yaml(_nested_flow(5000), file="data.yaml")
    assert info.value.file == "data.yaml" and info.value.line == 1


def test_load_yaml__block_nesting_names_the_line_where_the_limit_is_crossed():
    with pytest.raises(ParseError, match="nested more than 256") as info:
        predport.load_yaml(_nested_block(3000), file="deep.yaml")
    # line k holds the k-th mapping's key; the value of line 256's key is mapping 257
    assert info.value.line == 257


def test_load_yaml__the_limit_itself_passes_and_one_more_level_does_not():
    doc = predport.load_yaml("[" * 256 + "]" * 256)
    assert _depth(doc) == 256
    assert _depth(predport.load_yaml(_nested_block(5), limit=7)) == 6
    with pytest.raises(ParseError, match="more than 6 levels"):
        predport.load_yaml(_nested_block(6), limit=6)


def test_load_yaml__the_environment_raises_the_depth_limit(monkeypatch):
    monkeypatch.setenv("PREDPORT_MAX_JSON_DEPTH", "300")
    assert _depth(predport.load_yaml("[" * 280 + "]" * 280)) == 280
    monkeypatch.setenv("PREDPORT_MAX_JSON_DEPTH", "20")
    with pytest.raises(ParseError, match="more than 20 levels"):
        predport.load_yaml("[" * 21 + "]" * 21)


def test_load_yaml__a_limit_beyond_the_python_stack_is_still_a_located_error(monkeypatch):
    monkeypatch.setenv("PREDPORT_MAX_JSON_DEPTH", "1000000")
    with pytest.raises(ParseError, match="too deeply for the parser") as info:
        predport.load_yaml(_nested_flow(20000), file="x.yaml")
    assert info.value.file == "x.yaml"


def test_load_yaml__billion_laughs_is_refused_and_ordinary_anchors_are_not():
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 10):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 9)}]")
    with pytest.raises(ParseError, match="billion laughs") as info:
        predport.load_yaml("\n".join(lines) + "\n", file="bomb.yaml")
    assert info.value.line is not None and 3 <= info.value.line <= 10
    doc = predport.load_yaml("base: &b {names: [car, bus], nc: 2}\ntrain:\n  <<: *b\n  path: x\nval: *b\n")
    assert doc["train"] == {"names": ["car", "bus"], "nc": 2, "path": "x"}
    assert doc["val"] == {"names": ["car", "bus"], "nc": 2}


def test_load_yaml__an_alias_inside_its_own_anchor_is_refused():
    with pytest.raises(ParseError, match="refers to a node that contains it") as info:
        predport.load_yaml("names: &n [car, *n]\n", file="r.yaml")
    assert info.value.line == 1


def test_load_yaml__an_alias_cannot_carry_nesting_past_the_limit():
    doc = "deep: &d " + "[" * 150 + "]" * 150 + "\nmore: " + "[" * 150 + "*d" + "]" * 150 + "\n"
    with pytest.raises(ParseError, match="through an alias"):
        predport.load_yaml(doc)


def test_load_yaml__safe_loader_only_python_tags_are_refused(tmp_path):
    marker = tmp_path / "ran"
    doc = f"names: !!python/object/apply:os.system ['touch {marker}']\n"
    with pytest.raises(ParseError, match="invalid YAML") as info:
        predport.load_yaml(doc, file="evil.yaml")
    assert info.value.line == 1 and not marker.exists()


def test_load_yaml__bad_yaml_names_its_line():
    with pytest.raises(ParseError, match="invalid YAML") as info:
        predport.load_yaml("names:\n  - car\n  bus: [\n", file="b.yaml")
    assert info.value.line is not None and info.value.line >= 3


def test_load_mapping_file__deep_yaml_and_deep_json_are_config_errors_naming_the_file(tmp_path):
    deep_yaml = tmp_path / "map.yaml"
    deep_yaml.write_text(_nested_flow(4000))
    with pytest.raises(ConfigError, match="nested more than 256") as info:
        predport.load_mapping_file(deep_yaml)
    assert info.value.file == str(deep_yaml) and info.value.line == 1
    deep_json = tmp_path / "map.json"
    deep_json.write_text("[" * 300 + "]" * 300)
    with pytest.raises(ConfigError, match="JSON nested more than 256") as info:
        predport.load_mapping_file(deep_json)
    assert info.value.file == str(deep_json)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_load_mapping_file__a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "data.yaml"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="not a regular file"):
        predport.load_mapping_file(fifo)


def _yolo(tmp_path: Path, yaml_text: str) -> Path:
    root = tmp_path / "ds"
    (root / "labels").mkdir(parents=True)
    (root / "labels" / "a.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    (root / "data.yaml").write_text(yaml_text)
    return root


def test_yolo__a_deep_data_yaml_is_refused_with_its_place_through_the_api(tmp_path):
    root = _yolo(tmp_path, _nested_flow(3000))
    with pytest.raises(predport.PredportError, match="nested more than 256") as info:
        predport.load(root, format="yolo")
    assert info.value.file and info.value.file.endswith("data.yaml") and info.value.line == 1


def test_yolo__a_deep_data_yaml_exits_1_on_one_line_without_traceback(tmp_path):
    root = _yolo(tmp_path, "names:\n" + "".join("  " * (i + 1) + "a:\n" for i in range(2000)) + "   b\n")
    out = tmp_path / "out.json"
    proc = subprocess.run([sys.executable, "-m", "predport", "convert", str(root), str(out), "--to", "coco"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "RecursionError" not in proc.stderr
    assert re.search(r"data\.yaml:257: YAML nested more than 256 levels deep", proc.stderr), proc.stderr
    assert not out.exists()


def test_class_map__a_deep_yaml_class_map_is_refused_on_the_command_line(tmp_path):
    root = _yolo(tmp_path, "names: [car]\n")
    cmap = tmp_path / "map.yaml"
    cmap.write_text("car: " + "{a: " * 1000 + "1" + "}" * 1000 + "\n")
    proc = subprocess.run([sys.executable, "-m", "predport", "convert", str(root), str(tmp_path / "o.json"),
                           "--to", "coco", "--class-map", str(cmap)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "map.yaml:1: YAML nested more than 256" in proc.stderr and "Traceback" not in proc.stderr


_YAML_LOAD = re.compile(r"\byaml\.(safe_load|load|full_load|unsafe_load|load_all|safe_load_all|compose|"
                        r"compose_all|parse)\s*\(|\byaml\.\w*Loader\b|from yaml import|Loader\s*=")


def test_every_yaml_load_in_core_and_plugins_goes_through_load_yaml():
    """No reader loads YAML on its own: the depth and alias limits hold for all of them."""
    offenders = []
    sources = [ROOT / "core" / "predport", *sorted((ROOT / "plugins").glob("*/src"))]
    for base in sources:
        for path in base.rglob("*.py"):
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if _YAML_LOAD.search(line) and path.name != "limits.py":
                    offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not offenders, "load YAML with predport.load_yaml / load_mapping_file:\n" + "\n".join(offenders)
    limits = (ROOT / "core" / "predport" / "limits.py").read_text(encoding="utf-8")
    assert "yaml.SafeLoader" in limits and not re.search(r"yaml\.(Loader|FullLoader|UnsafeLoader|load)\b", limits)
