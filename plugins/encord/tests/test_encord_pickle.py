"""Encord Active saved predictions as a pickle; predport never unpickles anything."""
from __future__ import annotations

import pickle
from pathlib import Path

import pytest

import predport


class _Payload:
    """Unpickling this runs ``exec``, which writes a marker file: the proof of execution."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (exec, (f"open({str(self.marker)!r}, 'w').write('unpickled')",))


@pytest.fixture
def no_unpickling(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any use of the pickle machinery fails the test."""

    def refuse(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("predport tried to unpickle")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)


def malicious(tmp_path: Path, name: str) -> tuple[Path, Path]:
    marker = tmp_path / f"{name}.executed"
    path = tmp_path / name
    path.write_bytes(pickle.dumps([_Payload(marker)], protocol=4))
    return path, marker


def test_pickle__detection_rejects_with_reason_and_runs_nothing(tmp_path: Path, no_unpickling: None) -> None:
    path, marker = malicious(tmp_path, "predictions.pkl")
    votes = [v for v in predport.detect(path) if v.format == "encord"]
    assert votes and votes[0].confidence == predport.Confidence.NO
    assert "never loads pickles" in votes[0].reason
    assert not marker.exists()


def test_pickle__load_raises_a_clear_error_and_runs_nothing(tmp_path: Path, no_unpickling: None) -> None:
    path, marker = malicious(tmp_path, "predictions.pkl")
    with pytest.raises(predport.UnknownFormatError, match="never loads pickles"):
        predport.load(path)
    with pytest.raises(predport.ParseError, match="never loads pickles") as exc:
        predport.load(path, format="encord")
    assert exc.value.file == str(path)
    assert not marker.exists()


def test_pickle__content_is_recognised_whatever_the_name(tmp_path: Path, no_unpickling: None) -> None:
    path, marker = malicious(tmp_path, "predictions.json")
    with pytest.raises(predport.ParseError, match="never loads pickles"):
        predport.load(path, format="encord")
    with pytest.raises(predport.PredportError):
        predport.convert(path, tmp_path / "out.json", to="canonical")
    assert not marker.exists()
    assert not (tmp_path / "out.json").exists()


def test_pickle__the_fixture_really_executes_code_when_unpickled(tmp_path: Path) -> None:
    # Guards the tests above: the payload is live, so "no marker" means "not unpickled".
    path, marker = malicious(tmp_path, "predictions.pkl")
    pickle.loads(path.read_bytes())
    assert marker.read_text() == "unpickled"
