"""Benchmark: `grewkit split` + `grewkit validate` on generated GREW-scale manifests.

GREW (ICCV 2021): 26,345 identities with 128,671 sequences (train 20,000 / val 345 / test
6,000 identities) plus 233,857 distractor sequences, 882 cameras. This generates a project
with that shape (identities walk past 2-4 neighbouring cameras of a campus ring; distractors
are unlabelled), then times the two commands as a user runs them (fresh processes, so the
figures include Python start-up and imports) and reads their peak memory (max RSS).

    .venv/bin/python tools/bench_split.py [--workdir /tmp/grew-bench] [--camera-disjoint]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

IDENTITIES, LABELLED, DISTRACTORS, CAMERAS = 26_345, 128_671, 233_857, 882


def generate(root: Path, seed: int = 0) -> None:
    from grewkit.core.arrays import save_array
    from grewkit.core.project import Project

    project = Project.init(root)
    rng = np.random.default_rng(seed)
    # Sequences per identity: at least 2, summing to LABELLED.
    per_id = np.full(IDENTITIES, 2)
    extra = rng.multinomial(LABELLED - per_id.sum(), np.full(IDENTITIES, 1 / IDENTITIES))
    per_id += extra
    ident = np.repeat(np.arange(IDENTITIES), per_id)
    home = rng.integers(0, CAMERAS, IDENTITIES)
    spread = rng.integers(2, 5, IDENTITIES)  # 2-4 neighbouring cameras
    k = np.concatenate([np.arange(n) for n in per_id])
    cam = (home[ident] + k % spread[ident]) % CAMERAS
    d_cam = rng.integers(0, CAMERAS, DISTRACTORS)
    # Every row points at one real file: validate checks that referenced files exist.
    sample = root / "renders" / "sample.npy"
    digest = save_array(sample, np.zeros((30, 64, 44), np.uint8))
    n = LABELLED + DISTRACTORS
    seq_ids = [f"s{i:07d}" for i in range(n)]
    identity = [f"{i:05d}" for i in ident] + [None] * DISTRACTORS
    camera = [f"cam{c:03d}" for c in np.concatenate([cam, d_cam])]
    project.write("sequences", pa.table({
        "sequence_id": seq_ids, "modality": ["sil64"] * n, "tracklet_id": pa.nulls(n, pa.string()),
        "identity_id": identity, "camera_id": camera, "view": pa.nulls(n, pa.string()),
        "condition": pa.nulls(n, pa.string()), "path": ["renders/sample.npy"] * n,
        "frames": rng.integers(20, 200, n).astype(np.int32), "height": np.full(n, 64, np.int32),
        "width": np.full(n, 44, np.int32), "sha256": [digest] * n,
    }))


def run(args: list[str]) -> tuple[float, float, str, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "grewkit", *args], capture_output=True, text=True)
    wall = time.perf_counter() - start
    if out.returncode != 0:
        raise SystemExit(f"grewkit {' '.join(args)} failed:\n{out.stderr}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak = after.ru_maxrss / 1024  # MiB, max over children so far
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, peak, (out.stdout + out.stderr).strip(), cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", default="/tmp/grewkit-bench-split")
    parser.add_argument("--camera-disjoint", action="store_true")
    a = parser.parse_args()
    root = Path(a.workdir) / "proj"
    shutil.rmtree(root, ignore_errors=True)
    t = time.perf_counter()
    generate(root)
    print(f"generated {IDENTITIES:,} identities, {LABELLED:,} + {DISTRACTORS:,} sequences in {time.perf_counter() - t:.1f} s")
    flag = ["--camera-disjoint"] if a.camera_disjoint else ["--no-camera-disjoint"]
    start_py = run(["--version"])
    split = run(["split", "--project", str(root), *flag])
    if a.camera_disjoint:  # validate checks camera leaks only when the settings ask for camera-disjoint splits
        toml = root / "grewkit.toml"
        toml.write_text(toml.read_text().replace("camera_disjoint = false", "camera_disjoint = true"))
    validate = run(["validate", "--project", str(root)])
    print(split[2])
    print(validate[2])
    print(f"python + grewkit start-up: {start_py[0]:.2f} s")
    print(f"split:    {split[0]:.2f} s wall, {split[3]:.2f} s CPU, peak RSS {split[1]:.0f} MiB")
    print(f"validate: {validate[0]:.2f} s wall, {validate[3]:.2f} s CPU, peak RSS (max of both) {validate[1]:.0f} MiB")
    print(f"split + validate: {split[0] + validate[0]:.2f} s wall, {split[3] + validate[3]:.2f} s CPU "
          f"on {os.cpu_count()} CPUs (load average before: {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
