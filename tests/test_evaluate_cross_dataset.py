"""Cross-dataset evaluation: train on one project, embed and evaluate another project's test split with the
same checkpoint; the training project's identities never reach the other project's scores."""

import json

import pyarrow as pa
import torch
from click.testing import CliRunner
from split_world import set_split_settings, small_world, world_rows, write_world

from grewkit.cli.main import cli
from grewkit.core.project import Project
from grewkit.split.cli import split_project

TINY = """
[model]
name = "gaitset"
args = { channels = [4, 8, 8], out_channels = 16, bins = [4, 2, 1] }
[data]
frames = 8
p = 4
k = 2
max_test_frames = 20
[train]
iterations = 2
checkpoint_every = 2
log_every = 1
"""


def _other_world(project, rows, *, seed):
    write_world(project, rows, seed=seed)
    set_split_settings(project, "ratios = [6, 1, 3]\n")
    return split_project(project)[0].table


def test_train_on_one_project_evaluate_another(project, tmp_path):
    torch.set_num_threads(1)
    runner = CliRunner()
    small_world(project)
    rows = world_rows(n_multi=9, n_single=2, n_unlabelled=2, seed=1)
    # The other project's identities share no name with the training project's.
    rows = rows.set_column(
        1, "identity_id", pa.array([None if i is None else f"b-{i}" for i in rows.column("identity_id").to_pylist()])
    )
    other = Project.init(tmp_path / "other")
    splits = _other_world(other, rows, seed=1).to_pylist()
    (tmp_path / "tiny.toml").write_text(TINY)
    run = tmp_path / "run"
    r = runner.invoke(
        cli,
        [
            "train",
            "--project",
            str(project.root),
            "--config",
            str(tmp_path / "tiny.toml"),
            "--out",
            str(run),
            "--device",
            "cpu",
            "--quiet",
        ],
    )
    assert r.exit_code == 0, r.output
    labels = json.loads((run / "labels.json").read_text())

    # The run folder stands for its newest checkpoint; --project is the other project.
    feats = tmp_path / "cross"
    r = runner.invoke(
        cli,
        [
            "embed",
            "--project",
            str(other.root),
            "--checkpoint",
            str(run),
            "--split",
            "test",
            "--out",
            str(feats),
            "--quiet",
        ],
    )
    assert r.exit_code == 0, r.output
    index = json.loads((feats / "index.json").read_text())
    test_ids = sorted(s["sequence_id"] for s in splits if s["split"] == "test")
    assert index["sequence_ids"] == test_ids
    assert index["project"] == str(other.root.resolve()) and index["modality"] == "sil64"
    assert index["checkpoint"].endswith("iter-0000002.pt") and index["files_digest"]
    assert not set(json.dumps({k: v for k, v in index.items() if k != "sequence_ids"}).split('"')) & set(labels)

    out = tmp_path / "cross.json"
    r = runner.invoke(
        cli,
        ["evaluate", "--project", str(other.root), "--features", str(feats), "--protocol", "grew", "--out", str(out)],
    )
    assert r.exit_code == 0, r.output
    metrics = json.loads(out.read_text())["metrics"]
    probes = [s for s in splits if s["split"] == "test" and s["role"] == "probe"]
    assert metrics["probes"] == len(probes) and 0 <= metrics["rank1"] <= 100
    # Scored with the other project's identities, none of which the checkpoint was trained on.
    test_identities = {s["identity_id"] for s in splits if s["split"] == "test"}
    assert test_identities and not test_identities & set(labels)

    # Features of one project's files are refused by a project whose sequence ids are the same but whose
    # files are not (same rows, other pixels).
    twin = Project.init(tmp_path / "twin")
    _other_world(twin, rows, seed=7)
    r = runner.invoke(cli, ["evaluate", "--project", str(twin.root), "--features", str(feats)])
    assert r.exit_code != 0 and "extracted from other sil64 files" in r.output and str(other.root.resolve()) in r.output
    r = runner.invoke(
        cli, ["submission", "--project", str(twin.root), "--features", str(feats), "--out", str(tmp_path / "s.csv")]
    )
    assert r.exit_code != 0 and "extracted from other" in r.output
    assert not (tmp_path / "s.csv").exists()

    # An empty folder is no run folder.
    (tmp_path / "empty").mkdir()
    r = runner.invoke(
        cli,
        ["embed", "--project", str(other.root), "--checkpoint", str(tmp_path / "empty"), "--out", str(tmp_path / "f")],
    )
    assert r.exit_code != 0 and "not a run folder" in r.output
