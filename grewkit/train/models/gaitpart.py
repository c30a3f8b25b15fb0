"""GaitPart (Fan et al., CVPR 2020): focal convolutions and a per-part micro-motion capture module.

Focal convolution splits the feature map into horizontal strips and convolves each separately;
the micro-motion module weighs short temporal windows of each part's feature before pooling.

The layer layout follows OpenGait's ``Plain`` backbone vocabulary, so a published config reads
the same here: ``"BC-32"`` a 3x3 convolution (5x5 for the first layer) to 32 channels,
``"FC-64-2"`` a focal convolution to 64 channels over 2**2 strips, ``"M"`` a 2x2 max pooling.
Every convolution is followed by a LeakyReLU; none has a bias.
"""

from __future__ import annotations

import torch
from torch import nn

from grewkit.train.models.common import FramewiseConv, SeparateFCs

# OpenGait's published layouts (configs/gaitpart/gaitpart.yaml and gaitpart_GREW.yaml).
CASIAB_LAYERS = ("BC-32", "BC-32", "M", "FC-64-2", "FC-64-2", "M", "FC-128-3", "FC-128-3")
GREW_LAYERS = ("BC-32", "BC-32", "M", "BC-64", "BC-64", "M", "FC-128-3", "FC-128-3", "FC-256-3", "FC-256-3")


class FocalConv(nn.Module):
    def __init__(self, cin, cout, k, halving):
        super().__init__()
        self.halving = halving
        self.conv = nn.Conv2d(cin, cout, k, padding=k // 2, bias=False)

    def forward(self, x):
        if self.halving == 0:
            return self.conv(x)
        strips = x.split(x.shape[2] // 2**self.halving, dim=2)
        return torch.cat([self.conv(s) for s in strips], 2)


def parse_layers(layers) -> list[tuple]:
    """``["BC-32", "M", "FC-64-2"]`` -> ``[("BC", 32, 0), ("M",), ("FC", 64, 2)]``; errors name the entry."""
    parsed = []
    for spec in layers:
        parts = str(spec).split("-")
        try:
            if parts == ["M"]:
                parsed.append(("M",))
            elif parts[0] == "BC" and len(parts) == 2:
                parsed.append(("BC", int(parts[1]), 0))
            elif parts[0] == "FC" and len(parts) == 3:
                parsed.append(("FC", int(parts[1]), int(parts[2])))
            else:
                raise ValueError
        except ValueError:
            raise ValueError(f"layer {spec!r} is not BC-<channels>, FC-<channels>-<halving> or M") from None
    if not parsed or parsed[0][0] == "M":
        raise ValueError("layers must start with a convolution")
    return parsed


def layers_from_channels(channels) -> list[str]:
    """The CASIA-B layout with other widths (c1, c2, c3): a short way to write a narrow GaitPart."""
    c1, c2, c3 = channels
    return [f"BC-{c1}", f"BC-{c1}", "M", f"FC-{c2}-2", f"FC-{c2}-2", "M", f"FC-{c3}-3", f"FC-{c3}-3"]


class MicroMotion(nn.Module):
    """Temporal template: mean+max of 3- and 5-frame windows, gated by a learned 1-D conv attention.

    OpenGait keeps one small Conv1d stack per part; here the parts are the groups of one grouped
    Conv1d (part-major channels p*C + c), which is the same arithmetic in one call. The average
    pooling counts the zero padding at both ends of the clip, as ``nn.AvgPool1d`` does by default.
    """

    def __init__(self, channels: int, parts: int, squeeze: int = 4):
        super().__init__()
        hidden = channels // squeeze
        self.att3 = nn.Sequential(
            nn.Conv1d(channels * parts, hidden * parts, 3, padding=1, groups=parts, bias=False),
            nn.LeakyReLU(inplace=True),
            nn.Conv1d(hidden * parts, channels * parts, 1, groups=parts, bias=False),
        )
        self.att5 = nn.Sequential(
            nn.Conv1d(channels * parts, hidden * parts, 3, padding=1, groups=parts, bias=False),
            nn.LeakyReLU(inplace=True),
            nn.Conv1d(hidden * parts, channels * parts, 3, padding=1, groups=parts, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C, P, T) -> (N, C, P)
        n, c, p, t = x.shape
        z = x.permute(0, 2, 1, 3).reshape(n, p * c, t)
        m3 = nn.functional.avg_pool1d(z, 3, 1, 1) + nn.functional.max_pool1d(z, 3, 1, 1)
        m5 = nn.functional.avg_pool1d(z, 5, 1, 2) + nn.functional.max_pool1d(z, 5, 1, 2)
        y = m3 * torch.sigmoid(self.att3(z)) + m5 * torch.sigmoid(self.att5(z))
        return y.max(-1).values.reshape(n, p, c).permute(0, 2, 1)


class GaitPart(nn.Module):
    input_kind = "silhouettes"

    def __init__(
        self,
        *,
        num_classes: int = 0,
        height: int = 64,
        width: int = 44,
        channels=(32, 64, 128),
        layers=None,
        out_channels: int = 128,
        parts: int = 16,
    ):
        super().__init__()
        self.layers = list(layers) if layers is not None else layers_from_channels(channels)
        modules: list[nn.Module] = []
        cin, pools = 1, 0
        for i, entry in enumerate(parse_layers(self.layers)):
            if entry[0] == "M":
                modules.append(nn.MaxPool2d(2))
                pools += 1
                continue
            kind, cout, halving = entry
            k = 5 if i == 0 else 3
            modules.append(
                nn.Conv2d(cin, cout, k, padding=k // 2, bias=False)
                if kind == "BC"
                else FocalConv(cin, cout, k, halving)
            )
            modules.append(nn.LeakyReLU(inplace=True))
            cin = cout
        self.backbone = FramewiseConv(nn.Sequential(*modules))
        rows = height // 2**pools
        if rows % parts:
            raise ValueError(f"height {height} gives {rows} rows, not divisible by {parts} parts")
        self.parts = parts
        self.tfa = MicroMotion(cin, parts)
        self.fcs = SeparateFCs(parts, cin, out_channels)

    def forward(self, sils: torch.Tensor) -> dict:
        x = self.backbone(sils.unsqueeze(1))  # (N, C, T, H, W)
        n, c, t, h, w = x.shape
        x = x.reshape(n, c, t, self.parts, -1)
        x = x.mean(-1) + x.max(-1).values  # (N, C, T, P)
        x = self.tfa(x.permute(0, 1, 3, 2))
        return {"embeddings": self.fcs(x), "logits": None}
