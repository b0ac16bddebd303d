"""The conversion matrix: every readable format's real inputs through every writer and back.

Issue "Convert anything to anything". Each pair (input, writer) is checked in three
aspects, one test each, so that a known bug in one aspect (a strict ``xfail``) does not
hide another:

* ``values`` — frames, geometry, scores, attributes the writer holds survive exactly;
* ``classes`` — category names (and external ids/attributes when held) survive;
* ``loss`` — the loss table names everything the writer does not hold, names nothing that
  survived, and is the same with and without ``allow_loss`` (without it: ``LossError``,
  nothing written).

The cases, the rules and the known bugs are in ``tests/matrix_cases.py``; the table in
``docs/matrix.md`` is generated from the same run (``python tools/matrix_table.py --write``)
and checked here.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

import predport
from predport.cli import main as cli_main
from predport.loss import format_loss_table

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str, path: Path) -> Any:
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


mc = _load("matrix_cases", ROOT / "tests" / "matrix_cases.py")
table = _load("matrix_table", ROOT / "tools" / "matrix_table.py")

WRITERS = mc.writers()
PAIRS = [(case, writer) for case in mc.CASES for writer in WRITERS]


def _params(aspect: str) -> list[Any]:
    params = []
    for case, writer in PAIRS:
        pair = f"{case.id}->{writer}"
        bugs = mc.known_bugs(pair, aspect)
        marks = [pytest.mark.xfail(strict=True, reason="; ".join(b.id + ": " + b.text for b in bugs))] if bugs else []
        params.append(pytest.param(case, writer, id=pair, marks=marks))
    return params


class Matrix:
    """Runs each input through every writer once, on first use, and keeps the results."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.results: dict[str, dict[str, Any] | None] = {}

    def case(self, case: Any) -> dict[str, Any] | None:
        if case.id not in self.results:
            out: dict[str, Any] | None = {}
            for item in mc.run_matrix(self.workdir, [case]):
                if isinstance(item, mc.Case):
                    out = None
                else:
                    out[item.writer] = item
            self.results[case.id] = out
        return self.results[case.id]

    def pair(self, case: Any, writer: str) -> Any:
        row = self.case(case)
        if row is None:
            pytest.skip(f"{case.id}: the input is absent (../shared/corpus is not present)")
        return row[writer]


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Matrix:
    return Matrix(tmp_path_factory.mktemp("matrix"))


def _explain(result: Any, aspect: str) -> str:
    lines = [f"{result.id} [{aspect}]", f"loss table: {result.loss}"]
    lines += [f"  - {text}" for text in result.problems(aspect)]
    return "\n".join(lines)


# -- coverage ---------------------------------------------------------------------------------

def test_matrix__covers_every_readable_format_and_every_writer() -> None:
    readable = set(mc.readable_formats())
    formats = {case.format for case in mc.CASES}
    assert formats == readable, f"inputs missing for {sorted(readable - formats)}; unknown {sorted(formats - readable)}"
    # Every readable format has an input that needs no corpus, so a fresh clone checks it too.
    offline = {case.format for case in mc.CASES if case.root != "corpus"}
    assert offline == readable, f"only corpus inputs for {sorted(readable - offline)}"
    assert len({c.id for c in mc.CASES}) == len(mc.CASES)
    assert WRITERS and len(PAIRS) == len(mc.CASES) * len(WRITERS)


def test_matrix__known_bugs_name_existing_pairs() -> None:
    pairs = {f"{case.id}->{writer}" for case, writer in PAIRS}
    for bug in mc.KNOWN_BUGS:
        assert bug.aspect in mc.ASPECTS, bug.id
        assert set(bug.pairs) <= pairs, f"{bug.id}: {sorted(set(bug.pairs) - pairs)}"


# -- the pairs --------------------------------------------------------------------------------

@pytest.mark.parametrize(("case", "writer"), _params("values"))
def test_matrix__held_fields_survive(matrix: Matrix, case: Any, writer: str) -> None:
    result = matrix.pair(case, writer)
    assert not result.problems("values"), _explain(result, "values")
    if result.refused is None:
        assert result.survived or result.lost, "nothing was compared"


@pytest.mark.parametrize(("case", "writer"), _params("classes"))
def test_matrix__classes_survive(matrix: Matrix, case: Any, writer: str) -> None:
    result = matrix.pair(case, writer)
    assert not result.problems("classes"), _explain(result, "classes")


@pytest.mark.parametrize(("case", "writer"), _params("loss"))
def test_matrix__loss_table_is_right(matrix: Matrix, case: Any, writer: str) -> None:
    result = matrix.pair(case, writer)
    assert not result.problems("loss"), _explain(result, "loss")


@pytest.mark.parametrize("writer", WRITERS)
def test_matrix__every_output_is_detected_as_its_writer_and_claimed_by_nothing_else(matrix: Matrix, writer: str) -> None:
    """Issue #13: ``predport detect`` on what a writer wrote names that writer's format, and no
    other format votes for it above ``EXTENSION`` (a weaker reading never wins, nor ties)."""
    hub = predport.get_hub()
    checked, wrong = 0, []
    for case in mc.CASES:
        row = matrix.case(case)
        if row is None or row[writer].output is None:
            continue
        out = row[writer].output
        votes = hub.detect(out)
        try:
            got = hub.pick(out, votes).id
        except predport.PredportError as err:
            got = f"refused: {err}"
        others = [f"{v.format} {v.confidence}: {v.reason}" for v in votes
                  if v.format != writer and v.confidence > predport.Confidence.EXTENSION]
        if got != writer or others:
            wrong.append(f"{case.id}->{writer}: detected {got}; other claims {others}")
        checked += 1
    assert checked, f"no output of {writer} was written"
    assert not wrong, "\n".join(wrong)


def test_matrix__own_format_round_trips_lose_nothing_but_what_the_writer_does_not_hold(matrix: Matrix) -> None:
    """Reading a format and writing it again keeps every field the input has (except sizes that
    live in the images, and what the format's own writer does not hold)."""
    hub = predport.get_hub()
    for case in mc.CASES:
        row = matrix.case(case)
        if row is None or case.format not in row:
            continue
        result = row[case.format]
        holds = hub.format_info(case.format).holds
        assert result.refused is None, result.id
        unheld = {f for f in result.present if f in ("score",) + mc.PRED_FIELDS + ("frame_index", "size",
                                                                                   "frame_attributes")
                  and f not in holds}
        if "category_extras" in result.present and not {"category_external_id", "category_attributes"} <= holds:
            unheld.add("category_extras")
        assert set(result.lost) <= unheld | {"size"}, (result.id, result.lost, result.loss)


# -- the acceptance through the command line --------------------------------------------------

def test_matrix__cli_refuses_a_lossy_conversion_with_the_table_and_allow_loss_prints_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = ROOT / "examples" / "coco" / "results.json"
    gt = ROOT / "examples" / "coco" / "gt.json"
    expected = predport.convert(src, tmp_path / "api", to="kitti", allow_loss=True, options={"gt": str(gt)})["loss"]
    # KITTI has no masks, no frame attributes (the COCO image ids) and no category attributes (the
    # supercategories of the ground truth), and image sizes live in the images.
    assert expected == {"categories.attributes": 2, "frames.attributes.image_id": 3, "frames.width/height": 3,
                        "predictions.mask": 1}
    table_text = format_loss_table(expected)

    out = tmp_path / "kitti"
    argv = ["convert", str(src), str(out), "--to", "kitti", "-o", f"gt={gt}"]
    code = cli_main(argv)
    err = capsys.readouterr().err
    assert code == 3
    # Refused at the first frame that loses content (the mask is on the second image): the table
    # says what was lost up to there, both kinds apart.
    assert format_loss_table({"frames.attributes.image_id": 2, "frames.width/height": 2,
                              "predictions.mask": 1}) in err
    assert not out.exists()

    code = cli_main(argv + ["--allow-loss"])
    printed = capsys.readouterr().out
    assert code == 0
    assert "lost (allowed by --allow-loss):\n" + table_text in printed
    assert sorted(p.name for p in out.iterdir()) == ["street_0001.txt", "street_0002.txt", "street_0003.txt"]


# -- the documentation ------------------------------------------------------------------------

def test_matrix__docs_table_is_what_the_matrix_produces(matrix: Matrix) -> None:
    results = []
    for case in mc.CASES:
        row = matrix.case(case)
        if row is not None:
            results += list(row.values())
    generated = table.rows_by_case(table.table_lines(results, mc, WRITERS))
    documented = table.rows_by_case(table.table_in((ROOT / "docs" / "matrix.md").read_text(encoding="utf-8")))
    stale = {k: (documented.get(k), v) for k, v in generated.items() if documented.get(k) != v}
    assert not stale, ("docs/matrix.md is out of date; run `python tools/matrix_table.py --write`:\n"
                       + "\n".join(f"{k}:\n  documented {d}\n  generated  {g}" for k, (d, g) in stale.items()))
    unknown = set(documented) - {c.id for c in mc.CASES} - {"header"}
    assert not unknown, f"docs/matrix.md has rows for inputs the matrix does not have: {sorted(unknown)}"
