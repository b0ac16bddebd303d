"""What the ``aquariumlearning`` clients write: label types, keys, defaults, per generation.

Three generations of rows exist (see docs/formats/aquarium.md and FORMATS.md section 5):

* ``"oldest"`` — clients up to 0.0.25: frame ``{task_id, inference_data, custom_metrics,
  inference_metadata: {visualization_assets}}``; entries without ``reuse_latest_embedding``
  and ``change``.
* ``"legacy"`` — 0.0.x up to 0.0.67 (``al.InferencesFrame``): adds ``type: "Inference"``,
  ``reuse_latest_embedding``, ``change`` and ``user_metadata``.
* ``"v1"`` — 1.0.x (``al.InferenceFrame``): no ``type``; ``date_captured``, ``device_id``,
  ``coordinate_frames``, ... ; entries carry ``class_id`` and no ``linked_labels``; the row
  repeats ``inference_data`` as ``label_data``.

Nothing here imports numpy: the detector uses these tables too.
"""
from __future__ import annotations

from typing import Any

FORMAT_ID = "aquarium"
SCHEMA_ID = "urn:predport:schema:aquarium:frame:1"

GENERATIONS = ("legacy", "v1", "oldest")

BBOX = "BBOX_2D"
LINE = "LINE_SEGMENT_2D"
KEYPOINTS = "KEYPOINTS_2D"
POLYGONS = "POLYGON_LIST_2D"
CLASS_2D = "CLASSIFICATION_2D"
CLASS_3D = "CLASSIFICATION_3D"
CUBOID = "CUBOID_3D"
TEXT_TOKEN = "TEXT_TOKEN"
SEM_URL = "SEMANTIC_LABEL_URL_2D"
SEM_ASSET = "SEMANTIC_LABEL_ASSET_2D"
INST_URL = "INSTANCE_LABEL_URL_2D"
INST_ASSET = "INSTANCE_LABEL_ASSET_2D"
INSTANCE = "INSTANCE_LABEL_2D"

SEMANTIC_TYPES = frozenset({SEM_URL, SEM_ASSET})
INSTANCE_MASK_TYPES = frozenset({INST_URL, INST_ASSET})
#: Label types without a confidence (the client has no such argument for them).
MASK_TYPES = SEMANTIC_TYPES | INSTANCE_MASK_TYPES | {INSTANCE}
LABEL_TYPES = (
    BBOX, LINE, KEYPOINTS, POLYGONS, CLASS_2D, CLASS_3D, CUBOID, TEXT_TOKEN,
    SEM_URL, SEM_ASSET, INST_URL, INST_ASSET, INSTANCE,
)
MASK_LABEL = "__mask"
DEFAULT_SENSOR = "DEFAULT"
DEFAULT_COORD_FRAME = "world"

# -- frame rows ----------------------------------------------------------------------------
#: v1 frame keys that legacy rows never have (any one of them marks a 1.0.x row).
V1_FRAME_KEYS = (
    "date_captured", "device_id", "coordinate_frames", "sensor_data", "geo_data",
    "user_metadata_types", "user_metadata_modes", "label_data",
)
DEFAULT_COORDINATE_FRAMES: list[dict[str, Any]] = [
    {
        "coordinate_frame_id": "world",
        "coordinate_frame_type": "WORLD",
        "coordinate_frame_metadata": '{"parent_frame_id": null}',
    }
]


def frame_defaults(generation: str) -> dict[str, Any]:
    """The frame-level values a client writes when the user sets nothing (fresh objects)."""
    if generation == "legacy":
        return {
            "type": "Inference",
            "custom_metrics": {},
            "visualization_assets": {},
            "user_metadata": {},
            "reuse_latest_embedding": False,
            "change": "ADD",
        }
    if generation == "v1":
        return {
            "device_id": "default_device",
            "coordinate_frames": [dict(c) for c in DEFAULT_COORDINATE_FRAMES],
            "sensor_data": [],
            "geo_data": {},
            "reuse_latest_embedding": False,
            "change": "ADD",
            "user_metadata_types": {},
            "user_metadata_modes": {},
            "custom_metrics": {},
            "user_metadata": {},
        }
    return {"custom_metrics": {}, "visualization_assets": {}}


#: Frame-level keys kept in ``Frame.attributes`` under their own names (``inference_metadata``
#: is flattened into ``user_metadata`` and ``visualization_assets``).
FRAME_ATTRIBUTE_KEYS = frozenset(
    {"type", "custom_metrics", "reuse_latest_embedding", "change", "date_captured", "device_id",
     "coordinate_frames", "sensor_data", "geo_data", "user_metadata_types", "user_metadata_modes"}
)
#: ``Frame.attributes`` keys this plugin owns (everything else came from another format).
FRAME_OWN_KEYS = FRAME_ATTRIBUTE_KEYS | {
    "aquarium_generation", "user_metadata", "visualization_assets", "aquarium_extra",
    "unresolved_masks", "partial_rows",
}

# -- inference entries ----------------------------------------------------------------------
#: Entry keys per generation, in the order the client writes them.
ROW_KEYS = {
    "legacy": ("uuid", "linked_labels", "label_type", "label", "label_coordinate_frame", "attributes",
               "reuse_latest_embedding", "change"),
    "v1": ("uuid", "label_type", "label", "class_id", "label_coordinate_frame", "attributes",
           "reuse_latest_embedding", "change"),
    "oldest": ("uuid", "linked_labels", "label_type", "label", "label_coordinate_frame", "attributes"),
}
KNOWN_ROW_KEYS = frozenset(ROW_KEYS["legacy"]) | frozenset(ROW_KEYS["v1"])

#: Keys of the canonical ``attributes`` that this plugin uses for bookkeeping: they are
#: entry fields (not Aquarium ``attributes``) or geometry that lives elsewhere.
BOOKKEEPING = frozenset(
    {
        "uuid", "label_type", "sensor_id", "linked_labels", "reuse_latest_embedding", "change",
        "class_id", "row_extra", "keypoint_names", "instance_id",
        "mask_uuid", "mask_label_type", "mask_url", "mask_asset_uuid", "mask_resize_mode",
        "mask_sensor_id", "mask_linked_labels", "mask_reuse_latest_embedding", "mask_change",
        "mask_row_extra",
    }
)
#: Aquarium attribute keys holding per-keypoint visibility written by predport (``[x, y, v]``'s v).
KEYPOINT_V_KEY = "user__keypoint_v"
