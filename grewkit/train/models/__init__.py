"""A small model registry: name -> class. A user registers their own model the same way.

Every model maps a batch of sequences (``T`` may differ between calls) to ``{"embeddings": (N, P, D),
"logits": (N, P, C) or None}``; P is the number of horizontal parts (1 for GEINet and GaitGraph).
What a batch holds is the class's ``input_kind`` (see ``grewkit.train.data``): silhouettes
``(N, T, H, W)`` in [0, 1], SkeletonGait's maps ``(N, T, 2, H, W)`` or COCO-17 poses ``(N, T, 17, 3)``.
Evaluation compares embeddings with the ``euclidean_parts`` or ``euclidean`` distance.
"""

from __future__ import annotations

from grewkit.core.errors import GrewkitError
from grewkit.core.registry import Registry

# Name -> "module:Class". Contract: a torch module built as
# ``cls(num_classes=..., height=..., width=..., **config)``, config being a training config's ``model.args``.
MODELS: Registry[type] = Registry(
    "model",
    {
        "geinet": "grewkit.train.models.geinet:GEINet",
        "gaitset": "grewkit.train.models.gaitset:GaitSet",
        "gaitpart": "grewkit.train.models.gaitpart:GaitPart",
        "gaitbase": "grewkit.train.models.gaitbase:GaitBase",
        "deepgaitv2": "grewkit.train.models.deepgaitv2:DeepGaitV2",
        "gaitgraph": "grewkit.train.models.gaitgraph:GaitGraph",
        "gaitgraph2": "grewkit.train.models.gaitgraph:GaitGraph2",
        "skeletongait": "grewkit.train.models.skeletongait:SkeletonGait",
    },
)


def model_class(name: str):
    return MODELS.get(name)


def build_model(name: str, *, num_classes: int, height: int, width: int, **kwargs):
    try:
        model = model_class(name)(num_classes=num_classes, height=height, width=width, **kwargs)
    except TypeError as exc:
        raise GrewkitError(f"model {name!r}: {exc}") from None
    if getattr(model, "channels_last", False):
        convolutions_channels_last(model)
    return model


def convolutions_channels_last(model):
    """Store every 2-D convolution's weight channels-last (NHWC), in place; return the model.

    PyTorch then convolves in that layout (its convolutions follow the weight's layout as well as the
    input's), so oneDNN on the CPU no longer reorders every frame batch to and from its blocked layout in
    each forward and backward call: a gaitset_tiny training step takes about 1.5x less CPU, gaitpart's
    1.4x (docs/benchmarks.md); the arithmetic is the same convolution, the results equal to rounding.
    ``build_model`` applies it to the classes that set ``channels_last = True`` (GaitSet, GaitPart): with
    torch 2.13's CPU kernels GaitBase's backward at 128 x 88 crashes (SIGSEGV) in this layout, and the
    other models were not measured. Loading a state dict copies values into these weights and keeps their
    layout."""
    import torch
    from torch import nn

    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            module.to(memory_format=torch.channels_last)
    return model
