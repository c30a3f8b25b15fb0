"""The output folder of an export: refuse to mix into foreign folders, keep reruns idempotent.

A folder is written into only when it is empty or holds an earlier export of the same kind
(marked by ``.grewkit-export.json``). Each file appears under its name only complete (written
beside it, then renamed), but without one fsync per file: a release has millions of small
files, so durability comes from one ``os.sync`` before the marker says ``complete: true``.
An interrupted export leaves ``complete: false`` and a rerun finishes it. At the end, files of
an earlier export that the new one no longer has are removed, so a rerun leaves exactly the
new export.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from grewkit.core.atomic import write_json
from grewkit.core.errors import GrewkitError

MARKER = ".grewkit-export.json"


class ExportTarget:
    def __init__(self, root: str | Path, kind: str):
        self.root = Path(root)
        self.kind = kind
        self.written: set[Path] = set()
        marker = self.root / MARKER
        if self.root.exists() and not self.root.is_dir():
            raise GrewkitError("exists and is not a folder", path=self.root)
        if self.root.is_dir() and any(self.root.iterdir()):
            if not marker.is_file():
                raise GrewkitError(
                    "folder is not empty and holds no earlier grewkit export; choose an empty or new folder",
                    path=self.root,
                )
            try:
                earlier = json.loads(marker.read_text()).get("kind")
            except (ValueError, OSError):
                earlier = None
            if earlier != kind:
                raise GrewkitError(
                    f"folder holds a {earlier!r} export, not {kind!r}; choose another folder", path=self.root
                )
        self.root.mkdir(parents=True, exist_ok=True)
        write_json(marker, {"kind": kind, "complete": False})

    def path(self, *parts: str) -> Path:
        path = self.root.joinpath(*parts)
        self.written.add(path)
        return path

    def write(self, parts: tuple[str, ...] | list[str], data: bytes) -> Path:
        path = self.path(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        return path

    def finish(self, info: dict) -> None:
        for stale in sorted(self.root.rglob("*"), reverse=True):
            if stale.is_file() and stale not in self.written and stale.name != MARKER:
                stale.unlink()
            elif stale.is_dir() and not any(stale.iterdir()):
                stale.rmdir()
        os.sync()
        write_json(self.root / MARKER, {"kind": self.kind, "complete": True, **info})
