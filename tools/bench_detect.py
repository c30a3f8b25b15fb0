#!/usr/bin/env python3
"""Detector comparison: precision/recall on TUD-Campus (ground truth) and speed on TUD-Campus and vtest.avi.

    .venv/bin/python tools/bench_detect.py --shared-data ../shared/data [--vtest-frames 200]

Prints a Markdown table (the one in docs/benchmarks.md). Speeds are detector time only
(frames are decoded beforehand), with decode speed of the same frames for comparison.
Every backend runs single-threaded, as each worker of `grewkit detect` does by default.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

from grewkit.detect.registry import make_detector
from grewkit.detect.video import iter_frames
from grewkit.track.mot_data import MotSequence, detection_scores

# The score at which each backend's boxes are used (SSDLite: [track] min_score; HOG: SVM margin 0; MOG2: any blob).
THRESHOLDS = {"ssdlite": 0.3, "hog": 0.5, "mog2": 0.0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared-data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data")
    ap.add_argument("--backends", default="ssdlite,hog,mog2")
    ap.add_argument("--vtest-frames", type=int, default=200)
    ap.add_argument("--json", type=Path, default=None, help="Also write the figures as JSON here.")
    args = ap.parse_args()
    seq = MotSequence.open(args.shared_data / "tud_campus")
    tud_images = [img for _, img in seq.images()]
    t = time.perf_counter()
    vtest = [img for _, img in iter_frames(args.shared_data / "vtest.avi", max_frames=args.vtest_frames)]
    vtest_decode_fps = len(vtest) / (time.perf_counter() - t)
    rows = []
    for name in args.backends.split(","):
        det = make_detector(name, threads=1)
        results = {}
        for label, images in (("tud", tud_images), ("vtest", vtest)):
            det.reset()
            frames, boxes, scores = [], [], []
            t = time.perf_counter()
            for i, img in enumerate(images):
                b = det.detect(img)
                frames.append(np.full(len(b), i)); boxes.append(b.xyxy); scores.append(b.scores)
            results[label] = {"fps": len(images) / (time.perf_counter() - t), "frames": np.concatenate(frames),
                              "boxes": np.concatenate(boxes), "scores": np.concatenate(scores)}
        th = THRESHOLDS.get(name, 0.3)
        r = results["tud"]
        pr = detection_scores(seq, r["frames"], r["boxes"], r["scores"], threshold=th)
        per_frame = float((results["vtest"]["scores"] >= th).sum()) / len(vtest)
        rows.append({"backend": name, "threshold": th, **{k: pr[k] for k in ("precision", "recall", "tp", "fp", "fn")},
                     "tud_fps": r["fps"], "vtest_fps": results["vtest"]["fps"], "vtest_boxes_per_frame": per_frame})
        if name == "ssdlite":
            for extra in (0.1, 0.5):
                pr = detection_scores(seq, r["frames"], r["boxes"], r["scores"], threshold=extra)
                rows.append({"backend": f"ssdlite @ {extra}", "threshold": extra,
                             **{k: pr[k] for k in ("precision", "recall", "tp", "fp", "fn")},
                             "tud_fps": float("nan"), "vtest_fps": float("nan"), "vtest_boxes_per_frame": float("nan")})
    print(f"machine: {platform.node()} {platform.processor() or platform.machine()}, "
          f"python {platform.python_version()}; vtest decode {vtest_decode_fps:.0f} frames/s ({len(vtest)} frames)")
    print("| backend | score >= | TUD-Campus precision @IoU0.5 | recall | TP/FP/FN | frames/s 640x480 (TUD) "
          "| frames/s 768x576 (vtest) | vtest boxes/frame |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        fps = "" if np.isnan(r["tud_fps"]) else f"{r['tud_fps']:.1f}"
        vfps = "" if np.isnan(r["vtest_fps"]) else f"{r['vtest_fps']:.1f}"
        bpf = "" if np.isnan(r["vtest_boxes_per_frame"]) else f"{r['vtest_boxes_per_frame']:.1f}"
        print(f"| {r['backend']} | {r['threshold']:g} | {r['precision']:.3f} | {r['recall']:.3f} | "
              f"{r['tp']}/{r['fp']}/{r['fn']} | {fps} | {vfps} | {bpf} |")
    if args.json:
        args.json.write_text(json.dumps({"vtest_decode_fps": vtest_decode_fps, "rows": rows}, indent=2, default=float))


if __name__ == "__main__":
    main()
