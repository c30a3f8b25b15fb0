"""Users' own detectors exported to ONNX (YOLOX, RTMDet via mmdeploy, ...), run by ONNX Runtime.

Described entirely in a detectors.toml entry, so a lab plugs in its checkpoint without code:

    [my-yolox]
    kind = "onnx"
    model = "/models/yolox_s.onnx"      # relative paths are relative to the toml file
    sha256 = "..."                      # optional; checked at load time when given
    output_format = "yolox"             # or "dets_labels" (mmdeploy end2end: dets (1,N,5) + labels (1,N)),
                                        # or "dets_class" (one output (1,N,6): x1, y1, x2, y2, score, class)
                                        # or "heatmap_ltrb" (CenterNet heads, see below)
    input_size = [640, 640]             # model input height, width
    resize = "letterbox"                # keep aspect, pad bottom/right (YOLOX, RTMDet); or "stretch"
    # long_side = 512                   # instead of input_size, for models with a free input size: each
    # size_multiple = 32                # frame is resized to long side 512 and short side rounded to a
                                        # multiple of 32 (640x480 -> 512x384, 1920x1080 -> 512x288);
                                        # no padding then: the input already has the frame's aspect
    pad_value = 114
    channels = "bgr"                    # channel order the model expects; "rgb" for most mmdeploy exports
    mean = [0.0, 0.0, 0.0]              # (pixel - mean) / std, per channel, after reordering
    std = [1.0, 1.0, 1.0]
    layout = "nchw"                     # or "nhwc" (TensorFlow exports)
    person_class = 0                    # class index of "person" (COCO: 0); -1 for a one-class model
    nms_iou = 0.45                      # YOLOX outputs need NMS; mmdeploy end2end outputs have it already

``yolox`` expects the decoded head output (1, anchors, 5 + classes): cx, cy, w, h, objectness,
class scores, as YOLOX's ``export_onnx.py`` writes by default (``decode_in_inference``).

``heatmap_ltrb`` expects a CenterNet's two heads: a person heat map (N, 1, h, w) of scores in 0-1
and the distances (N, 4, h, w) in input pixels from each cell's point to the box's left, top, right
and bottom. A box is decoded at every cell that is the maximum of its 3 x 3 neighbourhood (the usual
CenterNet peak test) and scores at least ``min_score``; the cell's point is its index times the
stride, the input's size over the heat map's (tools/convert_centernet.py writes such a model).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from grewkit.core.boxes import Boxes, nms
from grewkit.core.errors import GrewkitError
from grewkit.core.onnx_session import open_session, runtime_problem
from grewkit.core.registry import check_keys

FORMATS = ("yolox", "dets_labels", "dets_class", "heatmap_ltrb")
LAYOUTS = ("nchw", "nhwc")


class OnnxDetector:
    kind = "onnx"

    def __init__(
        self,
        *,
        model: Path,
        sha256: str | None = None,
        output_format: str = "yolox",
        input_size: tuple[int, int] = (640, 640),
        long_side: int | None = None,
        size_multiple: int = 1,
        resize: str = "letterbox",
        pad_value: float = 114.0,
        channels: str = "bgr",
        mean=(0.0, 0.0, 0.0),
        std=(1.0, 1.0, 1.0),
        layout: str = "nchw",
        person_class: int = 0,
        nms_iou: float = 0.45,
        min_score: float = 0.05,
        threads: int = 1,
        runtime: str = "onnxruntime",
        precision: str = "f32",
        label: str = "onnx",
    ):
        if output_format not in FORMATS:
            raise GrewkitError(f"[{label}] output_format {output_format!r}: use one of {', '.join(FORMATS)}")
        if resize not in ("letterbox", "stretch"):
            raise GrewkitError(f"[{label}] resize {resize!r}: use letterbox or stretch")
        if channels not in ("bgr", "rgb"):
            raise GrewkitError(f"[{label}] channels {channels!r}: use bgr or rgb")
        if layout not in LAYOUTS:
            raise GrewkitError(f"[{label}] layout {layout!r}: use one of {', '.join(LAYOUTS)}")
        problem = runtime_problem(runtime, precision)
        if problem:  # before the model loads, naming the table
            raise GrewkitError(f"[{label}] {problem}")
        self.session = open_session(model, sha256=sha256, threads=threads, runtime=runtime, precision=precision)
        self.input = self.session.get_inputs()[0]
        if len(self.input.shape) != 4:
            raise GrewkitError(f"expects a 4-D image input, the model's is {self.input.shape}", path=model)
        self.nhwc = layout == "nhwc"
        self.output_format = output_format
        self.input_hw = (int(input_size[0]), int(input_size[1]))
        self.long_side = None if long_side is None else int(long_side)
        self.size_multiple = int(size_multiple)
        self._check_input_size(label, model)
        self.resize = resize
        self.pad_value = float(pad_value)
        self.rgb = channels == "rgb"
        self.mean = np.asarray(mean, np.float32).reshape(1, 1, 3)
        self.std = np.asarray(std, np.float32).reshape(1, 1, 3)
        # (x - 0) / 1 is x exactly, so the identity normalisation (most exports') is skipped.
        self.normalise = bool(self.mean.any() or (self.std != 1).any())
        self.person_class = int(person_class)
        self.nms_iou = float(nms_iou)
        self.min_score = float(min_score)
        self.fp16 = "float16" in (self.input.type or "")
        # The runtime and precision are in the name: they change the boxes (slightly), so the manifests say which ran.
        ran = "" if runtime == "onnxruntime" else f"+{runtime}-{precision}"
        self.name = f"{label}:{self.kind}:{Path(model).stem}@{(sha256 or 'unchecked')[:8]}{ran}"

    @classmethod
    def from_config(cls, name: str, config: dict, base_dir: Path, threads: int) -> OnnxDetector:
        check_keys(
            name,
            config,
            {
                "model",
                "sha256",
                "output_format",
                "input_size",
                "long_side",
                "size_multiple",
                "resize",
                "pad_value",
                "channels",
                "mean",
                "std",
                "layout",
                "person_class",
                "nms_iou",
                "min_score",
                "runtime",
                "precision",
            },
        )
        if "model" not in config:
            raise GrewkitError(f'[{name}] needs model = "path/to/model.onnx"')
        if "input_size" in config and "long_side" in config:
            raise GrewkitError(f"[{name}] give input_size (fixed) or long_side (aspect kept), not both")
        kwargs = {k: v for k, v in config.items() if k not in ("kind", "model")}
        return cls(model=(base_dir / config["model"]).resolve(), threads=threads, label=name, **kwargs)

    def _check_input_size(self, label: str, model: Path) -> None:
        """Refuse sizes the network cannot take: off its stride multiple, or unlike its fixed input."""
        m = self.size_multiple
        if m < 1:
            raise GrewkitError(f"[{label}] size_multiple {m}: must be at least 1")
        if self.long_side is not None:
            if self.long_side < m or self.long_side % m:
                raise GrewkitError(
                    f"[{label}] long_side {self.long_side} is not a positive multiple of {m} (size_multiple)"
                )
        elif any(side < 1 or side % m for side in self.input_hw):
            raise GrewkitError(
                f"[{label}] input_size {list(self.input_hw)}: each side must be a positive multiple of {m} (size_multiple)"
            )
        fixed = self._height_width(self.input.shape)
        if all(isinstance(d, int) for d in fixed):
            if self.long_side is not None:
                raise GrewkitError(
                    f"[{label}] long_side needs a model with a free input size; this one takes only {list(fixed)}",
                    path=model,
                )
            if tuple(fixed) != self.input_hw:
                raise GrewkitError(
                    f"[{label}] input_size {list(self.input_hw)} but the model takes {list(fixed)}", path=model
                )

    def _height_width(self, shape) -> tuple:
        """The spatial dimensions of an input-shaped array or of the model's declared input."""
        return tuple(shape[1:3] if self.nhwc else shape[2:4])

    def input_size_for(self, h: int, w: int) -> tuple[int, int]:
        """The network input (height, width) for an h x w frame: fixed, or long side ``long_side`` and the
        short side rounded to a multiple of ``size_multiple`` (the frame's aspect ratio kept up to that)."""
        if self.long_side is None:
            return self.input_hw
        m, r = self.size_multiple, self.long_side / max(h, w)
        return max(m, round(h * r / m) * m), max(m, round(w * r / m) * m)

    def reset(self) -> None:
        pass

    def prepare(self, frame: np.ndarray) -> tuple[np.ndarray, float, float]:
        """The network input for ``frame`` and the scales from frame to input pixels; thread-safe, so that
        the detect stage can run it in its decoding thread (``detect(frame, prepared)`` then only infers)."""
        h, w = frame.shape[:2]
        th, tw = self.input_size_for(h, w)
        letterbox = self.resize == "letterbox" and self.long_side is None
        if letterbox:
            r = min(th / h, tw / w)
            nh, nw = max(1, round(h * r)), max(1, round(w * r))
            sx = sy = r
        else:
            nh, nw = th, tw
            sx, sy = tw / w, th / h
        small = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_LINEAR)
        if self.rgb:
            # The channel swap on the small uint8 image: the same values as reversing the float channels
            # afterwards, at a fraction of the cost (a reversed view makes every later numpy step strided).
            small = cv2.cvtColor(small, cv2.COLOR_BGR2RGB)
        if letterbox:
            # The pad value is the same in every channel, so the swap above need not see the padding.
            canvas = np.full((th, tw, 3), self.pad_value, np.float32)
            canvas[:nh, :nw] = small
        else:
            canvas = small.astype(np.float32)
        if self.normalise:
            np.subtract(canvas, self.mean, out=canvas)
            np.divide(canvas, self.std, out=canvas)
        blob = np.ascontiguousarray((canvas if self.nhwc else canvas.transpose(2, 0, 1))[None])
        return (blob.astype(np.float16) if self.fp16 else blob), sx, sy

    def detect(self, frame: np.ndarray, prepared: tuple[np.ndarray, float, float] | None = None) -> Boxes:
        h, w = frame.shape[:2]
        blob, sx, sy = self.prepare(frame) if prepared is None else prepared
        outputs = self.session.run(None, {self.input.name: blob})
        if self.output_format == "heatmap_ltrb":
            boxes = nms(self._peaks(outputs, self._height_width(blob.shape)), self.nms_iou)
        elif self.output_format == "yolox":
            pred = np.asarray(outputs[0], np.float32).reshape(-1, outputs[0].shape[-1])
            if pred.shape[1] < 6:
                raise GrewkitError(f"yolox output has {pred.shape[1]} columns per anchor, expected 5 + classes")
            cls = pred[:, 5 + self.person_class] if self.person_class >= 0 else np.ones(len(pred), np.float32)
            scores = pred[:, 4] * cls
            keep = scores >= self.min_score
            cxcywh, scores = pred[keep, :4], scores[keep]
            xyxy = np.concatenate([cxcywh[:, :2] - cxcywh[:, 2:] / 2, cxcywh[:, :2] + cxcywh[:, 2:] / 2], axis=1)
            boxes = nms(Boxes.best_first(xyxy, scores), self.nms_iou)
        else:
            dets = np.asarray(outputs[0], np.float32).reshape(-1, outputs[0].shape[-1])
            if dets.shape[1] < 5:
                raise GrewkitError(f"dets output has {dets.shape[1]} columns, expected x1, y1, x2, y2, score")
            keep = dets[:, 4] >= self.min_score
            if self.output_format == "dets_class":
                if dets.shape[1] < 6:
                    raise GrewkitError(f"dets_class output has {dets.shape[1]} columns, expected 6 (box, score, class)")
                if self.person_class >= 0:
                    keep &= np.rint(dets[:, 5]) == self.person_class
            elif len(outputs) > 1 and self.person_class >= 0:
                labels = np.asarray(outputs[1]).reshape(-1)
                keep &= labels == self.person_class
            boxes = Boxes.best_first(dets[keep, :4], dets[keep, 4])
            if self.output_format == "dets_class":
                # Such graphs decode every peak of their heat map: one person can give a few peaks.
                boxes = nms(boxes, self.nms_iou)
        scale = np.array([sx, sy, sx, sy], np.float32)
        return Boxes.best_first(boxes.xyxy / scale, boxes.score).clip(w, h)

    def _peaks(self, outputs, input_hw) -> Boxes:
        """Boxes at the heat map's 3 x 3 maxima (``heatmap_ltrb``), in input pixels."""
        if len(outputs) < 2 or outputs[0].ndim != 4 or outputs[1].shape[1:2] != (4,):
            shapes = [list(o.shape) for o in outputs]
            raise GrewkitError(f"heatmap_ltrb expects outputs (N, 1, h, w) and (N, 4, h, w); the model gives {shapes}")
        heat = np.asarray(outputs[0][0, 0], np.float32)
        ltrb = np.asarray(outputs[1][0], np.float32)
        # cv2.dilate with a 3 x 3 kernel is the 3 x 3 max-pool (borders padded with the neutral value).
        peak = (heat >= self.min_score) & (heat == cv2.dilate(heat, np.ones((3, 3), np.uint8)))
        ys, xs = np.nonzero(peak)
        stride_y, stride_x = input_hw[0] / heat.shape[0], input_hw[1] / heat.shape[1]
        cx, cy = xs * np.float32(stride_x), ys * np.float32(stride_y)
        left, top, right, bottom = ltrb[:, ys, xs]
        xyxy = np.stack([cx - left, cy - top, cx + right, cy + bottom], axis=1)
        return Boxes.best_first(xyxy, heat[ys, xs])
