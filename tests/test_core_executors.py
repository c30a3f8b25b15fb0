"""The local executor: one process pool for every stage it runs, workers that start with the heavy
libraries already imported, and a fresh pool after a worker dies."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from grewkit.core.executors import LocalExecutor


def worker_pid(_item) -> int:
    return os.getpid()


def preloaded(_item) -> bool:
    # The forkserver imported these before forking the worker; the task function imports nothing.
    return "trackers" in sys.modules and "onnxruntime" in sys.modules


def die(_item) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def test_one_pool_serves_every_call_and_workers_start_with_the_libraries_loaded():
    with LocalExecutor(workers=2) as executor:
        first = {o.value for o in executor.map_unordered(worker_pid, range(8))}
        second = {o.value for o in executor.map_unordered(worker_pid, range(8))}
        assert first and first & second, (first, second)  # the same worker processes, not a new pool
        assert all(o.value for o in executor.map_unordered(preloaded, range(2)))


def test_a_dead_worker_fails_its_units_and_the_next_call_gets_a_new_pool():
    with LocalExecutor(workers=1) as executor:
        outcomes = list(executor.map_unordered(die, [0]))
        assert outcomes[0].error and "worker process died" in outcomes[0].error
        after = list(executor.map_unordered(worker_pid, range(2)))
        assert all(o.error is None for o in after), after


def die_on_three(item):
    if item == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(0.05)
    return item


def test_one_dying_unit_fails_alone_and_the_others_finish():
    with LocalExecutor(workers=2) as executor:
        outcomes = {o.item: o for o in executor.map_unordered(die_on_three, range(10))}
    assert sorted(outcomes) == list(range(10))
    assert [i for i, o in outcomes.items() if o.error] == [3]
    assert "worker process died" in outcomes[3].error
    assert all(o.value == i for i, o in outcomes.items() if i != 3)


def die_the_first_time(marker: str) -> str:
    if not os.path.exists(marker):
        Path(marker).touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return marker


def test_a_unit_whose_worker_dies_once_while_it_runs_alone_is_retried(tmp_path):
    # One worker: the unit always runs alone, so nothing but a second run alone can tell it from a killer.
    with LocalExecutor(workers=1) as executor:
        outcomes = list(executor.map_unordered(die_the_first_time, [str(tmp_path / "killed-once")]))
    assert [o.error for o in outcomes] == [None] and outcomes[0].value.endswith("killed-once")


def test_a_worker_killed_from_outside_costs_no_unit(project):
    """A real stage: one worker killed mid-run (as by the OOM killer); the runner retries, nothing fails."""
    from toy_stages import ToyDetect

    from grewkit.core.runner import run_stage

    videos = [{"video_id": f"v{i:02d}", "camera_id": "cam0", "frames": 3 + i} for i in range(10)]
    videos[4]["kill"] = "once"  # its worker dies the first time it runs
    (project.root / "toy_inputs.json").write_text(json.dumps({"videos": videos}))
    summary = run_stage(project, ToyDetect, executor=LocalExecutor(workers=2), show_progress=False)
    assert (summary.done, summary.failed) == (10, {})
    videos[4]["kill"] = "always"
    videos.append({"video_id": "v99", "camera_id": "cam0", "frames": 2, "kill": "always"})
    (project.root / "toy_inputs.json").write_text(json.dumps({"videos": videos}))
    summary = run_stage(project, ToyDetect, executor=LocalExecutor(workers=2), show_progress=False)
    assert sorted(summary.failed) == ["v04", "v99"] and summary.skipped == 9, summary


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.add(child)
            todo.append(child)
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signals are Linux's")
def test_killing_the_runner_leaves_no_worker_behind(project):
    from toy_stages import start_toy_run

    videos = [{"video_id": f"v{i:02d}", "camera_id": "cam0", "frames": 3} for i in range(40)]
    (project.root / "toy_inputs.json").write_text(json.dumps({"videos": videos}))
    proc = start_toy_run(project.root, sleep=0.5)
    done = project.root / "state" / "toy" / "done"
    deadline = time.time() + 120
    while time.time() < deadline and not any(done.glob("*.json")):
        time.sleep(0.05)
    helpers = _descendants(proc.pid)
    assert len(helpers) >= 3, helpers  # the fork server and two workers
    proc.kill()  # the runner alone, not its process group
    proc.wait()
    deadline = time.time() + 10
    while time.time() < deadline and any(_alive(p) for p in helpers):
        time.sleep(0.1)
    assert not [p for p in helpers if _alive(p)]


def test_workers_below_one_are_refused_naming_the_file_or_the_option(project):
    from click.testing import CliRunner

    from grewkit.cli.main import cli

    (project.root / "toy_inputs.json").write_text(json.dumps({"videos": []}))
    result = CliRunner().invoke(cli, ["detect", "--project", str(project.root), "--workers", "0", "--quiet"])
    assert result.exit_code == 1 and result.output == "Error: --workers 0: at least 1 worker is needed\n"
    text = project.settings_path.read_text().replace("\nworkers = 2\n", "\nworkers = 0\n")
    project.settings_path.write_text(text)
    result = CliRunner().invoke(cli, ["detect", "--project", str(project.root), "--quiet"])
    assert result.exit_code == 1
    assert result.output == f"Error: {project.settings_path}: [executor] workers = 0: at least 1 worker is needed\n"
