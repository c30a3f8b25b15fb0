"""`grewkit ingest` end to end: cameras.csv, good and bad files, reruns, duplicates, camera matching."""

from __future__ import annotations

import os
import shutil

import pytest
from click.testing import CliRunner
from ingest_helpers import write_video

from grewkit.cli.main import cli
from grewkit.core.runner import stage_status
from grewkit.core.validate import validate_project

CAMERAS = "camera_id,site,view,width,height,pattern,start_time\ncam1,campus,side,160,120,,\ncam2,campus,frontal,,,north_*,2024-05-01T08:00:00Z\n"


def run(project, *args):
    result = CliRunner().invoke(
        cli, ["ingest", *map(str, args), "--project", str(project.root), "--executor", "serial", "--quiet"]
    )
    assert result.exit_code in (0, 3), result.output + repr(result.exception)
    return result


@pytest.fixture
def footage(tmp_path):
    src = tmp_path / "footage"
    write_video(src / "cam1_20240501T081500.avi", frames=12, seed=1)
    write_video(src / "north_gate.avi", frames=10, seed=2)  # cam2 by pattern
    write_video(src / "cam1" / "clip.avi", frames=8, seed=3)  # cam1 by folder
    write_video(src / "cam1_big.avi", frames=6, size=(200, 100), seed=4)  # wrong resolution for cam1
    (src / "cam1_empty.avi").write_bytes(b"")
    (src / "cam1_notes.avi").write_text("not a video")
    write_video(src / "cam9_x.avi", frames=5, seed=5)  # no such camera
    (src / "cameras.csv").write_text(CAMERAS)
    return src


def test_ingest_good_and_bad(project, footage):
    result = run(project, footage, "--cameras", footage / "cameras.csv")
    assert "3 done" in result.output and "4 failed" in result.output
    videos = project.read("videos").to_pandas().set_index("path")
    assert len(videos) == 3
    row = videos.loc[str(footage / "cam1_20240501T081500.avi")]
    assert (row.camera_id, row.frame_count, row.width, row.height, row.fps) == ("cam1", 12, 160, 120, 25.0)
    assert str(row.start_time) == "2024-05-01 08:15:00+00:00"  # from the file name
    north = videos.loc[str(footage / "north_gate.avi")]
    assert north.camera_id == "cam2" and str(north.start_time) == "2024-05-01 08:00:00+00:00"  # from the CSV
    assert videos.loc[str(footage / "cam1" / "clip.avi")].camera_id == "cam1"
    assert row.video_id == f"cam1-{row.sha256[:12]}"
    failed = stage_status(project, "ingest")["failed"]
    text = "\n".join(failed.values())
    assert "mislabelled: camera cam1 is 160x120 in cameras.csv but this video is 200x100" in text
    assert "zero-length file" in text
    assert "mislabelled: named .avi but the content is a text file" in text
    assert "no camera in cameras.csv matches this file" in text
    assert project.read("cameras").num_rows == 2
    assert validate_project(project) == []


def test_reingest_is_a_noop_and_duplicates_fail(project, footage):
    run(project, footage, "--cameras", footage / "cameras.csv")
    before = (project.manifests_dir / "videos.parquet").read_bytes()
    again = run(project, footage / "cam1_20240501T081500.avi")
    assert "0 done" in again.output and "3 already done" in again.output
    assert (project.manifests_dir / "videos.parquet").read_bytes() == before
    copy = footage / "cam1_copy.avi"
    shutil.copy(footage / "cam1_20240501T081500.avi", copy)
    run(project, copy)
    assert any("duplicate: same bytes as" in r for r in stage_status(project, "ingest")["failed"].values())
    assert project.read("videos").num_rows == 3


def test_fixed_camera_reruns_only_that_file(project, footage):
    run(project, footage, "--cameras", footage / "cameras.csv")
    fixed = CAMERAS.replace("cam1,campus,side,160,120,,", "cam1,campus,side,,,,") + "cam9,campus,back,,,,\n"
    (footage / "cameras.csv").write_text(fixed)
    result = run(project, "--cameras", footage / "cameras.csv")
    # The 200x100 clip and the cam9 clip are new units; the two good cam1 files are checked again,
    # because the resolution they were checked against changed (their rows come out the same).
    assert "4 done (2 of them stale, redone)" in result.output
    assert project.read("videos").num_rows == 5


def test_a_pipe_named_like_a_video_is_not_a_regular_file(project, footage, tmp_path):
    pipe = tmp_path / "cam1_pipe.avi"
    os.mkfifo(pipe)
    run(project, pipe, "--cameras", footage / "cameras.csv")
    [reason] = stage_status(project, "ingest")["failed"].values()
    assert reason == f"GrewkitError: {pipe}: not a regular file"


@pytest.mark.parametrize(
    "csv_text, message",
    [
        ("camera_id,colour\ncam1,red\n", "unknown columns ['colour']"),
        ("camera_id\ncam1\ncam1\n", "camera_id 'cam1' appears twice"),
        ("camera_id,width\ncam1,wide\n", "column width: 'wide' is not a number"),
        ("camera_id\ncam 1\n", "use letters, digits"),
        ("site\nx\n", "no camera_id column"),
    ],
)
def test_bad_cameras_csv(project, tmp_path, csv_text, message):
    path = tmp_path / "cameras.csv"
    path.write_text(csv_text)
    result = CliRunner().invoke(cli, ["ingest", "--cameras", str(path), "--project", str(project.root)])
    assert result.exit_code == 1 and message in result.output and str(path) in result.output


def test_without_cameras_is_an_error(project, footage):
    result = CliRunner().invoke(cli, ["ingest", str(footage), "--project", str(project.root)])
    assert result.exit_code == 1 and "give --cameras cameras.csv" in result.output


def test_one_row_per_file_as_synth_writes(project, tmp_path):
    src = tmp_path / "synth"
    write_video(src / "a.avi", frames=6, seed=1)
    write_video(src / "b.avi", frames=6, seed=2)
    write_video(src / "c.avi", frames=6, seed=3)
    (src / "cameras.csv").write_text(
        "camera_id,file,start_time,view,width,height\n"
        "east,a.avi,2026-05-04T08:00:00+00:00,side,160,120\n"
        "east,b.avi,2026-05-04T08:01:00+00:00,side,160,120\n"
        "west,c.avi,2026-05-04T08:00:00+00:00,back,160,120\n"
    )
    run(project, src, "--cameras", src / "cameras.csv")
    videos = project.read("videos").to_pandas().sort_values("path")
    assert videos.camera_id.tolist() == ["east", "east", "west"]
    assert [str(t) for t in videos.start_time] == [
        "2026-05-04 08:00:00+00:00",
        "2026-05-04 08:01:00+00:00",
        "2026-05-04 08:00:00+00:00",
    ]
    assert project.read("cameras").num_rows == 2
    (src / "cameras.csv").write_text("camera_id,file,view\neast,a.avi,side\neast,b.avi,back\n")
    result = CliRunner().invoke(cli, ["ingest", "--cameras", str(src / "cameras.csv"), "--project", str(project.root)])
    assert result.exit_code == 1 and "camera 'east' has other view than on line 2" in result.output


def test_a_name_that_is_not_utf8_is_named_and_the_others_go_on(project, footage):
    bad = os.path.join(os.fsencode(footage), b"cam1_caf\xe9.avi")
    shutil.copy(footage / "north_gate.avi", bad)
    result = run(project, footage, "--cameras", footage / "cameras.csv")
    lines = [line for line in result.output.splitlines() if "UTF-8" in line]
    assert lines == [f"{footage}/cam1_caf\\xe9.avi: not ingested: its name is not valid UTF-8 (rename it)"]
    assert "3 done" in result.output and project.read("videos").num_rows == 3
