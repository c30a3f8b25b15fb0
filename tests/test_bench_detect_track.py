"""``grewkit bench detect`` and ``grewkit bench track`` run for real on a few frames and report what they measured."""

from __future__ import annotations

import json

from click.testing import CliRunner

from grewkit.cli.main import cli


def invoke(args):
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_bench_detect_reports_precision_recall_and_speed(shared_data):
    out = json.loads(
        invoke(
            [
                "bench",
                "detect",
                "--shared-data",
                str(shared_data),
                "--backends",
                "ssdlite",
                "--vtest-frames",
                "20",
                "--json",
            ]
        )
    )
    main = out["rows"][0]
    assert main["backend"] == "ssdlite" and main["precision"] >= 0.85 and main["recall"] >= 0.68
    assert main["tud_fps"] > 0 and main["vtest_fps"] > 0 and out["vtest_frames"] == 20
    assert [r["backend"] for r in out["rows"]] == ["ssdlite", "ssdlite @ 0.1", "ssdlite @ 0.5"]


def test_bench_track_times_the_real_stages_against_decode(shared_data):
    out = json.loads(
        invoke(
            [
                "bench",
                "track",
                "--shared-data",
                str(shared_data),
                "--strides",
                "2",
                "--workers",
                "1",
                "--repeats",
                "1",
                "--max-frames",
                "120",
                "--json",
            ]
        )
    )
    checks = [r for r in out["mot"] if r["run"].startswith("reference check")]
    assert len(checks) == 2 and round(100 * checks[0]["mota"], 2) == 52.65
    (run,) = out["speed"][0]
    assert run["frames"] == 120 and run["stride"] == 2 and run["tracklets"] >= 3
    assert run["ratio"] > 1 and set(run["wall_s"]) == {"ingest", "detect", "track"}


def test_bench_needs_the_data_folder(tmp_path):
    result = CliRunner().invoke(cli, ["bench", "track", "--shared-data", str(tmp_path / "nowhere"), "--skip-tud"])
    assert result.exit_code != 0 and "vtest.avi not found" in result.output
