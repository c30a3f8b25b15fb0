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
import shutil
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
    args = ap.parse_args()
    data = args.shared_data
    print(f"machine: {platform.node()} {platform.machine()}, python {platform.python_version()}")

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
    print(f"\nTUD-Campus timing: detect {len(seq.frames) / t_det:.1f} frames/s, track {len(seq.frames) / t_trk:.0f} frames/s")

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "footage"
        src.mkdir()
        (src / "pets_vtest.avi").symlink_to((data / "vtest.avi").resolve())
        (src / "cameras.csv").write_text("camera_id,site,view,width,height\npets,pets2009,elevated,768,576\n")
        project = Project.init(Path(tmp) / "proj")
        if args.vtest_frames:
            text = project.settings_path.read_text().replace("max_frames = 0", f"max_frames = {args.vtest_frames}")
            project.settings_path.write_text(text)
        t = time.perf_counter()
        n_decoded = sum(1 for _ in iter_frames(src / "pets_vtest.avi", max_frames=args.vtest_frames))
        t_decode = time.perf_counter() - t
        timings = {}
        with make_executor("serial", 1) as ex:
            ingest(project, [src], cameras=src / "cameras.csv")
            for stage in ("ingest", "detect", "track"):
                t = time.perf_counter()
                summary = run_stage(project, stage, executor=ex, show_progress=False)
                timings[stage] = time.perf_counter() - t
                if summary.failed:
                    raise SystemExit(f"{stage} failed: {summary.failed}")
        tracklets = project.read("tracklets").to_pandas()
        boxes = project.read("boxes")
        kept = tracklets[tracklets.kept]
        ratio = (timings["detect"] + timings["track"]) / t_decode
        print(f"\nvtest.avi, {n_decoded} frames 768x576, serial executor, 1 inference thread:")
        print("| step | wall s | frames/s | x pure decode |\n|---|---|---|---|")
        print(f"| decode only (cv2, read every frame) | {t_decode:.2f} | {n_decoded / t_decode:.0f} | 1.00 |")
        for stage in ("ingest", "detect", "track"):
            print(f"| grewkit {stage} | {timings[stage]:.2f} | {n_decoded / timings[stage]:.1f} | "
                  f"{timings[stage] / t_decode:.2f} |")
        print(f"| detect + track | {timings['detect'] + timings['track']:.2f} | "
              f"{n_decoded / (timings['detect'] + timings['track']):.1f} | {ratio:.2f} |")
        reasons = tracklets.filter_reason.dropna().str.split("; ").explode().str.split(":").str[0].value_counts()
        print(f"\ntracklets: {len(tracklets)} found, {len(kept)} kept ({int(kept.n_frames.sum())} boxes, "
              f"median length {kept.n_frames.median():.0f} frames, median box height {kept.mean_box_height.median():.0f} px); "
              f"{boxes.num_rows} boxes in all; drop reasons: " + ", ".join(f"{k} {v}" for k, v in reasons.items()))
        shutil.rmtree(project.root, ignore_errors=True)


if __name__ == "__main__":
    main()
