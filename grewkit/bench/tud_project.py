"""Real inputs for the render bench and tests: TUD-Campus frames as an MJPG video, its ground-truth
boxes as the videos/tracklets/boxes manifests the tracking stage writes (tracks known exactly, so
render is measured apart from detection and tracking)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np

from grewkit.core.schemas import get_schema


def write_tud_video(shared_data: Path, path: Path, *, black_from: int | None = None) -> int:
    frames = sorted((shared_data / "tud_campus" / "img1").glob("*.jpg"))
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (640, 480))
    for i, f in enumerate(frames):
        img = cv2.imread(str(f))
        if black_from is not None and i >= black_from:
            img = np.zeros_like(img)
        writer.write(img)
    writer.release()
    return len(frames)


def tud_project(project, shared_data: Path, *, ids=(3, 4), camera_id="cam0", black_ids=()):
    """Write media/tud.avi and the manifests for the ground-truth tracks ``ids`` (kept) and the others (dropped).

    Tracks in ``black_ids`` get a second video whose frames are all black (bad input).
    """
    gt = np.loadtxt(shared_data / "tud_campus" / "gt" / "gt.txt", delimiter=",")
    video = project.root / "media" / "tud.avi"
    n = write_tud_video(shared_data, video)
    videos = [
        {
            "video_id": "tud",
            "camera_id": camera_id,
            "path": "media/tud.avi",
            "fps": 25.0,
            "frame_count": n,
            "width": 640,
            "height": 480,
            "duration_s": n / 25.0,
            "size_bytes": video.stat().st_size,
            "sha256": hashlib.sha256(video.read_bytes()).hexdigest(),
            "codec": "MJPG",
        }
    ]
    if black_ids:
        black = project.root / "media" / "black.avi"
        write_tud_video(shared_data, black, black_from=0)
        videos.append(
            {
                **videos[0],
                "video_id": "black",
                "path": "media/black.avi",
                "size_bytes": black.stat().st_size,
                "sha256": hashlib.sha256(black.read_bytes()).hexdigest(),
            }
        )
    tracklets, boxes = [], []
    for tid in sorted(set(gt[:, 1].astype(int))):
        rows = gt[gt[:, 1] == tid]
        for video_id in ["tud"] + (["black"] if tid in black_ids else []):
            name = f"{video_id}-{tid}"
            tracklets.append(
                {
                    "tracklet_id": name,
                    "video_id": video_id,
                    "camera_id": camera_id,
                    "track_id": tid,
                    "start_frame": int(rows[:, 0].min()) - 1,
                    "end_frame": int(rows[:, 0].max()) - 1,
                    "n_frames": len(rows),
                    "mean_box_height": float(rows[:, 5].mean()),
                    "mean_score": 1.0,
                    "kept": (tid in ids and video_id == "tud") or (tid in black_ids and video_id == "black"),
                    "filter_reason": None,
                }
            )
            tracklets[-1]["filter_reason"] = None if tracklets[-1]["kept"] else "not selected by the test"
            for r in rows:
                boxes.append(
                    {
                        "tracklet_id": name,
                        "video_id": video_id,
                        "camera_id": camera_id,
                        "frame": int(r[0]) - 1,
                        "x1": float(r[2]),
                        "y1": float(r[3]),
                        "x2": float(r[2] + r[4]),
                        "y2": float(r[3] + r[5]),
                        "score": 1.0,
                        "visibility": None,
                    }
                )
    project.write("cameras", get_schema("cameras").table_of([{"camera_id": camera_id, "width": 640, "height": 480}]))
    project.write("videos", get_schema("videos").table_of(videos))
    project.write("tracklets", get_schema("tracklets").table_of(tracklets))
    project.write("boxes", get_schema("boxes").table_of(boxes))
    return gt
