"""The per-class "unmapped class" counts equal what was dropped, in every reader.

For each bundled example: read it once without a class map (every prediction and its class
name), then with a class map of its most frequent class only, under ``policy="skip"``. The
predictions that did not come back are exactly the ones counted in
``categories.unmapped``, class by class (the summary's "unmapped class 'X': N" lines).
"""
from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path

import pytest

import predport

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"


def _examples() -> list[tuple[str, dict]]:
    spec = importlib.util.spec_from_file_location("run_examples", EXAMPLES_DIR / "run_examples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return [(rel, dict(kw)) for rel, kw, _second in module.EXAMPLES]


@pytest.mark.parametrize("rel,kwargs", _examples(), ids=[rel.split("/")[0] for rel, _ in _examples()])
def test_unmapped_counts_equal_the_predictions_left_out(rel, kwargs, hub):
    kwargs.pop("class_map", None)
    src = EXAMPLES_DIR / rel
    everything = predport.load(src, **kwargs)
    by_name = Counter(everything.category(int(c)).name for f in everything.frames
                      for c in f.predictions.category_id.tolist())
    assert len(by_name) >= 2, f"{rel}: the example needs two classes for this test"
    keep = by_name.most_common(1)[0][0]
    stream = predport.open_stream(src, class_map={keep: 1}, policy="skip", **kwargs)
    kept = stream.collect()
    kept_names = Counter(kept.category(int(c)).name for f in kept.frames for c in f.predictions.category_id.tolist())
    assert kept_names == {keep: by_name[keep]}
    unmapped = dict(stream.categories.unmapped)
    # Keyed by the name the source gives (or its id when it has none); the totals must agree.
    assert sum(unmapped.values()) == sum(by_name.values()) - by_name[keep], unmapped
    named = {k: v for k, v in unmapped.items() if k in by_name}
    for name, n in named.items():
        assert n == by_name[name], (name, unmapped)
