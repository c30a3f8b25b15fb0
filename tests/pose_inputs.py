"""A small project for pose tests: one tracked 'person' walking across a lossless video."""

from __future__ import annotations

import hashlib
import re

import cv2
import numpy as np
from helpers import schema_table


def walking_project(project, draw, *, frames: int = 12, size=(640, 480)):
    """Write media/walk.avi, whose frame f shows ``draw(frame, box)`` for box (100 + 20 f, 60, 200 + 20 f, 300),
    and the videos/tracklets/boxes manifests of that one kept tracklet. Returns the boxes and what ``draw`` returned."""
    video = project.root / "media" / "walk.avi"
    video.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"FFV1"), 25.0, size)
    assert writer.isOpened(), "FFV1 (lossless) writer unavailable"
    boxes, drawn = [], []
    for f in range(frames):
        frame = np.zeros((size[1], size[0], 3), np.uint8)
        box = (100 + 20 * f, 60, 200 + 20 * f, 300)
        drawn.append(draw(frame, box))
        boxes.append(box)
        writer.write(frame)
    writer.release()
    n = len(boxes)
    project.write("cameras", schema_table("cameras", [{"camera_id": "cam0", "width": size[0], "height": size[1]}]))
    project.write(
        "videos",
        schema_table(
            "videos",
            [
                {
                    "video_id": "walk",
                    "camera_id": "cam0",
                    "path": "media/walk.avi",
                    "fps": 25.0,
                    "frame_count": n,
                    "width": size[0],
                    "height": size[1],
                    "duration_s": n / 25.0,
                    "size_bytes": video.stat().st_size,
                    "sha256": hashlib.sha256(video.read_bytes()).hexdigest(),
                    "codec": "FFV1",
                }
            ],
        ),
    )
    project.write(
        "tracklets",
        schema_table(
            "tracklets",
            [
                {
                    "tracklet_id": "walk-t00001",
                    "video_id": "walk",
                    "camera_id": "cam0",
                    "track_id": 1,
                    "start_frame": 0,
                    "end_frame": n - 1,
                    "n_frames": n,
                    "mean_box_height": 240.0,
                    "mean_score": 1.0,
                    "kept": True,
                    "filter_reason": None,
                }
            ],
        ),
    )
    project.write(
        "boxes",
        schema_table(
            "boxes",
            [
                {
                    "tracklet_id": "walk-t00001",
                    "video_id": "walk",
                    "camera_id": "cam0",
                    "frame": f,
                    "x1": float(b[0]),
                    "y1": float(b[1]),
                    "x2": float(b[2]),
                    "y2": float(b[3]),
                    "score": 1.0,
                    "visibility": None,
                }
                for f, b in enumerate(boxes)
            ],
        ),
    )
    return np.array(boxes, np.float64), drawn


def set_settings(project, section: str, **values):
    """Replace keys of one section of the settings file that ``grewkit init`` wrote (each must be there once)."""
    text = project.settings_path.read_text()
    start = text.index(f"[{section}]\n")
    end = text.find("\n[", start + 1)
    end = len(text) if end < 0 else end
    body = text[start:end]
    for key, value in values.items():
        body, count = re.subn(rf"^{key} = .*$", f"{key} = {value}", body, count=1, flags=re.M)
        assert count == 1, key
    project.settings_path.write_text(text[:start] + body + text[end:])


def walker_poses(identities: int, walks, *, frames: int = 40, seed: int = 0):
    """COCO-17 pose sequences (T, 17, 3) in image pixels of the synthetic world's walkers, seen side-on:
    ``walks`` walks (or ``walks[i]`` of person i) of each of ``identities`` people (the same gait within a few percent), at a random image
    scale and place, with pixel noise and random confidences. Returns [(identity, walk index, pose)]."""
    from grewkit.synth.body import Walk, coco17, make_identities, perturb

    rng = np.random.default_rng(seed)
    people = make_identities(rng, identities)
    out = []
    for i, person in enumerate(people):
        for w in range(walks if isinstance(walks, int) else walks[i]):
            walk = Walk(f"w{i}-{w}", perturb(person, rng), 0, (0.0, 0.0), 0.0, 0.0, 10.0, float(rng.uniform()))
            scale, x0, y0 = rng.uniform(80, 240), rng.uniform(100, 500), rng.uniform(300, 460)
            pose = []
            for t in np.arange(frames) / 25.0:
                j = coco17(walk, walk.joints(t))
                xy = np.c_[x0 + scale * (j[:, 0] - walk.ground_point(t)[0]), y0 - scale * j[:, 2]]
                xy += rng.normal(0, 0.5, xy.shape)
                pose.append(np.c_[xy, rng.uniform(0.6, 1.0, 17)])
            out.append((f"p{i:02d}", w, np.asarray(pose, np.float32)))
    return out


def walker_world(project, *, n_multi: int = 16, n_single: int = 4, frames: int = 40, seed: int = 0):
    """A small project whose pose2d sequences are the walkers of ``walker_poses``: the identities and cameras of
    split_world's ``world_rows`` (multi-camera identities with 3-8 sequences, single-camera ones, 3 unlabelled),
    each identity one person, each of its sequences another walk of that person; written, split 6/1/3.
    Returns the splits table."""
    from split_world import set_split_settings, world_rows

    from grewkit.core.arrays import save_array
    from grewkit.split.cli import split_project

    rows = world_rows(n_multi=n_multi, n_single=n_single, n_unlabelled=3).to_pylist()
    people = sorted({r["identity_id"] or r["sequence_id"] for r in rows})
    walks = {}
    for r in rows:
        key = r["identity_id"] or r["sequence_id"]
        walks[r["sequence_id"]] = (people.index(key), sum(1 for w in walks.values() if w[0] == people.index(key)))
    counts = [sum(1 for p, _ in walks.values() if p == i) for i in range(len(people))]
    poses = {
        (int(ident[1:]), w): pose for ident, w, pose in walker_poses(len(people), counts, frames=frames, seed=seed)
    }
    out = []
    for r in rows:
        pose = poses[walks[r["sequence_id"]]]
        path = project.folder("renders") / "pose2d" / f"{r['sequence_id']}.npy"
        digest = save_array(path, pose)
        out.append(
            {
                **r,
                "modality": "pose2d",
                "tracklet_id": None,
                "view": None,
                "condition": None,
                "path": project.relative(path),
                "frames": int(pose.shape[0]),
                "height": 0,
                "width": 0,
                "sha256": digest,
            }
        )
    project.write("sequences", schema_table("sequences", out))
    set_split_settings(project, "ratios = [6, 1, 3]\n")
    return split_project(project)[0].table
