"""Optical flow between consecutive person crops (OpenCV DIS), stored compactly as int8.

Flow is computed on grey crops of ``2 * height`` x ``height`` pixels (the canonical crop,
downscaled), then averaged down to ``height`` x ``height / 2`` and stored as int8 in units of
``1 / FLOW_UNITS_PER_PIXEL`` pixel of the stored grid, clipped to +-127 units (+-31.75 pixels,
far beyond a walker's motion between frames). ``dequantise_flow`` gives float32 pixels back.
Crops follow the tracked box, so the flow is motion relative to the box: limbs, not travel.
"""

from __future__ import annotations

import cv2
import numpy as np

FLOW_UNITS_PER_PIXEL = 4


class DISFlow:
    """DIS optical flow (OpenCV's fast preset), one instance per tracklet."""

    def __init__(self, height: int = 64, *, preset: int = cv2.DISOPTICAL_FLOW_PRESET_FAST):
        self.height = height
        self.width = height // 2
        self._dis = cv2.DISOpticalFlow_create(preset)

    def pair(self, prev_gray: np.ndarray, next_gray: np.ndarray) -> np.ndarray:
        """Flow of one pair of grey crops already at (2*height, height); returns (height, height/2, 2) int8."""
        flow = self._dis.calc(prev_gray, next_gray, None)
        small = cv2.resize(flow, (self.width, self.height), interpolation=cv2.INTER_AREA) * 0.5
        return quantise_flow(small)

    def prepare(self, crop_rgb: np.ndarray) -> np.ndarray:
        gray = cv2.cvtColor(crop_rgb, cv2.COLOR_RGB2GRAY)
        return cv2.resize(gray, (2 * self.width, 2 * self.height), interpolation=cv2.INTER_AREA)

    def sequence(self, crops_rgb: list[np.ndarray]) -> np.ndarray:
        """(T-1, height, height/2, 2) int8 flow between consecutive crops."""
        grays = [self.prepare(c) for c in crops_rgb]
        if len(grays) < 2:
            return np.zeros((0, self.height, self.width, 2), np.int8)
        return np.stack([self.pair(a, b) for a, b in zip(grays[:-1], grays[1:])])


def quantise_flow(flow: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(flow * FLOW_UNITS_PER_PIXEL), -127, 127).astype(np.int8)


def dequantise_flow(stored: np.ndarray) -> np.ndarray:
    """Stored int8 flow -> float32 pixels of the stored grid."""
    return stored.astype(np.float32) / FLOW_UNITS_PER_PIXEL
