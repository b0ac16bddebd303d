"""The plugin uses only predport's public API."""
from __future__ import annotations

import re
from pathlib import Path

import predport
from predport_kitti import hooks

SRC = Path(hooks.__file__).parent


def test_public_api_only__no_private_core_module_is_imported() -> None:
    imports = re.compile(r"^\s*(?:from\s+(predport[\w.]*)\s+import\s+([\w, ]+)|import\s+(predport[\w.]*))", re.M)
    for path in SRC.rglob("*.py"):
        for m in imports.finditer(path.read_text(encoding="utf-8")):
            module = m.group(1) or m.group(3)
            assert module == "predport", f"{path.name} imports {module}"
            for name in (m.group(2) or "").split(","):
                if name.strip():
                    assert name.strip() in predport.__all__, f"{path.name} imports predport.{name.strip()}"
        for attr in re.findall(r"\bpredport\.(\w+)", path.read_text(encoding="utf-8")):
            assert attr in predport.__all__, f"{path.name} uses predport.{attr}"
