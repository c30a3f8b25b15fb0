"""`grewkit bench train`: the prepared device check runs its whole path on the CPU at a tiny size, and
`--device cuda` without CUDA stops with one line."""

import json

import pytest
import torch
from click.testing import CliRunner

from grewkit.cli.main import cli
from grewkit.train.models import MODELS


def test_cpu_path_at_a_tiny_size():
    r = CliRunner().invoke(
        cli,
        [
            "bench",
            "train",
            "--device",
            "cpu",
            "--size",
            "tiny",
            "--batch",
            "4",
            "--frames",
            "6",
            "--iterations",
            "1",
            "--warmup",
            "0",
            "--threads",
            "1",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert [row["model"] for row in out["models"]] == list(MODELS)
    for row in out["models"]:
        assert row["ok"] and row["device"] == "cpu" and not row["amp"] and row["peak_mem_MiB"] is None
        assert row["it_per_s"] > 0 and row["grads_finite"] and row["emb_rel_gap_fp32"] == 0.0
    r = CliRunner().invoke(
        cli,
        [
            "bench",
            "train",
            "--device",
            "cpu",
            "--size",
            "tiny",
            "--models",
            "gaitset",
            "--batch",
            "4",
            "--frames",
            "6",
            "--iterations",
            "1",
            "--warmup",
            "0",
        ],
    )
    assert r.exit_code == 0 and "emb_rel_gap_fp32" in r.output and "gaitset" in r.output, r.output
    r = CliRunner().invoke(cli, ["bench", "train", "--device", "cpu", "--models", "nosuch"])
    assert r.exit_code != 0 and "unknown model 'nosuch'" in r.output
    r = CliRunner().invoke(
        cli, ["bench", "train", "--device", "cpu", "--size", "tiny", "--models", "gaitset", "--batch", "3"]
    )
    assert r.exit_code != 0 and "--batch must be even" in r.output


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_is_one_line():
    r = CliRunner().invoke(cli, ["bench", "train", "--device", "cuda"])
    assert r.exit_code != 0
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "sees no CUDA device" in lines[0] and "--device cpu" in lines[0]


def test_bench_models_lists_every_registered_model_at_published_widths():
    from grewkit.bench.models import model_costs

    rows = model_costs(frames=2, resolution=64, threads=1, repeats=1, configs="grew")
    assert [r["model"] for r in rows] == list(MODELS)
    params = {r["model"]: r["params_M"] for r in rows}
    assert params["deepgaitv2"] == 13.196 and params["gaitset"] == 6.314 and params["gaitpart"] == 4.841
    assert all(r["GFLOPs_per_sequence"] > 0 for r in rows)
