"""`grewkit synth` end to end on a small world: videos, cameras.csv, ground truth, validation, masks."""

from __future__ import annotations

import csv
import hashlib

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from click.testing import CliRunner
from helpers import grewkit

from grewkit.cli.main import cli
from grewkit.core.project import Project
from grewkit.core.validate import validate_project
from grewkit.synth.generate import generate
from grewkit.synth.truth import GroundTruth, ground_truth, render_mask
from grewkit.synth.world import SynthConfig

SMALL = dict(cameras=3, identities=8, seconds=3.0, seed=5, single_camera_fraction=0.25)


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth") / "proj"
    result = CliRunner().invoke(
        cli,
        [
            "synth",
            str(root),
            "--cameras",
            "3",
            "--identities",
            "8",
            "--seconds",
            "3",
            "--seed",
            "5",
            "--single-camera-fraction",
            "0.25",
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    return Project.open(root)


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_layout_and_cameras_registered(made):
    media = made.root / "media" / "synth"
    assert sorted(p.name for p in media.glob("*.avi")) == ["synth-cam01.avi", "synth-cam02.avi", "synth-cam03.avi"]
    cams = made.read("cameras")
    assert sorted(cams["camera_id"].to_pylist()) == ["synth-cam01", "synth-cam02", "synth-cam03"]
    assert (made.root / "ground_truth").is_dir()
    with open(media / "cameras.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["file"] for r in rows] == ["synth-cam01.avi", "synth-cam02.avi", "synth-cam03.avi"]
    for col in ("camera_id", "start_time", "fx", "fy", "cx", "cy", "height_m", "yaw_deg", "pitch_deg", "view"):
        assert all(r[col] for r in rows), col


def test_ground_truth_validates(made):
    assert validate_project(made) == []  # includes ground_truth/manifests via the synth check
    assert validate_project(GroundTruth(made.root)) == []


def test_videos_decode_to_the_declared_frame_count(made):
    gt = ground_truth(made)
    videos = gt.read("videos")
    assert videos.num_rows == 3
    for row in videos.to_pylist():
        cap = cv2.VideoCapture(str(made.resolve(row["path"])))
        n = 0
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            assert frame.shape == (row["height"], row["width"], 3)
            n += 1
        cap.release()
        assert n == row["frame_count"] == 75
        assert row["sha256"] == _sha(made.resolve(row["path"]))


def test_boxes_inside_frames_and_visibility_in_range(made):
    gt = ground_truth(made)
    boxes = gt.read("boxes")
    assert boxes.num_rows > 100
    x1, y1, x2, y2 = (boxes[c].to_numpy() for c in ("x1", "y1", "x2", "y2"))
    assert (x1 >= 0).all() and (y1 >= 0).all() and (x2 <= 640).all() and (y2 <= 480).all()
    assert (x2 > x1).all() and (y2 > y1).all()
    vis = boxes["visibility"].to_numpy()
    assert ((vis >= 0) & (vis <= 1)).all()
    assert (vis < 0.999).any() and (vis > 0.999).any()  # some people are occluded or cut by the frame edge
    tracklets = gt.read("tracklets")
    per = pc.value_counts(boxes["tracklet_id"])
    counts = dict(zip(per.field("values").to_pylist(), per.field("counts").to_pylist()))
    for t in tracklets.to_pylist():
        assert t["kept"] and counts[t["tracklet_id"]] == t["n_frames"]


def test_identities_attributes_and_cross_camera_rule(made):
    gt = ground_truth(made)
    ids = gt.read("identities").join(gt.read("tracklets", ["tracklet_id", "camera_id"]), "tracklet_id")
    assert set(ids["source"].to_pylist()) == {"ground_truth"}
    cams = {}
    for row in ids.to_pylist():
        cams.setdefault(row["identity_id"], set()).add(row["camera_id"])
    assert len(cams) == 8
    single = [i for i, c in cams.items() if len(c) == 1]
    assert len(single) == 2  # 25 % of 8 are future distractors
    assert sum(len(c) >= 2 for c in cams.values()) == 6  # everyone else is seen by >= 2 cameras
    attrs = gt.read("attributes")
    assert set(attrs["level"].to_pylist()) == {"identity"} and set(attrs["source"].to_pylist()) == {"ground_truth"}
    assert set(attrs["attribute"].to_pylist()) == {"gender", "age_group", "carrying", "upper", "lower"}
    ages = set(attrs.filter(pc.equal(attrs["attribute"], "age_group"))["value"].to_pylist())
    assert ages == {"child", "16-30", "31-45", "46-60", "elder"}


def test_keypoints_lie_in_their_box(made):
    gt = ground_truth(made)
    poses = gt.read("gt_poses").sort_by([("tracklet_id", "ascending"), ("frame", "ascending")])
    boxes = gt.read("boxes").sort_by([("tracklet_id", "ascending"), ("frame", "ascending")])
    assert poses.select(["tracklet_id", "frame"]).equals(boxes.select(["tracklet_id", "frame"]))  # one pose per box
    kx = np.array(poses["kp_x"].to_pylist())
    ky = np.array(poses["kp_y"].to_pylist())
    kv = np.array(poses["kp_visibility"].to_pylist())
    assert kx.shape[1] == 17 and set(np.unique(kv)) <= {0, 1, 2} and (kv == 2).mean() > 0.5
    assert (kv == 1).any() and (kv == 0).any()  # some joints hidden by nearer objects, some outside the frame
    b = {c: boxes[c].to_numpy()[:, None] for c in ("x1", "y1", "x2", "y2")}
    tol = 2 + 0.03 * (b["y2"] - b["y1"])
    inside = (kx >= b["x1"] - tol) & (kx <= b["x2"] + tol) & (ky >= b["y1"] - tol) & (ky <= b["y2"] + tol)
    assert inside[kv > 0].all()
    z = np.array(poses["joint_z_m"].to_pylist())
    assert (z[:, 0] > 0.9).all() and (z[:, 15:].min(axis=1) < 0.15).all() and (z[:, 15:] < 0.5).all()  # one foot down


def test_boxes_match_rendered_masks(made):
    gt = ground_truth(made)
    boxes = gt.read("boxes").join(gt.read("identities", ["tracklet_id", "identity_id"]), "tracklet_id")
    rows = boxes.to_pylist()[:: max(1, len(boxes) // 6)][:6]
    for r in rows:
        whole = render_mask(made, r["camera_id"], r["frame"], r["identity_id"], visible=False)
        ys, xs = np.nonzero(whole)
        assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == (r["x1"], r["y1"], r["x2"], r["y2"])
        seen = render_mask(made, r["camera_id"], r["frame"], r["identity_id"])
        assert not (seen & ~whole).any()
        # visibility counts the body outside the frame too, so it is at most the in-frame share
        assert seen.sum() / whole.sum() >= r["visibility"] - 1e-4


def _digests(root):
    files = sorted((root / "media" / "synth").glob("*.avi")) + sorted(
        (root / "ground_truth" / "manifests").rglob("*.parquet")
    )
    return [(f.relative_to(root).as_posix(), _sha(f)) for f in files]


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    import os

    config = SynthConfig(cameras=2, identities=4, seconds=1.0, seed=11, width=320, height=240)
    project = Project.init(tmp_path / "a")
    generate(project, config, show_progress=False)
    # Another process with another string-hash seed, through the command line.
    env = {**os.environ, "PYTHONHASHSEED": "123"}
    made = grewkit(
        "synth",
        tmp_path / "b",
        "--cameras",
        "2",
        "--identities",
        "4",
        "--seconds",
        "1",
        "--seed",
        "11",
        "--width",
        "320",
        "--height",
        "240",
        "--workers",
        "1",
        "--quiet",
        env=env,
    )
    assert made.returncode == 0, made.stderr
    first = _digests(project.root)
    assert len(first) > 10 and first == _digests(tmp_path / "b")
    other = Project.init(tmp_path / "c")
    generate(other, SynthConfig(**{**config.to_dict(), "seed": 12}), show_progress=False)
    assert _sha(other.root / "media/synth/synth-cam01.avi") != dict(first)["media/synth/synth-cam01.avi"]


def test_rerun_into_an_existing_project_keeps_other_cameras_and_removes_stale_files(tmp_path):
    project = Project.init(tmp_path / "p")
    project.write("cameras", _camera_row("gate-1"))
    generate(
        project,
        SynthConfig(cameras=2, identities=2, seconds=1.0, width=160, height=120, segment_seconds=0.6),
        show_progress=False,
    )
    media = project.root / "media" / "synth"
    assert sorted(p.name for p in media.glob("*.avi")) == [
        "synth-cam01-000.avi",
        "synth-cam01-001.avi",
        "synth-cam02-000.avi",
        "synth-cam02-001.avi",
    ]
    generate(project, SynthConfig(cameras=1, identities=2, seconds=1.0, width=160, height=120), show_progress=False)
    assert sorted(p.name for p in media.glob("*.avi")) == ["synth-cam01.avi"]
    assert sorted(project.read("cameras")["camera_id"].to_pylist()) == ["gate-1", "synth-cam01", "synth-cam02"]
    assert validate_project(project) == []


def _camera_row(camera_id):
    from grewkit.core.schemas import get_schema

    schema = get_schema("cameras").arrow
    row = {f.name: None for f in schema}
    row["camera_id"] = camera_id
    return pa.Table.from_pylist([row], schema=schema)


def test_bad_flag_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(cli, ["synth", str(tmp_path / "x"), "--single-camera-fraction", "2"])
    assert result.exit_code != 0 and "single_camera_fraction" in result.output


def test_masks_flag_writes_each_tracklets_true_silhouettes(tmp_path):
    from grewkit.core.arrays import load_array

    project = Project.init(tmp_path / "m")
    generate(
        project,
        SynthConfig(cameras=1, identities=3, seconds=1.0, width=320, height=240, seed=2, single_camera_fraction=1.0),
        masks=True,
        show_progress=False,
    )
    gt = ground_truth(project)
    tracklets = gt.read("tracklets").to_pylist()
    boxes = gt.read("boxes").join(gt.read("identities", ["tracklet_id", "identity_id"]), "tracklet_id")
    assert tracklets
    for t in tracklets:
        arr = load_array(project.root / "ground_truth" / "masks" / f"{t['tracklet_id']}.npy")
        rows = boxes.filter(pc.equal(boxes["tracklet_id"], t["tracklet_id"])).sort_by("frame").to_pylist()
        assert arr.dtype == bool and arr.shape[0] == t["n_frames"] == len(rows)
        for k in (0, len(rows) // 2):
            r = rows[k]
            x1, y1, x2, y2 = (int(r[c]) for c in ("x1", "y1", "x2", "y2"))
            want = render_mask(project, r["camera_id"], r["frame"], r["identity_id"])[y1:y2, x1:x2]
            assert np.array_equal(arr[k, : y2 - y1, : x2 - x1], want)
            assert abs(want.sum() / max(1, arr[k].sum()) - 1) < 1e-9


def test_parallel_cameras_give_the_same_bytes(tmp_path):
    config = SynthConfig(cameras=2, identities=3, seconds=0.4, seed=4, width=160, height=120)
    shas = []
    for name, workers in (("serial", 1), ("pool", 2)):
        project = Project.init(tmp_path / name)
        generate(project, config, workers=workers, show_progress=False)
        shas.append(_digests(project.root))
    assert shas[0] == shas[1]
