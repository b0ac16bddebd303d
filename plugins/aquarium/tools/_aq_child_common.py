"""Shared helpers for the child scripts that make_fixtures.py runs inside a
throwaway venv holding one `aquariumlearning` release.

This module never runs in the project's own environment: it is imported by
`_aq_child_legacy.py` / `_aq_child_v1.py`, which sit beside it and are started
with the venv's interpreter (so this directory is on sys.path).

Everything here exists to make the client's *own* serialisation usable for
fixtures: offline, and byte-for-byte repeatable. Nothing edits the installed
package on disk; all changes are monkeypatches that live only in the child
process.
"""

import datetime
import hashlib
import socket
import sys
import types
import uuid
import warnings

# Wall-clock value handed to the client whenever it asks for "now". 1.0.x puts
# str(datetime.now()) into every frame row as `date_captured`; freezing it is
# the only way to get a stable fixture, since InferenceFrame has no
# date_captured argument.
FIXED_NOW = datetime.datetime(2023, 3, 1, 12, 0, 0)

# Project class map used by both generations. 1.0.x resolves every
# inference's class name against the project map at add time (it records the
# id as `class_id`); 0.0.x only checks names at upload time. The ids are also
# the pixel values of the semantic-segmentation masks below.
CLASS_MAP = [
    (0, "background"),
    (1, "car"),
    (2, "person"),
    (3, "lane"),
    (4, "building"),
    (5, "tree"),
    (6, "truck"),
    (7, "outdoor"),
    (8, "highway_scene"),
    (9, "GREETING"),
    (10, "O"),
]

# 6 rows x 8 columns. Semantic mask: pixel = class id from CLASS_MAP.
SEMSEG_MASK = [
    [0, 0, 0, 0, 4, 4, 4, 4],
    [0, 1, 1, 0, 4, 4, 4, 4],
    [0, 1, 1, 0, 0, 2, 2, 0],
    [0, 0, 0, 0, 0, 2, 2, 0],
    [5, 5, 0, 0, 0, 2, 2, 0],
    [5, 5, 0, 0, 0, 0, 0, 0],
]

# Instance mask: pixel = instance id (0 = no instance). Instance 1 covers the
# "car" pixels of SEMSEG_MASK, instance 2 the "person" pixels.
INSTANCE_MASK = [
    [0, 0, 0, 0, 0, 0, 0, 0],
    [0, 1, 1, 0, 0, 0, 0, 0],
    [0, 1, 1, 0, 0, 2, 2, 0],
    [0, 0, 0, 0, 0, 2, 2, 0],
    [0, 0, 0, 0, 0, 2, 2, 0],
    [0, 0, 0, 0, 0, 0, 0, 0],
]

# mask_url values are written relative to the directory holding the .jsonl,
# so a reader can resolve them against the fixture folder.
SEMSEG_URL = "masks/frame_0002_semseg.png"
INSTANCE_URL = "masks/frame_0002_instances.png"
# Deliberately never written: exercises a reader's "unresolved mask" path.
MISSING_SEMSEG_URL = "masks/frame_0005_semseg.png"

# Both client generations run an update check at import time (0.0.67 against
# Aquarium's own package host, 1.0.7 against PyPI's JSON API). Offline the
# first raises and kills the import; online the second makes the output
# depend on the network. Either way we answer it locally.
_UPDATE_CHECK_HOSTS = ("aquarium-not-pypi.web.app", "pypi.org/pypi/aquariumlearning")


def log(msg):
    print(f"[child] {msg}", file=sys.stderr, flush=True)


def _block_network():
    """Fail loudly if anything in the client tries to reach a server.

    Fixtures must come from local code paths only; a silent network call would
    make the output depend on a service that may no longer exist.
    """

    def _refuse(*args, **kwargs):
        raise OSError("network access is disabled while generating fixtures")

    socket.socket.connect = _refuse  # type: ignore[method-assign]
    socket.create_connection = _refuse  # type: ignore[assignment]


def import_client():
    """Import `aquariumlearning` offline, answering its import-time update check."""
    _block_network()
    # 0.0.67's id-validation regex trips a Python 3.11 FutureWarning
    # ("Possible nested set") on every call; it is noise for our purposes.
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"aquariumlearning\.")
    import requests

    real_get = requests.get

    def _fake_get(url, *args, **kwargs):
        if not any(h in str(url) for h in _UPDATE_CHECK_HOSTS):
            raise OSError(f"unexpected HTTP GET during import: {url}")
        log(f"answered import-time update check locally (404): {url}")
        resp = requests.models.Response()
        resp.status_code = 404  # client treats non-200 as "no newer version"
        resp.url = url
        resp._content = b""
        return resp

    requests.get = _fake_get
    try:
        import aquariumlearning
    finally:
        requests.get = real_get
    _freeze_clock()
    return aquariumlearning


class _FrozenDatetime(datetime.datetime):
    @classmethod
    def now(cls, tz=None):
        return cls.combine(FIXED_NOW.date(), FIXED_NOW.time(), tzinfo=tz)


def _freeze_clock():
    """Give every client module that did `import datetime` a frozen clock.

    Only the client's modules see it (their module-global `datetime` name is
    swapped), so the rest of the process keeps the real clock.
    """
    frozen_module = types.ModuleType("datetime")
    frozen_module.__dict__.update(datetime.__dict__)
    frozen_module.datetime = _FrozenDatetime  # type: ignore[attr-defined]
    for name, mod in list(sys.modules.items()):
        if name.startswith("aquariumlearning") and getattr(mod, "datetime", None) is datetime:
            mod.datetime = frozen_module


def deterministic_uuid4(seed):
    """Return a uuid4() stand-in that yields the same version-4 UUIDs each run.

    0.0.67 names each `mask_data` asset with uuid4(); the name lands in the
    JSONL row as `asset_uuid`, so a random one would churn the fixture.
    """
    counter = [0]

    def _uuid4():
        counter[0] += 1
        digest = hashlib.sha256(f"{seed}:{counter[0]}".encode()).digest()[:16]
        return uuid.UUID(bytes=digest, version=4)

    return _uuid4


def concat_files(paths, out_path):
    """Write the client's upload files, byte for byte, as one fixture file."""
    with open(out_path, "wb") as out:
        for p in paths:
            with open(p, "rb") as f:
                out.write(f.read())


def probe(description, fn):
    """Run one call that the client is expected to refuse; log what it said.

    These probes document validation behaviour for the README; they do not
    contribute to the fixture file.
    """
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - we want the client's own message
        log(f"REFUSED  {description}: {type(e).__name__}: {e}")
        return
    log(f"ACCEPTED {description}")
