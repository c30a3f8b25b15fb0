"""The stage runner: resumable, idempotent, crash-safe execution of a stage's units.

State of a stage lives in ``PROJECT/state/<stage>/``:

- ``plan.json``: every unit of the last run, so ``grewkit status`` can count pending ones;
- ``parts/<manifest>/[<partition>/]<unit>.parquet``: each unit's rows, written atomically;
- ``done/<unit>.json``: written after all of a unit's parts, with the fingerprints of what the unit
  consumed and wrote (``grewkit.core.provenance``). A unit is done when its marker exists and its
  recorded inputs still equal the current ones; otherwise it is stale and runs again. A kill
  between the parts and the marker only means the unit runs again;
- ``failed/<unit>.json``: the reason a unit failed, removed when it later succeeds;
- ``run.json``: how the last run went about missing upstream units (``--partial`` or not).

After the units, the manifests are rebuilt from the parts of the planned, done units, sorted by
primary key: the same inputs give byte-identical manifests however often the run was killed.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from grewkit.core import manifests, provenance
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
    stale: int = 0
    left_out: int = 0

    @property
    def pending(self) -> int:
        return self.total - self.done - self.skipped - len(self.failed)

    def line(self) -> str:
        rate = self.done / self.seconds if self.seconds > 0 else 0.0
        redone = f" ({self.stale} of them stale, redone)" if self.stale else ""
        left = f" ({self.left_out} left out by --partial: their upstream units are not done)" if self.left_out else ""
        return (
            f"{self.stage}: {self.done} done{redone}, {self.skipped} already done, {len(self.failed)} failed, "
            f"{self.pending} pending{left}, of {self.total} units in {self.seconds:.1f} s ({rate:.2f} units/s)"
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

    def markers(self) -> dict[str, dict]:
        """Every done marker by unit key; a damaged one reads as a marker without inputs (so: stale)."""
        out = {}
        for p in sorted((self.dir / "done").glob("*.json")):
            try:
                out[p.stem] = json.loads(p.read_text())
            except (ValueError, OSError):
                out[p.stem] = {"unit": p.stem}
        return out

    def run_record(self) -> dict:
        try:
            return json.loads((self.dir / "run.json").read_text())
        except (ValueError, OSError):
            return {}

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


def _old_parts(state: StageState, outputs: Iterable[str], key: str) -> list[Path]:
    found = []
    for name in outputs:
        base = state.dir / "parts" / name
        found += [p for p in [base / f"{key}.parquet", *base.glob(f"*/{key}.parquet")] if p.is_file()]
    return found


def _row_files(project: Project, table: pa.Table) -> dict[str, dict]:
    """Files that output rows vouch for by checksum (``path`` + ``sha256``), with their stat as a cache."""
    if "path" not in table.column_names or "sha256" not in table.column_names:
        return {}
    out = {}
    for path, sha in zip(table.column("path").to_pylist(), table.column("sha256").to_pylist()):
        if path is None or sha is None:
            continue
        try:
            st = os.stat(project.resolve(path))
        except OSError:
            continue  # the stage named a file it did not keep: nothing to vouch for
        out[path] = {"sha256": sha, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    return out


def run_unit(task: tuple) -> UnitReport:
    """Process one unit and persist its rows; runs inside a worker (any executor).

    ``task`` is ``(stage ref, project root, key, payload, inputs, read)``: the inputs and input-file
    records were fingerprinted by the planning process and go into the done marker as they are.
    """
    ref, root, key, payload = task[:4]
    inputs, read = (task[4], task[5]) if len(task) > 5 else ({}, {})
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
            raise GrewkitError(
                f"stage {stage.name} returned manifests {sorted(tables)}, declared {sorted(stage.outputs)}"
            )
        # A redone unit may now write fewer partitions than before: its old parts must not be merged.
        for old in _old_parts(state, stage.outputs, key):
            old.unlink()
        rows, parts, files = {}, {}, {}
        for name in stage.outputs:
            schema = get_schema(name)
            table = conform(tables[name], schema)
            rows[name] = table.num_rows
            files.update(_row_files(stage.project, table))
            if schema.partition_by:
                column = table.column(schema.partition_by)
                written = [
                    (value, table.filter(pc.equal(column, value))) for value in sorted(pc.unique(column).to_pylist())
                ]
            else:
                written = [(None, table)]
            for value, part in written:
                path = state.part_path(name, key, value)
                manifests.write_table(path, part)
                parts[path.relative_to(state.dir / "parts").as_posix()] = provenance.sha256_file(path)
    except Exception as exc:
        text = str(exc).strip()
        reason = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
        write_json(state.failed_path(key), {"unit": key, "reason": reason, "traceback": traceback.format_exc(limit=8)})
        return UnitReport(key, ok=False, error=reason, seconds=time.perf_counter() - started)
    write_json(
        state.done_path(key),
        {"unit": key, "rows": rows, "inputs": inputs, "read": read, "parts": parts, "files": files},
    )
    state.failed_path(key).unlink(missing_ok=True)
    return UnitReport(key, ok=True, rows=rows, seconds=time.perf_counter() - started)


@dataclass
class Assessment:
    """Where every planned unit of a stage stands, judged by fingerprints rather than by markers alone.

    ``state``: done (marker present, inputs and files as recorded), stale (marker present, something
    changed), failed, pending, or blocked (an upstream unit it reads is not done).
    """

    stage: str
    units: list[Unit]
    state: dict[str, str] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    inputs: dict[str, dict] = field(default_factory=dict)
    read: dict[str, dict] = field(default_factory=dict)
    markers: dict[str, dict] = field(default_factory=dict)
    requires: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    upstream: dict[str, Assessment] = field(default_factory=dict)
    #: markers whose files were only touched (same checksum, new stat): rewritten to spare a rehash
    refreshed: dict[str, dict] = field(default_factory=dict)

    def keys(self, *states: str) -> list[str]:
        return [u.key for u in self.units if self.state[u.key] in states]

    def count(self, *states: str) -> int:
        return len(self.keys(*states))

    def missing_upstream(self) -> dict[str, tuple[int, int, str]]:
        """Per upstream stage: (units missing, its units, a breakdown), for the ones that are incomplete.

        Missing: pending, stale or blocked upstream units, and failed ones that some unit here reads
        (a video that failed ingest is simply not a video; a video whose detection failed cannot be tracked).
        """
        out = {}
        for name, up in self.upstream.items():
            wanted = {k for req in self.requires.values() for k in req.get(name, [])}
            missing: dict[str, int] = {}
            for u in up.units:
                st = up.state[u.key]
                if st != "done" and (st != "failed" or u.key in wanted):
                    missing[st] = missing.get(st, 0) + 1
            absent = len(wanted - set(up.state))
            if absent:
                missing["not planned"] = absent
            if missing:
                n = sum(missing.values())
                detail = ", ".join(f"{v} {k}" for k, v in sorted(missing.items()))
                out[name] = (n, len(up.units), detail)
        return out


def assess(project: Project, instance: Stage, *, deep: bool = True) -> Assessment:
    """Plan ``instance`` and judge every unit against its marker.

    ``deep``: also judge the upstream stages (one level), so that a stale upstream unit blocks the
    units that read it; without it the upstream markers are taken as they are.
    """
    units = instance.plan()
    keys = [u.key for u in units]
    if len(set(keys)) != len(keys):
        raise GrewkitError(f"stage {instance.name} planned duplicate unit keys")
    result = Assessment(instance.name, units)
    state = StageState(project, instance.name)
    planned = set(keys)
    result.markers = {k: m for k, m in state.markers().items() if k in planned}
    failures = state.failures()
    upstream_units: dict[str, list[Unit]] = {}
    upstream_markers: dict[str, dict[str, dict]] = {}
    for name in instance.needs():
        up = stage_class(name)(project)
        try:
            if deep:
                judged = assess(project, up, deep=False)
                result.upstream[name] = judged
                upstream_units[name] = judged.units
                upstream_markers[name] = {k: judged.markers[k] for k in judged.keys("done")}
            else:
                upstream_units[name] = up.plan()
                upstream_markers[name] = StageState(project, name).markers()
        finally:
            up.close()
    settings = provenance.digest(provenance.relative_to_root(instance.settings_fingerprint(), project.root))
    for unit in units:
        marker = result.markers.get(unit.key)
        inputs = {
            "payload": provenance.digest(provenance.relative_to_root(unit.payload, project.root)),
            "settings": settings,
        }
        blocked = []
        requires = instance.requires(unit, upstream_units) if upstream_units else {}
        result.requires[unit.key] = requires
        for name, up_keys in sorted(requires.items()):
            found = [(k, upstream_markers.get(name, {}).get(k)) for k in sorted(up_keys)]
            absent = [k for k, m in found if m is None]
            if absent:
                blocked.append(f"{len(absent)} {name} unit(s) it reads are not done (e.g. {absent[0]})")
            else:
                inputs[f"stage:{name}"] = provenance.outputs_digest(found)
        read = {}
        for path in instance.input_files(unit):
            known = (marker or {}).get("read", {}).get(path)
            record = provenance.file_record(project.resolve(path), known=known)
            inputs[f"file:{provenance.relative_to_root(path, project.root)}"] = (
                record["sha256"] if record else "missing"
            )
            if record:
                read[path] = record
        result.inputs[unit.key], result.read[unit.key] = inputs, read
        if blocked:
            result.state[unit.key], result.reasons[unit.key] = "blocked", "; ".join(blocked)
        elif marker is not None:
            why = [
                f"{n.split(':', 1)[-1]} changed" if n != "(no recorded inputs)" else n
                for n in provenance.changed_inputs(marker.get("inputs"), inputs)
            ]
            touched = False
            for path, record in sorted(marker.get("files", {}).items()):
                problem, now = provenance.check_file(project.resolve(path), record)
                if problem:
                    why.append(f"{path} {problem}")
                elif (now["size"], now["mtime_ns"]) != (record.get("size"), record.get("mtime_ns")):
                    marker["files"][path], touched = now, True
            if why:
                result.state[unit.key], result.reasons[unit.key] = "stale", "; ".join(why)
            else:
                result.state[unit.key] = "done"
                if touched:
                    result.refreshed[unit.key] = marker
        elif unit.key in failures:
            result.state[unit.key], result.reasons[unit.key] = "failed", failures[unit.key]
        else:
            result.state[unit.key] = "pending"
    return result


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
            raise GrewkitError(
                "another run of this stage holds the lock; wait for it to finish", path=self.path
            ) from None
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
                    table = pa.concat_tables([manifests.read_file(f, name) for f in files])
                    manifests.write_partition(project.manifests_dir, name, folder.name, table)
                    produced.add(f"{folder.name}.parquet")
            for stale in manifests.partition_files(project.manifests_dir, name):
                if stale.name not in produced:
                    stale.unlink()
        else:
            files = [f for f in sorted(base.glob("*.parquet")) if f.stem in wanted]
            tables = [manifests.read_file(f, name) for f in files]
            table = pa.concat_tables(tables) if tables else schema.empty_table()
            project.write(name, table)


def run_stage(
    project: Project,
    stage: str | type[Stage],
    *,
    executor: Executor | None = None,
    retry_failed: bool | None = None,
    show_progress: bool = True,
    partial: bool = False,
) -> StageSummary:
    """Run every planned unit that is not done (or is stale), then rebuild the stage's manifests.

    Refuses to start while an upstream stage it needs is incomplete, unless ``partial``: then only
    the units whose upstream units are all done run, and the run says so in ``run.json``.
    """
    cls = stage_class(stage) if isinstance(stage, str) else stage
    settings = project.settings.section("executor")
    retry = settings.retry_failed if retry_failed is None else retry_failed
    own_executor = executor is None
    instance = cls(project)
    state = StageState(project, cls.name)
    started = time.perf_counter()
    try:
        with _StageLock(state.dir / ".lock"):
            judged = assess(project, instance)
            missing = judged.missing_upstream()
            if missing and not partial:
                name, (n, total, detail) = sorted(missing.items())[0]
                raise GrewkitError(
                    f"{name} is incomplete: {n} of its {total} units are not done ({detail}); "
                    f"run `grewkit {name}` first, or pass --partial to {cls.name} only what it has"
                )
            units = judged.units
            state.write_plan(units)
            left_out = judged.keys("blocked")
            write_json(
                state.dir / "run.json",
                {
                    "partial": bool(partial and missing),
                    "left_out": len(left_out),
                    "missing_upstream": {k: v[0] for k, v in sorted(missing.items())},
                },
            )
            for key, marker in judged.refreshed.items():
                write_json(state.done_path(key), marker)
            stale = judged.keys("stale")
            for key in stale:
                # Not done any more: a kill before it is redone must not leave the old rows looking current.
                state.done_path(key).unlink(missing_ok=True)
            todo = [
                u
                for u in units
                if judged.state[u.key] in ("pending", "stale") or (retry and judged.state[u.key] == "failed")
            ]
            fresh = set(judged.keys("done"))
            failed = {} if retry else {k: judged.reasons[k] for k in judged.keys("failed")}
            skipped = len(fresh)
            ref = _stage_ref(cls)
            n_done = 0
            tasks = [(ref, str(project.root), u.key, u.payload, judged.inputs[u.key], judged.read[u.key]) for u in todo]
            if executor is None and tasks:
                executor = executor_for(settings, cls.name)
            with progress_bar(
                f"{cls.name}",
                total=len(units),
                completed=skipped + len(failed),
                unit=cls.unit_noun,
                enabled=show_progress,
            ) as advance:
                for outcome in executor.map_unordered(run_unit, tasks) if tasks else ():
                    key = outcome.item[2]
                    report: UnitReport | None = outcome.value
                    if outcome.error is not None:
                        failed[key] = outcome.error.splitlines()[0]
                        write_json(state.failed_path(key), {"unit": key, "reason": outcome.error})
                    elif not report.ok:
                        failed[key] = report.error or "unknown error"
                    else:
                        n_done += 1
                        fresh.add(key)
                    advance(1)
            merge_parts(project, cls.name, cls.outputs, sorted(fresh))
    finally:
        instance.close()
        if own_executor and executor is not None:
            executor.close()
    return StageSummary(
        cls.name,
        len(units),
        n_done,
        skipped,
        failed,
        time.perf_counter() - started,
        stale=len([k for k in stale if k in fresh]),
        left_out=len(left_out),
    )


def stage_status(project: Project, stage: str) -> dict:
    """Counts of done, stale, failed and pending units, judged against the current plan (no work is done).

    A stage that cannot plan now (its inputs are gone) is reported from its last recorded plan.
    """
    state = StageState(project, stage)
    planned = state.planned()
    if planned is None:
        return {
            "stage": stage,
            "started": False,
            "total": 0,
            "done": 0,
            "stale": {},
            "failed": {},
            "pending": 0,
            "partial": False,
        }
    partial = bool(state.run_record().get("partial"))
    try:
        instance = stage_class(stage)(project)
    except GrewkitError:
        instance = None
    judged = None
    if instance is not None:
        try:
            judged = assess(project, instance, deep=False)
        except GrewkitError:
            judged = None
        finally:
            instance.close()
    if judged is None:
        keys = {u["key"] for u in planned}
        done = state.done_keys() & keys
        failed = {k: v for k, v in state.failures().items() if k in keys}
        return {
            "stage": stage,
            "started": True,
            "total": len(keys),
            "done": len(done),
            "stale": {},
            "failed": failed,
            "pending": len(keys) - len(done) - len(failed),
            "partial": partial,
        }
    return {
        "stage": stage,
        "started": True,
        "total": len(judged.units),
        "done": judged.count("done"),
        "stale": {k: judged.reasons[k] for k in judged.keys("stale")},
        "failed": {k: judged.reasons[k] for k in judged.keys("failed")},
        "pending": judged.count("pending", "blocked"),
        "partial": partial,
    }


def check_inputs(project: Project) -> list:
    """``grewkit validate``: manifest rows made from inputs that are no longer there as they were.

    Per stage that has run: rows of stale units (an upstream unit's rows, a setting, a file they
    vouch for changed since), rows of units whose upstream units are not done any more, and a
    manifest left incomplete on purpose by ``--partial``.
    """
    from grewkit.core.stage import STAGES
    from grewkit.core.validate import Problem

    problems = []
    if project.manifests_dir.resolve() != (project.root / "manifests").resolve():
        return problems  # a view of other manifests (a synthetic world's ground truth) has no unit records
    for name in STAGES:
        state = StageState(project, name)
        if state.planned() is None:
            continue
        instance = None
        try:
            cls = stage_class(name)
            instance = cls(project)
            judged = assess(project, instance, deep=False)
        except GrewkitError as exc:
            problems.append(
                Problem(
                    project.relative(exc.path) if exc.path else f"state/{name}",
                    f"cannot check the inputs of {name}: {exc.reason}",
                )
            )
            continue
        finally:
            if instance is not None:
                instance.close()
        for what, keys in (
            ("whose recorded inputs no longer match", judged.keys("stale")),
            ("whose upstream units are not done", [k for k in judged.keys("blocked") if k in judged.markers]),
        ):
            if not keys:
                continue
            example = f"{keys[0]}: {judged.reasons[keys[0]]}"
            for output in cls.outputs:
                rows = sum(int(judged.markers[k].get("rows", {}).get(output, 0)) for k in keys)
                if rows:
                    path = project.relative(manifests.manifest_path(project.manifests_dir, output))
                    problems.append(
                        Problem(
                            path,
                            f"{rows} rows from {len(keys)} {name} units {what} (e.g. {example}); run `grewkit {name}`",
                        )
                    )
        record = state.run_record()
        if record.get("partial"):
            problems.append(
                Problem(
                    f"state/{name}/run.json",
                    f"the last {name} run was --partial: {record.get('left_out', 0)} units left out",
                )
            )
    return problems
