"""Optional adapter for labs with the OpenMMLab stack: an mmdet config and checkpoint they bring.

mmdet (with mmcv compiled from source) is not part of grewkit's install and cannot run offline
on a fresh machine: its model zoo downloads checkpoints at run time, which grewkit forbids. A lab
that has mmdet and its own checkpoint file describes it in detectors.toml:

    [my-rtmdet]
    kind = "mmdet"
    config = "/models/rtmdet_s_8xb32-300e_coco.py"
    checkpoint = "/models/rtmdet_s.pth"
    person_class = 0
    device = "cpu"

The portable alternative is exporting the model to ONNX (mmdeploy) and using kind = "onnx".
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from grewkit.core.boxes import Boxes
from grewkit.core.errors import GrewkitError


class MMDetDetector:
    kind = "mmdet"

    def __init__(self, *, config: Path, checkpoint: Path, person_class: int = 0, device: str = "cpu",
                 label: str = "mmdet"):
        try:
            from mmdet.apis import inference_detector, init_detector
        except Exception as exc:  # mmdet fails to import in many ways (mmcv ops, torchvision)
            raise GrewkitError(
                f"[{label}] kind = \"mmdet\" needs mmdet and mmcv, which are not importable here "
                f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); install the OpenMMLab "
                "stack yourself or export the model to ONNX and use kind = \"onnx\"") from None
        for path in (config, checkpoint):
            if not Path(path).is_file():
                raise GrewkitError(f"[{label}] file not found", path=path)
        self._infer = inference_detector
        self.model = init_detector(str(config), str(checkpoint), device=device)
        self.person_class = int(person_class)
        self.name = f"{label}:{self.kind}:{Path(checkpoint).stem}"

    @classmethod
    def from_config(cls, name: str, config: dict, base_dir: Path, threads: int) -> "MMDetDetector":
        missing = [k for k in ("config", "checkpoint") if k not in config]
        if missing:
            raise GrewkitError(f"[{name}] kind = \"mmdet\" needs {', '.join(missing)}")
        return cls(config=(base_dir / config["config"]).resolve(), checkpoint=(base_dir / config["checkpoint"]).resolve(),
                   person_class=config.get("person_class", 0), device=config.get("device", "cpu"), label=name)

    def reset(self) -> None:
        pass

    def detect(self, frame: np.ndarray) -> Boxes:
        result = self._infer(self.model, frame)
        inst = result.pred_instances
        keep = (inst.labels == self.person_class).cpu().numpy()
        return Boxes.best_first(inst.bboxes.cpu().numpy()[keep], inst.scores.cpu().numpy()[keep])
