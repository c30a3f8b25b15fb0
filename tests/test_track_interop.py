"""Tracks for others on a vtest.avi slice: `grewkit export mot` read back as the manifests, per-video counts in
`grewkit status`, and a video whose fps cannot convert the track settings."""

from __future__ import annotations

import configparser
import json

import numpy as np
import pytest
from helpers import grewkit, manifest_bytes, vtest_slice

from grewkit.bench.mot import read_mot
from grewkit.core.executors import make_executor
from grewkit.core.runner import run_stage


@pytest.fixture
def tracked(project, shared_data, tmp_path):
    vtest_slice(project, shared_data, tmp_path / "footage")
    with make_executor("serial", 1) as ex:
        for stage in ("ingest", "detect", "track"):
            assert not run_stage(project, stage, executor=ex, show_progress=False).failed
    return project


def test_export_mot_reads_back_as_the_manifests(tracked, tmp_path):
    import motmetrics

    project, out = tracked, tmp_path / "mot"
    proc = grewkit("export", "mot", str(out), "--project", str(project.root))
    assert proc.returncode == 0, proc.stderr
    (video_id,) = project.read("videos", ["video_id"])["video_id"].to_pylist()
    folder = out / video_id
    info = configparser.ConfigParser()
    info.read(folder / "seqinfo.ini")
    assert (
        dict(info["Sequence"]).items()
        >= {"framerate": "10", "seqlength": "40", "imwidth": "768", "imheight": "576"}.items()
    )

    tracklets = project.read("tracklets").to_pandas()
    boxes = project.read("boxes").to_pandas()
    kept = tracklets[tracklets.kept]
    kept_boxes = boxes[boxes.tracklet_id.isin(kept.tracklet_id)]
    got = read_mot(folder / "kept.txt")
    assert len(got) == len(kept_boxes) > 0 and len(np.unique(got.track_id)) == len(kept)
    assert got.frame.min() == kept_boxes.frame.min() + 1  # MOT frames count from 1
    number = dict(zip(kept.tracklet_id.tolist(), kept.track_id.tolist()))
    want = sorted(
        zip(
            (kept_boxes.frame + 1).tolist(),
            [number[t] for t in kept_boxes.tracklet_id.tolist()],
            kept_boxes.x1.tolist(),
            kept_boxes.y2.tolist(),
        )
    )
    have = sorted(zip(got.frame, got.track_id, got.xyxy[:, 0], got.xyxy[:, 3]))
    assert [(f, i) for f, i, _, _ in have] == [(f, i) for f, i, _, _ in want]
    assert np.allclose([h[2:] for h in have], [w[2:] for w in want], atol=0.01)

    # Whole trajectories: every box the tracker followed, before the cuts split and dropped parts of it.
    whole = read_mot(folder / "whole.txt")
    assert len(whole) >= len(got) and whole.frame.min() >= 1 and whole.frame.max() <= 40
    # All tracklets: every box of the boxes manifest, kept or dropped, each tracklet one id.
    every = read_mot(folder / "tracklets.txt")
    assert len(every) == len(boxes) >= len(got) and len(np.unique(every.track_id)) == len(tracklets)
    for name in ("kept.txt", "whole.txt", "tracklets.txt"):
        df = motmetrics.io.loadtxt(str(folder / name), fmt="mot15-2D")
        assert len(df) == len(read_mot(folder / name))
    assert all(name in proc.stdout for name in ("whole.txt", "kept.txt", "tracklets.txt"))


def test_export_mot_refuses_before_tracking(project, tmp_path):
    proc = grewkit("export", "mot", str(tmp_path / "mot"), "--project", str(project.root))
    assert proc.returncode != 0 and not (tmp_path / "mot").exists()
    assert len(proc.stderr.strip().splitlines()) == 1 and "track" in proc.stderr, proc.stderr


def test_status_counts_tracklets_per_video(tracked):
    proc = grewkit("status", "--project", str(tracked.root), "--json")
    assert proc.returncode == 0, proc.stderr
    (video,) = json.loads(proc.stdout)["tracklets_by_video"]
    tracklets = tracked.read("tracklets").to_pandas()
    assert (video["found"], video["kept"], video["dropped"]) == (
        len(tracklets),
        tracklets.kept.sum(),
        (~tracklets.kept).sum(),
    )
    short = tracklets.filter_reason.fillna("").str.contains("too short").sum()
    assert video["reasons"].get("too short", 0) == short and sum(video["reasons"].values()) >= video["dropped"]
    text = grewkit("status", "--project", str(tracked.root)).stdout
    assert "tracklets per video" in text and video["video_id"] in text


@pytest.mark.parametrize("fps", [0.0, 5000.0])
def test_track_refuses_a_video_with_an_absurd_fps_writing_nothing(tracked, fps):
    import pyarrow as pa

    from grewkit.core import manifests
    from grewkit.core.schemas import conform, get_schema

    videos = tracked.read("videos")
    videos = videos.set_column(videos.column_names.index("fps"), "fps", pa.array([fps] * videos.num_rows, pa.float64()))
    manifests.write_manifest(tracked.manifests_dir, "videos", conform(videos, get_schema("videos")))
    before = manifest_bytes(tracked)
    proc = grewkit("track", "--project", str(tracked.root))
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode != 0 and len(lines) == 1 and "vtest.avi" in lines[0] and "fps" in lines[0], proc.stderr
    assert manifest_bytes(tracked) == before
