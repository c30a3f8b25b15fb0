"""mmdet detectors (RTMDet, HTC as GREW used, Faster R-CNN, ...) from an OpenMMLab config.

The model runs in the OpenMMLab venv (``make openmmlab``) through a worker process
(``grewkit.openmmlab``); this process only sends frames and reads boxes back. A detectors.toml
entry:

    [my-rtmdet]
    kind = "mmdet"
    config = "/models/rtmdet_s_8xb32-300e_coco.py"   # or "mmdet::rtmdet/rtmdet_s_8xb32-300e_coco.py",
                                                     # a config shipped inside the mmdet package
    checkpoint = "/models/rtmdet_s.pth"              # optional: without it the weights are random
    person_class = 0                                 # class index of "person" (COCO: 0)
    device = "cpu"                                   # or "cuda:0"
    cfg_options = { "model.test_cfg.score_thr" = 0.05 }   # optional config overrides (mmengine's)

Relative paths are relative to the toml file. Nothing is downloaded at run time: a backbone's
"Pretrained" initialisation in the config is switched off; bring the checkpoint file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from grewkit.core.boxes import Boxes
from grewkit.core.errors import GrewkitError
from grewkit.core.registry import check_keys
from grewkit.openmmlab import resolve_checkpoint, resolve_config


class MMDetDetector:
    kind = "mmdet"

    def __init__(
        self,
        *,
        config: str,
        checkpoint: str | None = None,
        person_class: int = 0,
        device: str = "cpu",
        cfg_options: dict | None = None,
        threads: int = 1,
        label: str = "mmdet",
    ):
        from grewkit.openmmlab.client import OpenMMLabWorker

        self.worker = OpenMMLabWorker(
            task="detect",
            config=config,
            checkpoint=checkpoint,
            device=device,
            cfg_options=cfg_options,
            threads=threads,
            label=label,
        )
        self.person_class = int(person_class)
        weights = Path(checkpoint).stem if checkpoint else "random-weights"
        self.name = f"{label}:{self.kind}:{Path(config.split('::')[-1]).stem}:{weights}"

    @classmethod
    def from_config(cls, name: str, config: dict, base_dir: Path, threads: int) -> MMDetDetector:
        check_keys(name, config, {"config", "checkpoint", "person_class", "device", "cfg_options"})
        if "config" not in config:
            raise GrewkitError(f'[{name}] kind = "mmdet" needs config = "path/to/config.py"')
        return cls(
            config=resolve_config(config["config"], base_dir, name),
            checkpoint=resolve_checkpoint(config.get("checkpoint"), base_dir, name),
            person_class=config.get("person_class", 0),
            device=config.get("device", "cpu"),
            cfg_options=config.get("cfg_options"),
            threads=threads,
            label=name,
        )

    def reset(self) -> None:
        pass

    def detect(self, frame: np.ndarray) -> Boxes:
        out = self.worker.detect(frame)
        keep = out["labels"] == self.person_class
        h, w = frame.shape[:2]
        return Boxes.best_first(out["bboxes"][keep], out["scores"][keep]).clip(w, h)

    def close(self) -> None:
        self.worker.close()
