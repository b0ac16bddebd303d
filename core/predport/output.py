"""Safe, atomic, validated output.

Every file predport or a plugin writes goes through an :class:`OutputTarget`:

* paths are relative to the output the user named; ``..``, absolute paths,
  backslashes, links leading outside and the reserved staging name are refused;
* JSON is validated against a registered schema before it is written;
* everything is written to a staging area first and moved into place only on
  :meth:`OutputTarget.commit`; on failure the staging area is removed, so no
  half-written or invalid file is ever left behind.

The commit of a folder is a transaction. Before the first file moves, the staging
folder gets a *journal* (the list of files and of the folders the commit creates);
every file the new output replaces is moved into the staging folder, not deleted.
An exception of any kind (``KeyboardInterrupt`` from Ctrl-C or SIGTERM included)
rolls the moves back at once; a run killed outright (SIGKILL, a power cut of the
process) leaves the journal behind, and the next :class:`OutputTarget` on that
output rolls it back before anything else. Only when every file is in place is the
journal marked committed (one ``rename``), and only then are the replaced files
dropped. So after any interruption the output is exactly the previous one or
exactly the new one. A staging folder is held with an advisory lock while its run
is alive, so a concurrent run into the same output never touches it.
"""
from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path, PurePosixPath
from typing import IO, Any

from .errors import OutputError

__all__ = ["OutputTarget", "safe_relpath", "STAGING_PREFIX", "output_state"]

#: Names starting with this are reserved for staging folders: no output file may use one.
STAGING_PREFIX = ".predport-staging-"
_LOCK, _JOURNAL, _COMMITTED, _NEW, _OLD = ".lock", ".journal", ".journal.committed", "new", "old"


def safe_relpath(relpath: str | os.PathLike[str]) -> PurePosixPath:
    """Check that ``relpath`` stays inside the output; return it normalised.

    Raises :class:`OutputError` for absolute paths, ``..`` parts, backslashes,
    NUL bytes, empty names and names starting with the reserved staging prefix.
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
    if any(part.startswith(STAGING_PREFIX) for part in parts):
        raise OutputError(f"refusing path {text!r}: names starting with {STAGING_PREFIX!r} are reserved "
                          "for predport's staging folders")
    return PurePosixPath(*parts)


def output_state(exc: BaseException) -> str | None:
    """What an interrupted write left on disk, as set by :meth:`OutputTarget.commit`.

    ``"unchanged"`` (nothing was written; the previous output is as it was),
    ``"written"`` (the new output is complete), ``"pending"`` (a second interruption
    stopped the roll-back; the next run into that output restores the previous one), or
    ``None`` when the exception did not pass through a write.
    """
    return getattr(exc, "predport_output_state", None)


def _mark(exc: BaseException, state: str, dest: Path) -> None:
    try:
        exc.predport_output_state = state  # type: ignore[attr-defined]
        exc.predport_output = str(dest)  # type: ignore[attr-defined]
    except (AttributeError, TypeError):  # pragma: no cover - exceptions with __slots__
        pass


class _Lock:
    """An advisory lock on a staging folder, held while the run that owns it is alive.

    The kernel releases it when the process dies, however it dies, so a staging folder
    whose lock can be taken belongs to a run that is gone. A forked child (a reader's
    decoding worker) closes its inherited copy at once: otherwise a worker outliving a
    SIGKILLed run would keep the lock, and the next run would leave the killed run's
    half-moved output alone instead of rolling it back.
    """

    held: "set[int]" = set()  # the descriptors of this process's locks

    def __init__(self, path: Path) -> None:
        self.fd: int | None = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
        _Lock.held.add(self.fd)
        try:
            import fcntl

            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # pragma: no cover - no advisory locks (Windows): files stay open instead
            pass

    @staticmethod
    def _close_in_child() -> None:
        for fd in _Lock.held:
            try:
                os.close(fd)  # the child's copy only: the parent's lock stays held
            except OSError:
                pass
        _Lock.held = set()

    @staticmethod
    def is_stale(path: Path) -> bool:
        try:
            fd = os.open(path, os.O_RDWR | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            return False
        try:
            import fcntl

            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return False  # held: its run is alive
            return True
        except ImportError:  # pragma: no cover
            return False
        finally:
            os.close(fd)

    def release(self) -> None:
        if self.fd is not None:
            _Lock.held.discard(self.fd)
            os.close(self.fd)
            self.fd = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_Lock._close_in_child)


def _remove_staging(staging: Path) -> None:
    """Remove a staging folder that holds nothing of any output any more.

    The journal goes first (one unlink), so a removal that is itself interrupted leaves
    a folder that the next run simply removes, never one it would roll back; the lock
    goes last, so such a folder is still recognised as a staging folder (one without a
    lock is left alone as someone else's, and would stay forever).
    """
    (staging / _JOURNAL).unlink(missing_ok=True)
    try:
        children = [p for p in staging.iterdir() if p.name != _LOCK]
    except OSError:
        children = []
    for child in children:
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            try:
                child.unlink()
            except OSError:
                pass
    shutil.rmtree(staging, ignore_errors=True)


def _roll_back(dest: Path, staging: Path, journal: dict[str, Any]) -> int:
    """Undo the moves of an unfinished commit; return how many files of the previous output came back.

    Every step can be repeated: a roll-back that is itself interrupted is finished by the
    next run. For each file, the new file goes back into staging (when it was moved), then
    the previous file comes back from staging (when it was replaced).
    """
    new_root, old_root = staging / _NEW, staging / _OLD
    restored = 0
    for rel in reversed(journal.get("files", [])):
        new, old, final = new_root / rel, old_root / rel, dest / rel
        if not os.path.lexists(new) and os.path.lexists(final):
            new.parent.mkdir(parents=True, exist_ok=True)
            os.replace(final, new)
        if os.path.lexists(old):
            os.replace(old, final)
            restored += 1
    for rel in sorted(journal.get("dirs", []), key=lambda r: -r.count("/")):
        try:
            (dest / rel).rmdir()  # created by the commit; only when empty again
        except OSError:
            pass
    return restored


def recover(parent: Path, prefix: str) -> list[str]:
    """Recover the staging folders named ``prefix*`` in ``parent`` that a killed run left behind.

    An unfinished commit is rolled back, then the staging folder is removed; staging of a
    run that is still alive is left alone. Returns one sentence per recovered run (the
    summary shows them); staging paths are never part of a message.
    """
    notes: list[str] = []
    try:
        entries = [p for p in parent.iterdir() if p.name.startswith(prefix)]
    except OSError:
        return notes
    for staging in entries:
        if staging.is_symlink() or not staging.is_dir():
            continue
        lock = staging / _LOCK
        if not lock.exists():
            if not any(staging.iterdir()):  # killed between mkdir and lock: nothing in it
                staging.rmdir()
            continue  # not ours, or not ours to judge: left alone (and counted as content)
        if not _Lock.is_stale(lock):
            continue
        journal_path = staging / _JOURNAL
        if journal_path.exists():
            try:
                journal = json.loads(journal_path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise OutputError(f"cannot read the journal an interrupted run left behind: {exc}; "
                                  "remove the hidden staging folder by hand after checking the output",
                                  file=str(parent)) from None
            try:
                restored = _roll_back(parent, staging, journal)
            except OSError as exc:
                raise OutputError(f"cannot roll back an interrupted earlier run: {exc.strerror}",
                                  file=str(parent)) from None
            notes.append(f"an earlier run into {parent} was interrupted while moving its files into place; "
                         f"rolled back ({restored} file(s) of the previous output restored)")
        elif (staging / _COMMITTED).exists():
            notes.append(f"removed the staging files of an earlier run into {parent} that was interrupted "
                         "after its output was complete")
        else:
            notes.append(f"removed the unfinished files of an earlier, interrupted run into {parent}")
        _remove_staging(staging)
    return notes


def dest_refusal(d: Path, *, kind: str, overwrite: bool, is_staging: Any,
                 hint: str = "pass --overwrite to replace it") -> tuple[str, OutputError] | None:
    """Why ``d`` cannot be written as a ``kind`` (``"file"``/``"folder"``) output, or ``None``.

    ``("kind", err)``: a folder where a file goes, or a file where a folder goes; ``("exists",
    err)``: the file exists and ``overwrite`` is off; ``("not_empty", err)``: the folder holds
    something (``is_staging(path)`` entries aside) and ``overwrite`` is off. The one rule of
    :class:`OutputTarget` and of :class:`predport.Writer`'s check when it is made.
    """
    if kind == "file":
        if d.is_dir():
            return "kind", OutputError(f"{d} is a folder; this format writes one file", file=str(d))
        if d.exists() and not overwrite:
            return "exists", OutputError("output file exists", file=str(d), hint=hint)
        return None
    if d.exists() and not d.is_dir():
        return "kind", OutputError(f"{d} is a file; this format writes a folder", file=str(d))
    if not overwrite and d.is_dir() and any(not is_staging(p) for p in d.iterdir()):
        return "not_empty", OutputError("output folder is not empty", file=str(d),
                                        hint=hint.replace("replace it", "write into it"))
    return None


class OutputTarget:
    """Where a writer puts its output: one file, or one folder of files.

    Use as a context manager; leaving the block without an exception commits,
    an exception aborts and removes everything staged. ``notes`` says what was
    recovered from an earlier, interrupted run into the same output.
    """

    def __init__(
        self,
        dest: str | os.PathLike[str],
        *,
        kind: str = "folder",
        registry: Any = None,
        overwrite: bool = False,
        in_place: bool = False,
    ) -> None:
        if kind not in ("file", "folder"):
            raise ValueError("kind must be 'file' or 'folder'")
        from .limits import refuse_url

        refuse_url(dest, role="output")
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
        self._lock: _Lock | None = None
        self._done = False
        self.committed = False
        self._created_dest = False
        self._dirs: set[Path] = set()
        self._created_parents: list[Path] = []
        self._before: set[str] = set()
        self.notes: list[str] = []
        self._in_place = in_place and kind == "folder"
        self._not_empty: OutputError | None = None  # an in-place format's deferred "not empty" refusal
        self._stage_folders: list[Path] = []
        self._commit_steps: list[Any] = []
        self._companions: list[OutputTarget] = []
        self._check_dest()

    # -- set-up -----------------------------------------------------------------------
    def _check_dest(self) -> None:
        d = self.dest
        # A killed run's staging folder is rolled back or forward first: what it leaves
        # decides whether the output is empty.
        if self.kind == "file":
            if d.parent.is_dir() and not d.is_dir():
                self.notes += recover(d.parent, f".{d.name}{STAGING_PREFIX}")
        elif d.is_dir():
            self.notes += recover(d, STAGING_PREFIX)
        found = dest_refusal(d, kind=self.kind, overwrite=self.overwrite, is_staging=self._is_staging)
        if found is not None:
            why, refusal = found
            if why != "not_empty" or not self._in_place:
                raise refusal
            # A format that updates an existing output in place (through its library's
            # own commits) may still use it; staging files into it stays refused.
            self._not_empty = refusal
            return
        if self.kind == "file":
            self._make_parents(d.parent)
            return
        if d.is_dir() and self.overwrite:
            # Remembered so the summary can say which earlier files are still there:
            # --overwrite replaces files of the same name and deletes nothing else.
            self._before = {
                rel for p in d.rglob("*")
                if not (rel := p.relative_to(d).as_posix()).startswith(STAGING_PREFIX) and p.is_file()
            }
        if not d.exists():
            self._make_parents(d.parent)

    @staticmethod
    def _is_staging(p: Path) -> bool:
        """A live run's staging folder (a recovered one is gone by now)."""
        return p.name.startswith(STAGING_PREFIX) and (p / _LOCK).exists()

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
        """The staging folder's ``new`` folder (created on first use, locked while this run is alive)."""
        if self._not_empty is not None:
            raise self._not_empty
        if self._staging is None:
            tag = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
            if self.kind == "file":
                staging = self.dest.parent / f".{self.dest.name}{STAGING_PREFIX}{tag}"
            else:
                # Staging lives inside the folder the user named: nothing is ever
                # written outside it, not even temporarily.
                if not self.dest.exists():
                    self.dest.mkdir()
                    self._created_dest = True
                staging = self.dest / f"{STAGING_PREFIX}{tag}"
            try:
                staging.mkdir()
                self._staging = staging
                self._lock = _Lock(staging / _LOCK)
                (staging / _NEW).mkdir()
            except OSError as exc:
                raise OutputError(f"cannot write: {exc.strerror}", file=str(self.dest)) from None
        return self._staging / _NEW

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
            try:
                parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise OutputError(f"cannot write: {exc.strerror}", file=str(self.final_path(rel))) from None
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
            raise OutputError(f"cannot serialise to JSON: {exc}", file=str(self.final_path(rel))) from None
        self._write(rel, path, data)

    def write_bytes(self, relpath: str | None, data: bytes) -> None:
        """Stage raw bytes (for non-JSON formats; the writer validates its records first)."""
        rel, path = self._staged_path(relpath)
        self._write(rel, path, data)

    def _write(self, rel: str, path: Path, data: bytes) -> None:
        try:
            path.write_bytes(data)
        except OSError as exc:
            # The message names the file the user asked for, never the staging path.
            raise OutputError(f"cannot write: {exc.strerror}", file=str(self.final_path(rel))) from None

    def open(self, relpath: str | None = None) -> IO[bytes]:
        """A binary file handle in the staging area, for streaming writers.

        The writer must call :meth:`validate` on what it writes. The handle is
        closed by :meth:`commit`/:meth:`abort` if the writer does not close it.
        """
        rel, path = self._staged_path(relpath)
        try:
            fh = open(path, "wb")
        except OSError as exc:
            raise OutputError(f"cannot write: {exc.strerror}", file=str(self.final_path(rel))) from None
        self._open.append(fh)
        return fh

    @property
    def left_over(self) -> list[str]:
        """Files that were in the output folder before and are not part of this output."""
        return sorted(self._before - set(self.written))

    def scratch(self) -> IO[bytes]:
        """An anonymous temporary file in the staging area (never committed)."""
        import tempfile

        root = self._stage_root().parent
        fh = tempfile.TemporaryFile(dir=root)
        self._open.append(fh)
        return fh

    def stage_folder(self, relpath: str | os.PathLike[str] | None = None) -> Path:
        """A folder in the staging area for a writer that writes through a third-party library.

        The library fills it (``relpath=None`` is the output folder itself); on
        :meth:`commit` every file below it is moved into place like a staged file,
        and on :meth:`abort` it is removed. The writer validates its records first.
        """
        if self._done:
            raise OutputError("output already committed or aborted")
        if self.kind != "folder":
            raise OutputError(f"this output is the single file {self.dest}; it has no folders")
        root = self._stage_root()
        folder = root if relpath in (None, "") else root / str(safe_relpath(relpath))
        folder.mkdir(parents=True, exist_ok=True)
        self._stage_folders.append(folder)
        return folder

    def in_place(self) -> Path:
        """The output folder itself, for a format that updates an existing output in place.

        Only for formats declared with ``FormatInfo(in_place=True)`` (their library
        commits atomically on its own, as a Deep Lake dataset does). The writer must
        make its change visible only in a step registered with :meth:`on_commit`,
        so that a failed write or a refused loss check changes nothing.
        """
        if not self._in_place:
            raise OutputError("this format does not update outputs in place", file=str(self.dest))
        self._before = set()  # the folder is updated, not replaced: nothing of it is "left over"
        return self.dest

    def remote(self) -> tuple[str, dict[str, Any]] | None:
        """``(url, storage_options)`` for an output on remote storage, ``None`` for a local one.

        With :meth:`in_place` (which then returns the URL), a format whose library talks to the
        store itself (Deep Lake) writes there directly in its :meth:`on_commit` step."""
        return None

    def on_commit(self, step: Any) -> None:
        """Run ``step()`` when the output commits, before staged files move into place.

        For writers whose library has its own commit (a dataset version): the hub
        commits only after the writer finished and the loss check passed. An
        exception from a step aborts the output (nothing staged is moved).
        """
        if self._done:
            raise OutputError("output already committed or aborted")
        self._commit_steps.append(step)

    def final_path(self, relpath: str | None = None) -> Path:
        """Where ``relpath`` will be after commit."""
        if self.kind == "file":
            return self.dest
        return self.dest / str(safe_relpath(relpath or ""))

    def companion(self, dest: str | os.PathLike[str]) -> "OutputTarget":
        """A second one-file output the user named (a writer option), staged beside this one and
        committed (after it) or aborted with it: the same checks (``--overwrite``), never half written."""
        child = OutputTarget(dest, kind="file", registry=self.registry, overwrite=self.overwrite)
        self._companions.append(child)
        return child

    # -- finishing ------------------------------------------------------------------------
    def _close_handles(self) -> None:
        for fh in self._open:
            if not fh.closed:
                fh.close()
        self._open.clear()

    def commit(self) -> list[Path]:
        """Move everything staged into place, as one transaction, then the companions. Returns the final paths."""
        paths = self._commit_own()
        for child in self._companions:
            paths += child.commit()
        return paths

    def _commit_own(self) -> list[Path]:
        """Move everything staged into place, as one transaction. Returns the final paths.

        An exception of any kind while files move (an ``OSError``, ``KeyboardInterrupt``
        from Ctrl-C or SIGTERM) puts the previous output back before it propagates; the
        exception then carries :func:`output_state` ``"unchanged"`` (or ``"pending"``
        when a second interruption stopped the roll-back: the next run finishes it).
        """
        if self._done:
            return [self.final_path(r) for r in self.written]
        self._close_handles()
        try:
            for step in self._commit_steps:
                step()  # before anything moves
            self._register_stage_folders()
        except BaseException:
            self.abort()
            raise
        self._done = True
        staging = self._staging
        if staging is None:
            if self.kind == "folder":
                self.dest.mkdir(exist_ok=True)
            self.committed = True
            return []
        try:
            if self.kind == "file":
                try:
                    os.replace(staging / _NEW / self.dest.name, self.dest)  # one rename: atomic
                except OSError as exc:
                    raise OutputError(f"cannot write: {exc.strerror}", file=str(self.dest)) from None
            else:
                self._check_final_paths()
                self._move_all(staging)
        except BaseException as exc:
            if self._landed(staging):
                # Interrupted after the commit point: the new output is complete.
                self.committed = True
                _mark(exc, "written", self.dest)
                self._discard()
            elif output_state(exc) != "pending":
                self._discard()
                _mark(exc, "unchanged", self.dest)
            raise
        self.committed = True
        self._discard()
        return [self.final_path(r) for r in self.written]

    def _landed(self, staging: Path) -> bool:
        """Whether the commit point was passed (read from disk: an interruption may fall anywhere)."""
        if self.kind == "file":
            return not os.path.lexists(staging / _NEW / self.dest.name)
        return (staging / _COMMITTED).exists()

    def _discard(self) -> None:
        """Remove the staging folder (it holds nothing of any output now) and release its lock."""
        if self._staging is not None:
            try:
                _remove_staging(self._staging)
            except KeyboardInterrupt:
                # SIGTERM/Ctrl-C in the middle of the removal (the output is complete): finish
                # removing what holds nothing of any output, then let the interruption through.
                _remove_staging(self._staging)
                raise
        if self._lock is not None:
            self._lock.release()
            self._lock = None
    def _register_stage_folders(self) -> None:
        """The files a library wrote into :meth:`stage_folder` folders join the staged files."""
        if self._staging is None:
            return
        new_root = self._staging / _NEW
        for folder in self._stage_folders:
            for path in sorted(folder.rglob("*")):
                if path.is_symlink():
                    raise OutputError("refusing to commit a link written into the staging folder",
                                      file=str(self.dest / path.relative_to(new_root)))
                if path.is_file():
                    rel = path.relative_to(new_root).as_posix()
                    if rel not in self._written_set:
                        self.written.append(rel)
                        self._written_set.add(rel)

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

    def _plan(self) -> dict[str, Any]:
        """The journal: every file to move, and every folder the commit will create (deepest last)."""
        dirs: list[str] = []
        seen: set[str] = set()
        for rel in self.written:
            parent = PurePosixPath(rel).parent
            chain = []
            while str(parent) not in (".", "") and str(parent) not in seen:
                seen.add(str(parent))
                if not (self.dest / str(parent)).exists():
                    chain.append(str(parent))
                parent = parent.parent
            dirs.extend(reversed(chain))
        return {"dest": str(self.dest), "files": list(self.written), "dirs": dirs}

    def _move_all(self, staging: Path) -> None:
        """Move every staged file into place under a journal; on any exception put back what was there."""
        journal = self._plan()
        tmp = staging / (_JOURNAL + ".tmp")
        try:
            tmp.write_text(json.dumps(journal), encoding="utf-8")
            os.replace(tmp, staging / _JOURNAL)  # from here on, a killed run is rolled back by the next
        except OSError as exc:
            raise OutputError(f"cannot write: {exc.strerror}; nothing was changed", file=str(self.dest)) from None
        new_root, old_root = staging / _NEW, staging / _OLD
        made: set[Path] = set()
        try:
            for d in journal["dirs"]:
                (self.dest / d).mkdir(exist_ok=True)
            for rel in self.written:
                final = self.dest / rel
                if os.path.lexists(final):
                    backup = old_root / rel
                    if backup.parent not in made:
                        backup.parent.mkdir(parents=True, exist_ok=True)
                        made.add(backup.parent)
                    os.replace(final, backup)
                os.replace(new_root / rel, final)
        except BaseException as exc:
            self._undo(exc, staging, journal)
        try:
            os.replace(staging / _JOURNAL, staging / _COMMITTED)  # the commit point: one rename
        except BaseException as exc:
            if self._landed(staging):
                raise
            self._undo(exc, staging, journal)

    def _undo(self, exc: BaseException, staging: Path, journal: dict[str, Any]) -> None:
        """Roll the moves back after ``exc`` and raise it (an ``OSError`` as an OutputError)."""
        try:
            _roll_back(self.dest, staging, journal)
        except BaseException:
            # A second interruption (or a failing disk) stopped the roll-back: the journal
            # stays, and the next run into this output finishes it.
            _mark(exc, "pending", self.dest)
            if self._lock is not None:
                self._lock.release()
                self._lock = None
            raise exc from None
        if isinstance(exc, OSError):
            raise OutputError(f"cannot write: {exc.strerror}; nothing was changed",
                              file=str(self.dest)) from None
        raise exc

    def abort(self) -> None:
        """Remove everything staged; the destination is left as it was (a no-op after a commit)."""
        for child in self._companions:
            child.abort()
        self._close_handles()
        self._done = True
        if self.committed:
            return
        if self._staging is not None and not (self._staging / _JOURNAL).exists():
            self._discard()
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
