"""The OpenMMLab worker: runs mmdet / mmpose models for grewkit inside the OpenMMLab venv.

Started by ``grewkit.openmmlab.client`` as ``<openmmlab python> worker.py``. It imports nothing
from grewkit (whose own dependencies, numpy 2 among them, are not in that venv): only the
standard library, numpy and OpenMMLab. One model per worker, built once by the first message.

Protocol on stdin/stdout, one message each way at a time: a 4-byte big-endian length, a JSON
header of that length, then the raw bytes of the arrays the header lists (``arrays``: name,
dtype, shape, in order). Requests:

- ``{"op": "init", "task": "detect" | "pose", "config", "checkpoint", "device", "cfg_options", "seed"}``
- ``{"op": "detect"}`` with array ``frame`` (H, W, 3) uint8 BGR -> arrays ``bboxes`` (N, 4)
  float32 frame pixels, ``scores`` (N,) float32, ``labels`` (N,) int64
- ``{"op": "pose"}`` with arrays ``frame`` (H, W, 3) uint8 BGR and ``boxes`` (N, 4) float32 xyxy
  frame pixels -> arrays ``keypoints`` (N, K, 2) float32 frame pixels, ``scores`` (N, K) float32

A reply header has ``ok``; when false, ``error`` and ``traceback``. Everything libraries print goes
to stderr: the protocol owns the real stdout.
"""

from __future__ import annotations

import json
import os
import struct
import sys
import traceback


def _read_exact(stream, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = stream.read(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def read_message(stream):
    import numpy as np

    (length,) = struct.unpack(">I", _read_exact(stream, 4))
    header = json.loads(_read_exact(stream, length))
    arrays = {}
    for spec in header.get("arrays", []):
        dtype, shape = np.dtype(spec["dtype"]), tuple(spec["shape"])
        size = int(np.prod(shape)) * dtype.itemsize
        arrays[spec["name"]] = np.frombuffer(_read_exact(stream, size), dtype).reshape(shape)
    return header, arrays


def write_message(stream, header: dict, arrays: dict | None = None) -> None:
    import numpy as np

    arrays = {k: np.ascontiguousarray(v) for k, v in (arrays or {}).items()}
    header = {
        **header,
        "arrays": [{"name": k, "dtype": v.dtype.str, "shape": list(v.shape)} for k, v in arrays.items()],
    }
    body = json.dumps(header).encode()
    stream.write(struct.pack(">I", len(body)) + body)
    for value in arrays.values():
        stream.write(value.tobytes())
    stream.flush()


def _load_config(config: str, cfg_options: dict | None):
    from mmengine.config import Config

    if "::" in config:
        # "mmdet::rtmdet/rtmdet_tiny_8xb32-300e_coco.py": a config shipped inside that package.
        from mmengine.hub import get_config

        cfg = get_config(config)
    else:
        cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    # No download at run time: a backbone's "Pretrained" init would fetch weights from a URL.
    model = cfg.get("model", {})
    for part in ("backbone", "neck", "head"):
        if isinstance(model.get(part), dict) and "init_cfg" in model[part]:
            model[part]["init_cfg"] = None
    return cfg


class DetectModel:
    def __init__(self, config, checkpoint, device, cfg_options):
        from mmdet.apis import init_detector
        from mmdet.utils import register_all_modules

        register_all_modules()
        cfg = _load_config(config, cfg_options)
        self.model = init_detector(cfg, checkpoint, device=device)
        self.info = {"classes": list((self.model.dataset_meta or {}).get("classes", []))[:100]}

    def run(self, arrays):
        import numpy as np
        from mmdet.apis import inference_detector

        inst = inference_detector(self.model, np.ascontiguousarray(arrays["frame"])).pred_instances
        return {
            "bboxes": inst.bboxes.cpu().numpy().astype(np.float32).reshape(-1, 4),
            "scores": inst.scores.cpu().numpy().astype(np.float32).reshape(-1),
            "labels": inst.labels.cpu().numpy().astype(np.int64).reshape(-1),
        }


class PoseModel:
    def __init__(self, config, checkpoint, device, cfg_options):
        from mmpose.apis import init_model
        from mmpose.utils import register_all_modules

        register_all_modules()
        cfg = _load_config(config, cfg_options)
        self.model = init_model(cfg, checkpoint, device=device)
        meta = self.model.dataset_meta or {}
        self.info = {"num_keypoints": int(meta.get("num_keypoints", 0)), "dataset": meta.get("dataset_name")}

    def run(self, arrays):
        import numpy as np
        from mmpose.apis import inference_topdown

        boxes = np.asarray(arrays["boxes"], np.float32).reshape(-1, 4)
        k = self.info["num_keypoints"]
        if len(boxes) == 0:
            return {"keypoints": np.zeros((0, k, 2), np.float32), "scores": np.zeros((0, k), np.float32)}
        samples = inference_topdown(self.model, np.ascontiguousarray(arrays["frame"]), boxes, bbox_format="xyxy")
        kps = np.concatenate([s.pred_instances.keypoints for s in samples]).astype(np.float32)
        scores = np.concatenate([s.pred_instances.keypoint_scores for s in samples]).astype(np.float32)
        return {"keypoints": kps.reshape(len(boxes), -1, 2), "scores": scores.reshape(len(boxes), -1)}


TASKS = {"detect": DetectModel, "pose": PoseModel}


def main() -> int:
    # The protocol keeps the real stdout; anything else printing to fd 1 lands on stderr.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    inp = sys.stdin.buffer
    model = None
    while True:
        try:
            header, arrays = read_message(inp)
        except EOFError:
            out.close()
            return 0
        try:
            if header["op"] == "init":
                import torch

                torch.manual_seed(int(header.get("seed", 0)))
                torch.set_num_threads(max(1, int(header.get("threads", 1))))
                model = TASKS[header["task"]](
                    header["config"], header.get("checkpoint"), header.get("device", "cpu"), header.get("cfg_options")
                )
                write_message(out, {"ok": True, "info": model.info})
            elif model is None:
                raise RuntimeError("the first message must be init")
            else:
                write_message(out, {"ok": True}, model.run(arrays))
        except Exception as exc:  # report every failure to grewkit, which names the model and the reason
            write_message(
                out, {"ok": False, "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc(limit=12)}
            )


if __name__ == "__main__":
    sys.exit(main())
