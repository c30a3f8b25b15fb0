"""GaitBase (Fan et al., OpenGait, CVPR 2023): a ResNet-like frame encoder, temporal max pooling,
16 horizontal parts, separate FCs and a BNNeck classifier (triplet on embeddings, CE on logits)."""

from __future__ import annotations

import torch
from torch import nn

from grewkit.train.models.common import (
    BasicBlock,
    FramewiseConv,
    HorizontalPooling,
    SeparateBNNecks,
    SeparateFCs,
    set_pool,
)


class GaitBase(nn.Module):
    input_kind = "silhouettes"

    def __init__(
        self,
        *,
        num_classes: int,
        height: int = 64,
        width: int = 44,
        channels=(64, 128, 256, 512),
        out_channels: int = 256,
        parts: int = 16,
        blocks=(1, 1, 1, 1),
    ):
        super().__init__()
        self.blocks = tuple(blocks)  # names the flat backbone's blocks by stage when weights are exchanged
        layers = [nn.Conv2d(1, channels[0], 3, 1, 1, bias=False), nn.BatchNorm2d(channels[0]), nn.ReLU(inplace=True)]
        cin = channels[0]
        for i, (cout, nb) in enumerate(zip(channels, blocks)):
            for b in range(nb):
                layers.append(BasicBlock(cin, cout, 2 if (b == 0 and i in (1, 2)) else 1))
                cin = cout
        self.backbone = FramewiseConv(nn.Sequential(*layers))
        if (height // 4) % parts:
            raise ValueError(f"height {height} gives {height // 4} rows, not divisible by {parts} parts")
        self.hpp = HorizontalPooling((parts,))
        self.fcs = SeparateFCs(parts, cin, out_channels)
        self.bnneck = SeparateBNNecks(parts, out_channels, max(num_classes, 1))
        self.num_classes = num_classes

    def forward(self, sils: torch.Tensor) -> dict:
        x = set_pool(self.backbone(sils.unsqueeze(1)))
        emb = self.fcs(self.hpp(x))
        _, logits = self.bnneck(emb)
        return {"embeddings": emb, "logits": logits * 16.0 if self.num_classes > 0 else None}
