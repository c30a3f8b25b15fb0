"""A small real multi-camera world for the annotation tests, built from TUD-Campus.

TUD-Campus is one real camera with 8 annotated walkers over 71 frames. It becomes three
pseudo-cameras: A (frames 1-35), B (frames 36-71, starting where A ends) and C (frames 1-35
mirrored, a second view at the same time). Tracklets are the ground-truth tracks per camera,
so the true identity of every tracklet is known. Videos are MJPG .avi files in the project.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pyarrow as pa

FPS = 10.0
T0 = datetime(2026, 5, 1, 9, 0, 0, tzinfo=UTC)
CAMERAS = {"camA": (1, 35, False, 0.0), "camB": (36, 71, False, 3.5), "camC": (1, 35, True, 0.0)}


def build_tud_world(
    project, shared_data: Path, *, min_frames: int = 5, lost: tuple[str, int, int] | None = None
) -> dict[str, str]:
    """Write videos, cameras, tracklets and boxes manifests into ``project``; return tracklet -> true identity.

    ``lost`` (camera, first, end): a tracker that loses every walker of that camera over those
    video frames (end excluded) and tracks them again after: each walk seen on both sides becomes
    two tracklets, the later one's id ending in "b"."""
    root = shared_data / "tud_campus"
    gt = np.loadtxt(root / "gt" / "gt.txt", delimiter=",")
    first = cv2.imread(str(root / "img1" / "000001.jpg"))
    height, width = first.shape[:2]
    videos, boxes, tracklets, cameras = [], defaultdict(list), [], []
    truth: dict[str, str] = {}
    for camera, (f0, f1, mirror, offset_s) in CAMERAS.items():
        video_id = f"{camera}-v1"
        path = project.root / "media" / f"{video_id}.avi"
        path.parent.mkdir(parents=True, exist_ok=True)
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (width, height))
        for f in range(f0, f1 + 1):
            image = cv2.imread(str(root / "img1" / f"{f:06d}.jpg"))
            writer.write(image[:, ::-1] if mirror else image)
        writer.release()
        n = f1 - f0 + 1
        videos.append(
            {
                "video_id": video_id,
                "camera_id": camera,
                "path": f"media/{video_id}.avi",
                "fps": FPS,
                "frame_count": n,
                "width": width,
                "height": height,
                "duration_s": n / FPS,
                "start_time": T0 + timedelta(seconds=offset_s),
                "size_bytes": path.stat().st_size,
                "sha256": "0" * 64,
                "codec": "MJPG",
            }
        )
        cameras.append({"camera_id": camera, "description": f"TUD-Campus pseudo-camera {camera}", "view": "side"})
        per_id = defaultdict(list)
        for row in gt[(gt[:, 0] >= f0) & (gt[:, 0] <= f1)]:
            frame, pid, x, y, w, h = row[:6]
            x1, x2 = (width - (x + w), width - x) if mirror else (x, x + w)
            per_id[int(pid)].append(
                (int(frame) - f0, float(max(0, x1)), float(max(0, y)), float(min(width, x2)), float(min(height, y + h)))
            )
        pieces = []
        for pid, rows in sorted(per_id.items()):
            if lost and lost[0] == camera:
                pieces.append((f"{video_id}-t{pid}", pid, [r for r in rows if r[0] < lost[1]]))
                pieces.append((f"{video_id}-t{pid}b", pid, [r for r in rows if r[0] >= lost[2]]))
            else:
                pieces.append((f"{video_id}-t{pid}", pid, rows))
        for tid, pid, rows in pieces:
            if len(rows) < min_frames:
                continue
            truth[tid] = f"person{pid}"
            frames = [r[0] for r in rows]
            tracklets.append(
                {
                    "tracklet_id": tid,
                    "video_id": video_id,
                    "camera_id": camera,
                    "track_id": pid,
                    "start_frame": min(frames),
                    "end_frame": max(frames),
                    "n_frames": len(rows),
                    "mean_box_height": float(np.mean([r[4] - r[2] for r in rows])),
                    "mean_score": 1.0,
                    "kept": True,
                    "filter_reason": None,
                }
            )
            for frame, x1, y1, x2, y2 in rows:
                boxes["tracklet_id"].append(tid)
                boxes["video_id"].append(video_id)
                boxes["camera_id"].append(camera)
                boxes["frame"].append(frame)
                for k, v in zip(("x1", "y1", "x2", "y2", "score", "visibility"), (x1, y1, x2, y2, 1.0, None)):
                    boxes[k].append(v)
    from grewkit.core.schemas import get_schema

    cam_schema = get_schema("cameras")
    cam_rows = [{c: r.get(c) for c in cam_schema.column_names} for r in cameras]
    project.write("cameras", pa.Table.from_pylist(cam_rows, schema=cam_schema.arrow))
    project.write("videos", pa.Table.from_pylist(videos, schema=get_schema("videos").arrow))
    project.write("tracklets", pa.Table.from_pylist(tracklets, schema=get_schema("tracklets").arrow))
    project.write("boxes", pa.Table.from_pydict(dict(boxes), schema=get_schema("boxes").arrow))
    return truth


def build_synth_world(
    project, *, cameras: int = 3, identities: int = 6, seconds: float = 8.0, seed: int = 1
) -> dict[str, str]:
    """A synthetic world (``grewkit synth``) whose ground-truth tracklets stand in for tracked ones.

    Returns tracklet -> true identity. Synthetic people may appear in docs (unlike TUD-Campus).
    """
    import dataclasses

    from grewkit.synth.generate import generate
    from grewkit.synth.truth import ground_truth

    config = dataclasses.replace(
        project.settings.section("synth"), cameras=cameras, identities=identities, seconds=seconds, seed=seed
    )
    generate(project, config, show_progress=False)
    gt = ground_truth(project)
    for name in ("videos", "tracklets", "boxes"):
        project.write(name, gt.read(name))
    ids = gt.read("identities", ["tracklet_id", "identity_id"]).to_pydict()
    return dict(zip(ids["tracklet_id"], ids["identity_id"]))


def link_synth_world(project, source) -> dict[str, str]:
    """Make ``project`` see the synthetic world of ``source`` (a project made by build_synth_world):
    its footage and ground truth linked, its ground-truth tracklets copied as tracked ones."""
    from grewkit.synth.truth import ground_truth

    (project.root / "media" / "synth").symlink_to((source.root / "media" / "synth").resolve())
    gt_link = project.root / "ground_truth"
    if gt_link.is_dir() and not any(gt_link.iterdir()):
        gt_link.rmdir()
    gt_link.symlink_to((source.root / "ground_truth").resolve())
    gt = ground_truth(project)
    for name in ("videos", "tracklets", "boxes"):
        project.write(name, gt.read(name))
    ids = gt.read("identities", ["tracklet_id", "identity_id"]).to_pydict()
    return dict(zip(ids["tracklet_id"], ids["identity_id"]))
