"""GaitPart (Fan et al., CVPR 2020): focal convolutions and a per-part micro-motion capture module.

Focal convolution splits the feature map into horizontal strips and convolves each separately;
the micro-motion module weighs short temporal windows of each part's feature before pooling.
"""

from __future__ import annotations

import torch
from torch import nn

from grewkit.train.models.common import FramewiseConv, SeparateFCs


class FocalConv(nn.Module):
    def __init__(self, cin, cout, k, halving):
        super().__init__()
        self.halving = halving
        self.conv = nn.Conv2d(cin, cout, k, padding=k // 2, bias=False)

    def forward(self, x):
        if self.halving == 0:
            return self.conv(x)
        strips = x.split(x.shape[2] // 2 ** self.halving, dim=2)
        return torch.cat([self.conv(s) for s in strips], 2)


class MicroMotion(nn.Module):
    """Temporal template: mean+max of 3- and 5-frame windows, gated by a learned 1-D conv attention."""

    def __init__(self, channels: int, parts: int, squeeze: int = 4):
        super().__init__()
        hidden = channels // squeeze
        self.att3 = nn.Sequential(nn.Conv1d(channels * parts, hidden * parts, 3, padding=1, groups=parts),
                                  nn.LeakyReLU(inplace=True),
                                  nn.Conv1d(hidden * parts, channels * parts, 1, groups=parts))
        self.att5 = nn.Sequential(nn.Conv1d(channels * parts, hidden * parts, 3, padding=1, groups=parts),
                                  nn.LeakyReLU(inplace=True),
                                  nn.Conv1d(hidden * parts, channels * parts, 3, padding=1, groups=parts))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C, P, T) -> (N, C, P)
        n, c, p, t = x.shape
        z = x.permute(0, 2, 1, 3).reshape(n, p * c, t)
        m3 = nn.functional.avg_pool1d(z, 3, 1, 1, count_include_pad=False) + nn.functional.max_pool1d(z, 3, 1, 1)
        m5 = nn.functional.avg_pool1d(z, 5, 1, 2, count_include_pad=False) + nn.functional.max_pool1d(z, 5, 1, 2)
        y = m3 * torch.sigmoid(self.att3(z)) + m5 * torch.sigmoid(self.att5(z))
        return y.max(-1).values.reshape(n, p, c).permute(0, 2, 1)


class GaitPart(nn.Module):
    input_kind = "silhouettes"

    def __init__(self, *, num_classes: int = 0, height: int = 64, width: int = 44,
                 channels=(32, 64, 128), out_channels: int = 128, parts: int = 16):
        super().__init__()
        c1, c2, c3 = channels
        act = lambda: nn.LeakyReLU(inplace=True)  # noqa: E731
        self.backbone = FramewiseConv(nn.Sequential(
            nn.Conv2d(1, c1, 5, padding=2, bias=False), act(), nn.Conv2d(c1, c1, 3, padding=1, bias=False), act(),
            nn.MaxPool2d(2),
            FocalConv(c1, c2, 3, 2), act(), FocalConv(c2, c2, 3, 2), act(), nn.MaxPool2d(2),
            FocalConv(c2, c3, 3, 3), act(), FocalConv(c3, c3, 3, 3), act(),
        ))
        if (height // 4) % parts:
            raise ValueError(f"height {height} gives {height // 4} rows, not divisible by {parts} parts")
        self.parts = parts
        self.tfa = MicroMotion(c3, parts)
        self.fcs = SeparateFCs(parts, c3, out_channels)

    def forward(self, sils: torch.Tensor) -> dict:
        x = self.backbone(sils.unsqueeze(1))  # (N, C, T, H, W)
        n, c, t, h, w = x.shape
        x = x.reshape(n, c, t, self.parts, -1)
        x = x.mean(-1) + x.max(-1).values  # (N, C, T, P)
        x = self.tfa(x.permute(0, 1, 3, 2))
        return {"embeddings": self.fcs(x), "logits": None}
