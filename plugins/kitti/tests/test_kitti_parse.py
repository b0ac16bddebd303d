"""Line-level parsing: every whitespace and column case of FORMATS.md §1, errors and policies.

Fixtures are written in tmp_path; expected values are the numbers written in the fixture.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

import predport

GT = "Car 0.00 0 -1.57 599.41 156.40 629.75 189.25 2.85 2.63 12.34 0.47 1.49 69.44 -1.56"
RES = "Pedestrian -1 -1 -10 10.50 140.20 40.10 210.00 -1 -1 -1 -1000 -1000 -1000 -10 0.41"
GT_BOX = [599.41, 156.40, 629.75 - 599.41, 189.25 - 156.40]
RES_BOX = [10.50, 140.20, 40.10 - 10.50, 210.00 - 140.20]


def folder_with(tmp_path: Path, files: dict[str, str | bytes]) -> Path:
    d = tmp_path / "labels"
    d.mkdir()
    for name, text in files.items():
        p = d / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return d


def read(path: Path, **kwargs: Any) -> tuple[Any, Any]:
    """The prediction set and the report of reading ``path`` as KITTI."""
    stream = predport.open_stream(path, format="kitti", **kwargs)
    return stream.collect(), stream.report


def rows(ps: Any, frame: int = 0) -> list[dict[str, Any]]:
    return ps.frames[frame].predictions.to_records()


def names(ps: Any, frame: int = 0) -> list[str]:
    return [ps.category(r["category_id"]).name for r in rows(ps, frame)]


# -- columns ------------------------------------------------------------------------------
def test_parse__fifteen_columns_give_null_score(tmp_path: Path) -> None:
    ps, _ = read(folder_with(tmp_path, {"000042.txt": GT + "\n"}))
    (r,) = rows(ps)
    assert r["score"] is None
    assert r["box"] == GT_BOX
    assert names(ps) == ["Car"]


def test_parse__sixteen_columns_reads_score(tmp_path: Path) -> None:
    ps, _ = read(folder_with(tmp_path, {"000042.txt": RES + "\n"}))
    (r,) = rows(ps)
    assert r["score"] == 0.41
    assert r["box"] == RES_BOX


def test_parse__scores_outside_unit_interval_kept_as_given(tmp_path: Path) -> None:
    text = RES.replace(" 0.41", " 97.85") + "\n" + RES.replace(" 0.41", " -3.2e1") + "\n"
    ps, _ = read(folder_with(tmp_path, {"a.txt": text}))
    assert [r["score"] for r in rows(ps)] == [97.85, -32.0]


def test_parse__fifteen_and_sixteen_columns_mixed_in_one_file(tmp_path: Path) -> None:
    ps, _ = read(folder_with(tmp_path, {"a.txt": f"{GT}\n{RES}\n{GT}\n"}))
    assert [r["score"] for r in rows(ps)] == [None, 0.41, None]
    assert names(ps) == ["Car", "Pedestrian", "Car"]


def test_parse__more_than_sixteen_columns_kept_as_extra_with_warning(tmp_path: Path) -> None:
    ps, report = read(folder_with(tmp_path, {"a.txt": RES + " 7 tag\n" + RES + "\n"}))
    first, second = rows(ps)
    assert first["score"] == 0.41
    assert first["attributes"]["extra"] == ["7", "tag"]
    assert "attributes" not in second  # a plain 2-D result line has only unknown values
    assert report.counts["kitti.rows_with_extra_columns"] == 1
    assert any("more than 16 columns" in w and "a.txt:1" in w for w in report.warnings)


def test_parse__fewer_than_fifteen_columns_fails_naming_file_line_and_column(tmp_path: Path) -> None:
    short = "Car 0.00 0 -1.57 599.41 156.40 629.75 189.25 2.85 2.63 12.34 0.47"  # 12 fields
    d = folder_with(tmp_path, {"000001.txt": GT + "\n" + short + "\n"})
    with pytest.raises(predport.ParseError) as info:
        read(d)
    err = info.value
    assert err.file is not None and err.file.endswith("000001.txt")
    assert (err.line, err.column, err.field) == (2, 13, "location.y")
    assert "12 fields" in str(err) and "000001.txt:2:13" in str(err)


def test_parse__word_among_the_numbers_fails_at_its_column(tmp_path: Path) -> None:
    bad = GT.replace("629.75", "abc")
    with pytest.raises(predport.ParseError) as info:
        read(folder_with(tmp_path, {"a.txt": bad + "\n"}))
    assert (info.value.line, info.value.column, info.value.field) == (1, 7, "bbox.right")


def test_parse__non_finite_number_fails(tmp_path: Path) -> None:
    with pytest.raises(predport.ParseError) as info:
        read(folder_with(tmp_path, {"a.txt": RES.replace("0.41", "nan") + "\n"}))
    assert (info.value.line, info.value.column, info.value.field) == (1, 16, "score")


def test_parse__right_less_than_left_fails(tmp_path: Path) -> None:
    bad = GT.replace("599.41 156.40 629.75", "629.75 156.40 599.41")
    with pytest.raises(predport.ParseError) as info:
        read(folder_with(tmp_path, {"a.txt": bad + "\n"}))
    assert (info.value.line, info.value.column, info.value.field) == (1, 7, "bbox.right")


def test_parse__bottom_less_than_top_fails(tmp_path: Path) -> None:
    bad = GT.replace("156.40 629.75 189.25", "189.25 629.75 156.40")
    with pytest.raises(predport.ParseError) as info:
        read(folder_with(tmp_path, {"a.txt": bad + "\n"}))
    assert info.value.field == "bbox.bottom"


def test_parse__skip_policy_counts_bad_lines_and_keeps_the_rest(tmp_path: Path) -> None:
    short = " ".join(GT.split()[:10])
    text = f"{GT}\n{short}\n{RES}\n{GT.replace('0.47', 'x')}\n{RES}\n"
    ps, report = read(folder_with(tmp_path, {"a.txt": text, "b.txt": GT + "\n"}), policy="skip")
    assert [r["score"] for r in rows(ps, 0)] == [None, 0.41, 0.41]
    assert len(rows(ps, 1)) == 1
    assert report.skipped_total == 2
    assert [(e.line, e.field) for e in report.skipped] == [(2, "dimensions.length"), (4, "location.x")]


# -- whitespace and line ends ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        pytest.param(GT.replace(" ", "\t") + "\n", id="tabs"),
        pytest.param(GT.replace(" ", "   ") + "\n", id="repeated-spaces"),
        pytest.param(GT.replace(" ", " \t ") + "\n", id="mixed-whitespace"),
        pytest.param(GT + "   \n", id="trailing-spaces"),
        pytest.param(GT + " \r\n", id="crlf-after-trailing-space"),
        pytest.param("  " + GT + "\n", id="leading-spaces"),
        pytest.param(GT, id="no-final-newline"),
        pytest.param("\n\n" + GT + "\n\n", id="blank-lines-around"),
        pytest.param("\ufeff" + GT + "\n", id="utf8-bom"),
    ],
)
def test_parse__any_whitespace_between_fields(tmp_path: Path, text: str) -> None:
    ps, _ = read(folder_with(tmp_path, {"a.txt": text}))
    (r,) = rows(ps)
    assert names(ps) == ["Car"]
    assert r["box"] == GT_BOX and r["score"] is None
    assert r["attributes"]["rotation_y"] == -1.56


def test_parse__crlf_line_ends(tmp_path: Path) -> None:
    ps, _ = read(folder_with(tmp_path, {"a.txt": f"{RES}\r\n{GT}\r\n"}))
    assert [r["score"] for r in rows(ps)] == [0.41, None]


def test_parse__blank_and_whitespace_lines_in_the_middle_skipped_and_line_numbers_kept(tmp_path: Path) -> None:
    text = f"{GT}\n\n   \n\t\n{RES}\n{' '.join(GT.split()[:5])}\n"
    d = folder_with(tmp_path, {"a.txt": text})
    with pytest.raises(predport.ParseError) as info:
        read(d)
    assert info.value.line == 6  # blank lines still count
    ps, report = read(d, policy="skip")
    assert [r["score"] for r in rows(ps)] == [None, 0.41] and report.skipped_total == 1


def test_parse__empty_file_is_a_frame_without_predictions(tmp_path: Path) -> None:
    ps, _ = read(folder_with(tmp_path, {"000000.txt": "", "000001.txt": "\n \n", "000002.txt": RES + "\n"}))
    assert [f.data_id for f in ps.frames] == ["000000", "000001", "000002"]
    assert [len(f.predictions) for f in ps.frames] == [0, 0, 1]


def test_parse__missing_final_newline_keeps_the_last_line(tmp_path: Path) -> None:
    ps, _ = read(folder_with(tmp_path, {"a.txt": f"{GT}\n{RES}"}))
    assert len(rows(ps)) == 2 and rows(ps)[1]["score"] == 0.41


# -- class names -----------------------------------------------------------------------------------
def test_parse__class_name_with_spaces_read_from_the_numbers(tmp_path: Path) -> None:
    text = GT.replace("Car", "Traffic Light") + "\n" + RES.replace("Pedestrian", "bicycle with space") + "\n"
    ps, _ = read(folder_with(tmp_path, {"a.txt": text}))
    assert names(ps) == ["Traffic Light", "bicycle with space"]
    assert [r["score"] for r in rows(ps)] == [None, 0.41]
    assert rows(ps)[1]["box"] == RES_BOX


def test_parse__class_names_kept_as_written(tmp_path: Path) -> None:
    text = "\n".join(GT.replace("Car", n) for n in ("car", "Car", "CAR", "NA", "None")) + "\n"
    ps, _ = read(folder_with(tmp_path, {"a.txt": text}))
    assert names(ps) == ["car", "Car", "CAR", "NA", "None"]


def test_parse__class_map_matches_case_insensitively_and_keeps_the_spelling(tmp_path: Path) -> None:
    text = "\n".join(GT.replace("Car", n) for n in ("car", "CAR", "Pedestrian")) + "\n"
    cmap = {"Car": {"id": 3, "name": "Car"}, "pedestrian": {"id": 7, "name": "person"}}
    ps, _ = read(folder_with(tmp_path, {"a.txt": text}), class_map=cmap)
    recs = rows(ps)
    assert [r["category_id"] for r in recs] == [3, 3, 7]
    assert [r["attributes"].get("class_name") for r in recs] == ["car", "CAR", "Pedestrian"]
    assert {c.id: c.name for c in ps.categories} == {3: "Car", 7: "person"}


def test_parse__class_missing_from_the_class_map_is_left_out_under_every_policy(tmp_path: Path) -> None:
    d = folder_with(tmp_path, {"a.txt": f"{GT}\n{RES}\n{RES}\n"})
    for policy in ("fail", "skip", "clamp"):
        stream = predport.open_stream(d, format="kitti", class_map={"Car": 1}, policy=policy)
        ps = stream.collect()
        assert names(ps) == ["Car"] and stream.report.skipped_total == 0
        assert dict(stream.categories.unmapped) == {"Pedestrian": 2}  # per row, the one key
    ps, report = read(d, class_map={"Car": 1}, options={"drop_unmapped": True})  # accepted, no effect
    assert names(ps) == ["Car"] and "kitti.unmapped_dropped" not in report.counts


def test_parse__numeric_class_name_is_read_as_a_class(tmp_path: Path) -> None:
    ps, _ = read(folder_with(tmp_path, {"a.txt": GT.replace("Car", "7") + "\n"}))
    assert names(ps) == ["7"] and rows(ps)[0]["box"] == GT_BOX


# -- DontCare and sentinels ------------------------------------------------------------------------
DONTCARE = "DontCare -1 -1 -10 503.89 169.71 590.61 190.13 -1 -1 -1 -1000 -1000 -1000 -10"


def test_parse__dontcare_dropped_and_counted(tmp_path: Path) -> None:
    text = f"{GT}\n{DONTCARE}\n{DONTCARE.replace('DontCare', 'dontcare')}\n"
    ps, report = read(folder_with(tmp_path, {"a.txt": text}))
    assert names(ps) == ["Car"]
    assert report.counts["kitti.dontcare_dropped"] == 2


def test_parse__dontcare_kept_with_option(tmp_path: Path) -> None:
    ps, report = read(folder_with(tmp_path, {"a.txt": f"{GT}\n{DONTCARE}\n"}), options={"keep_dontcare": True})
    assert names(ps) == ["Car", "DontCare"]
    assert rows(ps)[1]["box"] == [503.89, 169.71, 590.61 - 503.89, 190.13 - 169.71]
    assert "kitti.dontcare_dropped" not in report.counts


def test_parse__devkit_sentinels_read_as_unknown(tmp_path: Path) -> None:
    text = "Car -1 -1 -10 1 2 3 4 -1 -1 -1 -1000 -1000 -1000 -10 0.5\n"
    ps, _ = read(folder_with(tmp_path, {"a.txt": text}))
    (r,) = rows(ps)
    assert "attributes" not in r  # nothing known besides class, box and score
    assert r["box"] == [1.0, 2.0, 2.0, 2.0]


def test_parse__sentinels_per_value_mixed_with_real_values(tmp_path: Path) -> None:
    text = (
        "Car 0.5 2 -10 1 2 3 4 1.5 1.6 3.9 -1000 -1000 -1000 0.25\n"
        "Car -1 -1 0.3 1 2 3 4 -1 -1 -1 1 2 30 -10\n"
        "Car 0.0 -1 -10 1 2 3 4 -1 2 -1 -1000 5 -1000 -10\n"
    )
    ps, _ = read(folder_with(tmp_path, {"a.txt": text}))
    a, b, c = (r.get("attributes", {}) for r in rows(ps))
    assert a == {"truncated": 0.5, "occluded": 2, "dimensions": [1.5, 1.6, 3.9], "rotation_y": 0.25}
    assert b == {"alpha": 0.3, "location": [1.0, 2.0, 30.0]}
    # A triple is unknown only when all three values are the sentinel.
    assert c == {"truncated": 0.0, "dimensions": [-1.0, 2.0, -1.0], "location": [-1000.0, 5.0, -1000.0]}


def test_parse__all_attribute_keys_and_types(tmp_path: Path) -> None:
    ps, _ = read(folder_with(tmp_path, {"a.txt": GT + "\n"}))
    attrs = rows(ps)[0]["attributes"]
    assert attrs == {
        "truncated": 0.0, "occluded": 0, "alpha": -1.57, "dimensions": [2.85, 2.63, 12.34],
        "location": [0.47, 1.49, 69.44], "rotation_y": -1.56,
    }
    assert isinstance(attrs["occluded"], int)


def test_parse__float_occlusion_kept(tmp_path: Path) -> None:
    ps, _ = read(folder_with(tmp_path, {"a.txt": GT.replace(" 0 -1.57", " 0.0000 -1.57", 1) + "\n"}))
    occ = rows(ps)[0]["attributes"]["occluded"]
    assert occ == 0 and isinstance(occ, int)


# -- sources ----------------------------------------------------------------------------------------
def test_parse__single_file_source(tmp_path: Path) -> None:
    d = folder_with(tmp_path, {"000007.txt": RES + "\n", "000008.txt": GT + "\n"})
    ps, _ = read(d / "000007.txt")
    assert [f.data_id for f in ps.frames] == ["000007"]
    assert rows(ps)[0]["score"] == 0.41


def test_parse__nested_folders_give_relative_data_ids(tmp_path: Path) -> None:
    d = folder_with(tmp_path, {"seq1/000001.txt": GT + "\n", "seq2/000001.txt": RES + "\n", "top.txt": ""})
    ps, _ = read(d)
    assert [f.data_id for f in ps.frames] == ["top", "seq1/000001", "seq2/000001"]


def test_parse__unknown_option_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(predport.ConfigError, match="keep_dont_care"):
        read(folder_with(tmp_path, {"a.txt": GT}), options={"keep_dont_care": True})


def test_parse__values_survive_float_parsing_exactly(tmp_path: Path) -> None:
    line = "Car 0.123456789012345 1 -3.0999999999999996 0.1 0.2 0.30000000000000004 0.7 1e-3 2E2 3 4 5 6 7 1e-300"
    ps, _ = read(folder_with(tmp_path, {"a.txt": line + "\n"}))
    (r,) = rows(ps)
    assert r["score"] == 1e-300
    assert r["attributes"]["truncated"] == 0.123456789012345
    assert r["attributes"]["dimensions"] == [1e-3, 200.0, 3.0]
    assert r["box"][2] == 0.30000000000000004 - 0.1
    assert not math.isnan(r["box"][3])


# -- batches: every path gives the same answer ---------------------------------------------------
def _reference(text: str) -> list[tuple[str, list[float], float | None, dict[str, Any]]]:
    """An independent reader of the documented rules (from the right; sentinels -> absent)."""
    out = []
    for line in text.splitlines():
        toks = line.split()
        if not toks:
            continue
        k = len(toks)
        while k > 1 and _number(toks[k - 1]):
            k -= 1
        nums = [float(t) for t in toks[k:]]
        attrs: dict[str, Any] = {}
        if nums[0] != -1:
            attrs["truncated"] = nums[0]
        if nums[1] != -1:
            attrs["occluded"] = nums[1]
        if nums[2] != -10:
            attrs["alpha"] = nums[2]
        if nums[7:10] != [-1, -1, -1]:
            attrs["dimensions"] = nums[7:10]
        if nums[10:13] != [-1000, -1000, -1000]:
            attrs["location"] = nums[10:13]
        if nums[13] != -10:
            attrs["rotation_y"] = nums[13]
        box = [nums[3], nums[4], nums[5] - nums[3], nums[6] - nums[4]]
        out.append((" ".join(toks[:k]), box, nums[14] if len(nums) > 14 else None, attrs))
    return out


def _number(tok: str) -> bool:
    try:
        float(tok)
    except ValueError:
        return False
    return True


def _random_file(rng: Any, i: int) -> str:
    style = i % 7
    lines = []
    for _ in range(rng.randint(0, 12)):
        left, top = round(rng.uniform(0, 1200), rng.randint(0, 3)), round(rng.uniform(0, 370), 2)
        vals = [
            rng.choice([-1, 0.0, round(rng.random(), 2)]), rng.choice([-1, 0, 1, 2, 3]),
            rng.choice([-10, round(rng.uniform(-3.14, 3.14), 2)]),
            left, top, round(left + rng.uniform(0, 200), 2), round(top + rng.uniform(0, 100), 2),
            *rng.choice([[-1, -1, -1], [1.5, 1.6, round(rng.uniform(1, 9), 2)]]),
            *rng.choice([[-1000, -1000, -1000], [round(rng.uniform(-20, 20), 2), 1.5, 30]]),
            rng.choice([-10, round(rng.uniform(-3.14, 3.14), 3)]),
        ]
        if style != 3:
            vals.append(rng.choice([round(rng.random(), 4), 97.85, 123]))
        name = "traffic light" if style == 5 and rng.random() < 0.5 else rng.choice(["Car", "car", "Pedestrian"])
        sep = "\t" if style == 1 else "  " if style == 2 else " "
        line = sep.join([name] + [str(v) for v in vals])
        lines.append(line + (" " if style == 4 else ""))
    end = "\r\n" if style == 6 else "\n"
    text = end.join(lines) + (end if lines and i % 2 else "")
    if style == 0 and lines and i % 3 == 0:
        text = "\n" + text + "\n\n"  # blank lines
    return text


def test_parse__every_path_agrees_with_a_reference_reader_over_many_batches(tmp_path: Path) -> None:
    import random

    rng = random.Random(7)
    files = {f"{i:06d}.txt": _random_file(rng, i) for i in range(400)}  # several batches, every style
    ps, _ = read(folder_with(tmp_path, files))
    assert len(ps.frames) == len(files)
    for frame, (name, text) in zip(ps.frames, sorted(files.items())):
        assert frame.data_id == name[:-4]
        got = [(ps.category(r["category_id"]).name, r["box"], r["score"], r.get("attributes", {}))
               for r in frame.predictions.to_records()]
        assert got == _reference(text), name


def test_parse__one_bad_file_in_a_batch_leaves_the_others_on_the_fast_path(tmp_path: Path) -> None:
    files = {f"{i:06d}.txt": RES + "\n" + GT + "\n" for i in range(300)}
    files["000150.txt"] = RES + "\n" + GT.replace("0.47", "nan") + "\n"
    d = folder_with(tmp_path, files)
    ps, report = read(d, policy="skip")
    assert [len(f.predictions) for f in ps.frames] == [1 if i == 150 else 2 for i in range(300)]
    assert report.skipped_total == 1 and report.skipped[0].file.endswith("000150.txt")
    with pytest.raises(predport.ParseError) as info:
        read(d)
    assert info.value.file.endswith("000150.txt") and (info.value.line, info.value.field) == (2, "location.x")


def test_parse__devkit_trailing_space_files_of_both_widths(tmp_path: Path) -> None:
    files = {"a.txt": GT + " \n" + GT + " \n", "b.txt": RES + " \r\n" + RES + " \r\n", "c.txt": GT + " "}
    ps, _ = read(folder_with(tmp_path, files))
    assert [[r["score"] for r in f.predictions.to_records()] for f in ps.frames] == [
        [None, None], [0.41, 0.41], [None]]
