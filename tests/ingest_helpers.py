"""Small real video files for ingest/detect/track tests, written with OpenCV."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def write_video(
    path: Path,
    *,
    frames: int = 20,
    size: tuple[int, int] = (160, 120),
    fps: float = 25.0,
    fourcc: str = "MJPG",
    seed: int = 0,
) -> Path:
    """A moving bright rectangle on noise; MJPG in AVI unless told otherwise."""
    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
    assert writer.isOpened(), f"cannot write {path}"
    rng = np.random.default_rng(seed)
    for i in range(frames):
        img = rng.integers(0, 60, (h, w, 3), dtype=np.uint8)
        x = 5 + 3 * i
        cv2.rectangle(img, (x, 20), (x + 20, 80), (230, 230, 230), -1)
        writer.write(img)
    writer.release()
    return path
