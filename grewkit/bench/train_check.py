"""``grewkit bench train``: the CUDA and mixed-precision paths of training and embedding, checked on a device.

For each model: forward and backward steps as ``grewkit train`` takes them (its model builder,
optimiser, the config's loss terms, float16 autocast with a GradScaler on CUDA),
iterations per second, peak device memory (``torch.cuda.max_memory_allocated``), and the
embeddings of ``grewkit embed``'s path on the device against the same weights on the CPU
(eval mode, same input). On CUDA the comparison runs twice: in strict float32 (TF32 off: it must
agree within float32 rounding) and with torch's default TF32 convolutions, as `grewkit embed
--device cuda` runs (a figure, not a pass condition). ``--device cpu`` runs the same checks on the
CPU (the comparison is then CPU against CPU: it checks the harness, not a device).

Synthetic inputs (silhouettes, two-channel skeleton maps made of them, or random normalised poses for
the pose models): the check is of arithmetic and memory, not of accuracy.
"""

from __future__ import annotations

import json
import math
import os
import time

import click
import numpy as np

from grewkit.core.errors import GrewkitError

# Small widths of each model for a CPU run in seconds (the tests); "published" takes the *_grew configs.
TINY_ARGS: dict[str, dict] = {
    "geinet": {"hidden": 32},
    "gaitset": {"channels": [4, 8, 8], "out_channels": 16, "bins": [4, 2, 1]},
    "gaitpart": {"channels": [4, 8, 8], "out_channels": 8, "parts": 4},
    "gaitbase": {"channels": [4, 8, 8, 16], "out_channels": 8, "parts": 4},
    "deepgaitv2": {"mode": "p3d", "channels": [4, 8, 8, 16], "blocks": [1, 1, 1, 1], "parts": 4},
    "gaitgraph": {"input_branch": [3, 8, 8], "main_stream": [8, 16, 16], "num_out": 8, "reduction": 4},
    "gaitgraph2": {"input_branch": [5, 8, 8], "main_stream": [8, 16], "num_out": 8, "reduction": 4},
    "skeletongait": {"mode": "p3d", "channels": [4, 8, 8, 16], "blocks": [1, 1, 1, 1], "parts": 4},
}
STRICT_REL_TOL = 1e-4  # max |device - cpu| / max |cpu| in strict float32


def model_config(name: str, size: str):
    from grewkit.train.config import TrainConfig

    if size == "published":
        try:
            return TrainConfig.load(f"{name}_grew")
        except GrewkitError:
            raise GrewkitError(f"model {name!r} has no bundled {name}_grew config; use --size tiny") from None
    return TrainConfig.from_dict(
        {"model": {"name": name, "args": TINY_ARGS.get(name, {})}, "data": {"frames": 8, "p": 2, "k": 2}}
    )


def _device(device: str):
    import torch

    if device.startswith("cuda") and not torch.cuda.is_available():
        built = f"built with CUDA {torch.version.cuda}" if torch.version.cuda else "built without CUDA"
        raise GrewkitError(
            f"--device {device}: torch {torch.__version__} ({built}) sees no CUDA device on this "
            f"machine; `grewkit bench train --device cpu` runs the same checks on the CPU"
        )
    return torch.device(device)


def _silhouettes(rng: np.random.Generator, n: int, frames: int, h: int, w: int) -> np.ndarray:
    """Binary blobs (a torso-like box that sways frame by frame) in [0, 1], float32 (n, T, h, w)."""
    x = np.zeros((n, frames, h, w), np.float32)
    for i in range(n):
        left, width = int(rng.integers(2, w // 3)), int(rng.integers(w // 4, w // 2))
        for t in range(frames):
            shift = round(2 * math.sin(2 * math.pi * t / 12 + i))
            x[i, t, h // 8 : h - h // 16, max(0, left + shift) : left + shift + width] = 1.0
    noise = rng.random(x.shape) < 0.02
    return np.where(noise, 1.0 - x, x).astype(np.float32)


def _inputs(rng: np.random.Generator, kind: str, n: int, frames: int, h: int, w: int) -> np.ndarray:
    """A batch as a model of ``input_kind`` ``kind`` reads it (grewkit.train.data.input_shape)."""
    if kind == "pose":
        pose = np.concatenate([rng.normal(0, 0.3, (n, frames, 17, 2)), rng.uniform(0.5, 1, (n, frames, 17, 1))], -1)
        return pose.astype(np.float32)
    sil = _silhouettes(rng, n, frames, h, w)
    if kind == "skeleton":
        return np.ascontiguousarray(np.stack([sil, sil[:, ::-1]], 2))
    return sil


def _embedding_gap(model, cfg, num_classes: int, dev, sequences: list[np.ndarray], *, strict: bool) -> float:
    """max |embedding on dev - embedding on the CPU| / max |embedding on the CPU|, same weights, eval mode."""
    import torch

    from grewkit.train.embed import ModelEmbedder
    from grewkit.train.loop import make_model

    cpu_model = make_model(cfg, num_classes)
    cpu_model.load_state_dict({k: v.detach().cpu() for k, v in model.state_dict().items()})
    on_cpu = ModelEmbedder(cpu_model, cfg, device="cpu")
    on_dev = ModelEmbedder(model, cfg, device=str(dev))
    saved = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    if strict:
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        gap = scale = 0.0
        for sil in sequences:
            a, b = on_dev.embed(sil), on_cpu.embed(sil)
            if not (np.isfinite(a).all() and np.isfinite(b).all()):
                return float("inf")
            gap, scale = max(gap, float(np.abs(a - b).max())), max(scale, float(np.abs(b).max()))
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved
    return gap / max(scale, 1e-12)


def check_model(
    name: str,
    *,
    device: str = "cuda",
    size: str = "published",
    batch: int | None = None,
    frames: int | None = None,
    iterations: int = 20,
    warmup: int = 3,
    num_classes: int = 200,
    seed: int = 0,
) -> dict:
    import torch

    from grewkit.train.data import RESOLUTIONS
    from grewkit.train.loop import _optimizer, make_model
    from grewkit.train.losses import combined_loss

    dev = _device(device)
    cfg = model_config(name, size)
    h, w = RESOLUTIONS[cfg.data.resolution]
    batch = batch or cfg.data.p * cfg.data.k
    frames = frames or cfg.data.frames
    if batch < 4 or batch % 2:
        raise GrewkitError(f"--batch must be even and at least 4 (two sequences of each identity), not {batch}")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = make_model(cfg, num_classes).to(dev).train()
    # Without the training-only classifier, as `grewkit bench models` counts them.
    params = sum(p.numel() for n, p in model.named_parameters() if not n.startswith(("classifier", "bnneck")))
    opt = _optimizer(cfg, model.parameters())
    amp = dev.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    kind = getattr(model, "input_kind", "silhouettes")
    x = torch.from_numpy(_inputs(rng, kind, batch, frames, h, w)).to(dev)
    y = torch.arange(batch, device=dev) // 2 % num_classes  # K = 2 sequences per identity

    def step() -> float:
        with torch.autocast(device_type=dev.type, dtype=torch.float16, enabled=amp):
            out = model(x)
            loss = combined_loss(cfg.loss, out, y)[0]
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        return loss.detach()

    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
        torch.cuda.reset_peak_memory_stats(dev)
    losses = []
    for _ in range(warmup):
        losses.append(step())
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    scale_start = scaler.get_scale() if amp else 1.0
    last_skipped = False
    t0 = time.perf_counter()
    for i in range(iterations):
        before = scaler.get_scale() if amp and i == iterations - 1 else None
        losses.append(step())
        if before is not None:
            last_skipped = scaler.get_scale() < before
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    seconds = time.perf_counter() - t0
    peak = torch.cuda.max_memory_allocated(dev) / 2**20 if dev.type == "cuda" else None
    losses = [float(v) for v in losses]
    # The scaler halves its scale at each step it skips (overflowed float16 gradients); it grows only
    # after 2000 clean steps, so the halvings count the skipped steps here.
    skipped = round(math.log2(scale_start / scaler.get_scale())) if amp else 0
    # After scaler.step the gradients are unscaled; those of a skipped step hold the overflow.
    grads_finite = last_skipped or all(
        bool(torch.isfinite(p.grad).all()) for p in model.parameters() if p.grad is not None
    )

    model.eval()
    sequences = [s for s in _inputs(rng, kind, 2, max(frames, 2), h, w)]
    sequences[1] = sequences[1][: max(frames // 2, 1)]  # another length, as sequences come
    strict = _embedding_gap(model, cfg, num_classes, dev, sequences, strict=True)
    default = _embedding_gap(model, cfg, num_classes, dev, sequences, strict=False) if dev.type == "cuda" else strict
    ok = all(math.isfinite(v) for v in losses) and grads_finite and skipped < iterations and strict <= STRICT_REL_TOL
    return {
        "model": name,
        "size": size,
        "params_M": round(params / 1e6, 3),
        "batch": batch,
        "frames": frames,
        "input": "x".join(str(v) for v in x.shape[2:]),
        "device": str(dev),
        "amp": amp,
        "iterations": iterations,
        "it_per_s": round(iterations / seconds, 2),
        "ms_per_it": round(seconds / iterations * 1000, 1),
        "peak_mem_MiB": None if peak is None else round(peak, 1),
        "loss_first": round(losses[0], 4),
        "loss_last": round(losses[-1], 4),
        "skipped_steps": skipped,
        "grads_finite": grads_finite,
        "emb_rel_gap_fp32": float(f"{strict:.3g}"),
        "emb_rel_gap_default": float(f"{default:.3g}"),
        "ok": ok,
    }


def machine(device: str) -> dict:
    import torch

    info = {
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "threads": torch.get_num_threads(),
        "load_avg_1min": round(os.getloadavg()[0], 2),
    }
    if device.startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
        info["cudnn"] = torch.backends.cudnn.version()
    return info


COLUMNS = (
    "model",
    "params_M",
    "batch",
    "frames",
    "amp",
    "it_per_s",
    "ms_per_it",
    "peak_mem_MiB",
    "loss_first",
    "loss_last",
    "skipped_steps",
    "emb_rel_gap_fp32",
    "emb_rel_gap_default",
    "ok",
)


@click.command("train")
@click.option("--device", default="cuda", show_default=True, help="cuda (or cuda:N), or cpu for the same checks there.")
@click.option("--models", "names", default=None, help="Comma-separated (default: every registered model).")
@click.option(
    "--size",
    type=click.Choice(["published", "tiny"]),
    default="published",
    show_default=True,
    help="published: each model's *_grew config (widths, batch P*K, frames); tiny: small widths.",
)
@click.option("--batch", type=int, default=None, help="Sequences per step (default: the config's P*K).")
@click.option("--frames", type=int, default=None, help="Frames per sequence (default: the config's).")
@click.option("--iterations", default=20, show_default=True, help="Timed steps per model.")
@click.option("--warmup", default=3, show_default=True, help="Untimed steps first.")
@click.option("--threads", type=int, default=None, help="CPU threads for torch.")
@click.option("--json", "as_json", is_flag=True)
def bench_train_command(device, names, size, batch, frames, iterations, warmup, threads, as_json):
    """Forward and backward with AMP per model: it/s, peak GPU memory, device-vs-CPU embeddings.

    Exits non-zero when a check fails (a non-finite loss or gradient, every step skipped by the
    gradient scaler, or embeddings off the CPU's by more than float32 rounding).

    \b
    Examples:
      grewkit bench train --device cuda
      grewkit bench train --device cpu --size tiny --batch 4 --frames 8 --iterations 2
    """
    import torch

    from grewkit.train.models import MODELS

    _device(device)  # one line, before anything is built, where there is no CUDA
    if threads:
        torch.set_num_threads(threads)
    chosen = [n.strip() for n in names.split(",")] if names else list(MODELS)
    unknown = [n for n in chosen if n not in MODELS]
    if unknown:
        raise GrewkitError(f"unknown model {unknown[0]!r}; known: {', '.join(MODELS)}")
    rows = [
        check_model(n, device=device, size=size, batch=batch, frames=frames, iterations=iterations, warmup=warmup)
        for n in chosen
    ]
    info = machine(device)
    if as_json:
        click.echo(json.dumps({"machine": info, "models": rows}, indent=2))
    else:
        click.echo(" ".join(f"{k}={v}" for k, v in info.items()))
        widths = [max(len(c), *(len(str(r[c])) for r in rows)) for c in COLUMNS]
        click.echo("  ".join(c.rjust(wd) for c, wd in zip(COLUMNS, widths)))
        for r in rows:
            click.echo("  ".join(str(r[c]).rjust(wd) for c, wd in zip(COLUMNS, widths)))
    failed = [r["model"] for r in rows if not r["ok"]]
    if failed:
        raise GrewkitError(
            f"check failed for {', '.join(failed)} (see the row: loss, gradients, skipped steps, "
            f"embedding gap over {STRICT_REL_TOL:g})"
        )
