"""One exception type for problems a user can fix; the CLI prints it as one line."""

from __future__ import annotations

from pathlib import Path


class GrewkitError(Exception):
    """A problem with the user's input, reported as ``<file>: <reason>`` when a file is involved."""

    def __init__(self, reason: str, *, path: str | Path | None = None):
        self.reason = reason
        self.path = Path(path) if path is not None else None
        super().__init__(f"{self.path}: {reason}" if self.path is not None else reason)


class SchemaError(GrewkitError):
    """A manifest does not match its schema (wrong columns, types or version)."""
