"""Child script for aquariumlearning 1.0.7 (`InferenceFrame` + `*Inference` objects).

Run by make_fixtures.py with the throwaway venv's interpreter:

    python _aq_child_v1.py OUT_JSONL

Builds the frames with every `*Inference` class, then lets the client
serialise them exactly as `Client.create_or_update_inference_set()` would
before uploading: `InferenceSet._flush_to_disk()`, which for inference sets
(`_split_frame_crop_files = False`) calls `_write_batch_to_file()` into temp
files. Those temp files are copied byte for byte to OUT_JSONL.

1.0.x needs the project's class map (it looks every class name up when an
inference is added and records its `class_id`) and primary task; normally
both come from the server. Here they are seeded into the client's own
DatasetClient cache, which is where `_populate_project_fields()` would put
them, so no request is made.
"""

import sys

from _aq_child_common import (
    CLASS_MAP,
    INSTANCE_URL,
    MISSING_SEMSEG_URL,
    SEMSEG_URL,
    concat_files,
    import_client,
    log,
    probe,
)

al = import_client()

from aquariumlearning.dataset_client import DatasetClient  # noqa: E402

PROJECT = "fixture_project"
INFERENCE_SET = "fixture_inferences"


def make_inference_set():
    client = al.Client()  # no request is made until an API call needs one
    class_map = al.LabelClassMap(
        entries=[
            # Colour is mandatory; derive a stable one from the id.
            al.ClassMapEntry(name=name, class_id=cid, color=((cid * 40) % 256, (cid * 90) % 256, (cid * 150) % 256))
            for cid, name in CLASS_MAP
        ]
    )
    dc = DatasetClient.get_or_init(client, PROJECT, INFERENCE_SET)
    dc._project_primary_task = al.PrimaryTaskTypes.ObjectDetection
    dc._project_classes_by_name = class_map.arrange_entries_by_classname()
    return al.InferenceSet(
        client=client,
        name=INFERENCE_SET,
        project_name=PROJECT,
        base_dataset_name="fixture_dataset",
    )


def build(iset):
    # frame_0001: detection-style inferences + frame-level extras.
    iset.create_and_add_inference_frame(
        frame_id="frame_0001",
        inferences=[
            al.Bbox2DInference(
                id="frame_0001_bbox_0",
                classification="car",
                confidence=0.9,
                top=10,
                left=20.5,
                width=30,
                height=40,
                iscrowd=False,
                user_attrs={"source": "yolo", "track_id": 7},
            ),
            al.Bbox2DInference(
                id="frame_0001_bbox_1",
                classification="person",
                confidence=0.35,
                top=50.25,
                left=60.0,
                width=12.5,
                height=30.0,
            ),
            al.LineSegment2DInference(
                id="frame_0001_line_0",
                classification="lane",
                confidence=0.8,
                x1=0,
                y1=100.5,
                x2=200,
                y2=90.0,
                iscrowd=False,
            ),
            al.Keypoint2DInference(
                id="frame_0001_kp_0",
                classification="person",
                confidence=0.75,
                keypoints=[
                    {"x": 62.0, "y": 52.0, "name": "head"},
                    {"x": 60.5, "y": 65.0, "name": "left_hand"},
                    {"x": 71, "y": 66, "name": "right_hand"},
                ],
                top=50.25,
                left=60.0,
                width=12.5,
                height=30.0,
            ),
            al.Keypoint2DInference(
                id="frame_0001_kp_1",
                classification="person",
                confidence=0.6,
                keypoints=[
                    {"x": 5.0, "y": 6.0, "name": "head"},
                    {"x": 7.5, "y": 9.0, "name": "neck"},
                ],
            ),
            # Only two of the four box fields: the client drops the partial box silently.
            al.Keypoint2DInference(
                id="frame_0001_kp_2",
                classification="person",
                confidence=0.55,
                keypoints=[{"x": 1.0, "y": 2.0, "name": "head"}],
                top=1.0,
                left=0.5,
            ),
        ],
        custom_metrics={"iou_estimate": 0.72, "confusion": [[5, 1], [0, 3]]},
        user_metadata=[
            al.UserMetadataEntry("weather", "sunny"),
            al.UserMetadataEntry("num_objects", 5),
            al.UserMetadataEntry("exposure", 0.25),
            al.UserMetadataEntry("is_night", False),
        ],
    )

    # frame_0002: polygons + URL masks whose PNGs exist beside the fixture.
    iset.create_and_add_inference_frame(
        frame_id="frame_0002",
        inferences=[
            al.PolygonList2DInference(
                id="frame_0002_poly_0",
                classification="building",
                confidence=0.66,
                polygons=[
                    {"vertices": [[4, 0], [7, 0], [7, 1], [4, 1]]},
                    {"vertices": [[0.5, 4.0], [1.5, 4.0], [1.0, 5.5]]},
                ],
            ),
            al.PolygonList2DInference(
                id="frame_0002_poly_1",
                classification="tree",
                confidence=0.41,
                polygons=[
                    {"vertices": [[0, 4], [1, 4], [1, 5], [0, 5]]},
                    {"vertices": [[2.0, 4.0], [3.0, 4.0], [2.5, 5.0]]},
                ],
                center=[1.5, 4.5],
            ),
            al.Semseg2DInference(id="frame_0002_semseg", mask_url=SEMSEG_URL),
            al.InstanceSeg2DInference(
                id="frame_0002_inst",
                mask_url=INSTANCE_URL,
                instances=[
                    al.InstanceSegInstance(1, "car", {"occluded": True, "color": "red"}),
                    al.InstanceSegInstance(2, "person", None),
                ],
                resize_mode="fill",
            ),
        ],
    )

    # frame_0003: classification, 3D and text.
    iset.create_and_add_inference_frame(
        frame_id="frame_0003",
        inferences=[
            al.Classification2DInference(
                id="frame_0003_cls2d",
                classification="outdoor",
                confidence=0.95,
                user_attrs={"model": "resnet18"},
            ),
            al.Classification3DInference(
                id="frame_0003_cls3d",
                classification="highway_scene",
                confidence=0.55,
            ),
            al.Cuboid3DInference(
                id="frame_0003_cuboid_0",
                classification="truck",
                confidence=0.82,
                position=[1.5, -2.0, 0.75],
                dimensions=[4.2, 1.9, 1.6],
                # xyzw quaternion: 45 degrees about z.
                rotation=[0.0, 0.0, 0.3826834323650898, 0.9238795325112867],
            ),
            al.TextTokenInference(
                id="frame_0003_tok_0",
                classification="GREETING",
                confidence=0.99,
                index=0,
                token="Hello",
                visible=True,
            ),
            al.TextTokenInference(
                id="frame_0003_tok_1",
                classification="O",
                confidence=0.51,
                index=1,
                token="world",
                visible=False,
            ),
        ],
        user_metadata=[al.UserMetadataEntry("split", "val")],
    )

    # frame_0004: a frame with no inferences and nothing else.
    iset.create_and_add_inference_frame(frame_id="frame_0004", inferences=[])

    # frame_0005: URL mask whose PNG is deliberately absent.
    iset.create_and_add_inference_frame(
        frame_id="frame_0005",
        inferences=[
            al.Semseg2DInference(id="frame_0005_semseg", mask_url=MISSING_SEMSEG_URL),
            al.Bbox2DInference(
                id="frame_0005_bbox_0",
                classification="truck",
                confidence=0.0,
                top=0,
                left=0,
                width=8,
                height=6,
            ),
        ],
    )


def run_probes(iset):
    box = dict(classification="car", top=1, left=1, width=1, height=1)
    probe("int confidence 1", lambda: al.Bbox2DInference(id="p0", confidence=1, **box))
    probe("Bbox2DInference without confidence", lambda: al.Bbox2DInference(id="p1", **box))
    probe("Bbox2DInference(area=...)", lambda: al.Bbox2DInference(id="p2", confidence=0.5, area=1.0, **box))
    probe(
        "Semseg2DInference(mask_data=...)",
        lambda: al.Semseg2DInference(id="p3", mask_data=[[0]]),
    )
    probe(
        "class not in project class map",
        lambda: iset.create_and_add_inference_frame(
            frame_id="probe_unknown_class",
            inferences=[al.Bbox2DInference(id="p4", confidence=0.5, **dict(box, classification="zebra"))],
        ),
    )
    probe("InferenceSet.delete_frame", lambda: iset.delete_frame("frame_0099"))
    probe("al.InferencesFrame exists", lambda: al.InferencesFrame)


def main():
    out_path = sys.argv[1]
    iset = make_inference_set()
    build(iset)

    # Same call create_or_update_inference_set() makes; it writes the upload
    # files to temp.
    iset._flush_to_disk()
    concat_files(iset._temp_frame_file_names, out_path)
    log(f"wrote {out_path} from {len(iset._temp_frame_file_names)} client file(s)")

    run_probes(iset)


if __name__ == "__main__":
    main()
