"""Person segmentation backends behind one interface, chosen by name from ``SEGMENTERS``.

A segmenter lives for one tracklet (``open``), sees every full frame of the video from a little
before the tracklet starts (``observe``: background models learn from them), and returns a 0/255
uint8 mask of the person for each crop (``segment``). Add a backend (e.g. a user's own ONNX
model) by subclassing ``Segmenter`` and adding a line to ``SEGMENTERS``.

- ``mediapipe`` (default): BlazePose's segmentation mask of the tracked person, thresholded. The
  same inference gives the 2D/3D pose, so segmentation and pose cost one model call per crop.
- ``mog2``: OpenCV's MOG2 background subtraction on the full frames (static cameras only), shadows
  removed, cleaned by a morphological opening and closing, warped into the crop. Fast, but it
  merges people who touch and absorbs people who stand still.
- ``mediapipe+mog2``: both; mediapipe's mask completed by nearby MOG2 foreground, MOG2 alone
  where mediapipe loses the person. The best of the three on static cameras.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import cv2
import numpy as np

from grewkit.core.errors import GrewkitError
from grewkit.core.registry import Registry
from grewkit.render.crops import Crop
from grewkit.render.pose import PersonResult


class Segmenter(ABC):
    #: frames to observe before the tracklet's first frame (background models need a history)
    warmup_frames: int = 0
    #: whether ``segment`` needs the person result (with its mask) of the crop from the pose estimator
    needs_person: bool = False

    def observe(self, frame_bgr: np.ndarray) -> None:
        """See one full frame, in video order (called for warm-up frames and tracklet frames)."""

    @abstractmethod
    def segment(self, frame_bgr: np.ndarray, crop: Crop, person: PersonResult | None) -> np.ndarray:
        """The person's mask in ``crop``: (CROP_HEIGHT, CROP_WIDTH) uint8, 0 or 255."""

    def close(self) -> None:
        """Free the backend's resources at the end of the tracklet."""


class MediapipeSegmenter(Segmenter):
    needs_person = True

    def __init__(self, *, threshold: float = 0.5, **_):
        if not 0.0 < threshold < 1.0:
            raise GrewkitError(f"mask threshold must be in (0, 1), got {threshold}")
        self.threshold = threshold

    def segment(self, frame_bgr, crop, person):
        if person is None or person.mask is None:
            return np.zeros(crop.image.shape[:2], np.uint8)
        return (person.mask > self.threshold).view(np.uint8) * np.uint8(255)


class MOG2Segmenter(Segmenter):
    def __init__(self, *, history: int = 300, var_threshold: float = 16.0, warmup_frames: int = 100, **_):
        self._bg = cv2.createBackgroundSubtractorMOG2(history=history, varThreshold=var_threshold, detectShadows=True)
        self.warmup_frames = warmup_frames
        self._kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
        self._last: np.ndarray | None = None

    def observe(self, frame_bgr):
        self._last = self._bg.apply(frame_bgr)

    def segment(self, frame_bgr, crop, person):
        if self._last is None:
            self.observe(frame_bgr)
        # Clean up in crop space (256x128), not on the whole frame: same result for the person, less work.
        fg = crop.warp(self._last, nearest=True)
        fg = np.where(fg == 255, 255, 0).astype(np.uint8)  # 127 marks shadows
        fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, self._kernel)
        return cv2.morphologyEx(fg, cv2.MORPH_CLOSE, self._kernel, iterations=2)


class HybridSegmenter(Segmenter):
    """mediapipe and MOG2 together, for static cameras.

    Where mediapipe finds the person: its mask, plus the MOG2 foreground within a band around it
    (mediapipe's mask is often thin at feet, hands and bags; MOG2 outside the band is another
    person or a car). Where mediapipe loses the person (occlusion, small or odd-looking people):
    the MOG2 mask. Measured on the synthetic world (docs/benchmarks.md) it beats both.
    """

    needs_person = True

    def __init__(self, *, band: int = 15, **options):
        self._mp = MediapipeSegmenter(**options)
        self._mog2 = MOG2Segmenter(**options)
        self.warmup_frames = self._mog2.warmup_frames
        self._band = cv2.getStructuringElement(cv2.MORPH_RECT, (band, band))

    def observe(self, frame_bgr):
        self._mog2.observe(frame_bgr)

    def segment(self, frame_bgr, crop, person):
        fg = self._mog2.segment(frame_bgr, crop, person)
        mp = self._mp.segment(frame_bgr, crop, person)
        if not mp.any():
            return fg
        near = cv2.dilate(mp, self._band)
        return np.maximum(mp, np.minimum(fg, near))


# Name -> "module:Class"; a user's backend adds its line here. Contract: a ``Segmenter`` subclass
# built once per tracklet as ``cls(**options)`` with the keyword options of ``[render]``
# (threshold, history, var_threshold, warmup_frames); each takes the ones it uses and ignores the rest.
SEGMENTERS: Registry[type[Segmenter]] = Registry(
    "segmenter",
    {
        "mediapipe": "grewkit.render.segmentation:MediapipeSegmenter",
        "mog2": "grewkit.render.segmentation:MOG2Segmenter",
        "mediapipe+mog2": "grewkit.render.segmentation:HybridSegmenter",
    },
)


def make_segmenter(name: str, **options) -> Segmenter:
    return SEGMENTERS.get(name)(**options)
