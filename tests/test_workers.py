"""predport.ordered_map: results in order, from forked workers or this process, never lost.

The tests that fork run on Linux only; the in-process ones run everywhere."""
from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import predport

needs_fork = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers are forked on Linux only")


def _square_and_pid(x: int) -> tuple[int, int]:
    return x * x, os.getpid()


def _ours(name: str) -> list[multiprocessing.Process]:
    return [p for p in multiprocessing.active_children() if p.name.startswith(name + "-")]


def test_no_workers_maps_lazily_here() -> None:
    seen: list[int] = []

    def f(x: int) -> int:
        seen.append(x)
        return -x

    m = predport.ordered_map(f, iter(range(5)), workers=0)
    assert seen == [] and m.workers == 0 and m.note is None
    assert next(m) == 0 and seen == [0]  # lazy: one item at a time
    assert list(m) == [-1, -2, -3, -4]


@pytest.mark.parametrize("workers", [-1, True, 1.5, "2"])
def test_workers_must_be_a_count(workers: object) -> None:
    with pytest.raises(ValueError, match="workers"):
        predport.ordered_map(abs, [1], workers)  # type: ignore[arg-type]


@needs_fork
@pytest.mark.parametrize("workers", [1, 2, 3])
def test_results_in_order_from_the_workers(workers: int) -> None:
    with predport.ordered_map(_square_and_pid, range(101), workers, name="pp-test-order") as m:
        assert m.workers == workers
        out = list(m)
    assert [v for v, _ in out] == [i * i for i in range(101)]
    pids = {pid for _, pid in out}
    assert os.getpid() not in pids and len(pids) == workers  # each worker did its share
    # item j was computed by worker j % n: the same pid every n items
    assert all(out[j][1] == out[j % workers][1] for j in range(101))
    assert m.note is None and not _ours("pp-test-order")


@needs_fork
def test_workers_are_capped_by_the_items() -> None:
    m = predport.ordered_map(_square_and_pid, [1, 2], 8, name="pp-test-cap")
    assert m.workers == 2
    assert [v for v, _ in m] == [1, 4]
    assert predport.ordered_map(abs, [], 4).workers == 0


@needs_fork
def test_a_raising_func_in_a_worker_raises_here() -> None:
    def f(x: int) -> int:
        if x == 7:
            raise KeyError("seven")
        return x

    m = predport.ordered_map(f, range(20), 2, name="pp-test-raise")
    got = [next(m) for _ in range(7)]
    assert got == list(range(7))
    with pytest.raises(KeyError, match="seven"):  # recomputed here: the caller's own exception
        next(m)
    assert "worker 1: KeyError" in (m.note or "") and "the rest is done in one process" in m.note
    assert not _ours("pp-test-raise")


@needs_fork
def test_a_killed_worker_is_noted_and_the_rest_computed_here() -> None:
    big = b"x" * (300 << 10)  # a few results fill a pipe: workers block, alive, until read

    def f(x: int) -> tuple[int, int, bytes]:
        return x, os.getpid(), big

    m = predport.ordered_map(f, range(40), 2, name="pp-test-kill", pipe_bytes=1 << 16)
    victim = next(p for p in _ours("pp-test-kill") if p.name.endswith("-1"))
    os.kill(victim.pid, signal.SIGKILL)
    victim.join(5)
    out = list(m)
    assert [x for x, _, _ in out] == list(range(40))
    assert m.note is not None and m.note.startswith("a worker process stopped (worker 1:")
    assert out[-1][1] == os.getpid()  # the tail was computed here
    assert not _ours("pp-test-kill")


@needs_fork
def test_close_and_garbage_collection_stop_the_workers() -> None:
    import gc

    big = b"y" * (1 << 20)
    m = predport.ordered_map(lambda x: big, range(50), 2, name="pp-test-close")
    next(m)
    assert len(_ours("pp-test-close")) == 2
    m.close()
    assert not _ours("pp-test-close")
    m = predport.ordered_map(lambda x: big, range(50), 2, name="pp-test-close")
    assert len(_ours("pp-test-close")) == 2  # started, never read
    del m
    gc.collect()
    assert not _ours("pp-test-close")


@needs_fork
def test_workers_that_cannot_start_leave_the_work_here() -> None:
    """In a daemonic process (which may not have children) the map still gives every result."""
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()

    def child() -> None:
        m = predport.ordered_map(abs, [-1, -2, -3], 2)
        q.put((list(m), m.workers, m.note))

    p = ctx.Process(target=child, daemon=True)
    p.start()
    values, workers, note = q.get(timeout=20)
    p.join(5)
    assert values == [1, 2, 3] and workers == 0
    assert note.startswith("worker processes could not start (daemonic processes are not allowed")


def test_never_forked_beside_other_python_threads() -> None:
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert not predport.can_fork()
        m = predport.ordered_map(_square_and_pid, range(5), 2)
        assert m.workers == 0
        assert [pid for _, pid in m] == [os.getpid()] * 5
    finally:
        stop.set()
        other.join()


def test_usable_cpus() -> None:
    n = predport.usable_cpus()
    assert n >= 1
    if hasattr(os, "sched_getaffinity"):
        assert n == len(os.sched_getaffinity(0))


@needs_fork
def test_workers_die_with_a_killed_caller(tmp_path) -> None:
    code = textwrap.dedent("""
        import os, signal, sys, multiprocessing, predport
        m = predport.ordered_map(lambda x: b"z" * (1 << 20), range(100), 2, name="pp-test-orphan")
        next(m)
        print(" ".join(str(p.pid) for p in multiprocessing.active_children()), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    pids = [int(p) for p in proc.stdout.split()]
    assert len(pids) == 2

    def alive(pid: int) -> bool:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                return fh.read().split(") ")[1][0] != "Z"
        except FileNotFoundError:
            return False

    deadline = time.monotonic() + 10
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(p) for p in pids)


@pytest.mark.parametrize("workers", [0, 2])
def test_with_items_pairs_each_item_with_its_result(workers: int) -> None:
    got = list(predport.ordered_map(lambda s: len(s), ["a", "bcd", "", "ef"], workers, with_items=True))
    assert got == [("a", 1), ("bcd", 3), ("", 0), ("ef", 2)]
