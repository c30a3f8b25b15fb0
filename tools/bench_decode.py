#!/usr/bin/env python3
"""CPU cost of decoding frames, the first cost of every per-video stage, at two resolutions.

    .venv/bin/python tools/bench_decode.py [--frames 200]

Writes a synthetic MJPG clip (textured noise, so JPEG does real work) at 768x576 and 1920x1080
into a temporary folder, then decodes each with OpenCV and reports CPU milliseconds per frame
(time.process_time, which a loaded machine does not inflate). docs/scaling.md uses these figures.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np


def clip(path: Path, width: int, height: int, frames: int) -> None:
    rng = np.random.default_rng(0)
    base = cv2.GaussianBlur(rng.integers(0, 255, (height, width, 3), dtype=np.uint8), (0, 0), 3)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (width, height))
    for i in range(frames):
        writer.write(np.roll(base, 4 * i, axis=1))
    writer.release()


def decode_ms(path: Path) -> tuple[float, int]:
    capture = cv2.VideoCapture(str(path))
    n = 0
    started = time.process_time()
    while True:
        ok, _ = capture.read()
        if not ok:
            break
        n += 1
    return 1000 * (time.process_time() - started) / max(n, 1), n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    with tempfile.TemporaryDirectory() as tmp:
        for width, height in ((768, 576), (1920, 1080)):
            path = Path(tmp) / f"{width}x{height}.avi"
            clip(path, width, height, args.frames)
            ms, n = decode_ms(path)
            print(f"MJPG {width}x{height}: {ms:.2f} CPU ms per frame over {n} frames (1 thread)")


if __name__ == "__main__":
    main()
