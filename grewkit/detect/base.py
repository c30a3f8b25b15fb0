"""The detector interface every backend implements, and the box type they return."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np

from grewkit.core.errors import GrewkitError


@dataclass(frozen=True)
class Boxes:
    """Person boxes of one frame: ``xyxy`` (N, 4) float32 pixels, ``scores`` (N,) float32 in [0, 1], best first."""

    xyxy: np.ndarray
    scores: np.ndarray

    def __post_init__(self):
        xyxy = np.asarray(self.xyxy, dtype=np.float32).reshape(-1, 4)
        scores = np.asarray(self.scores, dtype=np.float32).reshape(-1)
        if len(xyxy) != len(scores):
            raise ValueError(f"{len(xyxy)} boxes but {len(scores)} scores")
        order = np.argsort(-scores, kind="stable")
        object.__setattr__(self, "xyxy", xyxy[order])
        object.__setattr__(self, "scores", scores[order])

    @classmethod
    def empty(cls) -> "Boxes":
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32))

    @classmethod
    def from_xywh(cls, xywh, scores) -> "Boxes":
        xywh = np.asarray(xywh, dtype=np.float32).reshape(-1, 4)
        return cls(np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1), scores)

    def __len__(self) -> int:
        return len(self.scores)

    def clip(self, width: int, height: int) -> "Boxes":
        xyxy = self.xyxy.copy()
        xyxy[:, [0, 2]] = xyxy[:, [0, 2]].clip(0, width)
        xyxy[:, [1, 3]] = xyxy[:, [1, 3]].clip(0, height)
        return Boxes(xyxy, self.scores)

    def filter(self, *, min_score: float = 0.0, min_height: float = 0.0) -> "Boxes":
        h = self.xyxy[:, 3] - self.xyxy[:, 1]
        w = self.xyxy[:, 2] - self.xyxy[:, 0]
        keep = (self.scores >= min_score) & (h >= max(min_height, 1e-6)) & (w > 0)
        return Boxes(self.xyxy[keep], self.scores[keep])


@runtime_checkable
class Detector(Protocol):
    """A person detector. Frames are BGR uint8 (H, W, 3) as OpenCV decodes them.

    ``reset()`` is called at the start of every video, so stateful backends (background
    subtraction) never carry one video's model into the next. ``name`` goes into the
    ``detector`` column of the detections manifest and names the model, not just the kind.
    """

    kind: ClassVar[str]
    name: str

    def reset(self) -> None: ...

    def detect(self, frame: np.ndarray) -> Boxes: ...


def check_keys(name: str, config: dict, known: set[str]) -> None:
    """Refuse keys a backend kind does not read (a typo would otherwise be ignored silently)."""
    unknown = set(config) - set(known) - {"kind"}
    if unknown:
        raise GrewkitError(f"[{name}] unknown keys {sorted(unknown)}; known: {sorted(known)}")


def nms(boxes: Boxes, iou: float) -> Boxes:
    """Class-agnostic non-maximum suppression (OpenCV's), for backends whose model has none."""
    import cv2

    if len(boxes) == 0:
        return boxes
    xywh = np.concatenate([boxes.xyxy[:, :2], boxes.xyxy[:, 2:] - boxes.xyxy[:, :2]], axis=1)
    keep = cv2.dnn.NMSBoxes(xywh.tolist(), boxes.scores.tolist(), 0.0, iou)
    keep = np.asarray(keep, dtype=int).reshape(-1)
    return Boxes(boxes.xyxy[keep], boxes.scores[keep])
