"""A picture of a video's tracks: every tracklet's walking path drawn over one of its frames.

Paths follow the bottom centre of the boxes (where the feet are), coloured per tracklet; kept
tracklets are solid with their number at the last box, dropped ones thin and grey, so a look
tells what the tracker and its quality filters did.
"""

from __future__ import annotations

import colorsys
from pathlib import Path

import cv2
import numpy as np
import pyarrow.compute as pc

from grewkit.core import manifests
from grewkit.core.atomic import atomic_path
from grewkit.core.errors import GrewkitError
from grewkit.core.frames import read_frame
from grewkit.core.project import Project


def _colour(i: int) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb((i * 0.61803398875) % 1.0, 0.85, 1.0)
    return int(255 * b), int(255 * g), int(255 * r)


def draw_tracks(project: Project, video_id: str, out: str | Path) -> dict[str, int]:
    """Write a PNG of ``video_id``'s tracks to ``out``; return counts of kept and dropped tracklets."""
    videos = project.read("videos")
    row = videos.filter(pc.equal(videos["video_id"], video_id))
    if row.num_rows == 0:
        raise GrewkitError(
            f"no video {video_id!r} in the videos manifest", path=project.manifests_dir / "videos.parquet"
        )
    camera = row["camera_id"][0].as_py()
    tracklets = project.read("tracklets")
    tracklets = tracklets.filter(pc.equal(tracklets["video_id"], video_id))
    path = manifests.manifest_path(project.manifests_dir, "boxes") / f"{camera}.parquet"
    if not path.exists() or tracklets.num_rows == 0:
        raise GrewkitError(f"no tracks for video {video_id!r}: run `grewkit track` first", path=path)
    boxes = manifests.read_manifest(project.manifests_dir, "boxes")
    boxes = boxes.filter(pc.equal(boxes["video_id"], video_id))
    middle = int(row["frame_count"][0].as_py()) // 2
    canvas = read_frame(project.resolve(row["path"][0].as_py()), middle)
    canvas = cv2.addWeighted(canvas, 0.6, np.zeros_like(canvas), 0.4, 0)  # dim, so the paths stand out
    kept = dropped = 0
    by_tracklet = {}
    for t, f, x1, x2, y2 in zip(
        boxes["tracklet_id"].to_pylist(),
        boxes["frame"].to_pylist(),
        boxes["x1"].to_pylist(),
        boxes["x2"].to_pylist(),
        boxes["y2"].to_pylist(),
    ):
        by_tracklet.setdefault(t, []).append((f, (x1 + x2) / 2, y2))
    for i, (tracklet, is_kept) in enumerate(zip(tracklets["tracklet_id"].to_pylist(), tracklets["kept"].to_pylist())):
        points = sorted(by_tracklet.get(tracklet, []))
        if len(points) < 2:
            continue
        line = np.array([[x, y] for _, x, y in points], np.int32).reshape(-1, 1, 2)
        if is_kept:
            kept += 1
            colour = _colour(i)
            cv2.polylines(canvas, [line], False, colour, 2, cv2.LINE_AA)
            x, y = line[-1, 0]
            cv2.putText(
                canvas,
                tracklet.rsplit("-t", 1)[-1].lstrip("0"),
                (int(x) + 4, int(y) - 4),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.5,
                colour,
                1,
                cv2.LINE_AA,
            )
        else:
            dropped += 1
            cv2.polylines(canvas, [line], False, (150, 150, 150), 1, cv2.LINE_AA)
    cv2.putText(
        canvas,
        f"{video_id}: {kept} kept tracklets (colour), {dropped} dropped (grey)",
        (10, 22),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.55,
        (255, 255, 255),
        1,
        cv2.LINE_AA,
    )
    out = Path(out)
    if out.suffix.lower() != ".png":
        raise GrewkitError("the picture is written as PNG: give a .png path", path=out)
    with atomic_path(out) as tmp:
        ok, data = cv2.imencode(".png", canvas)
        if not ok:
            raise GrewkitError("PNG encoding failed", path=out)
        tmp.write_bytes(data.tobytes())
    return {"kept": kept, "dropped": dropped}
