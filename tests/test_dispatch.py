"""Dispatch by declaration: the hub calls parse, to_canonical and from_canonical only on the
plugin that declared the format, so no plugin needs (or has) an ``if format != X`` guard, and
third-party plugins that still have the guard keep working."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

import predport

REPO = Path(__file__).resolve().parents[1]


class _Plugin:
    """A third-party-style in-process plugin; ``guarded`` adds the old first-line guard."""

    def __init__(self, fid: str, guarded: bool) -> None:
        self.fid, self.guarded, self.calls = fid, guarded, []

    def _mine(self, hook: str, format: str) -> bool:
        self.calls.append((hook, format))
        return format == self.fid or not self.guarded

    @predport.hookimpl
    def formats(self):
        return [predport.FormatInfo(id=self.fid, title=self.fid, can_read=True, can_write=True, target="file",
                                    holds=frozenset({"empty_frames"}))]

    @predport.hookimpl
    def parse(self, source, format):
        if not self._mine("parse", format):
            return None
        return iter(source.path.read_text().split()[1:])

    @predport.hookimpl
    def to_canonical(self, records, format):
        if not self._mine("to_canonical", format):
            return None
        return (predport.Frame(data_id=r) for r in records)

    @predport.hookimpl
    def from_canonical(self, stream, format, target):
        if not self._mine("from_canonical", format):
            return None
        target.write_bytes(None, (self.fid.upper() + " " + " ".join(f.data_id for f in stream.frames)).encode())
        return True


@pytest.fixture
def pair(hub):
    guarded, bare = _Plugin("guarded", guarded=True), _Plugin("bare", guarded=False)
    # The guard-less plugin registered last: pluggy would ask it first for every format.
    hub.register(guarded, name="guarded")
    hub.register(bare, name="bare")
    return hub, guarded, bare


@pytest.mark.parametrize("fid", ["guarded", "bare"])
def test_dispatch__each_format_is_read_and_written_by_its_declaring_plugin_only(pair, tmp_path, fid):
    hub, guarded, bare = pair
    src = tmp_path / "in.txt"
    src.write_text("X a.jpg b.jpg")
    data = predport.load(src, format=fid)
    assert [f.data_id for f in data.frames] == ["a.jpg", "b.jpg"]
    out = tmp_path / "out.txt"
    predport.save(data, out, format=fid)
    assert out.read_text() == f"{fid.upper()} a.jpg b.jpg"
    owner, other = (guarded, bare) if fid == "guarded" else (bare, guarded)
    assert owner.calls == [("parse", fid), ("to_canonical", fid), ("from_canonical", fid)]
    assert other.calls == []  # never asked about a format it did not declare


def test_dispatch__a_declaring_plugin_that_returns_none_is_named(hub, tmp_path):
    class Silent(_Plugin):
        @predport.hookimpl
        def parse(self, source, format):
            return None

    hub.register(_Plugin("bare", guarded=False), name="bare")
    hub.register(Silent("silent", guarded=True), name="silent")
    src = tmp_path / "in.txt"
    src.write_text("X a.jpg")
    with pytest.raises(predport.PluginError, match=r"'silent' is declared readable.*parse\(\)") as err:
        predport.load(src, format="silent")
    assert "silent" in str(err.value.plugin)


def test_dispatch__no_first_party_plugin_has_a_format_guard():
    files = sorted(REPO.glob("plugins/*/src/predport_*/*.py")) + sorted(
        (REPO / "docs" / "template" / "src").glob("predport_*/*.py")) + [REPO / "core/predport/canonical_plugin.py"]
    assert len(files) > 40
    guard = re.compile(r"(?<![\w.])format\s*(!=|not in)\s*")
    found = [f"{p.relative_to(REPO)}:{i}" for p in files
             for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if guard.search(line)]
    assert found == [], "read/write hooks are dispatched by declaration: remove the guards " + ", ".join(found)
