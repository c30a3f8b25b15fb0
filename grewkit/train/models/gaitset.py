"""GaitSet (Chao et al., AAAI 2019): frame-level CNN, set pooling, horizontal pyramid pooling.

Follows OpenGait's GaitSet: two branches (frame-level and set-level) joined after each block,
62 parts (bins 16, 8, 4, 2, 1 over two branches) projected by separate FCs.
"""

from __future__ import annotations

import torch
from torch import nn

from grewkit.train.models.common import FramewiseConv, HorizontalPooling, SeparateFCs, set_pool


def _block(cin, cout, k1, k2, pool):
    layers = [
        nn.Conv2d(cin, cout, k1, padding=k1 // 2, bias=False),
        nn.LeakyReLU(inplace=True),
        nn.Conv2d(cout, cout, k2, padding=k2 // 2, bias=False),
        nn.LeakyReLU(inplace=True),
    ]
    if pool:
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


class GaitSet(nn.Module):
    input_kind = "silhouettes"

    def __init__(
        self,
        *,
        num_classes: int = 0,
        height: int = 64,
        width: int = 44,
        channels=(32, 64, 128),
        out_channels: int = 256,
        bins=(16, 8, 4, 2, 1),
    ):
        super().__init__()
        c1, c2, c3 = channels
        self.set_block1 = FramewiseConv(_block(1, c1, 5, 3, True))
        self.set_block2 = FramewiseConv(_block(c1, c2, 3, 3, True))
        self.set_block3 = FramewiseConv(_block(c2, c3, 3, 3, False))
        self.gl_block2 = _block(c1, c2, 3, 3, True)
        self.gl_block3 = _block(c2, c3, 3, 3, False)
        self.hpp = HorizontalPooling(bins)
        if height // 4 % max(bins):
            bins_ok = [b for b in bins if (height // 4) % b == 0]
            raise ValueError(
                f"height {height} gives {height // 4} rows after pooling, not divisible by bins {bins} "
                f"(usable: {bins_ok})"
            )
        self.parts = 2 * sum(bins)
        self.fcs = SeparateFCs(self.parts, c3, out_channels)

    def forward(self, sils: torch.Tensor) -> dict:
        x = sils.unsqueeze(1)  # (N, 1, T, H, W)
        x = self.set_block1(x)
        gl = self.gl_block2(set_pool(x))
        x = self.set_block2(x)
        gl = self.gl_block3(gl + set_pool(x))
        x = self.set_block3(x)
        x = set_pool(x)
        gl = gl + x
        feat = torch.cat([self.hpp(x), self.hpp(gl)], -1)  # (N, C, P)
        return {"embeddings": self.fcs(feat), "logits": None}
