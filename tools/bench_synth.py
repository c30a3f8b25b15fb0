"""Frames per second of `grewkit synth` generation at 640x480, against a write-only baseline in the same run.

    .venv/bin/python tools/bench_synth.py --frames 300

Reports CPU seconds (time.process_time), which a shared machine's load does not inflate, and wall
seconds. The baseline writes the camera's background with the same noise and writer, no people:
the ratio says what the world costs on top of encoding the video.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2

from grewkit.synth.generate import VideoFile, _open_writer, render_camera
from grewkit.synth.camera_view import CameraRenderer
from grewkit.synth.world import SynthConfig, build_world


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--identities", type=int, default=40)
    parser.add_argument("--camera", type=int, default=0)
    args = parser.parse_args()
    config = SynthConfig(cameras=4, identities=args.identities, seconds=60.0, seed=0)
    world = build_world(config)
    with tempfile.TemporaryDirectory() as tmp:
        video = VideoFile("bench", "bench", Path(tmp) / "bench.avi", 0, 0, args.frames, None)
        c0, w0 = time.process_time(), time.perf_counter()
        renderer = CameraRenderer(world, args.camera)
        setup = time.process_time() - c0
        writer, _ = _open_writer(Path(tmp) / "base.avi", config)
        c1, w1 = time.process_time(), time.perf_counter()
        for f in range(args.frames):
            img = renderer.background.copy()
            pos, neg = renderer.noise[f % len(renderer.noise)]
            writer.write(cv2.subtract(cv2.add(img, pos), neg))
        writer.release()
        base_cpu, base_wall = time.process_time() - c1, time.perf_counter() - w1
        c2, w2 = time.process_time(), time.perf_counter()
        truth = render_camera(world, args.camera, [video])
        full_cpu, full_wall = time.process_time() - c2, time.perf_counter() - w2
    people = len(truth.box_rows["walk"]) / args.frames
    print(f"camera {args.camera}, {args.frames} frames 640x480, {people:.1f} people per frame on average")
    print(f"  camera setup (background, noise bank): {setup:.2f} CPU s")
    print(f"  write-only baseline: {args.frames / base_cpu:.1f} frames per CPU s ({args.frames / base_wall:.1f} wall)")
    print(f"  full generation (camera setup included): {args.frames / full_cpu:.1f} frames per CPU s ({args.frames / full_wall:.1f} wall); "
          f"{full_cpu / base_cpu:.2f}x the baseline's CPU time")


if __name__ == "__main__":
    main()
