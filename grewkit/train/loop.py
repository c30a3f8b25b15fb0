"""The training loop: P x K batches, triplet + CE, mixed precision on GPU, checkpoints that resume.

A run folder holds ``config.json`` (the config as run), ``labels.json`` (identity -> class
index), ``checkpoints/iter-NNNNNNN.pt`` (model, optimiser, scheduler, sampler and RNG state) and
``log.jsonl``. Rerunning on the same folder continues from the newest checkpoint, so a killed run
loses at most ``checkpoint_every`` iterations.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from grewkit.core.atomic import atomic_path, write_json
from grewkit.core.errors import GrewkitError
from grewkit.core.progress import progress_bar
from grewkit.train.config import TrainConfig
from grewkit.train.data import RESOLUTIONS, PKSampler, SequenceRecord, SequenceStore, sample_frames
from grewkit.train.losses import ce_loss, triplet_loss
from grewkit.train.models import build_model


def pick_device(device: str | None) -> torch.device:
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise GrewkitError("--device cuda asked for, but torch sees no CUDA device here (training runs on the CPU)")
    return torch.device(device)


def make_model(cfg: TrainConfig, num_classes: int) -> torch.nn.Module:
    h, w = RESOLUTIONS[cfg.data.resolution]
    return build_model(cfg.model.name, num_classes=num_classes, height=h, width=w, **cfg.model.args)


def _optimizer(cfg: TrainConfig, params):
    o = cfg.optim
    if o.name == "adam":
        return torch.optim.Adam(params, lr=o.lr, weight_decay=o.weight_decay)
    return torch.optim.SGD(params, lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay)


def checkpoints(run_dir: Path) -> list[Path]:
    return sorted((run_dir / "checkpoints").glob("iter-*.pt"))


def load_checkpoint(path: str | Path) -> dict:
    path = Path(path)
    try:
        # weights_only: a checkpoint is tensors and plain containers; never run code from it.
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds on corrupt or foreign files
        raise GrewkitError(
            f"not a readable grewkit checkpoint ({type(exc).__name__}: {str(exc)[:200]})", path=path
        ) from None


@dataclass
class TrainResult:
    run_dir: Path
    iterations: int
    resumed_from: int
    seconds: float
    seconds_per_iter: float
    last_loss: float
    device: str
    amp: bool


def train(
    cfg: TrainConfig,
    records: list[SequenceRecord],
    run_dir: str | Path,
    *,
    device: str | None = None,
    iterations: int | None = None,
    show_progress: bool = True,
    threads: int | None = None,
) -> TrainResult:
    run_dir = Path(run_dir)
    dev = pick_device(device)
    if threads:
        torch.set_num_threads(threads)
    labels = sorted({r.identity_id for r in records if r.identity_id is not None})
    if len(labels) < 2:
        raise GrewkitError("training needs sequences of at least 2 known identities")
    records = [r for r in records if r.identity_id is not None]
    label_index = {lab: i for i, lab in enumerate(labels)}
    total_iters = iterations or cfg.train.iterations
    existing_labels = run_dir / "labels.json"
    if existing_labels.exists() and json.loads(existing_labels.read_text()) != labels:
        raise GrewkitError("this run folder was trained on other identities; use a new --out folder", path=run_dir)
    write_json(run_dir / "config.json", cfg.to_dict())
    write_json(existing_labels, labels)

    torch.manual_seed(cfg.train.seed)
    model = make_model(cfg, len(labels)).to(dev)
    opt = _optimizer(cfg, model.parameters())
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=list(cfg.optim.milestones), gamma=cfg.optim.gamma)
    amp = bool(cfg.train.amp and dev.type == "cuda")
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    sampler = PKSampler([r.identity_id for r in records], cfg.data.p, cfg.data.k, seed=cfg.train.seed)
    rng = np.random.default_rng(cfg.train.seed + 1)
    start = 0
    found = checkpoints(run_dir)
    if found:
        state = load_checkpoint(found[-1])
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        sampler.set_state(json.loads(state["sampler"]))
        rng.bit_generator.state = json.loads(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        start = int(state["iteration"])
    store = SequenceStore(
        records, cfg.data.resolution, cache=cfg.data.cache, kind=getattr(model, "input_kind", "silhouettes")
    )
    log_path = run_dir / "log.jsonl"
    batches = iter(sampler)
    model.train()
    t0 = time.perf_counter()
    last_loss = float("nan")
    window: list[float] = []
    with progress_bar(
        f"train {cfg.model.name}",
        total=total_iters,
        completed=min(start, total_iters),
        unit="it",
        enabled=show_progress,
    ) as advance:
        for it in range(start, total_iters):
            t_it = time.perf_counter()
            idx = next(batches)
            clips = np.stack([sample_frames(store.get(i), cfg.data.frames, rng, ordered=cfg.data.ordered) for i in idx])
            x = torch.from_numpy(clips).to(dev, non_blocking=True)
            y = torch.tensor([label_index[records[i].identity_id] for i in idx], device=dev)
            with torch.autocast(device_type=dev.type, dtype=torch.float16, enabled=amp):
                out = model(x)
                loss = torch.zeros((), device=dev)
                frac = 0.0
                if cfg.loss.triplet_weight > 0:
                    tl, frac = triplet_loss(out["embeddings"], y, cfg.loss.triplet_margin)
                    loss = loss + cfg.loss.triplet_weight * tl
                if cfg.loss.ce_weight > 0 and out["logits"] is not None:
                    loss = loss + cfg.loss.ce_weight * ce_loss(out["logits"], y, cfg.loss.label_smoothing)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            sched.step()
            last_loss = float(loss.detach())
            window.append(time.perf_counter() - t_it)
            done = it + 1
            if done % cfg.train.log_every == 0 or done == total_iters:
                entry = {
                    "iteration": done,
                    "loss": round(last_loss, 5),
                    "triplet_active": round(frac, 4),
                    "lr": sched.get_last_lr()[0],
                    "seconds_per_iter": round(float(np.mean(window)), 4),
                }
                window = []
                with open(log_path, "a") as f:
                    f.write(json.dumps(entry) + "\n")
            if done % cfg.train.checkpoint_every == 0 or done == total_iters:
                save_checkpoint(run_dir, done, cfg, labels, model, opt, sched, scaler, sampler, rng)
            advance(1)
    seconds = time.perf_counter() - t0
    ran = max(total_iters - start, 0)
    return TrainResult(run_dir, total_iters, start, seconds, seconds / ran if ran else 0.0, last_loss, str(dev), amp)


def save_checkpoint(
    run_dir: Path,
    iteration: int,
    cfg: TrainConfig,
    labels: list[str],
    model,
    opt,
    sched,
    scaler,
    sampler,
    rng,
    keep: int = 2,
) -> Path:
    path = run_dir / "checkpoints" / f"iter-{iteration:07d}.pt"
    state = {
        "iteration": iteration,
        "config": json.dumps(cfg.to_dict()),
        "labels": labels,
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "scheduler": sched.state_dict(),
        "scaler": scaler.state_dict(),
        "sampler": json.dumps(sampler.state()),
        "rng": json.dumps(rng.bit_generator.state),
        "torch_rng": torch.get_rng_state(),
    }
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    for old in checkpoints(run_dir)[:-keep]:
        old.unlink()
    return path


def model_from_checkpoint(path: str | Path) -> tuple[torch.nn.Module, TrainConfig, dict]:
    state = load_checkpoint(path)
    try:
        cfg = TrainConfig.from_dict(json.loads(state["config"]), source=str(path))
        model = make_model(cfg, len(state["labels"]))
        model.load_state_dict(state["model"])
    except (KeyError, RuntimeError) as exc:
        raise GrewkitError(f"checkpoint does not match its model ({str(exc)[:200]})", path=path) from None
    model.eval()
    return model, cfg, state
