"""Run a stage's units on a Ray cluster (``--executor ray``; install with ``pip install 'grewkit[ray]'``).

Guarantees are the runner's, not Ray's: a unit is done only once its worker wrote the done
marker, so a task that Ray retries after its worker was killed rewrites its parts atomically and
never doubles rows. Ray retries a task whose worker died up to ``max_retries`` times; after that
the unit is recorded as failed with the reason. Exceptions inside a unit are not retried: the
runner records them as failures (deterministic errors would fail again).

The project folder must be on storage every node sees (NFS, Lustre, ...): workers write parts
and markers there directly, so the driver is never a bottleneck.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from grewkit.core.errors import GrewkitError
from grewkit.core.executors import Executor, Outcome


def _call(fn: Callable[[Any], Any], item: Any) -> Any:
    return fn(item)


class RayExecutor(Executor):
    name = "ray"

    def __init__(
        self,
        workers: int = 2,
        *,
        address: str | None = None,
        num_cpus: float = 1.0,
        num_gpus: float = 0.0,
        max_retries: int = 2,
    ):
        try:
            import ray
        except ImportError:
            raise GrewkitError("the ray executor needs Ray: pip install 'grewkit[ray]'") from None
        self._ray = ray
        self._owns_cluster = False
        if not ray.is_initialized():
            # Workers must import grewkit (and a user's plug-in stages) exactly as the driver does.
            env = {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
            kwargs: dict[str, Any] = dict(
                runtime_env={"env_vars": env}, include_dashboard=False, log_to_driver=False, configure_logging=False
            )
            if address:
                ray.init(address=address, **kwargs)
            else:
                ray.init(num_cpus=workers, **kwargs)
                self._owns_cluster = True
        self.num_cpus = num_cpus
        self.num_gpus = num_gpus
        self.max_retries = max_retries

    def map_unordered(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Outcome]:
        ray = self._ray
        remote = ray.remote(num_cpus=self.num_cpus, num_gpus=self.num_gpus, max_retries=self.max_retries)(_call)
        fn_ref = ray.put(fn)
        pending = {remote.remote(fn_ref, item): item for item in items}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                item = pending.pop(ref)
                try:
                    yield Outcome(item, value=ray.get(ref))
                except (
                    ray.exceptions.WorkerCrashedError,
                    ray.exceptions.NodeDiedError,
                    ray.exceptions.ActorDiedError,
                ) as exc:
                    yield Outcome(
                        item,
                        error=f"the Ray worker died {self.max_retries + 1} times running this unit "
                        f"({type(exc).__name__})",
                    )
                except ray.exceptions.RayError as exc:
                    cause = getattr(exc, "cause", None) or exc
                    yield Outcome(item, error=f"{type(cause).__name__}: {cause}".splitlines()[0])

    def close(self) -> None:
        if self._owns_cluster and self._ray.is_initialized():
            self._ray.shutdown()
