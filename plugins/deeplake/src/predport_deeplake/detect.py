"""Detection of Deep Lake datasets: reads only the dataset's own log files (``_deeplake_log/_meta/*.jsonl``)."""
from __future__ import annotations

import os

import predport

from .hooks import FORMAT_ID

LOG_META = "_deeplake_log/_meta"
#: Entries of ``_deeplake_log/_meta`` looked at by detection (a few per dataset in practice).
META_SCAN_LIMIT = 64


def _first_commit_line(source: predport.Source) -> tuple[str, bytes] | None:
    """The first line of a ``_deeplake_log/_meta`` log file, with its relative path."""
    folder = source.path / LOG_META
    try:
        with os.scandir(folder) as it:
            names = []
            for i, entry in enumerate(it):
                if i >= META_SCAN_LIMIT:
                    break
                if entry.name.endswith(".jsonl") and entry.is_file():
                    names.append(entry.name)
    except OSError:
        return None
    for name in sorted(names):
        rel = f"{LOG_META}/{name}"
        line = source.head(rel, size=4096).split(b"\n", 1)[0]
        if line:
            return rel, line
    return None


def detect(source: predport.Source) -> predport.FormatMatch | None:
    """A Deep Lake 4.x dataset by its own commit log (never a folder name); 3.x refused with a reason."""
    if not source.is_dir:
        return None
    if source.has(LOG_META):
        found = _first_commit_line(source)
        if found is None:
            return predport.FormatMatch(FORMAT_ID, predport.Confidence.LOW,
                                        f"a {LOG_META} folder without a readable log file")
        rel, line = found
        import json

        try:
            release = json.loads(line)["commit"]["release"]
        except (ValueError, KeyError, TypeError):
            return predport.FormatMatch(FORMAT_ID, predport.Confidence.LOW,
                                        f"{rel} does not start with a Deep Lake commit record")
        if not isinstance(release, str) or not release.startswith("4."):
            return predport.FormatMatch(FORMAT_ID, predport.Confidence.NO,
                                        f"a Deep Lake dataset written by release {release!r}; this plugin reads 4.x")
        return predport.FormatMatch(FORMAT_ID, predport.Confidence.CERTAIN,
                                    f"a Deep Lake dataset ({rel} written by deeplake {release})")
    if source.has("dataset_meta.json") and source.has("version_control_info.json"):
        return predport.FormatMatch(FORMAT_ID, predport.Confidence.NO,
                                    "a Deep Lake 3.x dataset: convert it to 4.x first with deeplake.convert")
    return None
