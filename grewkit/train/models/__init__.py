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
        return model_class(name)(num_classes=num_classes, height=height, width=width, **kwargs)
    except TypeError as exc:
        raise GrewkitError(f"model {name!r}: {exc}") from None
