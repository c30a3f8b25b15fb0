"""The ``ingest`` stage: one unit per video file, producing one ``videos`` row or a failure with its reason.

``grewkit ingest`` records its inputs in ``state/ingest/inputs.json`` (every file ever listed,
each with a key made of its path, size, modification time and camera); the stage plans from
that record. So ingesting the same unchanged file again finds its unit done and does nothing,
a changed file or a corrected camera gets a new unit, and files listed in earlier calls stay.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime
from pathlib import Path

import pyarrow as pa

from grewkit.core.atomic import write_json
from grewkit.core.errors import GrewkitError
from grewkit.core.project import Project
from grewkit.core.stage import Stage, Unit, unit_key
from grewkit.ingest.cameras import CameraRule, match_camera, rules_from_manifest, start_time_for
from grewkit.ingest.probe import probe_video

STAGE = "ingest"


def inputs_path(project: Project) -> Path:
    return project.state_dir(STAGE) / "inputs.json"


def read_inputs(project: Project) -> dict:
    path = inputs_path(project)
    if not path.exists():
        return {"files": [], "rules": []}
    try:
        return json.loads(path.read_text())
    except ValueError as exc:
        raise GrewkitError(f"damaged ingest record: {exc}", path=path) from None


def file_key(path: Path, camera_id: str | None, *, name: str | None = None) -> str:
    """A unit key that changes when the file's bytes (size, mtime) or its camera change.

    ``name`` is the path as recorded (relative to the project when inside it), so that a moved
    project lists its own files under the same keys."""
    try:
        st = path.stat()
        stamp = f"{st.st_size}:{st.st_mtime_ns}"
    except OSError:
        stamp = "unstatable"
    digest = hashlib.sha1(f"{name or path}|{stamp}|{camera_id}".encode()).hexdigest()[:12]
    return f"{unit_key(path.stem)[:60]}-{digest}"


def record_inputs(project: Project, files: list[Path], rules: list[CameraRule]) -> dict:
    """Merge newly listed files and camera rules into the ingest record; return the record."""
    record = read_inputs(project)
    # A new cameras.csv replaces every rule of the cameras it names.
    named = {rule.camera_id for rule in rules}
    kept = [r for r in record["rules"] if r["camera_id"] not in named]
    new = [
        {
            "camera_id": r.camera_id,
            "file": r.file,
            "pattern": r.pattern,
            "start_time": r.start_time,
            "width": r.width,
            "height": r.height,
        }
        for r in rules
    ]
    record["rules"] = sorted(kept + new, key=lambda r: (r["camera_id"], r.get("file") or "", r.get("pattern") or ""))
    all_rules = _rules(project, record)
    # Files inside the project are recorded relative to it (records of older versions hold absolute paths).
    by_path = {}
    for f in record["files"]:
        stored = project.stored(project.resolve(f["path"]))
        by_path[stored] = {**f, "path": stored}
    for path in files:
        path = Path(os.path.abspath(path))  # not resolve(): a symlink keeps its own (camera) name
        camera, _ = match_camera(path, all_rules)
        stored = project.stored(path)
        by_path[stored] = {"path": stored, "key": file_key(path, camera.camera_id if camera else None, name=stored)}
    record["files"] = [by_path[k] for k in sorted(by_path)]
    write_json(inputs_path(project), record)
    return record


def _rules(project: Project, record: dict) -> list[CameraRule]:
    """Rules from cameras.csv calls, plus cameras registered otherwise (``grewkit synth``) by id."""
    rules = [CameraRule(**r) for r in record["rules"]]
    named = {r.camera_id for r in rules}
    if project.has("cameras"):
        rules += [r for r in rules_from_manifest(project.read("cameras")) if r.camera_id not in named]
    return sorted(rules, key=lambda r: (r.camera_id, r.file or "", r.pattern or ""))


class IngestStage(Stage):
    name = STAGE
    outputs = ("videos",)
    unit_noun = "video"
    # Which files are listed is decided when listing; the probe does not read it.
    volatile_settings = ("extensions",)

    def plan(self) -> list[Unit]:
        record = read_inputs(self.project)
        rules = _rules(self.project, record)
        units = []
        for entry in record["files"]:
            path = self.project.resolve(entry["path"])
            camera, why = match_camera(path, rules)
            payload = {"path": str(path), "camera_id": None, "no_camera": why}
            if camera is not None:
                payload.update(
                    camera_id=camera.camera_id,
                    width=camera.width,
                    height=camera.height,
                    start_time=start_time_for(path, camera),
                )
            units.append(Unit(entry["key"], payload))
        return units

    def process(self, unit: Unit) -> dict[str, pa.Table]:
        p = unit.payload
        path = Path(p["path"])
        if p["camera_id"] is None:
            raise GrewkitError(p["no_camera"], path=path)
        settings = self.project.settings.section("ingest")
        probe = probe_video(path, max_missing_frames=settings.max_missing_frames, fallback_fps=settings.fallback_fps)
        if (
            settings.check_resolution
            and p.get("width")
            and p.get("height")
            and ((probe.width, probe.height) != (p["width"], p["height"]))
        ):
            raise GrewkitError(
                f"mislabelled: camera {p['camera_id']} is {p['width']}x{p['height']} in cameras.csv "
                f"but this video is {probe.width}x{probe.height}",
                path=path,
            )
        video_id = f"{p['camera_id']}-{probe.sha256[:12]}"
        self._claim(video_id, unit.key, path)
        start = datetime.fromisoformat(p["start_time"]) if p.get("start_time") else None
        row = {
            "video_id": [video_id],
            "camera_id": [p["camera_id"]],
            "path": [self.project.relative(path)],
            "fps": [probe.fps],
            "frame_count": [probe.frame_count],
            "width": [probe.width],
            "height": [probe.height],
            "duration_s": [probe.frame_count / probe.fps],
            "start_time": pa.array([start], pa.timestamp("us", tz="UTC")),
            "size_bytes": [probe.size_bytes],
            "sha256": [probe.sha256],
            "codec": [probe.codec],
        }
        return {"videos": pa.table(row)}

    def _claim(self, video_id: str, key: str, path: Path) -> None:
        """One unit per video id: a second copy of the same bytes for the same camera is a duplicate, not a new video."""
        claim = self.project.state_dir(STAGE) / "claims" / f"{video_id}.json"
        claim.parent.mkdir(parents=True, exist_ok=True)
        mine = json.dumps({"key": key, "path": str(path)}).encode()
        try:
            fd = os.open(claim, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as f:
                f.write(mine)
            return
        try:
            owner = json.loads(claim.read_text())
        except ValueError:
            owner = {"key": None}  # a claim cut short by a crash: take it over
        planned = {u["key"] for u in json.loads((self.project.state_dir(STAGE) / "plan.json").read_text())["units"]}
        if owner.get("key") not in (key, None) and owner["key"] in planned:
            raise GrewkitError(
                f"duplicate: same bytes as {owner['path']}, already ingested as video {video_id}", path=path
            )
        write_json(claim, {"key": key, "path": str(path)})
