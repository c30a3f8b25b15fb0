"""cameras.csv: the site's cameras, and which video files belong to which camera.

The CSV has one row per camera, or one per video file of a camera. ``camera_id`` is
required; every other column of the ``cameras`` schema is optional (rows of one camera must
agree on them). Three more optional columns are read by ingest only:

- ``file``: the video's file name (or path relative to the CSV), for one row per file as
  ``grewkit synth`` writes;
- ``pattern``: a glob (``cam01_*.avi``, ``*/north/*``) matched against a video's file name and
  its path, for sites whose file names do not start with the camera id;
- ``start_time``: ISO 8601 wall-clock time of the first frame of the row's file (or of the
  camera's only video), used when the file name carries no time stamp.

Without ``pattern`` a video belongs to the camera whose id is its file stem, its stem's prefix
(``cam01_0001.avi``, ``cam01-day2.mp4``) or the name of a folder it lives in; the longest id wins.
"""

from __future__ import annotations

import csv
import fnmatch
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from grewkit.core.errors import GrewkitError
from grewkit.core.schemas import get_schema

INGEST_ONLY = ("file", "pattern", "start_time")
_SAFE_ID = re.compile(r"^[A-Za-z0-9_.-]+$")
_STAMP = re.compile(r"(?<!\d)(\d{4})-?(\d{2})-?(\d{2})[T_ -]?(\d{2})[:-]?(\d{2})[:-]?(\d{2})(?!\d)")


@dataclass(frozen=True)
class CameraRule:
    """How files are matched to one camera, and what ingest can check against."""

    camera_id: str
    file: str | None = None
    pattern: str | None = None
    start_time: str | None = None
    width: int | None = None
    height: int | None = None

    def __post_init__(self):
        if not _SAFE_ID.match(self.camera_id):
            raise ValueError(f"camera_id {self.camera_id!r}: use letters, digits, '.', '_' and '-' only")


def parse_time(text: str, *, where: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise GrewkitError(
            f"{where}: start_time {text!r} is not an ISO 8601 time (e.g. 2024-05-01T08:30:00Z)"
        ) from None
    # A time without a zone is taken as UTC: manifests store UTC only.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _convert(value: str, type_: pa.DataType, *, where: str):
    if value == "":
        return None
    try:
        if pa.types.is_integer(type_):
            return int(value)
        if pa.types.is_floating(type_):
            return float(value)
    except ValueError:
        raise GrewkitError(f"{where}: {value!r} is not a number") from None
    return value


def read_cameras_csv(path: str | Path) -> tuple[pa.Table, list[CameraRule]]:
    """The ``cameras`` manifest rows and the matching rules of a cameras.csv; errors name row and column."""
    path = Path(path)
    schema = get_schema("cameras")
    types = {c.name: c.type for c in schema.columns}
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
            header = list(rows[0].keys()) if rows else []
    except FileNotFoundError:
        raise GrewkitError("cameras file not found", path=path) from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise GrewkitError(f"cannot read as CSV: {exc}", path=path) from None
    if not rows:
        raise GrewkitError("no cameras (an empty file or only a header)", path=path)
    if "camera_id" not in header:
        raise GrewkitError(f"no camera_id column; columns are {header}", path=path)
    unknown = [h for h in header if h not in types and h not in INGEST_ONLY]
    if unknown:
        raise GrewkitError(f"unknown columns {unknown}; known: {[*types, *INGEST_ONLY]}", path=path)
    columns: dict[str, list] = {name: [] for name in types}
    rules, first_row, seen_files = [], {}, set()
    for line, row in enumerate(rows, start=2):
        where = f"{path}: line {line}"
        if None in row:
            raise GrewkitError(f"{where}: more fields than the header has")
        cam = (row.get("camera_id") or "").strip()
        if not cam:
            raise GrewkitError(f"{where}: empty camera_id")
        values = {
            name: _convert((row.get(name) or "").strip(), type_, where=f"{where}, column {name}")
            for name, type_ in types.items()
        }
        file = (row.get("file") or "").strip() or None
        if cam in first_row:
            if not file or first_row[cam][1] is None:
                raise GrewkitError(
                    f"{where}: camera_id {cam!r} appears twice (several rows per camera need a file column)"
                )
            differing = [k for k in types if values[k] != first_row[cam][0][k]]
            if differing:
                raise GrewkitError(
                    f"{where}: camera {cam!r} has other {', '.join(differing)} than on line {first_row[cam][2]}"
                )
        else:
            first_row[cam] = (values, file, line)
            for name in types:
                columns[name].append(values[name])
        if file:
            if file in seen_files:
                raise GrewkitError(f"{where}: file {file!r} is listed twice")
            seen_files.add(file)
        start = (row.get("start_time") or "").strip() or None
        if start:
            parse_time(start, where=where)
        try:
            rules.append(
                CameraRule(
                    camera_id=cam,
                    file=file,
                    pattern=(row.get("pattern") or "").strip() or None,
                    start_time=start,
                    width=values["width"],
                    height=values["height"],
                )
            )
        except ValueError as exc:
            raise GrewkitError(f"{where}: {exc}") from None
    table = pa.table({name: pa.array(values, type=types[name]) for name, values in columns.items()})
    return table, rules


def rules_from_manifest(table: pa.Table) -> list[CameraRule]:
    """Matching rules for cameras registered earlier (by a previous ingest or by ``grewkit synth``)."""
    return [
        CameraRule(camera_id=r["camera_id"], width=r.get("width"), height=r.get("height"))
        for r in table.select([c for c in ("camera_id", "width", "height") if c in table.column_names]).to_pylist()
    ]


def match_camera(path: Path, rules: list[CameraRule]) -> tuple[CameraRule | None, str]:
    """The camera a file belongs to, or None with the reason (no camera, or two equally good ones)."""
    by_file = [
        r for r in rules if r.file and (path.name == r.file or path.as_posix().endswith("/" + r.file.lstrip("/")))
    ]
    if len(by_file) == 1:
        return by_file[0], ""
    if len(by_file) > 1:
        return None, f"listed in cameras.csv for several cameras: {', '.join(r.camera_id for r in by_file)}"
    by_pattern = [
        r
        for r in rules
        if r.pattern and (fnmatch.fnmatch(path.name, r.pattern) or fnmatch.fnmatch(path.as_posix(), r.pattern))
    ]
    if len(by_pattern) == 1:
        return by_pattern[0], ""
    if len(by_pattern) > 1:
        return None, f"matches the patterns of several cameras: {', '.join(r.camera_id for r in by_pattern)}"
    stem = path.stem
    # By name, one rule per camera: a file not listed in a per-file row gets no row's start_time.
    per_camera: dict[str, CameraRule] = {}
    for rule in rules:
        plain = (
            rule
            if not (rule.file or rule.pattern)
            else CameraRule(rule.camera_id, width=rule.width, height=rule.height)
        )
        if rule.camera_id not in per_camera or not (rule.file or rule.pattern):
            per_camera[rule.camera_id] = plain
    candidates = []
    for rule in per_camera.values():
        cam = rule.camera_id
        if stem == cam or (stem.startswith(cam) and stem[len(cam)] in "_-. "):
            candidates.append((len(cam), 1, rule))
        elif cam in path.parent.parts:
            candidates.append((len(cam), 0, rule))
    if not candidates:
        ids = sorted(per_camera)
        known = ", ".join(ids[:10]) + (" ..." if len(ids) > 10 else "")
        return None, (
            f"no camera in cameras.csv matches this file (name it <camera_id>_*.ext, put it in a folder "
            f"named after the camera, or give the camera a pattern); cameras: {known}"
        )
    candidates.sort(key=lambda c: (c[0], c[1]), reverse=True)
    best = candidates[0]
    ties = [c for c in candidates if c[:2] == best[:2]]
    if len(ties) > 1:
        return None, f"matches several cameras equally well: {', '.join(c[2].camera_id for c in ties)}"
    return best[2], ""


def start_time_for(path: Path, rule: CameraRule) -> str | None:
    """ISO start time: a time stamp in the file name (YYYYMMDD[T_-]HHMMSS) wins over the camera's start_time."""
    match = _STAMP.search(path.stem)
    if match:
        y, mo, d, h, mi, s = map(int, match.groups())
        try:
            return datetime(y, mo, d, h, mi, s, tzinfo=UTC).isoformat()
        except ValueError:
            pass  # digits that only look like a date
    if rule.start_time:
        return parse_time(rule.start_time, where=str(path)).isoformat()
    return None
