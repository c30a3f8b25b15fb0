"""The render stage end to end on real footage (TUD-Campus as an MJPG video, ground-truth tracks)."""

import numpy as np
import pytest
from click.testing import CliRunner

from grewkit.bench.tud_project import tud_project
from grewkit.cli.main import cli
from grewkit.core.arrays import load_array
from grewkit.core.executors import SerialExecutor
from grewkit.core.hashing import sha256_file
from grewkit.core.project import Project
from grewkit.core.runner import run_stage, stage_status
from grewkit.core.validate import validate_project


def _manifest_bytes(project):
    return (project.root / "manifests" / "sequences.parquet").read_bytes()


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, request):
    from conftest import SHARED_DATA

    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is absent")
    project = Project.init(tmp_path_factory.mktemp("render") / "proj")
    gt = tud_project(project, SHARED_DATA, ids=(3,), black_ids=(4,))
    summary = run_stage(project, "render", executor=SerialExecutor(), show_progress=False)
    return project, gt, summary


def test_renders_every_modality_of_a_kept_tracklet(rendered):
    project, gt, summary = rendered
    assert summary.done == 1
    seqs = {r["modality"]: r for r in project.read("sequences").to_pylist()}
    assert sorted(seqs) == sorted(
        ["frames", "sil64", "sil64_frames", "sil128", "sil128_frames", "gei64", "gei128", "flow", "pose2d", "pose3d"]
    )
    assert {r["sequence_id"] for r in seqs.values()} == {"tud-3"}
    arrays = {}
    for modality, row in seqs.items():
        path = project.resolve(row["path"])
        assert sha256_file(path) == row["sha256"]
        arrays[modality] = load_array(path)
        assert arrays[modality].shape[0] == row["frames"] or modality.startswith("gei")
    rows = gt[gt[:, 1] == 3]
    frames = arrays["frames"]
    assert np.array_equal(frames, rows[:, 0].astype(np.int64) - 1)
    for r in (64, 128):
        sil = arrays[f"sil{r}"]
        assert sil.dtype == np.uint8 and sil.shape[1:] == (r, r)
        assert len(sil) >= 0.8 * len(frames), "most crops of a clearly visible walker give a silhouette"
        assert np.isin(arrays[f"sil{r}_frames"], frames).all()
        # A walker seen side-on fills the middle of the normalised frame: the top row is the head.
        assert sil[:, 0, :].max() > 0 and (sil > 127).mean() > 0.1
        assert arrays[f"gei{r}"].shape == (r, r) and seqs[f"gei{r}"]["frames"] == 1
    flow = arrays["flow"]
    assert flow.dtype == np.int8 and flow.shape == (len(frames) - 1, 64, 32, 2)
    assert np.abs(flow).mean() > 0.5, "a walker's limbs move"
    pose2d, pose3d = arrays["pose2d"], arrays["pose3d"]
    assert pose2d.shape == (len(frames), 17, 3) and pose3d.shape == (len(frames), 33, 4)
    # 2D keypoints are in original image pixels: inside the person's (slightly grown) box.
    boxes = np.c_[rows[:, 2], rows[:, 3], rows[:, 2] + rows[:, 4], rows[:, 3] + rows[:, 5]]
    conf = pose2d[:, :, 2] > 0.5
    pad = 0.15 * (boxes[:, 3] - boxes[:, 1])[:, None]
    inside = (
        (pose2d[:, :, 0] >= boxes[:, [0]] - pad)
        & (pose2d[:, :, 0] <= boxes[:, [2]] + pad)
        & (pose2d[:, :, 1] >= boxes[:, [1]] - pad)
        & (pose2d[:, :, 1] <= boxes[:, [3]] + pad)
    )
    assert conf.mean() > 0.5 and inside[conf].mean() > 0.95
    # 3D joints are metric: hip to ankle of an adult is roughly 0.7-1.0 m.
    ok = pose3d[:, 23, 3] > 0.5
    leg = np.linalg.norm(pose3d[ok, 23, :3] - pose3d[ok, 27, :3], axis=1)
    assert 0.5 < np.median(leg) < 1.2


def test_black_crops_are_a_named_failure_without_files(rendered):
    project, _, summary = rendered
    ((key, reason),) = summary.failed.items()
    assert key.startswith("black-4") and "tracklet black-4" in reason and "0 of 71 crops" in reason
    assert not (project.root / "renders" / "cam0" / "black-4").exists()
    assert "black-4" not in project.read("sequences").column("sequence_id").to_pylist()
    assert stage_status(project, "render")["failed"] == {key: reason}


def test_rerun_is_idempotent_and_manifests_validate(rendered):
    project, _, _ = rendered
    before = _manifest_bytes(project)
    again = run_stage(project, "render", executor=SerialExecutor(), retry_failed=False, show_progress=False)
    assert (again.done, again.skipped) == (0, 1) and len(again.failed) == 1
    assert _manifest_bytes(project) == before
    assert validate_project(project) == []


def test_command_with_modalities_and_mog2(tmp_path, shared_data):
    project = Project.init(tmp_path / "proj")
    tud_project(project, shared_data, ids=(3,))
    result = CliRunner().invoke(
        cli,
        [
            "render",
            "--project",
            str(project.root),
            "--modalities",
            "sil,gei",
            "--segmenter",
            "mog2",
            "--executor",
            "serial",
            "--quiet",
            "--strict",
        ],
    )
    assert result.exit_code == 0, result.output
    seqs = project.read("sequences").to_pylist()
    assert sorted(r["modality"] for r in seqs) == [
        "frames",
        "gei128",
        "gei64",
        "sil128",
        "sil128_frames",
        "sil64",
        "sil64_frames",
    ]
    sil = load_array(project.resolve(next(r["path"] for r in seqs if r["modality"] == "sil64")))
    assert len(sil) > 30 and sil.shape[1:] == (64, 64)
    bad = CliRunner().invoke(cli, ["render", "--project", str(project.root), "--modalities", "sil,depth"])
    assert bad.exit_code != 0 and "depth" in bad.output


def test_missing_inputs_are_named(project):
    result = CliRunner().invoke(cli, ["render", "--project", str(project.root), "--quiet"])
    assert result.exit_code != 0
    assert "no videos manifest" in result.output and "grewkit track" in result.output
