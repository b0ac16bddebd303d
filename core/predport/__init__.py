"""predport: model predictions between formats, through one validated canonical model.

``import predport`` is cheap: numpy, pydantic and plugins load on first use.

    >>> import predport
    >>> preds = predport.load("results.json")          # format auto-detected
    >>> predport.convert("results.json", "out.json")   # to canonical JSON

Plugins mark hook implementations with ``@predport.hookimpl``.
"""
from __future__ import annotations

from typing import Any

from .errors import (
    AmbiguousFormatError,
    ConfigError,
    DetectionError,
    LossError,
    OptionError,
    OutputError,
    ParseError,
    PluginError,
    PredportError,
    SchemaValidationError,
    UnknownFormatError,
)
from .hookspecs import hookimpl, hookspec

__version__ = "0.1.0"

# Public names that live in modules importing numpy or pydantic: loaded on first access.
_LAZY = {
    "load": "api",
    "iter_frames": "api",
    "open_stream": "api",
    "detect": "api",
    "convert": "api",
    "save": "api",
    "register": "api",
    "make_context": "api",
    "evaluate": "api",
    "Commands": "commands",
    "ROLES": "format_detection",
    "Writer": "writer",
    "PredictionSet": "model",
    "Frame": "model",
    "Category": "model",
    "Prediction": "model",
    "Detections": "model",
    "RLE": "model",
    "Box3D": "model",
    "SourceInfo": "model",
    "Context": "context",
    "ClassMap": "classmaps",
    "ClassTarget": "classmaps",
    "CategoryTable": "categories",
    "ImageSizes": "sizes",
    "Report": "report",
    "load_mapping_file": "classmaps",
    "Confidence": "format_detection",
    "FormatInfo": "format_detection",
    "Option": "options",
    "OPTION_TYPES": "options",
    "FormatMatch": "format_detection",
    "Source": "format_detection",
    "OutputTarget": "output",
    "safe_relpath": "output",
    "FrameNames": "naming",
    "NAMING_OPTIONS": "naming",
    "strip_image_suffix": "naming",
    "PredictionStream": "stream",
    "Hub": "hub",
    "get_hub": "hub",
    "reset_hub": "hub",
    "read_image_size": "images",
    "iter_images": "images",
    "IMAGE_SUFFIXES": "images",
    "SchemaRegistry": "registry",
    "PREDICTION_SET_ID": "registry",
    "FRAME_REF": "registry",
    "package_schemas": "registry",
    "Limits": "limits",
    "current_limits": "limits",
    "check_pixels": "limits",
    "check_rle": "limits",
    "check_id": "limits",
    "parse_int": "limits",
    "IdIndex": "limits",
    "check_json_depth": "limits",
    "load_json": "limits",
    "load_yaml": "limits",
    "check_file_size": "limits",
    "open_regular": "limits",
    "read_bytes": "limits",
    "is_regular": "limits",
    "is_url": "limits",
    "refuse_url": "limits",
    "run_tasks": "engine",
    "ordered_map": "workers",
    "OrderedMap": "workers",
    "usable_cpus": "workers",
    "can_fork": "workers",
    "is_number": "values",
    "parse_number": "values",
    "parse_bool": "values",
    "clamp_boxes": "values",
    "columns_json": "columns",
}

__all__ = [
    "__version__",
    "hookimpl",
    "hookspec",
    "PredportError",
    "ParseError",
    "ConfigError",
    "OptionError",
    "DetectionError",
    "UnknownFormatError",
    "AmbiguousFormatError",
    "SchemaValidationError",
    "OutputError",
    "PluginError",
    "LossError",
    *sorted(_LAZY),
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'predport' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"predport.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
