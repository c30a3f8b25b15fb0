"""2D pose estimators by kind, and the pose_estimators.toml files that configure named instances.

``[render] pose_estimator`` picks the pose2d backend by name:

- ``mediapipe`` (the default, built in): BlazePose's landmarks from the per-tracklet person model
  that also segments, mapped to COCO-17 (``grewkit.render.pose``);
- any table of a pose estimators file (``[render] pose_estimators_file``, default
  ``preprocess/pose_estimators.toml``), with a ``kind`` from ``KINDS`` and that kind's keys:

      [my-rtmpose]
      kind = "onnx"                       # users' exported RTMPose (decoding = "simcc") or HRNet ("heatmap")
      model = "/models/rtmpose-m.onnx"    # relative paths are relative to the toml file
      decoding = "simcc"

      [my-hrnet]
      kind = "mmpose"                     # an OpenMMLab config (+ checkpoint), run in .venv-openmmlab
      config = "/models/td-hm_hrnet-w32_8xb64-210e_coco-256x192.py"
      checkpoint = "/models/hrnet_w32_coco_256x192.pth"

Every estimator is top-down on the tracked boxes: ``estimate(frame_rgb, boxes)`` takes the whole
frame and (N, 4) x1, y1, x2, y2 boxes in frame pixels and returns (N, 17, 3) COCO-17 x, y in
frame pixels and a confidence in [0, 1]; x = y = NaN and confidence 0 for a keypoint the model
did not find.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Protocol

import numpy as np

from grewkit.core.errors import GrewkitError
from grewkit.core.registry import Registry, build_from_table
from grewkit.core.resources import read_toml, shipped_dir

#: The built-in estimator: BlazePose landmarks of the person model (no table, no file needed).
MEDIAPIPE = "mediapipe"

# kind -> "module:Class". Contract: a ``PoseEstimator`` built as ``cls.from_config(name, config,
# base_dir, threads)``: the table's name, the table itself, the folder of the estimators file
# (relative model paths) and the threads to use.
KINDS: Registry[type] = Registry(
    "pose estimator kind",
    {
        "onnx": "grewkit.render.pose_onnx:OnnxPoseEstimator",
        "mmpose": "grewkit.render.pose_mmpose:MMPoseEstimator",
    },
)


class PoseEstimator(Protocol):
    name: str

    def estimate(self, frame_rgb: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """(N, 17, 3) COCO-17 x, y in frame pixels and confidence for the (N, 4) xyxy ``boxes``."""

    def close(self) -> None:
        """Release the model (a worker process, a session)."""


def estimators_path(configured: str = "") -> Path:
    return Path(configured).expanduser() if configured else shipped_dir("preprocess") / "pose_estimators.toml"


def load_estimators(path: Path) -> dict[str, dict]:
    doc = read_toml(path, what="pose estimators file")
    for name, config in doc.items():
        if name == MEDIAPIPE:
            raise GrewkitError(f"[{name}] is the built-in estimator's name; give your table another", path=path)
        if not isinstance(config, dict) or "kind" not in config:
            raise GrewkitError(f"[{name}] must be a table with a kind (one of {', '.join(KINDS)})", path=path)
        if config["kind"] not in KINDS:
            raise GrewkitError(f"[{name}] {KINDS.unknown(config['kind']).reason}", path=path)
    return doc


def estimator_table(name: str, estimators_file: str = "") -> dict | None:
    """The table configuring ``name`` (None for the built-in mediapipe); fails before any work when
    ``name`` is neither built in nor a table of the file."""
    if name == MEDIAPIPE:
        return None
    path = estimators_path(estimators_file)
    estimators = load_estimators(path)
    if name not in estimators:
        raise GrewkitError(
            f"no pose estimator named {name!r}; built in: {MEDIAPIPE}; defined: {', '.join(estimators) or 'none'}",
            path=path,
        )
    return estimators[name]


def make_pose_estimator(name: str, *, estimators_file: str = "", threads: int = 1) -> PoseEstimator:
    """Build the pose estimator called ``name`` in the estimators file (not ``mediapipe``: it is built in)."""
    if name == MEDIAPIPE:
        raise GrewkitError("the mediapipe pose estimator is built into the render stage's person model")
    config = estimator_table(name, estimators_file)
    path = estimators_path(estimators_file)
    return build_from_table(KINDS, name, config, path, threads=threads)


@functools.lru_cache(maxsize=4)
def _cached(name: str, estimators_file: str, mtime_ns: int, threads: int) -> PoseEstimator:
    del mtime_ns  # part of the key only: an edited file builds a new estimator
    return make_pose_estimator(name, estimators_file=estimators_file, threads=threads)


def worker_pose_estimator(name: str, *, estimators_file: str = "", threads: int = 1) -> PoseEstimator:
    """One estimator per worker process and configuration: loading a model per tracklet would dominate."""
    path = estimators_path(estimators_file)
    mtime = path.stat().st_mtime_ns if path.is_file() else 0
    return _cached(name, estimators_file, mtime, threads)


# --- top-down geometry shared by the estimators that warp boxes themselves (as mmpose does) ---


def box_center_scale(box: np.ndarray, *, aspect: float, padding: float = 1.25) -> tuple[np.ndarray, np.ndarray]:
    """Centre and (w, h) of the region a top-down model sees: the box grown by ``padding`` and
    widened or heightened to the model's ``aspect`` (width / height), as mmpose's bbox_xyxy2cs
    with its aspect-ratio fix."""
    x1, y1, x2, y2 = (float(v) for v in box)
    center = np.array([(x1 + x2) / 2, (y1 + y2) / 2])
    w, h = (x2 - x1) * padding, (y2 - y1) * padding
    if w > h * aspect:
        h = w / aspect
    else:
        w = h * aspect
    return center, np.array([max(w, 1e-3), max(h, 1e-3)])


def warp_matrix(center: np.ndarray, scale: np.ndarray, input_wh: tuple[int, int]) -> np.ndarray:
    """2x3 affine from frame pixels to model-input pixels (no rotation)."""
    k = input_wh[0] / scale[0]
    x0, y0 = center - scale / 2
    return np.array([[k, 0.0, -k * x0], [0.0, k, -k * y0]])


def to_frame(xy_input: np.ndarray, center: np.ndarray, scale: np.ndarray, input_wh: tuple[int, int]) -> np.ndarray:
    """Model-input pixel coordinates -> frame pixel coordinates (the inverse of ``warp_matrix``)."""
    return xy_input / np.asarray(input_wh, np.float64) * scale + center - scale / 2


def missing_keypoints(n: int = 1) -> np.ndarray:
    out = np.full((n, 17, 3), np.nan, np.float32)
    out[..., 2] = 0.0
    return out
