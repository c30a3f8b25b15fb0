"""Person crops: each box becomes a fixed-size, upright crop by one affine warp.

Every crop is ``CROP_HEIGHT x CROP_WIDTH`` (2:1, a standing person's shape), around the box
grown by ``margin`` on each side; pixels outside the frame are black. The same matrix maps crop
coordinates back to the original image (for 2D poses) and maps full-frame masks (background
subtraction) into the crop.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

CROP_HEIGHT = 256
CROP_WIDTH = 128


@dataclass(frozen=True)
class Crop:
    frame: int  # video frame number
    image: np.ndarray  # (CROP_HEIGHT, CROP_WIDTH, 3) uint8 RGB
    scale: float  # crop pixels per image pixel
    x0: float  # image coordinates of the crop's top-left corner
    y0: float

    @property
    def matrix(self) -> np.ndarray:
        return np.array([[self.scale, 0.0, -self.scale * self.x0], [0.0, self.scale, -self.scale * self.y0]])

    def to_image(self, xy: np.ndarray) -> np.ndarray:
        """Crop pixel coordinates -> original image pixel coordinates."""
        return xy / self.scale + np.array([self.x0, self.y0])

    def warp(self, full: np.ndarray, *, nearest: bool = False) -> np.ndarray:
        return cv2.warpAffine(
            full,
            self.matrix,
            (CROP_WIDTH, CROP_HEIGHT),
            flags=cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )


def crop_geometry(box: np.ndarray, margin: float) -> tuple[float, float, float]:
    """(scale, x0, y0) of the 2:1 window around ``box`` grown by ``margin`` of its height/width per side."""
    x1, y1, x2, y2 = (float(v) for v in box)
    bw, bh = max(x2 - x1, 1.0), max(y2 - y1, 1.0)
    h = bh * (1 + 2 * margin)
    w = bw * (1 + 2 * margin)
    h = max(h, 2 * w)  # keep 2:1 without cutting a wide box (arms out, a bag)
    w = h / 2
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    return CROP_HEIGHT / h, cx - w / 2, cy - h / 2


def make_crop(frame_rgb: np.ndarray, frame_index: int, box: np.ndarray, margin: float) -> Crop:
    scale, x0, y0 = crop_geometry(box, margin)
    crop = Crop(frame_index, None, scale, x0, y0)  # type: ignore[arg-type]
    return Crop(frame_index, crop.warp(frame_rgb), scale, x0, y0)
