"""grewkit's side of the OpenMMLab worker: start it, build a model, send frames, read arrays back."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

import numpy as np

from grewkit.core.errors import GrewkitError
from grewkit.openmmlab import ENV_VAR, openmmlab_python
from grewkit.openmmlab.worker import read_message, write_message

WORKER = Path(__file__).with_name("worker.py")


class OpenMMLabWorker:
    """One worker process holding one model (``task`` "detect" or "pose")."""

    def __init__(
        self,
        *,
        task: str,
        config: str,
        checkpoint: str | None = None,
        device: str = "cpu",
        cfg_options: dict | None = None,
        seed: int = 0,
        threads: int = 1,
        label: str = "openmmlab",
    ):
        self.label = label
        python = openmmlab_python()
        if python is None:
            raise GrewkitError(
                f"[{label}] needs the OpenMMLab environment: run `make openmmlab` (builds "
                f".venv-openmmlab) or set ${ENV_VAR} to a python with mmdet and mmpose"
            )
        # The worker's stderr is this process's: inside a stage that is the stage's log file.
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        self._proc = subprocess.Popen(
            [str(python), str(WORKER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
        )
        self._lock = threading.Lock()
        self.info = self._call(
            {
                "op": "init",
                "task": task,
                "config": config,
                "checkpoint": checkpoint,
                "device": device,
                "cfg_options": cfg_options or {},
                "seed": seed,
                "threads": threads,
            }
        )[0]["info"]

    def _call(self, header: dict, arrays: dict | None = None) -> tuple[dict, dict]:
        if self._proc is None:
            raise GrewkitError(f"[{self.label}] the OpenMMLab worker is closed")
        with self._lock:
            try:
                write_message(self._proc.stdin, header, arrays)
                reply, out = read_message(self._proc.stdout)
            except (EOFError, BrokenPipeError, OSError):
                code = self._proc.poll()
                raise GrewkitError(
                    f"[{self.label}] the OpenMMLab worker died (exit status {code}); its messages "
                    "are in the stage's log (logs/<stage>.log) or on stderr"
                ) from None
        if not reply.get("ok"):
            raise GrewkitError(f"[{self.label}] OpenMMLab: {reply.get('error')}")
        return reply, {k: np.array(v) for k, v in out.items()}

    def detect(self, frame_bgr: np.ndarray) -> dict[str, np.ndarray]:
        return self._call({"op": "detect"}, {"frame": np.ascontiguousarray(frame_bgr, np.uint8)})[1]

    def pose(self, frame_bgr: np.ndarray, boxes: np.ndarray) -> dict[str, np.ndarray]:
        return self._call(
            {"op": "pose"},
            {"frame": np.ascontiguousarray(frame_bgr, np.uint8), "boxes": np.asarray(boxes, np.float32).reshape(-1, 4)},
        )[1]

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            proc.stdin.close()
            proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown: the pipes may already be gone
            pass
