"""Storage options (fsspec's names: s3fs, gcsfs, adlfs) -> Deep Lake's URL and creds, as Deep Lake
4.x documents them (docs "Storage Options": S3 ``aws_*``/``endpoint_url``; Azure
``az://account_name/container_name/dataset_name`` with ``account_key`` or ``sas_token``; GCS the
service-account JSON's content). No network: the mapping only."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import predport
from predport_deeplake.remote import locate

SERVICE_ACCOUNT = {"type": "service_account", "project_id": "p", "private_key_id": "k1",
                   "private_key": "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n",
                   "client_email": "sa@p.iam.gserviceaccount.com", "token_uri": "https://oauth2.googleapis.com/token"}


def test_creds__s3_keys_map_and_the_url_stays() -> None:
    assert locate("s3://b/ds", {"key": "A", "secret": "S", "token": "T",
                                "client_kwargs": {"endpoint_url": "http://h:9000", "region_name": "eu-west-1"}}) == (
        "s3://b/ds", {"aws_access_key_id": "A", "aws_secret_access_key": "S", "aws_session_token": "T",
                      "endpoint_url": "http://h:9000", "aws_region": "eu-west-1"})


def test_creds__gs_becomes_gcs_with_the_service_account_json(tmp_path: Path) -> None:
    assert locate("gs://bucket/a/ds", {"token": SERVICE_ACCOUNT}) == ("gcs://bucket/a/ds", SERVICE_ACCOUNT)
    key = tmp_path / "key.json"
    key.write_text(json.dumps(SERVICE_ACCOUNT))
    assert locate("gs://bucket/ds", {"token": str(key)}) == ("gcs://bucket/ds", SERVICE_ACCOUNT)
    # Deep Lake's own default credentials: nothing passed
    assert locate("gcs://bucket/ds", {}) == ("gcs://bucket/ds", {})
    assert locate("gs://bucket/ds", {"token": "google_default", "anon": False}) == ("gcs://bucket/ds", {})
    assert locate("gs://bucket/ds", {"anon": "false"}) == ("gcs://bucket/ds", {})  # the CLI gives text


@pytest.mark.parametrize("options, match", [
    ({"token": "anon"}, "token='anon' has no Deep Lake creds equivalent"),
    ({"token": "browser"}, "token='browser' has no Deep Lake creds equivalent"),
    ({"project": "p"}, "storage option 'project' has no Deep Lake equivalent"),
    ({"requester_pays": True}, "'requester_pays' has no Deep Lake equivalent"),
    ({"token": {"client_email": "x"}}, "not a Google credentials JSON"),
    ({"token": "/nonexistent/key.json"}, "cannot read the key file"),
])
def test_creds__gcs_options_without_an_equivalent_are_refused(options, match) -> None:
    with pytest.raises(predport.ConfigError, match=match) as err:
        locate("gs://bucket/ds", options)
    assert err.value.hint or err.value.file


def test_creds__az_puts_the_account_into_deeplakes_url(monkeypatch) -> None:
    monkeypatch.delenv("AZURE_STORAGE_ACCOUNT_NAME", raising=False)
    assert locate("az://container/dir/ds", {"account_name": "acct", "account_key": "K"}) == (
        "az://acct/container/dir/ds", {"account_key": "K"})
    assert locate("az://container/ds", {"account_name": "acct", "sas_token": "sv=2024&sig=x"}) == (
        "az://acct/container/ds", {"sas_token": "sv=2024&sig=x"})
    conn = "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=K==;EndpointSuffix=core.windows.net"
    assert locate("az://container/ds", {"connection_string": conn}) == ("az://acct/container/ds",
                                                                        {"account_key": "K=="})
    assert locate("abfs://container@acct.dfs.core.windows.net/ds", {"sas_token": "s"}) == (
        "az://acct/container/ds", {"sas_token": "s"})
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_NAME", "envacct")  # adlfs's own variable
    assert locate("az://container/ds", {}) == ("az://envacct/container/ds", {})


@pytest.mark.parametrize("options, match", [
    ({"account_key": "K"}, "names the Azure storage account in its URL"),
    ({"account_name": "a", "client_id": "c", "client_secret": "s", "tenant_id": "t"},
     "'tenant_id' has no Deep Lake creds equivalent|'client_id' has no Deep Lake creds equivalent"),
    ({"account_name": "a", "credential": "x"}, "'credential' has no Deep Lake creds equivalent"),
    ({"connection_string": "AccountName=a;AccountKey=k;BlobEndpoint=http://127.0.0.1:10000/a"},
     "connection string part 'BlobEndpoint' has no Deep Lake creds equivalent"),
    ({"account_name": "b", "connection_string": "AccountName=a;AccountKey=k"}, "differ"),
    ({"account_name": "a", "anon": True}, "'anon' has no Deep Lake equivalent"),
])
def test_creds__azure_options_without_an_equivalent_are_refused(monkeypatch, options, match) -> None:
    monkeypatch.delenv("AZURE_STORAGE_ACCOUNT_NAME", raising=False)
    with pytest.raises(predport.ConfigError, match=match):
        locate("az://container/ds", options)


def test_creds__other_protocols_are_refused_with_the_reason() -> None:
    with pytest.raises(predport.OutputError, match=r"s3://, gs:// and az:// only, not memory://"):
        locate("memory://x/ds", {})
