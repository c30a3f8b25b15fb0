"""mmpose top-down pose estimators (HRNet as GREW used, RTMPose, ...) from an OpenMMLab config.

Runs in the OpenMMLab venv through a worker process, top-down on the tracked boxes. A pose
estimators file entry:

    [my-hrnet]
    kind = "mmpose"
    config = "/models/td-hm_hrnet-w32_8xb64-210e_coco-256x192.py"   # or "mmpose::body_2d_keypoint/..."
    checkpoint = "/models/hrnet_w32_coco_256x192.pth"              # optional: random weights without
    device = "cpu"
    keypoints = [0, 1, ..., 16]    # model index of each COCO-17 joint (default: the first 17)
    cfg_options = { ... }          # optional config overrides (mmengine's)

mmpose maps keypoints back to frame pixels itself; its keypoint scores are clipped to [0, 1] and a
score of 0 or less is a missing keypoint, as for the ONNX estimators.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from grewkit.core.errors import GrewkitError
from grewkit.core.registry import check_keys
from grewkit.openmmlab import resolve_checkpoint, resolve_config
from grewkit.render.pose_estimators import missing_keypoints

KEYS = {"config", "checkpoint", "device", "keypoints", "cfg_options"}


class MMPoseEstimator:
    kind = "mmpose"

    def __init__(
        self,
        *,
        config: str,
        checkpoint: str | None = None,
        device: str = "cpu",
        keypoints=None,
        cfg_options: dict | None = None,
        threads: int = 1,
        label: str = "mmpose",
    ):
        from grewkit.openmmlab.client import OpenMMLabWorker

        self.label = label
        self.keypoints = np.asarray(list(range(17)) if keypoints is None else keypoints, np.int64)
        if self.keypoints.shape != (17,):
            raise GrewkitError(f"[{label}] keypoints must list 17 model indices (COCO-17 order)")
        self.worker = OpenMMLabWorker(
            task="pose",
            config=config,
            checkpoint=checkpoint,
            device=device,
            cfg_options=cfg_options,
            threads=threads,
            label=label,
        )
        n = int(self.worker.info.get("num_keypoints") or 0)
        if n and n <= int(self.keypoints.max()):
            self.worker.close()
            raise GrewkitError(
                f"[{label}] the model has {n} keypoints; keypoints names index {int(self.keypoints.max())}"
            )
        weights = Path(checkpoint).stem if checkpoint else "random-weights"
        self.name = f"{label}:{self.kind}:{Path(config.split('::')[-1]).stem}:{weights}"

    @classmethod
    def from_config(cls, name: str, config: dict, base_dir: Path, threads: int) -> MMPoseEstimator:
        check_keys(name, config, KEYS)
        if "config" not in config:
            raise GrewkitError(f'[{name}] kind = "mmpose" needs config = "path/to/config.py"')
        return cls(
            config=resolve_config(config["config"], base_dir, name),
            checkpoint=resolve_checkpoint(config.get("checkpoint"), base_dir, name),
            device=config.get("device", "cpu"),
            keypoints=config.get("keypoints"),
            cfg_options=config.get("cfg_options"),
            threads=threads,
            label=name,
        )

    def estimate(self, frame_rgb: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        out = missing_keypoints(len(boxes))
        if len(boxes) == 0:
            return out
        # mmpose's pipelines expect images as OpenCV decodes them (BGR).
        res = self.worker.pose(cv2.cvtColor(np.ascontiguousarray(frame_rgb), cv2.COLOR_RGB2BGR), boxes)
        xy, score = res["keypoints"][:, self.keypoints], res["scores"][:, self.keypoints]
        found = score > 0
        out[..., :2][found] = xy[found]
        out[..., 2][found] = np.clip(score[found], 0.0, 1.0)
        return out

    def close(self) -> None:
        self.worker.close()
