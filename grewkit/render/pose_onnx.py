"""Users' top-down pose models exported to ONNX, run by ONNX Runtime on the tracked boxes.

RTMPose (mmdeploy or mmpose's export) outputs SimCC vectors ``simcc_x`` (1, K, W * split) and
``simcc_y`` (1, K, H * split); HRNet and other heatmap models output (1, K, H / s, W / s)
heatmaps. Both are decoded as mmpose decodes them, then mapped from model-input pixels back to
frame pixels through the box's affine. A pose estimators file entry:

    [my-rtmpose]
    kind = "onnx"
    model = "/models/rtmpose-m_coco_256x192.onnx"   # relative paths are relative to the toml file
    sha256 = "..."                 # optional; checked at load time when given
    decoding = "simcc"             # or "heatmap" (HRNet, SimpleBaseline, ViTPose, ...)
    input_size = [256, 192]        # height, width; default: the model's static input shape
    simcc_split_ratio = 2.0        # SimCC bins per input pixel (RTMPose: 2.0)
    heatmap_refine = "quarter"     # heatmap sub-pixel step: "quarter" (HRNet's) or "none"
    bbox_padding = 1.25            # box growth before the aspect fix, as mmpose's bbox_xyxy2cs
    channels = "rgb"               # channel order the model expects (mmpose: rgb)
    mean = [123.675, 116.28, 103.53]   # (pixel - mean) / std on 0-255 values (ImageNet, mmpose's default)
    std = [58.395, 57.12, 57.375]
    keypoints = [0, 1, ..., 16]    # model keypoint index of each COCO-17 joint (default: the first 17,
                                   # right for COCO, Halpe-26 and COCO-WholeBody models)

Confidence is the model's own keypoint score (SimCC: the smaller of the x and y maxima, as
mmpose's get_simcc_maximum; heatmap: the peak value) clipped to [0, 1]; a keypoint scoring 0 or
less is missing (NaN).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from grewkit.core.errors import GrewkitError
from grewkit.core.onnx_session import open_session
from grewkit.core.registry import check_keys
from grewkit.render.pose_estimators import box_center_scale, missing_keypoints, to_frame, warp_matrix

DECODINGS = ("simcc", "heatmap")
KEYS = {
    "model",
    "sha256",
    "decoding",
    "input_size",
    "simcc_split_ratio",
    "heatmap_refine",
    "bbox_padding",
    "channels",
    "mean",
    "std",
    "keypoints",
}


def simcc_maximum(simcc_x: np.ndarray, simcc_y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(K, 2) bin positions and (K,) scores from (K, Wx) and (K, Wy) SimCC vectors (mmpose's rule)."""
    x = simcc_x.argmax(axis=1)
    y = simcc_y.argmax(axis=1)
    score = np.minimum(simcc_x.max(axis=1), simcc_y.max(axis=1))
    return np.stack([x, y], axis=1).astype(np.float64), score.astype(np.float64)


def heatmap_maximum(heatmaps: np.ndarray, *, refine: str = "quarter") -> tuple[np.ndarray, np.ndarray]:
    """(K, 2) heatmap-pixel positions and (K,) peak values from (K, H, W) heatmaps.

    ``quarter``: a quarter-pixel step toward the higher neighbour on each axis (HRNet's and
    mmpose's refine_keypoints), which halves the quantisation error of the argmax.
    """
    k, h, w = heatmaps.shape
    flat = heatmaps.reshape(k, -1)
    idx = flat.argmax(axis=1)
    score = flat.max(axis=1).astype(np.float64)
    xy = np.stack([idx % w, idx // w], axis=1).astype(np.float64)
    if refine == "quarter":
        for j in range(k):
            px, py = int(xy[j, 0]), int(xy[j, 1])
            hm = heatmaps[j]
            if 0 < px < w - 1:
                xy[j, 0] += 0.25 * np.sign(hm[py, px + 1] - hm[py, px - 1])
            if 0 < py < h - 1:
                xy[j, 1] += 0.25 * np.sign(hm[py + 1, px] - hm[py - 1, px])
    return xy, score


class OnnxPoseEstimator:
    kind = "onnx"

    def __init__(
        self,
        *,
        model: Path,
        sha256: str | None = None,
        decoding: str = "simcc",
        input_size: tuple[int, int] | None = None,
        simcc_split_ratio: float = 2.0,
        heatmap_refine: str = "quarter",
        bbox_padding: float = 1.25,
        channels: str = "rgb",
        mean=(123.675, 116.28, 103.53),
        std=(58.395, 57.12, 57.375),
        keypoints=None,
        threads: int = 1,
        label: str = "onnx-pose",
    ):
        if decoding not in DECODINGS:
            raise GrewkitError(f"[{label}] decoding {decoding!r}: use one of {', '.join(DECODINGS)}")
        if heatmap_refine not in ("quarter", "none"):
            raise GrewkitError(f"[{label}] heatmap_refine {heatmap_refine!r}: use quarter or none")
        if channels not in ("bgr", "rgb"):
            raise GrewkitError(f"[{label}] channels {channels!r}: use bgr or rgb")
        if not simcc_split_ratio > 0 or not bbox_padding > 0:
            raise GrewkitError(f"[{label}] simcc_split_ratio and bbox_padding must be > 0")
        self.session = open_session(model, sha256=sha256, threads=threads)
        self.input = self.session.get_inputs()[0]
        shape = self.input.shape
        if len(shape) != 4:
            raise GrewkitError(f"expects a 4-D NCHW image input, the model's is {shape}", path=model)
        if input_size is None:
            if not all(isinstance(d, int) for d in shape[2:]):
                raise GrewkitError(
                    f"[{label}] the model's input size is dynamic ({shape}): set input_size = [height, width]",
                    path=model,
                )
            input_size = (shape[2], shape[3])
        self.input_hw = (int(input_size[0]), int(input_size[1]))
        self.decoding = decoding
        self.split = float(simcc_split_ratio)
        self.refine = heatmap_refine
        self.padding = float(bbox_padding)
        self.rgb = channels == "rgb"
        self.mean = np.asarray(mean, np.float32).reshape(1, 1, 3)
        self.std = np.asarray(std, np.float32).reshape(1, 1, 3)
        self.keypoints = np.asarray(list(range(17)) if keypoints is None else keypoints, np.int64)
        if self.keypoints.shape != (17,):
            raise GrewkitError(f"[{label}] keypoints must list 17 model indices (COCO-17 order)")
        self.fp16 = "float16" in (self.input.type or "")
        names = [o.name for o in self.session.get_outputs()]
        # mmdeploy names RTMPose's outputs; otherwise they are taken in order (x first).
        self.simcc_order = (
            [names.index("simcc_x"), names.index("simcc_y")] if {"simcc_x", "simcc_y"} <= set(names) else [0, 1]
        )
        self.label = label
        self.name = f"{label}:{self.kind}-{decoding}:{Path(model).stem}@{(sha256 or 'unchecked')[:8]}"

    @classmethod
    def from_config(cls, name: str, config: dict, base_dir: Path, threads: int) -> OnnxPoseEstimator:
        check_keys(name, config, KEYS)
        if "model" not in config:
            raise GrewkitError(f'[{name}] needs model = "path/to/model.onnx"')
        kwargs = {k: v for k, v in config.items() if k not in ("kind", "model")}
        return cls(model=(base_dir / config["model"]).resolve(), threads=threads, label=name, **kwargs)

    def _blob(self, frame_rgb: np.ndarray, center: np.ndarray, scale: np.ndarray) -> np.ndarray:
        h, w = self.input_hw
        crop = cv2.warpAffine(
            frame_rgb,
            warp_matrix(center, scale, (w, h)),
            (w, h),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=(0, 0, 0),
        ).astype(np.float32)
        if not self.rgb:
            crop = crop[..., ::-1]
        crop = (crop - self.mean) / self.std
        return crop.transpose(2, 0, 1)

    def _decode(self, outputs: list[np.ndarray], i: int) -> tuple[np.ndarray, np.ndarray]:
        h, w = self.input_hw
        if self.decoding == "simcc":
            if len(outputs) < 2:
                raise GrewkitError(
                    f'[{self.label}] decoding = "simcc" needs two outputs (simcc_x, simcc_y), '
                    f"the model has {len(outputs)}"
                )
            ix, iy = self.simcc_order
            sx, sy = np.asarray(outputs[ix], np.float32)[i], np.asarray(outputs[iy], np.float32)[i]
            xy, score = simcc_maximum(sx, sy)
            return xy / self.split, score
        hm = np.asarray(outputs[0], np.float32)[i]
        if hm.ndim != 3:
            raise GrewkitError(
                f'[{self.label}] decoding = "heatmap" needs a (N, K, H, W) output, got {np.asarray(outputs[0]).shape}'
            )
        xy, score = heatmap_maximum(hm, refine=self.refine)
        # Heatmap pixel j covers input pixel j * stride (mmpose's MSRAHeatmap scale_factor).
        return xy * np.array([w / hm.shape[2], h / hm.shape[1]]), score

    def estimate(self, frame_rgb: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        if len(boxes) == 0:
            return missing_keypoints(0)
        h, w = self.input_hw
        regions = [box_center_scale(b, aspect=w / h, padding=self.padding) for b in boxes]
        blob = np.stack([self._blob(frame_rgb, c, s) for c, s in regions])
        outputs = []
        # One box at a time: exported models often have a static batch of 1.
        for j in range(len(boxes)):
            outputs.append(
                self.session.run(
                    None, {self.input.name: blob[j : j + 1].astype(np.float16 if self.fp16 else np.float32)}
                )
            )
        out = missing_keypoints(len(boxes))
        for j, (center, scale) in enumerate(regions):
            xy, score = self._decode(outputs[j], 0)
            if xy.shape[0] <= int(self.keypoints.max()):
                raise GrewkitError(
                    f"[{self.label}] the model outputs {xy.shape[0]} keypoints; keypoints names "
                    f"index {int(self.keypoints.max())}"
                )
            xy, score = xy[self.keypoints], score[self.keypoints]
            found = score > 0
            out[j, found, :2] = to_frame(xy[found], center, scale, (w, h))
            out[j, found, 2] = np.clip(score[found], 0.0, 1.0)
        return out

    def close(self) -> None:
        self.session = None
