"""Probing single files: good ones give exact facts, bad ones the exact reason."""

from __future__ import annotations

import os
import shutil

import pytest
from ingest_helpers import write_video

from grewkit.core.errors import GrewkitError
from grewkit.ingest.probe import probe_video


def test_good_avi_facts(tmp_path):
    path = write_video(tmp_path / "cam1_a.avi", frames=17, size=(160, 120), fps=12.5)
    p = probe_video(path)
    assert (p.frame_count, p.width, p.height, p.fps, p.codec, p.container) == (17, 160, 120, 12.5, "MJPG", "avi")
    assert p.size_bytes == path.stat().st_size and len(p.sha256) == 64


def test_vtest_real_file(shared_data):
    p = probe_video(shared_data / "vtest.avi")
    assert (p.frame_count, p.width, p.height, p.codec) == (795, 768, 576, "MP43")


def _put(name: str, data: bytes):
    def make(d):
        (d / name).write_bytes(data)
        return d / name

    return make


def _dangling(d):
    (d / "gone.avi").symlink_to(d / "nowhere.avi")
    return d / "gone.avi"


@pytest.mark.parametrize(
    "make, reason",
    [
        (_put("empty.avi", b""), "zero-length file (0 bytes)"),
        (_put("notes.avi", b"camera 3 was off today\n"), "mislabelled: named .avi but the content is a text file"),
        (
            _put("still.mp4", b"\xff\xd8\xff\xe0" + bytes(100)),
            "mislabelled: named .mp4 but the content is a JPEG image",
        ),
        (_dangling, "file does not exist"),
    ],
)
def test_bad_files_have_exact_reasons(tmp_path, make, reason):
    path = make(tmp_path)
    with pytest.raises(GrewkitError) as err:
        probe_video(path)
    assert reason in str(err.value) and str(path) in str(err.value)


def test_container_under_wrong_extension(tmp_path):
    mp4 = write_video(tmp_path / "x.mp4", fourcc="mp4v")
    wrong = tmp_path / "cam1_x.avi"
    shutil.copy(mp4, wrong)
    with pytest.raises(GrewkitError, match=r"mislabelled: named \.avi but the content is a mp4 container"):
        probe_video(wrong)


def test_truncated_file(tmp_path):
    path = write_video(tmp_path / "cut.avi", frames=40)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # the header still promises 40 frames
    with pytest.raises(GrewkitError, match=r"truncated: the header promises 40 frames but only \d+ decode"):
        probe_video(path)


def test_corrupt_file_with_video_signature(tmp_path):
    path = tmp_path / "broken.avi"
    path.write_bytes(b"RIFF\x00\x10\x00\x00AVI LIST" + os.urandom(4000))
    with pytest.raises(GrewkitError, match=r"corrupt: "):
        probe_video(path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file(tmp_path):
    path = write_video(tmp_path / "locked.avi")
    path.chmod(0)
    with pytest.raises(GrewkitError, match="unreadable: permission denied"):
        probe_video(path)
