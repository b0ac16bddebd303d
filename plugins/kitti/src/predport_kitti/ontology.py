"""Encord Active's class-map files for KITTI predictions.

* ``ontology_mapping.json`` (new layout): ``{featureNodeHash: kitti_class_name}``.
* ``ontology_label_map.json`` (old layout): documented as ``{featureNodeHash: class_name}``,
  while Encord's own code reads the keys as class names, so files of both styles exist.
  Which side holds the hashes is decided from the data: the side that matches class names
  seen in the first label files is the class-name side; without a match, the side whose
  entries look like hashes (letters and digits, no spaces, 6+ characters) is the hash side;
  when that is undecided too, the documented ``{hash: name}`` style is assumed.

Either way the map becomes a :class:`predport.ClassMap` from class name (matched
case-insensitively) to a category named as the map writes it, with the featureNodeHash as
its ``external_id``; category ids follow the order of the map.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable

import predport
from predport import ConfigError

_HASHLIKE = re.compile(r"^[A-Za-z0-9+/=_\-]{6,64}$")


def looks_like_hash(text: str) -> bool:
    """An Encord featureNodeHash looks like ``OTk2MzM3``: no spaces, letters and digits mixed."""
    return bool(_HASHLIKE.match(text)) and any(c.isdigit() for c in text) and any(c.isalpha() for c in text)


def load_map(path: Path, *, old_style: bool, seen_names: Iterable[str], context: Any) -> Any:
    """The :class:`predport.ClassMap` of an Encord map file."""
    obj = predport.load_mapping_file(path)
    if not isinstance(obj, dict):
        raise ConfigError("expected a JSON object {featureNodeHash: class_name}", file=str(path), json_path="$")
    for k, v in obj.items():
        if not isinstance(v, str) or not v.strip():
            raise ConfigError("values must be non-empty strings", file=str(path), json_path=[k])
    pairs = list(obj.items())
    hash_keys = True
    if old_style:
        hash_keys = _hash_side_is_keys(pairs, seen_names)
        if not hash_keys:
            context.report.warn(f"{path.name}: read as {{class_name: featureNodeHash}} (the style Encord's code uses)")
    entries: dict[str, Any] = {}
    seen: set[str] = set()
    for i, (k, v) in enumerate(pairs):
        feature_hash, name = (k, v) if hash_keys else (v, k)
        key = name.strip().casefold()
        if key in seen:
            context.report.warn(f"{path.name}: class {name!r} is mapped twice; the first featureNodeHash is kept")
            continue
        seen.add(key)
        entries[name] = predport.ClassTarget(id=len(entries), name=name, external_id=feature_hash)
    return predport.ClassMap(entries, origin=str(path))


def _hash_side_is_keys(pairs: list[tuple[str, str]], seen_names: Iterable[str]) -> bool:
    seen = {n.casefold() for n in seen_names}
    keys_hit = sum(1 for k, _ in pairs if k.casefold() in seen)
    values_hit = sum(1 for _, v in pairs if v.casefold() in seen)
    if values_hit != keys_hit:
        return values_hit > keys_hit
    hashy = sum(looks_like_hash(k) for k, _ in pairs) - sum(looks_like_hash(v) for _, v in pairs)
    if hashy:
        return hashy > 0
    return True
