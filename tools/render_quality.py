"""Silhouette and 2D-pose quality of ``grewkit render`` against a synthetic world's exact ground truth.

    .venv/bin/python tools/render_quality.py [--cameras 2 --identities 8 --seconds 20 --seed 0] [--tracked]

Generates the world with true masks (``grewkit synth --masks``) in a temporary folder, renders
its ground-truth tracklets with each segmenter and prints the mean IoU per crop (crop space,
before size normalisation) and, for mediapipe, PCK of the 2D keypoints against the true ones.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from grewkit.core.project import Project
from grewkit.core.executors import SerialExecutor
from grewkit.core.runner import run_stage
from grewkit.bench.render_quality import synthetic_quality, tracked_quality
from grewkit.render.settings import RenderSettings
from grewkit.synth.generate import generate
from grewkit.synth.world import SynthConfig


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cameras", type=int, default=2)
    parser.add_argument("--identities", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tracked", action="store_true",
                        help="Also run ingest, detect and track, and score the masks on the tracked boxes.")
    parser.add_argument("--only-tracked", action="store_true", help="Skip the ground-truth boxes part.")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="render-quality-"))
    try:
        project = Project.init(root / "proj")
        generate(project, SynthConfig(cameras=args.cameras, identities=args.identities, seconds=args.seconds,
                                      seed=args.seed), masks=True, show_progress=False)
        print(f"synthetic world: {args.cameras} cameras, {args.identities} identities, {args.seconds:g} s, seed {args.seed}")
        for segmenter, modalities in (() if args.only_tracked else
                                      (("mediapipe", ["sil", "pose2d"]), ("mog2", ["sil"]), ("mediapipe+mog2", ["sil"]))):
            t = time.perf_counter()
            report = synthetic_quality(project, RenderSettings(segmenter=segmenter, modalities=modalities))
            print(report.line() + f"  [{time.perf_counter() - t:.0f} s]")
            if report.pose_errors:
                print(f"  pose2d: PCK@0.05 {report.pck(0.05):.3f}, PCK@0.1 {report.pck(0.1):.3f} of box height, over "
                      f"{len(report.pose_errors)} visible true keypoints (missing = wrong)")
        if args.tracked or args.only_tracked:
            from grewkit.ingest.cli import ingest

            ingest(project, [project.root / "media" / "synth"], cameras=None)  # cameras come from synth
            for stage in ("ingest", "detect", "track"):
                summary = run_stage(project, stage, executor=SerialExecutor(), show_progress=False)
                print(summary.line(), summary.failed or "")
            print("on the tracked boxes (default detector and tracker), tracklets matched to true identities:")
            for segmenter in ("mediapipe", "mog2", "mediapipe+mog2"):
                report = tracked_quality(project, RenderSettings(segmenter=segmenter, modalities=["sil"]))
                print(report.line())
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
