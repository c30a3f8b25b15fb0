"""``grewkit bench split``: ``grewkit split`` + ``grewkit validate`` on generated GREW-scale manifests.

GREW (ICCV 2021): 26,345 identities with 128,671 sequences (train 20,000 / val 345 / test 6,000
identities) plus 233,857 distractor sequences, 882 cameras. This generates a project with that
shape (identities walk past 2-4 neighbouring cameras of a campus ring; distractors are
unlabelled), then times the two commands as a user runs them (fresh processes, so the figures
include Python start-up and imports) and reads their peak memory (max RSS).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import click

from grewkit.bench.report import JSON_OPTION, emit, load_average, machine, markdown_table, run_grewkit

IDENTITIES, LABELLED, DISTRACTORS, CAMERAS = 26_345, 128_671, 233_857, 882


def generate(
    root: Path,
    *,
    identities: int = IDENTITIES,
    labelled: int = LABELLED,
    distractors: int = DISTRACTORS,
    cameras: int = CAMERAS,
    seed: int = 0,
) -> None:
    import numpy as np
    import pyarrow as pa

    from grewkit.core.arrays import save_array
    from grewkit.core.project import Project

    if labelled < 2 * identities:
        raise click.BadParameter(f"at least 2 sequences per identity: --sequences >= {2 * identities}")
    project = Project.init(root)
    rng = np.random.default_rng(seed)
    # Sequences per identity: at least 2, summing to ``labelled``.
    per_id = np.full(identities, 2)
    per_id += rng.multinomial(labelled - per_id.sum(), np.full(identities, 1 / identities))
    ident = np.repeat(np.arange(identities), per_id)
    home = rng.integers(0, cameras, identities)
    spread = rng.integers(2, 5, identities)  # 2-4 neighbouring cameras
    k = np.concatenate([np.arange(n) for n in per_id])
    cam = (home[ident] + k % spread[ident]) % cameras
    d_cam = rng.integers(0, cameras, distractors)
    # Every row points at one real file: validate checks that referenced files exist.
    digest = save_array(root / "renders" / "sample.npy", np.zeros((30, 64, 44), np.uint8))
    n = labelled + distractors
    project.write(
        "sequences",
        pa.table(
            {
                "sequence_id": [f"s{i:07d}" for i in range(n)],
                "modality": ["sil64"] * n,
                "tracklet_id": pa.nulls(n, pa.string()),
                "identity_id": [f"{i:05d}" for i in ident] + [None] * distractors,
                "camera_id": [f"cam{c:03d}" for c in np.concatenate([cam, d_cam])],
                "view": pa.nulls(n, pa.string()),
                "condition": pa.nulls(n, pa.string()),
                "path": ["renders/sample.npy"] * n,
                "frames": rng.integers(20, 200, n).astype(np.int32),
                "height": np.full(n, 64, np.int32),
                "width": np.full(n, 44, np.int32),
                "sha256": [digest] * n,
            }
        ),
    )


def split_and_validate(
    workdir: Path, *, camera_disjoint: bool, identities: int, labelled: int, distractors: int, cameras: int
) -> dict:
    root = workdir / "proj"
    shutil.rmtree(root, ignore_errors=True)
    started = time.perf_counter()
    generate(root, identities=identities, labelled=labelled, distractors=distractors, cameras=cameras)
    generated_s = time.perf_counter() - started
    load = load_average()
    start_up = run_grewkit("--version")
    split = run_grewkit(
        "split", "--project", str(root), "--camera-disjoint" if camera_disjoint else "--no-camera-disjoint"
    )
    if camera_disjoint:  # validate checks camera leaks only when the settings ask for camera-disjoint splits
        toml = root / "grewkit.toml"
        toml.write_text(toml.read_text().replace("camera_disjoint = false", "camera_disjoint = true"))
    validate = run_grewkit("validate", "--project", str(root))
    return {
        "machine": machine(),
        "cpus": os.cpu_count(),
        "load_avg_before": load,
        "identities": identities,
        "labelled": labelled,
        "distractors": distractors,
        "cameras": cameras,
        "camera_disjoint": camera_disjoint,
        "generate_s": generated_s,
        "start_up_s": start_up.wall_s,
        "split_output": split.output,
        "validate_output": validate.output,
        "split": {"wall_s": split.wall_s, "cpu_s": split.cpu_s, "peak_rss_mb": split.peak_rss_mb},
        # RUSAGE_CHILDREN keeps the maximum over all children: validate's peak is the larger of both.
        "validate": {"wall_s": validate.wall_s, "cpu_s": validate.cpu_s, "peak_rss_mb": validate.peak_rss_mb},
    }


def markdown(r: dict) -> str:
    s, v = r["split"], r["validate"]
    return "\n".join(
        [
            f"machine: {r['machine']}; load average before: {r['load_avg_before']}",
            f"generated {r['identities']:,} identities, {r['labelled']:,} + {r['distractors']:,} sequences, "
            f"{r['cameras']} cameras in {r['generate_s']:.1f} s",
            r["split_output"],
            r["validate_output"],
            "",
            markdown_table(
                ["command", "wall s", "CPU s", "peak RSS MiB"],
                [
                    ("python + grewkit start-up", f"{r['start_up_s']:.2f}", "", ""),
                    (
                        "split" + (" --camera-disjoint" if r["camera_disjoint"] else ""),
                        f"{s['wall_s']:.2f}",
                        f"{s['cpu_s']:.2f}",
                        f"{s['peak_rss_mb']:.0f}",
                    ),
                    ("validate", f"{v['wall_s']:.2f}", f"{v['cpu_s']:.2f}", f"{v['peak_rss_mb']:.0f} (max of both)"),
                    ("split + validate", f"{s['wall_s'] + v['wall_s']:.2f}", f"{s['cpu_s'] + v['cpu_s']:.2f}", ""),
                ],
            ),
        ]
    )


@click.command("split")
@click.option(
    "--workdir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("/tmp/grewkit-bench-split"),
    show_default=True,
    help="Where the generated project goes (replaced on each run).",
)
@click.option(
    "--camera-disjoint", is_flag=True, help="Identity- and camera-disjoint splits (default: identity-disjoint)."
)
@click.option("--identities", default=IDENTITIES, show_default=True, help="Labelled identities (GREW's).")
@click.option(
    "--sequences",
    "labelled",
    default=LABELLED,
    show_default=True,
    help="Labelled sequences, at least 2 per identity (GREW's).",
)
@click.option("--distractors", default=DISTRACTORS, show_default=True, help="Unlabelled distractor sequences (GREW's).")
@click.option("--cameras", default=CAMERAS, show_default=True, help="Cameras (GREW's).")
@JSON_OPTION
def bench_split_command(workdir, camera_disjoint, identities, labelled, distractors, cameras, as_json):
    """Wall time, CPU time and peak memory of `grewkit split` and `grewkit validate` at GREW scale.

    \b
    Examples:
      grewkit bench split
      grewkit bench split --camera-disjoint
    """
    emit(
        split_and_validate(
            workdir,
            camera_disjoint=camera_disjoint,
            identities=identities,
            labelled=labelled,
            distractors=distractors,
            cameras=cameras,
        ),
        as_json,
        markdown,
    )
