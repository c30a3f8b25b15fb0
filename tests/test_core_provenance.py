"""Inputs are part of a unit's identity: real stages (ingest -> detect -> track -> render) on a small
synthetic world, killed, re-set and tampered with, and compared byte for byte with fresh projects."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner
from helpers import set_option
from ingest_helpers import write_video

from grewkit.cli.main import cli
from grewkit.core.errors import GrewkitError
from grewkit.core.executors import SerialExecutor
from grewkit.core.project import Project
from grewkit.core.runner import run_stage, stage_status
from grewkit.core.validate import validate_project
from grewkit.ingest.cli import ingest

# Fast settings on purpose: every-other-frame detection in chunks (many detect units), silhouettes by MOG2.
BASE = {
    ("detect", "stride"): "2",
    ("detect", "chunk_frames"): "24",
    ("render", "segmenter"): '"mog2"',
    ("render", "modalities"): '["sil"]',
    ("render", "mog2_warmup_frames"): "0",
}
STAGES = ("ingest", "detect", "track", "render")


@pytest.fixture(scope="module")
def footage(tmp_path_factory):
    from grewkit.synth.generate import generate
    from grewkit.synth.world import SynthConfig

    world = Project.init(tmp_path_factory.mktemp("world") / "world")
    generate(world, SynthConfig(cameras=2, identities=4, seconds=4.0, seed=1), masks=False, show_progress=False)
    return world.root / "media" / "synth"


def new_project(root, footage, options=None) -> Project:
    project = Project.init(root)
    media = project.root / "media" / "synth"
    shutil.copytree(footage, media)
    for (section, key), value in {**BASE, **(options or {})}.items():
        set_option(project, section, key, value)
    ingest(project, [media], cameras=media / "cameras.csv")
    return project


def run(project, stage, **kwargs):
    summary = run_stage(project, stage, executor=SerialExecutor(), show_progress=False, **kwargs)
    assert not summary.failed, summary.failed
    return summary


def pipeline(project, stages=STAGES):
    return {stage: run(project, stage) for stage in stages}


def outputs(project, *folders) -> dict[str, bytes]:
    """Every manifest, and every render file the sequences manifest refers to (renders of tracklets that
    a re-track dropped stay on disk, unreferenced, as DVC leaves old outputs to an explicit gc)."""
    base = project.root / "manifests"
    out = {p.relative_to(project.root).as_posix(): p.read_bytes() for p in sorted(base.rglob("*.parquet"))}
    if "manifests" not in folders and project.has("sequences"):
        for path in project.read("sequences").column("path").to_pylist():
            out[path] = project.resolve(path).read_bytes()
    return out


@pytest.fixture(scope="module")
def reference(footage, tmp_path_factory):
    """A fresh project with the final settings of the tests below, run once from start to end."""
    project = new_project(tmp_path_factory.mktemp("ref") / "ref", footage, {("track", "max_gap_seconds"): "0.04"})
    pipeline(project)
    assert project.read("sequences").num_rows > 0
    return project


def test_track_refuses_an_incomplete_detect_then_tracks_everything(footage, reference, tmp_path):
    project = new_project(tmp_path / "p", footage, {("track", "max_gap_seconds"): "0.04"})
    run(project, "ingest")
    script = (
        "from pathlib import Path\nfrom grewkit.core.project import Project\n"
        "from grewkit.core.runner import run_stage\nfrom grewkit.core.executors import SerialExecutor\n"
        f"run_stage(Project(Path({str(project.root)!r})), 'detect', executor=SerialExecutor(), show_progress=False)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        start_new_session=True,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)),
    )
    done = project.root / "state" / "detect" / "done"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(done.glob("*.json"))) < 2 and proc.poll() is None:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    n_done = len(list(done.glob("*.json")))
    total = stage_status(project, "detect")["total"]
    assert 1 <= n_done < total, "the kill should land mid-stage"

    with pytest.raises(
        GrewkitError,
        match=rf"^detect is incomplete: {total - n_done} of its {total} units are not "
        rf"done \({total - n_done} pending\); run `grewkit detect` first",
    ):
        run_stage(project, "track", executor=SerialExecutor(), show_progress=False)
    result = CliRunner().invoke(cli, ["track", "--project", str(project.root), "--executor", "serial", "--quiet"])
    assert result.exit_code == 1 and result.output.count("\n") == 1 and "detect is incomplete" in result.output

    # --partial tracks only the videos whose detections are complete, and says so.
    partial = run(project, "track", partial=True)
    assert partial.done + partial.left_out == 2 and partial.left_out >= 1
    assert json.loads((project.state_dir("track") / "run.json").read_text())["partial"] is True
    assert any("--partial" in p.message for p in validate_project(project))

    run(project, "detect")
    whole = run(project, "track")
    assert whole.done + whole.skipped == 2 and whole.left_out == 0
    assert outputs(project, "manifests") == {
        k: v for k, v in outputs(reference, "manifests").items() if not k.startswith("manifests/sequences")
    }
    assert run(project, "track").skipped == 2
    assert validate_project(project) == []

    # A missing detections file is not an empty table: a new track setting re-tracks, and the camera
    # whose detections are gone fails with the reason instead of yielding no tracklets.
    gone = project.manifests_dir / "detections" / "synth-cam01.parquet"
    gone.unlink()
    set_option(project, "track", "min_seconds", "0.9")
    summary = run_stage(project, "track", executor=SerialExecutor(), show_progress=False)
    [reason] = summary.failed.values()
    assert "synth-cam01.parquet: missing, but detect recorded" in reason
    assert summary.done == 1


def test_a_track_setting_change_rerenders_the_changed_sequences(footage, reference, tmp_path):
    project = new_project(tmp_path / "p", footage)
    pipeline(project)
    before = project.read("sequences")
    set_option(project, "track", "max_gap_seconds", "0.04")
    run(project, "track")
    # render has not caught up: status and validate say which units are stale and why.
    stale = stage_status(project, "render")["stale"]
    assert stale and all("track changed" in why for why in stale.values())
    assert any("render units whose recorded inputs no longer match" in p.message for p in validate_project(project))
    render = run(project, "render")
    assert render.stale == len(stale) and render.done >= render.stale
    assert outputs(project) == outputs(reference)
    assert not project.read("sequences").equals(before)
    # An unchanged project reruns as "already done" everywhere, byte for byte.
    snapshot = outputs(project)
    for stage, summary in pipeline(project).items():
        assert summary.done == 0 and summary.skipped == summary.total, stage
    assert outputs(project) == snapshot

    # A deleted or altered render file makes its unit stale; render redoes exactly that unit.
    files = sorted((project.root / "renders").rglob("sil64.npy"))
    files[0].unlink()
    data = bytearray(files[1].read_bytes())
    data[-1] ^= 0xFF
    files[1].write_bytes(bytes(data))
    reasons = stage_status(project, "render")["stale"].values()
    assert sorted(r.split(" ", 1)[1] for r in reasons) == [
        "changed (its sha256 differs from the recorded one)",
        "missing",
    ]
    assert any("2 render units whose recorded inputs" in p.message for p in validate_project(project))
    again = run(project, "render")
    assert (again.done, again.stale) == (2, 2)
    assert outputs(project) == snapshot
    # A touched but equal file is not stale.
    os.utime(files[0], ns=(1, 1))
    assert run(project, "render").done == 0


def test_a_video_changed_after_ingest_is_checked_again(project, tmp_path):
    src = tmp_path / "footage"
    write_video(src / "cam1_a.avi", frames=12, seed=1)
    write_video(src / "cam1_b.avi", frames=12, seed=2)
    (src / "cameras.csv").write_text("camera_id\ncam1\n")
    ingest(project, [src], cameras=src / "cameras.csv")
    run(project, "ingest")
    assert sorted(project.read("videos").column("frame_count").to_pylist()) == [12, 12]
    write_video(src / "cam1_a.avi", frames=6, seed=1)  # rewritten in place, shorter
    with open(src / "cam1_b.avi", "r+b") as f:  # cut off in the middle
        f.truncate(os.path.getsize(src / "cam1_b.avi") // 3)
    result = CliRunner().invoke(cli, ["ingest", "--project", str(project.root), "--executor", "serial", "--quiet"])
    assert "1 done (1 of them stale, redone), 0 already done, 1 failed" in result.output, result.output
    videos = project.read("videos").to_pylist()
    assert [(v["path"], v["frame_count"], v["size_bytes"]) for v in videos] == [
        (str(src / "cam1_a.avi"), 6, os.path.getsize(src / "cam1_a.avi"))
    ]
    [reason] = stage_status(project, "ingest")["failed"].values()
    assert "cam1_b.avi: truncated: the header promises 12 frames but only" in reason
    assert validate_project(project) == []


def start_stage(project, stage) -> subprocess.Popen:
    """``stage`` of ``project`` in a child process that leads its own session (so it can be killed whole)."""
    script = (
        "from pathlib import Path\nfrom grewkit.core.project import Project\n"
        "from grewkit.core.runner import run_stage\nfrom grewkit.core.executors import SerialExecutor\n"
        f"run_stage(Project(Path({str(project.root)!r})), {stage!r}, executor=SerialExecutor(), show_progress=False)\n"
    )
    return subprocess.Popen(
        [sys.executable, "-c", script],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)),
    )


# Settings the chain below changes at random: each touches a different stage, and each value is cheap.
CHANGES = {
    ("detect", "stride"): ["2", "3"],
    ("detect", "min_score"): ["0.1", "0.3"],
    ("track", "max_gap_seconds"): ["0.04", "0.4"],
    ("track", "min_seconds"): ["0.5", "1.0"],
    ("render", "modalities"): ['["sil"]', '["sil", "gei"]'],
}


@pytest.mark.parametrize("seed", [0, 1])
def test_random_kills_and_setting_changes_end_equal_to_a_fresh_project(footage, tmp_path, seed):
    """Kill random stages at random moments and change random settings between them; a full rerun
    then equals, byte for byte, a fresh project run once with the final settings."""
    import random

    rng = random.Random(seed)
    project = new_project(tmp_path / "chain", footage)
    final: dict[tuple[str, str], str] = {}
    events = []
    for _ in range(6):
        if rng.random() < 0.5:
            key = rng.choice(sorted(CHANGES))
            final[key] = rng.choice(CHANGES[key])
            set_option(project, *key, final[key])
            events.append(f"set {key}={final[key]}")
        stage = rng.choice(STAGES)
        proc = start_stage(project, stage)
        delay = rng.uniform(0.3, 6.0)
        try:
            proc.wait(timeout=delay)
            events.append(f"{stage} ended ({proc.returncode})")
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            events.append(f"{stage} killed after {delay:.1f} s")
    for stage in STAGES:
        try:
            run(project, stage)
        except GrewkitError as exc:
            raise AssertionError(f"{stage} after {events}: {exc}") from exc
    fresh = new_project(tmp_path / "fresh", footage, final)
    pipeline(fresh)
    assert outputs(project) == outputs(fresh), events
    assert validate_project(project) == []


def test_a_moved_project_is_not_stale(reference, tmp_path):
    """Fingerprints hold paths relative to the project root: a project copied to another folder (or
    machine) reruns as "already done" with the same bytes, while a changed setting still counts."""
    moved = Project(tmp_path / "elsewhere" / "moved")
    shutil.copytree(reference.root, moved.root, symlinks=True)
    for stage in STAGES:
        status = stage_status(moved, stage)
        assert not status["stale"], (stage, status["stale"])
    snapshot = outputs(moved)
    for stage, summary in pipeline(moved).items():
        assert summary.done == 0 and summary.skipped == summary.total, stage
    assert outputs(moved) == snapshot == outputs(reference)
    assert validate_project(moved) == []
