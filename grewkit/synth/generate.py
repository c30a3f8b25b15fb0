"""Writing a synthetic project: the videos, the cameras for ingest, and the ground truth.

Frames are streamed to OpenCV's MJPG writer one at a time (no video is held in memory); each
file is written under a temporary name and renamed when complete, so an interrupted run never
leaves a truncated video under its final name.
"""

from __future__ import annotations

import csv
import io
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from grewkit.core import manifests
from grewkit.core.arrays import save_array
from grewkit.core.atomic import atomic_path, write_json, write_text
from grewkit.core.errors import GrewkitError
from grewkit.core.hashing import sha256_file
from grewkit.core.progress import progress_bar
from grewkit.core.project import Project
from grewkit.synth.body import GAIT_PARAMS
from grewkit.synth.camera_view import CameraRenderer, Seen
from grewkit.synth.truth import CONFIG_FILE, GT_FOLDER, GroundTruth
from grewkit.synth.world import SynthConfig, World, build_world

MEDIA_SUBDIR = "synth"
SITE = "synthetic"
CSV_COLUMNS = (
    "camera_id",
    "file",
    "start_time",
    "site",
    "description",
    "view",
    "width",
    "height",
    "fx",
    "fy",
    "cx",
    "cy",
    "position_x_m",
    "position_y_m",
    "height_m",
    "yaw_deg",
    "pitch_deg",
)


@dataclass
class VideoFile:
    video_id: str
    camera_id: str
    path: Path
    segment: int
    first_frame: int  # camera frame index of the file's frame 0
    frame_count: int
    start_time: datetime


@dataclass
class CameraTruth:
    """Ground-truth rows of one camera, gathered while its frames are written."""

    box_rows: dict[str, list] = field(
        default_factory=lambda: {k: [] for k in ("walk", "video", "frame", "x1", "y1", "x2", "y2", "vis")}
    )
    kp: list[np.ndarray] = field(default_factory=list)
    j3: list[np.ndarray] = field(default_factory=list)
    masks: dict[tuple[int, str], list[np.ndarray]] = field(default_factory=dict)


@dataclass
class Summary:
    videos: int
    frames: int
    tracklets: int
    identities: int
    seconds: float
    cpu_seconds: float
    boxes: int = 0

    def line(self) -> str:
        fps = self.frames / self.seconds if self.seconds else 0.0
        cpu_fps = self.frames / self.cpu_seconds if self.cpu_seconds else 0.0
        return (
            f"synth: {self.videos} videos, {self.frames} frames in {self.seconds:.1f} s ({fps:.1f} frames/s; "
            f"{cpu_fps:.1f} frames per CPU second), {self.tracklets} GT tracklets of {self.identities} identities, "
            f"{self.boxes / max(self.frames, 1):.1f} people per frame"
        )


def _start_time(config: SynthConfig) -> datetime:
    try:
        t = datetime.fromisoformat(config.start_time)
    except ValueError:
        raise GrewkitError(f"synth: start_time {config.start_time!r} is not an ISO date-time") from None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def plan_videos(config: SynthConfig, world: World, media_dir: Path) -> list[VideoFile]:
    n, per = config.n_frames, config.frames_per_segment
    segments = (n + per - 1) // per
    base = _start_time(config)
    out = []
    for cam in world.cameras:
        for s in range(segments):
            first = s * per
            name = f"{cam.camera_id}.avi" if segments == 1 else f"{cam.camera_id}-{s:03d}.avi"
            out.append(
                VideoFile(
                    video_id=f"gt-{cam.camera_id}-{s:03d}",
                    camera_id=cam.camera_id,
                    path=media_dir / name,
                    segment=s,
                    first_frame=first,
                    frame_count=min(per, n - first),
                    start_time=base + timedelta(seconds=first / config.fps),
                )
            )
    return out


def _open_writer(path: Path, config: SynthConfig) -> tuple[cv2.VideoWriter, Path]:
    """OpenCV's FFmpeg writer (libavcodec: 2.5x smaller MJPG than OpenCV's own encoder), else OpenCV's own.

    Both are deterministic for a fixed fps and quality; the backend is part of what fixes the bytes.
    """
    tmp = path.with_name(f".{path.stem}.partial.avi")
    fourcc = cv2.VideoWriter_fourcc(*config.codec)
    size = (config.width, config.height)
    writer = cv2.VideoWriter(str(tmp), cv2.CAP_FFMPEG, fourcc, float(config.fps), size)
    if not writer.isOpened() and config.codec == "MJPG":
        writer = cv2.VideoWriter(str(tmp), cv2.CAP_OPENCV_MJPEG, fourcc, float(config.fps), size)
    if not writer.isOpened():
        raise GrewkitError(f"OpenCV cannot open a {config.codec} video writer here", path=tmp)
    writer.set(cv2.VIDEOWRITER_PROP_QUALITY, float(config.jpeg_quality))
    return writer, tmp


def render_camera(
    world: World, camera: int, videos: list[VideoFile], *, masks: bool = False, advance=lambda n=1: None
) -> CameraTruth:
    """Write every video file of one camera and return its ground-truth rows."""
    renderer = CameraRenderer(world, camera)
    truth = CameraTruth()
    for video in videos:
        writer, tmp = _open_writer(video.path, world.config)
        try:
            for local in range(video.frame_count):
                img, seen = renderer.frame(video.first_frame + local)
                writer.write(img)
                for s in seen:
                    _add_row(truth, s, video, local, masks)
                advance(1)
        finally:
            writer.release()
        os.replace(tmp, video.path)
    return truth


def _add_row(truth: CameraTruth, s: Seen, video: VideoFile, local: int, masks: bool) -> None:
    x1, y1, x2, y2 = s.box
    if x2 <= x1 or y2 <= y1:
        return
    rows = truth.box_rows
    for k, v in (
        ("walk", s.walk_index),
        ("video", video.video_id),
        ("frame", local),
        ("x1", x1),
        ("y1", y1),
        ("x2", x2),
        ("y2", y2),
        ("vis", s.visibility),
    ):
        rows[k].append(v)
    truth.kp.append(s.keypoints.astype(np.float32))
    truth.j3.append(s.joints3d.astype(np.float32))
    if masks:
        truth.masks.setdefault((s.walk_index, video.video_id), []).append(s.visible_crop)


def _render_camera_job(config: SynthConfig, camera: int, videos: list[VideoFile], masks: bool) -> CameraTruth:
    return render_camera(build_world(config), camera, videos, masks=masks)


def generate(
    project: Project, config: SynthConfig, *, masks: bool = False, workers: int = 1, show_progress: bool = True
) -> Summary:
    import time

    started, cpu_started = time.perf_counter(), _cpu()
    world = build_world(config)
    media_dir = project.folder("media") / MEDIA_SUBDIR
    media_dir.mkdir(parents=True, exist_ok=True)
    gt_dir = project.root / GT_FOLDER
    gt = GroundTruth(project.root)
    # The config file marks the ground truth complete: gone while the videos change, written last.
    (gt_dir / CONFIG_FILE).unlink(missing_ok=True)
    videos = plan_videos(config, world, media_dir)
    per_camera: dict[str, list[VideoFile]] = {}
    for v in videos:
        per_camera.setdefault(v.camera_id, []).append(v)
    truths: dict[int, CameraTruth] = {}
    with progress_bar("synth", total=config.n_frames * config.cameras, unit="frame", enabled=show_progress) as advance:
        if workers <= 1 or config.cameras == 1:
            for cam in world.cameras:
                truths[cam.index] = render_camera(
                    world, cam.index, per_camera[cam.camera_id], masks=masks, advance=advance
                )
        else:
            # Cameras are independent given the config: one process each, same bytes as serial.
            with ProcessPoolExecutor(max_workers=workers) as pool:
                futures = {
                    pool.submit(_render_camera_job, config, cam.index, per_camera[cam.camera_id], masks): cam.index
                    for cam in world.cameras
                }
                for future in as_completed(futures):
                    truths[futures[future]] = future.result()
                    advance(config.n_frames)
    tables = build_truth_tables(project, world, videos, truths)
    if masks:
        _write_masks(gt_dir, tables["tracklet_of"], truths)
    for name in ("cameras", "videos", "tracklets", "boxes", "identities", "attributes", "gt_poses"):
        manifests.write_manifest(gt.manifests_dir, name, tables[name])
    _write_walks(gt_dir / "walks.parquet", world)
    _register_cameras(project, tables["cameras"])
    _write_cameras_csv(media_dir / "cameras.csv", world, videos, project)
    written = {project.relative(v.path) for v in videos}
    # media/synth/ and ground_truth/masks/ belong to synth: what this run did not write is stale.
    for path in sorted(media_dir.glob("*.avi")) + sorted(media_dir.glob(".*.partial.avi")):
        if project.relative(path) not in written:
            path.unlink()
    keep_masks = {f"{t}.npy" for t in tables["tracklets"]["tracklet_id"].to_pylist()} if masks else set()
    for path in sorted((gt_dir / "masks").glob("*.npy")):
        if path.name not in keep_masks:
            path.unlink()
    write_json(
        gt_dir / CONFIG_FILE,
        {"generator": "grewkit synth", "version": 1, "config": config.to_dict(), "videos": sorted(written)},
    )
    elapsed = time.perf_counter() - started
    return Summary(
        videos=len(videos),
        frames=config.n_frames * config.cameras,
        tracklets=tables["tracklets"].num_rows,
        identities=len(world.identities),
        seconds=elapsed,
        cpu_seconds=_cpu() - cpu_started,
        boxes=tables["boxes"].num_rows,
    )


def _cpu() -> float:
    """CPU seconds of this process and its finished worker processes."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def build_truth_tables(project: Project, world: World, videos: list[VideoFile], truths: dict[int, CameraTruth]) -> dict:
    config = world.config
    cams = world.cameras
    camera_rows = [c.as_row(SITE) for c in cams]
    cameras = pa.Table.from_pylist(camera_rows)
    video_rows = []
    for v in videos:
        video_rows.append(
            {
                "video_id": v.video_id,
                "camera_id": v.camera_id,
                "path": project.relative(v.path),
                "fps": float(config.fps),
                "frame_count": v.frame_count,
                "width": config.width,
                "height": config.height,
                "duration_s": v.frame_count / config.fps,
                "start_time": v.start_time,
                "size_bytes": v.path.stat().st_size,
                "sha256": sha256_file(v.path),
                "codec": config.codec,
            }
        )
    video_table = pa.Table.from_pylist(
        video_rows,
        schema=pa.schema(
            [
                ("video_id", pa.string()),
                ("camera_id", pa.string()),
                ("path", pa.string()),
                ("fps", pa.float64()),
                ("frame_count", pa.int64()),
                ("width", pa.int32()),
                ("height", pa.int32()),
                ("duration_s", pa.float64()),
                ("start_time", pa.timestamp("us", tz="UTC")),
                ("size_bytes", pa.int64()),
                ("sha256", pa.string()),
                ("codec", pa.string()),
            ]
        ),
    )
    box_parts, pose_parts, tracklet_rows, identity_rows = [], [], [], []
    tracklet_of: dict[tuple[int, str], str] = {}
    for cam in cams:
        t = truths[cam.index]
        r = t.box_rows
        if not r["walk"]:
            continue
        walk = np.asarray(r["walk"])
        video = np.asarray(r["video"], dtype=object)
        frame = np.asarray(r["frame"], dtype=np.int64)
        # Track numbers per video in order of first appearance (then walk), like a tracker's.
        firsts: dict[tuple[str, int], int] = {}
        for w, v, f in zip(walk.tolist(), video.tolist(), frame.tolist()):
            firsts.setdefault((v, w), f)
        by_video: dict[str, list] = {}
        for (v, w), f in firsts.items():
            by_video.setdefault(v, []).append((f, w))
        for v, items in by_video.items():
            for track_id, (_, w) in enumerate(sorted(items), start=1):
                tracklet_of[(w, v)] = f"{v}-t{track_id:04d}"
        tids = np.array([tracklet_of[(w, v)] for w, v in zip(walk.tolist(), video.tolist())], dtype=object)
        boxes = pa.table(
            {
                "tracklet_id": pa.array(tids.tolist(), pa.string()),
                "video_id": pa.array(video.tolist(), pa.string()),
                "camera_id": pa.array([cam.camera_id] * len(walk), pa.string()),
                "frame": pa.array(frame),
                "x1": pa.array(r["x1"], pa.float32()),
                "y1": pa.array(r["y1"], pa.float32()),
                "x2": pa.array(r["x2"], pa.float32()),
                "y2": pa.array(r["y2"], pa.float32()),
                "score": pa.array(np.ones(len(walk), np.float32)),
                "visibility": pa.array(r["vis"], pa.float32()),
            }
        )
        box_parts.append(boxes)
        kp = np.stack(t.kp)
        j3 = np.stack(t.j3)
        identity_of_walk = {i: w.person.identity_id for i, w in enumerate(world.walks)}
        pose_parts.append(
            pa.table(
                {
                    "tracklet_id": boxes["tracklet_id"],
                    "video_id": boxes["video_id"],
                    "camera_id": boxes["camera_id"],
                    "identity_id": pa.array([identity_of_walk[w] for w in walk.tolist()], pa.string()),
                    "frame": boxes["frame"],
                    "kp_x": _lists(kp[:, :, 0]),
                    "kp_y": _lists(kp[:, :, 1]),
                    "kp_visibility": _lists(kp[:, :, 2].astype(np.int8), pa.int8()),
                    "joint_x_m": _lists(j3[:, :, 0]),
                    "joint_y_m": _lists(j3[:, :, 1]),
                    "joint_z_m": _lists(j3[:, :, 2]),
                }
            )
        )
        heights = np.asarray(r["y2"]) - np.asarray(r["y1"])
        for (w, v), tid in sorted(tracklet_of.items(), key=lambda kv: kv[1]):
            if not tid.startswith(f"gt-{cam.camera_id}-"):
                continue
            sel = (walk == w) & (video == v)
            frames = frame[sel]
            tracklet_rows.append(
                {
                    "tracklet_id": tid,
                    "video_id": v,
                    "camera_id": cam.camera_id,
                    "track_id": int(tid.rsplit("-t", 1)[1]),
                    "start_frame": int(frames.min()),
                    "end_frame": int(frames.max()),
                    "n_frames": int(sel.sum()),
                    "mean_box_height": float(heights[sel].mean()),
                    "mean_score": 1.0,
                    "kept": True,
                    "filter_reason": None,
                }
            )
            identity_rows.append(
                {
                    "tracklet_id": tid,
                    "identity_id": identity_of_walk[w],
                    "source": "ground_truth",
                    "status": "resolved",
                    "reason": None,
                }
            )
    from grewkit.core.schemas import get_schema

    def table(name, rows=None, parts=None):
        schema = get_schema(name).arrow
        if parts is not None:
            return pa.concat_tables(parts) if parts else schema.empty_table()
        return pa.Table.from_pylist(rows, schema=schema) if rows else schema.empty_table()

    attribute_rows = []
    for person in world.identities:
        for attribute, value in person.attributes().items():
            attribute_rows.append(
                {
                    "level": "identity",
                    "subject_id": person.identity_id,
                    "attribute": attribute,
                    "value": value,
                    "votes": 1,
                    "total": 1,
                    "source": "ground_truth",
                }
            )
    return {
        "cameras": cameras,
        "videos": video_table,
        "tracklets": table("tracklets", tracklet_rows),
        "boxes": table("boxes", parts=box_parts),
        "identities": table("identities", identity_rows),
        "attributes": table("attributes", attribute_rows),
        "gt_poses": table("gt_poses", parts=pose_parts),
        "tracklet_of": tracklet_of,
    }


def _lists(values: np.ndarray, type_=pa.float32()) -> pa.Array:
    n, k = values.shape
    offsets = pa.array(np.arange(0, (n + 1) * k, k, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, pa.array(values.reshape(-1), type_))


def _write_masks(gt_dir: Path, tracklet_of: dict, truths: dict[int, CameraTruth]) -> None:
    """One ``masks/<tracklet_id>.npy`` per GT tracklet: frames x H x W bool, each frame's crop at the top left.

    Frame k's mask covers its box (x1, y1, x2, y2 of the boxes manifest, whole pixels):
    ``arr[k, :y2 - y1, :x2 - x1]``; the rest is padding.
    """
    for truth in truths.values():
        for key, crops in truth.masks.items():
            h = max(c.shape[0] for c in crops)
            w = max(c.shape[1] for c in crops)
            arr = np.zeros((len(crops), h, w), bool)
            for k, c in enumerate(crops):
                arr[k, : c.shape[0], : c.shape[1]] = c
            save_array(gt_dir / "masks" / f"{tracklet_of[key]}.npy", arr)


def _write_walks(path: Path, world: World) -> None:
    rows = []
    for w in world.walks:
        row = {
            "walk_id": w.walk_id,
            "identity_id": w.person.identity_id,
            "camera_id": world.cameras[w.camera].camera_id,
            "t0_s": w.t0,
            "duration_s": w.duration,
            "heading_deg": float(np.degrees(w.heading)),
            "speed_mps": w.speed,
        }
        row.update({k: float(getattr(w.person, k)) for k in GAIT_PARAMS})
        rows.append(row)
    with atomic_path(path) as tmp:
        pq.write_table(pa.Table.from_pylist(rows), tmp, compression="zstd")


def _register_cameras(project: Project, cameras: pa.Table) -> None:
    ours = set(cameras["camera_id"].to_pylist())
    existing = project.read("cameras")
    if existing.num_rows:
        existing = existing.filter(pc.invert(pc.is_in(existing["camera_id"], pa.array(sorted(ours), pa.string()))))
        from grewkit.core.schemas import conform, get_schema

        cameras = pa.concat_tables([existing, conform(cameras, get_schema("cameras"))])
    project.write("cameras", cameras)


def _write_cameras_csv(path: Path, world: World, videos: list[VideoFile], project: Project) -> None:
    buf = io.StringIO()
    out = csv.DictWriter(buf, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
    out.writeheader()
    cams = {c.camera_id: c for c in world.cameras}
    for v in videos:
        row = cams[v.camera_id].as_row(SITE)
        row.update({"file": v.path.name, "start_time": v.start_time.isoformat()})
        out.writerow({k: row[k] for k in CSV_COLUMNS})
    write_text(path, buf.getvalue())
