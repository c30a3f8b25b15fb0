"""Annotator media: one face-masked JPEG frame strip per tracklet, and the crops behind it.

A strip (a few evenly spaced crops side by side) shows gait, clothing and carried objects at
a glance, loads instantly in the labelling page and plays everywhere (opencv's mp4v does not
play in Chromium). Frames are read once per video, in order, for all tracklets of the video.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pyarrow as pa

from grewkit.annotate.faces import mask_faces
from grewkit.core.atomic import write_bytes
from grewkit.core.boxes import Boxes
from grewkit.core.errors import GrewkitError
from grewkit.core.frames import read_frames
from grewkit.core.thirdparty_logs import third_party_output

STRIP_DIR = "media/annotation/strips"
PLACEHOLDER = "media/annotation/no-candidate.jpg"


def sample_boxes(boxes: Boxes, n: int) -> Boxes:
    """``n`` boxes evenly spaced over the tracklet (all of them when it has fewer), by frame."""
    boxes = boxes[np.argsort(boxes.frame, kind="stable")]
    if len(boxes) <= n:
        return boxes
    return boxes[np.linspace(0, len(boxes) - 1, n).round().astype(int)]


def boxes_by_tracklet(boxes: pa.Table) -> dict[str, Boxes]:
    """Each tracklet's boxes, tracklets in their order of first row, boxes in row order."""
    every = Boxes.from_arrow(boxes, track_column="tracklet_id")
    first = {}
    for i, t in enumerate(every.track_id.tolist()):
        first.setdefault(t, []).append(i)
    return {t: every[np.asarray(rows)] for t, rows in first.items()}


def iter_crops(
    video_path: Path, wanted: dict[str, Boxes], *, margin: float = 0.08
) -> Iterator[tuple[str, int, np.ndarray, tuple[float, float, float, float]]]:
    """Yield ``(tracklet_id, frame, crop, box_in_crop)`` for every wanted box, reading the video once in order."""
    by_frame: dict[int, list[tuple[str, np.ndarray]]] = defaultdict(list)
    for tid, boxes in wanted.items():
        for frame, xyxy in zip(boxes.frame.tolist(), boxes.xyxy):
            by_frame[frame].append((tid, xyxy))
    for index, image in read_frames(video_path, sorted(by_frame)):
        for tid, xyxy in by_frame[index]:
            yield (tid, index, *crop_box(image, xyxy, margin=margin))


def crop_box(image: np.ndarray, xyxy, *, margin: float) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    # Python floats: float32 arithmetic would move the crop edges by a pixel now and then.
    bx1, by1, bx2, by2 = (float(v) for v in xyxy)
    h, w = image.shape[:2]
    bw, bh = bx2 - bx1, by2 - by1
    x1 = int(max(0, np.floor(bx1 - margin * bw)))
    y1 = int(max(0, np.floor(by1 - margin * bh)))
    x2 = int(min(w, np.ceil(bx2 + margin * bw)))
    y2 = int(min(h, np.ceil(by2 + margin * bh)))
    if x2 <= x1 or y2 <= y1:
        return np.zeros((8, 4, 3), np.uint8), (0.0, 0.0, 4.0, 8.0)
    return image[y1:y2, x1:x2].copy(), (bx1 - x1, by1 - y1, bx2 - x1, by2 - y1)


def make_strip(crops: Iterable[tuple[np.ndarray, tuple[float, float, float, float]]], *, height: int) -> np.ndarray:
    tiles = []
    for crop, box in crops:
        masked = mask_faces(crop, boxes_xyxy=np.array([box], dtype=np.float32), keypoints=None, channels="bgr")
        scale = height / masked.shape[0]
        tiles.append(cv2.resize(masked, (max(1, round(masked.shape[1] * scale)), height), interpolation=cv2.INTER_AREA))
        tiles.append(np.full((height, 3, 3), 255, np.uint8))
    if not tiles:
        raise GrewkitError("no frames to make a strip from")
    return np.hstack(tiles[:-1])


def encode_jpeg(image: np.ndarray, quality: int = 85) -> bytes:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise GrewkitError("JPEG encoding failed")
    return data.tobytes()


def strip_path(tracklet_id: str) -> str:
    from grewkit.core.stage import unit_key

    return f"{STRIP_DIR}/{unit_key(tracklet_id)}.jpg"


def write_placeholder(project_root: Path, height: int) -> str:
    path = project_root / PLACEHOLDER
    if not path.exists():
        image = np.full((height, height // 2, 3), 235, np.uint8)
        cv2.putText(image, "none", (4, height // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (90, 90, 90), 1)
        write_bytes(path, encode_jpeg(image))
    return PLACEHOLDER


def render_strips(
    project, tracklet_ids: Iterable[str], *, frames: int, height: int, force: bool = False, progress=lambda n=1: None
) -> dict[str, str]:
    """Write the strip of every tracklet that lacks one; return tracklet_id -> path relative to the project."""
    tracklets = project.read("tracklets", ["tracklet_id", "video_id", "camera_id"]).to_pydict()
    info = {t: (v, c) for t, v, c in zip(tracklets["tracklet_id"], tracklets["video_id"], tracklets["camera_id"])}
    wanted_ids = list(dict.fromkeys(tracklet_ids))
    unknown = [t for t in wanted_ids if t not in info]
    if unknown:
        raise GrewkitError(
            f"{len(unknown)} tracklets are not in the tracklets manifest, e.g. {unknown[0]!r}",
            path=project.manifests_dir / "tracklets.parquet",
        )
    paths = {t: strip_path(t) for t in wanted_ids}
    todo = [t for t in wanted_ids if force or not (project.root / paths[t]).exists()]
    progress(len(wanted_ids) - len(todo))
    if not todo:
        return paths
    videos = project.read("videos", ["video_id", "path"]).to_pydict()
    video_path = dict(zip(videos["video_id"], videos["path"]))
    by_camera: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for t in todo:
        video, camera = info[t]
        by_camera[camera][video].append(t)
    # The face detector (mediapipe / TensorFlow Lite) prints from C++: into logs/annotate.log.
    with third_party_output(project.root / "logs" / "annotate.log", header="annotator media"):
        for camera, per_video in sorted(by_camera.items()):
            boxes = boxes_by_tracklet(camera_boxes(project, camera, [t for ts in per_video.values() for t in ts]))
            for video, ids in sorted(per_video.items()):
                if video not in video_path:
                    raise GrewkitError(
                        f"video {video!r} of tracklet {ids[0]!r} is not in the videos manifest",
                        path=project.manifests_dir / "videos.parquet",
                    )
                wanted = {t: sample_boxes(boxes.get(t, Boxes.empty()), frames) for t in ids}
                crops: dict[str, list] = defaultdict(list)
                for tid, _, crop, inner in iter_crops(project.resolve(video_path[video]), wanted):
                    crops[tid].append((crop, inner))
                for t in ids:
                    if not crops.get(t):
                        raise GrewkitError(f"tracklet {t!r} has no boxes", path=project.manifests_dir / "boxes")
                    write_bytes(project.root / paths[t], encode_jpeg(make_strip(crops[t], height=height)))
                    progress(1)
    return paths


def camera_boxes(project, camera: str, tracklet_ids: list[str]) -> pa.Table:
    import pyarrow.compute as pc

    from grewkit.core import manifests

    path = manifests.manifest_path(project.manifests_dir, "boxes") / f"{camera}.parquet"
    if not path.is_file():
        raise GrewkitError(f"no boxes for camera {camera!r}", path=path)
    table = manifests.read_partition(
        project.manifests_dir, "boxes", camera, ["tracklet_id", "frame", "x1", "y1", "x2", "y2"]
    )
    return table.filter(pc.is_in(table.column("tracklet_id"), value_set=pa.array(tracklet_ids)))
