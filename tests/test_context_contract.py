"""Plugins see a narrow, read-only context (issue 14, item 3).

A scan of every first-party plugin's source: no assignment to the context or to anything
reached through it (``context.x = ...``, ``ctx.categories.class_map = ...``, also through
``self.context``), no ``setattr``/``getattr`` probing of it, and no private core name
(``predport._x``, ``from predport._x import``, ``from predport.mod import _y``). Each finding
names the file and line. Then the context itself refuses assignment at run time.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

import predport

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_SOURCES = sorted(ROOT.glob("plugins/*/src/**/*.py"))
CONTEXT_NAMES = {"context", "ctx", "wctx", "rctx"}


def _context_base(node: ast.AST) -> bool:
    """Whether an expression is the context: ``context``, ``ctx``, ``self.context``, ``self.ctx``."""
    if isinstance(node, ast.Name):
        return node.id in CONTEXT_NAMES
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self":
        return node.attr in CONTEXT_NAMES
    return False


def _reaches_context(node: ast.AST) -> bool:
    """``context.a``, ``context.a.b``, ``self.ctx.a[...]``: an attribute chain rooted at the context."""
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        if isinstance(node, ast.Attribute) and _context_base(node.value):
            return True
        node = node.value
    return False


def _targets(node: ast.AST) -> list[ast.AST]:
    if isinstance(node, ast.Assign):
        out: list[ast.AST] = []
        for t in node.targets:
            out.extend(t.elts if isinstance(t, (ast.Tuple, ast.List)) else [t])
        return out
    if isinstance(node, (ast.AugAssign, ast.AnnAssign)):
        return [node.target]
    if isinstance(node, ast.Delete):
        return list(node.targets)
    return []


def violations(path: Path, text: str | None = None) -> list[str]:
    """``file:line: what`` for every write to the context and every private core name."""
    text = path.read_text(encoding="utf-8") if text is None else text
    tree = ast.parse(text, filename=str(path))
    where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    found: list[str] = []
    for node in ast.walk(tree):
        for target in _targets(node):
            if _reaches_context(target):
                found.append(f"{where}:{node.lineno}: writes to the context ({ast.unparse(target)})")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args:
            if node.func.id in ("setattr", "delattr", "getattr", "hasattr") and (
                    _context_base(node.args[0]) or _reaches_context(node.args[0])):
                found.append(f"{where}:{node.lineno}: probes the context ({ast.unparse(node)})")
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts[0] == "predport":
                if any(p.startswith("_") for p in parts[1:]) or any(a.name.startswith("_") for a in node.names):
                    found.append(f"{where}:{node.lineno}: imports a private core name (from {node.module} import "
                                 f"{', '.join(a.name for a in node.names)})")
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("predport.") and any(p.startswith("_") for p in alias.name.split(".")[1:]):
                    found.append(f"{where}:{node.lineno}: imports a private core module ({alias.name})")
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__") \
                and isinstance(node.value, ast.Name) and node.value.id == "predport":
            found.append(f"{where}:{node.lineno}: uses a private core name (predport.{node.attr})")
    return found


def test_plugin_sources_were_found():
    assert len(PLUGIN_SOURCES) > 50, PLUGIN_SOURCES


def test_no_plugin_writes_to_the_context_or_imports_a_private_core_name():
    found = [v for p in PLUGIN_SOURCES for v in violations(p)]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("snippet, what", [
    ("def f(context):\n    context.categories.class_map = 1\n", "writes to the context (context.categories.class_map)"),
    ("def f(ctx):\n    ctx.policy = 'skip'\n", "writes to the context (ctx.policy)"),
    ("def f(self):\n    self.context.report.counts['x'] += 1\n", "writes to the context"),
    ("def f(context):\n    return getattr(context.sizes, 'folder', None)\n", "probes the context"),
    ("from predport._schema_gen import x\n", "imports a private core name"),
    ("from predport.context import _TrackedOptions\n", "imports a private core name"),
    ("import predport\npredport._private()\n", "uses a private core name (predport._private)"),
])
def test_the_scan_finds_each_kind_of_violation_with_its_line(snippet, what, tmp_path):
    path = tmp_path / "plugin.py"
    found = violations(path, snippet)
    assert len(found) == 1 and what in found[0], found
    line = snippet.count("\n", 0, snippet.index(snippet.strip().splitlines()[-1])) + 1
    assert found[0].startswith(f"{path}:{line}:"), found


def test_reading_the_context_and_its_methods_is_not_a_violation(tmp_path):
    ok = ("def f(context, rows):\n"
          "    cid = context.resolve(name='car')\n"
          "    size = context.image_size('a.png')\n"
          "    context.count('kitti.dont_care', 2)\n"
          "    self_ctx = context.options.get('x')\n"
          "    local = {}\n    local['k'] = context.policy\n")
    assert violations(tmp_path / "ok.py", ok) == []


def test_the_context_refuses_assignment():
    ctx = predport.Context(policy="skip", class_map={"Car": 1})
    for name in ("policy", "class_map", "categories", "sizes", "report", "options", "format", "anything"):
        with pytest.raises(AttributeError, match="read-only"):
            setattr(ctx, name, None)
    with pytest.raises(AttributeError):
        ctx.categories.class_map = None  # type: ignore[misc]
    with pytest.raises(AttributeError):
        ctx.sizes.folder = Path(".")  # type: ignore[misc]
    assert ctx.policy == "skip" and ctx.class_map is not None


def test_context_methods_reach_the_core_objects(tmp_path):
    (tmp_path / "a.png").write_bytes(b"")
    ctx = predport.Context(class_map={"Car": {"id": 7, "name": "car"}}, image_sizes={"a.png": [640, 480]},
                           images=tmp_path)
    assert ctx.image_size("a.png") == (640, 480) and ctx.image_size("sub/a") == (640, 480)
    assert ctx.image_folder == tmp_path and ctx.has_sizes and not ctx.has_id_lookup
    assert ctx.resolve(name="CAR") == 7 and ctx.category(7).name == "car"
    assert ctx.resolve(name="Bus", rows=3) is None
    assert dict(ctx.categories.unmapped) == {"Bus": 3}
    ctx.count("kitti.dont_care", 2)
    assert ctx.report.counts["kitti.dont_care"] == 2
    assert ctx.data_id_for(Path("x.txt"), ("x", None)) == ("x", None)


def test_a_source_class_map_is_taken_only_when_the_user_gave_none():
    mine = predport.ClassMap.from_obj({"Car": 3})
    ctx = predport.Context()
    ctx.use_class_map(mine)
    assert ctx.resolve(name="car") == 3 and ctx.resolve(name="Van") is None
    with pytest.raises(predport.ConfigError, match="already"):
        predport.Context(class_map={"Car": 1}).use_class_map(mine)
    late = predport.Context()
    late.resolve(name="Van")
    with pytest.raises(predport.ConfigError, match="resolved"):
        late.use_class_map(mine)


def test_the_old_import_paths_keep_working():
    from predport.categories import CategoryTable
    from predport.classmaps import ClassMap
    from predport.context import CategoryTable as C2, ClassMap as M2, ImageSizes as S2, Report as R2
    from predport.report import Report
    from predport.sizes import ImageSizes

    assert (C2, M2, S2, R2) == (CategoryTable, ClassMap, ImageSizes, Report)
    assert predport.CategoryTable is CategoryTable and predport.Report is Report
    assert predport.ImageSizes is ImageSizes and predport.ClassMap is ClassMap
