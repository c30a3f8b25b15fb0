"""Reading the frames of a registered video, every n-th one, with a clear error when it stops early."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from grewkit.core.errors import GrewkitError


def iter_frames(path: Path, *, stride: int = 1, max_frames: int = 0, expected: int | None = None,
                start: int = 0) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(frame index, BGR frame)`` for the frames from ``start`` (up to ``max_frames``, exclusive) whose
    index is a multiple of ``stride``; skipped frames are only grabbed."""
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    if not cap.isOpened():
        raise GrewkitError("cannot open the video (moved, deleted or damaged since ingest?)", path=path)
    try:
        index = 0
        if start > 0:
            # FFmpeg seeks frame-accurately in the containers checked (AVI MJPG/MPEG-4, MP4); where the
            # position does not come back exact, decode from the start instead.
            cap.set(cv2.CAP_PROP_POS_FRAMES, start)
            if int(cap.get(cv2.CAP_PROP_POS_FRAMES)) == start:
                index = start
            else:
                cap.release()
                cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
            while index < start and cap.grab():
                index += 1
        limit = max_frames if max_frames > 0 else None
        while limit is None or index < limit:
            if index % stride == 0:
                ok, frame = cap.read()
                if not ok:
                    break
                yield index, frame
            elif not cap.grab():
                break
            index += 1
    finally:
        cap.release()
    wanted = min(expected, limit) if expected is not None and limit is not None else expected
    if wanted is not None and index < wanted:
        raise GrewkitError(f"decoding stopped at frame {index} of {wanted} (the file changed since ingest?)", path=path)
