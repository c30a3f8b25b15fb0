"""The project folder: one root however a command names it."""

from __future__ import annotations

import os

from grewkit.core.project import Project


def test_a_project_opened_by_a_relative_path_has_its_absolute_root(tmp_path, monkeypatch):
    Project.init(tmp_path / "p")
    monkeypatch.chdir(tmp_path)
    relative = Project.open("p")
    assert relative.root.is_absolute() and relative.root == Project.open(tmp_path / "p").root
    # what units record (paths under the root) is the same from any working folder
    monkeypatch.chdir(tmp_path / "p")
    assert Project.open(".").resolve("media/a.avi") == relative.resolve("media/a.avi")
    assert os.path.isabs(relative.resolve("media/a.avi"))
