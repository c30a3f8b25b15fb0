"""The Ray executor on a real local Ray instance, including workers killed mid-unit."""

import json

import pytest

ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'grewkit[ray]')")

from toy_stages import ToyDetect  # noqa: E402

from grewkit.core.executors import SerialExecutor, executor_for  # noqa: E402
from grewkit.core.project import Project  # noqa: E402
from grewkit.core.ray_executor import RayExecutor  # noqa: E402
from grewkit.core.runner import run_stage, stage_status  # noqa: E402


def _inputs(project, kill=None):
    kill = kill or {}
    videos = [
        {"video_id": f"v{i:02d}", "camera_id": f"cam{i % 2}", "frames": 4 + i, "kill": kill.get(i)} for i in range(6)
    ]
    (project.root / "toy_inputs.json").write_text(json.dumps({"videos": videos}))


def _bytes(project):
    root = project.root / "manifests"
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.parquet"))}


@pytest.fixture(scope="module")
def ray_executor():
    executor = RayExecutor(workers=2, max_retries=2)
    yield executor
    executor.close()


def test_worker_killed_mid_unit_is_retried_and_manifests_match_a_serial_run(ray_executor, tmp_path):
    reference = Project.init(tmp_path / "ref")
    _inputs(reference)
    run_stage(reference, ToyDetect, executor=SerialExecutor(), show_progress=False)

    project = Project.init(tmp_path / "p")
    _inputs(project, kill={1: "once", 4: "once"})
    summary = run_stage(project, ToyDetect, executor=ray_executor, show_progress=False)
    assert (summary.done, summary.failed) == (6, {})
    assert (project.root / "killed-v01").exists() and (project.root / "killed-v04").exists()
    assert _bytes(project) == _bytes(reference)


def test_a_unit_whose_worker_always_dies_is_failed_after_bounded_retries(ray_executor, tmp_path):
    project = Project.init(tmp_path / "p")
    _inputs(project, kill={2: "always"})
    summary = run_stage(project, ToyDetect, executor=ray_executor, show_progress=False)
    assert summary.done == 5
    assert summary.failed["v02"].startswith("the Ray worker died 3 times")
    assert stage_status(project, "toy")["failed"]["v02"].startswith("the Ray worker died 3 times")
    # exceptions are recorded, not retried
    _inputs(project)
    summary = run_stage(project, ToyDetect, executor=ray_executor, show_progress=False)
    assert (summary.done, summary.skipped, summary.failed) == (1, 5, {})


def test_per_stage_resources_come_from_settings(tmp_path):
    project = Project.init(tmp_path / "p")
    text = project.settings_path.read_text().replace("resources = {}", "resources = { toy = { num_cpus = 0.5 } }")
    project.settings_path.write_text(text)
    executor = executor_for(project.settings.section("executor"), "toy", kind="ray")
    assert (executor.num_cpus, executor.num_gpus, executor.max_retries) == (0.5, 0.0, 2)
