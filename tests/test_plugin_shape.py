"""One plugin shape: every first-party format plugin, and the template, have the same modules.

``hooks.py`` declares the formats and options and holds the hook implementations, each a
thin call into ``detect.py`` (detection), ``read.py`` (parse and to_canonical) or ``write.py``
(from_canonical); an optional ``fast.py`` holds a fast path whose equivalence to the general
path the conformance kit checks. Other modules hold the format's own helpers and are named
for what they hold (no leading underscore, none of the names the layouts used before).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "docs" / "template" / "src" / "predport_csvboxes"
#: A format plugin is a package whose hooks module declares formats.
FORMAT_PACKAGES = sorted(p.parent for p in REPO.glob("plugins/*/src/predport_*/hooks.py")
                         if "def formats(" in p.read_text(encoding="utf-8"))
#: Names the four layouts used before the one shape: each now has one name above.
OLD_NAMES = {"reader", "writer", "sniff", "fastrows", "parse", "common"}
#: Which module each read or write hook calls into.
HOOK_MODULE = {"detect_format": "detect", "parse": "read", "to_canonical": "read", "from_canonical": "write"}


def _hooks(package: Path) -> dict[str, ast.FunctionDef]:
    tree = ast.parse((package / "hooks.py").read_text(encoding="utf-8"))
    return {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)
            and any(ast.unparse(d).endswith("hookimpl") for d in n.decorator_list)}


def _imported_modules(fn: ast.FunctionDef) -> set[str]:
    """The package modules a hook imports (``from .read import x`` or ``from . import read``)."""
    found = set()
    for node in ast.walk(fn):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found |= {node.module} if node.module else {a.name for a in node.names}
    return found


def test_shape__every_format_plugin_is_found() -> None:
    names = {p.name for p in FORMAT_PACKAGES}
    assert {"predport_coco", "predport_kitti", "predport_yolo", "predport_lightly", "predport_masks",
            "predport_aquarium", "predport_encord", "predport_deeplake"} <= names, names


@pytest.mark.parametrize("package", [*FORMAT_PACKAGES, TEMPLATE], ids=lambda p: p.name)
def test_shape__hooks_detect_read_write_modules(package: Path) -> None:
    modules = {p.stem for p in package.glob("*.py")}
    hooks = _hooks(package)
    assert {"hooks", "detect"} <= modules, f"{package}: needs hooks.py and detect.py"
    if "parse" in hooks or "to_canonical" in hooks:
        assert "read" in modules, f"{package}: a reader lives in read.py"
    if "from_canonical" in hooks:
        assert "write" in modules, f"{package}: a writer lives in write.py"
    assert not modules & OLD_NAMES, f"{package}: rename {sorted(modules & OLD_NAMES)} (one shape: see CONTRIBUTING.md)"
    private = sorted(m for m in modules if m.startswith("_") and m != "__init__")
    assert not private, f"{package}: modules are named for what they hold, without a leading underscore: {private}"


@pytest.mark.parametrize("package", [*FORMAT_PACKAGES, TEMPLATE], ids=lambda p: p.name)
def test_shape__each_hook_calls_into_its_module(package: Path) -> None:
    for hook, fn in _hooks(package).items():
        want = HOOK_MODULE.get(hook)
        if want is None:
            continue
        got = _imported_modules(fn)
        if hook == "to_canonical" and not got and "return records" in ast.unparse(fn):
            continue  # parse yields frames already (deeplake): nothing to call
        assert want in got, f"{package.name}/hooks.py: {hook} should call into {want}.py (imports {sorted(got)})"


def test_shape__the_template_is_the_shape_its_readme_lists() -> None:
    readme = (TEMPLATE.parents[1] / "README.md").read_text(encoding="utf-8")
    for module in ("hooks.py", "detect.py", "read.py", "write.py"):
        assert (TEMPLATE / module).is_file(), module
        assert f"src/predport_csvboxes/{module}" in readme, f"docs/template/README.md does not list {module}"
