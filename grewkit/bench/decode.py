"""``grewkit bench decode``: CPU cost of decoding frames, the first cost of every per-video stage.

Writes a synthetic MJPG clip (textured noise, so JPEG does real work) at 768x576 and 1920x1080
into a temporary folder, then decodes each with OpenCV and reports CPU milliseconds per frame
(``time.process_time``, which a loaded machine does not inflate). docs/scaling.md uses these figures.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import click

from grewkit.bench.report import JSON_OPTION, emit, load_average, machine, markdown_table

RESOLUTIONS = ((768, 576), (1920, 1080))


def write_clip(path: Path, width: int, height: int, frames: int) -> None:
    import cv2
    import numpy as np

    rng = np.random.default_rng(0)
    base = cv2.GaussianBlur(rng.integers(0, 255, (height, width, 3), dtype=np.uint8), (0, 0), 3)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (width, height))
    for i in range(frames):
        writer.write(np.roll(base, 4 * i, axis=1))
    writer.release()


def decode_cpu_ms(path: Path) -> tuple[float, int]:
    """CPU milliseconds per frame of reading ``path`` to the end, and the frames read."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    n = 0
    started = time.process_time()
    while True:
        ok, _ = capture.read()
        if not ok:
            break
        n += 1
    capture.release()
    return 1000 * (time.process_time() - started) / max(n, 1), n


def decode_costs(frames: int) -> dict:
    import cv2

    cv2.setNumThreads(1)
    rows = []
    with tempfile.TemporaryDirectory(prefix="grewkit-bench-decode-") as tmp:
        for width, height in RESOLUTIONS:
            path = Path(tmp) / f"{width}x{height}.avi"
            write_clip(path, width, height, frames)
            ms, n = decode_cpu_ms(path)
            rows.append(
                {
                    "codec": "MJPG",
                    "resolution": f"{width}x{height}",
                    "cpu_ms_per_frame": round(ms, 2),
                    "frames": n,
                    "threads": 1,
                }
            )
    return {"machine": machine(), "load_avg_1min": load_average(), "rows": rows}


def markdown(result: dict) -> str:
    return f"machine: {result['machine']}; load average {result['load_avg_1min']}\n\n" + markdown_table(
        ["codec", "resolution", "CPU ms per frame (1 thread)", "frames"],
        [(r["codec"], r["resolution"], f"{r['cpu_ms_per_frame']:.2f}", r["frames"]) for r in result["rows"]],
    )


@click.command("decode")
@click.option("--frames", default=200, show_default=True, help="Frames of each synthetic clip.")
@JSON_OPTION
def bench_decode_command(frames, as_json):
    """CPU milliseconds per decoded frame of an MJPG clip at 768x576 and 1920x1080 (OpenCV, 1 thread).

    \b
    Example:
      grewkit bench decode --frames 200
    """
    emit(decode_costs(frames), as_json, markdown)
