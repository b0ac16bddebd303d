"""The public facade is typed (mypy itself runs in .ci/run, on the core and every plugin)."""
from __future__ import annotations

import typing
from collections.abc import Iterator

import predport
from predport import api, hub, model, stream


def _hints(fn: object) -> dict[str, object]:
    names = {"PredictionSet": model.PredictionSet, "Frame": model.Frame, "PredictionStream": stream.PredictionStream,
             "FormatMatch": predport.FormatMatch}
    return typing.get_type_hints(fn, localns=names)


def test_types__facade_returns_are_typed():
    assert _hints(api.load)["return"] is model.PredictionSet
    assert _hints(api.open_stream)["return"] is stream.PredictionStream
    frames = _hints(api.iter_frames)["return"]
    assert typing.get_origin(frames) is Iterator and typing.get_args(frames) == (model.Frame,)
    assert _hints(api.convert)["return"] == dict[str, typing.Any]
    assert _hints(api.detect)["return"] == list[predport.FormatMatch]
    assert _hints(hub.Hub.read)["return"] is stream.PredictionStream
    # Every parameter of the facade has an annotation (none is left implicit).
    for fn in (api.load, api.open_stream, api.iter_frames, api.convert, api.save, api.detect, hub.Hub.read):
        params = [p for p in fn.__code__.co_varnames[:fn.__code__.co_argcount + fn.__code__.co_kwonlyargcount]
                  if p != "self"]
        assert set(params) <= set(_hints(fn)), (fn.__name__, set(params) - set(_hints(fn)))


def test_types__package_ships_py_typed():
    from pathlib import Path

    assert (Path(predport.__file__).parent / "py.typed").is_file()
