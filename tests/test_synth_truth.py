"""match_tracklets_to_truth: tracked tracklets (here: GT boxes re-labelled as a tracker would) onto GT identities."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from grewkit.core.project import Project
from grewkit.core.schemas import get_schema
from grewkit.synth.generate import generate
from grewkit.synth.truth import ground_truth, match_tracklets_to_truth
from grewkit.synth.world import SynthConfig


@pytest.fixture(scope="module")
def synth_project(tmp_path_factory):
    project = Project.init(tmp_path_factory.mktemp("truth") / "p")
    generate(
        project,
        SynthConfig(cameras=2, identities=6, seconds=3.0, seed=3, single_camera_fraction=0.0),
        show_progress=False,
    )
    return project


def _as_tracked(project: Project, jitter: float = 2.0):
    """Write GT boxes into the project's own manifests under tracker-style ids, with a few tracker mistakes."""
    gt = ground_truth(project)
    rng = np.random.default_rng(0)
    videos = gt.read("videos")
    # ingest gives its own ids: keep the path, change the id
    new_vid = {v: f"vid{i:02d}" for i, v in enumerate(videos["video_id"].to_pylist())}
    videos = videos.set_column(0, "video_id", pa.array([new_vid[v] for v in videos["video_id"].to_pylist()]))
    project.write("cameras", gt.read("cameras"))
    project.write("videos", videos)
    boxes = gt.read("boxes").join(gt.read("identities", ["tracklet_id", "identity_id"]), "tracklet_id")
    truth = {}
    rows = []
    tracklets = []
    for k, tid in enumerate(sorted(set(boxes["tracklet_id"].to_pylist()))):
        b = boxes.filter(pc.equal(boxes["tracklet_id"], tid)).sort_by("frame").to_pylist()
        ident = b[0]["identity_id"]
        if k == 0 and len(b) >= 20:
            # a tracker that broke this track in two: both halves belong to the same identity
            parts = [(f"T{k}a", b[: len(b) // 2]), (f"T{k}b", b[len(b) // 2 :])]
        else:
            parts = [(f"T{k}", b)]
        for name, bs in parts:
            truth[name] = ident
            for r in bs:
                d = rng.uniform(-jitter, jitter, 4)
                rows.append(
                    {
                        **r,
                        "tracklet_id": name,
                        "video_id": new_vid[r["video_id"]],
                        "x1": r["x1"] + d[0],
                        "y1": r["y1"] + d[1],
                        "x2": r["x2"] + d[2],
                        "y2": r["y2"] + d[3],
                    }
                )
            tracklets.append(_tracklet(name, new_vid[bs[0]["video_id"]], bs[0]["camera_id"], [r["frame"] for r in bs]))
    # a false track (a car, say) that overlaps nobody
    vid0, cam0 = videos["video_id"][0].as_py(), videos["camera_id"][0].as_py()
    for f in range(10):
        rows.append(
            {
                "tracklet_id": "Tghost",
                "video_id": vid0,
                "camera_id": cam0,
                "frame": f,
                "x1": 0.0,
                "y1": 0.0,
                "x2": 12.0,
                "y2": 12.0,
                "score": 0.4,
                "visibility": None,
                "identity_id": None,
            }
        )
    tracklets.append(_tracklet("Tghost", vid0, cam0, list(range(10))))
    truth["Tghost"] = None
    table = pa.Table.from_pylist(rows).drop_columns(["identity_id"])
    project.write("boxes", table)
    project.write("tracklets", pa.Table.from_pylist(tracklets, schema=get_schema("tracklets").arrow))
    return truth


def _tracklet(tid, vid, cam, frames):
    return {
        "tracklet_id": tid,
        "video_id": vid,
        "camera_id": cam,
        "track_id": 1,
        "start_frame": min(frames),
        "end_frame": max(frames),
        "n_frames": len(frames),
        "mean_box_height": 100.0,
        "mean_score": 0.9,
        "kept": True,
        "filter_reason": None,
    }


def test_tracked_tracklets_map_to_their_identity(synth_project):
    truth = _as_tracked(synth_project)
    got = match_tracklets_to_truth(synth_project)
    assert got.column_names == ["tracklet_id", "identity_id", "overlap"]
    result = {r["tracklet_id"]: r for r in got.to_pylist()}
    assert set(result) == set(truth)
    for tid, ident in truth.items():
        assert result[tid]["identity_id"] == ident, tid
    assert result["Tghost"]["overlap"] == 0.0
    # nearly every real track overlaps its person on most frames (occluded frames may fail IoU)
    real = [r["overlap"] for t, r in result.items() if t != "Tghost"]
    assert np.median(real) > 0.95
    assert "T0a" in result and result["T0a"]["identity_id"] == result["T0b"]["identity_id"] is not None


def test_path_joins_even_when_the_project_moved_its_path_style(synth_project):
    # absolute paths in the tracked videos manifest still join with the relative GT paths
    videos = synth_project.read("videos")
    absolute = [str(synth_project.resolve(p).resolve()) for p in videos["path"].to_pylist()]
    synth_project.write("videos", videos.set_column(2, "path", pa.array(absolute)))
    got = match_tracklets_to_truth(synth_project)
    assert got.filter(pc.is_valid(got["identity_id"])).num_rows >= got.num_rows - 1


def test_no_tracking_yet_gives_an_empty_table(tmp_path):
    project = Project.init(tmp_path / "q")
    generate(project, SynthConfig(cameras=1, identities=1, seconds=0.4, width=160, height=120), show_progress=False)
    got = match_tracklets_to_truth(project)
    assert got.num_rows == 0 and got.column_names == ["tracklet_id", "identity_id", "overlap"]


def test_clear_errors_for_missing_ground_truth_and_unknown_camera(synth_project, tmp_path):
    from grewkit.core.errors import GrewkitError
    from grewkit.synth.truth import render_mask

    with pytest.raises(GrewkitError, match="grewkit synth"):
        ground_truth(Project.init(tmp_path / "empty"))
    with pytest.raises(GrewkitError, match="unknown synthetic camera"):
        render_mask(synth_project, "gate-9", 0, "synth-id0000")
    with pytest.raises(GrewkitError, match="outside the video"):
        render_mask(synth_project, "synth-cam01", 10_000, "synth-id0000")
    assert not render_mask(synth_project, "synth-cam01", 0, "nobody").any()
