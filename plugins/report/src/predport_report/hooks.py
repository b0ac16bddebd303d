"""predport-report's hooks: the ``draw`` and ``report`` commands. Cheap to import."""
from __future__ import annotations

from typing import Any

import predport


@predport.hookimpl
def register_commands(commands: Any) -> None:
    from .commands import register

    register(commands)

