"""Reading video frames: the one place grewkit decodes a video, always with OpenCV's FFmpeg backend.

Every stage reads through ``read_frames`` so that all of them see the same pixels for the same
frame number (two backends may decode the same file differently) and all of them check where a
seek landed: FFmpeg seeks frame-accurately in the containers grewkit has met (AVI with MJPG or
MPEG-4, MP4), but where the position does not come back exact the reader decodes from the
start instead, so a frame number always means the same image.

``read_frames(..., ahead=n)`` decodes in a background thread up to ``n`` frames ahead of the caller:
OpenCV's decoder releases the GIL, so on a machine with a core to spare the decoding of frame
i + 1 overlaps with whatever the caller does with frame i (the detector's inference, which also
releases it). The frames and their order are the same either way.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TypeVar

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
    path: str | Path,
    frames: Iterable[int] | None = None,
    *,
    start: int = 0,
    stop: int | None = None,
    step: int = 1,
    ahead: int = 0,
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(frame index, BGR frame)`` in order.

    With ``frames`` (increasing frame indices): exactly those frames. Otherwise the frames from
    ``start`` up to ``stop`` (exclusive; the end of the video when None) whose index is a multiple
    of ``step``. Frames in between are only grabbed (demuxed and decoded, not converted). A video
    that ends before a frame asked for (``frames``' last, or ``stop - 1``) raises GrewkitError.
    ``ahead`` > 0 decodes in a background thread, at most that many frames ahead (see ``prefetched``).
    """
    frames_read = _read_frames(path, frames, start=start, stop=stop, step=step)
    yield from prefetched(frames_read, ahead) if ahead > 0 else frames_read


T = TypeVar("T")


def prefetched(items: Iterable[T], ahead: int) -> Iterator[T]:
    """The items of ``items``, in order, produced by a background thread at most ``ahead`` items in advance.

    An exception in the producer is raised here, at the item where it happened. Closing this iterator
    early (a ``break``, an exception in the caller) stops the producer, which then closes ``items``
    itself (a generator must be closed by the thread that runs it): a video capture is released
    before this returns.
    """
    if ahead < 1:
        raise ValueError(f"ahead must be >= 1, got {ahead}")
    buffer: queue.Queue = queue.Queue(maxsize=ahead)
    stop = threading.Event()
    done = object()

    def put(entry) -> bool:
        # Waits for room in bounded slices so that a stop asked for while the buffer is full is seen.
        while not stop.is_set():
            try:
                buffer.put(entry, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        source = iter(items)
        try:
            for item in source:
                if not put((item, None)):
                    return
            put((done, None))
        except BaseException as exc:  # handed to the consumer, raised there
            put((None, exc))
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name="grewkit-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item, exc = buffer.get()
            if exc is not None:
                raise exc
            if item is done:
                return
            yield item
    finally:
        stop.set()
        worker.join()


def _read_frames(
    path: str | Path, frames: Iterable[int] | None, *, start: int, stop: int | None, step: int
) -> Iterator[tuple[int, np.ndarray]]:
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
