"""The OpenMMLab worker's protocol and its failure reports, without OpenMMLab (runs everywhere)."""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest

from grewkit.core.errors import GrewkitError
from grewkit.openmmlab import ENV_VAR, openmmlab_python
from grewkit.openmmlab.worker import read_message, write_message


def test_messages_carry_header_and_arrays_exactly():
    buf = io.BytesIO()
    frame = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    boxes = np.array([[1.5, 2, 3, 4]], np.float32)
    write_message(buf, {"op": "pose", "x": 1}, {"frame": frame, "boxes": boxes})
    write_message(buf, {"ok": True})
    buf.seek(0)
    header, arrays = read_message(buf)
    assert header["op"] == "pose" and header["x"] == 1
    assert np.array_equal(arrays["frame"], frame) and arrays["boxes"].dtype == np.float32
    assert np.array_equal(arrays["boxes"], boxes)
    assert read_message(buf) == ({"ok": True, "arrays": []}, {})
    with pytest.raises(EOFError):
        read_message(buf)


def test_environment_variable_wins(monkeypatch, tmp_path):
    fake = tmp_path / "python"
    fake.write_text("")
    monkeypatch.setenv(ENV_VAR, str(fake))
    assert openmmlab_python() == fake


def test_a_worker_without_openmmlab_reports_the_import_error(monkeypatch):
    from grewkit.openmmlab.client import OpenMMLabWorker

    monkeypatch.setenv(ENV_VAR, sys.executable)  # this venv has numpy but no mmdet
    with pytest.raises(GrewkitError, match=r"\[probe\] OpenMMLab: ModuleNotFoundError: No module named 'mm"):
        OpenMMLabWorker(task="detect", config="mmdet::x.py", label="probe")
