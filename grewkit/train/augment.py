"""Pose augmentations for training the pose models: the transforms of GaitGraph's and OpenGait's pose configs.

A training config lists them in ``[augment] steps`` (applied in that order to each sampled clip, once per
view; ``[data] views = 2`` gives two independently augmented views of every sequence, OpenGait's ``TwoView``):

    [augment]
    steps = [{ name = "mirror", probability = 0.5 }, { name = "point_noise", std = 0.0005 }]

Each step maps a clip (T, 17, 3) of normalised COCO-17 poses (x, y, confidence; ``grewkit.train.data``)
to a new array and draws its randomness from the loop's generator, whose state the checkpoints keep,
so a seeded run augments the same way every time and a resumed run continues the same draws. Steps
never write into their input: the sequence store hands out its cached arrays.

Names, with OpenGait's (``opengait/data/transform.py``) and GaitGraph's (``src/datasets/augmentation.py``):

- ``reverse`` (``FlipSequence``): the frames in reverse order, with ``probability``;
- ``mirror`` (``MirrorPoses``): each frame's x reflected about that frame's mean x over the 17 joints,
  with ``probability`` for the whole clip; joint labels are kept (a left wrist stays joint 9);
- ``swap`` (``InversePosesPre``): left and right joints of COCO-17 exchanged (5 <-> 6, ..., 15 <-> 16),
  coordinates kept, each frame on its own with ``probability``;
- ``shuffle`` (GaitGraph's ``ShuffleSequence``, not in OpenGait's configs): the frames in a random order,
  with ``probability`` (GaitGraph's flag ``--shuffle`` is ``probability = 1``);
- ``point_noise`` (``PointNoise``): Gaussian noise of ``std`` on every value, x, y and confidence,
  of every joint of every frame;
- ``joint_noise`` (``JointNoise``): one Gaussian offset of ``std`` in x and y per joint, the same in every frame;
- ``move`` (``RandomMove``): one offset for the whole clip, uniform in ``[-range[0], range[0]]`` in x and
  ``[-range[1], range[1]]`` in y.

Units: grewkit's poses are in shoulder-to-ankle heights about the hip centre; OpenGait's stds and ranges
are in the pixels of its pose files. The bundled configs divide OpenGait's numbers by 100 (a person's
shoulder-to-ankle height in CASIA-B's 320 x 240 frames is roughly 100 pixels); docs/evaluation.md says so.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from grewkit.core.errors import GrewkitError
from grewkit.core.registry import Registry
from grewkit.train.models.gaitgraph import MIRROR

_MIRROR = np.asarray(MIRROR)


def _chance(probability: float):
    if not 0.0 <= probability <= 1.0:
        raise ValueError(f"probability must be in [0, 1], not {probability}")
    # OpenGait applies a step when random() <= probability; random() < probability is the same up to a
    # measure-zero draw and makes probability 0 never apply.
    return lambda rng: rng.random() < probability


def _std(std: float) -> float:
    if not std >= 0.0:
        raise ValueError(f"std must be >= 0, not {std}")
    return float(std)


def reverse(probability: float = 0.5):
    apply = _chance(probability)
    return lambda seq, rng: seq[::-1].copy() if apply(rng) else seq


def mirror(probability: float = 0.5):
    apply = _chance(probability)

    def step(seq, rng):
        if not apply(rng):
            return seq
        out = seq.copy()
        out[..., 0] = 2 * seq[..., 0].mean(1, keepdims=True) - seq[..., 0]
        return out

    return step


def swap(probability: float = 0.5):
    _chance(probability)

    def step(seq, rng):
        frames = rng.random(len(seq)) < probability
        if not frames.any():
            return seq
        out = seq.copy()
        out[frames] = seq[frames][:, _MIRROR]
        return out

    return step


def shuffle(probability: float = 1.0):
    apply = _chance(probability)
    return lambda seq, rng: seq[rng.permutation(len(seq))] if apply(rng) else seq


def point_noise(std: float):
    s = _std(std)
    return lambda seq, rng: (seq + rng.normal(0.0, s, seq.shape)).astype(seq.dtype)


def joint_noise(std: float):
    s = _std(std)

    def step(seq, rng):
        out = seq.copy()
        out[..., :2] += rng.normal(0.0, s, (seq.shape[1], 2)).astype(seq.dtype)
        return out

    return step


def move(range: list):  # noqa: A002 - OpenGait's RandomMove calls it random_r; "range" reads better in TOML
    if len(range) != 2 or not all(r >= 0 for r in range):
        raise ValueError(f"range must be two numbers >= 0 (x, y), not {range}")
    rx, ry = float(range[0]), float(range[1])

    def step(seq, rng):
        out = seq.copy()
        out[..., 0] += rng.uniform(-rx, rx)
        out[..., 1] += rng.uniform(-ry, ry)
        return out

    return step


# Name -> factory(**params) returning step(clip (T, 17, 3), rng) -> clip. A user adds a pose augmentation
# by registering a factory of the same shape; a config names it in [augment] steps.
AUGMENTATIONS: Registry[Callable] = Registry(
    "pose augmentation",
    {
        "reverse": reverse,
        "mirror": mirror,
        "swap": swap,
        "shuffle": shuffle,
        "point_noise": point_noise,
        "joint_noise": joint_noise,
        "move": move,
    },
)


class PoseAugment:
    """The steps of a config's ``[augment] steps`` in order: ``augment(clip, rng) -> clip``."""

    def __init__(self, steps: list[dict], *, source: str | Path = "<config>"):
        self.steps = []
        for i, entry in enumerate(steps):
            if not isinstance(entry, dict) or "name" not in entry:
                raise GrewkitError(f"[augment] steps[{i}] must be a table with a name, not {entry!r}", path=source)
            params = {k: v for k, v in entry.items() if k != "name"}
            name = entry["name"]
            AUGMENTATIONS.require(name, path=source)
            try:
                self.steps.append(AUGMENTATIONS.get(name)(**params))
            except (TypeError, ValueError) as exc:
                raise GrewkitError(f"[augment] steps[{i}] ({name}): {exc}", path=source) from None

    def __bool__(self) -> bool:
        return bool(self.steps)

    def __call__(self, seq: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        for step in self.steps:
            seq = step(seq, rng)
        return seq
