"""Regenerate the bundled example inputs (small, made here; no third-party data).

Run from anywhere: python examples/make_examples.py (needs numpy, Pillow, pycocotools).
"""
import json, io, os
from pathlib import Path
import numpy as np
from PIL import Image
from pycocotools import mask as mu
E = Path(__file__).resolve().parent
W, H = 640, 480
imgs = ["street_0001.jpg", "street_0002.jpg", "street_0003.jpg"]
def png_stub(path, w, h):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("1", (w, h)).save(path, format="PNG", optimize=True)
# COCO
(E/"coco").mkdir(parents=True, exist_ok=True)
cats = [{"id": 1, "name": "person", "supercategory": "person"}, {"id": 3, "name": "car", "supercategory": "vehicle"}]
gt = {"images": [{"id": i+1, "file_name": n, "width": W, "height": H} for i, n in enumerate(imgs)], "categories": cats, "annotations": []}
(E/"coco"/"gt.json").write_text(json.dumps(gt, indent=1))
m = np.zeros((H, W), np.uint8); m[200:260, 300:380] = 1; m[220:240, 320:340] = 0
rle = mu.encode(np.asfortranarray(m)); rle["counts"] = rle["counts"].decode()
res = [
 {"image_id": 1, "category_id": 3, "bbox": [258.2, 241.3, 148.3, 93.8], "score": 0.93},
 {"image_id": 1, "category_id": 1, "bbox": [50.0, 200.5, 30.25, 80.0], "score": 0.81},
 {"image_id": 2, "category_id": 3, "bbox": [10.0, 300.0, 200.0, 120.0], "score": 0.66},
 {"image_id": 2, "category_id": 3, "score": 0.71, "segmentation": rle, "bbox": [300.0, 200.0, 80.0, 60.0]},
 {"image_id": 3, "category_id": 1, "bbox": [400.0, 150.0, 40.0, 110.0], "score": 0.58},
]
(E/"coco"/"results.json").write_text(json.dumps(res))
# KITTI
k = E/"kitti"
lab = k/"label_2"; lab.mkdir(parents=True, exist_ok=True)
(lab/"000000.txt").write_text("Car -1 -1 -10 598.00 155.00 630.00 190.00 -1 -1 -1 -1000 -1000 -1000 -10 0.93 \nPedestrian -1 -1 -10 10.50 140.20 40.10 210.00 -1 -1 -1 -1000 -1000 -1000 -10 0.41 \n")
(lab/"000001.txt").write_text("Car 0.00 0 -1.57 599.41 156.40 629.75 189.25 2.85 2.63 12.34 0.47 1.49 69.44 -1.56 97.85\nCyclist 0.12 1 1.20 100.00 160.00 150.00 240.00 1.70 0.60 1.80 -5.10 1.60 20.30 1.05 12.5\n")
(lab/"000002.txt").write_text("")
for s in ["000000", "000001", "000002"]:
    png_stub(k/"image_2"/f"{s}.png", 1242, 375)
# masks
md = E/"masks"/"predictions"; md.mkdir(parents=True, exist_ok=True)
a = np.zeros((48, 64), np.uint8); a[5:20, 5:25] = 1; a[10:14, 10:14] = 0; a[30:45, 30:60] = 2; a[2:4, 50:52] = 1
Image.fromarray(a, mode="L").save(md/"street_0001.jpg.png")
b = np.zeros((48, 64), np.uint8); b[0:10, 0:10] = 2; b[10:20, 10:20] = 2; b[25:40, 5:15] = 1
Image.fromarray(b, mode="L").save(md/"street_0002.jpg.png")
(E/"masks"/"classes.yaml").write_text("'1': {id: 1, name: person}\n'2': {id: 2, name: road}\n")
# Lightly
lp = E/"lightly"/".lightly"/"predictions"; (lp/"vehicles"/"cam0").mkdir(parents=True, exist_ok=True)
(lp/"tasks.json").write_text(json.dumps(["vehicles"]))
(lp/"vehicles"/"schema.json").write_text(json.dumps({"task_type": "object-detection", "categories": [{"id": 0, "name": "car"}, {"id": 1, "name": "person"}]}))
(lp/"vehicles"/"cam0"/"000001.json").write_text(json.dumps({"file_name": "cam0/000001.jpg", "predictions": [{"category_id": 0, "bbox": [140, 100, 80, 90], "score": 0.8, "probabilities": [0.8, 0.2]}, {"category_id": 1, "bbox": [10.5, 20, 15, 40], "score": 0.55}]}))
(lp/"vehicles"/"cam0"/"000002.json").write_text(json.dumps({"file_name": "cam0/000002.jpg", "predictions": []}))
png_stub(E/"lightly"/"images"/"cam0"/"000001.png", W, H)  # placeholder; renamed below
os.remove(E/"lightly"/"images"/"cam0"/"000001.png")
for n in ["000001.jpg", "000002.jpg"]:
    p = E/"lightly"/"images"/"cam0"/n; p.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (W, H)).save(p, format="JPEG", quality=10)
# Aquarium legacy
def inf(fid, i, label, top, left, w, h, conf):
    return {"uuid": f"{fid}_inf_{i}", "linked_labels": [], "label_type": "BBOX_2D", "label": label, "label_coordinate_frame": "DEFAULT",
            "attributes": {"top": top, "left": left, "width": w, "height": h, "confidence": conf}, "reuse_latest_embedding": False, "change": "ADD"}
rows = []
for fid, infs in [("street_0001", [inf("street_0001", 0, "car", 241.3, 258.2, 148.3, 93.8, 0.93), inf("street_0001", 1, "person", 200.5, 50.0, 30.25, 80.0, 0.81)]),
                  ("street_0002", [inf("street_0002", 0, "car", 300.0, 10.0, 200.0, 120.0, 0.66)])]:
    rows.append({"task_id": fid, "type": "Inference", "custom_metrics": {}, "inference_metadata": {"visualization_assets": {}, "user_metadata": {"weather": "sunny"}},
                 "inference_data": infs, "reuse_latest_embedding": False, "change": "ADD"})
(E/"aquarium").mkdir(parents=True, exist_ok=True)
(E/"aquarium"/"frames.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
# YOLO
y = E/"yolo"
(y/"labels").mkdir(parents=True, exist_ok=True)
(y/"labels"/"street_0001.txt").write_text("2 0.51953125 0.600520833 0.231718750 0.195416667 0.93\n0 0.101757813 0.500 0.047265625 0.166666667 0.81\n")
(y/"labels"/"street_0002.txt").write_text("2 0.171875 0.75 0.3125 0.25 0.66\n")
(y/"classes.txt").write_text("person\nbicycle\ncar\n")
for n in ["street_0001.jpg", "street_0002.jpg"]:
    p = y/"images"/n; p.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (W, H)).save(p, format="JPEG", quality=10)
# Encord
en = E/"encord"; en.mkdir(parents=True, exist_ok=True)
recs = [
 {"data_hash": "3f1c9a2e-8b7d-4c1e-9f00-1234567890ab", "frame": 0, "confidence": 0.93, "object": {"feature_hash": "Nzg2ODEx", "format": "bounding-box", "data": {"x": 0.403438, "y": 0.502708, "w": 0.231719, "h": 0.195417}}},
 {"data_hash": "3f1c9a2e-8b7d-4c1e-9f00-1234567890ab", "frame": 0, "confidence": 0.81, "object": {"feature_hash": "OTk2MzM3", "format": "polygon", "data": [[0.1, 0.1], [0.2, 0.1], [0.2, 0.3]]}},
 {"data_hash": "7a0e44c1-0000-4c1e-9f00-abcdefabcdef", "frame": 0, "confidence": 0.7, "classification": {"feature_hash": "c2t5", "attribute_hash": "YXR0", "option_hash": "b3B0"}},
]
(en/"predictions.json").write_text(json.dumps(recs, indent=1))
(en/"sizes.json").write_text(json.dumps({"3f1c9a2e-8b7d-4c1e-9f00-1234567890ab": [W, H], "7a0e44c1-0000-4c1e-9f00-abcdefabcdef": [W, H]}))
(en/"ontology.json").write_text(json.dumps({"Nzg2ODEx": "car", "OTk2MzM3": "person", "c2t5": "sky"}))
print("ok")
