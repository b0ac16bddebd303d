"""Reading predictions and ground truth for drawing, and pairing their frames."""
from __future__ import annotations

import os
from typing import Any, Iterable, Mapping

__all__ = ["ReadOptions", "open_predictions", "load_ground_truth", "GroundTruthIndex", "frame_key_names"]


class ReadOptions:
    """How to read one input: the same choices ``predport convert`` offers."""

    def __init__(
        self,
        *,
        format: str | None = None,
        options: Mapping[str, Any] | None = None,
        policy: str = "fail",
        class_map: Any = None,
        image_sizes: Any = None,
        images: str | os.PathLike[str] | None = None,
    ) -> None:
        self.format = format
        self.options = dict(options or {})
        self.policy = policy
        self.class_map = class_map
        self.image_sizes = image_sizes
        self.images = images

    def kwargs(self) -> dict[str, Any]:
        out: dict[str, Any] = {"options": self.options, "policy": self.policy}
        for key in ("class_map", "image_sizes", "images"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out


def open_predictions(path: str | os.PathLike[str], read: ReadOptions) -> Any:
    """A streaming ``predport.PredictionStream`` of the predictions at ``path``."""
    import predport

    return predport.open_stream(path, read.format, **read.kwargs())


def load_ground_truth(path: str | os.PathLike[str], read: ReadOptions) -> Any:
    """The ground truth at ``path`` as a ``predport.PredictionSet`` (read with ``role="ground_truth"``)."""
    import predport

    return predport.load(path, read.format, role="ground_truth", **read.kwargs())


def frame_key_names(data_id: str) -> tuple[str, str, str]:
    """The names a frame is matched by: its data id, its file name, and its stem."""
    key = data_id.replace("\\", "/")
    name = key.rsplit("/", 1)[-1]
    return key, name, name.rsplit(".", 1)[0]


class GroundTruthIndex:
    """Ground-truth frames looked up by a prediction frame: data id, then file name, then stem.

    A name shared by several ground-truth frames never matches by that name (it is
    ambiguous); the frames no prediction frame asked for are listed by :meth:`unused`.
    """

    def __init__(self, frames: Iterable[Any]) -> None:
        self.frames = list(frames)
        self._exact: dict[tuple[str, int | None], int] = {}
        self._loose: dict[str, int | None] = {}
        for i, f in enumerate(self.frames):
            self._exact.setdefault((f.data_id.replace("\\", "/"), f.frame_index), i)
            if f.frame_index is None:
                for name in frame_key_names(f.data_id)[1:]:
                    self._loose[name] = i if name not in self._loose else None
        self.used: set[int] = set()

    def find(self, data_id: str, frame_index: int | None = None) -> Any:
        i = self._exact.get((data_id.replace("\\", "/"), frame_index))
        if i is None and frame_index is None:
            for name in frame_key_names(data_id)[1:]:
                i = self._loose.get(name)
                if i is not None:
                    break
        if i is None:
            return None
        self.used.add(i)
        return self.frames[i]

    def unused(self) -> list[Any]:
        return [f for i, f in enumerate(self.frames) if i not in self.used]
