"""Pose-based models: the pose normalisation, GaitGraph trained on pose sequences of the synthetic world's
walkers (loss falls, deterministic embeddings), and train / embed / evaluate on the pose2d modality."""

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from pose_inputs import walker_poses
from split_world import small_world

from grewkit.cli.main import cli
from grewkit.core.errors import GrewkitError
from grewkit.train.config import TrainConfig
from grewkit.train.data import SequenceRecord, normalise_pose
from grewkit.train.embed import ModelEmbedder
from grewkit.train.loop import train

TINY = """
[model]
name = "gaitgraph"
args = { inputs = "%s", input_branch = [%d, 16, 16], main_stream = [16, 32, 32], num_out = 32, reduction = 4 }
[data]
modality = "pose2d"
frames = 20
ordered = true
p = 6
k = 4
[optim]
name = "adam"
lr = 0.003
[train]
iterations = %d
checkpoint_every = %d
log_every = 5
seed = 3
"""


def test_normalise_pose_centres_scales_and_blanks_missing_joints():
    (_, _, pose), *_ = walker_poses(1, 1, frames=12)
    out = normalise_pose(pose)
    assert out.shape == (12, 17, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out[:, [11, 12], :2].mean(1), 0.0, atol=1e-5)  # hip centre at the origin
    # The same walk nearer the camera and elsewhere in the image gives the same numbers.
    moved = pose.copy()
    moved[..., :2] = moved[..., :2] * 2.5 + np.array([300.0, -120.0], np.float32)
    np.testing.assert_allclose(normalise_pose(moved), out, atol=1e-5)
    # In body heights: shoulders to ankles is about 1 (the median over frames is exactly 1).
    height = np.linalg.norm(out[:, [5, 6], :2].mean(1) - out[:, [15, 16], :2].mean(1), axis=-1)
    assert np.median(height) == pytest.approx(1.0, abs=1e-5)
    holes = pose.copy()
    holes[3, 9] = np.nan  # a wrist the estimator did not find
    holes[4, 11, 2] = 0.0  # a hip of confidence 0: its frame's centre comes from the neighbours
    got = normalise_pose(holes)
    assert (got[3, 9] == 0).all() and (got[4, 11] == 0).all()
    assert np.isfinite(got).all()
    empty = np.full((5, 17, 3), np.nan, np.float32)
    with pytest.raises(GrewkitError, match="no keypoint in any frame") as err:
        normalise_pose(empty, path="renders/x/pose2d.npy")
    assert "renders/x/pose2d.npy" in str(err.value)
    with pytest.raises(GrewkitError, match="COCO-17"):
        normalise_pose(np.zeros((5, 64, 44), np.float32))


def _records(tmp_path, poses):
    recs = []
    for ident, walk, pose in poses:
        path = tmp_path / "poses" / f"{ident}-{walk}.npy"
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, pose)
        recs.append(SequenceRecord(f"{ident}-{walk}", path, ident))
    return recs


@pytest.mark.parametrize("inputs", ["joints", "multi"])
def test_gaitgraph_trains_on_walker_poses(tmp_path, inputs):
    torch.set_num_threads(1)
    records = _records(tmp_path, walker_poses(8, 4, frames=40, seed=1))
    text = tmp_path / "tiny.toml"
    text.write_text(TINY % (inputs, 3 if inputs == "joints" else 5, 30, 30))
    cfg = TrainConfig.load(text)
    res = train(cfg, records, tmp_path / "run", device="cpu", show_progress=False)
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert res.iterations == 30 and len(log) == 6
    # The loss over all triplets (the logged loss is the mean over the violating ones): the batches'
    # triplets are violated less and less as the embedding separates the walkers.
    overall = [e["loss"] * e["triplet_active"] for e in log]
    assert np.mean(overall[-2:]) < 0.4 * np.mean(overall[:2]), overall

    emb = ModelEmbedder.from_checkpoint(tmp_path / "run")
    assert emb.input_kind == "pose" and emb.cfg.data.modality == "pose2d"
    pose = normalise_pose(walker_poses(1, 1, frames=55, seed=9)[0][2])
    a = emb.embed(pose)
    # OpenGait's test-time views: GaitGraph averages two, GaitGraph2 concatenates three.
    assert a.shape == ((1, 32) if inputs == "joints" else (1, 96)) and np.isfinite(a).all()
    np.testing.assert_array_equal(emb.embed(pose), a)  # eval mode: no dropout, no batch statistics
    if inputs == "joints":
        # GaitGraph L2-normalises each view; its test-time embedding is the mean of the two unit vectors.
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(pose)).unsqueeze(0)
            views = [emb.model._embed(emb.model._streams(v)) for v in (x, x.flip(1))]
        np.testing.assert_allclose([float(v.norm()) for v in views], 1.0, atol=1e-5)
        np.testing.assert_allclose(a, ((views[0] + views[1]) / 2).numpy(), atol=1e-6)

    if inputs == "multi":
        return
    # The same seed trains the same model: the same losses, the same embedding.
    train(cfg, records, tmp_path / "again", device="cpu", show_progress=False)
    again = [json.loads(line)["loss"] for line in (tmp_path / "again" / "log.jsonl").read_text().splitlines()]
    assert again == [e["loss"] for e in log]
    np.testing.assert_allclose(ModelEmbedder.from_checkpoint(tmp_path / "again").embed(pose), a, atol=1e-6)


def test_train_embed_evaluate_on_pose2d(project, tmp_path):
    torch.set_num_threads(1)
    runner = CliRunner()
    splits = small_world(project, modalities=("pose2d",)).to_pylist()
    (tmp_path / "tiny.toml").write_text(TINY % ("joints", 3, 4, 4))
    run = tmp_path / "run"
    args = ["--project", str(project.root)]
    r = runner.invoke(
        cli, ["train", *args, "--config", str(tmp_path / "tiny.toml"), "--out", str(run), "--device", "cpu", "--quiet"]
    )
    assert r.exit_code == 0, r.output
    feats = tmp_path / "feats"
    r = runner.invoke(cli, ["embed", *args, "--checkpoint", str(run), "--out", str(feats), "--threads", "1", "--quiet"])
    assert r.exit_code == 0, r.output
    index = json.loads((feats / "index.json").read_text())
    assert index["modality"] == "pose2d" and index["model"] == "gaitgraph"
    wanted = sorted(s["sequence_id"] for s in splits if s["split"] in ("test", "distractor"))
    assert index["sequence_ids"] == wanted
    out = tmp_path / "metrics.json"
    r = runner.invoke(cli, ["evaluate", *args, "--features", str(feats), "--protocol", "grew", "--out", str(out)])
    assert r.exit_code == 0, r.output
    metrics = json.loads(out.read_text())["metrics"]
    assert metrics["probes"] > 0 and 0 <= metrics["rank1"] <= 100

    # A pose model on silhouettes: one line naming the file and what was expected, nothing written.
    sil = tmp_path / "sil.toml"
    sil.write_text((TINY % ("joints", 3, 4, 4)).replace('modality = "pose2d"', 'modality = "sil64"'))
    small_world(project, modalities=("sil64",))
    r = runner.invoke(
        cli, ["train", *args, "--config", str(sil), "--out", str(tmp_path / "bad"), "--device", "cpu", "--quiet"]
    )
    assert r.exit_code != 0 and "COCO-17" in r.output and ".npy" in r.output
    assert not list((tmp_path / "bad").glob("checkpoints/*.pt"))
