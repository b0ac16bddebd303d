"""Hypothesis fuzzing of every reader: only ``PredportError``s escape, and what is read round-trips.

Short profile (default, in the normal suite): a few dozen mutated inputs per format.
Long profile, on demand::

    PREDPORT_FUZZ=long PREDPORT_FUZZ_EXAMPLES=12000 nice -n 10 python -m pytest -q -s tests/test_fuzz_readers.py

counts every input instead of stopping at the first failure, prints the counts per
format (accepted, refused, warnings, slowest input, peak memory) and fails at the end
if any input broke the property (see ``tests/fuzzing.py``). ``PREDPORT_FUZZ_REPORT=file``
also writes the counts and failures as JSON.
"""
from __future__ import annotations

import importlib.util
import json
import os
import sys
import traceback
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings


def _kit():
    if "predport_fuzzing" not in sys.modules:  # tests/ is not a package (--import-mode=importlib)
        spec = importlib.util.spec_from_file_location("predport_fuzzing", Path(__file__).with_name("fuzzing.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules["predport_fuzzing"] = module
        spec.loader.exec_module(module)
    return sys.modules["predport_fuzzing"]


fuzzing = _kit()

LONG = os.environ.get("PREDPORT_FUZZ", "").lower() == "long"
EXAMPLES = int(os.environ.get("PREDPORT_FUZZ_EXAMPLES", "12000")) if LONG else 25
STATS: Counter[str] = Counter()
FAILURES: list[dict[str, object]] = []

settings.register_profile("predport-fuzz", max_examples=EXAMPLES, deadline=None, database=None,
                          suppress_health_check=list(HealthCheck), derandomize=not LONG)
FUZZ = settings.get_profile("predport-fuzz")


@pytest.fixture(scope="module", autouse=True)
def _hub():
    import predport

    old = predport.reset_hub(predport.Hub())
    yield
    predport.reset_hub(old)


@pytest.mark.parametrize("fmt", fuzzing.readable_formats())
def test_fuzz__reader_raises_only_predport_errors_and_round_trips(fmt):
    @FUZZ
    @given(case=fuzzing.inputs(fmt))
    def run(case):
        kind, files = case
        STATS[f"{fmt} inputs"] += 1
        if LONG and STATS[f"{fmt} inputs"] % 250 == 0:
            _write_report()
        try:
            fuzzing.check_input(fmt, kind, files, STATS)
        except Exception as exc:
            if not LONG:
                raise
            FAILURES.append({"format": fmt, "error": f"{type(exc).__name__}: {exc}"[:500],
                             "where": traceback.format_exc().splitlines()[-3:],
                             "files": {k: (v[:300].decode("latin-1") if v is not None else "<fifo>")
                                       for k, v in files.items()}})

    run()
    if LONG:
        _write_report()  # after every format: a long run stopped early still leaves its counts
    assert STATS[f"{fmt} inputs"] >= min(EXAMPLES, 10)


def _write_report() -> None:
    if os.environ.get("PREDPORT_FUZZ_REPORT"):
        with open(os.environ["PREDPORT_FUZZ_REPORT"], "w") as fh:
            json.dump({"stats": STATS, "failures": FAILURES}, fh, indent=1, default=str)


def test_fuzz__report():
    """Last: print the counts (long profile) and fail on any recorded failure."""
    if LONG:
        print("\nfuzz counts:", json.dumps(dict(sorted(STATS.items())), indent=1))
        kinds = Counter(f"{f['format']}: {str(f['error'])[:120]}" for f in FAILURES)
        for k, n in kinds.most_common(40):
            print(f"FAILURE x{n}: {k}")
        _write_report()
    assert not FAILURES, f"{len(FAILURES)} input(s) broke the property"
    assert sum(v for k, v in STATS.items() if k.endswith(" inputs")) > 0
