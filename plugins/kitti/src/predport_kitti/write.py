"""Canonical frames to KITTI files: one ``.txt`` per frame, frames without predictions too.

A line is ``type truncated occluded alpha left top right bottom h w l x y z rotation_y score``
(16 fields). A prediction without a score is written as a 15-field, ground-truth style line,
so a set whose scores are all ``null`` comes out as ground truth; a set that mixes both gets
a warning (the devkit ignores 15-field lines in result files). Values the canonical data does
not have are the devkit's "unknown" values (``-1 -1 -10`` ... ``-1 -1 -1 -1000 -1000 -1000 -10``).

Numbers are written in the shortest form that reads back to the same float (``repr``; integral
values without ``.0``), never rounded to 2 decimals; the right and bottom corners are written
as the shortest decimal that gives back exactly the canonical width and height.
"""
from __future__ import annotations

import math
import re
from typing import Any

import predport
from predport import ConfigError, OutputError

ROW_SCHEMA = "urn:predport:schema:kitti:row:1"
FILE_REF = ROW_SCHEMA + "#/$defs/file"
MAPPING_SCHEMA = "urn:predport:schema:kitti:ontology-mapping:1"
KITTI_KEYS = frozenset({"truncated", "occluded", "alpha", "dimensions", "location", "rotation_y"})
#: Attribute keys the reader adds that the writer reads back (class_name is informational).
_OWN_KEYS = KITTI_KEYS | {"extra", "class_name"}
_WS = re.compile(r"\s+")
_UNKNOWN_DIMS = [-1.0, -1.0, -1.0]
_UNKNOWN_LOC = [-1000.0, -1000.0, -1000.0]


def fmt(v: float) -> str:
    """Shortest text that reads back as the same number (``repr``); ``-1`` rather than ``-1.0``;
    never in exponent form (``1e-07`` is written ``0.0000001``, as KITTI files and the devkit's
    ``%f`` have numbers)."""
    s = repr(v)
    if "e" in s:
        import numpy as np

        s = np.format_float_positional(v, unique=True, trim="-")
        return "0" if s == "-0" else s
    return s[:-2] if s.endswith(".0") else s


def fixed(decimals: int) -> Any:
    """A formatter with ``decimals`` fixed decimals (``%.2f``, as most detectors write KITTI
    results); ``-1`` and ``-10`` sentinels stay short."""
    def f(v: float) -> str:
        if v in (-1, -10, -1000):
            return str(int(v))
        s = f"{v:.{decimals}f}"
        return s[1:] if s.startswith("-") and float(s) == 0 else s  # not "-0.00"
    return f


def corner(start: float, size: float) -> float:
    """The far corner ``start + size``, as the shortest decimal whose difference from ``start``
    is exactly ``size`` (so reading the file back gives the same width/height, and a file read
    from text gets its original corner values back)."""
    end = start + size
    for digits in range(1, 18):
        v = float(f"{end:.{digits}g}")
        if v - start == size:
            return v
    return end


_NUM = frozenset({float, int})  # exact types: a bool is not a number here


def _is_triple(value: Any) -> bool:
    return type(value) is list and len(value) == 3 and all(type(v) in _NUM for v in value)


def _number(value: Any) -> float | None:
    return float(value) if predport.is_number(value, finite=True) else None


def _triple(value: Any) -> list[float] | None:
    if not isinstance(value, (list, tuple)) or len(value) != 3:
        return None
    out = [_number(v) for v in value]
    return None if any(v is None for v in out) else out  # type: ignore[return-value]


def keeps_suffix(frame_index: int | None, naming: str) -> bool:
    """``<data id>__<frame>.txt`` keeps the data id whole (Encord Active's naming: video frames,
    or ``naming="encord"``); otherwise the image suffix is replaced (``000042.png`` -> ``000042.txt``).
    The path part follows the core's rule (:class:`predport.FrameNames`: ``paths``, ``root``)."""
    return naming == "encord" or (naming == "auto" and frame_index is not None)


class KittiWriter:
    def __init__(self, stream: Any, target: Any, context: Any) -> None:
        self.stream = stream
        self.target = target
        self.context = context
        # Declared in hooks.WRITE_OPTIONS: parsed and checked by the hub.
        self.naming = context.option("naming") or "auto"
        self.names = predport.FrameNames.from_context(context)
        self.keep_spaces = bool(context.option("keep_spaces"))
        decimals = context.option("decimals")
        self.fmt = fmt if decimals is None else fixed(int(decimals))
        self._names: dict[int, str] = {}
        self.counts = {"files": 0, "lines": 0, "lines_15": 0, "lines_16": 0}
        self._foreign: dict[str, int] = {}
        self._bad_values = 0
        self._renamed: list[str] = []
        self._dropped_extra = 0
        self._used: set[int] = set()

    # -- per category ------------------------------------------------------------------
    def _name(self, cid: int) -> str:
        name = self._names.get(cid)
        if name is None:
            raw = self.stream.category_name(cid)
            if _WS.search(raw.strip()) or raw != raw.strip():
                fixed = _WS.sub(" " if self.keep_spaces else "_", raw.strip())
                if fixed != raw and not self.keep_spaces:
                    self._renamed.append(f"{raw!r} -> {fixed!r}")
                name = fixed
            else:
                name = raw
            if not name:
                raise OutputError(f"category {cid} has an empty name; KITTI needs a class name")
            self._names[cid] = name
        return name

    # -- per frame ---------------------------------------------------------------------------
    def write(self) -> dict[str, Any]:
        target = self.target
        for frame in self.stream.frames:
            rel = self.names.file(frame.data_id, ".txt", frame_index=frame.frame_index,
                                  keep_suffix=keeps_suffix(frame.frame_index, self.naming))
            rows, text = self._frame(frame, rel)
            target.validate(FILE_REF, rows, relpath=rel)
            target.write_bytes(rel, text.encode("utf-8"))
            self.counts["files"] += 1
        self._finish()
        return {**{f"kitti.{k}": v for k, v in self.counts.items()}, **self.names.summary("kitti")}

    def _frame(self, frame: Any, rel: str) -> tuple[list[dict[str, Any]], str]:
        dets = frame.predictions
        n = len(dets)
        if n == 0:
            return [], ""
        cids = dets.category_id.tolist()
        scores = dets.score.tolist()
        if dets.box is None:
            boxes: list[Any] = [None] * n
            far: list[Any] = [None] * n
        else:
            boxes = dets.box.tolist()
            # The far corners, and whether x + w gives back w exactly (it nearly always does;
            # otherwise corner() looks for the shortest decimal that does).
            right = dets.box[:, 0] + dets.box[:, 2]
            bottom = dets.box[:, 1] + dets.box[:, 3]
            exact = ((right - dets.box[:, 0]) == dets.box[:, 2]) & ((bottom - dets.box[:, 1]) == dets.box[:, 3])
            far = list(zip(right.tolist(), bottom.tolist(), exact.tolist()))
        attrs = dets.attributes if dets.attributes is not None else [None] * n
        rows: list[dict[str, Any]] = []
        lines: list[str] = []
        for i in range(n):
            b = boxes[i]
            if b is None or b[0] != b[0]:
                self.context.problem(
                    OutputError("prediction has no box; a KITTI line needs one", file=rel, json_path=["predictions", i])
                )
                continue
            row, line = self._row(cids[i], scores[i], b, far[i], attrs[i] or {})
            rows.append(row)
            lines.append(line)
        self.counts["lines"] += len(lines)
        return rows, "".join(lines)

    def _row(self, cid: int, score: float, b: list[float], far: tuple[float, float, bool],
             a: dict[str, Any]) -> tuple[dict[str, Any], str]:
        self._used.add(cid)
        name = self._names.get(cid) or self._name(cid)
        if not a.keys() <= _OWN_KEYS:
            for key in a.keys() - _OWN_KEYS:
                self._foreign[key] = self._foreign.get(key, 0) + 1
        get = a.get
        trunc, occ, alpha, rot = get("truncated", -1.0), get("occluded", -1.0), get("alpha", -10.0), get("rotation_y", -10.0)
        dims, loc = get("dimensions", _UNKNOWN_DIMS), get("location", _UNKNOWN_LOC)
        if not (type(trunc) in _NUM and type(occ) in _NUM and type(alpha) in _NUM and type(rot) in _NUM
                and _is_triple(dims) and _is_triple(loc)
                and math.isfinite(trunc + occ + alpha + rot + dims[0] + dims[1] + dims[2] + loc[0] + loc[1] + loc[2])):
            trunc = self._value(a, "truncated", -1.0)
            occ = self._value(a, "occluded", -1.0)
            alpha = self._value(a, "alpha", -10.0)
            rot = self._value(a, "rotation_y", -10.0)
            dims = self._vector(a, "dimensions", _UNKNOWN_DIMS)
            loc = self._vector(a, "location", _UNKNOWN_LOC)
        left, top = b[0], b[1]
        right, bottom, exact = far
        # x + w is usually the corner the file had; a long repr means it may be a neighbour
        # of a shorter one that gives back the same width, which corner() finds.
        if not exact or len(repr(right)) > 15 or len(repr(bottom)) > 15:
            right, bottom = corner(left, b[2]), corner(top, b[3])
        has_score = score == score
        row = {
            "type": name,
            "truncated": trunc,
            "occluded": occ,
            "alpha": alpha,
            "bbox": [left, top, right, bottom],
            "dimensions": dims,
            "location": loc,
            "rotation_y": rot,
            "score": score if has_score else None,
        }
        f = self.fmt
        fields = [name, *map(f, (trunc, occ, alpha, left, top, right, bottom, *dims, *loc, rot))]
        if has_score:
            fields.append(f(score))
            self.counts["lines_16"] += 1
            extra = a.get("extra")
            if extra:
                tokens = [_WS.sub("_", str(t).strip()) or "_" for t in extra]
                row["extra"] = tokens
                fields.extend(tokens)
        else:
            self.counts["lines_15"] += 1
            if a.get("extra"):
                self._dropped_extra += 1
        return row, " ".join(fields) + "\n"

    def _value(self, a: dict[str, Any], key: str, unknown: float) -> float:
        return self._checked(a, key, unknown, _number)

    def _vector(self, a: dict[str, Any], key: str, unknown: list[float]) -> list[float]:
        return self._checked(a, key, unknown, _triple)

    def _checked(self, a: dict[str, Any], key: str, unknown: Any, parse: Any) -> Any:
        """``parse(a[key])``; ``unknown`` when the key is absent or its value unusable (counted)."""
        if key not in a:
            return unknown
        v = parse(a[key])
        if v is None:
            self._bad_values += 1
            return unknown
        return v

    # -- end of stream ----------------------------------------------------------------------
    def _finish(self) -> None:
        report = self.context.report
        if self._renamed:
            report.count("kitti.class_names_with_spaces", len(self._renamed))
            report.warn("class names with spaces written with '_' (KITTI fields are whitespace-separated): "
                        + ", ".join(self._renamed[:5]))
        if self.counts["lines_15"] and self.counts["lines_16"]:
            report.warn(f"{self.counts['lines_15']} prediction(s) without a score were written as 15-field "
                        "(ground-truth style) lines next to scored 16-field lines; the devkit ignores them in results")
        if self._foreign:
            keys = ", ".join(f"{k} ({n})" for k, n in sorted(self._foreign.items()))
            report.count("kitti.attributes_not_written", sum(self._foreign.values()))
            report.loss("predictions.attributes (keys without a KITTI column)", sum(self._foreign.values()))
            report.warn(f"attributes with no KITTI column were not written: {keys}")
        if self._bad_values:
            report.count("kitti.attribute_values_not_numbers", self._bad_values)
            report.warn(f"{self._bad_values} KITTI attribute value(s) were not numbers (or 3 numbers) "
                        "and were written as the devkit's unknown value")
        if self._dropped_extra:
            report.warn(f"{self._dropped_extra} line(s) without a score had extra columns; they were not "
                        "written (they would be read back as the score)")
        cats = [self.stream.categories.get(c) for c in sorted(self._used)]
        with_ext = [c for c in cats if c is not None and c.external_id]
        if with_ext and self.naming == "encord" and len(with_ext) == len(cats):
            mapping = {c.external_id: self._names[c.id] for c in with_ext}
            self.target.write_json("ontology_mapping.json", mapping, schema=MAPPING_SCHEMA)
            self.counts["files"] += 1
        elif with_ext:
            # Held only through naming="encord" (ontology_mapping.json): otherwise a loss the hub refuses.
            report.loss("categories.external_id", len(with_ext))
            report.warn("category external ids (featureNodeHash) have no place in KITTI files and were not written"
                        + ("" if self.naming != "encord" else " (some categories have none, so no ontology_mapping.json)"))


def write(stream: Any, target: Any, context: Any) -> dict[str, Any]:
    return KittiWriter(stream, target, context).write()
