"""Test helpers for predport plugins (opt-in: nothing here is registered with pytest).

``corpus_dir()`` finds the shared corpus of real third-party files
(``../shared/corpus`` beside the repository, or ``$PREDPORT_CORPUS``);
``require_corpus()`` skips the calling test when it is absent.
"""
from __future__ import annotations

import os
from pathlib import Path

__all__ = ["corpus_dir", "require_corpus"]


def corpus_dir(*parts: str) -> Path | None:
    """The shared corpus folder (or a path inside it), or ``None`` when it is not there."""
    env = os.environ.get("PREDPORT_CORPUS")
    roots: list[Path] = []
    if env:
        roots.append(Path(env))
    else:
        here = Path(__file__).resolve()
        for start in (Path.cwd().resolve(), here):
            for anc in [start, *start.parents]:
                roots.append(anc / "shared" / "corpus")
    for root in roots:
        if root.is_dir():
            p = root.joinpath(*parts)
            return p if p.exists() else None
    return None


def require_corpus(*parts: str) -> Path:
    """:func:`corpus_dir`, or skip the test (pytest) when the corpus is absent."""
    p = corpus_dir(*parts)
    if p is None:
        import pytest

        pytest.skip("../shared/corpus is not present (a fresh clone has none)")
    return p
