"""Safe, atomic, validated output.

Every file predport or a plugin writes goes through an :class:`OutputTarget`:

* paths are relative to the output the user named; ``..``, absolute paths,
  backslashes and links leading outside are refused;
* JSON is validated against a registered schema before it is written;
* everything is written to a staging area first and moved into place only on
  :meth:`OutputTarget.commit`; on failure the staging area is removed, so no
  half-written or invalid file is ever left behind.
"""
from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path, PurePosixPath
from typing import IO, Any

from .errors import OutputError

__all__ = ["OutputTarget", "safe_relpath"]


def safe_relpath(relpath: str | os.PathLike[str]) -> PurePosixPath:
    """Check that ``relpath`` stays inside the output; return it normalised.

    Raises :class:`OutputError` for absolute paths, ``..`` parts, backslashes,
    NUL bytes and empty names.
    """
    text = os.fspath(relpath)
    if "\x00" in text:
        raise OutputError(f"refusing path with a NUL byte: {text!r}")
    if "\\" in text:
        raise OutputError(f"refusing path with a backslash: {text!r}", hint="use '/' separators")
    p = PurePosixPath(text)
    if p.is_absolute() or (len(text) > 1 and text[1] == ":"):
        raise OutputError(f"refusing absolute path {text!r}: it would escape the output folder")
    parts = [part for part in p.parts if part not in ("", ".")]
    if not parts:
        raise OutputError(f"empty output path {text!r}")
    if ".." in parts:
        raise OutputError(f"refusing path {text!r}: '..' would escape the output folder")
    return PurePosixPath(*parts)


class OutputTarget:
    """Where a writer puts its output: one file, or one folder of files.

    Use as a context manager; leaving the block without an exception commits,
    an exception aborts and removes everything staged.
    """

    def __init__(
        self,
        dest: str | os.PathLike[str],
        *,
        kind: str = "folder",
        registry: Any = None,
        overwrite: bool = False,
    ) -> None:
        if kind not in ("file", "folder"):
            raise ValueError("kind must be 'file' or 'folder'")
        self.dest = Path(dest)
        self.kind = kind
        self.overwrite = overwrite
        if registry is None:
            from .hub import get_hub

            registry = get_hub().registry
        self.registry = registry
        self.written: list[str] = []
        self._written_set: set[str] = set()
        self._open: list[IO[bytes]] = []
        self._staging: Path | None = None
        self._done = False
        self._created_dest = False
        self._dirs: set[Path] = set()
        self._created_parents: list[Path] = []
        self._before: set[str] = set()
        self._check_dest()

    # -- set-up -----------------------------------------------------------------------
    def _check_dest(self) -> None:
        d = self.dest
        if self.kind == "file":
            if d.is_dir():
                raise OutputError(f"{d} is a folder; this format writes one file", file=str(d))
            if d.exists() and not self.overwrite:
                raise OutputError("output file exists", file=str(d), hint="pass --overwrite to replace it")
            self._make_parents(d.parent)
        else:
            if d.exists() and not d.is_dir():
                raise OutputError(f"{d} is a file; this format writes a folder", file=str(d))
            if d.is_dir() and any(not p.name.startswith(".predport-staging-") for p in d.iterdir()):
                if not self.overwrite:
                    raise OutputError(
                        "output folder is not empty", file=str(d), hint="pass --overwrite to write into it"
                    )
                # Remembered so the summary can say which earlier files are still there:
                # --overwrite replaces files of the same name and deletes nothing else.
                self._before = {
                    p.relative_to(d).as_posix() for p in d.rglob("*")
                    if p.is_file() and ".predport-staging-" not in p.as_posix()
                }
            if not d.exists():
                self._make_parents(d.parent)

    def _make_parents(self, folder: Path) -> None:
        """Create the missing folders above the output (like ``mkdir -p``); abort removes them again."""
        missing = []
        p = folder
        while not p.exists():
            missing.append(p)
            if p.parent == p:
                break
            p = p.parent
        for p in reversed(missing):
            try:
                p.mkdir()
            except OSError as exc:
                raise OutputError(f"cannot create folder {p}: {exc.strerror}", file=str(self.dest)) from None
            self._created_parents.append(p)

    def _stage_root(self) -> Path:
        if self._staging is None:
            tag = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
            if self.kind == "file":
                self._staging = self.dest.parent / f".{self.dest.name}.predport-staging-{tag}"
            else:
                # Staging lives inside the folder the user named: nothing is ever
                # written outside it, not even temporarily.
                if not self.dest.exists():
                    self.dest.mkdir()
                    self._created_dest = True
                self._staging = self.dest / f".predport-staging-{tag}"
            self._staging.mkdir()
        return self._staging

    def _staged_path(self, relpath: str | os.PathLike[str] | None) -> tuple[str, Path]:
        if self._done:
            raise OutputError("output already committed or aborted")
        if self.kind == "file":
            if relpath not in (None, "", self.dest.name):
                raise OutputError(f"this output is the single file {self.dest}; cannot write {relpath!r}")
            rel = self.dest.name
        else:
            rel = str(safe_relpath(relpath or ""))
        if rel in self._written_set:
            raise OutputError(f"two outputs map to the same file {rel!r}", file=str(self.dest / rel))
        path = self._stage_root() / rel
        parent = path.parent
        if parent not in self._dirs:  # one mkdir per folder, not per file
            parent.mkdir(parents=True, exist_ok=True)
            self._dirs.add(parent)
        self.written.append(rel)
        self._written_set.add(rel)
        return rel, path

    # -- writing ------------------------------------------------------------------------
    def validate(self, ref: str, instance: Any, *, relpath: str | None = None, base_path: tuple[Any, ...] = ()) -> None:
        """Validate ``instance`` against schema ``ref`` (``$id`` or ``$id#/$defs/X``)."""
        where = str(self.dest if self.kind == "file" or not relpath else self.dest / relpath)
        self.registry.validate(ref, instance, file=where, base_path=base_path)

    def write_json(self, relpath: str | None, obj: Any, *, schema: str, option: int = 0) -> None:
        """Validate ``obj`` against ``schema`` and stage it as JSON (orjson)."""
        import orjson

        self.validate(schema, obj, relpath=relpath)
        rel, path = self._staged_path(relpath)
        try:
            data = orjson.dumps(obj, option=option)
        except TypeError as exc:
            raise OutputError(f"cannot serialise to JSON: {exc}", file=str(self.dest / rel)) from None
        self._write(path, data)

    def write_bytes(self, relpath: str | None, data: bytes) -> None:
        """Stage raw bytes (for non-JSON formats; the writer validates its records first)."""
        _, path = self._staged_path(relpath)
        self._write(path, data)

    def _write(self, path: Path, data: bytes) -> None:
        try:
            path.write_bytes(data)
        except OSError as exc:
            raise OutputError(f"cannot write: {exc.strerror}", file=str(path)) from None

    def open(self, relpath: str | None = None) -> IO[bytes]:
        """A binary file handle in the staging area, for streaming writers.

        The writer must call :meth:`validate` on what it writes. The handle is
        closed by :meth:`commit`/:meth:`abort` if the writer does not close it.
        """
        _, path = self._staged_path(relpath)
        fh = open(path, "wb")
        self._open.append(fh)
        return fh

    @property
    def left_over(self) -> list[str]:
        """Files that were in the output folder before and are not part of this output."""
        return sorted(self._before - set(self.written))

    def scratch(self) -> IO[bytes]:
        """An anonymous temporary file in the staging area (never committed)."""
        import tempfile

        fh = tempfile.TemporaryFile(dir=self._stage_root())
        self._open.append(fh)
        return fh

    def final_path(self, relpath: str | None = None) -> Path:
        """Where ``relpath`` will be after commit."""
        if self.kind == "file":
            return self.dest
        return self.dest / str(safe_relpath(relpath or ""))

    # -- finishing ------------------------------------------------------------------------
    def _close_handles(self) -> None:
        for fh in self._open:
            if not fh.closed:
                fh.close()
        self._open.clear()

    def commit(self) -> list[Path]:
        """Move everything staged into place. Returns the final paths."""
        if self._done:
            return [self.final_path(r) for r in self.written]
        self._close_handles()
        self._done = True
        staging = self._staging
        if staging is None:
            if self.kind == "folder":
                self.dest.mkdir(exist_ok=True)
            return []
        try:
            if self.kind == "file":
                try:
                    os.replace(staging / self.dest.name, self.dest)
                except OSError as exc:
                    raise OutputError(f"cannot write: {exc.strerror}", file=str(self.dest)) from None
            else:
                self._check_final_paths()
                self._move_all(staging)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return [self.final_path(r) for r in self.written]

    def _check_final_paths(self) -> None:
        """Before anything moves: every final path stays inside the output, and nothing is in the way."""
        dest_real = self.dest.resolve()
        seen: set[Path] = set()
        for rel in self.written:
            final = self.dest / rel
            parent = final.parent
            if parent not in seen:
                seen.add(parent)
                existing = parent
                while not existing.exists() and existing != self.dest:
                    existing = existing.parent
                if not existing.resolve().is_relative_to(dest_real):
                    raise OutputError("refusing to write through a link that leaves the output folder",
                                      file=str(final))
                if not existing.is_dir():
                    raise OutputError(f"{existing} is a file where a folder is needed", file=str(final))
            if final.is_dir() and not final.is_symlink():
                raise OutputError("a folder is in the way of an output file", file=str(final))

    def _move_all(self, staging: Path) -> None:
        """Move every staged file into place; on failure put back what was there before."""
        moved: list[Path] = []
        backups: list[tuple[Path, Path]] = []
        spare = staging / ".replaced"
        try:
            for rel in self.written:
                final = self.dest / rel
                final.parent.mkdir(parents=True, exist_ok=True)
                if final.exists() or final.is_symlink():
                    backup = spare / rel
                    backup.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(final, backup)
                    backups.append((final, backup))
                os.replace(staging / rel, final)
                moved.append(final)
        except OSError as exc:
            for path in moved:
                path.unlink(missing_ok=True)
            for final, backup in backups:
                os.replace(backup, final)
            raise OutputError(f"cannot write: {exc.strerror}; nothing was changed",
                              file=str(exc.filename or self.dest)) from None

    def abort(self) -> None:
        """Remove everything staged; the destination is left as it was."""
        self._close_handles()
        self._done = True
        if self._staging is not None:
            shutil.rmtree(self._staging, ignore_errors=True)
        if self._created_dest and self.dest.is_dir() and not any(self.dest.iterdir()):
            # We created it for staging only; leave no empty folder behind.
            try:
                self.dest.rmdir()
            except OSError:
                pass
        for p in reversed(self._created_parents):
            try:
                p.rmdir()  # only when still empty
            except OSError:
                break

    def __enter__(self) -> "OutputTarget":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()
