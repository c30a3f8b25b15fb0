"""``grewkit train`` and ``grewkit embed``."""

from __future__ import annotations

import click

from grewkit.cli.options import project_option


@click.command("train")
@project_option
@click.option(
    "--config",
    "config_name",
    required=True,
    help="A bundled config (gaitset_grew, gaitpart_grew, gaitbase_grew, deepgaitv2_grew, geinet_grew, the *_casiab ones, "
    "gaitset_tiny; on poses gaitgraph_grew, gaitgraph2_grew (pose2d) and skeletongait_grew (skel64)) or a TOML path.",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Run folder; rerunning on it resumes from its newest checkpoint.",
)
@click.option("--split", "splits", default="train", show_default=True, help="Split(s) to train on, comma-separated.")
@click.option("--device", default="auto", show_default=True, help="auto (CUDA when present), cpu or cuda.")
@click.option("--iterations", type=int, default=None, help="Override [train] iterations.")
@click.option("--threads", type=int, default=None, help="CPU threads for torch.")
@click.option("--quiet", is_flag=True)
def train_command(project, config_name, out_dir, splits, device, iterations, threads, quiet):
    """Train a gait model on a project's training split.

    \b
    Examples:
      grewkit train --config gaitset_grew --out runs/gaitset
      grewkit train --config gaitset_tiny --out runs/tiny --device cpu --iterations 300
    """
    from grewkit.train.config import TrainConfig
    from grewkit.train.data import records_from_project
    from grewkit.train.loop import train

    cfg = TrainConfig.load(config_name)
    records = records_from_project(
        project, splits=tuple(s.strip() for s in splits.split(",")), modality=cfg.data.modality
    )
    res = train(cfg, records, out_dir, device=device, iterations=iterations, show_progress=not quiet, threads=threads)
    click.echo(
        f"trained {cfg.model.name} to iteration {res.iterations} (resumed from {res.resumed_from}) on {res.device}"
        f"{' with mixed precision' if res.amp else ''}: {res.seconds_per_iter:.3f} s/iteration, "
        f"last loss {res.last_loss:.4f}; checkpoints in {res.run_dir}/checkpoints"
    )


@click.command("embed")
@project_option
@click.option(
    "--checkpoint",
    default=None,
    type=click.Path(exists=True),
    help="Checkpoint from `grewkit train`, or its run folder (the newest checkpoint); it may come from "
    "another project than --project (cross-dataset evaluation).",
)
@click.option(
    "--model",
    default=None,
    help="gei: the untrained GEI baseline; with --opengait-checkpoint, its architecture: gaitset, gaitpart, "
    "gaitbase (OpenGait's Baseline), deepgaitv2, skeletongait (OpenGait's DeepGaitV2 on skel maps), gaitgraph "
    "(GaitGraph1) or gaitgraph2.",
)
@click.option(
    "--opengait-checkpoint",
    default=None,
    type=click.Path(dir_okay=False),
    help="A checkpoint saved by OpenGait (loaded with weights_only; every key mapped and shape-checked).",
)
@click.option(
    "--opengait-config",
    default=None,
    type=click.Path(dir_okay=False),
    help="The OpenGait YAML the checkpoint was trained with (its model_cfg gives the widths); "
    "without it the widths are read from the checkpoint.",
)
@click.option(
    "--split",
    "splits",
    default="test,distractor",
    show_default=True,
    help="Split(s) to embed, comma-separated; 'all' for every sequence (no splits manifest needed).",
)
@click.option("--modality", default=None, help="Default: the checkpoint's [data] modality, else sil64.")
@click.option(
    "--resolution",
    default=64,
    show_default=True,
    type=click.Choice(["64", "128"]),
    help="For --model gei and --opengait-checkpoint; a grewkit checkpoint brings its own.",
)
@click.option("--device", default="cpu", show_default=True)
@click.option(
    "--threads",
    type=int,
    default=None,
    help="CPU threads for torch; 1 suits the small pose models on a shared CPU (docs/benchmarks.md).",
)
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False))
@click.option("--quiet", is_flag=True)
def embed_command(
    project,
    checkpoint,
    model,
    opengait_checkpoint,
    opengait_config,
    splits,
    modality,
    resolution,
    device,
    threads,
    out_dir,
    quiet,
):
    """Extract features of a project's sequences into a folder that `grewkit evaluate` reads.

    \b
    Examples:
      grewkit embed --checkpoint runs/gaitset/checkpoints/iter-0250000.pt --out features/gaitset
      grewkit embed --model gei --split all --out features/gei
      grewkit embed --opengait-checkpoint GaitBase_DA-180000.pt --model gaitbase --out features/og
      grewkit embed --project ../gait3d --checkpoint ../grew/runs/gaitbase --out features/grew-to-gait3d
    """
    from grewkit.train.data import records_from_project
    from grewkit.train.embed import embed_records, make_sequence_embedder

    if threads:
        import torch

        torch.set_num_threads(threads)
    # The model is loaded (and an OpenGait checkpoint checked key by key) before anything is read or written.
    embedder = make_sequence_embedder(
        checkpoint=checkpoint,
        model=model,
        device=device,
        resolution=int(resolution),
        opengait_checkpoint=opengait_checkpoint,
        opengait_config=opengait_config,
    )
    chosen = None if splits == "all" else tuple(s.strip() for s in splits.split(","))
    cfg = getattr(embedder, "cfg", None)
    modality = modality or (cfg.data.modality if cfg is not None else "sil64")
    records = records_from_project(project, splits=chosen, modality=modality)
    meta = embed_records(
        embedder,
        records,
        out_dir,
        show_progress=not quiet,
        source={"project": str(project.root.resolve()), "modality": modality},
    )
    click.echo(f"wrote {out_dir}: {meta['sequences']} sequences, {meta['seconds_per_sequence'] * 1000:.2f} ms/sequence")
