#!/usr/bin/env python3
"""Detect + track on the synthetic world, scored against its exact ground truth.

    .venv/bin/python tools/bench_detect_synth.py [--cameras 2 --identities 6 --seconds 10 --seed 0] [--backends ssdlite,mog2] [--no-cuts]

Generates the world with `grewkit synth` into a temporary project, then for each detector
backend runs ingest, detect and track (serial executor) and prints detector precision/recall
(IoU 0.5; all people, and people at least half visible), MOTA / IDF1 / ID switches, and the
purity of kept tracklets (goal: >= 0.98), also counting identity errors alone (identity purity).
"""

from __future__ import annotations

import argparse
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grewkit.core.executors import make_executor
from grewkit.core.project import Project
from grewkit.core.runner import run_stage
from grewkit.ingest.cli import ingest
from grewkit.bench.synth_tracking import evaluate_synth


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cameras", type=int, default=2)
    ap.add_argument("--identities", type=int, default=6)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--backends", default="ssdlite,mog2")
    ap.add_argument("--no-cuts", action="store_true", help="Track without the identity-switch cuts ([track] cut_switches = false).")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        world = Path(tmp) / "world"
        subprocess.run([sys.executable, "-m", "grewkit", "synth", str(world), "--cameras", str(args.cameras),
                        "--identities", str(args.identities), "--seconds", str(args.seconds), "--seed", str(args.seed),
                        "--quiet"], check=True)
        print(f"machine: {platform.node()} {platform.machine()}; world: {args.cameras} cameras, {args.identities} "
              f"identities, {args.seconds:g} s, seed {args.seed}")
        print("| backend | det precision | det recall | recall (>= 50 % visible) | MOTA | IDF1 | ID sw | "
              "tracklets kept/all | kept boxes | kept purity mean / min | kept >= 0.98 pure | kept identity purity mean / min | "
              "identities covered | detect+track s |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for backend in args.backends.split(","):
            root = Path(tmp) / backend
            shutil.copytree(world, root, ignore=shutil.ignore_patterns("state"))
            for stale in ("videos.parquet",):
                (root / "manifests" / stale).unlink(missing_ok=True)
            project = Project(root)
            text = project.settings_path.read_text().replace('backend = "ssdlite"', f'backend = "{backend}"')
            if args.no_cuts:
                if "\ncut_switches = true\n" not in text:
                    raise SystemExit("no 'cut_switches = true' in the world's grewkit.toml")
                text = text.replace("\ncut_switches = true\n", "\ncut_switches = false\n")
            project.settings_path.write_text(text)
            csv = root / "media" / "synth" / "cameras.csv"
            with make_executor("serial", 1) as ex:
                ingest(project, [root / "media" / "synth"], cameras=csv)
                run_stage(project, "ingest", executor=ex, show_progress=False)
                t = time.perf_counter()
                for stage in ("detect", "track"):
                    summary = run_stage(project, stage, executor=ex, show_progress=False)
                    if summary.failed:
                        raise SystemExit(f"{stage} failed: {summary.failed}")
                seconds = time.perf_counter() - t
            r = evaluate_synth(project)
            m = r["mot"]
            print(f"| {backend} | {r['det_all']['precision']:.3f} | {r['det_all']['recall']:.3f} | "
                  f"{r['det_visible']['recall']:.3f} | {100 * m['mota']:.1f} % | {100 * m['idf1']:.1f} % | "
                  f"{int(m['num_switches'])} | {r['kept']}/{r['tracklets']} | {r['kept_boxes']} | {r['kept_purity_mean']:.3f} / "
                  f"{r['kept_purity_min']:.3f} | {r['kept_share_pure_98']:.2f} | {r['kept_identity_purity_mean']:.3f} / "
                  f"{r['kept_identity_purity_min']:.3f} | {r['gt_identities_covered']} of "
                  f"{r['gt_identities']} | {seconds:.1f} |")


if __name__ == "__main__":
    main()
