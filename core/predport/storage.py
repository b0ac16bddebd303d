"""Remote storage through fsspec: sources to detect and read, outputs to publish.

Inputs and outputs may be local paths or fsspec URLs (``s3://``, ``gs://``, ``az://``,
``memory://``, ``file://``; ``http(s)://`` read-only). The protocol packages are
optional extras (``pip install 'predport[s3]'``); nothing here imports fsspec until
a URL is met, so local conversions look and cost exactly as before.

* **Detection** runs on a :class:`RemoteSource`: the same bounded views as a local
  :class:`~predport.Source` (64 KiB heads as one ranged read each, at most
  ``LISTING_LIMIT`` names per listing, asked of the server as such).
* **Reading** (:class:`Spool`): plugins read local files (raw ``os.read``, ``mmap``,
  forked workers, Pillow...), so the objects of a remote input are streamed into a
  local spool folder, page by page of the server's listing (never the whole bucket's
  listing in memory), each object downloaded once (a head detection read whole is
  written from memory, not fetched again); the plugin then parses the spool, errors
  name the remote URL, and the spool is removed when the stream ends or is closed.
* **Writing** (:class:`RemoteOutput`): the writer stages and validates everything
  locally first (the local :class:`~predport.OutputTarget` rules); only a complete,
  valid output is uploaded, under a staging prefix, then *published*: a file by one
  server-side copy onto its name (object stores replace an object atomically), a
  folder by copying each file into place and writing the manifest
  ``.predport-manifest.json`` last. A folder is published only once its manifest
  exists; predport refuses to read a folder whose upload was interrupted (staging
  prefix, no manifest). A failed or interrupted upload removes its staging prefix
  (it is not resumable: run the conversion again); a staging prefix left by a
  process that was killed outright is removed by the next write to the same output.

Credentials come from the usual fsspec/boto configuration (environment, config
files, ``FSSPEC_<PROTOCOL>_<KEY>`` variables) and ``storage_options``
(``--storage-option key=value``), never from predport's own configuration.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import sys
import tempfile
import time
import uuid
from pathlib import Path, PurePosixPath
from typing import Any, Iterable, Iterator, Mapping

from .format_detection import HEAD_BYTES, LISTING_LIMIT, Source
from .errors import ConfigError, OutputError, PredportError, UnknownFormatError
from .output import OutputTarget

__all__ = [
    "MANIFEST", "STAGING_MARK", "is_url", "protocol_of", "localize", "open_url", "RemoteSource",
    "Spool", "RemoteOutput", "output_target", "remote_source",
]

#: Written last into a published remote folder: the list of its files.
MANIFEST = ".predport-manifest.json"
#: Names of staging prefixes (as for local outputs).
STAGING_MARK = ".predport-staging-"
MANIFEST_SCHEMA = "predport/manifest/1"
#: Which extra installs the package of a protocol.
EXTRAS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs", "az": "azure", "abfs": "azure",
          "abfss": "azure", "adl": "azure", "http": "http", "https": "http"}
READ_ONLY = frozenset({"http", "https"})
#: Objects per listing page and per batched download or copy.
PAGE = 1000
#: A staging prefix whose writer cannot be checked is left alone for this long.
STALE_AFTER_S = 24 * 3600

_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def protocol_of(path: Any) -> str | None:
    """The URL scheme of ``path`` (lower case), or ``None`` for a plain path."""
    if isinstance(path, RemotePathBase):
        return path.protocol
    if not isinstance(path, (str, os.PathLike)):
        return None
    text = os.fspath(path)
    if not isinstance(text, str):
        return None
    m = _URL.match(text)
    return m.group(1).lower() if m else None


def is_url(path: Any) -> bool:
    """Whether ``path`` names remote storage (a URL other than ``file://``)."""
    return protocol_of(path) not in (None, "file")


def localize(path: Any) -> Any:
    """``file://`` URLs as local paths; anything else unchanged."""
    if protocol_of(path) == "file":
        return os.fspath(path)[len("file://"):]
    return path


def _fsspec() -> Any:
    try:
        import fsspec
    except ImportError:
        raise ConfigError("URLs need fsspec, which is not installed",
                          hint="pip install 'predport[s3]' (or [gcs], [azure], [http])") from None
    return fsspec


def open_url(url: str, storage_options: Mapping[str, Any] | None = None) -> tuple[Any, str]:
    """``(filesystem, path)`` for a URL; unknown protocols and missing packages are refused with a reason."""
    proto = protocol_of(url) or ""
    fsspec = _fsspec()
    from fsspec.registry import known_implementations, registry

    if proto not in known_implementations and proto not in registry:
        raise ConfigError(f"unknown storage protocol {proto!r} in {url!r}",
                          hint="use a local path or an fsspec URL (s3://, gs://, az://, http(s)://, memory://, "
                               "file://); a local name containing '://' can be written as ./NAME")
    try:
        fs, path = fsspec.core.url_to_fs(url, **dict(storage_options or {}))
    except ImportError as exc:
        extra = EXTRAS.get(proto)
        hint = f"pip install 'predport[{extra}]'" if extra else "install the fsspec implementation for it"
        raise ConfigError(f"{proto}:// needs a package that is not installed ({exc})", hint=hint) from None
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"bad storage options for {proto}://: {exc}", hint="see --storage-option") from None
    return fs, path.rstrip("/") or path


#: The errors of fsspec backends that are not ``OSError``s, by module: botocore's
#: ``NoCredentialsError`` (s3fs without credentials) would otherwise be an "internal error".
_BACKEND_ERRORS = (
    ("botocore.exceptions", ("BotoCoreError", "ClientError")),
    ("google.auth.exceptions", ("GoogleAuthError",)),
    ("azure.core.exceptions", ("AzureError",)),
)


def _storage_errors() -> tuple[type[BaseException], ...]:
    """``OSError`` plus the client errors of the storage backends already imported (none is
    imported here: an ``except _storage_errors()`` costs nothing until a storage call fails)."""
    out: list[type[BaseException]] = [OSError]
    for module, names in _BACKEND_ERRORS:
        mod = sys.modules.get(module)
        out += [getattr(mod, n) for n in names if mod is not None and isinstance(getattr(mod, n, None), type)]
    return tuple(out)


def _denied(exc: BaseException, url: str, doing: str) -> PredportError:
    """A clear error for a storage failure (permissions, missing bucket, network, no credentials)."""
    kind = PredportError if doing == "reading" else OutputError  # an input's problem is not the output's
    if "Credentials" in type(exc).__name__ or "credentials" in str(exc).lower()[:200]:
        return kind(f"no credentials {doing} {url}: {exc}",
                    hint="configure credentials for the store (for s3://: AWS_PROFILE or AWS_ACCESS_KEY_ID and "
                         "AWS_SECRET_ACCESS_KEY, ~/.aws/credentials), or pass --storage-option anon=true for a "
                         "public bucket", file=url)
    if isinstance(exc, PermissionError):
        return kind(f"access denied {doing} {url}: {exc}",
                    hint="check the credentials (fsspec/boto configuration or --storage-option)", file=url)
    if isinstance(exc, FileNotFoundError):
        return kind(f"not found {doing} {url}: {exc}", file=url)
    return kind(f"storage error {doing} {url}: {type(exc).__name__}: {exc}", file=url)


# -- remote paths for detection ---------------------------------------------------------
class RemotePathBase(PurePosixPath):
    """A pure path below a remote root that can also ask the store whether it exists.

    Detection code written for local folders (``(source.path / "labels").is_dir()``,
    ``source.path.parts``) works on it unchanged; ``str()`` gives the URL.
    """

    _fs: Any = None
    protocol: str = ""

    @property
    def key(self) -> str:
        return PurePosixPath.__str__(self)

    def __str__(self) -> str:
        return f"{self.protocol}://{self.key}"

    def __fspath__(self) -> str:
        return str(self)

    def as_posix(self) -> str:
        return str(self)

    def exists(self) -> bool:
        return _safe(lambda: self._fs.exists(self.key), False)

    def is_dir(self) -> bool:
        return _safe(lambda: self._fs.isdir(self.key), False)

    def is_file(self) -> bool:
        return _safe(lambda: self._fs.isfile(self.key), False)


def _safe(call: Any, default: Any) -> Any:
    try:
        return call()
    except _storage_errors() + (ValueError,):
        return default


def _remote_path(fs: Any, protocol: str, key: str) -> RemotePathBase:
    cls = type("RemotePath", (RemotePathBase,), {"_fs": fs, "protocol": protocol})
    return cls(key)


def _hidden(name: str) -> bool:
    """Entries of predport's own publishing protocol, never shown to plugins."""
    return name == MANIFEST or STAGING_MARK in name


def _bounded_ls(fs: Any, key: str, limit: int) -> list[tuple[str, str, int]]:
    """``(name, kind, size)`` of the first ``limit`` entries of a remote folder by name.

    On S3 the server is asked for that many keys (it lists in name order), so the
    listing costs the same for a folder of 2,000 objects as for one of 2 million.
    """
    entries: list[dict[str, Any]]
    if hasattr(fs, "_iterdir") and hasattr(fs, "split_path"):
        from fsspec.asyn import sync

        bucket, prefix, _ = fs.split_path(key)

        async def first() -> list[dict[str, Any]]:
            out: list[dict[str, Any]] = []
            async for info in fs._iterdir(bucket, max_items=limit, prefix=(prefix + "/") if prefix else ""):
                out.append(info)
            return out

        entries = sync(fs.loop, first)
    else:
        entries = fs.ls(key, detail=True)
    out = []
    for info in entries:
        name = PurePosixPath(info["name"].rstrip("/")).name
        if name and not _hidden(name):
            out.append((name, "directory" if info.get("type") == "directory" else "file", int(info.get("size") or 0)))
    out.sort()
    return out[:limit]


class RemoteSource(Source):
    """A :class:`~predport.Source` on remote storage: the same bounded, cached views."""

    def __init__(self, url: Any, fs: Any = None, key: str | None = None) -> None:
        if isinstance(url, RemotePathBase):  # Source(source.path / "labels") in a plugin
            fs, key, url = url._fs, url.key, str(url)
        elif fs is None:
            fs, key = open_url(url)
        self.url = str(url)
        self.fs = fs
        self.key = str(key)
        self.protocol = protocol_of(url) or ""
        # A PurePosixPath with the Path methods plugins use, backed by the filesystem.
        self.path = _remote_path(fs, self.protocol, self.key)  # type: ignore[assignment]
        self._head: dict[Any, bytes] = {}
        self._listing: list[Path] | None = None
        self._files: set[Path] = set()
        self._dirs: set[Path] = set()
        self._sizes: dict[str, int] = {}
        self._truncated = False
        self._kind: str | None = None

    def _full(self, relpath: Any) -> str:
        if relpath is None or os.fspath(relpath) in ("", "."):
            return self.key
        return f"{self.key}/{PurePosixPath(os.fspath(relpath)).as_posix()}"

    def kind(self) -> str:
        """``"file"``, ``"directory"`` or ``"missing"`` (one request, cached)."""
        if self._kind is None:
            try:
                info = self.fs.info(self.key)
                self._kind = "directory" if info.get("type") == "directory" else "file"
                if self._kind == "file":
                    self._sizes[self.key] = int(info.get("size") or 0)
            except FileNotFoundError:
                self._kind = "missing"
            except _storage_errors() as exc:
                raise _denied(exc, self.url, "reading") from None
        return self._kind

    @property
    def is_dir(self) -> bool:
        return self.kind() == "directory"

    @property
    def is_file(self) -> bool:
        return self.kind() == "file"

    @property
    def name(self) -> str:
        return PurePosixPath(self.key).name

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.key).suffix.lower()

    def __repr__(self) -> str:
        return f"RemoteSource({self.url!r})"

    def head(self, relpath: Any = None, size: int = HEAD_BYTES) -> bytes:
        full = self._full(relpath)
        cached = self._head.get(full)
        if cached is None:
            try:
                cached = self.fs.cat_file(full, start=0, end=HEAD_BYTES)
            except _storage_errors() + (ValueError,):
                cached = b""
            self._head[full] = cached
        return cached[:min(size, HEAD_BYTES)]

    def size(self, relpath: Any = None) -> int:
        full = self._full(relpath)
        if full not in self._sizes:
            self._sizes[full] = _safe(lambda: int(self.fs.size(full)), -1)
        return self._sizes[full]

    def listing(self) -> list[Path]:
        if self._listing is not None:
            return self._listing
        out: list[Path] = []
        if self.is_dir:
            queue = [Path()]
            while queue and len(out) < LISTING_LIMIT:
                rel = queue.pop(0)
                try:
                    entries = _bounded_ls(self.fs, self._full(rel), LISTING_LIMIT - len(out))
                except OSError:
                    continue
                for name, kind, size in entries:
                    child = rel / name
                    out.append(child)
                    if kind == "directory":
                        queue.append(child)
                        self._dirs.add(child)
                    else:
                        self._files.add(child)
                        self._sizes[self._full(child)] = size
                    if len(out) >= LISTING_LIMIT:
                        self._truncated = True
                        break
        self._listing = out
        return out

    def has(self, relpath: str) -> bool:
        rel = Path(PurePosixPath(os.fspath(relpath)).as_posix())
        listing = self.listing()
        if not self._truncated:  # the whole folder is known: no request
            return rel in self._files or rel in self._dirs
        if rel in self._files or rel in self._dirs:
            return True
        del listing
        return _safe(lambda: self.fs.exists(self._full(rel)), False)


def remote_source(url: str, storage_options: Mapping[str, Any] | None = None) -> RemoteSource:
    """A :class:`RemoteSource` for ``url``; a missing input is refused like a missing local path."""
    fs, key = open_url(url, storage_options)
    source = RemoteSource(url, fs, key)
    kind = source.kind()
    if kind == "missing":
        raise UnknownFormatError("no such file or folder", file=url)
    if kind == "directory" and _staging_names(fs, key) and not _safe(lambda: fs.exists(f"{key}/{MANIFEST}"), False):
        raise _unpublished(url)
    return source


def _unpublished(url: str) -> OutputError:
    return OutputError(f"this folder holds an unpublished predport upload (a staging prefix and no {MANIFEST}): "
                       "a write to it was interrupted, or is still running", file=url,
                       hint="wait for the writer, or write the output again")


def _staging_names(fs: Any, key: str) -> list[str]:
    """Names of the staging prefixes directly below ``key`` (one small listing request on S3)."""
    if hasattr(fs, "_iterdir") and hasattr(fs, "split_path"):
        from fsspec.asyn import sync

        bucket, prefix, _ = fs.split_path(key)

        async def first() -> list[str]:
            found: list[str] = []
            async for info in fs._iterdir(bucket, max_items=100,
                                          prefix=(prefix + "/" if prefix else "") + STAGING_MARK):
                found.append(PurePosixPath(info["name"]).name)
            return found

        try:
            return sync(fs.loop, first)
        except OSError:
            return []
    try:
        return [n for n in (PurePosixPath(p.rstrip("/")).name for p in fs.ls(key, detail=False))
                if n.startswith(STAGING_MARK)]
    except OSError:
        return []


# -- reading: the local spool ---------------------------------------------------------
def _iter_remote_files(fs: Any, key: str) -> Iterator[list[tuple[str, int]]]:
    """Pages of ``(relative path, size)`` of every object below ``key``.

    S3: a flat listing, one request per page of 1,000 keys, never more held. Other
    stores: ``walk``, one folder's names at a time.
    """
    if hasattr(fs, "_iterdir") and hasattr(fs, "split_path"):
        from fsspec.asyn import sync

        bucket, prefix, _ = fs.split_path(key)
        prefix = (prefix + "/") if prefix else ""
        token: dict[str, Any] = {}
        while True:
            kwargs = dict(Bucket=bucket, Prefix=prefix, MaxKeys=PAGE, **token)
            page = sync(fs.loop, fs._call_s3, "list_objects_v2", **kwargs)
            yield [(c["Key"][len(prefix):], int(c["Size"])) for c in page.get("Contents", [])
                   if not c["Key"].endswith("/")]
            if not page.get("IsTruncated"):
                return
            token = {"ContinuationToken": page["NextContinuationToken"]}
    else:
        for dirpath, _dirs, files in fs.walk(key, detail=True):
            rel_dir = PurePosixPath(dirpath).relative_to(PurePosixPath(key)).as_posix() if dirpath != key else ""
            yield [((f"{rel_dir}/{name}" if rel_dir and rel_dir != "." else name), int(info.get("size") or 0))
                   for name, info in sorted(files.items())]


class Spool:
    """A remote input streamed into a local folder for a plugin to parse; removed on :meth:`close`.

    ``only`` (relative paths) restricts a folder to those files (a shard's part).
    """

    def __init__(self, source: RemoteSource, *, only: Iterable[str] | None = None, listed: bool = False) -> None:
        self.source = source
        self.root = Path(tempfile.mkdtemp(prefix="predport-spool-"))
        self.downloaded = 0
        self.bytes = 0
        try:
            if listed and only is not None:  # a shard: the driver listed the folder already
                self.local = self.root / (source.name or "input")
                self.local.mkdir()
                only = list(only)
                for i in range(0, len(only), PAGE):
                    self._get([(f"{source.key}/{rel}", self.local.joinpath(*rel.split("/")), -1)
                               for rel in only[i:i + PAGE]])
            else:
                self.local = self._fill(None if only is None else set(only))
        except BaseException:
            self.close()
            raise

    def _fill(self, only: set[str] | None) -> Path:
        src = self.source
        if src.is_file:
            local = self.root / (src.name or "input")
            self._get([(src.key, local, src.size())])
            return local
        local = self.root / (src.name or "input")
        local.mkdir()
        manifest: dict[str, int] | None = None
        staging = False
        for page in _iter_remote_files(src.fs, src.key):
            batch = []
            for rel, size in page:
                parts = rel.split("/")
                if rel == MANIFEST:
                    manifest = self._read_manifest()
                    continue
                if any(STAGING_MARK in p for p in parts):
                    staging = True
                    continue
                if only is not None and rel not in only:
                    continue
                target = local.joinpath(*parts)
                batch.append((f"{src.key}/{rel}", target, size))
            self._get(batch)
        if staging and manifest is None:
            raise _unpublished(src.url)
        if manifest is not None and only is None:
            for rel, size in manifest.items():
                p = local.joinpath(*rel.split("/"))
                if not p.is_file() or p.stat().st_size != size:
                    raise OutputError(f"published output is incomplete: {rel} listed in {MANIFEST} "
                                      "is missing or has another size", file=src.url)
        return local

    def _read_manifest(self) -> dict[str, int]:
        src = self.source
        try:
            doc = json.loads(src.fs.cat_file(f"{src.key}/{MANIFEST}"))
            return {f["path"]: int(f["size"]) for f in doc["files"]}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise OutputError(f"unreadable {MANIFEST}: {exc}", file=src.url) from None

    def _get(self, batch: list[tuple[str, Path, int]]) -> None:
        """Download one page: objects whose whole content detection already read come from memory."""
        remote, local = [], []
        for key, target, size in batch:
            target.parent.mkdir(parents=True, exist_ok=True)
            cached = self.source._head.get(key)
            if cached is not None and 0 <= size == len(cached):
                target.write_bytes(cached)
            else:
                remote.append(key)
                local.append(str(target))
            self.downloaded += 1
            self.bytes += max(size, 0)
        if not remote:
            return
        try:
            if len(remote) == 1:
                self.source.fs.get_file(remote[0], local[0])
            else:
                self.source.fs.get(remote, local)
        except _storage_errors() as exc:
            raise _denied(exc, self.source.url, "reading") from None

    def relocate(self, err: PredportError) -> PredportError:
        """Name the remote object instead of its spooled copy in an error."""
        if err.file:
            here = str(self.local)
            if err.file == here or err.file.startswith(here + os.sep):
                err.file = self.source.url + err.file[len(here):].replace(os.sep, "/")
        return err

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def spooled_frames(frames: Iterator[Any], spool: Spool, report: Any) -> Iterator[Any]:
    """Frames of a spooled input: errors (and skipped records) name the remote objects; the spool goes at the end."""
    try:
        yield from frames
    except PredportError as err:
        raise spool.relocate(err) from err.__cause__
    finally:
        close = getattr(frames, "close", None)
        if close is not None:
            close()
        for skipped in getattr(report, "skipped", ()):
            spool.relocate(skipped)
        spool.close()


# -- writing: stage locally, upload, publish ----------------------------------------------
def output_target(dest: Any, *, kind: str, registry: Any, overwrite: bool,
                  storage_options: Mapping[str, Any] | None = None, in_place: bool = False) -> OutputTarget:
    """The :class:`~predport.OutputTarget` for ``dest``: local, or a :class:`RemoteOutput` for a URL.

    ``in_place`` (``FormatInfo.in_place``): locally, the folder is updated through the format's
    library; remotely, ``in_place()`` gives the URL and :meth:`OutputTarget.remote` the storage
    options, and the library writes the store itself (nothing is staged or published)."""
    dest = localize(dest)
    if is_url(dest):
        return RemoteOutput(os.fspath(dest), kind=kind, registry=registry, overwrite=overwrite,
                            storage_options=storage_options, in_place=in_place)
    return OutputTarget(dest, kind=kind, registry=registry, overwrite=overwrite, in_place=in_place)


class RemoteOutput(OutputTarget):
    """An output on remote storage: staged and validated locally, uploaded and published on commit.

    ``notes`` says what the commit did beyond the output (leftovers removed).
    """

    def __init__(self, url: str, *, kind: str = "folder", registry: Any = None, overwrite: bool = False,
                 storage_options: Mapping[str, Any] | None = None, in_place: bool = False) -> None:
        self.url = url.rstrip("/")
        self.storage_options = dict(storage_options or {})
        self._remote_in_place = in_place and kind == "folder"
        self._native = False  # in_place() was used: the format's library writes the store itself
        self._remote_not_empty: OutputError | None = None
        self.protocol = protocol_of(url) or ""
        if self.protocol in READ_ONLY:
            raise OutputError(f"{self.protocol}:// is read-only: predport cannot write {url}", file=url,
                              hint="write to a local path or an object store (s3://, gs://, az://)")
        self.fs, self.key = open_url(self.url, storage_options)
        self.notes: list[str] = []
        self.remote_before: set[str] = set()
        self.tag = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._check_remote(kind, overwrite)
        self._local_root = Path(tempfile.mkdtemp(prefix="predport-upload-"))
        try:
            super().__init__(self._local_root / (PurePosixPath(self.key).name or "output"), kind=kind,
                             registry=registry, overwrite=True)
        except BaseException:
            shutil.rmtree(self._local_root, ignore_errors=True)
            raise
        self._not_empty = self._remote_not_empty  # an in-place format's deferred refusal (as locally)

    # -- checks before anything is written ----------------------------------------------
    def _check_remote(self, kind: str, overwrite: bool) -> None:
        try:
            info = self.fs.info(self.key)
            found = "directory" if info.get("type") == "directory" else "file"
        except FileNotFoundError:
            return
        except _storage_errors() as exc:
            raise _denied(exc, self.url, "checking") from None
        if kind == "file":
            if found == "directory":
                raise OutputError(f"{self.url} is a folder; this format writes one file", file=self.url)
            if not overwrite:
                raise OutputError("output file exists", file=self.url, hint="pass --overwrite to replace it")
            return
        if found == "file":
            raise OutputError(f"{self.url} is a file; this format writes a folder", file=self.url)
        for page in _iter_remote_files(self.fs, self.key):
            for rel, _size in page:
                if rel != MANIFEST and STAGING_MARK not in rel:
                    if not overwrite:
                        refusal = OutputError("output folder is not empty", file=self.url,
                                              hint="pass --overwrite to write into it")
                        if not self._remote_in_place:
                            raise refusal
                        self._remote_not_empty = refusal  # staging into it stays refused
                        return
                    self.remote_before.add(rel)

    def in_place(self) -> Any:  # type: ignore[override]
        """The output's URL, for a format whose library writes the store itself (``FormatInfo.in_place``);
        its storage options are :meth:`remote`'s. Nothing is staged, uploaded or published then."""
        if not self._remote_in_place:
            raise OutputError("this format does not update outputs in place", file=self.url)
        self._native = True
        self.remote_before = set()
        return self.url

    def remote(self) -> tuple[str, dict[str, Any]] | None:
        return self.url, dict(self.storage_options)

    def validate(self, ref: str, instance: Any, *, relpath: str | None = None, base_path: tuple[Any, ...] = ()) -> None:
        where = self.url if self.kind == "file" or not relpath else f"{self.url}/{relpath}"
        self.registry.validate(ref, instance, file=where, base_path=base_path)

    @property
    def left_over(self) -> list[str]:
        return sorted(self.remote_before - set(self.written))

    # -- publishing ------------------------------------------------------------------------
    def _staging_key(self) -> str:
        if self.kind == "file":
            parent, name = self.key.rsplit("/", 1) if "/" in self.key else ("", self.key)
            return f"{parent}/.{name}{STAGING_MARK}{self.tag}"
        return f"{self.key}/{STAGING_MARK}{self.tag}"

    def commit(self) -> list[Any]:  # type: ignore[override]
        if self._done:
            return self._finals()
        try:
            super().commit()  # validated and complete, in the local staging folder
            if self._native:
                # The format's library wrote the store in its commit step; anything staged was
                # its local scratch (e.g. a new dataset it copied up): nothing is published.
                return self._finals()
            self._remove_stale()
            staging = self._staging_key()
            try:
                self._upload(staging)
                self._publish(staging)
            except BaseException as exc:
                removed = self._remove(staging)
                if isinstance(exc, PredportError):
                    raise
                if isinstance(exc, Exception):
                    state = "removed" if removed else "could not be removed; the next write to it removes it"
                    raise OutputError(
                        f"upload failed ({type(exc).__name__}: {exc}); nothing was published and the staging "
                        f"prefix {self.protocol}://{staging} {state} (uploads are not resumable: convert again)",
                        file=self.url,
                        hint="check the credentials (fsspec/boto configuration or --storage-option)"
                        if isinstance(exc, PermissionError) else None) from None
                raise
            self._remove(staging)
        finally:
            shutil.rmtree(self._local_root, ignore_errors=True)
        return self._finals()

    def _finals(self) -> list[str]:
        if self.kind == "file":
            return [self.url]
        return [f"{self.url}/{rel}" for rel in self.written]

    def _upload(self, staging: str) -> None:
        fs = self.fs
        lease = {"host": socket.gethostname(), "pid": os.getpid(), "started": time.time()}
        if self.kind == "file":
            fs.pipe_file(staging + ".lease", json.dumps(lease).encode())
            fs.put_file(str(self.dest), staging)
            return
        fs.pipe_file(f"{staging}/.lease", json.dumps(lease).encode())
        rels = list(self.written)
        for i in range(0, len(rels), PAGE):
            chunk = rels[i:i + PAGE]
            fs.put([str(self.dest / r) for r in chunk], [f"{staging}/{r}" for r in chunk])

    def _publish(self, staging: str) -> None:
        fs = self.fs
        if self.kind == "file":
            fs.copy(staging, self.key)
            return
        # The old manifest goes first: from here until the new one is written, the
        # folder is a mix and says so (staging prefix present, no manifest).
        if fs.exists(f"{self.key}/{MANIFEST}"):
            fs.rm_file(f"{self.key}/{MANIFEST}")
        rels = list(self.written)
        for i in range(0, len(rels), PAGE):
            chunk = rels[i:i + PAGE]
            fs.copy([f"{staging}/{r}" for r in chunk], [f"{self.key}/{r}" for r in chunk])
        files = [{"path": r, "size": (self.dest / r).stat().st_size} for r in rels]
        doc = {"schema": MANIFEST_SCHEMA, "files": files, "published": time.time()}
        fs.pipe_file(f"{self.key}/{MANIFEST}", json.dumps(doc, indent=1).encode())

    def _remove(self, staging: str) -> bool:
        try:
            if self.kind == "file":
                for k in (staging, staging + ".lease"):
                    if self.fs.exists(k):
                        self.fs.rm_file(k)
            elif self.fs.exists(staging):
                self.fs.rm(staging, recursive=True)
            return True
        except OSError:
            return False

    def _stale(self, lease_key: str) -> bool:
        """Whether the writer of a staging prefix is gone (same host, dead pid) or it is very old."""
        try:
            lease = json.loads(self.fs.cat_file(lease_key))
        except (OSError, ValueError):
            return True
        if lease.get("host") == socket.gethostname():
            try:
                os.kill(int(lease["pid"]), 0)
            except ProcessLookupError:
                return True
            except (OSError, ValueError, KeyError, TypeError):
                pass
            else:
                return False
        return time.time() - float(lease.get("started", 0)) > STALE_AFTER_S

    def _remove_stale(self) -> None:
        """Remove staging prefixes that interrupted writers left behind (never one still being written)."""
        if self.kind == "file":
            parent, name = self.key.rsplit("/", 1) if "/" in self.key else ("", self.key)
            mark = f".{name}{STAGING_MARK}"
            try:
                names = [PurePosixPath(p).name for p in self.fs.ls(parent, detail=False)]
            except OSError:
                return
            for n in sorted(set(names)):
                if n.startswith(mark) and not n.endswith(".lease"):
                    key = f"{parent}/{n}"
                    if self._stale(key + ".lease"):
                        for k in (key, key + ".lease"):
                            _safe(lambda k=k: self.fs.rm_file(k), None)
                        self.notes.append(f"removed {self.protocol}://{key}, left by an interrupted upload")
            return
        try:
            names = [PurePosixPath(p.rstrip("/")).name for p in self.fs.ls(self.key, detail=False)]
        except FileNotFoundError:
            return
        except OSError:
            return
        for n in sorted(set(names)):
            if n.startswith(STAGING_MARK):
                key = f"{self.key}/{n}"
                if self._stale(f"{key}/.lease"):
                    _safe(lambda: self.fs.rm(key, recursive=True), None)
                    self.notes.append(f"removed {self.protocol}://{key}, left by an interrupted upload")

    def abort(self) -> None:
        try:
            super().abort()
        finally:
            shutil.rmtree(self._local_root, ignore_errors=True)
