"""Lightly's naming rules: prediction-file paths, ``file_name`` values, video frames.

Conventions (Lightly docs, "datasource predictions"):

* An image ``subdir/image_1.png`` (path relative to the datasource root) has its
  predictions in ``<task>/subdir/image_1.json``; inside, ``file_name`` is the
  image path *with* its extension. ``file_name`` is the join key.
* Frame ``k`` (0-based) of a video ``subdir/video_1.mp4`` with ``N`` frames has its
  predictions in ``<task>/subdir/video_1-<k>-mp4.json`` where ``k`` is zero-padded
  to ``len(str(N))`` digits (100 frames -> 3 digits, 99 -> 2, 1000 -> 4). Inside,
  the official script writes the virtual frame name ``subdir/video_1-<k>-mp4.png``.

No numpy here: detection imports this module.
"""
from __future__ import annotations

from typing import NamedTuple

#: Video extensions Lightly accepts (lower case, no dot). A name ``<stem>-<digits>-<ext>``
#: is a video frame only when ``<ext>`` is one of these, so an image called
#: ``photo-12-x.png`` is not mistaken for frame 12 of ``photo.x``.
VIDEO_EXTENSIONS = frozenset({"mp4", "mov", "avi", "mkv", "webm", "m4v", "mpg", "mpeg", "hevc", "wmv", "flv"})

#: Extension of the virtual frame image the official Lightly script writes in ``file_name``.
VIRTUAL_FRAME_EXT = "png"


class Identity(NamedTuple):
    """Who a prediction file is about: ``data_id`` (image or video path), 0-based ``frame_index``
    (``None`` for images), and the ``file_name`` as written when it is a virtual frame name."""

    data_id: str
    frame_index: int | None
    virtual_name: str | None


def split_ext(path: str) -> tuple[str, str]:
    """``("dir/name", "ext")`` for ``"dir/name.ext"``; the extension has no dot and may be ``""``.

    Only the last path component is considered (``"a.b/c"`` has no extension).
    """
    slash = path.rfind("/")
    dot = path.rfind(".")
    if dot <= slash + 1:  # no dot in the name, or a leading dot (".hidden")
        return path, ""
    return path[:dot], path[dot + 1 :]


def video_parts(stem: str) -> tuple[str, int, str] | None:
    """``("dir/video", frame, "mp4")`` when ``stem`` is ``dir/video-<digits>-<video ext>``, else ``None``."""
    head, sep, ext = stem.rpartition("-")
    if not sep or ext.lower() not in VIDEO_EXTENSIONS:
        return None
    name, sep, digits = head.rpartition("-")
    if not sep or not digits.isdigit() or not digits.isascii() or not name or name.endswith("/"):
        return None
    return name, int(digits), ext


def is_plain(rel_stem: str, file_name: str) -> bool:
    """The common case, decided cheaply: ``file_name`` is ``rel_stem`` plus an extension and
    names an image (no ``-`` that could make it a video frame), so it is the data id as it is."""
    n = len(rel_stem)
    return (file_name.startswith(rel_stem) and file_name[n : n + 1] == "." and "-" not in file_name
            and "/" not in file_name[n:] and "." not in file_name[n + 1 :] and "\\" not in file_name)


def identify(rel_stem: str, file_name: str) -> tuple[Identity, bool]:
    """The identity of a prediction file, and whether ``file_name`` contradicts its path.

    ``rel_stem`` is the file's path relative to its task folder without ``.json``;
    ``file_name`` is the value inside the file (trusted when the two disagree).
    """
    if is_plain(rel_stem, file_name):
        return Identity(file_name, None, None), False
    if "\\" in file_name:
        file_name = file_name.replace("\\", "/")
    fn_stem, fn_ext = split_ext(file_name)
    frame = video_parts(fn_stem)
    if frame is not None:  # virtual frame name: "dir/video-099-mp4.png"
        name, index, ext = frame
        ident = Identity(f"{name}.{ext}", index, file_name)
        return ident, rel_stem != fn_stem and video_parts(rel_stem) != frame
    if fn_ext.lower() in VIDEO_EXTENSIONS:
        # file_name names the video itself; the frame comes from the file's path.
        from_path = video_parts(rel_stem)
        if from_path is not None:
            name, index, ext = from_path
            return Identity(file_name, index, None), (name, ext.lower()) != (fn_stem, fn_ext.lower())
    return Identity(file_name, None, None), rel_stem != fn_stem


def frame_stem(data_id: str, frame_index: int, width: int) -> str:
    """``dir/video-<frame padded to width>-<ext>`` for frame ``frame_index`` of video ``data_id``."""
    stem, ext = split_ext(data_id)
    if not ext:
        raise ValueError(f"video data id {data_id!r} has no extension; Lightly frame names need one")
    return f"{stem}-{frame_index:0{width}d}-{ext}"


def pad_width(frame_count: int) -> int:
    """Digits of Lightly's frame padding: ``len(str(frame_count))`` (100 frames -> 3)."""
    return len(str(max(int(frame_count), 1)))
