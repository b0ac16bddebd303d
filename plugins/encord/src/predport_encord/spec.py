"""Shared constants and the declared options of the Encord plugin (no numpy here: imported by hooks)."""
from __future__ import annotations

from typing import Any, Mapping

import predport

FORMAT = "encord"
RECORD_SCHEMA = "urn:predport:schema:encord:record:1"
#: A whole JSON file: a list of records.
LIST_SCHEMA = RECORD_SCHEMA + "#/$defs/List"

#: Encord Active's ``Format`` enum values (``encord_active.lib.db.predictions``).
BOX = "bounding-box"
POLYGON = "polygon"
MASK = "mask"

#: Normalised coordinates may overshoot [0, 1] by this much (float noise of
#: ``pixels / size``) and still count as inside the image. 1e-9 of a 10 000 px
#: image is 1e-5 px.
EPS = 1e-9

NOT_PICKLE_REASON = (
    "a .pkl file that is not a pickle of protocol 2 to 5: predport reads only Encord Active's "
    "predictions.pkl (a list of Prediction objects), with a restricted unpickler"
)
SUFFIXES_LINES = (".jsonl", ".ndjson")
SUFFIXES_PICKLE = (".pkl", ".pickle")

Option = predport.Option
#: Every option of the reader and the writer, declared once (the hub parses and checks them).
READ_OPTIONS = (
    Option("lines", "bool", None, "JSON Lines (true) or one JSON list (false); default: by the file's suffix"),
    Option("ontology", "path", None, "names of feature hashes: {featureNodeHash: name}, "
           "'encord-active print --json ontology' output or an Encord ontology structure"),
    Option("data_mapping", "path", None, "{data_hash: file_name} ('encord-active print --json data-mapping')"),
    Option("frame0", "enum", "keep", "frame 0: keep it, or none (images, whose frame Encord writes as 0)",
           choices=("keep", "none")),
    Option("max_bytes", "int", None, "predictions.pkl: the largest file read (default 2 GiB)", minimum=1),
    Option("max_objects", "int", None, "predictions.pkl: the most containers built while unpickling "
           "(default 20,000,000)", minimum=1),
    Option("max_elements", "int", None, "predictions.pkl: numpy array elements, all arrays together "
           "(default 500,000,000)", minimum=1),
)
WRITE_OPTIONS = (
    Option("lines", "bool", None, "JSON Lines (true) or one JSON list (false); default: by the file's suffix"),
    Option("sizes", "bool", True, "write image sizes (width/height) into the records"),
    Option("default_confidence", "float", None, "written for predictions without a score "
           "(default: refuse them)"),
    Option("data_mapping", "path", None, "{data_hash: file_name}: file names back to data hashes"),
)


def is_pickle_head(head: bytes) -> bool:
    """The ``PROTO`` opcode of protocols 2 to 5, which starts every such pickle."""
    return len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def looks_like_pickle(head: bytes, suffix: str) -> bool:
    """A pickle by name or by its first opcode."""
    return suffix in SUFFIXES_PICKLE or is_pickle_head(head)


def load_data_mapping(path: Any) -> dict[str, str]:
    """``{data_hash: file_name}``, as ``encord-active print --json data-mapping`` writes it."""
    obj = predport.load_mapping_file(path)
    if not isinstance(obj, Mapping) or not all(isinstance(v, str) for v in obj.values()):
        raise predport.ConfigError(
            "a data mapping is a JSON object {data_hash: file_name}", file=str(path), json_path="$"
        )
    return {str(k): v for k, v in obj.items()}


def load_ontology(path: Any) -> dict[str, str]:
    """Names of feature hashes, ``{featureNodeHash: name}``, from one of three shapes.

    * ``{featureNodeHash: name}`` (the map Encord's importers document);
    * ``encord-active print --json ontology`` output: ``{"objects": {name: featureNodeHash},
      "classifications": {...}}`` (object names only: its classification entries name
      options, not the classification);
    * an Encord ontology structure (``objects`` / ``classifications`` lists whose nodes
      carry ``featureNodeHash`` and ``name``; a classification is named by its first
      attribute, as the Encord editor shows it).
    """
    obj = predport.load_mapping_file(path)
    if not isinstance(obj, Mapping):
        raise predport.ConfigError("an ontology is a JSON object", file=str(path), json_path="$")
    names: dict[str, str] = {}
    objects = obj.get("objects")
    if isinstance(objects, Mapping):
        for name, fh in objects.items():
            if isinstance(fh, str):
                names[fh] = str(name)
        return names
    if isinstance(objects, list) or isinstance(obj.get("classifications"), list):
        for node in list(obj.get("objects") or []) + list(obj.get("classifications") or []):
            if not isinstance(node, Mapping) or not isinstance(node.get("featureNodeHash"), str):
                continue
            name = node.get("name")
            attrs = node.get("attributes")
            if not name and isinstance(attrs, list) and attrs and isinstance(attrs[0], Mapping):
                name = attrs[0].get("name")
            if name:
                names[node["featureNodeHash"]] = str(name)
        return names
    for fh, name in obj.items():
        if not isinstance(name, str) or not name:
            raise predport.ConfigError(
                "expected {featureNodeHash: name}, an 'encord-active print ontology' output "
                "or an Encord ontology structure",
                file=str(path),
                json_path=f"$[{str(fh)!r}]",
            )
        names[str(fh)] = name
    return names
