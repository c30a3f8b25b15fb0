"""Adding imported rows to a project's manifests without losing what is there.

An import replaces the rows it owns (same primary key) and keeps every other row, so
re-running an import is idempotent and importing two datasets into one project works.
"""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc

from grewkit.core.project import Project
from grewkit.core.schemas import conform, get_schema

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def safe_id(*parts: str) -> str:
    """A file-name-safe id from parts joined by '-' (``casiab``, ``075``, ``nm-05``, ``090`` -> ``casiab-075-nm-05-090``)."""
    return "-".join(_UNSAFE.sub("_", str(p)).strip("._") or "_" for p in parts)


def upsert(project: Project, name: str, rows: pa.Table, *, replace_column: str | None = None) -> None:
    """Write ``rows`` into manifest ``name``, dropping old rows whose ``replace_column`` value (default: the
    first primary-key column) appears in ``rows``."""
    schema = get_schema(name)
    rows = conform(rows, schema)
    column = replace_column or schema.primary_key[0]
    if project.has(name):
        old = project.read(name)
        keep = pc.invert(pc.is_in(old.column(column), value_set=pc.unique(rows.column(column))))
        rows = pa.concat_tables([old.filter(keep), rows])
    project.write(name, rows)
