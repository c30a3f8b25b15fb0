"""The manifest queries the docs show run as printed, with what `make setup` installs."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys

import pytest
from conftest import REPO
from helpers import schema_table

DOCS = ("README.md", "docs/detect.md")


def _python_lines():
    for doc in DOCS:
        for line in (REPO / doc).read_text().splitlines():
            if line.startswith("python -c "):
                yield doc, line


def test_the_docs_show_queries():
    assert {doc for doc, _ in _python_lines()} == set(DOCS)


@pytest.mark.parametrize("doc,line", list(_python_lines()), ids=lambda v: v if v in DOCS else "")
def test_documented_query_runs_in_a_project(tmp_path, doc, line):
    from grewkit.core.project import Project

    project = Project.init(tmp_path / "proj")
    tracklets = [
        {
            "tracklet_id": f"t{i}",
            "video_id": "v",
            "camera_id": "cam-north",
            "track_id": i,
            "start_frame": 0,
            "end_frame": 9,
            "n_frames": 10,
            "mean_box_height": 80.0,
            "mean_score": 0.9,
            "kept": i < 2,
            "filter_reason": None if i < 2 else "too short",
        }
        for i in range(3)
    ]
    boxes = [
        {
            "tracklet_id": "t0",
            "video_id": "v",
            "camera_id": "cam-north",
            "frame": f,
            "x1": 1.0,
            "y1": 2.0,
            "x2": 30.0,
            "y2": 90.0,
            "score": 0.9,
            "visibility": None,
        }
        for f in range(10)
    ]
    project.write("tracklets", schema_table("tracklets", tracklets))
    project.write("boxes", schema_table("boxes", boxes))
    argv = shlex.split(line)
    assert argv[:2] == ["python", "-c"]
    done = subprocess.run(
        [sys.executable, *argv[1:]], cwd=project.root, capture_output=True, text=True, env={**os.environ}, timeout=120
    )
    assert done.returncode == 0, f"{doc}: {line}\n{done.stderr}"
    assert "cam-north" in done.stdout
