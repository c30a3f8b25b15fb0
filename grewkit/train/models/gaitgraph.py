"""GaitGraph (Teepe et al., ICIP 2021) and GaitGraph2 (CVPRW 2022): a ResGCN over 2D pose sequences.

The input is a COCO-17 pose sequence (N, T, 17, 3): x, y and confidence per joint, as
``grewkit.train.data.normalise_pose`` gives it (hip-centred, in body heights). The skeleton is a
graph whose adjacency is split by hop distance (0, 1, 2 hops: ``max_graph_distance`` = 2, as
OpenGait's ResGCN kernel [9, 2]); each block is a spatial graph convolution (one 1x1 convolution
per hop, summed over the neighbours through the normalised adjacency times a learned edge
importance) followed by a temporal convolution over 9 frames, each with a residual. An input
branch (3 -> 64 -> 32 channels) per input stream, the main stream (32 x streams -> 128 -> 256, each
with temporal stride 2), average pooling over frames and joints, a linear map to the embedding.

``inputs = "joints"`` is GaitGraph: one stream (x, y, confidence) and an L2-normalised embedding.
``inputs = "multi"`` is GaitGraph2's three streams, each 5 channels: joints (x, y, x and y relative
to the joints' mean, confidence), velocities (differences to the next and the second next frame,
confidence) and bones (vector to the parent joint, its two direction cosines, confidence); its
embedding is not normalised. Embeddings are (N, 1, D): one part, compared with the Euclidean distance.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

# COCO-17 limbs (SkeletonGait's and mmaction's skeleton list), and each joint's parent towards the
# body centre for GaitGraph2's bone stream (the nose is its own parent).
COCO17_EDGES = (
    (0, 1), (0, 2), (1, 3), (2, 4), (0, 5), (5, 7), (7, 9), (0, 6), (6, 8), (8, 10),
    (5, 11), (11, 13), (13, 15), (6, 12), (12, 14), (14, 16), (11, 12),
)  # fmt: skip
COCO17_PARENT = (0, 0, 0, 1, 2, 0, 0, 5, 6, 7, 8, 5, 6, 11, 12, 13, 14)


def hop_adjacency(edges=COCO17_EDGES, joints: int = 17, max_hop: int = 2) -> np.ndarray:
    """(max_hop + 1, V, V): for each hop distance d, the joints exactly d hops apart, column-normalised."""
    a = np.eye(joints)
    for i, j in edges:
        a[i, j] = a[j, i] = 1
    dist = np.full((joints, joints), np.inf)
    reach = [np.linalg.matrix_power(a, d) > 0 for d in range(max_hop + 1)]
    for d in range(max_hop, -1, -1):
        dist[reach[d]] = d
    out = np.zeros((max_hop + 1, joints, joints))
    for d in range(max_hop + 1):
        hop = (dist == d).astype(np.float64)
        deg = hop.sum(0)
        out[d] = hop / np.where(deg > 0, deg, 1)[None]
    return out.astype(np.float32)


class SpatialGraphConv(nn.Module):
    """(N, C, T, V) -> (N, C', T, V): one 1x1 convolution per hop distance, aggregated over neighbours."""

    def __init__(self, cin: int, cout: int, hops: int):
        super().__init__()
        self.hops = hops
        self.conv = nn.Conv2d(cin, cout * hops, 1)

    def forward(self, x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        n, _, t, v = x.shape
        y = self.conv(x).reshape(n, self.hops, -1, t, v)
        return torch.einsum("nkctv,kvw->nctw", y, a)


class STBlock(nn.Module):
    """Spatial graph convolution then temporal convolution (ResGCN's module); ``bottleneck`` narrows each
    to ``cout // reduction`` channels between two 1x1 convolutions. ``residual=False`` for the first block."""

    def __init__(
        self,
        cin: int,
        cout: int,
        hops: int,
        *,
        stride: int = 1,
        window: int = 9,
        bottleneck: bool = False,
        reduction: int = 4,
        residual: bool = True,
        joints: int = 17,
    ):
        super().__init__()
        mid = max(cout // reduction, 1) if bottleneck else cout
        self.reduce_s = (
            nn.Sequential(nn.Conv2d(cin, mid, 1), nn.BatchNorm2d(mid), nn.ReLU(inplace=True)) if bottleneck else None
        )
        self.gcn = SpatialGraphConv(mid if bottleneck else cin, mid, hops)
        self.bn_s = nn.BatchNorm2d(mid)
        self.expand_s = (
            nn.Sequential(nn.ReLU(inplace=True), nn.Conv2d(mid, cout, 1), nn.BatchNorm2d(cout)) if bottleneck else None
        )
        self.res_s = None
        if residual and cin != cout:
            self.res_s = nn.Sequential(nn.Conv2d(cin, cout, 1), nn.BatchNorm2d(cout))
        self.reduce_t = (
            nn.Sequential(nn.Conv2d(cout, mid, 1), nn.BatchNorm2d(mid), nn.ReLU(inplace=True)) if bottleneck else None
        )
        self.tcn = nn.Conv2d(mid if bottleneck else cout, mid, (window, 1), (stride, 1), (window // 2, 0))
        self.bn_t = nn.BatchNorm2d(mid)
        self.expand_t = (
            nn.Sequential(nn.ReLU(inplace=True), nn.Conv2d(mid, cout, 1), nn.BatchNorm2d(cout)) if bottleneck else None
        )
        self.res_t = None
        if stride != 1:
            self.res_t = nn.Sequential(nn.Conv2d(cout, cout, 1, (stride, 1)), nn.BatchNorm2d(cout))
        self.residual = residual
        self.edge = nn.Parameter(torch.ones(hops, joints, joints))  # learned edge importance

    def forward(self, x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        y = x if self.reduce_s is None else self.reduce_s(x)
        y = self.bn_s(self.gcn(y, a * self.edge))
        if self.expand_s is not None:
            y = self.expand_s(y)
        if self.residual:
            y = y + (x if self.res_s is None else self.res_s(x))
        x = torch.relu(y)
        y = x if self.reduce_t is None else self.reduce_t(x)
        y = self.bn_t(self.tcn(y))
        if self.expand_t is not None:
            y = self.expand_t(y)
        y = y + (x if self.res_t is None else self.res_t(x))
        return torch.relu(y)


def pose_streams(pose: torch.Tensor, inputs: str) -> torch.Tensor:
    """(N, T, V, 3) -> (N, I, C, T, V): the input streams of GaitGraph (I = 1, C = 3) or GaitGraph2 (3, 5)."""
    if inputs == "joints":
        return pose.permute(0, 3, 1, 2).unsqueeze(1)
    xy, conf = pose[..., :2], pose[..., 2:]
    centre = xy - xy.mean(2, keepdim=True)
    joints = torch.cat([xy, centre, conf], -1)
    nxt = torch.cat([xy[:, 1:], xy[:, -1:]], 1)
    nxt2 = torch.cat([xy[:, 2:], xy[:, -1:], xy[:, -1:]], 1)[:, : xy.shape[1]]
    velocity = torch.cat([nxt - xy, nxt2 - xy, conf], -1)
    bone = xy - xy[:, :, list(COCO17_PARENT)]
    cosines = bone / (bone.norm(dim=-1, keepdim=True) + 1e-4)
    bones = torch.cat([bone, cosines, conf], -1)
    return torch.stack([joints, velocity, bones], 1).permute(0, 1, 4, 2, 3)


class GaitGraph(nn.Module):
    input_kind = "pose"

    def __init__(
        self,
        *,
        num_classes: int,
        height: int = 64,
        width: int = 44,
        inputs: str = "joints",
        branch_channels=(64, 32),
        main_channels=(128, 256),
        out_channels: int = 128,
        bottleneck: bool = True,
        reduction: int = 8,
        window: int = 9,
        max_hop: int = 2,
    ):
        super().__init__()
        if inputs not in ("joints", "multi"):
            raise ValueError(f"inputs must be joints (GaitGraph) or multi (GaitGraph2), not {inputs!r}")
        if len(branch_channels) != 2 or len(main_channels) < 1:
            raise ValueError("branch_channels needs 2 entries, main_channels at least 1")
        self.inputs = inputs
        streams, cin = (1, 3) if inputs == "joints" else (3, 5)
        self.register_buffer("adjacency", torch.from_numpy(hop_adjacency(max_hop=max_hop)), persistent=False)
        hops = max_hop + 1
        kw = {"window": window, "bottleneck": bottleneck, "reduction": reduction}
        c1, c2 = branch_channels
        self.branches = nn.ModuleList()
        for _ in range(streams):
            self.branches.append(
                nn.ModuleList(
                    [
                        nn.BatchNorm2d(cin),
                        STBlock(cin, c1, hops, residual=False, window=window),
                        STBlock(c1, c2, hops, **kw),
                    ]
                )
            )
        main, c = [], c2 * streams
        for cout in main_channels:
            main.append(STBlock(c, cout, hops, stride=2, **kw))
            c = cout
        self.main = nn.ModuleList(main)
        self.fc = nn.Linear(c, out_channels)
        self.num_classes = num_classes

    def forward(self, pose: torch.Tensor) -> dict:
        a = self.adjacency
        x = pose_streams(pose, self.inputs)
        outs = []
        for i, (bn, first, second) in enumerate(self.branches):
            y = bn(x[:, i])
            outs.append(second(first(y, a), a))
        y = torch.cat(outs, 1)
        for block in self.main:
            y = block(y, a)
        emb = self.fc(y.mean((2, 3)))
        if self.inputs == "joints":
            emb = nn.functional.normalize(emb, dim=-1)
        return {"embeddings": emb.unsqueeze(1), "logits": None}
