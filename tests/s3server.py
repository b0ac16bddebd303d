"""A real S3-compatible server on loopback for the storage tests: moto in server mode.

:func:`start` runs ``python -m moto.server`` as a child process on 127.0.0.1 and a
free port and waits until it answers; the tests talk to it over HTTP through s3fs
exactly as they would to S3 (no client is mocked). With ``auth_after=N`` the server
checks IAM credentials from its N+1-th request on: the first N set up users and
buckets, so that permission errors come from the server itself.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any

#: Credentials the open server accepts (any are accepted without auth checks).
KEY, SECRET = "testing", "testing"


@dataclass
class S3Server:
    endpoint: str
    process: subprocess.Popen
    options: dict[str, Any] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        """Environment for a ``predport`` child process using this server (the usual boto variables)."""
        return {**os.environ, "AWS_ACCESS_KEY_ID": self.options["key"],
                "AWS_SECRET_ACCESS_KEY": self.options["secret"], "AWS_DEFAULT_REGION": "us-east-1"}

    def fs(self, **extra: Any) -> Any:
        import s3fs

        return s3fs.S3FileSystem(**{**self.options, **extra, "skip_instance_cache": True})

    def boto(self, service: str) -> Any:
        import boto3

        return boto3.client(service, endpoint_url=self.endpoint, aws_access_key_id=KEY,
                            aws_secret_access_key=SECRET, region_name="us-east-1")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(auth_after: int | None = None, timeout: float = 30.0) -> S3Server:
    env = dict(os.environ)
    if auth_after is not None:
        env["INITIAL_NO_AUTH_ACTION_COUNT"] = str(auth_after)
    for _attempt in range(3):  # a port taken between choosing and binding: try another
        port = _free_port()
        proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        endpoint = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=2).read()
            except OSError:
                time.sleep(0.05)
                continue
            return S3Server(endpoint, proc, {"key": KEY, "secret": SECRET, "endpoint_url": endpoint})
        proc.kill()
    raise RuntimeError("the moto S3 server did not start on 127.0.0.1")


def stop_io_thread() -> None:
    """Stop fsspec's IO thread (s3fs runs its requests there), so that later tests run in a
    single-threaded process again (the Lightly reader forks workers only then)."""
    import fsspec.asyn
    try:
        import s3fs

        s3fs.S3FileSystem.clear_instance_cache()
    except ImportError:
        pass
    loop, thread = fsspec.asyn.loop[0], fsspec.asyn.iothread[0]
    if loop is not None and thread is not None:
        import asyncio

        # The loop's default executor (name resolution) is a thread too.
        asyncio.run_coroutine_threadsafe(loop.shutdown_default_executor(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        fsspec.asyn.loop[0] = fsspec.asyn.iothread[0] = None
