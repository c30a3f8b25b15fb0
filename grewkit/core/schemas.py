"""Manifest schemas, built from the language-neutral JSON files in ``schemas/``.

The JSON files are the contract: other tools (DuckDB, polars, a lab's own scripts) can read
them without grewkit. Here they become pyarrow schemas, and every Parquet file grewkit
writes carries the schema's name and version in its key-value metadata so that a file
written by another version is recognised on read.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from grewkit.core.errors import GrewkitError, SchemaError
from grewkit.core.resources import shipped_dir

META_NAME = b"grewkit.schema"
META_VERSION = b"grewkit.schema_version"

_SCALARS: dict[str, Callable[[], pa.DataType]] = {
    "string": pa.string,
    "bool": pa.bool_,
    "int8": pa.int8,
    "int16": pa.int16,
    "int32": pa.int32,
    "int64": pa.int64,
    "uint8": pa.uint8,
    "uint16": pa.uint16,
    "uint32": pa.uint32,
    "uint64": pa.uint64,
    "float32": pa.float32,
    "float64": pa.float64,
    "timestamp[us,UTC]": lambda: pa.timestamp("us", tz="UTC"),
}
_LIST = re.compile(r"^list<(.+)>$")


def parse_type(text: str) -> pa.DataType:
    """Turn a schema file's type name (``float32``, ``list<int64>``, ...) into a pyarrow type."""
    text = text.strip()
    if text in _SCALARS:
        return _SCALARS[text]()
    match = _LIST.match(text)
    if match:
        return pa.list_(parse_type(match.group(1)))
    raise ValueError(f"unknown column type {text!r}")


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    nullable: bool
    description: str


@dataclass(frozen=True)
class Reference:
    """``columns`` of this manifest must appear as ``target`` columns of ``manifest``."""

    columns: tuple[str, ...]
    manifest: str
    target: tuple[str, ...]


@dataclass(frozen=True)
class ManifestSchema:
    name: str
    version: int
    description: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    partition_by: str | None
    references: tuple[Reference, ...]
    source: Path

    @functools.cached_property
    def arrow(self) -> pa.Schema:
        fields = [pa.field(c.name, c.type, nullable=c.nullable) for c in self.columns]
        return pa.schema(fields, metadata={META_NAME: self.name.encode(), META_VERSION: str(self.version).encode()})

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def table_of(self, rows: list[dict]) -> pa.Table:
        """Rows (dicts) as a table of this schema; a column a row leaves out is null in it."""
        return pa.Table.from_pylist([{c: r.get(c) for c in self.column_names} for r in rows], schema=self.arrow)

    def empty_table(self) -> pa.Table:
        return self.arrow.empty_table()


def schema_dir() -> Path:
    """The folder of schema files: the checkout's ``schemas/``, or the copy inside an installed wheel."""
    return shipped_dir("schemas")


def _load(path: Path) -> ManifestSchema:
    try:
        doc = json.loads(path.read_text())
        columns = tuple(
            Column(c["name"], parse_type(c["type"]), bool(c.get("nullable", False)), c.get("description", ""))
            for c in doc["columns"]
        )
        refs = tuple(
            Reference(tuple(r["columns"]), r["manifest"], tuple(r["target"])) for r in doc.get("references", [])
        )
        schema = ManifestSchema(
            name=doc["name"],
            version=int(doc["version"]),
            description=doc.get("description", ""),
            columns=columns,
            primary_key=tuple(doc["primary_key"]),
            partition_by=doc.get("partition_by"),
            references=refs,
            source=path,
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise GrewkitError(f"malformed schema file: {exc}", path=path) from exc
    names = set(schema.column_names)
    missing = [
        k for k in (*schema.primary_key, *([schema.partition_by] if schema.partition_by else [])) if k not in names
    ]
    if missing:
        raise GrewkitError(f"key columns {missing} are not columns of the schema", path=path)
    return schema


@functools.cache
def all_schemas() -> dict[str, ManifestSchema]:
    out = {}
    for path in sorted(schema_dir().glob("*.json")):
        schema = _load(path)
        if schema.name != path.stem:
            raise GrewkitError(f"schema names itself {schema.name!r}; the file name says {path.stem!r}", path=path)
        out[schema.name] = schema
    return out


def get_schema(name: str) -> ManifestSchema:
    schemas = all_schemas()
    if name not in schemas:
        raise GrewkitError(f"unknown manifest {name!r}; known: {', '.join(sorted(schemas))}")
    return schemas[name]


# Migrations from an older schema version: (name, from_version) -> function(table) -> table of from_version + 1.
# A version bump adds its step here, so manifests written before it stay readable.


def _annotations_v1_to_v2(table: pa.Table) -> pa.Table:
    # v1 did not keep the server's lead time: unknown, not zero.
    return table.append_column(pa.field("lead_time_s", pa.float64()), pa.nulls(table.num_rows, pa.float64()))


def _detections_v1_to_v2(table: pa.Table) -> pa.Table:
    # v1 kept no appearance descriptors: track reads the frames again for them, as it did then.
    table = table.append_column(
        pa.field("descriptor", pa.list_(pa.float32())), pa.nulls(table.num_rows, pa.list_(pa.float32()))
    )
    return table.append_column(pa.field("descriptor_kind", pa.string()), pa.nulls(table.num_rows, pa.string()))


MIGRATIONS: dict[tuple[str, int], Callable[[pa.Table], pa.Table]] = {
    ("annotations", 1): _annotations_v1_to_v2,
    ("detections", 1): _detections_v1_to_v2,
}


def conform(table: pa.Table, schema: ManifestSchema, *, path: Path | str | None = None) -> pa.Table:
    """Check ``table`` against ``schema`` (names, types, nulls) and return it with the schema's exact layout.

    Columns may come in any order; safe casts (int32 -> int64, large_string -> string, ...) are
    applied, lossy ones are refused. Raises SchemaError naming the column and the problem.
    """
    where = f" in {path}" if path else ""
    have = set(table.column_names)
    missing = [c for c in schema.column_names if c not in have]
    extra = [c for c in table.column_names if c not in set(schema.column_names)]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing columns {missing}")
        if extra:
            parts.append(f"unexpected columns {extra}")
        raise SchemaError(f"manifest {schema.name!r}{where}: " + "; ".join(parts), path=None)
    arrays = []
    for col in schema.columns:
        arr = table.column(col.name)
        if not arr.type.equals(col.type):
            if pa.types.is_null(arr.type) and col.nullable:
                arr = pa.nulls(len(table), col.type)
            else:
                try:
                    arr = arr.cast(col.type, safe=True)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                    raise SchemaError(
                        f"manifest {schema.name!r}{where}: column {col.name!r} has type {arr.type}, "
                        f"the schema wants {col.type} ({exc})"
                    ) from None
        if not col.nullable and arr.null_count:
            raise SchemaError(
                f"manifest {schema.name!r}{where}: column {col.name!r} has {arr.null_count} nulls but is not nullable"
            )
        arrays.append(arr)
    return pa.Table.from_arrays(arrays, schema=schema.arrow)


def check_version(file_schema: pa.Schema, schema: ManifestSchema, path: Path) -> int:
    """Return the schema version a file was written with; refuse another manifest's file or a newer version."""
    meta = file_schema.metadata or {}
    name = meta.get(META_NAME, b"").decode()
    if name and name != schema.name:
        raise SchemaError(f"this file holds the {name!r} manifest, not {schema.name!r}", path=path)
    try:
        version = int(meta.get(META_VERSION, b"0"))
    except ValueError:
        version = 0
    if version == 0:
        raise SchemaError("no grewkit schema version in the file's metadata (was it written by grewkit?)", path=path)
    if version > schema.version:
        raise SchemaError(
            f"written with {schema.name} schema v{version}, newer than this grewkit's v{schema.version}: upgrade grewkit",
            path=path,
        )
    if version < schema.version and (schema.name, version) not in MIGRATIONS:
        raise SchemaError(
            f"written with {schema.name} schema v{version}; this grewkit reads v{schema.version} and has no migration from it",
            path=path,
        )
    return version


def migrate(table: pa.Table, schema: ManifestSchema, version: int) -> pa.Table:
    while version < schema.version:
        table = MIGRATIONS[(schema.name, version)](table)
        version += 1
    return table
