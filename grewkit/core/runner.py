"""The stage runner: resumable, idempotent, crash-safe execution of a stage's units.

State of a stage lives in ``PROJECT/state/<stage>/``:

- ``plan.json``: every unit of the last run, so ``grewkit status`` can count pending ones;
- ``parts/<manifest>/[<partition>/]<unit>.parquet``: each unit's rows, written atomically;
- ``done/<unit>.json``: written after all of a unit's parts, so a unit is done exactly when its
  marker exists. A kill between the parts and the marker only means the unit runs again;
- ``failed/<unit>.json``: the reason a unit failed, removed when it later succeeds.

After the units, the manifests are rebuilt from the parts of the planned, done units, sorted by
primary key: the same inputs give byte-identical manifests however often the run was killed.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from grewkit.core import manifests
from grewkit.core.atomic import write_json
from grewkit.core.errors import GrewkitError
from grewkit.core.executors import Executor, executor_for
from grewkit.core.progress import progress_bar
from grewkit.core.project import Project
from grewkit.core.schemas import conform, get_schema
from grewkit.core.stage import Stage, Unit, stage_class
from grewkit.core.thirdparty_logs import third_party_output


@dataclass
class UnitReport:
    key: str
    ok: bool
    rows: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    seconds: float = 0.0


@dataclass
class StageSummary:
    stage: str
    total: int
    done: int
    skipped: int
    failed: dict[str, str]
    seconds: float

    @property
    def pending(self) -> int:
        return self.total - self.done - self.skipped - len(self.failed)

    def line(self) -> str:
        rate = self.done / self.seconds if self.seconds > 0 else 0.0
        return (
            f"{self.stage}: {self.done} done, {self.skipped} already done, {len(self.failed)} failed, "
            f"{self.pending} pending, of {self.total} units in {self.seconds:.1f} s ({rate:.2f} units/s)"
        )


class StageState:
    """The files under ``state/<stage>/`` and the questions asked of them."""

    def __init__(self, project: Project, stage: str):
        self.dir = project.state_dir(stage)

    def done_path(self, key: str) -> Path:
        return self.dir / "done" / f"{key}.json"

    def failed_path(self, key: str) -> Path:
        return self.dir / "failed" / f"{key}.json"

    def part_path(self, manifest: str, key: str, partition: str | None = None) -> Path:
        base = self.dir / "parts" / manifest
        return (base / partition if partition is not None else base) / f"{key}.parquet"

    def done_keys(self) -> set[str]:
        return {p.stem for p in (self.dir / "done").glob("*.json")}

    def failures(self) -> dict[str, str]:
        out = {}
        for p in sorted((self.dir / "failed").glob("*.json")):
            try:
                out[p.stem] = json.loads(p.read_text())["reason"]
            except (ValueError, KeyError, OSError):
                out[p.stem] = "(unreadable failure record)"
        return out

    def planned(self) -> list[dict] | None:
        path = self.dir / "plan.json"
        if not path.exists():
            return None
        return json.loads(path.read_text())["units"]

    def write_plan(self, units: list[Unit]) -> None:
        write_json(self.dir / "plan.json", {"units": [{"key": u.key, "payload": u.payload} for u in units]})


_WORKER_STAGES: dict[tuple[str, str], Stage] = {}


def _stage_ref(cls: type[Stage]) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _worker_stage(ref: str, root: str) -> Stage:
    # One stage object per worker process: models and other heavy state load once, not per unit.
    key = (ref, root)
    if key not in _WORKER_STAGES:
        _WORKER_STAGES[key] = stage_class(ref)(Project(Path(root)))
    return _WORKER_STAGES[key]


def run_unit(task: tuple[str, str, str, dict]) -> UnitReport:
    """Process one unit and persist its rows; runs inside a worker (any executor)."""
    ref, root, key, payload = task
    started = time.perf_counter()
    # What models print from C++ or through warnings goes to logs/<stage>.log, not the terminal.
    log = Path(root) / "logs" / f"{stage_class(ref).name}.log"
    with third_party_output(log, header=f"unit {key}"):
        stage = _worker_stage(ref, root)
    state = StageState(stage.project, stage.name)
    try:
        with third_party_output(log):
            tables = stage.process(Unit(key, payload))
        missing = set(stage.outputs) - set(tables)
        unexpected = set(tables) - set(stage.outputs)
        if missing or unexpected:
            raise GrewkitError(f"stage {stage.name} returned manifests {sorted(tables)}, declared {sorted(stage.outputs)}")
        rows = {}
        for name in stage.outputs:
            schema = get_schema(name)
            table = conform(tables[name], schema)
            rows[name] = table.num_rows
            if schema.partition_by:
                column = table.column(schema.partition_by)
                for value in sorted(pc.unique(column).to_pylist()):
                    part = table.filter(pc.equal(column, value))
                    manifests.write_table(state.part_path(name, key, value), part)
            else:
                manifests.write_table(state.part_path(name, key), table)
    except Exception as exc:
        text = str(exc).strip()
        reason = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
        write_json(state.failed_path(key), {"unit": key, "reason": reason, "traceback": traceback.format_exc(limit=8)})
        return UnitReport(key, ok=False, error=reason, seconds=time.perf_counter() - started)
    write_json(state.done_path(key), {"unit": key, "rows": rows})
    state.failed_path(key).unlink(missing_ok=True)
    return UnitReport(key, ok=True, rows=rows, seconds=time.perf_counter() - started)


class _StageLock:
    """An exclusive lock per stage and project, so two runs never interleave their parts."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            raise GrewkitError("another run of this stage holds the lock; wait for it to finish", path=self.path) from None
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


def merge_parts(project: Project, stage: str, outputs: Iterable[str], keys: list[str]) -> None:
    """Rebuild each output manifest from the parts of ``keys`` (the planned units that are done)."""
    state = StageState(project, stage)
    wanted = set(keys)
    for name in outputs:
        schema = get_schema(name)
        base = state.dir / "parts" / name
        if schema.partition_by:
            produced = set()
            for folder in sorted(p for p in base.glob("*") if p.is_dir()):
                files = [f for f in sorted(folder.glob("*.parquet")) if f.stem in wanted]
                if files:
                    table = pa.concat_tables([conform(pq.read_table(f), schema, path=f) for f in files])
                    manifests.write_partition(project.manifests_dir, name, folder.name, table)
                    produced.add(f"{folder.name}.parquet")
            for stale in manifests.partition_files(project.manifests_dir, name):
                if stale.name not in produced:
                    stale.unlink()
        else:
            files = [f for f in sorted(base.glob("*.parquet")) if f.stem in wanted]
            tables = [conform(pq.read_table(f), schema, path=f) for f in files]
            table = pa.concat_tables(tables) if tables else schema.empty_table()
            project.write(name, table)


def run_stage(
    project: Project,
    stage: str | type[Stage],
    *,
    executor: Executor | None = None,
    retry_failed: bool | None = None,
    show_progress: bool = True,
) -> StageSummary:
    """Run every planned unit that is not done yet, then rebuild the stage's manifests."""
    cls = stage_class(stage) if isinstance(stage, str) else stage
    settings = project.settings.section("executor")
    retry = settings.retry_failed if retry_failed is None else retry_failed
    own_executor = executor is None
    if executor is None:
        executor = executor_for(settings, cls.name)
    instance = cls(project)
    state = StageState(project, cls.name)
    started = time.perf_counter()
    try:
        with _StageLock(state.dir / ".lock"):
            units = instance.plan()
            keys = [u.key for u in units]
            if len(set(keys)) != len(keys):
                raise GrewkitError(f"stage {cls.name} planned duplicate unit keys")
            state.write_plan(units)
            done = state.done_keys()
            old_failures = state.failures()
            todo = [u for u in units if u.key not in done and (retry or u.key not in old_failures)]
            skipped = len(units) - len(todo)
            failed = {} if retry else {k: v for k, v in old_failures.items() if k in set(keys)}
            skipped -= len(failed)
            ref = _stage_ref(cls)
            n_done = 0
            tasks = [(ref, str(project.root), u.key, u.payload) for u in todo]
            with progress_bar(f"{cls.name}", total=len(units), completed=skipped + len(failed), unit=cls.unit_noun,
                              enabled=show_progress) as advance:
                for outcome in executor.map_unordered(run_unit, tasks):
                    key = outcome.item[2]
                    report: UnitReport | None = outcome.value
                    if outcome.error is not None:
                        failed[key] = outcome.error.splitlines()[0]
                        write_json(state.failed_path(key), {"unit": key, "reason": outcome.error})
                    elif not report.ok:
                        failed[key] = report.error or "unknown error"
                    else:
                        n_done += 1
                    advance(1)
            merge_parts(project, cls.name, cls.outputs, sorted(k for k in state.done_keys() if k in set(keys)))
    finally:
        instance.close()
        if own_executor:
            executor.close()
    return StageSummary(cls.name, len(units), n_done, skipped, failed, time.perf_counter() - started)


def stage_status(project: Project, stage: str) -> dict:
    """Counts of done, failed and pending units as recorded by the last run (no work is done)."""
    state = StageState(project, stage)
    planned = state.planned()
    if planned is None:
        return {"stage": stage, "started": False, "total": 0, "done": 0, "failed": {}, "pending": 0}
    keys = {u["key"] for u in planned}
    done = state.done_keys() & keys
    failed = {k: v for k, v in state.failures().items() if k in keys}
    return {
        "stage": stage,
        "started": True,
        "total": len(keys),
        "done": len(done),
        "failed": failed,
        "pending": len(keys) - len(done) - len(failed),
    }
