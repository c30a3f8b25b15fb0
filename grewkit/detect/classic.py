"""OpenCV's classic people finders: weaker helpers, kept as baselines and for odd footage.

HOG + linear SVM (Dalal-Triggs) needs people at least ~128 px tall, hence the upscale;
MOG2 background subtraction finds anything that moves on a static camera, merges walkers
side by side and loses people who stand still. Both are measured against SSDLite in
docs/benchmarks.md.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from grewkit.core.boxes import Boxes, nms, xywh_to_xyxy
from grewkit.core.errors import GrewkitError
from grewkit.core.registry import check_keys


class HogDetector:
    kind = "hog"

    def __init__(
        self,
        *,
        upscale: float = 1.6,
        win_stride: int = 8,
        scale: float = 1.05,
        hit_threshold: float = 0.0,
        nms_iou: float = 0.45,
        label: str = "hog",
    ):
        if not hasattr(cv2, "HOGDescriptor"):
            raise GrewkitError("this OpenCV build has no HOGDescriptor (OpenCV 5 dropped it; install opencv<5)")
        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        self.upscale = float(upscale)
        self.win_stride = (int(win_stride), int(win_stride))
        self.scale = float(scale)
        self.hit_threshold = float(hit_threshold)
        self.nms_iou = float(nms_iou)
        self.name = f"{label}:{self.kind}:opencv-{cv2.__version__}"

    @classmethod
    def from_config(cls, name: str, config: dict, base_dir: Path, threads: int) -> HogDetector:
        check_keys(name, config, {"upscale", "win_stride", "scale", "hit_threshold", "nms_iou"})
        return cls(label=name, **{k: v for k, v in config.items() if k != "kind"})

    def reset(self) -> None:
        pass

    def detect(self, frame: np.ndarray) -> Boxes:
        h, w = frame.shape[:2]
        image = frame if self.upscale == 1.0 else cv2.resize(frame, None, fx=self.upscale, fy=self.upscale)
        rects, weights = self.hog.detectMultiScale(
            image, hitThreshold=self.hit_threshold, winStride=self.win_stride, padding=(8, 8), scale=self.scale
        )
        if len(rects) == 0:
            return Boxes.empty()
        weights = np.asarray(weights, np.float32).reshape(-1)
        # SVM margins are unbounded: squash them into (0, 1) so score thresholds mean something.
        scores = 1.0 / (1.0 + np.exp(-weights))
        boxes = Boxes.best_first(xywh_to_xyxy(np.asarray(rects, np.float32) / self.upscale), scores)
        return nms(boxes, self.nms_iou).clip(w, h)


class Mog2Detector:
    kind = "mog2"

    def __init__(
        self,
        *,
        history: int = 300,
        var_threshold: float = 25.0,
        min_area: int = 300,
        min_aspect: float = 1.0,
        max_aspect: float = 5.0,
        open_kernel: int = 3,
        close_kernel: int = 9,
        warmup_frames: int = 20,
        label: str = "mog2",
    ):
        self.params = dict(history=int(history), varThreshold=float(var_threshold), detectShadows=True)
        self.min_area = int(min_area)
        self.min_aspect, self.max_aspect = float(min_aspect), float(max_aspect)
        self.open = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (open_kernel, open_kernel))
        self.close = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (close_kernel, close_kernel))
        self.warmup = int(warmup_frames)
        self.name = f"{label}:{self.kind}:opencv-{cv2.__version__}"
        self.reset()

    @classmethod
    def from_config(cls, name: str, config: dict, base_dir: Path, threads: int) -> Mog2Detector:
        check_keys(
            name,
            config,
            {
                "history",
                "var_threshold",
                "min_area",
                "min_aspect",
                "max_aspect",
                "open_kernel",
                "close_kernel",
                "warmup_frames",
            },
        )
        return cls(label=name, **{k: v for k, v in config.items() if k != "kind"})

    def reset(self) -> None:
        self.subtractor = cv2.createBackgroundSubtractorMOG2(**self.params)
        self.seen = 0

    def detect(self, frame: np.ndarray) -> Boxes:
        mask = self.subtractor.apply(frame)
        self.seen += 1
        if self.seen <= self.warmup:
            return Boxes.empty()  # the background model is not learnt yet: everything looks like foreground
        mask = (mask == 255).astype(np.uint8)  # 127 marks shadows
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, self.open)
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, self.close)
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        xyxy, scores = [], []
        for x, y, w, h, area in stats[1:n]:
            if area < self.min_area or not (self.min_aspect <= h / max(w, 1) <= self.max_aspect):
                continue
            xyxy.append((x, y, x + w, y + h))
            # Fill ratio of the box: a person fills about half of their box, noise blobs much less.
            scores.append(min(1.0, area / float(w * h) * 1.5))
        if not xyxy:
            return Boxes.empty()
        return Boxes.best_first(np.asarray(xyxy, np.float32), np.asarray(scores, np.float32))
