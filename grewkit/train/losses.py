"""Training losses as OpenGait applies them, separately for each horizontal part: triplet, cross-entropy and
supervised contrastive (the pose models'), and the registry the training loop combines them from."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from grewkit.core.registry import Registry


def triplet_loss(emb: torch.Tensor, labels: torch.Tensor, margin: float = 0.2) -> tuple[torch.Tensor, float]:
    """Batch-all triplet loss per part, averaged over the triplets that still violate the margin.

    emb (N, P, D); returns (loss, fraction of violating triplets)."""
    x = emb.float().permute(1, 0, 2)  # (P, N, D)
    d = torch.cdist(x, x).clamp_min(1e-12)  # (P, N, N)
    same = labels.unsqueeze(0) == labels.unsqueeze(1)
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    pos = same & ~eye
    neg = ~same
    # (P, a, p, n) all anchor-positive-negative triples
    diff = d.unsqueeze(3) - d.unsqueeze(2) + margin
    mask = (pos.unsqueeze(2) & neg.unsqueeze(1)).unsqueeze(0)
    losses = torch.relu(diff) * mask
    active = (losses > 0).sum()
    total = mask.sum() * x.shape[0]
    loss = losses.sum() / active.clamp_min(1)
    return loss, float(active) / max(float(total), 1.0)


def ce_loss(logits: torch.Tensor, labels: torch.Tensor, label_smoothing: float = 0.1) -> torch.Tensor:
    """Cross-entropy per part. logits (N, P, C)."""
    n, p, c = logits.shape
    return nn.functional.cross_entropy(
        logits.float().reshape(n * p, c), labels.repeat_interleave(p), label_smoothing=label_smoothing
    )


def supcon_loss(
    emb: torch.Tensor,
    labels: torch.Tensor,
    temperature: float = 0.01,
    *,
    similarity: str = "dot",
    scale: float = 1.0,
) -> torch.Tensor:
    """Supervised contrastive loss (Khosla et al. 2020) per part, averaged over the anchors that have a positive.

    emb (M, P, D): every row an anchor (the views of a sequence are rows of their own, with its label);
    its positives are the other rows of its label, the denominator runs over every other row. For anchor
    i: -scale * mean over positives p of log(exp(s_ip / T) / sum_{j != i} exp(s_ij / T)).
    ``similarity`` "dot": s = the embeddings' dot product (OpenGait's ``SupConLoss_Re``, which GaitGraph1
    feeds L2-normalised embeddings, with scale = temperature / base_temperature); "euclidean": s = minus the
    distance between the L2-normalised embeddings (OpenGait's ``SupConLoss_Lp``, pytorch-metric-learning's
    SupConLoss with ``LpDistance``; no scale, and zero for a batch without a positive or without a negative pair).
    An anchor without a positive is left out of the mean (OpenGait's ``SupConLoss_Re`` divides by zero there)."""
    if similarity not in ("dot", "euclidean"):
        raise ValueError(f"similarity must be dot or euclidean, not {similarity!r}")
    x = emb.float().permute(1, 0, 2)  # (P, M, D)
    if similarity == "dot":
        s = x @ x.transpose(1, 2)
    else:
        x = nn.functional.normalize(x, dim=-1)
        # |a - b| of unit vectors from their dot product; the clamp keeps the gradient finite on the
        # diagonal (distance 0), which the mask below leaves out anyway.
        s = -(2.0 - 2.0 * (x @ x.transpose(1, 2))).clamp_min(1e-12).sqrt()
    logits = s / temperature
    m = len(labels)
    eye = torch.eye(m, dtype=torch.bool, device=emb.device)
    same = labels.unsqueeze(0) == labels.unsqueeze(1)
    pos = same & ~eye
    has_pos = pos.any(1)
    if not has_pos.any() or (similarity == "euclidean" and not (~same).any()):
        return emb.sum() * 0.0
    log_prob = logits - torch.logsumexp(logits.masked_fill(eye, float("-inf")), dim=-1, keepdim=True)
    mean_pos = (log_prob * pos).sum(-1) / pos.sum(-1).clamp_min(1)  # (P, M)
    return -scale * mean_pos[:, has_pos].mean()


def _triplet_term(out: dict, labels: torch.Tensor, c) -> tuple[torch.Tensor, dict]:
    loss, frac = triplet_loss(out["embeddings"], labels, c.triplet_margin)
    return loss, {"triplet_active": round(frac, 4)}


def _ce_term(out: dict, labels: torch.Tensor, c):
    if out["logits"] is None:  # a model without a classifier (the pose models) has no CE term
        return None
    return ce_loss(out["logits"], labels, c.label_smoothing), {}


def _supcon_term(out: dict, labels: torch.Tensor, c):
    scale = c.supcon_temperature / c.supcon_base_temperature
    return supcon_loss(out["embeddings"], labels, c.supcon_temperature, similarity="dot", scale=scale), {}


def _supcon_lp_term(out: dict, labels: torch.Tensor, c):
    return supcon_loss(out["embeddings"], labels, c.supcon_temperature, similarity="euclidean"), {}


# Name -> term(model output, labels, the config's [loss] section) -> (loss, log entries) or None (the term
# does not apply to this model). A term is weighted by [loss] <name>_weight and on when that is positive.
LOSSES: Registry[Callable] = Registry(
    "loss",
    {"triplet": _triplet_term, "ce": _ce_term, "supcon": _supcon_term, "supcon_lp": _supcon_lp_term},
)


def combined_loss(c, out: dict, labels: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """The weighted sum of the terms whose ``<name>_weight`` in ``c`` (a ``[loss]`` section) is positive,
    and the log entries: each term's value as ``loss_<name>`` and what the terms report."""
    total = None
    info: dict = {}
    for name in LOSSES:
        weight = getattr(c, f"{name}_weight", 0.0)
        if weight <= 0:
            continue
        got = LOSSES.get(name)(out, labels, c)
        if got is None:
            continue
        term, extra = got
        total = weight * term if total is None else total + weight * term
        info[f"loss_{name}"] = float(term.detach())
        info.update(extra)
    if total is None:
        total = out["embeddings"].sum() * 0.0
    return total, info
