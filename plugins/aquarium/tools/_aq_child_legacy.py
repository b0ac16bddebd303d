"""Child script for aquariumlearning 0.0.67 (legacy `InferencesFrame` API).

Run by make_fixtures.py with the throwaway venv's interpreter:

    python _aq_child_legacy.py OUT_JSONL MASKS_DIR

Builds the frames with every public `add_inference_*` method, then lets the
client serialise them exactly as `Client.create_inferences()` would before
uploading: `Inferences._flush_to_disk()`, which calls `write_to_file()`
(one `json.dumps(frame.to_dict())` per line) into temp files. Those temp
files are copied byte for byte to OUT_JSONL. Also writes the mask PNGs that
the mask_url rows point at (this venv has Pillow, which 0.0.67 needs anyway
for `mask_data`).
"""

import os
import sys

from _aq_child_common import (
    CLASS_MAP,
    INSTANCE_MASK,
    INSTANCE_URL,
    MISSING_SEMSEG_URL,
    SEMSEG_MASK,
    SEMSEG_URL,
    concat_files,
    deterministic_uuid4,
    import_client,
    log,
    probe,
)

al = import_client()

import aquariumlearning.labels as al_labels  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

# mask_data assets are named with uuid4(); make the names repeatable.
al_labels.uuid4 = deterministic_uuid4("aquariumlearning-0.0.67")

CUSTOM_METRIC_NAMES = ["iou_estimate", "confusion"]


def write_masks(masks_dir):
    os.makedirs(masks_dir, exist_ok=True)
    for rel, rows in ((SEMSEG_URL, SEMSEG_MASK), (INSTANCE_URL, INSTANCE_MASK)):
        path = os.path.join(masks_dir, os.path.basename(rel))
        # Single-channel 8-bit ("L"): class ids / instance ids as pixel values.
        Image.fromarray(np.array(rows, dtype=np.uint8)).save(path, format="PNG")
        log(f"wrote {path}")


def build(inferences):
    # frame_0001: detection-style inferences + frame-level extras.
    f = al.InferencesFrame(frame_id="frame_0001")
    f.add_inference_2d_bbox(
        label_id="frame_0001_bbox_0",
        classification="car",
        top=10,
        left=20.5,
        width=30,
        height=40,
        confidence=0.9,
        area=1200.0,
        iscrowd=False,
        user_attrs={"source": "yolo", "track_id": 7},
    )
    f.add_inference_2d_bbox(
        label_id="frame_0001_bbox_1",
        classification="person",
        top=50.25,
        left=60.0,
        width=12.5,
        height=30.0,
        confidence=0.35,
    )
    f.add_inference_2d_line_segment(
        label_id="frame_0001_line_0",
        classification="lane",
        x1=0,
        y1=100.5,
        x2=200,
        y2=90.0,
        confidence=0.8,
        iscrowd=False,
        links={"parent": "frame_0001_bbox_0"},
    )
    f.add_inference_2d_keypoints(
        label_id="frame_0001_kp_0",
        classification="person",
        keypoints=[
            {"x": 62.0, "y": 52.0, "name": "head"},
            {"x": 60.5, "y": 65.0, "name": "left_hand"},
            {"x": 71, "y": 66, "name": "right_hand"},
        ],
        confidence=0.75,
        top=50.25,
        left=60.0,
        width=12.5,
        height=30.0,
    )
    f.add_inference_2d_keypoints(
        label_id="frame_0001_kp_1",
        classification="person",
        keypoints=[
            {"x": 5.0, "y": 6.0, "name": "head"},
            {"x": 7.5, "y": 9.0, "name": "neck"},
        ],
        confidence=0.6,
    )
    # Only two of the four box fields: the client drops the partial box silently.
    f.add_inference_2d_keypoints(
        label_id="frame_0001_kp_2",
        classification="person",
        keypoints=[{"x": 1.0, "y": 2.0, "name": "head"}],
        confidence=0.55,
        top=1.0,
        left=0.5,
    )
    f.add_custom_metric("iou_estimate", 0.72)
    f.add_custom_metric("confusion", [[5, 1], [0, 3]])
    f.add_user_metadata("weather", "sunny")
    f.add_user_metadata("num_objects", 5)
    f.add_user_metadata("exposure", 0.25)
    f.add_user_metadata("is_night", False)
    inferences.add_frame(f)

    # frame_0002: polygons + URL masks whose PNGs exist beside the fixture.
    f = al.InferencesFrame(frame_id="frame_0002")
    f.add_inference_2d_polygon_list(
        label_id="frame_0002_poly_0",
        classification="building",
        polygons=[
            {"vertices": [[4, 0], [7, 0], [7, 1], [4, 1]]},
            {"vertices": [[0.5, 4.0], [1.5, 4.0], [1.0, 5.5]]},
        ],
        confidence=0.66,
    )
    f.add_inference_2d_polygon_list(
        label_id="frame_0002_poly_1",
        classification="tree",
        polygons=[
            {"vertices": [[0, 4], [1, 4], [1, 5], [0, 5]]},
            {"vertices": [[2.0, 4.0], [3.0, 4.0], [2.5, 5.0]]},
        ],
        confidence=0.41,
        center=[1.5, 4.5],
    )
    f.add_inference_2d_semseg(label_id="frame_0002_semseg", mask_url=SEMSEG_URL)
    f.add_inference_2d_instance_seg(
        label_id="frame_0002_inst",
        mask_url=INSTANCE_URL,
        instance_mapping=[
            {"id": 1, "classification": "car", "attributes": {"occluded": True, "color": "red"}},
            {"id": 2, "classification": "person"},
        ],
        resize_mode="fill",
    )
    inferences.add_frame(f)

    # frame_0003: classification, 3D and text.
    f = al.InferencesFrame(frame_id="frame_0003")
    f.add_inference_2d_classification(
        label_id="frame_0003_cls2d",
        classification="outdoor",
        confidence=0.95,
        user_attrs={"model": "resnet18"},
    )
    f.add_inference_3d_classification(
        label_id="frame_0003_cls3d",
        classification="highway_scene",
        confidence=0.55,
    )
    f.add_inference_3d_cuboid(
        label_id="frame_0003_cuboid_0",
        classification="truck",
        position=[1.5, -2.0, 0.75],
        dimensions=[4.2, 1.9, 1.6],
        # xyzw quaternion: 45 degrees about z.
        rotation=[0.0, 0.0, 0.3826834323650898, 0.9238795325112867],
        confidence=0.82,
    )
    f.add_inference_text_token(
        label_id="frame_0003_tok_0",
        index=0,
        token="Hello",
        classification="GREETING",
        visible=True,
        confidence=0.99,
    )
    f.add_inference_text_token(
        label_id="frame_0003_tok_1",
        index=1,
        token="world",
        classification="O",
        visible=False,
        confidence=0.51,
    )
    f.add_user_metadata("split", "val")
    inferences.add_frame(f)

    # frame_0004: a frame with no inferences and nothing else.
    inferences.add_frame(al.InferencesFrame(frame_id="frame_0004"))

    # frame_0005: URL mask whose PNG is deliberately absent.
    f = al.InferencesFrame(frame_id="frame_0005")
    f.add_inference_2d_semseg(label_id="frame_0005_semseg", mask_url=MISSING_SEMSEG_URL)
    f.add_inference_2d_bbox(
        label_id="frame_0005_bbox_0",
        classification="truck",
        top=0,
        left=0,
        width=8,
        height=6,
        confidence=0.0,
    )
    inferences.add_frame(f)

    # frame_0006: in-memory masks (mask_data) become asset rows; the PNG bytes
    # go to a separate Arrow file that is not part of the JSONL.
    f = al.InferencesFrame(frame_id="frame_0006")
    f.add_inference_2d_semseg(
        label_id="frame_0006_semseg",
        mask_data=np.array(SEMSEG_MASK, dtype=np.int32),
    )
    f.add_inference_2d_instance_seg(
        label_id="frame_0006_inst",
        mask_data=np.array(INSTANCE_MASK, dtype=np.uint8),
        instance_mapping=[
            {"id": 1, "classification": "car"},
            {"id": 2, "classification": "person", "attributes": {"pose": "standing"}},
        ],
    )
    inferences.add_frame(f)

    # frame_0007: a MODIFY frame (the public API accepts update_type on the frame).
    f = al.InferencesFrame(frame_id="frame_0007", update_type="MODIFY")
    f.add_inference_2d_bbox(
        label_id="frame_0007_bbox_0",
        classification="car",
        top=1,
        left=2,
        width=3,
        height=4,
        confidence=1.0,
    )
    inferences.add_frame(f)

    # frame_0008: a DELETE row, made the way the client offers it.
    inferences.delete_frame("frame_0008")


def run_probes():
    fr = al.InferencesFrame(frame_id="probe_frame")
    common = dict(classification="car", top=1, left=1, width=1, height=1)
    probe("int confidence 1", lambda: fr.add_inference_2d_bbox(label_id="p0", confidence=1, **common))
    probe("numpy.float32 confidence", lambda: fr.add_inference_2d_bbox(label_id="p1", confidence=np.float32(0.5), **common))
    probe("numpy.float64 confidence", lambda: fr.add_inference_2d_bbox(label_id="p2", confidence=np.float64(0.5), **common))
    probe("confidence 1.5", lambda: fr.add_inference_2d_bbox(label_id="p3", confidence=1.5, **common))
    probe(
        "cuboid with int position",
        lambda: fr.add_inference_3d_cuboid(
            label_id="p4", classification="truck", position=[1, 2, 3],
            dimensions=[1.0, 1.0, 1.0], rotation=[0.0, 0.0, 0.0, 1.0], confidence=0.5,
        ),
    )
    probe(
        "duplicate keypoint names",
        lambda: fr.add_inference_2d_keypoints(
            label_id="p5", classification="person", confidence=0.5,
            keypoints=[{"x": 1, "y": 1, "name": "a"}, {"x": 2, "y": 2, "name": "a"}],
        ),
    )
    probe("label id with '/'", lambda: fr.add_inference_2d_bbox(label_id="a/b", confidence=0.5, **common))
    probe("semseg with neither mask_url nor mask_data", lambda: fr.add_inference_2d_semseg(label_id="p6"))
    probe("frame id with '#'", lambda: al.InferencesFrame(frame_id="bad#id"))
    probe("user metadata key with '-'", lambda: fr.add_user_metadata("bad-key", 1))
    probe("custom metric int 3", lambda: fr.add_custom_metric("m", 3))


def main():
    out_path, masks_dir = sys.argv[1], sys.argv[2]
    write_masks(masks_dir)

    inferences = al.Inferences()
    build(inferences)

    # The checks Client.create_inferences() makes before uploading, minus the
    # server round trip: project class names and configured custom metrics.
    class_names = {name for _, name in CLASS_MAP}
    unknown = inferences._label_classes_set - class_names
    if unknown:
        raise SystemExit(f"classes missing from CLASS_MAP: {sorted(unknown)}")
    inferences._validate_frames(
        {
            "id": "fixture_project",
            "primary_task": "2D_OBJECT_DETECTION",
            "custom_metrics": [{"name": n} for n in CUSTOM_METRIC_NAMES],
        }
    )

    # Same call create_inferences() makes; it writes the upload files to temp.
    inferences._flush_to_disk()
    concat_files(inferences._temp_frame_file_names, out_path)
    log(f"wrote {out_path} from {len(inferences._temp_frame_file_names)} client file(s)")
    for p in inferences._temp_frame_asset_file_names:
        log(f"client also wrote a label-asset Arrow file (not kept): {os.path.getsize(p)} bytes")

    run_probes()


if __name__ == "__main__":
    main()
