"""Third-party output (mediapipe/TFLite/absl/protobuf, C++ or Python) lands in logs/, not on the terminal."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import REPO

from grewkit.core.thirdparty_logs import third_party_output

# What mediapipe 0.10.14 prints when a BlazePose model is created and first run.
NOISE = ("TensorFlow Lite", "XNNPACK", "absl", "inference_feedback_manager", "GetPrototype", "W0000")


def test_descriptors_and_python_streams_go_to_the_log_and_come_back(tmp_path, capfd):
    log = tmp_path / "logs" / "stage.log"
    print("before")
    with third_party_output(log, header="unit u1"):
        os.write(2, b"native stderr line\n")  # what C++ code does: no Python object involved
        os.write(1, b"native stdout line\n")
        print("python print")
        sys.stderr.write("a deprecation from a library\n")  # where warnings.showwarning writes
    print("after", file=sys.stderr)
    out, err = capfd.readouterr()
    assert out == "before\n" and err == "after\n"
    text = log.read_text()
    assert "unit u1" in text and "native stderr line" in text and "native stdout line" in text
    assert "python print" in text and "a deprecation from a library" in text


def test_descriptors_are_restored_when_the_body_raises(tmp_path, capfd):
    with pytest.raises(RuntimeError):
        with third_party_output(tmp_path / "x.log"):
            raise RuntimeError("boom")
    os.write(2, b"visible\n")
    assert capfd.readouterr().err == "visible\n"


def _render(project_root, *args):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-m", "grewkit", "render", "-p", str(project_root), "--modalities", "pose2d", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


@pytest.mark.slow
@pytest.mark.parametrize("args", [("--quiet",), ("--executor", "serial")], ids=["workers-quiet", "serial-progress"])
def test_render_prints_no_tflite_absl_protobuf_lines(tmp_path, shared_data, args):
    from grewkit.bench.tud_project import tud_project
    from grewkit.core.project import Project

    project = Project.init(tmp_path / "proj")
    tud_project(project, shared_data, ids=(3,))
    done = _render(project.root, *args)
    terminal = done.stdout + done.stderr
    assert done.returncode == 0, terminal
    assert "render: 1 done" in terminal, terminal  # the summary still shows
    assert not [n for n in NOISE if n in terminal], terminal
    log = (project.root / "logs" / "render.log").read_text()
    assert "XNNPACK" in log and "inference_feedback_manager" in log and "GetPrototype" in log


@pytest.mark.slow
def test_annotator_media_prints_no_tflite_absl_protobuf_lines(tmp_path, shared_data):
    """The strips annotators see are face-masked by mediapipe, which prints like the pose model."""
    from grewkit.bench.tud_project import tud_project
    from grewkit.core.project import Project

    project = Project.init(tmp_path / "proj")
    tud_project(project, shared_data, ids=(3,))
    [tracklet] = project.read("tracklets").column("tracklet_id").to_pylist()[:1]
    script = (
        "from pathlib import Path\nfrom grewkit.core.project import Project\n"
        "from grewkit.annotate.media import render_strips\n"
        f"print(render_strips(Project(Path({str(project.root)!r})), [{tracklet!r}], frames=4, height=64))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    terminal = done.stdout + done.stderr
    assert done.returncode == 0, terminal
    assert tracklet in terminal  # what the function returns still reaches stdout
    assert not [n for n in NOISE if n in terminal], terminal
    log = (project.root / "logs" / "annotate.log").read_text()
    assert "annotator media" in log and "XNNPACK" in log
