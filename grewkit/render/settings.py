"""Settings of ``grewkit render`` (section ``[render]`` of grewkit.toml)."""

from __future__ import annotations

from dataclasses import dataclass

from grewkit.core.settings import setting
from grewkit.render.segmentation import SEGMENTERS

MODALITIES = ("sil", "gei", "flow", "pose2d", "pose3d", "skel")
# skel (SkeletonGait's maps, drawn from pose2d) is asked for by name, so that projects rendered before
# it existed keep their settings digest and are not rendered again.
DEFAULT_MODALITIES = ("sil", "gei", "flow", "pose2d", "pose3d")


@dataclass(frozen=True)
class RenderSettings:
    modalities: list[str] = setting(
        list(DEFAULT_MODALITIES),
        "What to render per kept tracklet: sil, gei, flow, pose2d, pose3d, skel (SkeletonGait's limb and "
        "joint maps from the pose2d keypoints, one file per height: skel64, skel128).",
    )
    segmenter: str = setting(
        "mediapipe",
        "Person segmentation backend: mediapipe (default, any camera), mog2 or "
        "mediapipe+mog2 (static cameras; the most accurate there).",
    )
    heights: list[int] = setting(
        [64, 128], "Silhouette/GEI heights after OpenGait's size normalisation (even numbers)."
    )
    min_frames: int = setting(5, "Fail a tracklet when fewer silhouettes than this survive size normalisation.")
    crop_margin: float = setting(0.1, "Box growth on each side before cropping, as a fraction of the box size.")
    mask_threshold: float = setting(0.5, "mediapipe segmentation: a pixel is the person above this probability.")
    flow_height: int = setting(64, "Stored optical-flow grid height (width is half); computed at twice this size.")
    mog2_history: int = setting(
        300, "mog2 segmenter: video frames of background history (at the video's own rate, not seconds)."
    )
    mog2_var_threshold: float = setting(16.0, "mog2 segmenter: squared Mahalanobis distance that marks foreground.")
    mog2_warmup_frames: int = setting(
        100,
        "mog2 segmenter: video frames before the tracklet used to learn the background (at the video's own rate, not seconds).",
    )
    pose_estimator: str = setting(
        "mediapipe",
        "pose2d backend, top-down on the tracked boxes: mediapipe (BlazePose, "
        "built in) or a table of pose_estimators_file, kind onnx (your "
        "exported RTMPose/HRNet) or mmpose (an OpenMMLab config, run in "
        ".venv-openmmlab). pose3d always comes from mediapipe.",
    )
    pose_estimators_file: str = setting(
        "", "Your own pose_estimators.toml; empty uses grewkit's preprocess/pose_estimators.toml."
    )
    input: str = setting(
        "manifests",
        "Folder of the input manifests, relative to the project: 'manifests' "
        "(tracking output) or 'ground_truth/manifests' (a synthetic world).",
    )

    def __post_init__(self):
        unknown = [m for m in self.modalities if m not in MODALITIES]
        if unknown or not self.modalities:
            raise ValueError(f"modalities {unknown or '[]'} unknown or empty; choose from {', '.join(MODALITIES)}")
        if self.segmenter not in SEGMENTERS:
            raise ValueError(SEGMENTERS.unknown(self.segmenter).reason)
        if not self.heights or any(h < 2 or h % 2 for h in self.heights):
            raise ValueError(f"heights must be even numbers >= 2, got {self.heights}")
        if self.min_frames < 1 or self.flow_height < 8 or self.flow_height % 2:
            raise ValueError("min_frames must be >= 1 and flow_height an even number >= 8")
        if not 0.0 <= self.crop_margin <= 1.0 or not 0.0 < self.mask_threshold < 1.0:
            raise ValueError("crop_margin must be in [0, 1] and mask_threshold in (0, 1)")
