"""An ordered map over forked worker processes: ``ordered_map(func, items, workers)``.

For work that holds the GIL (decoding JSON, parsing text) threads gain nothing; forked
processes do. :func:`ordered_map` yields ``func(item)`` for every item **in the items'
order**, computed by up to ``workers`` forked processes, with the guarantees a reader
needs so that using workers never changes what is read:

* **Same results, same order.** Worker ``k`` of ``n`` computes items ``k, k+n, k+2n, ...``
  and sends each result down its own pipe; the caller reads them back round robin, so
  results arrive in order with no task queue and no threads.
* **Flat memory.** A pipe holds at most ``pipe_bytes`` (asked of Linux with
  ``F_SETPIPE_SZ``); a worker then waits until the caller reads, so results never pile
  up. Each item the caller has consumed is dropped from the caller's copy of the list.
* **Nothing is lost.** A worker that cannot start, dies, or raises leaves the rest to
  the calling process: the item it failed on, and every later one, is computed there
  (so an exception ``func`` raises surfaces in the caller, with its own traceback).
  :attr:`OrderedMap.note` says why, for the caller's report.
* **No orphans.** Workers stop when the map is exhausted, closed, garbage collected, or
  the caller exits; a caller killed outright (SIGKILL) takes its workers with it (Linux
  parent-death signal), and no worker blocks on a pipe nobody reads.

Workers are forked, so they exist only where ``fork`` is safe (:func:`can_fork`: Linux,
from a process running a single Python thread); elsewhere, and with ``workers=0``,
items are mapped lazily in the calling process. ``func`` and the items are inherited by
the fork (no pickling); only results travel, pickled. A worker ignores Ctrl-C (the
caller stops it), dies on SIGTERM and runs with the cyclic garbage collector off (it
would only walk, and copy, the heap it inherited): ``func`` should make acyclic results.
"""
from __future__ import annotations

import os
import sys
import threading
from typing import Any, Callable, Generic, Iterable, Iterator, TypeVar

__all__ = ["OrderedMap", "can_fork", "ordered_map", "usable_cpus"]

T = TypeVar("T")
R = TypeVar("R")

#: Pipe size asked for each worker (Linux's default is 64 KiB; the most an unprivileged
#: process may ask for is /proc/sys/fs/pipe-max-size, 1 MiB by default).
PIPE_BYTES = 1 << 20


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask where the platform has one), at least 1."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def can_fork() -> bool:
    """Whether worker processes may be forked here: Linux, and no other Python thread running
    (native threads such as OpenBLAS's pool are fork-aware; forking beside a Python thread
    may copy a lock that thread holds)."""
    return sys.platform.startswith("linux") and threading.active_count() == 1


def ordered_map(func: Callable[[T], R], items: Iterable[T], workers: int, *, name: str = "predport-worker",
                pipe_bytes: int = PIPE_BYTES, with_items: bool = False) -> OrderedMap[T, R]:
    """``func(item)`` for each item, in order, computed by up to ``workers`` forked processes.

    ``workers`` is capped by the number of items; ``0`` (or a platform where forking is
    not safe, see :func:`can_fork`) maps lazily in this process. With workers the items
    are listed first (each worker picks its share of the list). Workers are named
    ``f"{name}-{k}"``. Use the result as an iterator, ideally in a ``with`` block or
    closed when done (:meth:`OrderedMap.close`); its :attr:`~OrderedMap.workers` says how
    many processes were started and :attr:`~OrderedMap.note` why fewer than asked for
    ran (``None`` when nothing went wrong). With ``with_items=True`` it yields
    ``(item, result)`` pairs (the item is the caller's own: only results travel).

        >>> list(ordered_map(abs, [-2, 1, -3], workers=0))
        [2, 1, 3]
    """
    return OrderedMap(func, items, workers, name=name, pipe_bytes=pipe_bytes, with_items=with_items)


class OrderedMap(Generic[T, R]):
    """The iterator :func:`ordered_map` returns (see there)."""

    def __init__(self, func: Callable[[T], R], items: Iterable[T], workers: int, *, name: str = "predport-worker",
                 pipe_bytes: int = PIPE_BYTES, with_items: bool = False) -> None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
            raise ValueError(f"workers must be an integer >= 0, got {workers!r}")
        self.func = func
        self.with_items = with_items
        #: Worker processes started (0: everything is computed in this process).
        self.workers = 0
        #: Why workers did not start or stopped early (computed here instead), or ``None``.
        self.note: str | None = None
        self._pool: _Pool | None = None
        self._items: Iterable[T]
        if workers and can_fork():
            listed = list(items)
            self._items = listed
            if listed:
                try:
                    self._pool = _Pool(func, listed, min(workers, len(listed)), name, pipe_bytes)
                    self.workers = len(self._pool.conns)
                except Exception as exc:  # e.g. a daemonic process may not have children
                    self.note = f"worker processes could not start ({exc}); working in one process"
        else:
            self._items = items
        self._it = self._run()

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        return next(self._it)

    def __enter__(self) -> OrderedMap[T, R]:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _run(self) -> Iterator[Any]:
        func = self.func
        items = self._items
        pairs = self.with_items
        try:
            for j, item in enumerate(items):
                pool = self._pool
                if pool is None:
                    yield (item, func(item)) if pairs else func(item)
                    continue
                if type(items) is list:
                    items[j] = None  # type: ignore[call-overload]  # consumed: the listing shrinks
                ok, value = pool.get(j)
                if not ok:
                    self.note = f"a worker process stopped ({pool.why}); the rest is done in one process"
                    self._stop()
                    value = func(item)
                yield (item, value) if pairs else value
        finally:
            self._stop()

    def _stop(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def close(self) -> None:
        """Stop the workers now (also done when the map is exhausted or garbage collected)."""
        self._it.close()  # type: ignore[attr-defined]  # a generator
        self._stop()


class _Failure:
    """What a worker sends instead of a result when something stops it."""

    def __init__(self, why: str) -> None:
        self.why = why


class _Pool:
    """``n`` forked processes, worker ``k`` computing items ``k, k+n, ...`` down pipe ``k``."""

    def __init__(self, func: Callable[[Any], Any], items: list[Any], n: int, name: str, pipe_bytes: int) -> None:
        import multiprocessing
        import warnings
        import weakref

        mp = multiprocessing.get_context("fork")
        self.why = ""
        self.conns: list[Any] = []
        self.procs: list[Any] = []
        self._stop = weakref.finalize(self, _stop_workers, self.procs, self.conns)
        parent = os.getpid()
        try:
            for k in range(n):
                recv, send = mp.Pipe(duplex=False)
                self.conns.append(recv)
                try:
                    _widen(send, pipe_bytes)
                    # The worker closes every receiving end it inherits (its own included), so
                    # a dead caller leaves its pipe with no reader: writing fails at once.
                    proc = mp.Process(target=_worker_main, args=(send, list(self.conns), parent, func, items, k, n),
                                      daemon=True, name=f"{name}-{k}")
                    with warnings.catch_warnings():
                        # Python 3.12+ warns on fork beside any OS thread (numpy's OpenBLAS pool
                        # has some); Python threads are excluded by can_fork().
                        warnings.filterwarnings("ignore", r".*fork\(\) may lead to deadlocks", DeprecationWarning)
                        proc.start()
                    self.procs.append(proc)
                finally:
                    send.close()  # the worker's end: closed here, so a dead worker reads as EOF
        except BaseException:
            self.close()
            raise

    def get(self, j: int) -> tuple[bool, Any]:
        """``(True, result)`` of item ``j`` from its worker, or ``(False, None)`` (``why`` says how it failed)."""
        k = j % len(self.conns)
        try:
            msg = self.conns[k].recv()
        except (EOFError, OSError) as exc:
            self.why = f"worker {k}: {type(exc).__name__}"
            return False, None
        if type(msg) is _Failure:
            self.why = f"worker {k}: {msg.why}"
            return False, None
        return True, msg

    def close(self) -> None:
        self._stop()


def _widen(conn: Any, size: int) -> None:
    """Let a pipe hold up to ``size`` bytes (Linux; elsewhere nothing changes)."""
    try:
        import fcntl

        fcntl.fcntl(conn.fileno(), fcntl.F_SETPIPE_SZ, size)  # type: ignore[attr-defined]
    except (ImportError, AttributeError, OSError):  # no F_SETPIPE_SZ, or above pipe-max-size
        pass


def _stop_workers(procs: list[Any], conns: list[Any]) -> None:
    for proc in procs:
        if proc.is_alive():
            proc.terminate()
    for proc in procs:
        proc.join(5)
    for conn in conns:
        conn.close()


def _die_with(parent: int) -> None:
    """Have the kernel kill this worker when the caller dies (Linux ``PR_SET_PDEATHSIG``)."""
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # it died before the signal was set
        os._exit(1)


def _worker_main(conn: Any, inherited: list[Any], parent: int, func: Callable[[Any], Any], items: list[Any],
                 k: int, n: int) -> None:
    """Worker ``k`` of ``n``: compute items ``k, k+n, ...`` and send them; anything unexpected
    is sent as a :class:`_Failure` and ends it (the caller then computes the rest itself)."""
    import gc
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _die_with(parent)
    gc.disable()
    for other in inherited:
        other.close()
    try:
        for j in range(k, len(items), n):
            conn.send(func(items[j]))
    except Exception as exc:
        try:
            conn.send(_Failure(f"{type(exc).__name__}: {exc}"))
        except OSError:
            pass  # the caller is gone or stopped reading
    finally:
        conn.close()
