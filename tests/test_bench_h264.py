"""The 1080p clip of ``grewkit bench track --h264``: made from shared footage and decoded by grewkit's reader."""

from __future__ import annotations

import importlib.util

import cv2

from grewkit.bench.track import make_1080p_clip
from grewkit.core.frames import open_video, read_frames
from grewkit.ingest.probe import fourcc_text


def test_1080p_clip_is_written_and_decodes_at_1920x1080(shared_data, tmp_path):
    clip = tmp_path / "vtest-1080p.mp4"
    codec = make_1080p_clip(shared_data / "vtest.avi", clip, 4)
    frames = list(read_frames(clip))
    assert [i for i, _ in frames] == [0, 1, 2, 3]
    assert all(image.shape == (1080, 1920, 3) for _, image in frames)
    # The upscaled picture, not a blank one: the frame holds vtest.avi's first frame.
    first = next(read_frames(shared_data / "vtest.avi"))[1]
    small = cv2.resize(frames[0][1], first.shape[1::-1], interpolation=cv2.INTER_AREA)
    assert abs(small.astype(int) - first.astype(int)).mean() < 12
    capture = open_video(clip)
    tag = fourcc_text(capture.get(cv2.CAP_PROP_FOURCC))
    capture.release()
    if importlib.util.find_spec("av") is not None:
        assert codec.startswith("H.264") and tag in ("avc1", "h264"), (codec, tag)
    else:
        assert codec.startswith(("H.264", "MPEG-4 Part 2")), codec
