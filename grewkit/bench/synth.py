"""``grewkit bench synth``: frames per second of ``grewkit synth`` generation against a write-only baseline.

Reports CPU seconds (``time.process_time``), which a shared machine's load does not inflate, and
wall seconds. The baseline writes the camera's background with the same noise and writer, no
people: the ratio says what the world costs on top of encoding the video.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import click

from grewkit.bench.report import JSON_OPTION, emit, load_average, machine, markdown_table


def generation_speed(*, frames: int, identities: int, camera: int) -> dict:
    import cv2

    # The only place the benches reach into the synthetic renderer.
    from grewkit.synth.camera_view import CameraRenderer
    from grewkit.synth.generate import VideoFile, _open_writer, render_camera
    from grewkit.synth.world import SynthConfig, build_world

    config = SynthConfig(cameras=4, identities=identities, seconds=60.0, seed=0)
    world = build_world(config)
    with tempfile.TemporaryDirectory(prefix="grewkit-bench-synth-") as tmp:
        video = VideoFile("bench", "bench", Path(tmp) / "bench.avi", 0, 0, frames, None)
        c0 = time.process_time()
        renderer = CameraRenderer(world, camera)
        setup = time.process_time() - c0
        writer, _ = _open_writer(Path(tmp) / "base.avi", config)
        c1, w1 = time.process_time(), time.perf_counter()
        for f in range(frames):
            img = renderer.background.copy()
            pos, neg = renderer.noise[f % len(renderer.noise)]
            writer.write(cv2.subtract(cv2.add(img, pos), neg))
        writer.release()
        base_cpu, base_wall = time.process_time() - c1, time.perf_counter() - w1
        c2, w2 = time.process_time(), time.perf_counter()
        truth = render_camera(world, camera, [video])
        full_cpu, full_wall = time.process_time() - c2, time.perf_counter() - w2
    return {
        "machine": machine(),
        "load_avg_1min": load_average(),
        "camera": camera,
        "frames": frames,
        "resolution": f"{config.width}x{config.height}",
        "identities": identities,
        "people_per_frame": len(truth.box_rows["walk"]) / frames,
        "setup_cpu_s": setup,
        "baseline_fps_cpu": frames / base_cpu,
        "baseline_fps_wall": frames / base_wall,
        "full_fps_cpu": frames / full_cpu,
        "full_fps_wall": frames / full_wall,
        "cpu_ratio": full_cpu / base_cpu,
    }


def markdown(r: dict) -> str:
    return (
        f"machine: {r['machine']}; load average {r['load_avg_1min']}\n"
        f"camera {r['camera']}, {r['frames']} frames {r['resolution']}, {r['people_per_frame']:.1f} people per frame "
        f"on average; camera setup (background, noise bank) {r['setup_cpu_s']:.2f} CPU s\n\n"
        + markdown_table(
            ["run", "frames per CPU s", "frames per wall s", "CPU time x baseline"],
            [
                ("write-only baseline", f"{r['baseline_fps_cpu']:.1f}", f"{r['baseline_fps_wall']:.1f}", "1.00"),
                (
                    "full generation (camera setup included)",
                    f"{r['full_fps_cpu']:.1f}",
                    f"{r['full_fps_wall']:.1f}",
                    f"{r['cpu_ratio']:.2f}",
                ),
            ],
        )
    )


@click.command("synth")
@click.option("--frames", default=300, show_default=True, help="Frames to generate of the camera.")
@click.option("--identities", default=40, show_default=True, help="People in the 4-camera, 60 s world.")
@click.option("--camera", default=0, show_default=True, help="Which camera of the world to generate.")
@JSON_OPTION
def bench_synth_command(frames, identities, camera, as_json):
    """Generation speed of one synthetic camera at 640x480 against writing its bare background.

    \b
    Example:
      grewkit bench synth --frames 300
    """
    emit(generation_speed(frames=frames, identities=identities, camera=camera), as_json, markdown)
