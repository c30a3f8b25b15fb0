"""The detector interface every backend implements; they return ``grewkit.core.boxes.Boxes``."""

from __future__ import annotations

from typing import ClassVar, Protocol, runtime_checkable

import numpy as np

from grewkit.core.boxes import Boxes


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

    def detect(self, frame: np.ndarray) -> Boxes:
        """The person boxes of ``frame``, best first (``Boxes.best_first``)."""
        ...
