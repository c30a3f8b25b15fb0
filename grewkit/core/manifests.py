"""Reading and writing manifests: Parquet files that any Arrow reader opens without grewkit.

Layout inside a project's ``manifests/`` folder:

- ``<name>.parquet`` for small tables (cameras, videos, tracklets, ...);
- ``<name>/<partition value>.parquet`` for per-frame tables (detections, boxes), one file per
  camera, so a GREW-sized table (14M boxes) is processed one camera at a time.

Writes are atomic and deterministic: rows are sorted by the primary key and written with
fixed writer options, so the same rows always give the same bytes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from grewkit.core.atomic import atomic_path
from grewkit.core.errors import GrewkitError, SchemaError
from grewkit.core.schemas import ManifestSchema, check_version, conform, get_schema, migrate

ROW_GROUP_SIZE = 262_144
_SAFE_PARTITION = re.compile(r"^[A-Za-z0-9_.-]+$")


def manifest_path(root: Path, name: str) -> Path:
    """The file (or, for partitioned manifests, the folder) that holds manifest ``name``."""
    schema = get_schema(name)
    return root / name if schema.partition_by else root / f"{name}.parquet"


def exists(root: Path, name: str) -> bool:
    path = manifest_path(root, name)
    return path.is_dir() and any(path.glob("*.parquet")) or path.is_file()


def sort_by_key(table: pa.Table, schema: ManifestSchema) -> pa.Table:
    if table.num_rows < 2:
        return table
    order = pc.sort_indices(table, sort_keys=[(k, "ascending") for k in schema.primary_key])
    return table.take(order)


def write_table(path: Path, table: pa.Table) -> None:
    """Write one Parquet file atomically with grewkit's fixed options."""
    with atomic_path(path) as tmp:
        pq.write_table(
            table,
            tmp,
            compression="zstd",
            row_group_size=ROW_GROUP_SIZE,
            write_statistics=True,
        )


def check_unique_key(table: pa.Table, schema: ManifestSchema, where: str) -> None:
    if table.num_rows < 2:
        return
    keys = table.select(list(schema.primary_key))
    distinct = keys.group_by(list(schema.primary_key)).aggregate([]).num_rows
    if distinct != table.num_rows:
        raise SchemaError(
            f"manifest {schema.name!r}{where}: {table.num_rows - distinct} rows repeat the primary key {list(schema.primary_key)}"
        )


def write_manifest(root: Path, name: str, table: pa.Table) -> Path:
    """Validate, sort and atomically write a whole manifest, replacing what was there."""
    schema = get_schema(name)
    table = conform(table, schema)
    check_unique_key(table, schema, "")
    table = sort_by_key(table, schema)
    path = manifest_path(root, name)
    if not schema.partition_by:
        write_table(path, table)
        return path
    values = pc.unique(table.column(schema.partition_by)).to_pylist()
    written = set()
    for value in sorted(values):
        write_partition(
            root, name, value, table.filter(pc.equal(table.column(schema.partition_by), value)), _checked=True
        )
        written.add(f"{value}.parquet")
    for stale in path.glob("*.parquet"):
        if stale.name not in written:
            stale.unlink()
    return path


def write_partition(root: Path, name: str, value: str, table: pa.Table, *, _checked: bool = False) -> Path:
    """Atomically write the rows of one partition (one camera) of a partitioned manifest."""
    schema = get_schema(name)
    if not schema.partition_by:
        raise GrewkitError(f"manifest {name!r} is not partitioned")
    if not _SAFE_PARTITION.match(str(value)):
        raise GrewkitError(f"{schema.partition_by} {value!r} cannot name a file: use letters, digits, '.', '_' and '-'")
    if not _checked:
        table = conform(table, schema)
        check_unique_key(table, schema, f" partition {value}")
        table = sort_by_key(table, schema)
        others = pc.not_equal(table.column(schema.partition_by), value)
        if table.num_rows and pc.any(others).as_py():
            raise GrewkitError(f"rows of another {schema.partition_by} in partition {value!r} of {name!r}")
    path = manifest_path(root, name) / f"{value}.parquet"
    write_table(path, table)
    return path


def read_file(path: Path, name: str, columns: list[str] | None = None, *, filters: list | None = None) -> pa.Table:
    """One Parquet file of manifest ``name`` (a manifest, a partition or a stage's part), checked against the
    schema: its version (older files are migrated), columns, types and nulls.

    ``filters`` are pyarrow's row filters, e.g. ``[("video_id", "=", v)]``: only matching rows are read.
    """
    schema = get_schema(name)
    path = Path(path)
    try:
        file_schema = pq.read_schema(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise SchemaError(f"not a readable Parquet file ({exc})", path=path) from None
    version = check_version(file_schema, schema, path)
    table = pq.read_table(path, filters=filters)
    table = migrate(table, schema, version)
    table = conform(table, schema, path=path)
    return table.select(columns) if columns else table


def read_partition(
    root: Path, name: str, value: str, columns: list[str] | None = None, *, filters: list | None = None
) -> pa.Table:
    """The rows of one partition (one camera) of a partitioned manifest, checked like ``read_file``; an absent
    partition reads as an empty table. ``filters`` as in ``read_file``."""
    schema = get_schema(name)
    if not schema.partition_by:
        raise GrewkitError(f"manifest {name!r} is not partitioned")
    path = manifest_path(root, name) / f"{value}.parquet"
    if not path.is_file():
        empty = schema.empty_table()
        return empty.select(columns) if columns else empty
    return read_file(path, name, columns, filters=filters)


def partition_files(root: Path, name: str) -> list[Path]:
    return sorted(manifest_path(root, name).glob("*.parquet"))


def iter_partitions(root: Path, name: str, columns: list[str] | None = None) -> Iterator[tuple[str, pa.Table]]:
    """Yield ``(partition value, table)`` one partition at a time, to keep memory bounded."""
    for path in partition_files(root, name):
        yield path.stem, read_file(path, name, columns)


def read_manifest(root: Path, name: str, columns: list[str] | None = None) -> pa.Table:
    """Read a whole manifest, checked against its schema; an absent manifest reads as an empty table."""
    schema = get_schema(name)
    path = manifest_path(root, name)
    if schema.partition_by:
        tables = [t for _, t in iter_partitions(root, name, columns)]
        if not tables:
            empty = schema.empty_table()
            return empty.select(columns) if columns else empty
        return pa.concat_tables(tables)
    if not path.exists():
        empty = schema.empty_table()
        return empty.select(columns) if columns else empty
    return read_file(path, name, columns)
