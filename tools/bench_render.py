"""Render benchmarks on real footage (TUD-Campus, ground-truth tracks as tracklets).

    .venv/bin/python tools/bench_render.py --shared-data /work/shared/data [--workers 2]

1. Size normalisation: grewkit's ``normalise_frames`` against two per-frame implementations of
   OpenGait's algorithm on the same 157-frame sequences of real mediapipe masks (identical output
   checked): a transcription of OpenGait's loop, and a vectorised per-frame numpy version.
2. Per-crop and per-tracklet time of each step of ``render_tracklet`` (one process).
3. Throughput of ``grewkit render`` (the runner with the local executor) on all kept tracklets.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the TUD-Campus project builder shared with the tests

from render_inputs import tud_project  # noqa: E402

from grewkit.core.executors import LocalExecutor  # noqa: E402
from grewkit.core.project import Project  # noqa: E402
from grewkit.core.runner import run_stage  # noqa: E402
from grewkit.core.frames import read_frames  # noqa: E402
from grewkit.render.crops import make_crop  # noqa: E402
from grewkit.render.pose import MediapipePerson  # noqa: E402
from grewkit.render.pretreatment import normalise_frames  # noqa: E402
from grewkit.render.settings import RenderSettings  # noqa: E402
from grewkit.render.stage import render_tracklet  # noqa: E402

GREW_MEAN_FRAMES = 157


def opengait_loop(masks, r):
    """OpenGait's per-frame pretreatment as written there (Python loop over columns)."""
    out = []
    for img in masks:
        if img.sum() <= 10000:
            continue
        y_sum = img.sum(axis=1)
        y_top = (y_sum != 0).argmax(axis=0)
        y_btm = (y_sum != 0).cumsum(axis=0).argmax(axis=0)
        img = img[y_top:y_btm + 1, :]
        ratio = img.shape[1] / img.shape[0]
        img = cv2.resize(img, (int(r * ratio), r), interpolation=cv2.INTER_CUBIC)
        x_csum = img.sum(axis=0).cumsum()
        x_center = None
        for idx, csum in enumerate(x_csum):
            if csum > img.sum() / 2:
                x_center = idx
                break
        if not x_center:
            continue
        half = r // 2
        left, right = x_center - half, x_center + half
        if left <= 0 or right >= img.shape[1]:
            left += half
            right += half
            pad = np.zeros((img.shape[0], half))
            img = np.concatenate([pad, img, pad], axis=1)
        out.append(img[:, left:right].astype("uint8"))
    return np.stack(out)


def numpy_per_frame(masks, r):
    """The same algorithm per frame and per height, vectorised within the frame (no Python column loop)."""
    out = []
    for img in masks:
        if img.sum() <= 10000:
            continue
        rows = np.flatnonzero(img.sum(axis=1))
        img = img[rows[0]:rows[-1] + 1]
        img = cv2.resize(img, (int(r * (img.shape[1] / img.shape[0])), r), interpolation=cv2.INTER_CUBIC)
        csum = img.sum(axis=0).cumsum()
        centre = int(np.argmax(csum > img.sum() / 2)) if csum[-1] > 0 else 0
        if centre == 0:
            continue
        padded = np.pad(img, ((0, 0), (r // 2, r // 2)))
        out.append(padded[:, centre:centre + r].astype(np.uint8))
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


def bench_pretreatment(project, repeat):
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
            dt, ref = best_of(lambda: opengait_loop(masks, r), repeat)
            t_loop += dt
            assert np.array_equal(ref, fast[r].frames), "grewkit differs from OpenGait's loop"
            dt, ref2 = best_of(lambda: numpy_per_frame(masks, r), repeat)
            t_np += dt
            assert np.array_equal(ref2, fast[r].frames), "grewkit differs from the numpy per-frame version"
    n = len(seqs)
    print(f"\n## size normalisation, 64 and 128, {n} sequences x {GREW_MEAN_FRAMES} frames of real mediapipe masks "
          f"(256x128), best of {repeat}, process CPU time (threads=2: wall time); outputs identical")
    print(f"grewkit normalise_frames     {1000 * t_fast / n:8.2f} ms/sequence  (1 thread)")
    print(f"grewkit, threads=2           {1000 * t_threads / n:8.2f} ms/sequence  ({t_fast / t_threads:.1f}x; wall, so only meaningful on an idle machine)")
    print(f"OpenGait loop, per frame     {1000 * t_loop / n:8.2f} ms/sequence  ({t_loop / t_fast:.1f}x grewkit's CPU time)")
    print(f"numpy per frame, per height  {1000 * t_np / n:8.2f} ms/sequence  ({t_np / t_fast:.1f}x grewkit's CPU time)")


def bench_steps(project, segmenter, timer=time.process_time):
    settings = RenderSettings(segmenter=segmenter)
    boxes = project.read("boxes").to_pandas()
    kept = [t["tracklet_id"] for t in project.read("tracklets").to_pylist() if t["kept"]]
    totals: dict[str, float] = {}
    crops = 0
    per_tracklet = []
    for tid in kept:
        rows = boxes[boxes.tracklet_id == tid].sort_values("frame")
        t = time.perf_counter()
        result = render_tracklet(project.root / "media" / "tud.avi", rows.frame.to_numpy(),
                                 rows[["x1", "y1", "x2", "y2"]].to_numpy(), settings, name=tid, timer=timer)
        per_tracklet.append((time.perf_counter() - t) / result.crops)
        crops += result.crops
        for k, v in result.seconds.items():
            totals[k] = totals.get(k, 0.0) + v
    total = sum(totals.values())
    print(f"\n## render_tracklet steps, segmenter={segmenter}, all modalities, one process, {len(kept)} tracklets, "
          f"{crops} crops; process CPU time (all threads), so a busy machine does not inflate it")
    print(f"{'step':14s} {'CPU ms/crop':>12s} {'CPU s per 157-frame seq':>24s}")
    for k, v in sorted(totals.items(), key=lambda kv: -kv[1]):
        print(f"{k:14s} {1000 * v / crops:12.2f} {GREW_MEAN_FRAMES * v / crops:24.2f}")
    print(f"{'total':14s} {1000 * total / crops:12.2f} {GREW_MEAN_FRAMES * total / crops:24.2f}")
    print(f"=> on 2 dedicated cores (one tracklet per core): {GREW_MEAN_FRAMES * total / crops / 2:.2f} s per "
          f"{GREW_MEAN_FRAMES}-frame sequence")
    print(f"wall per crop, median over tracklets (incl. model start): {1000 * statistics.median(per_tracklet):.1f} ms "
          f"(load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")


def bench_stage(shared, workers):
    root = Path(tempfile.mkdtemp(prefix="bench-render-"))
    try:
        project = Project.init(root / "proj")
        tud_project(project, shared, ids=(1, 2, 3, 4, 5, 7, 8))
        crops = sum(t["n_frames"] for t in project.read("tracklets").to_pylist() if t["kept"])
        t = time.perf_counter()
        with LocalExecutor(workers=workers) as executor:
            summary = run_stage(project, "render", executor=executor, show_progress=False)
        dt = time.perf_counter() - t
        print(f"\n## grewkit render (runner, local executor, {workers} workers), all modalities: {summary.line()}")
        print(f"{crops} crops in {dt:.1f} s: {1000 * dt / crops:.1f} ms/crop wall, "
              f"{GREW_MEAN_FRAMES * dt / crops:.2f} s per {GREW_MEAN_FRAMES}-frame sequence "
              f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared-data", type=Path, default=Path(os.environ.get("GREWKIT_SHARED_DATA", REPO.parent / "shared" / "data")))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip", nargs="*", default=[], choices=["pretreatment", "steps", "mog2", "stage"])
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs visible, cv2 {cv2.__version__}, numpy {np.__version__}")
    root = Path(tempfile.mkdtemp(prefix="bench-render-"))
    try:
        project = Project.init(root / "proj")
        tud_project(project, args.shared_data, ids=(3, 4, 5, 7))
        if "pretreatment" not in args.skip:
            bench_pretreatment(project, args.repeat)
        if "steps" not in args.skip:
            bench_steps(project, "mediapipe")
        if "mog2" not in args.skip:
            bench_steps(project, "mog2")
            bench_steps(project, "mediapipe+mog2")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if "stage" not in args.skip:
        bench_stage(args.shared_data, args.workers)


if __name__ == "__main__":
    main()
