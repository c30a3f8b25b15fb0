"""Triplet and cross-entropy losses as OpenGait applies them: separately for each horizontal part."""

from __future__ import annotations

import torch
from torch import nn


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
