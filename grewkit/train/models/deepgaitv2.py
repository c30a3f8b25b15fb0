"""DeepGaitV2 (Fan et al., "Exploring Deep Models for Practical Gait Recognition", 2023, OpenGait).

A ResNet-like encoder whose later stages mix time into the residual blocks: in ``p3d`` mode
(the published configs) each block of stages 2-4 adds a 3x1x1 temporal convolution shortcut to
its first 2-D convolution (pseudo-3D); ``2d`` mode keeps every block frame-wise. Then temporal
max pooling, 16 horizontal parts, separate FCs (c4 -> c3) and a BNNeck classifier, as GaitBase.
"""

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


def _conv3x3(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, 3, stride, 1, bias=False)


class BlockP3D(nn.Module):
    """Pseudo-3D basic block on clips (N, C, T, H, W): frame-wise 3x3 convolutions, a 3x1x1 temporal
    shortcut after the first, a 1x1x1 projection on the identity path when the shape changes."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = FramewiseConv(
            nn.Sequential(_conv3x3(cin, cout, stride), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))
        )
        self.conv2 = FramewiseConv(nn.Sequential(_conv3x3(cout, cout), nn.BatchNorm2d(cout)))
        self.shortcut3d = nn.Conv3d(cout, cout, (3, 1, 1), 1, (1, 0, 0), bias=False)
        self.sbn = nn.BatchNorm3d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv3d(cin, cout, 1, (1, stride, stride), bias=False), nn.BatchNorm3d(cout))

    def forward(self, x):
        y = self.conv1(x)
        y = torch.relu(y + self.sbn(self.shortcut3d(y)))
        y = self.conv2(y)
        return torch.relu(y + (x if self.down is None else self.down(x)))


class DeepGaitV2(nn.Module):
    input_kind = "silhouettes"

    def __init__(
        self,
        *,
        num_classes: int,
        height: int = 64,
        width: int = 44,
        mode: str = "p3d",
        channels=(64, 128, 256, 512),
        blocks=(1, 1, 1, 1),
        parts: int = 16,
        in_channels: int = 1,
    ):
        super().__init__()
        if mode not in ("p3d", "2d"):
            raise ValueError(f"mode must be p3d or 2d, not {mode!r}")
        if len(channels) != 4 or len(blocks) != 4:
            raise ValueError("channels and blocks need 4 entries each (one per stage)")
        self.mode = mode
        c0 = channels[0]
        self.layer0 = FramewiseConv(nn.Sequential(_conv3x3(in_channels, c0), nn.BatchNorm2d(c0), nn.ReLU(inplace=True)))
        cin = c0
        stages = []
        for i, (cout, nb) in enumerate(zip(channels, blocks)):
            block = BasicBlock if (i == 0 or mode == "2d") else BlockP3D
            seq = []
            for b in range(nb):
                seq.append(block(cin, cout, 2 if (b == 0 and i in (1, 2)) else 1))
                cin = cout
            seq = nn.Sequential(*seq)
            stages.append(FramewiseConv(seq) if block is BasicBlock else seq)
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        if (height // 4) % parts:
            raise ValueError(f"height {height} gives {height // 4} rows, not divisible by {parts} parts")
        self.hpp = HorizontalPooling((parts,))
        self.fcs = SeparateFCs(parts, channels[3], channels[2])
        self.bnneck = SeparateBNNecks(parts, channels[2], max(num_classes, 1))
        self.num_classes = num_classes

    def forward(self, sils: torch.Tensor) -> dict:
        # silhouettes (N, T, H, W) -> (N, 1, T, H, W); multi-channel frames (N, T, C, H, W) -> (N, C, T, H, W)
        x = sils.unsqueeze(1) if sils.dim() == 4 else sils.transpose(1, 2)
        x = self.layer4(self.layer3(self.layer2(self.layer1(self.layer0(x)))))
        emb = self.fcs(self.hpp(set_pool(x)))
        _, logits = self.bnneck(emb)
        return {"embeddings": emb, "logits": logits * 16.0 if self.num_classes > 0 else None}
