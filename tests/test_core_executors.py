"""The local executor: one process pool for every stage it runs, workers that start with the heavy
libraries already imported, and a fresh pool after a worker dies."""

from __future__ import annotations

import os
import signal
import sys

from grewkit.core.executors import LocalExecutor


def worker_pid(_item) -> int:
    return os.getpid()


def preloaded(_item) -> bool:
    # The forkserver imported these before forking the worker; the task function imports nothing.
    return "trackers" in sys.modules and "onnxruntime" in sys.modules


def die(_item) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def test_one_pool_serves_every_call_and_workers_start_with_the_libraries_loaded():
    with LocalExecutor(workers=2) as executor:
        first = {o.value for o in executor.map_unordered(worker_pid, range(8))}
        second = {o.value for o in executor.map_unordered(worker_pid, range(8))}
        assert first and first & second, (first, second)  # the same worker processes, not a new pool
        assert all(o.value for o in executor.map_unordered(preloaded, range(2)))


def test_a_dead_worker_fails_its_units_and_the_next_call_gets_a_new_pool():
    with LocalExecutor(workers=1) as executor:
        outcomes = list(executor.map_unordered(die, [0]))
        assert outcomes[0].error and "worker process died" in outcomes[0].error
        after = list(executor.map_unordered(worker_pid, range(2)))
        assert all(o.error is None for o in after), after
