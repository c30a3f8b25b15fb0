"""Train a model briefly on CASIA-B's training subjects and compare it with the GEI baseline.

Uses only grewkit commands on the real CASIA-B excerpt in ../shared/data (subjects 075-094,
view 090): import, a by-subject split (075-084 train, 085-094 test; gallery nm-01..04), then
`grewkit train`, `grewkit embed` and `grewkit evaluate --protocol casiab --include-identical-view`
for the trained model and for `--model gei`. Prints one JSON object (the figures of docs/benchmarks.md).

    .venv/bin/python tools/bench_train_casiab.py --config gaitset_tiny --iterations 60 --device cpu
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("GREWKIT_SHARED_DATA", REPO.parent / "shared" / "data"))


def grewkit(*args: str) -> str:
    exe = Path(sys.executable).parent / "grewkit"
    out = subprocess.run([str(exe), *args], check=True, capture_output=True, text=True)
    return out.stdout


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="gaitset_tiny")
    ap.add_argument("--iterations", type=int, default=60)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--distance", default="euclidean_parts")
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="casiab-bench-"))
    with tarfile.open(DATA / "casiab_090_s075-094_opengait.tar.gz") as tar:
        tar.extractall(work / "data", filter="data")
    proj = work / "proj"
    if not proj.exists():
        grewkit("init", str(proj))
    grewkit("import", "opengait", str(work / "data"), "--project", str(proj), "--quiet")
    sys.path.insert(0, str(REPO))
    from grewkit.core.project import Project

    project = Project.open(proj)
    rows = []
    for r in project.read("sequences").to_pylist():
        train = int(r["identity_id"]) < 85
        rows.append({"sequence_id": r["sequence_id"], "identity_id": r["identity_id"], "camera_id": r["camera_id"],
                     "split": "train" if train else "test",
                     "role": None if train else ("gallery" if r["condition"] <= "nm-04" and r["condition"].startswith("nm") else "probe")})
    project.write("splits", pa.Table.from_pylist(rows))
    t0 = time.time()
    line = grewkit("train", "--project", str(proj), "--config", args.config, "--out", str(work / "run"),
                   "--iterations", str(args.iterations), "--device", args.device, "--quiet")
    train_s = time.time() - t0
    ckpt = sorted((work / "run" / "checkpoints").glob("iter-*.pt"))[-1]
    result = {"config": args.config, "iterations": args.iterations, "device": args.device, "train_wall_s": round(train_s, 1),
              "train_line": line.strip(), "load_avg_1min": round(os.getloadavg()[0], 2)}
    for name, extra, dist in (("gei", ["--model", "gei"], "euclidean"),
                              ("trained", ["--checkpoint", str(ckpt), "--device", args.device], args.distance)):
        grewkit("embed", "--project", str(proj), *extra, "--split", "test", "--out", str(work / name), "--quiet")
        grewkit("evaluate", "--project", str(proj), "--features", str(work / name), "--protocol", "casiab",
                "--include-identical-view", "--distance", dist, "--out", str(work / f"{name}.json"))
        res = json.loads((work / f"{name}.json").read_text())
        meta = json.loads((work / name / "index.json").read_text())
        result[name] = {**res["metrics"], "distance": dist, "ms_per_sequence": round(meta["seconds_per_sequence"] * 1000, 2)}
    log = [json.loads(x) for x in (work / "run" / "log.jsonl").read_text().splitlines()]
    result["seconds_per_iter_log"] = [e["seconds_per_iter"] for e in log]
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
