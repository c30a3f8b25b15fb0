"""SkeletonGait (Fan et al., AAAI 2024, OpenGait): DeepGaitV2-P3D on skeleton maps instead of silhouettes.

The input is the ``skel`` render modality (``grewkit.render.skeleton``): per frame a limb map and a
joint map, Gaussian heatmaps of the COCO-17 pose, size-normalised like silhouettes and cut to 64x44.
OpenGait's SkeletonGait is DeepGaitV2's network with a two-channel first convolution (its stages
32C-64C-128C-256C at C = 2 are DeepGaitV2's 64-128-256-512), so this is ``DeepGaitV2(in_channels=2)``.
"""

from __future__ import annotations

from grewkit.train.models.deepgaitv2 import DeepGaitV2


class SkeletonGait(DeepGaitV2):
    input_kind = "skeleton"

    def __init__(self, *, num_classes: int, height: int = 64, width: int = 44, **kwargs):
        kwargs.setdefault("in_channels", 2)
        super().__init__(num_classes=num_classes, height=height, width=width, **kwargs)
