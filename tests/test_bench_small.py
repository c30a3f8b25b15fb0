"""``grewkit bench decode``, ``split`` and ``detect-synth`` run for real at tiny sizes and report what they measured."""

from __future__ import annotations

import json

from click.testing import CliRunner

from grewkit.cli.main import cli


def bench_json(*args):
    result = CliRunner().invoke(cli, ["bench", *args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_bench_decode_reports_cpu_ms_per_frame_at_both_resolutions():
    out = bench_json("decode", "--frames", "5")
    assert [r["resolution"] for r in out["rows"]] == ["768x576", "1920x1080"]
    assert all(r["frames"] == 5 and r["cpu_ms_per_frame"] > 0 for r in out["rows"])


def test_bench_split_times_split_and_validate_in_fresh_processes(tmp_path):
    out = bench_json(
        "split",
        "--workdir",
        str(tmp_path),
        "--identities",
        "60",
        "--sequences",
        "300",
        "--distractors",
        "50",
        "--cameras",
        "10",
    )
    assert "wrote manifests/splits.parquet" in out["split_output"]
    assert "all manifests valid" in out["validate_output"]
    for command in ("split", "validate"):
        assert out[command]["wall_s"] > 0 and out[command]["cpu_s"] > 0 and out[command]["peak_rss_mb"] > 0
    assert out["split"]["wall_s"] > out["start_up_s"] > 0


def test_bench_split_asks_for_two_sequences_per_identity(tmp_path):
    result = CliRunner().invoke(
        cli, ["bench", "split", "--workdir", str(tmp_path), "--identities", "10", "--sequences", "15"]
    )
    assert result.exit_code != 0 and "at least 2 sequences per identity" in result.output


def test_bench_detect_synth_hog_recall_on_a_mot_folder(shared_data):
    out = bench_json(
        "detect-synth",
        "--shared-data",
        str(shared_data),
        "--mot",
        "tud_campus",
        "--backends",
        "hog-recall",
        "--every",
        "30",
    )
    recall = out["hog_recall"]
    assert recall["wanted"] > 0 and 0 < recall["found"] <= recall["wanted"] and recall["every"] == 30
    assert out["rows"] == []
