"""A small real stage for runner tests: each unit is a fake video that yields a videos row and detections."""

from __future__ import annotations

import json
import os
import signal
import time

import pyarrow as pa

from grewkit.core.stage import Stage, Unit, unit_key


class ToyDetect(Stage):
    name = "toy"
    outputs = ("videos", "detections")
    unit_noun = "video"

    def plan(self):
        spec = json.loads((self.project.root / "toy_inputs.json").read_text())
        return [Unit(unit_key(v["video_id"]), v) for v in spec["videos"]]

    def process(self, unit):
        v = unit.payload
        if v.get("fail"):
            raise ValueError(f"cannot decode {v['video_id']}")
        if v.get("kill") == "always" or (v.get("kill") == "once" and not self._killed_before(v["video_id"])):
            os.kill(os.getpid(), signal.SIGKILL)  # the worker dies mid-unit, as on a preempted node
        time.sleep(float(os.environ.get("TOY_SLEEP", "0")))
        n = v["frames"]
        videos = pa.table(
            {
                "video_id": [v["video_id"]],
                "camera_id": [v["camera_id"]],
                "path": [f"media/{v['video_id']}.avi"],
                "fps": [25.0],
                "frame_count": [n],
                "width": [640],
                "height": [480],
                "duration_s": [n / 25.0],
                "start_time": pa.nulls(1, pa.timestamp("us", tz="UTC")),
                "size_bytes": [1000 + n],
                "sha256": ["0" * 64],
                "codec": ["MJPG"],
            }
        )
        frames = [f for f in range(n) for _ in range(2)]
        dets = pa.table(
            {
                "video_id": [v["video_id"]] * len(frames),
                "camera_id": [v["camera_id"]] * len(frames),
                "frame": frames,
                "det_index": [i % 2 for i in range(len(frames))],
                "x1": [float(f) for f in frames],
                "y1": [1.0] * len(frames),
                "x2": [f + 10.0 for f in frames],
                "y2": [50.0] * len(frames),
                "score": [0.9] * len(frames),
                "detector": ["toy"] * len(frames),
                "descriptor": pa.nulls(len(frames), pa.list_(pa.float32())),
                "descriptor_kind": pa.nulls(len(frames), pa.string()),
            }
        )
        return {"videos": videos, "detections": dets}

    def _killed_before(self, video_id):
        marker = self.project.root / f"killed-{video_id}"
        if marker.exists():
            return True
        marker.touch()
        return False


def start_toy_run(project_root, *, sleep: float, **popen_kwargs):
    """``ToyDetect`` on a 2-worker local pool in a separate Python process (for tests that kill it)."""
    import subprocess
    import sys
    from pathlib import Path

    script = "\n".join(
        [
            f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r})",
            "from pathlib import Path",
            "from grewkit.core.project import Project",
            "from grewkit.core.runner import run_stage",
            "from grewkit.core.executors import LocalExecutor",
            "from toy_stages import ToyDetect",
            f"run_stage(Project(Path({str(project_root)!r})), ToyDetect, executor=LocalExecutor(workers=2), "
            "show_progress=False)",
        ]
    )
    return subprocess.Popen([sys.executable, "-c", script], env=dict(os.environ, TOY_SLEEP=str(sleep)), **popen_kwargs)
