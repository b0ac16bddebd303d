"""Deep Lake datasets on S3 (and S3-compatible servers), GCS and Azure: Deep Lake talks to the store itself.

A Deep Lake dataset on object storage is written by ``deeplake`` (``deeplake.open(url,
creds=...)``), never through predport's staged upload and manifest: Deep Lake updates a
dataset in place (new log entries, a changed ``_deeplake_log/_meta/next_base``), so a
predport manifest listing the files and their sizes would be stale after the next
commit. The output's storage options (``--storage-option``, fsspec's names: s3fs, gcsfs,
adlfs) become Deep Lake's ``creds`` (and, for Azure, its URL: :func:`locate`); what has no
Deep Lake equivalent is refused, never dropped. Environment credentials
(``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL``) are read by
Deep Lake itself.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import predport

#: Protocols whose storage options this plugin maps onto Deep Lake's creds (and URL).
S3_PROTOCOLS = ("s3", "s3a")
GCS_PROTOCOLS = ("gs", "gcs")
AZURE_PROTOCOLS = ("az", "abfs", "abfss")
PROTOCOLS = S3_PROTOCOLS + GCS_PROTOCOLS + AZURE_PROTOCOLS
#: s3fs storage option -> Deep Lake creds key.
S3_CREDS = {"key": "aws_access_key_id", "secret": "aws_secret_access_key", "token": "aws_session_token",
            "endpoint_url": "endpoint_url"}
#: ``client_kwargs`` entries (botocore client arguments) -> Deep Lake creds key.
S3_CLIENT_CREDS = {"endpoint_url": "endpoint_url", "region_name": "aws_region",
                   "aws_access_key_id": "aws_access_key_id", "aws_secret_access_key": "aws_secret_access_key",
                   "aws_session_token": "aws_session_token"}
#: adlfs storage option -> Deep Lake creds key (Deep Lake 4.x documents ``account_key`` or ``sas_token``;
#: the account itself is part of Deep Lake's URL, ``az://ACCOUNT/CONTAINER/PATH``).
AZURE_CREDS = {"account_key": "account_key", "sas_token": "sas_token"}
#: Parts of an Azure connection string -> adlfs option (only the public cloud's endpoints map).
AZURE_CONNECTION_PARTS = {"accountname": "account_name", "accountkey": "account_key",
                          "sharedaccesssignature": "sas_token"}
AZURE_SUFFIX = "core.windows.net"
#: Options that mean "nothing to pass on" when false, for every protocol.
_NEUTRAL = ("anon", "use_listings_cache", "skip_instance_cache")
#: The dataset's own log; the last thing copied up when a new dataset is published.
LOG_META = "_deeplake_log/_meta"


def creds(url: str, storage_options: Mapping[str, Any]) -> dict[str, Any]:
    """Deep Lake ``creds`` for ``url`` from predport's storage options; refused when not mappable."""
    return locate(url, storage_options)[1]


def locate(url: str, storage_options: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """``(Deep Lake URL, creds)`` for an fsspec ``url`` and its storage options (``--storage-option``).

    * ``s3://`` — the URL as given; s3fs keys mapped (:data:`S3_CREDS`, ``client_kwargs``);
    * ``gs://`` — ``gcs://BUCKET/PATH``; gcsfs's ``token`` as Deep Lake documents GCS creds: the
      service-account JSON's content (a dict, or the path of the JSON file, read here), or nothing
      (``None``/``google_default``: Deep Lake's own default, ``GOOGLE_APPLICATION_CREDENTIALS``);
    * ``az://CONTAINER/PATH`` (adlfs's form) — ``az://ACCOUNT/CONTAINER/PATH`` (Deep Lake's), the
      account from ``account_name`` (or a connection string, or ``AZURE_STORAGE_ACCOUNT_NAME``),
      with ``account_key`` or ``sas_token``.

    Anything else is refused with its name and the reason, never dropped."""
    proto, _, rest = url.partition("://")
    proto = proto.lower()
    if proto in S3_PROTOCOLS:
        return url, _s3_creds(url, storage_options)
    if proto in GCS_PROTOCOLS:
        return "gcs://" + rest, _gcs_creds(url, storage_options)
    if proto in AZURE_PROTOCOLS:
        return _azure(url, rest, storage_options)
    raise predport.OutputError(
        f"the deeplake plugin reads and writes datasets on local paths, s3://, gs:// and az:// only, not {proto}://",
        file=url, hint="write a local dataset and copy it with deeplake.copy")


def _s3_creds(url: str, storage_options: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in storage_options.items():
        if key in S3_CREDS:
            out[S3_CREDS[key]] = value
        elif key == "client_kwargs" and isinstance(value, Mapping):
            for ckey, cvalue in value.items():
                if ckey not in S3_CLIENT_CREDS:
                    raise _unmapped(url, f"client_kwargs.{ckey}")
                out[S3_CLIENT_CREDS[ckey]] = cvalue
        elif key in _NEUTRAL and _false(value):
            continue  # the defaults: nothing to pass on
        else:
            raise _unmapped(url, key)
    return out


def _gcs_creds(url: str, storage_options: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in storage_options.items():
        if key in _NEUTRAL and _false(value):
            continue
        if key != "token":
            raise _unmapped(url, key)
        if value is None or value == "google_default":
            continue  # Deep Lake's default credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud's ADC)
        if isinstance(value, Mapping):
            out.update(_service_account(url, dict(value), "token"))
        elif isinstance(value, str) and value in ("anon", "browser", "cache", "cloud"):
            raise predport.ConfigError(
                f"storage option token={value!r} has no Deep Lake creds equivalent: predport passes Deep Lake a "
                "service account's JSON (or nothing, for Deep Lake's default credentials)", field="token",
                hint="give --storage-option token=PATH/key.json (a service-account key file), or set "
                     "GOOGLE_APPLICATION_CREDENTIALS and leave token out")
        elif isinstance(value, str):
            out.update(_service_account(url, _json_file(value), f"token={value}"))
        else:
            raise _unmapped(url, "token", f"a {type(value).__name__}")
    return out


def _false(value: Any) -> bool:
    """False, or the CLI's words for it (``--storage-option anon=false`` arrives as text)."""
    return not value or (isinstance(value, str) and value.strip().lower() in ("false", "0", "no", "off"))


def _json_file(path: str) -> dict[str, Any]:
    import json

    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except OSError as exc:
        raise predport.ConfigError(f"storage option token: cannot read the key file: {exc.strerror}", file=path,
                                   field="token") from None
    except ValueError as exc:
        raise predport.ConfigError(f"storage option token: the key file is not JSON: {exc}", file=path,
                                   field="token") from None
    if not isinstance(doc, dict):
        raise predport.ConfigError("storage option token: the key file is not a JSON object", file=path,
                                   field="token")
    return doc


def _service_account(url: str, doc: dict[str, Any], where: str) -> dict[str, Any]:
    """A service account's JSON, as Deep Lake takes it for GCS (keys and values as in the file)."""
    if "type" not in doc:
        raise predport.ConfigError(f"storage option {where}: not a Google credentials JSON (no 'type' key)",
                                   file=url, field="token", hint="use the JSON key file of a service account")
    return doc


def _azure(url: str, rest: str, storage_options: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    import os

    opts = dict(storage_options)
    account = opts.pop("account_name", None)
    out: dict[str, Any] = {}
    conn = opts.pop("connection_string", None)
    if conn is not None:
        parsed = _connection_string(url, str(conn))
        named = parsed.pop("account_name", None)
        if account is not None and named is not None and named != account:
            raise predport.ConfigError(f"account_name={account!r} and the connection string's AccountName="
                                       f"{named!r} differ", file=url, field="account_name")
        account = account or named
        out.update({AZURE_CREDS[k]: v for k, v in parsed.items()})
    for key, value in opts.items():
        if key in AZURE_CREDS:
            out[AZURE_CREDS[key]] = value
        elif key in _NEUTRAL and _false(value):
            continue
        elif key in ("tenant_id", "client_id", "client_secret", "credential"):
            raise predport.ConfigError(
                f"storage option {key!r} has no Deep Lake creds equivalent (Deep Lake 4.x takes account_key or "
                "sas_token for Azure)", file=url, field=key,
                hint="set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET in the environment "
                     "(Azure's default credential chain, read by Deep Lake), or give account_key / sas_token")
        else:
            raise _unmapped(url, key)
    container, _, path = rest.partition("/")
    if "@" in container:  # abfs://CONTAINER@ACCOUNT.dfs.core.windows.net/PATH
        container, _, host = container.partition("@")
        host_account = host.split(".", 1)[0]
        if account is not None and account != host_account:
            raise predport.ConfigError(f"account_name={account!r} and the URL's account {host_account!r} differ",
                                       file=url, field="account_name")
        account = host_account
    if account is None:
        account = os.environ.get("AZURE_STORAGE_ACCOUNT_NAME") or None
    if not account:
        raise predport.ConfigError(
            "Deep Lake names the Azure storage account in its URL (az://ACCOUNT/CONTAINER/PATH); this az:// URL "
            "names the container only (adlfs's form) and no account is given", file=url, field="account_name",
            hint="pass --storage-option account_name=ACCOUNT (or a connection string, or set AZURE_STORAGE_ACCOUNT_NAME)")
    if not container:
        raise predport.ConfigError("the az:// URL names no container", file=url)
    return f"az://{account}/{container}" + (f"/{path}" if path else ""), out


def _connection_string(url: str, text: str) -> dict[str, str]:
    """``AccountName``/``AccountKey``/``SharedAccessSignature`` of a connection string (adlfs option names);
    a part that points elsewhere than the public cloud (``BlobEndpoint``, another suffix) is refused."""
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        name, sep, value = part.partition("=")
        key = name.strip().lower()
        if not sep:
            raise predport.ConfigError("the connection string has a part without '='", file=url,
                                       field="connection_string")
        if key in AZURE_CONNECTION_PARTS:
            out[AZURE_CONNECTION_PARTS[key]] = value
        elif key == "defaultendpointsprotocol" and value.lower() == "https":
            continue
        elif key == "endpointsuffix" and value.lower() == AZURE_SUFFIX:
            continue
        else:
            raise predport.ConfigError(
                f"connection string part {name.strip()!r} has no Deep Lake creds equivalent (Deep Lake reaches "
                f"accounts as az://ACCOUNT/... on {AZURE_SUFFIX} over https)", file=url, field="connection_string",
                hint="give account_name with account_key or sas_token")
    return out


def _unmapped(url: str, key: str, what: str | None = None) -> predport.ConfigError:
    proto = url.partition("://")[0].lower()
    if proto in GCS_PROTOCOLS:
        known = ["token (a service-account JSON: dict or file path; or google_default)"]
        how = "or GOOGLE_APPLICATION_CREDENTIALS"
    elif proto in AZURE_PROTOCOLS:
        known = ["account_name", "account_key", "sas_token", "connection_string"]
        how = "or the AZURE_* environment variables"
    else:
        known = sorted(S3_CREDS) + [f"client_kwargs.{k}" for k in sorted(S3_CLIENT_CREDS)]
        how = "or the AWS_* environment variables"
    return predport.ConfigError(
        f"storage option {key!r}{' (' + what + ')' if what else ''} has no Deep Lake equivalent: a Deep Lake "
        f"dataset on {url} is opened by deeplake itself, with creds", field=key,
        hint=f"storage options Deep Lake takes: {', '.join(known)} ({how})")


def _fs(url: str, storage_options: Mapping[str, Any]) -> tuple[Any, str]:
    import fsspec

    return fsspec.core.url_to_fs(url, **dict(storage_options))


def state(url: str, storage_options: Mapping[str, Any], cred: Mapping[str, Any], at: str | None = None) -> str:
    """``"dataset"``, ``"empty"`` (missing, or a folder with no objects) or ``"other"``; ``at`` is
    Deep Lake's URL of ``url`` (:func:`locate`) when it differs."""
    import deeplake

    try:
        if deeplake.exists(at or url, creds=dict(cred)):
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
