"""predport-eval: evaluate predictions against ground truth, from any format against any format.

``import predport_eval`` is cheap (the hooks module is imported by ``predport --help``);
numpy and the engines load on first use of :func:`evaluate`.

    >>> import predport_eval
    >>> result = predport_eval.evaluate("results.json", "instances_val2017.json")
    >>> result.metrics["AP"], result.per_frame[0].data_id      # worst frame first
"""
from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "evaluate": "api",
    "attach": "api",
    "EvaluationResult": "result",
    "FrameResult": "result",
    "SemanticFrameResult": "result",
    "ConfusionMatrix": "result",
    "FRAME_ATTRIBUTES": "result",
}

__all__ = ["__version__", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'predport_eval' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"predport_eval.{module}"), name)
    globals()[name] = value
    return value
