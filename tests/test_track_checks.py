"""`grewkit validate` catches boxes outside their video and tracklets that disagree with their boxes."""

from __future__ import annotations

import pyarrow as pa

from grewkit.core.validate import validate_project


def write(project, *, n_frames_claimed=3, last_frame=2, x2=30.0):
    project.write("cameras", _cameras())
    project.write(
        "videos",
        pa.table(
            {
                "video_id": ["v1"],
                "camera_id": ["c1"],
                "path": ["grewkit.toml"],
                "fps": [25.0],
                "frame_count": [3],
                "width": [64],
                "height": [48],
                "duration_s": [0.12],
                "start_time": pa.nulls(1, pa.timestamp("us", tz="UTC")),
                "size_bytes": [1],
                "sha256": ["0" * 64],
                "codec": [None],
            }
        ),
    )
    project.write(
        "tracklets",
        pa.table(
            {
                "tracklet_id": ["v1-t00001"],
                "video_id": ["v1"],
                "camera_id": ["c1"],
                "track_id": [1],
                "start_frame": [0],
                "end_frame": [last_frame],
                "n_frames": pa.array([n_frames_claimed], pa.int32()),
                "mean_box_height": pa.array([20.0], pa.float32()),
                "mean_score": pa.array([0.9], pa.float32()),
                "kept": [True],
                "filter_reason": pa.nulls(1, pa.string()),
            }
        ),
    )
    frames = [0, 1, last_frame]
    project.write(
        "boxes",
        pa.table(
            {
                "tracklet_id": ["v1-t00001"] * 3,
                "video_id": ["v1"] * 3,
                "camera_id": ["c1"] * 3,
                "frame": frames,
                "x1": pa.array([10.0] * 3, pa.float32()),
                "y1": pa.array([5.0] * 3, pa.float32()),
                "x2": pa.array([x2, 30.0, 30.0], pa.float32()),
                "y2": pa.array([25.0] * 3, pa.float32()),
                "score": pa.array([0.9] * 3, pa.float32()),
                "visibility": pa.array([1.0] * 3, pa.float32()),
            }
        ),
    )


def _cameras():
    from grewkit.core.schemas import get_schema

    schema = get_schema("cameras")
    return pa.table({c.name: pa.array(["c1"] if c.name == "camera_id" else [None], c.type) for c in schema.columns})


def test_consistent_manifests_pass(project):
    write(project)
    assert validate_project(project) == []


def test_box_outside_the_video_and_a_flat_box(project):
    write(project, last_frame=7, n_frames_claimed=3, x2=10.0)
    text = "\n".join(map(str, validate_project(project)))
    assert "1 rows have a frame outside their video, e.g. frame 7 of v1 (3 frames)" in text
    assert "1 boxes have no area" in text


def test_tracklet_row_disagrees_with_its_boxes(project):
    write(project, n_frames_claimed=5)
    text = "\n".join(map(str, validate_project(project)))
    assert "1 tracklets disagree with their boxes" in text and "v1-t00001" in text
