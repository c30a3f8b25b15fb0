import json
import os
import signal
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from helpers import manifest_bytes
from toy_stages import ToyDetect, start_toy_run

from grewkit.core.executors import LocalExecutor, SerialExecutor
from grewkit.core.runner import run_stage, stage_status

TESTS = Path(__file__).resolve().parent


def _inputs(project, n=6, fail=()):
    videos = [
        {"video_id": f"v{i:02d}", "camera_id": f"cam{i % 2}", "frames": 5 + i, "fail": i in fail} for i in range(n)
    ]
    (project.root / "toy_inputs.json").write_text(json.dumps({"videos": videos}))


def test_runs_all_units_and_partitions_by_camera(project):
    _inputs(project)
    summary = run_stage(project, ToyDetect, executor=SerialExecutor(), show_progress=False)
    assert (summary.done, summary.skipped, summary.failed) == (6, 0, {})
    assert sorted(manifest_bytes(project)) == ["detections/cam0.parquet", "detections/cam1.parquet", "videos.parquet"]
    videos = project.read("videos")
    assert videos.column("video_id").to_pylist() == [f"v{i:02d}" for i in range(6)]
    dets = pq.read_table(project.root / "manifests/detections/cam1.parquet")
    assert set(dets.column("camera_id").to_pylist()) == {"cam1"}
    assert dets.num_rows == sum(2 * (5 + i) for i in (1, 3, 5))


def test_rerun_skips_done_units_and_is_byte_identical(project):
    _inputs(project)
    run_stage(project, ToyDetect, executor=SerialExecutor(), show_progress=False)
    first = manifest_bytes(project)
    again = run_stage(project, ToyDetect, executor=SerialExecutor(), show_progress=False)
    assert (again.done, again.skipped) == (0, 6)
    assert manifest_bytes(project) == first


def test_failures_are_recorded_with_reason_and_others_proceed(project):
    _inputs(project, fail={2})
    summary = run_stage(project, ToyDetect, executor=LocalExecutor(workers=2), show_progress=False)
    assert summary.done == 5
    assert summary.failed == {"v02": "ValueError: cannot decode v02"}
    status = stage_status(project, "toy")
    assert (status["done"], status["pending"], status["failed"]) == (5, 0, {"v02": "ValueError: cannot decode v02"})
    assert "v02" not in project.read("videos").column("video_id").to_pylist()
    # Once the input is fixed, a rerun retries only the failed unit.
    _inputs(project)
    summary = run_stage(project, ToyDetect, executor=SerialExecutor(), show_progress=False)
    assert (summary.done, summary.skipped, summary.failed) == (1, 5, {})
    assert stage_status(project, "toy")["failed"] == {}


def test_kill_9_mid_stage_then_rerun_gives_identical_manifests(project, tmp_path):
    _inputs(project, n=12)
    # Reference: an uninterrupted run in another project with the same inputs.
    from grewkit.core.project import Project

    reference = Project.init(tmp_path / "reference")
    (reference.root / "toy_inputs.json").write_text((project.root / "toy_inputs.json").read_text())
    run_stage(reference, ToyDetect, executor=SerialExecutor(), show_progress=False)

    proc = start_toy_run(project.root, sleep=0.3, start_new_session=True)
    done_dir = project.root / "state/toy/done"
    deadline = time.time() + 60
    while time.time() < deadline and len(list(done_dir.glob("*.json"))) < 3:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the runner and its workers, mid-stage
    proc.wait()
    n_done = len(list(done_dir.glob("*.json")))
    assert 3 <= n_done < 12, "the kill should land mid-stage"

    summary = run_stage(project, ToyDetect, executor=SerialExecutor(), show_progress=False)
    assert summary.skipped == n_done and summary.done == 12 - n_done and not summary.failed
    assert manifest_bytes(project) == manifest_bytes(reference)


def test_a_second_concurrent_run_is_refused(project):
    from grewkit.core.errors import GrewkitError
    from grewkit.core.runner import _StageLock

    _inputs(project)
    with _StageLock(project.state_dir("toy") / ".lock"):
        with pytest.raises(GrewkitError, match="another run of this stage"):
            run_stage(project, ToyDetect, executor=SerialExecutor(), show_progress=False)
