"""``grewkit bench render``: render speed on real footage (TUD-Campus, ground-truth tracks as tracklets).

1. Size normalisation: grewkit's ``normalise_frames`` against two per-frame implementations of
   OpenGait's algorithm on the same 157-frame sequences of real mediapipe masks (identical output
   checked): the test suite's transcription of OpenGait's loop (tests/test_render_pretreatment.py,
   so only in a checkout), and a vectorised per-frame numpy version.
2. Per-crop and per-tracklet time of each step of ``render_tracklet`` (one process).
3. Throughput of ``grewkit render`` (the runner with the local executor) on all kept tracklets.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import click
import numpy as np

from grewkit.bench.data import SHARED_DATA_OPTION, require
from grewkit.bench.report import JSON_OPTION, emit, load_average, machine, markdown_table

GREW_MEAN_FRAMES = 157
PARTS = ("pretreatment", "steps", "mog2", "stage")


def opengait_reference():
    """The tests' transcription of OpenGait's pretreatment, ``fn(masks, height) -> (frames, kept)``; None outside a checkout."""
    path = Path(__file__).resolve().parents[2] / "tests" / "test_render_pretreatment.py"
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location("_grewkit_opengait_reference", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except ImportError:  # the test extra (pytest) is not installed
        return None
    return module.reference_pretreatment


def numpy_per_frame(masks, r):
    """OpenGait's algorithm per frame and per height, vectorised within the frame (no Python column loop)."""
    import cv2

    out = []
    for img in masks:
        if img.sum() <= 10000:
            continue
        rows = np.flatnonzero(img.sum(axis=1))
        img = img[rows[0] : rows[-1] + 1]
        img = cv2.resize(img, (int(r * (img.shape[1] / img.shape[0])), r), interpolation=cv2.INTER_CUBIC)
        csum = img.sum(axis=0).cumsum()
        centre = int(np.argmax(csum > img.sum() / 2)) if csum[-1] > 0 else 0
        if centre == 0:
            continue
        padded = np.pad(img, ((0, 0), (r // 2, r // 2)))
        out.append(padded[:, centre : centre + r].astype(np.uint8))
    return np.stack(out)


def best_of(fn, repeat, timer=time.process_time):
    """Best of ``repeat`` runs; CPU time by default, so other work on a shared machine does not count."""
    times = []
    for _ in range(repeat):
        t = timer()
        result = fn()
        times.append(timer() - t)
    return min(times), result


def real_masks(project, tracklets) -> list[np.ndarray]:
    """mediapipe masks (256x128 crops) of the given tracklets, each tiled to GREW's mean length."""
    import cv2

    from grewkit.core.frames import read_frames
    from grewkit.render.crops import make_crop
    from grewkit.render.pose import MediapipePerson

    boxes = project.read("boxes").to_pandas()
    video = project.root / "media" / "tud.avi"
    seqs = []
    for tid in tracklets:
        rows = boxes[boxes.tracklet_id == tid].sort_values("frame")
        by_frame = {int(r.frame): np.array([r.x1, r.y1, r.x2, r.y2]) for r in rows.itertuples()}
        masks = []
        with MediapipePerson() as model:
            for index, bgr in read_frames(video, start=min(by_frame), stop=max(by_frame) + 1):
                if index in by_frame:
                    crop = make_crop(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), index, by_frame[index], 0.1)
                    res = model.process(crop.image)
                    mask = res.mask if res.mask is not None else np.zeros(crop.image.shape[:2], np.float32)
                    masks.append(np.where(mask > 0.5, 255, 0).astype(np.uint8))
        masks = np.stack(masks)
        seqs.append(np.concatenate([masks] * (GREW_MEAN_FRAMES // len(masks) + 1))[:GREW_MEAN_FRAMES])
    return seqs


def bench_pretreatment(project, repeat) -> dict:
    from grewkit.render.pretreatment import normalise_frames

    reference = opengait_reference()
    seqs = real_masks(project, ["tud-3", "tud-4", "tud-5"])
    heights = (64, 128)
    t_fast = t_loop = t_np = t_threads = 0.0
    for masks in seqs:
        dt, fast = best_of(lambda: normalise_frames(masks, heights), repeat)
        t_fast += dt
        dt, fast2 = best_of(lambda: normalise_frames(masks, heights, threads=2), repeat, timer=time.perf_counter)
        t_threads += dt
        assert all(np.array_equal(fast[r].frames, fast2[r].frames) for r in heights)
        for r in heights:
            if reference is not None:
                dt, (ref, _) = best_of(lambda: reference(masks, r), repeat)
                t_loop += dt
                assert np.array_equal(ref, fast[r].frames), "grewkit differs from OpenGait's loop"
            dt, ref2 = best_of(lambda: numpy_per_frame(masks, r), repeat)
            t_np += dt
            assert np.array_equal(ref2, fast[r].frames), "grewkit differs from the numpy per-frame version"
    n = len(seqs)
    return {
        "sequences": n,
        "frames": GREW_MEAN_FRAMES,
        "repeat": repeat,
        "grewkit_ms": 1000 * t_fast / n,
        "grewkit_threads2_wall_ms": 1000 * t_threads / n,
        "opengait_loop_ms": 1000 * t_loop / n if reference is not None else None,
        "numpy_per_frame_ms": 1000 * t_np / n,
    }


def bench_steps(project, segmenter, timer=time.process_time) -> dict:
    from grewkit.render.settings import RenderSettings
    from grewkit.render.stage import render_tracklet

    settings = RenderSettings(segmenter=segmenter)
    boxes = project.read("boxes").to_pandas()
    kept = [t["tracklet_id"] for t in project.read("tracklets").to_pylist() if t["kept"]]
    totals: dict[str, float] = {}
    crops = 0
    per_tracklet = []
    for tid in kept:
        rows = boxes[boxes.tracklet_id == tid].sort_values("frame")
        t = time.perf_counter()
        result = render_tracklet(
            project.root / "media" / "tud.avi",
            rows.frame.to_numpy(),
            rows[["x1", "y1", "x2", "y2"]].to_numpy(),
            settings,
            name=tid,
            timer=timer,
        )
        per_tracklet.append((time.perf_counter() - t) / result.crops)
        crops += result.crops
        for k, v in result.seconds.items():
            totals[k] = totals.get(k, 0.0) + v
    return {
        "segmenter": segmenter,
        "tracklets": len(kept),
        "crops": crops,
        "cpu_s": dict(sorted(totals.items(), key=lambda kv: -kv[1])),
        "median_wall_ms_per_crop": 1000 * statistics.median(per_tracklet),
        "load_avg_1min": load_average(),
    }


def bench_stage(shared, workers) -> dict:
    from grewkit.bench.tud_project import tud_project
    from grewkit.core.executors import LocalExecutor
    from grewkit.core.project import Project
    from grewkit.core.runner import run_stage

    root = Path(tempfile.mkdtemp(prefix="grewkit-bench-render-"))
    try:
        project = Project.init(root / "proj")
        tud_project(project, shared, ids=(1, 2, 3, 4, 5, 7, 8))
        crops = sum(t["n_frames"] for t in project.read("tracklets").to_pylist() if t["kept"])
        t = time.perf_counter()
        with LocalExecutor(workers=workers) as executor:
            summary = run_stage(project, "render", executor=executor, show_progress=False)
        return {
            "workers": workers,
            "summary": summary.line(),
            "crops": crops,
            "wall_s": time.perf_counter() - t,
            "load_avg_1min": load_average(),
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)


def render_speed(shared: Path, *, workers: int, repeat: int, skip: set[str]) -> dict:
    import cv2

    from grewkit.bench.tud_project import tud_project
    from grewkit.core.project import Project

    require(shared / "tud_campus", "TUD-Campus folder")
    result = {
        "machine": machine(),
        "cpus": os.cpu_count(),
        "versions": f"cv2 {cv2.__version__}, numpy {np.__version__}",
        "pretreatment": None,
        "steps": [],
        "stage": None,
    }
    root = Path(tempfile.mkdtemp(prefix="grewkit-bench-render-"))
    try:
        project = Project.init(root / "proj")
        tud_project(project, shared, ids=(3, 4, 5, 7))
        if "pretreatment" not in skip:
            result["pretreatment"] = bench_pretreatment(project, repeat)
        if "steps" not in skip:
            result["steps"].append(bench_steps(project, "mediapipe"))
        if "mog2" not in skip:
            result["steps"] += [bench_steps(project, "mog2"), bench_steps(project, "mediapipe+mog2")]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if "stage" not in skip:
        result["stage"] = bench_stage(shared, workers)
    return result


def markdown(result: dict) -> str:
    parts = [f"machine: {result['machine']}; {result['versions']}"]
    p = result["pretreatment"]
    if p:
        fast = p["grewkit_ms"]
        rows = [
            ("grewkit normalise_frames (1 thread)", f"{fast:.2f}", "1.0x"),
            (
                "grewkit, threads=2 (wall, so only meaningful on an idle machine)",
                f"{p['grewkit_threads2_wall_ms']:.2f}",
                f"{p['grewkit_threads2_wall_ms'] / fast:.2f}x (wall)",
            ),
        ]
        if p["opengait_loop_ms"] is not None:
            rows.append(
                ("OpenGait loop, per frame", f"{p['opengait_loop_ms']:.2f}", f"{p['opengait_loop_ms'] / fast:.1f}x")
            )
        rows.append(
            ("numpy per frame, per height", f"{p['numpy_per_frame_ms']:.2f}", f"{p['numpy_per_frame_ms'] / fast:.1f}x")
        )
        parts.append(
            f"## size normalisation, 64 and 128, {p['sequences']} sequences x {p['frames']} frames of real "
            f"mediapipe masks (256x128), best of {p['repeat']}, process CPU time; outputs identical"
            + (
                ""
                if p["opengait_loop_ms"] is not None
                else " (no OpenGait loop: tests/test_render_pretreatment.py is not here)"
            )
        )
        parts.append(markdown_table(["implementation", "ms/sequence", "x grewkit's CPU time"], rows))
    for s in result["steps"]:
        crops, total = s["crops"], sum(s["cpu_s"].values())
        rows = [(k, f"{1000 * v / crops:.2f}", f"{GREW_MEAN_FRAMES * v / crops:.2f}") for k, v in s["cpu_s"].items()]
        rows.append(("total", f"{1000 * total / crops:.2f}", f"{GREW_MEAN_FRAMES * total / crops:.2f}"))
        parts.append(
            f"## render_tracklet steps, segmenter={s['segmenter']}, all modalities, one process, "
            f"{s['tracklets']} tracklets, {crops} crops; process CPU time (all threads)"
        )
        parts.append(
            markdown_table(["step", "CPU ms/crop", f"CPU s per {GREW_MEAN_FRAMES}-frame seq"], rows) + "\n"
            f"=> on 2 dedicated cores (one tracklet per core): {GREW_MEAN_FRAMES * total / crops / 2:.2f} s per "
            f"{GREW_MEAN_FRAMES}-frame sequence\nwall per crop, median over tracklets (incl. model start): "
            f"{s['median_wall_ms_per_crop']:.1f} ms (load average {s['load_avg_1min']} on {result['cpus']} CPUs)"
        )
    st = result["stage"]
    if st:
        parts.append(
            f"## grewkit render (runner, local executor, {st['workers']} workers), all modalities: {st['summary']}\n"
            f"{st['crops']} crops in {st['wall_s']:.1f} s: {1000 * st['wall_s'] / st['crops']:.1f} ms/crop wall, "
            f"{GREW_MEAN_FRAMES * st['wall_s'] / st['crops']:.2f} s per {GREW_MEAN_FRAMES}-frame sequence "
            f"(load average {st['load_avg_1min']} on {result['cpus']} CPUs)"
        )
    return "\n\n".join(parts)


@click.command("render")
@SHARED_DATA_OPTION
@click.option("--workers", default=2, show_default=True, help="Local executor workers of the render-stage run.")
@click.option("--repeat", default=5, show_default=True, help="Size normalisation: best of this many runs.")
@click.option(
    "--skip",
    multiple=True,
    type=click.Choice(PARTS),
    help="Leave out a part (repeatable): pretreatment, steps (mediapipe), mog2 (mog2 and mediapipe+mog2 steps), stage.",
)
@JSON_OPTION
def bench_render_command(data, workers, repeat, skip, as_json):
    """Size normalisation against OpenGait's per-frame loop, render_tracklet's steps, and the render stage's throughput.

    \b
    Examples:
      grewkit bench render --shared-data ../shared/data --workers 2
      grewkit bench render --shared-data ../shared/data --skip pretreatment --skip steps --skip mog2
    """
    emit(render_speed(data, workers=workers, repeat=repeat, skip=set(skip)), as_json, markdown)
