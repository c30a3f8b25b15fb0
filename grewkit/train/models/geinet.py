"""GEINet (Shiraga et al., ICB 2016): two conv layers on the gait energy image, then two FC layers.

The GEI is the mean silhouette of the sequence; the 1024-d first FC layer is the embedding.
"""

from __future__ import annotations

import torch
from torch import nn


class GEINet(nn.Module):
    input_kind = "gei"

    def __init__(self, *, num_classes: int, height: int = 64, width: int = 44, hidden: int = 1024):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 18, 7),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.LocalResponseNorm(5),
            nn.Conv2d(18, 45, 5),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3),
            nn.LocalResponseNorm(5),
        )
        with torch.no_grad():
            flat = self.features(torch.zeros(1, 1, height, width)).numel()
        self.embed = nn.Sequential(nn.Flatten(), nn.Linear(flat, hidden), nn.ReLU(inplace=True))
        self.classifier = nn.Linear(hidden, num_classes) if num_classes > 0 else None

    def forward(self, sils: torch.Tensor) -> dict:
        gei = sils.mean(1, keepdim=True)  # (N, 1, H, W)
        e = self.embed(self.features(gei))
        logits = self.classifier(nn.functional.dropout(e, 0.5, self.training)) if self.classifier is not None else None
        return {"embeddings": e.unsqueeze(1), "logits": None if logits is None else logits.unsqueeze(1)}
