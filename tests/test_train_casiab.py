"""A tiny CPU training run on real CASIA-B silhouettes: it must beat the untrained network and chance;
checkpoints resume to the same weights as an uninterrupted run; embed -> evaluate via the CLI."""

import json

import pytest
import torch
from casiab_fixture import build_casiab_project
from click.testing import CliRunner
from conftest import SHARED_DATA

from grewkit.cli.main import cli
from grewkit.evaluate.features import load_features
from grewkit.evaluate.metrics import Conventions
from grewkit.evaluate.protocols import Catalog, Options, run_protocol
from grewkit.train.config import TrainConfig
from grewkit.train.data import records_from_project
from grewkit.train.embed import ModelEmbedder, embed_records
from grewkit.train.loop import make_model, train

TINY = {
    "model": {"name": "gaitset", "args": {"channels": [8, 16, 16], "out_channels": 32}},
    "data": {"frames": 10, "p": 6, "k": 2, "max_test_frames": 40},
    "optim": {"name": "adam", "lr": 3e-3},
    "train": {"iterations": 24, "checkpoint_every": 8, "log_every": 8},
}


@pytest.fixture(scope="module")
def casiab(tmp_path_factory):
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is absent (real test data lives in ../shared/data beside the checkout)")
    return build_casiab_project(tmp_path_factory.mktemp("casiab"), SHARED_DATA)


def _score(project, embedder, folder):
    embed_records(
        embedder, records_from_project(project, splits=("test",), modality="sil64"), folder, show_progress=False
    )
    res = run_protocol(
        "casiab",
        Catalog.from_project(project),
        load_features(folder),
        Conventions(distance="euclidean_parts"),
        Options(include_identical_view=True),
    )
    return res["metrics"]


@pytest.mark.slow
def test_tiny_training_beats_untrained_and_chance(casiab, tmp_path):
    torch.set_num_threads(2)
    cfg = TrainConfig.from_dict(TINY)
    records = records_from_project(casiab, splits=("train",), modality="sil64")
    torch.manual_seed(cfg.train.seed)
    untrained = _score(casiab, ModelEmbedder(make_model(cfg, 10), cfg), tmp_path / "f0")
    result = train(cfg, records, tmp_path / "run", device="cpu", show_progress=False)
    assert result.iterations == 24 and result.device == "cpu" and not result.amp
    ckpt = sorted((tmp_path / "run" / "checkpoints").glob("iter-*.pt"))
    assert [p.name for p in ckpt] == ["iter-0000016.pt", "iter-0000024.pt"]
    trained = _score(casiab, ModelEmbedder.from_checkpoint(ckpt[-1]), tmp_path / "f1")
    hard_before = untrained["BG_rank1"] + untrained["CL_rank1"]
    hard_after = trained["BG_rank1"] + trained["CL_rank1"]
    print("untrained", untrained, "trained", trained)
    assert hard_after > hard_before
    assert min(trained.values()) > 10.0  # chance: 1 of 10 test subjects
    # The same weights written as OpenGait's save_ckpt writes them and read back through the OpenGait path.
    from grewkit.train.opengait import save_opengait_checkpoint

    og = save_opengait_checkpoint(ckpt[-1], tmp_path / "og" / "GaitSet-00024.pt")
    saved = torch.load(og, weights_only=True)
    assert set(saved) == {"model", "optimizer", "scheduler", "iteration"} and saved["iteration"] == 24
    assert "Head.fc_bin" in saved["model"]
    # The OpenGait path brings no [data] settings: give it the run's (TINY caps test clips at 40 frames).
    from grewkit.train.opengait import model_from_opengait

    net, _, _ = model_from_opengait(og, "gaitset")
    via_opengait = _score(casiab, ModelEmbedder(net, ModelEmbedder.from_checkpoint(ckpt[-1]).cfg), tmp_path / "f2")
    assert via_opengait == trained
    assert (load_features(tmp_path / "f2").array == load_features(tmp_path / "f1").array).all()


def test_resume_gives_the_same_weights(casiab, tmp_path):
    raw = {
        "model": {"name": "geinet", "args": {"hidden": 16}},
        "data": {"frames": 4, "p": 3, "k": 2},
        "loss": {"ce_weight": 1.0},
        "train": {"iterations": 6, "checkpoint_every": 2, "log_every": 2},
    }
    cfg = TrainConfig.from_dict(raw)
    records = records_from_project(casiab, splits=("train",), modality="sil64")
    train(cfg, records, tmp_path / "straight", device="cpu", show_progress=False)
    first = train(cfg, records, tmp_path / "resumed", device="cpu", iterations=4, show_progress=False)
    second = train(cfg, records, tmp_path / "resumed", device="cpu", show_progress=False)
    assert first.resumed_from == 0 and second.resumed_from == 4
    a = torch.load(tmp_path / "straight/checkpoints/iter-0000006.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "resumed/checkpoints/iter-0000006.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    log = [json.loads(line) for line in (tmp_path / "resumed/log.jsonl").read_text().splitlines()]
    assert [e["iteration"] for e in log] == [2, 4, 6]


def test_cli_gei_baseline_reproduces_known_figure(casiab, tmp_path):
    """GEI + Euclidean NN, gallery nm-01..04: NM near or above 95 %, BG and CL far lower (README of the data)."""
    runner = CliRunner()
    feats = tmp_path / "gei"
    r = runner.invoke(
        cli,
        ["embed", "--project", str(casiab.root), "--model", "gei", "--split", "all", "--out", str(feats), "--quiet"],
    )
    assert r.exit_code == 0, r.output
    out = tmp_path / "res.json"
    r = runner.invoke(
        cli,
        [
            "evaluate",
            "--project",
            str(casiab.root),
            "--features",
            str(feats),
            "--protocol",
            "casiab",
            "--include-identical-view",
            "--out",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    m = json.loads(out.read_text())["metrics"]
    assert m["NM_rank1"] >= 95.0
    assert m["BG_rank1"] < 60.0 and m["CL_rank1"] < 60.0
    # Single-view data cannot exclude the identical view: a clear error, not an empty mean.
    r = runner.invoke(
        cli, ["evaluate", "--project", str(casiab.root), "--features", str(feats), "--protocol", "casiab"]
    )
    assert r.exit_code != 0 and "only one view" in r.output


def test_cli_train_and_embed_errors(casiab, tmp_path):
    runner = CliRunner()
    r = runner.invoke(
        cli, ["train", "--project", str(casiab.root), "--config", "nonexistent", "--out", str(tmp_path / "r")]
    )
    assert r.exit_code != 0 and "no such config" in r.output
    r = runner.invoke(cli, ["embed", "--project", str(casiab.root), "--out", str(tmp_path / "f")])
    assert r.exit_code != 0 and "--checkpoint" in r.output
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    r = runner.invoke(
        cli, ["embed", "--project", str(casiab.root), "--checkpoint", str(bad), "--out", str(tmp_path / "f")]
    )
    assert r.exit_code != 0 and "bad.pt" in r.output


def test_cli_train_embed_evaluate(casiab, tmp_path):
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(
        '[model]\nname = "gaitpart"\nargs = { channels = [4, 8, 8], out_channels = 8 }\n'
        "[data]\nframes = 6\nordered = true\np = 3\nk = 2\nmax_test_frames = 20\n"
        "[train]\niterations = 2\ncheckpoint_every = 1\nlog_every = 1\n"
    )
    runner = CliRunner()
    root = str(casiab.root)
    r = runner.invoke(
        cli,
        [
            "train",
            "--project",
            root,
            "--config",
            str(cfg),
            "--out",
            str(tmp_path / "run"),
            "--device",
            "cpu",
            "--quiet",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "iteration 2 (resumed from 0) on cpu" in r.output
    r = runner.invoke(
        cli,
        [
            "train",
            "--project",
            root,
            "--config",
            str(cfg),
            "--out",
            str(tmp_path / "run"),
            "--iterations",
            "3",
            "--device",
            "cpu",
            "--quiet",
        ],
    )
    assert r.exit_code == 0 and "iteration 3 (resumed from 2)" in r.output, r.output
    ckpt = tmp_path / "run" / "checkpoints" / "iter-0000003.pt"
    r = runner.invoke(
        cli,
        [
            "embed",
            "--project",
            root,
            "--checkpoint",
            str(ckpt),
            "--split",
            "test",
            "--out",
            str(tmp_path / "f"),
            "--quiet",
        ],
    )
    assert r.exit_code == 0, r.output
    feats = load_features(tmp_path / "f")
    assert feats.array.shape == (100, 16, 8) and feats.meta["model"] == "gaitpart" and feats.meta["iteration"] == 3
    r = runner.invoke(
        cli,
        [
            "evaluate",
            "--project",
            root,
            "--features",
            str(tmp_path / "f"),
            "--protocol",
            "casiab",
            "--include-identical-view",
            "--distance",
            "euclidean_parts",
        ],
    )
    assert r.exit_code == 0 and "CASIA-B" in r.output, r.output
