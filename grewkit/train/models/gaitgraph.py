"""GaitGraph (Teepe et al., ICIP 2021) and GaitGraph2 (CVPRW 2022): a ResGCN over 2D pose sequences,
laid out as OpenGait's ``GaitGraph1`` / ``GaitGraph2`` build it, so that OpenGait's weights load by name
(``grewkit.train.opengait``) and the parameter counts of its configs are met exactly.

The input is a COCO-17 pose sequence (N, T, 17, 3): x, y and confidence per joint, as
``grewkit.train.data.normalise_pose`` gives it. The graph is OpenGait's COCO graph (18 limbs, ears to
shoulders and shoulder to shoulder, no nose-shoulder links); its adjacency has one slice per hop distance
0-3, each column divided by the joint's number of neighbours within 3 hops; the graph convolutions use the
slices for 0-2 hops (ResGCN's kernel [9, 2]) and every module learns an edge importance for all four.

Network (``input_branch`` and ``main_stream`` are OpenGait's ``model_cfg`` lists): per input stream a
BatchNorm over the input channels, then modules ``input_branch[i] -> input_branch[i+1]`` (the first a
plain one without residuals, the rest of ``block`` type); the streams concatenated; main-stream modules
``main_stream[i] -> main_stream[i+1]`` (the first one halves the frames, later ones where the width grows);
average pooling over frames and joints; a linear map to ``num_out`` (OpenGait's ``num_class``: the
embedding width, not a class count). A module is a spatial block (graph convolution, bottleneck'd by
``reduction`` for "Bottleneck") and a temporal block (convolution over 9 frames).

``inputs = "joints"`` is GaitGraph: one stream (x, y, confidence), L2-normalised embedding; OpenGait's
test-time augmentation (``tta``) averages it with the embedding of the time-reversed sequence.
``inputs = "multi"`` is GaitGraph2: three streams of 5 channels computed from the joints as OpenGait's
``GaitGraph_MultiInput`` does, embedding not normalised; ``tta`` concatenates the embeddings of the
sequence, its time reversal and its left-right joint swap (3 x ``num_out``). OpenGait trains both with a
supervised contrastive loss; grewkit's loop trains the same network with its triplet loss.
Embeddings are (N, 1, D): one part.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

# OpenGait's COCO graph (``modules.Graph(joint_format="coco")``): limbs, the centre joint (nose), each
# joint's bone partner for the bone stream, and the left-right swap.
GRAPH_EDGES = (
    (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6), (5, 6), (5, 7), (7, 9), (6, 8), (8, 10),
    (5, 11), (6, 12), (11, 12), (11, 13), (13, 15), (12, 14), (14, 16),
)  # fmt: skip
CENTRE = 0
BONE_PARTNER = (5, 0, 0, 1, 2, 0, 0, 5, 6, 7, 8, 5, 6, 11, 12, 13, 14)
MIRROR = (0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15)
MAX_HOP = 3  # the graph's hop classes 0..3
HOPS_USED = 3  # ResGCN's max_graph_distance 2: hop classes 0..2 enter the convolution
WINDOW = 9


def hop_adjacency(edges=GRAPH_EDGES, joints: int = 17, max_hop: int = MAX_HOP) -> np.ndarray:
    """(max_hop + 1, V, V): slice d holds the joints exactly d hops apart, each column divided by the number
    of joints within max_hop hops of that column's joint."""
    a = np.eye(joints)
    for i, j in edges:
        a[i, j] = a[j, i] = 1
    dist = np.full((joints, joints), np.inf)
    for d in range(max_hop, -1, -1):
        dist[np.linalg.matrix_power(a, d) > 0] = d
    within = (dist <= max_hop).astype(np.float64)
    normalised = within / within.sum(0, keepdims=True)
    return np.stack([np.where(dist == d, normalised, 0.0) for d in range(max_hop + 1)]).astype(np.float32)


def _conv_bn(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 1, (stride, 1)), nn.BatchNorm2d(cout))


class GraphConv(nn.Module):
    """(N, C, T, V) -> (N, C', T, V): a 1x1 convolution per hop class, summed over neighbours."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.gcn = nn.Conv2d(cin, cout * HOPS_USED, 1)

    def forward(self, x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        n, _, t, v = x.shape
        y = self.gcn(x).reshape(n, HOPS_USED, -1, t, v)
        return torch.einsum("nkctv,kvw->nctw", y, a[:HOPS_USED])


class SpatialBlock(nn.Module):
    """Graph convolution + BatchNorm (plain), or 1x1 down to ``cout // reduction``, graph convolution, 1x1 up
    (bottleneck); ``residual``: identity where the widths agree, else a 1x1 convolution with BatchNorm."""

    def __init__(self, cin: int, cout: int, bottleneck: bool, residual: bool, reduction: int):
        super().__init__()
        self.bottleneck = bottleneck
        self.residual = (nn.Identity() if cin == cout else _conv_bn(cin, cout)) if residual else None
        if bottleneck:
            mid = cout // reduction
            self.conv_down, self.bn_down = nn.Conv2d(cin, mid, 1), nn.BatchNorm2d(mid)
            self.conv, self.bn = GraphConv(mid, mid), nn.BatchNorm2d(mid)
            self.conv_up, self.bn_up = nn.Conv2d(mid, cout, 1), nn.BatchNorm2d(cout)
        else:
            self.conv, self.bn = GraphConv(cin, cout), nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        res = 0 if self.residual is None else self.residual(x)
        if not self.bottleneck:
            return torch.relu(self.bn(self.conv(x, a)) + res)
        y = torch.relu(self.bn_down(self.conv_down(x)))
        y = torch.relu(self.bn(self.conv(y, a)))
        return torch.relu(self.bn_up(self.conv_up(y)) + res)


class TemporalBlock(nn.Module):
    """Convolution over ``WINDOW`` frames (bottleneck'd like the spatial block), plus the module's residual.

    ``stride`` 2 halves the frames, and a residual then is a strided 1x1 convolution with BatchNorm."""

    def __init__(self, c: int, stride: int, bottleneck: bool, residual: bool, reduction: int):
        super().__init__()
        self.bottleneck = bottleneck
        if not residual:
            self.residual = None
        else:
            self.residual = nn.Identity() if stride == 1 else _conv_bn(c, c, stride)
        pad = (WINDOW // 2, 0)
        if bottleneck:
            mid = c // reduction
            self.conv_down, self.bn_down = nn.Conv2d(c, mid, 1), nn.BatchNorm2d(mid)
            self.conv, self.bn = nn.Conv2d(mid, mid, (WINDOW, 1), (stride, 1), pad), nn.BatchNorm2d(mid)
            self.conv_up, self.bn_up = nn.Conv2d(mid, c, 1), nn.BatchNorm2d(c)
        else:
            self.conv, self.bn = nn.Conv2d(c, c, (WINDOW, 1), (stride, 1), pad), nn.BatchNorm2d(c)

    def forward(self, x: torch.Tensor, module_res) -> torch.Tensor:
        res = 0 if self.residual is None else self.residual(x)
        if not self.bottleneck:
            return torch.relu(self.bn(self.conv(x)) + res + module_res)
        y = torch.relu(self.bn_down(self.conv_down(x)))
        y = torch.relu(self.bn(self.conv(y)))
        return torch.relu(self.bn_up(self.conv_up(y)) + res + module_res)


class GraphModule(nn.Module):
    """Spatial then temporal block with a learned edge importance, as ResGCN's module.

    ``kind``: "initial" (plain blocks, no residual), "Basic" (plain blocks, a residual around the module)
    or "Bottleneck" (bottleneck blocks, a residual around each). ``stride`` 2 halves the frames."""

    def __init__(self, cin: int, cout: int, kind: str, *, stride: int = 1, reduction: int = 4):
        super().__init__()
        if kind not in ("initial", "Basic", "Bottleneck"):
            raise ValueError(f"block must be Basic or Bottleneck, not {kind!r}")
        bottleneck = kind == "Bottleneck"
        self.residual = None
        if kind == "Basic":
            self.residual = nn.Identity() if stride == 1 and cin == cout else _conv_bn(cin, cout, stride)
        self.scn = SpatialBlock(cin, cout, bottleneck, bottleneck, reduction)
        self.tcn = TemporalBlock(cout, stride, bottleneck, bottleneck, reduction)
        self.edge = nn.Parameter(torch.ones(MAX_HOP + 1, 17, 17))

    def forward(self, x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        res = 0 if self.residual is None else self.residual(x)
        return self.tcn(self.scn(x, a * self.edge), res)


class InputBranch(nn.Module):
    def __init__(self, widths, kind: str, reduction: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(widths[0])
        self.layers = nn.ModuleList(
            GraphModule(widths[i], widths[i + 1], "initial" if i == 0 else kind, reduction=reduction)
            for i in range(len(widths) - 1)
        )
        # Saved with the weights, as OpenGait's branch registers it: a checkpoint of another graph is refused.
        self.register_buffer("A", torch.from_numpy(hop_adjacency()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(x)
        for layer in self.layers:
            x = layer(x, self.A)
        return x


def multi_input(pose: torch.Tensor) -> torch.Tensor:
    """(N, T, V, 3) -> (N, 3, 5, T, V): GaitGraph2's joint, velocity and bone streams, channel for channel
    as OpenGait's ``GaitGraph_MultiInput`` fills them (including its overwrites):

    - joints: x, y, confidence, x and y relative to the nose;
    - velocity: x and y to the next frame, 0, confidence, y to the second next frame (the last two frames 0);
    - bones: x and y to the bone partner, 0, confidence, arccos of the bone's y over its length."""
    xy, conf = pose[..., :2], pose[..., 2]
    n, t, v, _ = pose.shape
    joints = torch.cat([pose, xy - xy[:, :, CENTRE : CENTRE + 1]], -1)
    velocity = pose.new_zeros(n, t, v, 5)
    if t > 2:
        velocity[:, : t - 2, :, :2] = xy[:, 1 : t - 1] - xy[:, : t - 2]
        velocity[:, : t - 2, :, 4] = xy[:, 2:, :, 1] - xy[:, : t - 2, :, 1]
    velocity[..., 3] = conf
    bone = xy - xy[:, :, list(BONE_PARTNER)]
    length = bone.norm(dim=-1) + 1e-4
    zero = torch.zeros_like(conf)
    bones = torch.stack([bone[..., 0], bone[..., 1], zero, conf, torch.acos(bone[..., 1] / length)], -1)
    return torch.stack([joints, velocity, bones], 1).permute(0, 1, 4, 2, 3)


class GaitGraph(nn.Module):
    input_kind = "pose"
    default_inputs = "joints"

    def __init__(
        self,
        *,
        num_classes: int,
        height: int = 64,
        width: int = 44,
        inputs: str | None = None,
        input_branch=(3, 64, 64, 32),
        main_stream=(32, 128, 128, 256, 256),
        num_out: int = 128,
        block: str = "Bottleneck",
        reduction: int = 8,
        tta: bool = True,
    ):
        super().__init__()
        inputs = inputs or self.default_inputs
        if inputs not in ("joints", "multi"):
            raise ValueError(f"inputs must be joints (GaitGraph) or multi (GaitGraph2), not {inputs!r}")
        streams, cin = (1, 3) if inputs == "joints" else (3, 5)
        input_branch, main_stream = list(input_branch), list(main_stream)
        if len(input_branch) < 2 or input_branch[0] != cin:
            raise ValueError(f"input_branch must start with the {cin} input channels of inputs={inputs!r}")
        if len(main_stream) < 2 or main_stream[0] != input_branch[-1]:
            raise ValueError("main_stream must start with the input branch's last width")
        self.inputs, self.tta, self.num_classes = inputs, tta, num_classes
        self.head = nn.ModuleList(InputBranch(input_branch, block, reduction) for _ in range(streams))
        backbone = []
        for i in range(len(main_stream) - 1):
            cin_i, cout = main_stream[i], main_stream[i + 1]
            if i == 0:
                # After the branches: the concatenated streams. OpenGait's first bottleneck module halves the
                # frames (its temporal block's strided residual, ``get_res``); a Basic one does not.
                stride = 2 if block == "Bottleneck" else 1
                backbone.append(GraphModule(cin_i * streams, cout, block, stride=stride, reduction=reduction))
            else:
                backbone.append(GraphModule(cin_i, cout, block, stride=1 if cin_i == cout else 2, reduction=reduction))
        self.backbone = nn.ModuleList(backbone)
        self.fcn = nn.Linear(main_stream[-1], num_out)

    def _embed(self, streams: torch.Tensor) -> torch.Tensor:
        y = torch.cat([branch(streams[:, i]) for i, branch in enumerate(self.head)], 1)
        a = self.head[0].A
        for module in self.backbone:
            y = module(y, a)
        emb = self.fcn(y.mean((2, 3)))
        return nn.functional.normalize(emb, dim=-1) if self.inputs == "joints" else emb

    def _streams(self, pose: torch.Tensor) -> torch.Tensor:
        return pose.permute(0, 3, 1, 2).unsqueeze(1) if self.inputs == "joints" else multi_input(pose)

    def forward(self, pose: torch.Tensor) -> dict:
        emb = self._embed(self._streams(pose))
        if self.tta and not self.training:
            reversed_ = self._embed(self._streams(pose.flip(1)))
            if self.inputs == "joints":
                emb = (emb + reversed_) / 2
            else:
                mirrored = self._embed(self._streams(pose[:, :, list(MIRROR)]))
                emb = torch.cat([emb, reversed_, mirrored], 1)
        return {"embeddings": emb.unsqueeze(1), "logits": None}


class GaitGraph2(GaitGraph):
    """GaitGraph with GaitGraph2's three input streams by default (the ``gaitgraph2`` model name)."""

    default_inputs = "multi"

    def __init__(self, *, num_classes: int, input_branch=(5, 64, 32), main_stream=(32, 128, 256), **kwargs):
        super().__init__(num_classes=num_classes, input_branch=input_branch, main_stream=main_stream, **kwargs)
