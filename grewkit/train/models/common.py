"""Building blocks shared by the set-based models (OpenGait's vocabulary)."""

from __future__ import annotations

import torch
from torch import nn


class FramewiseConv(nn.Module):
    """Apply a 2-D module to every frame of (N, C, T, H, W)."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, t, h, w = x.shape
        y = self.module(x.transpose(1, 2).reshape(n * t, c, h, w))
        return y.reshape(n, t, *y.shape[1:]).transpose(1, 2).contiguous()


def set_pool(x: torch.Tensor) -> torch.Tensor:
    """Max over the frame axis: the permutation-invariant 'set' pooling of GaitSet."""
    return x.max(dim=2).values


class HorizontalPooling(nn.Module):
    """Horizontal pyramid pooling: for each bin count b, split H into b strips, mean + max per strip."""

    def __init__(self, bins=(16, 8, 4, 2, 1)):
        super().__init__()
        self.bins = tuple(bins)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C, H, W) -> (N, C, P)
        n, c = x.shape[:2]
        out = []
        for b in self.bins:
            z = x.reshape(n, c, b, -1)
            out.append(z.mean(-1) + z.max(-1).values)
        return torch.cat(out, -1)


class SeparateFCs(nn.Module):
    """One linear map per part: (N, C, P) -> (N, P, D)."""

    def __init__(self, parts: int, in_channels: int, out_channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(parts, in_channels, out_channels))
        nn.init.xavier_uniform_(self.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("ncp,pcd->npd", x, self.weight)


class SeparateBNNecks(nn.Module):
    """Per-part batch norm, then a per-part classifier (GaitBase's BNNeck)."""

    def __init__(self, parts: int, channels: int, num_classes: int):
        super().__init__()
        self.bn = nn.BatchNorm1d(channels * parts)
        self.fc = nn.Parameter(torch.empty(parts, channels, num_classes))
        nn.init.xavier_uniform_(self.fc)
        self.parts = parts

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # x (N, P, D)
        n, p, d = x.shape
        y = self.bn(x.reshape(n, p * d)).reshape(n, p, d)
        logits = torch.einsum(
            "npd,pdc->npc", nn.functional.normalize(y, dim=-1), nn.functional.normalize(self.fc, dim=1)
        )
        return y, logits


class BasicBlock(nn.Module):
    """The ResNet basic block on single frames (N', C, H, W): two 3x3 convolutions, a 1x1 projection on the
    identity path when the shape changes (GaitBase's ResNet9 and DeepGaitV2's 2D stages)."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return torch.relu(y + (x if self.down is None else self.down(x)))
