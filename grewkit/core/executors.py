"""Executors run a function over many units and report each outcome as it arrives.

The runner only talks to this interface, so a cluster executor (Ray) can replace the local
process pool without touching any stage. An executor must yield exactly one outcome per
item it was given, in any order.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import shutil
import tempfile
import traceback
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from grewkit.core.errors import GrewkitError
from grewkit.core.registry import Registry


@dataclass(frozen=True)
class Outcome:
    """What became of one item: ``value`` when the function returned, ``error`` when it raised or its worker died."""

    item: Any
    value: Any = None
    error: str | None = None


class Executor(ABC):
    name: str = "executor"

    @abstractmethod
    def map_unordered(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Outcome]:
        """Apply ``fn`` to every item, yielding one Outcome per item as soon as it is known."""

    def close(self) -> None:
        """Release workers; the executor is not used after this."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class SerialExecutor(Executor):
    """Runs everything in this process: for debugging, profiling and tiny inputs."""

    name = "serial"

    def __init__(self, workers: int = 1):
        del workers

    def map_unordered(self, fn, items):
        for item in items:
            try:
                yield Outcome(item, value=fn(item))
            except Exception as exc:  # one unit's failure must not stop the others
                yield Outcome(item, error=_describe(exc) + "\n" + traceback.format_exc(limit=5))


# Imported once by the forkserver, so that every worker it forks starts with them instead of paying
# for them again (trackers alone takes about 1 s, through supervision, scipy and matplotlib). Only
# libraries that start no threads on import belong here; the forkserver ignores any that fail.
WORKER_PRELOAD: tuple[str, ...] = (
    "grewkit.core.forkserver_lifeline",
    "numpy",
    "pyarrow",
    "pyarrow.parquet",
    "cv2",
    "grewkit.core.runner",
    "onnxruntime",
    "trackers",
)


def _tracked(fn, folder: str, index: int, item):
    """Run ``fn(item)`` in a worker, leaving a mark while it runs: a dead worker leaves its unit's mark behind."""
    mark = os.path.join(folder, str(index))
    with open(mark, "w"):
        pass
    try:
        return fn(item)
    finally:
        os.unlink(mark)


def _worker_start() -> None:
    from grewkit.core.lifeline import die_with_parent

    die_with_parent()


DIED = "the worker process died (killed or crashed) while running this unit"


class LocalExecutor(Executor):
    """A process pool on this machine (the default); one pool serves every stage the executor runs."""

    name = "local"

    def __init__(self, workers: int = 2):
        if workers < 1:
            raise GrewkitError(f"executor workers must be at least 1, not {workers}")
        self.workers = workers
        self._pool: cf.ProcessPoolExecutor | None = None

    def _get_pool(self) -> cf.ProcessPoolExecutor:
        if self._pool is None:
            # forkserver, not fork: workers must not inherit the runner's lock, threads (progress bar) or open models.
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(list(WORKER_PRELOAD))
            self._pool = cf.ProcessPoolExecutor(max_workers=self.workers, mp_context=context, initializer=_worker_start)
        return self._pool

    def _drop_pool(self, pool) -> None:
        # A broken pool stays broken: the next batch starts a fresh one.
        if self._pool is pool:
            pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def map_unordered(self, fn, items):
        """One dead worker fails only the unit it was running; the others run again on fresh workers.

        When a worker dies, the pool fails every unfinished unit alike. The marks left by ``_tracked``
        tell which units were running: the ones not started go back to the queue unharmed; the ones
        running are retried one at a time, so that the one that kills its worker is found and the others
        finish. A unit fails only when its worker dies while it runs alone: a worker killed once from
        outside (the OOM killer, a preempted node) costs no unit, even when its unit was the only one running.
        """
        items = list(items)
        if not items:
            return
        folder = tempfile.mkdtemp(prefix="grewkit-running-")
        try:
            queue, alone, unexplained = list(range(len(items))), [], 0
            while queue or alone:
                if queue:
                    batch, queue, isolated = queue, [], False
                else:
                    batch, isolated = [alone.pop(0)], True
                pool = self._get_pool()
                futures = {pool.submit(_tracked, fn, folder, i, items[i]): i for i in batch}
                broken = []
                for future in cf.as_completed(futures):
                    i = futures[future]
                    try:
                        yield Outcome(items[i], value=future.result())
                    except cf.process.BrokenProcessPool:
                        broken.append(i)
                    except Exception as exc:
                        yield Outcome(items[i], error=_describe(exc))
                if not broken:
                    continue
                self._drop_pool(pool)
                running = [i for i in broken if os.path.exists(os.path.join(folder, str(i)))]
                for i in running:
                    os.unlink(os.path.join(folder, str(i)))
                if not running:
                    # Died before any unit started (e.g. at worker start): give up after a second time.
                    unexplained += 1
                    if unexplained >= 2 or isolated:
                        for i in broken:
                            yield Outcome(items[i], error=DIED)
                        continue
                if isolated:
                    for i in running:
                        yield Outcome(items[i], error=DIED)
                else:
                    alone += running
                queue += [i for i in broken if i not in running]
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


# Name -> "module:Class"; a cluster executor adds its line here. Contract: an ``Executor``
# subclass built as ``cls(workers=n, **options)`` (the options only for kinds that take them).
EXECUTORS: Registry[type[Executor]] = Registry(
    "executor",
    {
        "local": "grewkit.core.executors:LocalExecutor",
        "serial": "grewkit.core.executors:SerialExecutor",
        "ray": "grewkit.core.ray_executor:RayExecutor",
    },
)


def executor_for(
    settings, stage: str, *, kind: str | None = None, workers: int | None = None, address: str | None = None
) -> Executor:
    """The executor a stage runs on: the project's [executor] settings, overridden by command-line values."""
    kind = kind or settings.kind
    options = {}
    if kind == "ray":
        resources = settings.resources.get(stage, {})
        unknown = set(resources) - {"num_cpus", "num_gpus"}
        if unknown:
            raise GrewkitError(
                f"[executor] resources.{stage} has unknown keys {sorted(unknown)}; use num_cpus, num_gpus"
            )
        options = dict(
            address=address or settings.ray_address or None,
            max_retries=settings.ray_max_retries,
            num_cpus=float(resources.get("num_cpus", 1)),
            num_gpus=float(resources.get("num_gpus", 0)),
        )
    if workers is not None and workers < 1:
        # 0 is a value, not "unset": it must not silently fall back to the settings.
        raise GrewkitError(f"--workers {workers}: at least 1 worker is needed")
    return make_executor(kind, settings.workers if workers is None else workers, **options)


def make_executor(kind: str, workers: int, **options) -> Executor:
    """Build an executor by name; ``options`` go to executors that take them (e.g. Ray's address and resources)."""
    return EXECUTORS.get(kind)(workers=workers, **options)
