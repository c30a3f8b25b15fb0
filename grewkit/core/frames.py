"""Reading video frames: the one place grewkit decodes a video, always with OpenCV's FFmpeg backend.

Every stage reads through ``read_frames`` so that all of them see the same pixels for the same
frame number (two backends may decode the same file differently) and all of them check where a
seek landed: FFmpeg seeks frame-accurately in the containers grewkit has met (AVI with MJPG or
MPEG-4, MP4), but where the position does not come back exact the reader decodes from the
start instead, so a frame number always means the same image.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np

from grewkit.core.errors import GrewkitError


def open_video(path: str | Path) -> cv2.VideoCapture:
    """An FFmpeg capture of ``path``; GrewkitError naming the file when it cannot be opened."""
    path = Path(path)
    if not path.is_file():
        raise GrewkitError("no such video file (moved or deleted since ingest?)", path=path)
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    if not capture.isOpened():
        capture.release()
        raise GrewkitError("cannot open the video (damaged, or not a video FFmpeg decodes)", path=path)
    return capture


def video_size(path: str | Path) -> tuple[int, int]:
    """(width, height) from the video's header."""
    capture = open_video(path)
    try:
        return int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    finally:
        capture.release()


def read_frames(
    path: str | Path, frames: Iterable[int] | None = None, *, start: int = 0, stop: int | None = None, step: int = 1
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(frame index, BGR frame)`` in order.

    With ``frames`` (increasing frame indices): exactly those frames. Otherwise the frames from
    ``start`` up to ``stop`` (exclusive; the end of the video when None) whose index is a multiple
    of ``step``. Frames in between are only grabbed (demuxed and decoded, not converted). A video
    that ends before a frame asked for (``frames``' last, or ``stop - 1``) raises GrewkitError.
    """
    path = Path(path)
    if frames is not None:
        wanted = [int(f) for f in frames]
        if any(b <= a for a, b in zip(wanted, wanted[1:])):
            raise ValueError("frames must be strictly increasing")
        if not wanted:
            return
        first, last, keep = wanted[0], wanted[-1], set(wanted).__contains__
    else:
        if step < 1:
            raise ValueError(f"step must be >= 1, got {step}")
        first, last = start, (None if stop is None else stop - 1)
        if last is not None and last < first:
            return
        keep = (lambda i: i % step == 0) if step > 1 else (lambda i: True)
    if first < 0:
        raise ValueError(f"frame indices start at 0, got {first}")
    capture = open_video(path)
    try:
        capture, index = _seek(capture, path, first)
        while last is None or index <= last:
            wanted_here = index >= first and keep(index)
            ok, image = capture.read() if wanted_here else (capture.grab(), None)
            if ok and wanted_here:
                yield index, image
            elif not ok:
                if last is None:
                    return
                raise GrewkitError(
                    f"video ends at frame {index}, before frame {last} that was asked for "
                    "(the file changed since ingest?)",
                    path=path,
                )
            index += 1
    finally:
        capture.release()


def read_frame(path: str | Path, index: int) -> np.ndarray:
    """One frame, BGR."""
    for _, image in read_frames(path, [index]):
        return image
    raise AssertionError("unreachable: read_frames raises when the frame is missing")


def _seek(capture: cv2.VideoCapture, path: Path, index: int) -> tuple[cv2.VideoCapture, int]:
    """Seek to frame ``index``; return the capture and the frame it will decode next (``index``, or 0 when
    the seek did not land exactly and the video was opened again to be decoded from the start)."""
    if index == 0:
        return capture, 0
    capture.set(cv2.CAP_PROP_POS_FRAMES, index)
    if int(capture.get(cv2.CAP_PROP_POS_FRAMES)) == index:
        return capture, index
    capture.release()
    return open_video(path), 0
