"""The one frame reader (grewkit.core.frames): every mode returns the frames a plain sequential decode does."""

from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest

from grewkit.core import frames as frames_module
from grewkit.core.errors import GrewkitError
from grewkit.core.frames import open_video, read_frame, read_frames, video_size

N = 40


def _write(path, fourcc: str, n: int = N):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 25.0, (96, 64))
    assert writer.isOpened(), fourcc
    rng = np.random.default_rng(1)
    for i in range(n):
        image = rng.integers(0, 255, (64, 96, 3), dtype=np.uint8)
        cv2.putText(image, str(i), (10, 45), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (255, 255, 255), 3)
        writer.write(image)
    writer.release()
    return path


def _sequential(path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    out = []
    while True:
        ok, image = capture.read()
        if not ok:
            return out
        out.append(image)


@pytest.fixture(scope="module", params=[("MJPG", ".avi"), ("mp4v", ".mp4")], ids=["mjpg-avi", "mp4v-mp4"])
def video(request, tmp_path_factory):
    fourcc, suffix = request.param
    path = _write(tmp_path_factory.mktemp("frames") / f"clip{suffix}", fourcc)
    reference = _sequential(path)
    assert len(reference) == N
    return path, reference


def _same(got, reference, indices):
    assert [i for i, _ in got] == list(indices)
    for i, image in got:
        np.testing.assert_array_equal(image, reference[i], err_msg=f"frame {i}")


def test_all_frames_every_kth_and_a_range(video):
    path, ref = video
    _same(list(read_frames(path)), ref, range(N))
    _same(list(read_frames(path, step=3)), ref, range(0, N, 3))
    # A range that starts past 0 seeks; the step counts from frame 0 of the video, not from start.
    _same(list(read_frames(path, start=13, stop=31, step=2)), ref, range(14, 31, 2))
    _same(list(read_frames(path, start=25)), ref, range(25, N))
    assert list(read_frames(path, start=5, stop=5)) == []


def test_a_set_of_frames(video):
    path, ref = video
    _same(list(read_frames(path, [0, 7, 8, 30, N - 1])), ref, [0, 7, 8, 30, N - 1])
    _same(list(read_frames(path, [17, 22])), ref, [17, 22])
    np.testing.assert_array_equal(read_frame(path, 21), ref[21])
    assert list(read_frames(path, [])) == []
    with pytest.raises(ValueError):
        list(read_frames(path, [5, 3]))


class _MisplacedSeek:
    """A capture whose seeks report landing one frame off, as some containers do."""

    def __init__(self, capture, log):
        self.capture, self.log = capture, log

    def set(self, prop, value):
        self.log.append(("seek", int(value)))
        return self.capture.set(prop, value)

    def get(self, prop):
        value = self.capture.get(prop)
        return value + 1 if prop == cv2.CAP_PROP_POS_FRAMES else value

    def __getattr__(self, name):
        return getattr(self.capture, name)


def test_a_seek_that_lands_elsewhere_falls_back_to_decoding_from_the_start(video, monkeypatch):
    path, ref = video
    log = []
    real_open = frames_module.open_video

    def opened(p):
        log.append(("open", None))
        return _MisplacedSeek(real_open(p), log)

    monkeypatch.setattr(frames_module, "open_video", opened)
    _same(list(read_frames(path, start=20, stop=26)), ref, range(20, 26))
    assert log == [("open", None), ("seek", 20), ("open", None)]  # opened again, no second seek
    log.clear()
    _same(list(read_frames(path, [3, 33])), ref, [3, 33])
    assert log == [("open", None), ("seek", 3), ("open", None)]


def test_a_seek_lands_where_asked(video):
    path, ref = video
    capture = open_video(path)
    capture.set(cv2.CAP_PROP_POS_FRAMES, 29)
    assert int(capture.get(cv2.CAP_PROP_POS_FRAMES)) == 29
    ok, image = capture.read()
    capture.release()
    assert ok
    np.testing.assert_array_equal(image, ref[29])
    assert video_size(path) == (96, 64)


def test_bad_files_give_one_line_errors_naming_them(tmp_path, video):
    path, _ = video
    missing = tmp_path / "gone.avi"
    with pytest.raises(GrewkitError) as err:
        list(read_frames(missing))
    assert str(missing) in str(err.value) and "\n" not in str(err.value)
    garbage = tmp_path / "garbage.avi"
    garbage.write_bytes(b"RIFF" + bytes(range(256)) * 8)
    with pytest.raises(GrewkitError) as err:
        list(read_frames(garbage))
    assert str(garbage) in str(err.value) and "cannot open" in str(err.value) and "\n" not in str(err.value)
    for call in (
        lambda: list(read_frames(path, stop=N + 5)),
        lambda: read_frame(path, N + 2),
        lambda: list(read_frames(path, [2, N])),
    ):
        with pytest.raises(GrewkitError) as err:
            call()
        message = str(err.value)
        assert message.startswith(f"{path}: video ends at frame {N}") and "\n" not in message


def test_vtest_frames_equal_a_sequential_decode(shared_data):
    """On real footage (PETS 2009, MPEG-4 v3 in AVI) seeks land exactly and every mode matches plain decoding."""
    path = shared_data / "vtest.avi"
    capture = cv2.VideoCapture(str(path))  # the default backend: FFmpeg on the machines grewkit runs on
    assert capture.getBackendName() == "FFMPEG"
    ref = []
    while len(ref) <= 420:
        ok, image = capture.read()
        assert ok
        ref.append(image)
    capture.release()
    _same(list(read_frames(path, [0, 150, 151, 397, 420])), ref, [0, 150, 151, 397, 420])
    _same(list(read_frames(path, start=301, stop=340, step=2)), ref, range(302, 340, 2))
    capture = open_video(path)
    capture.set(cv2.CAP_PROP_POS_FRAMES, 397)
    assert int(capture.get(cv2.CAP_PROP_POS_FRAMES)) == 397
    capture.release()


def test_decoding_ahead_yields_the_same_frames_in_order(video):
    path, ref = video
    for ahead in (1, 3, 64):
        _same(list(read_frames(path, ahead=ahead)), ref, range(N))
        _same(list(read_frames(path, start=13, stop=31, step=2, ahead=ahead)), ref, range(14, 31, 2))
        _same(list(read_frames(path, [0, 7, 8, 30, N - 1], ahead=ahead)), ref, [0, 7, 8, 30, N - 1])
    with pytest.raises(GrewkitError, match=f"video ends at frame {N}"):
        list(read_frames(path, stop=N + 5, ahead=2))
    with pytest.raises(ValueError, match="strictly increasing"):
        list(read_frames(path, [5, 3], ahead=2))


def _live_prefetchers() -> int:
    return sum(t.name == "grewkit-prefetch" for t in threading.enumerate())


def test_closing_early_stops_the_decoder_and_releases_the_video(video, monkeypatch):
    path, ref = video
    released = []
    real_open = frames_module.open_video

    class Recorded:
        def __init__(self, capture):
            self.capture = capture

        def release(self):
            released.append(True)
            return self.capture.release()

        def __getattr__(self, name):
            return getattr(self.capture, name)

    monkeypatch.setattr(frames_module, "open_video", lambda p: Recorded(real_open(p)))
    before = _live_prefetchers()
    frames = read_frames(path, ahead=2)
    got = [next(frames) for _ in range(3)]
    _same(got, ref, range(3))
    frames.close()  # the decoder thread is blocked on a full buffer here
    assert released == [True] and _live_prefetchers() == before
    # An exception in the caller's loop body closes it the same way.
    with pytest.raises(RuntimeError, match="caller"):
        for i, _ in read_frames(path, ahead=4):
            if i == 5:
                raise RuntimeError("caller")
    assert released == [True, True] and _live_prefetchers() == before


def test_prefetched_raises_the_producers_error_where_it_happened():
    closed = []

    def items():
        try:
            yield from range(3)
            raise OSError("disk gone")
        finally:
            closed.append(threading.current_thread().name)

    got = []
    with pytest.raises(OSError, match="disk gone"):
        for item in frames_module.prefetched(items(), 8):
            got.append(item)
    assert got == [0, 1, 2] and closed == ["grewkit-prefetch"]
    with pytest.raises(ValueError):
        list(frames_module.prefetched(iter([]), 0))
