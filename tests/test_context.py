"""Class maps, the category table, image sizes from headers, the report."""
from __future__ import annotations

import io
import struct

import pytest

import predport
from predport import CategoryTable, ClassMap, ConfigError, ImageSizes, read_image_size


def test_classmap__accepts_every_documented_shape(tmp_path):
    assert ClassMap.from_obj({"Car": 1}).lookup("car").id == 1
    t = ClassMap.from_obj({"Car": {"id": 3, "name": "car", "external_id": "OTk2"}}).lookup("CAR")
    assert (t.id, t.name, t.external_id) == (3, "car", "OTk2")
    t = ClassMap.from_obj([{"source": "Pedestrian", "id": 2}]).lookup("pedestrian")
    assert t.id == 2
    assert ClassMap.from_obj({"Car": "vehicle"}).lookup("Car").name == "vehicle"
    y = tmp_path / "m.yaml"
    y.write_text("Car: {id: 7, name: car}\n'5': 9\n")
    cm = ClassMap.load(y)
    assert cm.lookup("car").id == 7 and cm.lookup(5).id == 9


@pytest.mark.parametrize("bad, where", [
    ({"Car": True}, "$['Car']"),
    ({"Car": {"id": "x"}}, "$['Car'].id"),
    ({"Car": {"colour": 1}}, "$['Car']"),
    ([{"id": 1}], "$[0]"),
    (42, "$"),
])
def test_classmap__malformed_map_names_the_entry(bad, where):
    with pytest.raises(ConfigError) as info:
        ClassMap.from_obj(bad, origin="map.json")
    assert where in str(info.value) and "map.json" in str(info.value)


def test_classmap__invalid_yaml_names_file_and_line(tmp_path):
    y = tmp_path / "m.yaml"
    y.write_text("Car: 1\nVan: [2\n")
    with pytest.raises(ConfigError) as info:
        ClassMap.load(y)
    assert str(y) in str(info.value) and "invalid YAML" in str(info.value)


def test_classmap__yaml_is_never_evaluated(tmp_path):
    y = tmp_path / "m.yaml"
    y.write_text("Car: !!python/object/apply:os.system ['echo hacked > " + str(tmp_path / "pwned") + "']\n")
    with pytest.raises(ConfigError):
        ClassMap.load(y)
    assert not (tmp_path / "pwned").exists()


def test_category_table__names_get_ids_in_order_of_appearance():
    t = CategoryTable()
    assert [t.resolve(name=n) for n in ["Car", "Van", "Car", "car"]] == [0, 1, 0, 2]
    assert [c.name for c in t] == ["Car", "Van", "car"]


def test_category_table__ids_keep_their_value_and_declared_names():
    t = CategoryTable()
    t.declare(18, "dog")
    assert t.resolve(id=18) == 18 and t.resolve(id=3) == 3
    assert [(c.id, c.name) for c in t] == [(3, "3"), (18, "dog")]
    with pytest.raises(ConfigError, match="declared twice"):
        t.declare(18, "cat")


def test_category_table__class_map_maps_case_insensitively_and_counts_unmapped():
    t = CategoryTable(ClassMap.from_obj({"car": {"id": 5, "external_id": "H1"}, "pedestrian": 6}))
    assert t.resolve(name="Car") == 5 and t.resolve(name="CAR") == 5
    assert t.resolve(name="Pedestrian") == 6
    assert t.resolve(name="DontCare") is None and t.resolve(name="DontCare") is None
    assert t.unmapped == {"DontCare": 2}
    assert [(c.id, c.name, c.external_id) for c in t] == [(5, "Car", "H1"), (6, "Pedestrian", None)]


def test_category_table__resolve_ids_vectorised_marks_unmapped():
    import numpy as np

    t = CategoryTable(ClassMap.from_obj({"1": 10, "2": 20}))
    out = t.resolve_ids(np.array([1, 2, 3, 1, 3]))
    assert out.tolist() == [10, 20, -1, 10, -1]
    assert t.unmapped == {"3": 2}


def _png(w: int, h: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (w, h)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize("fmt, ext", [("PNG", ".png"), ("JPEG", ".jpg"), ("GIF", ".gif"), ("BMP", ".bmp"),
                                      ("WEBP", ".webp"), ("TIFF", ".tif"), ("PPM", ".ppm")])
def test_read_image_size__matches_pillow_for_each_format(tmp_path, fmt, ext):
    from PIL import Image

    p = tmp_path / f"x{ext}"
    Image.new("RGB", (37, 23)).save(p, format=fmt)
    assert read_image_size(p) == (37, 23) == Image.open(p).size


def test_read_image_size__progressive_jpeg_with_exif(tmp_path):
    from PIL import Image

    p = tmp_path / "x.jpg"
    exif = Image.Exif()
    exif[0x010E] = "a description long enough to matter" * 20
    Image.new("RGB", (640, 427)).save(p, format="JPEG", progressive=True, exif=exif)
    assert read_image_size(p) == (640, 427)


def test_read_image_size__not_an_image(tmp_path):
    p = tmp_path / "x.png"
    p.write_bytes(b"hello world, not a png")
    with pytest.raises(ValueError, match="not an image header"):
        read_image_size(p)


def test_image_sizes__folder_is_looked_up_by_path_name_and_stem(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "000042.png").write_bytes(_png(12, 7))
    sizes = ImageSizes(folder=tmp_path)
    assert sizes.get("sub/000042.png") == (12, 7)
    assert sizes.get("000042") == (12, 7)
    assert sizes.get("000042.jpg") == (12, 7)
    assert sizes.get("missing.png") is None


def test_image_sizes__from_coco_gt_and_plain_mapping(tmp_path):
    gt = tmp_path / "gt.json"
    gt.write_text('{"images": [{"id": 1, "file_name": "a/b.jpg", "width": 640, "height": 480}]}')
    s = ImageSizes.from_file(gt)
    assert s.get("a/b.jpg") == (640, 480) and s.get("b.jpg") == (640, 480)
    m = tmp_path / "sizes.yaml"
    m.write_text("x.png: [10, 20]\ny.png: {width: 3, height: 4}\n")
    s = ImageSizes.from_file(m)
    assert s.get("x.png") == (10, 20) and s.get("y") == (3, 4)
    bad = tmp_path / "bad.json"
    bad.write_text('[1, 2]')
    with pytest.raises(ConfigError, match="not a sizes file"):
        ImageSizes.from_file(bad)


def test_context__policy_decides_between_raise_and_skip():
    ctx = predport.Context(policy="skip")
    ctx.problem(predport.ParseError("bad", file="f.txt", line=3))
    assert ctx.report.skipped_total == 1 and "f.txt:3" in ctx.report.to_dict()["skipped_examples"][0]
    strict = predport.Context()
    with pytest.raises(predport.ParseError):
        strict.problem(predport.ParseError("bad", file="f.txt", line=3))
    with pytest.raises(ConfigError, match="unknown policy"):
        predport.Context(policy="ignore")


def test_context__id_lookup_errors_name_the_file(tmp_path):
    ctx = predport.Context(id_lookup=lambda p: 1 / 0)
    with pytest.raises(ConfigError) as info:
        ctx.data_id_for(tmp_path / "a.txt", ("a", None))
    assert "a.txt" in str(info.value) and "ZeroDivisionError" in str(info.value)
    ok = predport.Context(id_lookup=lambda p: (p.stem.upper(), 4))
    assert ok.data_id_for(tmp_path / "a.txt", ("a", None)) == ("A", 4)


def test_category_table__names_only_map_keeps_source_ids_where_free():
    t = CategoryTable(ClassMap.from_obj({"15": "person", "7": "car"}))
    assert t.resolve(id=15) == 15 and t.resolve(id=7) == 7
    assert [(c.id, c.name) for c in t] == [(7, "car"), (15, "person")]


def test_source__size_and_complete_head(tmp_path):
    small = tmp_path / "s.bin"
    small.write_bytes(b"x" * 10)
    big = tmp_path / "b.bin"
    big.write_bytes(b"x" * (predport.format_detection.HEAD_BYTES + 1))
    assert predport.Source(small).size() == 10 and predport.Source(small).head_is_complete()
    assert not predport.Source(big).head_is_complete()
    assert predport.Source(tmp_path / "missing").size() == -1


def test_read_image_size__truncated_header_is_a_value_error_naming_the_file(tmp_path):
    p = tmp_path / "cut.png"
    p.write_bytes(_png(10, 10)[:18])
    with pytest.raises(ValueError, match="cut.png"):
        read_image_size(p)


@pytest.mark.parametrize("bad", [5, [0, 10], [10, -5], ["a", 3], {"width": 3}, [True, 4]])
def test_image_sizes__bad_entries_are_config_errors_naming_the_key(bad):
    with pytest.raises(ConfigError) as info:
        ImageSizes({"a.jpg": bad})
    assert "a.jpg" in str(info.value)


def test_context__missing_image_folder_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        predport.Context(images=tmp_path / "nope")
