"""A Dask LocalCluster (processes, 2 workers) in a child process, for the engine tests.

Run as a script it starts the cluster, prints the scheduler's address and keeps it up
until its stdin closes. Run from the tests (:func:`start`) it keeps the test process free
of the cluster's threads, so later tests that fork (Lightly's worker pool) still can.
"""
from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass


@dataclass
class Cluster:
    address: str
    process: subprocess.Popen

    def stop(self) -> None:
        self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start(workers: int = 2, timeout: float = 60.0) -> Cluster:
    proc = subprocess.Popen([sys.executable, __file__, str(workers)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline().strip()
    if not line.startswith("tcp://"):
        proc.kill()
        raise RuntimeError(f"the Dask cluster did not start (exit {proc.wait()})")
    return Cluster(line, proc)


def main() -> None:
    from distributed import LocalCluster

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None)
    print(cluster.scheduler_address, flush=True)
    sys.stdin.read()
    cluster.close()


if __name__ == "__main__":
    main()
