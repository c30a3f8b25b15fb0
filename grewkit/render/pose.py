"""Person pose and segmentation from mediapipe 0.10.14's BlazePose (weights shipped in the wheel).

One ``MediapipePerson`` per live tracklet, in tracking mode (landmarks of one crop seed the next),
closed when the tracklet ends: each holds about 105 MB until ``close()``.

Outputs per crop: the segmentation mask (float, crop size), 33 image landmarks (normalised to the
crop) and 33 world landmarks (metres, origin between the hips). ``to_coco17`` maps the 33
BlazePose landmarks to COCO-17 in original image pixels. Layouts: schemas/layouts/pose.json.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from grewkit.core.errors import GrewkitError
from grewkit.render.crops import CROP_HEIGHT, CROP_WIDTH, Crop

# COCO-17 order: nose, left/right eye, left/right ear, shoulders, elbows, wrists, hips, knees, ankles.
BLAZEPOSE_TO_COCO17 = (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)


@dataclass(frozen=True)
class PersonResult:
    mask: np.ndarray | None  # (CROP_HEIGHT, CROP_WIDTH) float32 in [0, 1]
    landmarks: np.ndarray | None  # (33, 4): x, y normalised to the crop, z (relative), visibility
    world: np.ndarray | None  # (33, 4): x, y, z in metres (hip-centred), visibility


class MediapipePerson:
    """BlazePose "full" (model_complexity=1) with segmentation, in tracking mode."""

    def __init__(
        self, *, min_detection_confidence: float = 0.5, min_tracking_confidence: float = 0.5, segmentation: bool = True
    ):
        try:
            import mediapipe as mp
        except ImportError as exc:
            raise GrewkitError(f"mediapipe is not importable ({exc}); run `make setup` (mediapipe==0.10.14)") from None
        self._pose = mp.solutions.pose.Pose(
            static_image_mode=False,
            model_complexity=1,
            smooth_landmarks=True,
            enable_segmentation=segmentation,
            smooth_segmentation=segmentation,
            min_detection_confidence=min_detection_confidence,
            min_tracking_confidence=min_tracking_confidence,
        )

    def process(self, crop_rgb: np.ndarray) -> PersonResult:
        res = self._pose.process(np.ascontiguousarray(crop_rgb))
        mask = None if res.segmentation_mask is None else np.asarray(res.segmentation_mask, dtype=np.float32)
        lms = world = None
        if res.pose_landmarks is not None:
            lms = np.array([(p.x, p.y, p.z, p.visibility) for p in res.pose_landmarks.landmark], np.float32)
        if res.pose_world_landmarks is not None:
            world = np.array([(p.x, p.y, p.z, p.visibility) for p in res.pose_world_landmarks.landmark], np.float32)
        return PersonResult(mask, lms, world)

    def close(self) -> None:
        if self._pose is not None:
            self._pose.close()
            self._pose = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def to_coco17(landmarks: np.ndarray | None, crop: Crop) -> np.ndarray:
    """(17, 3) x, y in original image pixels and confidence (BlazePose visibility); NaN, NaN, 0 when missing."""
    if landmarks is None:
        out = np.full((17, 3), np.nan, np.float32)
        out[:, 2] = 0.0
        return out
    pts = landmarks[list(BLAZEPOSE_TO_COCO17)]
    xy = crop.to_image(pts[:, :2] * np.array([CROP_WIDTH, CROP_HEIGHT], np.float64))
    return np.c_[xy, pts[:, 3]].astype(np.float32)


def world_joints(world: np.ndarray | None) -> np.ndarray:
    """(33, 4) metric joints and visibility; NaN, NaN, NaN, 0 when missing."""
    if world is None:
        out = np.full((33, 4), np.nan, np.float32)
        out[:, 3] = 0.0
        return out
    return world.astype(np.float32)
