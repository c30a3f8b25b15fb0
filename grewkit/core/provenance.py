"""Fingerprints of what a unit consumed and produced, and whether they still hold.

A done marker (``state/<stage>/done/<unit>.json``) records three things besides the row counts:

- ``inputs``: a sha256 per input of the unit, computed by the planning process: its payload, its
  stage's settings, per upstream stage the outputs of the upstream units it reads, and any plain
  file it reads (``file:<path>``);
- ``parts``: the sha256 of every part file the unit wrote (its rows, in the runner's fixed bytes);
  a downstream unit's upstream fingerprint is a hash of these, so it changes exactly when the
  upstream rows it read change;
- ``files``: for output rows that name a file and its checksum (``path`` and ``sha256`` columns:
  a registered video, a rendered array), that file's sha256, size and mtime. The size and mtime
  are only a cache: a file whose stat changed is hashed again, and only a different checksum (or
  a missing file) counts, as in git's index and DVC's cache.

A marker is fresh when its recorded inputs equal the ones computed now and its files are intact;
otherwise the unit is stale and is redone. Everything hashed is content (canonical JSON, file
bytes), never a time or a path of a temporary file, so an unchanged project fingerprints the same
on every run. Paths inside the project are hashed relative to its root (``relative_to_root``), so
a project moved or copied to another folder or machine is not stale for having moved.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from grewkit.core.hashing import sha256_file


def digest(obj: Any) -> str:
    """sha256 of canonical JSON: the same value gives the same digest in every process and run."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


PROJECT_ROOT = "<project>"


def relative_to_root(obj: Any, root: str | Path) -> Any:
    """``obj`` with every string that names ``root`` or a path below it written as ``<project>/...``.

    Payloads carry absolute paths (a worker may run anywhere); their fingerprint must not.
    """
    base = str(root).rstrip(os.sep)
    prefix = base + os.sep
    if isinstance(obj, str):
        if obj == base:
            return PROJECT_ROOT
        return PROJECT_ROOT + "/" + Path(obj[len(prefix) :]).as_posix() if obj.startswith(prefix) else obj
    if isinstance(obj, dict):
        return {key: relative_to_root(value, root) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [relative_to_root(value, root) for value in obj]
    return obj


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def file_record(path: str | Path, *, known: dict | None = None) -> dict | None:
    """``{"sha256", "size", "mtime_ns"}`` of a file (None when absent); ``known`` is an earlier record
    whose checksum is reused while size and mtime are unchanged."""
    stat = _stat(Path(path))
    if stat is None:
        return None
    if known and (known.get("size"), known.get("mtime_ns")) == stat and known.get("sha256"):
        return {"sha256": known["sha256"], "size": stat[0], "mtime_ns": stat[1]}
    try:
        return {"sha256": sha256_file(path), "size": stat[0], "mtime_ns": stat[1]}
    except OSError:
        return None


def check_file(path: str | Path, record: dict) -> tuple[str | None, dict | None]:
    """Why a recorded file no longer holds (None when it does), and its current record."""
    now = file_record(path, known=record)
    if now is None:
        return "missing", None
    if now["sha256"] != record.get("sha256"):
        return "changed (its sha256 differs from the recorded one)", now
    return None, now


def outputs_digest(markers: list[tuple[str, dict | None]]) -> str | None:
    """The fingerprint of some upstream units' outputs; None when any of them is not done."""
    if any(m is None for _, m in markers):
        return None
    return digest(
        [
            [key, m.get("parts", {}), m.get("files", {}) and {p: r.get("sha256") for p, r in m["files"].items()}]
            for key, m in markers
        ]
    )


def changed_inputs(recorded: dict | None, current: dict) -> list[str]:
    """Names of the inputs that differ between a marker and now (all of them for an old marker)."""
    if not isinstance(recorded, dict):
        return ["(no recorded inputs)"]
    names = sorted(set(recorded) | set(current))
    return [n for n in names if recorded.get(n) != current.get(n)]
