"""Deep Lake datasets on S3 (and S3-compatible servers): Deep Lake talks to the store itself.

A Deep Lake dataset on object storage is written by ``deeplake`` (``deeplake.open(url,
creds=...)``), never through predport's staged upload and manifest: Deep Lake updates a
dataset in place (new log entries, a changed ``_deeplake_log/_meta/next_base``), so a
predport manifest listing the files and their sizes would be stale after the next
commit. The output's storage options (``--storage-option``) become Deep Lake's ``creds``;
what has no Deep Lake equivalent is refused, never dropped. Environment credentials
(``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL``) are read by
Deep Lake itself.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import predport

#: Protocols whose storage options this plugin maps onto Deep Lake's creds.
PROTOCOLS = ("s3", "s3a")
#: s3fs storage option -> Deep Lake creds key.
S3_CREDS = {"key": "aws_access_key_id", "secret": "aws_secret_access_key", "token": "aws_session_token",
            "endpoint_url": "endpoint_url"}
#: ``client_kwargs`` entries (botocore client arguments) -> Deep Lake creds key.
S3_CLIENT_CREDS = {"endpoint_url": "endpoint_url", "region_name": "aws_region",
                   "aws_access_key_id": "aws_access_key_id", "aws_secret_access_key": "aws_secret_access_key",
                   "aws_session_token": "aws_session_token"}
#: The dataset's own log; the last thing copied up when a new dataset is published.
LOG_META = "_deeplake_log/_meta"


def creds(url: str, storage_options: Mapping[str, Any]) -> dict[str, Any]:
    """Deep Lake ``creds`` for ``url`` from predport's storage options; refused when not mappable."""
    proto = url.split("://", 1)[0].lower()
    if proto not in PROTOCOLS:
        raise predport.OutputError(
            f"the deeplake plugin reads and writes datasets on local paths and s3:// only, not {proto}://",
            file=url, hint="Deep Lake's gcs:// and az:// credentials are not mapped from storage options here; "
                           "write a local dataset and copy it with deeplake.copy")
    out: dict[str, Any] = {}
    for key, value in storage_options.items():
        if key in S3_CREDS:
            out[S3_CREDS[key]] = value
        elif key == "client_kwargs" and isinstance(value, Mapping):
            for ckey, cvalue in value.items():
                if ckey not in S3_CLIENT_CREDS:
                    raise _unmapped(url, f"client_kwargs.{ckey}")
                out[S3_CLIENT_CREDS[ckey]] = cvalue
        elif key in ("anon", "use_listings_cache", "skip_instance_cache") and not value:
            continue  # the defaults: nothing to pass on
        else:
            raise _unmapped(url, key)
    return out


def _unmapped(url: str, key: str) -> predport.ConfigError:
    known = sorted(S3_CREDS) + [f"client_kwargs.{k}" for k in sorted(S3_CLIENT_CREDS)]
    return predport.ConfigError(
        f"storage option {key!r} has no Deep Lake equivalent: a Deep Lake dataset on {url} is opened by "
        "deeplake itself, with creds", field=key,
        hint=f"storage options Deep Lake takes: {', '.join(known)} (or the AWS_* environment variables)")


def _fs(url: str, storage_options: Mapping[str, Any]) -> tuple[Any, str]:
    import fsspec

    return fsspec.core.url_to_fs(url, **dict(storage_options))


def state(url: str, storage_options: Mapping[str, Any], cred: Mapping[str, Any]) -> str:
    """``"dataset"``, ``"empty"`` (missing, or a folder with no objects) or ``"other"``."""
    import deeplake

    try:
        if deeplake.exists(url, creds=dict(cred)):
            return "dataset"
    except Exception as exc:  # deeplake's own storage errors: network, access denied
        raise predport.OutputError(f"cannot reach the Deep Lake dataset: {type(exc).__name__}: {exc}",
                                   file=url, hint="check the endpoint and credentials (--storage-option)") from None
    fs, key = _fs(url, storage_options)
    try:
        return "other" if fs.exists(key) and fs.find(key, maxdepth=None, withdirs=False)[:1] else "empty"
    except FileNotFoundError:
        return "empty"


def publish(local: Path, url: str, storage_options: Mapping[str, Any]) -> None:
    """Copy a new, committed dataset up: every object first, its log (``_deeplake_log/_meta``) last,
    so that the dataset exists for Deep Lake (and predport's detection) only once it is complete.
    A failed copy removes what it uploaded."""
    fs, key = _fs(url, storage_options)
    files = sorted(p.relative_to(local).as_posix() for p in local.rglob("*") if p.is_file())
    body = [r for r in files if not r.startswith(LOG_META + "/")]
    log = [r for r in files if r.startswith(LOG_META + "/")]
    done: list[str] = []
    try:
        for group in (body, log):
            for i in range(0, len(group), 1000):
                chunk = group[i:i + 1000]
                _put(fs, local, key, chunk)
                done += chunk
    except BaseException as exc:
        try:
            if done:
                fs.rm([f"{key}/{r}" for r in done])
        except OSError:
            pass
        if isinstance(exc, Exception):
            raise predport.OutputError(f"upload of the new dataset failed ({type(exc).__name__}: {exc}); "
                                       "what was uploaded is removed", file=url) from None
        raise


def _put(fs: Any, local: Path, key: str, rels: list[str]) -> None:
    """Upload ``rels`` (relative paths of ``local``) below ``key``: one batch (the kill test stops here)."""
    fs.put([str(local / r) for r in rels], [f"{key}/{r}" for r in rels])
