"""``grewkit bench models``: parameters, FLOPs and CPU time per sequence of each gait model."""

from __future__ import annotations

import time

import click

from grewkit.bench.report import JSON_OPTION, emit, load_average, markdown_table


def model_costs(
    *,
    frames: int,
    resolution: int,
    threads: int,
    repeats: int = 5,
    num_classes: int = 20000,
    configs: str = "defaults",
    models: list[str] | None = None,
) -> list[dict]:
    """Parameters, FLOPs and CPU extraction time per sequence of each registered model (GREW Table 8).

    ``configs``: each model class's default widths, or the widths of its bundled ``<model>_grew`` /
    ``<model>_casiab`` config (a model without one is left out)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from grewkit.core.errors import GrewkitError
    from grewkit.train.config import TrainConfig
    from grewkit.train.data import RESOLUTIONS, input_shape
    from grewkit.train.models import MODELS, build_model

    torch.set_num_threads(threads)
    h, w = RESOLUTIONS[resolution]
    rows = []
    for name in models or list(MODELS):
        MODELS.require(name)
        args = {}
        if configs != "defaults":
            try:
                args = dict(TrainConfig.load(f"{name}_{configs}").model.args)
            except GrewkitError:
                continue
        torch.manual_seed(0)
        model = build_model(name, num_classes=num_classes, height=h, width=w, **args).eval()
        classifier = sum(p.numel() for n, p in model.named_parameters() if n.startswith(("classifier", "bnneck")))
        total = sum(p.numel() for p in model.parameters())
        x = torch.rand(1, *input_shape(getattr(model, "input_kind", "silhouettes"), frames, h, w))
        with torch.inference_mode():
            with FlopCounterMode(display=False) as counter:
                emb = model(x)["embeddings"]
            model(x)  # warm-up
            t0 = time.perf_counter()
            for _ in range(repeats):
                model(x)
            per_seq = (time.perf_counter() - t0) / repeats
        rows.append(
            {
                "model": name,
                "widths": configs if configs == "defaults" else f"{name}_{configs}",
                "params_M": round((total - classifier) / 1e6, 3),
                "classifier_params_M": round(classifier / 1e6, 3),
                "GFLOPs_per_sequence": round(counter.get_total_flops() / 1e9, 3),
                "feature": "x".join(str(s) for s in emb.shape[1:]),
                "ms_per_sequence_cpu": round(per_seq * 1000, 1),
                "frames": frames,
                "input": "x".join(str(s) for s in x.shape[2:]),
                "threads": threads,
                "load_avg_1min": load_average(),
            }
        )
    return rows


@click.command("models")
@click.option("--frames", default=30, show_default=True, help="Frames per sequence.")
@click.option("--resolution", default=64, show_default=True, type=click.Choice(["64", "128"]))
@click.option("--threads", default=2, show_default=True)
@click.option("--repeats", default=5, show_default=True)
@click.option(
    "--configs",
    type=click.Choice(["defaults", "grew", "casiab"]),
    default="defaults",
    show_default=True,
    help="Widths: each model's defaults, or its bundled <model>_grew / <model>_casiab config.",
)
@click.option("--models", "names", default=None, help="Comma-separated (default: every registered model).")
@JSON_OPTION
def bench_models_command(frames, resolution, threads, repeats, configs, names, as_json):
    """Parameters (without the training-only classifier), FLOPs and CPU time per sequence of each model.

    \b
    Example:
      grewkit bench models --frames 30 --threads 2
      grewkit bench models --frames 30 --threads 2 --configs grew
      grewkit bench models --models gaitgraph,skeletongait --configs grew
    """
    rows = model_costs(
        frames=frames,
        resolution=int(resolution),
        threads=threads,
        repeats=repeats,
        configs=configs,
        models=[n.strip() for n in names.split(",")] if names else None,
    )
    emit(rows, as_json, lambda rows: markdown_table(list(rows[0]), [r.values() for r in rows]))
