#!/usr/bin/env python3
"""Tracking figures: MOT metrics on TUD-Campus and the speed of the real pipeline on vtest.avi.

    .venv/bin/python tools/bench_track.py --shared-data ../shared/data

1. Checks the metric code first: motmetrics' bundled tracker output (motmetrics_tud test.txt)
   against gt.txt must give the published reference scores (MOTA 52.65 %, IDF1 55.77 %, 7 ID
   switches on TUD-Campus); the script stops if it does not.
2. TUD-Campus: SSDLite + ByteTrack with the default [detect]/[track] settings, and ByteTrack on
   the public detections (det.txt scores are raw DPM margins, mapped to min(1, score / 50)).
3. vtest.avi (795 frames): `grewkit ingest`, `detect` and `track` run for real on a temporary
   project (serial executor, one process, one inference thread), timed against a pure decode of
   the same file in the same run.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from grewkit.core.executors import make_executor
from grewkit.core.project import Project
from grewkit.core.runner import run_stage
from grewkit.detect.registry import make_detector
from grewkit.detect.video import iter_frames
from grewkit.ingest.command import ingest
from grewkit.track.evaluate import read_mot, score_mot_files
from grewkit.track.mot_data import MotSequence, detect_sequence, track_to_mot
from grewkit.track.settings import TrackSettings

REFERENCE = {"TUD-Campus": (0.5265, 0.5577, 7), "TUD-Stadtmitte": (0.5640, 0.6446, 7)}


def fmt(r: dict) -> str:
    return (f"{100 * r['mota']:.2f} % | {100 * r['idf1']:.2f} % | {int(r['num_switches'])} | "
            f"{int(r['num_false_positives'])} | {int(r['num_misses'])} | {int(r['mostly_tracked'])}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared-data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data")
    ap.add_argument("--vtest-frames", type=int, default=0, help="Limit vtest.avi to this many frames (0: all 795).")
    ap.add_argument("--strides", default="1,3", help="[detect] stride values for the vtest.avi pipeline runs.")
    ap.add_argument("--workers", type=int, default=1,
                    help="1: serial executor; more: the local process pool with that many workers (chunked detect).")
    ap.add_argument("--skip-tud", action="store_true", help="Only the vtest.avi pipeline runs.")
    args = ap.parse_args()
    data = args.shared_data
    print(f"machine: {platform.node()} {platform.machine()}, python {platform.python_version()}")

    if not args.skip_tud:
        tud_figures(data)
    for stride in map(int, args.strides.split(",")):
        vtest_pipeline(data, stride=stride, max_frames=args.vtest_frames, workers=args.workers)


def tud_figures(data: Path) -> None:
    rows = []
    for name, (mota, idf1, sw) in REFERENCE.items():
        r = score_mot_files(read_mot(data / "motmetrics_tud" / name / "gt.txt"),
                            read_mot(data / "motmetrics_tud" / name / "test.txt"))
        ok = abs(r["mota"] - mota) < 5e-5 and abs(r["idf1"] - idf1) < 5e-5 and int(r["num_switches"]) == sw
        rows.append((f"reference check {name}: motmetrics' test.txt (expect {100 * mota:.2f} / {100 * idf1:.2f} / {sw})", r))
        if not ok:
            raise SystemExit(f"metric check failed on {name}: {r}")

    seq = MotSequence.open(data / "tud_campus")
    settings = TrackSettings()
    det = make_detector("ssdlite", threads=1)
    t = time.perf_counter()
    f, b, s = detect_sequence(seq, det, min_score=0.1)
    t_det = time.perf_counter() - t
    track_to_mot(f[:0], b[:0], s[:0], n_frames=1, fps=seq.fps, settings=settings)  # imports out of the timing
    t = time.perf_counter()
    hyp = track_to_mot(f, b, s, n_frames=len(seq.frames), fps=seq.fps, settings=settings)
    t_trk = time.perf_counter() - t
    rows.append(("TUD-Campus: SSDLite + ByteTrack (defaults)", score_mot_files(seq.gt, hyp)))
    pub = seq.public_detections()
    hyp = track_to_mot(pub.frame - 1, pub.xyxy, np.clip(pub.score / 50.0, 0, 1), n_frames=len(seq.frames),
                       fps=seq.fps, settings=settings)
    rows.append(("TUD-Campus: public det.txt + ByteTrack (defaults)", score_mot_files(seq.gt, hyp)))
    print("\n| run | MOTA | IDF1 | ID switches | FP | misses | mostly tracked (of 8) |\n|---|---|---|---|---|---|---|")
    for label, r in rows:
        print(f"| {label} | {fmt(r)} |")
    print("\nTUD-Campus, SSDLite + ByteTrack when detecting every n-th frame (boxes between are interpolated):")
    print("| stride | MOTA | IDF1 | ID switches | FP | misses | mostly tracked |\n|---|---|---|---|---|---|---|")
    for stride in (1, 2, 3, 4):
        k = f % stride == 0
        r = score_mot_files(seq.gt, track_to_mot(f[k], b[k], s[k], n_frames=len(seq.frames), fps=seq.fps,
                                                 settings=settings, stride=stride))
        print(f"| {stride} | {fmt(r)} |")
    print(f"\nTUD-Campus timing: detect {len(seq.frames) / t_det:.1f} frames/s, track {len(seq.frames) / t_trk:.0f} frames/s")



def vtest_pipeline(data: Path, *, stride: int, max_frames: int, workers: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "footage"
        src.mkdir()
        (src / "pets_vtest.avi").symlink_to((data / "vtest.avi").resolve())
        (src / "cameras.csv").write_text("camera_id,site,view,width,height\npets,pets2009,elevated,768,576\n")
        project = Project.init(Path(tmp) / "proj")
        text = project.settings_path.read_text().replace("max_frames = 0", f"max_frames = {max_frames}")
        project.settings_path.write_text(text.replace("stride = 1", f"stride = {stride}"))
        assert project.settings.section("detect").stride == stride
        t, c = time.perf_counter(), time.process_time()
        n_decoded = sum(1 for _ in iter_frames(src / "pets_vtest.avi", max_frames=max_frames))
        t_decode, c_decode = time.perf_counter() - t, time.process_time() - c
        timings, cpu = {}, {}
        with make_executor("serial" if workers == 1 else "local", workers) as ex:
            ingest(project, [src], cameras=src / "cameras.csv")
            for stage in ("ingest", "detect", "track"):
                t, c = time.perf_counter(), time.process_time()
                summary = run_stage(project, stage, executor=ex, show_progress=False)
                timings[stage], cpu[stage] = time.perf_counter() - t, time.process_time() - c
                if summary.failed:
                    raise SystemExit(f"{stage} failed: {summary.failed}")
        tracklets = project.read("tracklets").to_pandas()
        boxes = project.read("boxes")
        kept = tracklets[tracklets.kept]
        ratio = (timings["detect"] + timings["track"]) / t_decode
        how = "serial executor" if workers == 1 else f"local executor, {workers} workers"
        print(f"\nvtest.avi, {n_decoded} frames 768x576, [detect] stride {stride}, {how}, 1 inference thread each:")
        # CPU seconds of this process: only meaningful with the serial executor (workers' time is not counted).
        serial = workers == 1
        print("| step | wall s | frames/s | x pure decode (wall) |" + (" CPU s | x pure decode (CPU) |" if serial else "")
              + "\n|---|---|---|---|" + ("---|---|" if serial else ""))
        extra = f" {c_decode:.2f} | 1.00 |" if serial else ""
        print(f"| decode only (cv2, read every frame) | {t_decode:.2f} | {n_decoded / t_decode:.0f} | 1.00 |{extra}")
        for stage in ("ingest", "detect", "track"):
            extra = f" {cpu[stage]:.2f} | {cpu[stage] / c_decode:.2f} |" if serial else ""
            print(f"| grewkit {stage} | {timings[stage]:.2f} | {n_decoded / timings[stage]:.1f} | "
                  f"{timings[stage] / t_decode:.2f} |{extra}")
        both_cpu = cpu["detect"] + cpu["track"]
        extra = f" {both_cpu:.2f} | {both_cpu / c_decode:.2f} |" if serial else ""
        print(f"| detect + track | {timings['detect'] + timings['track']:.2f} | "
              f"{n_decoded / (timings['detect'] + timings['track']):.1f} | {ratio:.2f} |{extra}")
        reasons = tracklets.filter_reason.dropna().str.split("; ").explode().str.split(":").str[0].value_counts()
        print(f"\ntracklets: {len(tracklets)} found, {len(kept)} kept ({int(kept.n_frames.sum())} boxes, "
              f"median length {kept.n_frames.median():.0f} frames, median box height {kept.mean_box_height.median():.0f} px); "
              f"{boxes.num_rows} boxes in all; drop reasons: " + ", ".join(f"{k} {v}" for k, v in reasons.items()))


if __name__ == "__main__":
    main()
