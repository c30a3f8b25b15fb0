"""``grewkit validate``: every manifest against its schema, and every manifest against the others.

Files are checked one at a time (one partition at a time for per-frame manifests) so that a
GREW-sized project validates in bounded memory. Protocol checks (leaks between splits, ...)
plug in through ``CHECKS``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from grewkit.core import manifests
from grewkit.core.errors import GrewkitError
from grewkit.core.project import Project
from grewkit.core.registry import Registry
from grewkit.core.schemas import all_schemas


@dataclass(frozen=True)
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


# Extra checks by name -> "module:function". Contract: ``function(project) -> list[Problem]``,
# run after the schema and reference checks; a GrewkitError it raises becomes one problem.
CHECKS: Registry[Callable[[Project], list[Problem]]] = Registry(
    "check",
    {
        "inputs": "grewkit.core.runner:check_inputs",
        "ground_truth": "grewkit.synth.truth:check_ground_truth",
        "boxes": "grewkit.track.checks:check_boxes",
        "split_protocol": "grewkit.split.checks:protocol_problems",
    },
)


def _files(project: Project, name: str) -> list[Path]:
    path = manifests.manifest_path(project.manifests_dir, name)
    if path.is_dir():
        return manifests.partition_files(project.manifests_dir, name)
    return [path] if path.is_file() else []


def _key_values(table: pa.Table, columns: tuple[str, ...]) -> set:
    if len(columns) == 1:
        return set(pc.unique(table.column(columns[0]).drop_null()).to_pylist())
    rows = table.select(list(columns)).drop_null().to_pylist()
    return {tuple(r[c] for c in columns) for r in rows}


def validate_project(project: Project) -> list[Problem]:
    problems: list[Problem] = []
    schemas = all_schemas()
    loaded: dict[str, list[tuple[Path, pa.Table]]] = {}
    for name, schema in schemas.items():
        tables = []
        for path in _files(project, name):
            rel = project.relative(path)
            try:
                table = manifests.read_file(path, name)
            except GrewkitError as exc:
                problems.append(Problem(rel, exc.reason))
                continue
            if schema.partition_by and table.num_rows:
                wrong = pc.sum(pc.not_equal(table.column(schema.partition_by), path.stem)).as_py()
                if wrong:
                    problems.append(Problem(rel, f"{wrong} rows have a {schema.partition_by} other than {path.stem!r}"))
            try:
                manifests.check_unique_key(table, schema, "")
            except GrewkitError as exc:
                problems.append(Problem(rel, exc.reason))
            if "path" in table.column_names:
                missing = [p for p in pc.unique(table.column("path")).to_pylist() if not project.resolve(p).exists()]
                if missing:
                    problems.append(Problem(rel, f"{len(missing)} referenced files do not exist, e.g. {missing[0]!r}"))
            tables.append((path, table))
        loaded[name] = tables
    targets: dict[tuple[str, tuple[str, ...]], set] = {}
    for name, schema in schemas.items():
        for ref in schema.references:
            if not loaded.get(name):
                continue
            key = (ref.manifest, ref.target)
            if key not in targets:
                targets[key] = set()
                for _, t in loaded.get(ref.manifest, []):
                    targets[key] |= _key_values(t, ref.target)
            for path, table in loaded[name]:
                values = _key_values(table, ref.columns)
                dangling = values - targets[key]
                if dangling:
                    example = sorted(map(str, dangling))[0]
                    where = f"{ref.manifest} (absent)" if not loaded.get(ref.manifest) else ref.manifest
                    problems.append(
                        Problem(
                            project.relative(path),
                            f"{len(dangling)} values of {', '.join(ref.columns)} are not in {where}.{', '.join(ref.target)}, "
                            f"e.g. {example!r}",
                        )
                    )
    unreadable = {p.path for p in problems}
    for name in CHECKS:
        check = CHECKS.target(name)  # problems name the check by its "module:function"
        try:
            problems.extend(CHECKS.get(name)(project))
        except GrewkitError as exc:
            # A check that trips over a manifest already reported as unreadable adds nothing new.
            where = project.relative(exc.path) if exc.path else check
            if where not in unreadable:
                problems.append(Problem(where, f"{exc.reason} (while running check {check})"))
    return problems
