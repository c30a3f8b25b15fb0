"""``grewkit bench casiab``: train a model briefly on CASIA-B's training subjects and compare it with the GEI baseline.

Uses only grewkit commands on the real CASIA-B excerpt in the shared data (subjects 075-094, view
090): import, a by-subject split (075-084 train, 085-094 test; gallery nm-01..04), then ``grewkit
train``, ``grewkit embed`` and ``grewkit evaluate --protocol casiab --include-identical-view`` for
the trained model and for ``--model gei``. Each command runs in a fresh process, as a user runs it.
The trained checkpoint is also rewritten in OpenGait's checkpoint format (``save_ckpt``'s keys, OpenGait's
tensor names) and evaluated through ``grewkit embed --opengait-checkpoint``: the row must equal the
trained one.
"""

from __future__ import annotations

import json
import shutil
import tarfile
import tempfile
import time
from pathlib import Path

import click

from grewkit.bench.data import SHARED_DATA_OPTION, require
from grewkit.bench.report import JSON_OPTION, emit, load_average, machine, markdown_table, run_grewkit

ARCHIVE = "casiab_090_s075-094_opengait.tar.gz"


def by_subject_split(project) -> None:
    """Subjects 075-084 train, 085-094 test; in test, nm-01..04 are the gallery and the rest probes."""
    import pyarrow as pa

    rows = []
    for r in project.read("sequences").to_pylist():
        train = int(r["identity_id"]) < 85
        gallery = r["condition"] <= "nm-04" and r["condition"].startswith("nm")
        rows.append(
            {
                "sequence_id": r["sequence_id"],
                "identity_id": r["identity_id"],
                "camera_id": r["camera_id"],
                "split": "train" if train else "test",
                "role": None if train else ("gallery" if gallery else "probe"),
            }
        )
    project.write("splits", pa.Table.from_pylist(rows))


def train_and_compare(
    data: Path, *, config: str, iterations: int, device: str, distance: str, workdir: Path | None
) -> dict:
    """The figures of one run; a temporary work folder (no ``workdir``) is removed afterwards."""
    work = workdir or Path(tempfile.mkdtemp(prefix="grewkit-bench-casiab-"))
    try:
        return _train_and_compare(data, work, config=config, iterations=iterations, device=device, distance=distance)
    finally:
        if workdir is None:
            shutil.rmtree(work, ignore_errors=True)


def _train_and_compare(data: Path, work: Path, *, config: str, iterations: int, device: str, distance: str) -> dict:
    from grewkit.core.project import Project

    with tarfile.open(require(data / ARCHIVE, "CASIA-B excerpt")) as tar:
        tar.extractall(work / "data", filter="data")
    proj = work / "proj"
    if not proj.exists():
        run_grewkit("init", str(proj))
    run_grewkit("import", "opengait", str(work / "data"), "--project", str(proj), "--quiet")
    by_subject_split(Project.open(proj))
    started = time.time()
    line = run_grewkit(
        "train",
        "--project",
        str(proj),
        "--config",
        config,
        "--out",
        str(work / "run"),
        "--iterations",
        str(iterations),
        "--device",
        device,
        "--quiet",
    ).output
    train_s = time.time() - started
    ckpt = sorted((work / "run" / "checkpoints").glob("iter-*.pt"))[-1]
    result = {
        "machine": machine(),
        "config": config,
        "iterations": iterations,
        "device": device,
        "train_wall_s": round(train_s, 1),
        "train_line": line.strip(),
        "load_avg_1min": load_average(),
    }
    from grewkit.train.config import TrainConfig
    from grewkit.train.opengait import OPENGAIT_MODELS, save_opengait_checkpoint

    rows = [
        ("gei", ["--model", "gei"], "euclidean"),
        ("trained", ["--checkpoint", str(ckpt), "--device", device], distance),
    ]
    model_name = TrainConfig.load(config).model.name
    if model_name in OPENGAIT_MODELS:
        og = save_opengait_checkpoint(ckpt, work / "opengait" / f"{model_name}-{iterations:05d}.pt")
        rows.append(
            ("opengait_path", ["--opengait-checkpoint", str(og), "--model", model_name, "--device", device], distance)
        )
    for name, extra, dist in rows:
        run_grewkit("embed", "--project", str(proj), *extra, "--split", "test", "--out", str(work / name), "--quiet")
        run_grewkit(
            "evaluate",
            "--project",
            str(proj),
            "--features",
            str(work / name),
            "--protocol",
            "casiab",
            "--include-identical-view",
            "--distance",
            dist,
            "--out",
            str(work / f"{name}.json"),
        )
        res = json.loads((work / f"{name}.json").read_text())
        meta = json.loads((work / name / "index.json").read_text())
        result[name] = {
            **res["metrics"],
            "distance": dist,
            "ms_per_sequence": round(meta["seconds_per_sequence"] * 1000, 2),
        }
    if "opengait_path" in result:
        keys = [k for k in result["trained"] if k != "ms_per_sequence"]
        result["opengait_path_same_metrics"] = all(result["trained"][k] == result["opengait_path"][k] for k in keys)
    log = [json.loads(x) for x in (work / "run" / "log.jsonl").read_text().splitlines()]
    result["seconds_per_iter_log"] = [e["seconds_per_iter"] for e in log]
    return result


def markdown(r: dict) -> str:
    metrics = [k for k in r["gei"] if k not in ("distance", "ms_per_sequence")]
    return (
        f"machine: {r['machine']}; load average {r['load_avg_1min']}\n"
        f"{r['config']}, {r['iterations']} iterations on {r['device']}: {r['train_wall_s']} s wall; {r['train_line']}\n"
        f"seconds per iteration (log): {', '.join(f'{s:.2f}' for s in r['seconds_per_iter_log'])}\n"
        + (
            f"OpenGait-format checkpoint gives the same metrics: {r['opengait_path_same_metrics']}\n"
            if "opengait_path" in r
            else ""
        )
        + "\n"
        + markdown_table(
            ["model", "distance", *metrics, "ms per sequence"],
            [
                (
                    name,
                    r[name]["distance"],
                    *(f"{r[name][m]:.2f}" if isinstance(r[name][m], float) else r[name][m] for m in metrics),
                    r[name]["ms_per_sequence"],
                )
                for name in ("gei", "trained", "opengait_path")
                if name in r
            ],
        )
    )


@click.command("casiab")
@SHARED_DATA_OPTION
@click.option("--config", default="gaitset_tiny", show_default=True, help="Training config (grewkit's or a file).")
@click.option("--iterations", default=60, show_default=True, help="Training iterations.")
@click.option("--device", default="cpu", show_default=True, help="cpu or cuda.")
@click.option(
    "--distance", default="euclidean_parts", show_default=True, help="Distance for the trained model's features."
)
@click.option(
    "--workdir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Keep the data, project and run here (default: a new temporary folder).",
)
@JSON_OPTION
def bench_casiab_command(data, config, iterations, device, distance, workdir, as_json):
    """Rank-1 / mAP on CASIA-B (view 090) of a briefly trained model against the GEI baseline.

    \b
    Example:
      grewkit bench casiab --shared-data ../shared/data --config gaitset_tiny --iterations 60 --device cpu
    """
    emit(
        train_and_compare(
            data, config=config, iterations=iterations, device=device, distance=distance, workdir=workdir
        ),
        as_json,
        markdown,
    )
