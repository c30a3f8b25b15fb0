"""The training loop: P x K (or random) batches, one or more augmented views of each sequence, the config's
loss terms (triplet, CE, supervised contrastive), mixed precision on GPU, checkpoints that resume.

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
from grewkit.train.augment import PoseAugment
from grewkit.train.config import TrainConfig
from grewkit.train.data import RESOLUTIONS, PKSampler, RandomSampler, SequenceRecord, SequenceStore, sample_frames
from grewkit.train.losses import combined_loss
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
    if o.name == "adamw":
        return torch.optim.AdamW(params, lr=o.lr, weight_decay=o.weight_decay)
    return torch.optim.SGD(params, lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay)


def _scheduler(cfg: TrainConfig, opt, total_iters: int):
    o = cfg.optim
    if o.scheduler == "onecycle":
        # OpenGait's pose configs: OneCycleLR with max_lr = lr over the whole run, stepped every iteration.
        return torch.optim.lr_scheduler.OneCycleLR(
            opt,
            max_lr=o.lr,
            total_steps=total_iters,
            three_phase=o.three_phase,
            div_factor=o.div_factor,
            final_div_factor=o.final_div_factor,
        )
    return torch.optim.lr_scheduler.MultiStepLR(opt, milestones=list(o.milestones), gamma=o.gamma)


def _sampler(cfg: TrainConfig, labels: list[str]):
    if cfg.data.sampler == "random":
        return RandomSampler(labels, cfg.data.batch_size, seed=cfg.train.seed)
    return PKSampler(labels, cfg.data.p, cfg.data.k, seed=cfg.train.seed)


def batch_clips(cfg: TrainConfig, store, idx: list[int], rng: np.random.Generator, augment=None) -> np.ndarray:
    """The batch of sequences ``idx``: ``views`` clips of each (view v of sequence j is row v * len(idx) + j, as
    OpenGait stacks its two views), each sampled and then augmented on its own."""
    clips = []
    for _ in range(cfg.data.views):
        for i in idx:
            clip = sample_frames(store.get(i), cfg.data.frames, rng, ordered=cfg.data.ordered)
            clips.append(augment(clip, rng) if augment else clip)
    return np.stack(clips)


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
    sched = _scheduler(cfg, opt, total_iters)
    amp = bool(cfg.train.amp and dev.type == "cuda")
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    sampler = _sampler(cfg, [r.identity_id for r in records])
    augment = PoseAugment(cfg.augment.steps, source=cfg.source)
    rng = np.random.default_rng(cfg.train.seed + 1)
    start = 0
    found = checkpoints(run_dir)
    if found:
        state = load_checkpoint(found[-1])
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        if cfg.optim.scheduler == "onecycle" and sched.total_steps != total_iters:
            raise GrewkitError(
                f"this run's OneCycle schedule spans {sched.total_steps} iterations, not {total_iters}: "
                "resume it with the same --iterations, or train into a new --out folder",
                path=run_dir,
            )
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
            x = torch.from_numpy(batch_clips(cfg, store, idx, rng, augment)).to(dev, non_blocking=True)
            y = torch.tensor([label_index[records[i].identity_id] for i in idx] * cfg.data.views, device=dev)
            with torch.autocast(device_type=dev.type, dtype=torch.float16, enabled=amp):
                out = model(x)
                loss, terms = combined_loss(cfg.loss, out, y)
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
                    **{k: round(v, 5) if k.startswith("loss_") else v for k, v in terms.items()},
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
