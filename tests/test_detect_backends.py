"""The shipped backends on real frames: SSDLite (default), HOG and MOG2, and the optional mmdet adapter."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from grewkit.bench.mot_sequence import TUD_CAMPUS_FPS, MotSequence
from grewkit.core.boxes import iou_matrix
from grewkit.core.errors import GrewkitError
from grewkit.core.onnx_session import has_bf16, has_int8_dot_product
from grewkit.detect.onnx_generic import OnnxDetector
from grewkit.detect.registry import detector_table, load_backends, make_detector, preprocess_dir


def vtest_frame(shared_data, index=50):
    cap = cv2.VideoCapture(str(shared_data / "vtest.avi"))
    for _ in range(index + 1):
        ok, frame = cap.read()
    cap.release()
    assert ok
    return frame


def test_ssdlite_model_is_shipped_with_checksum_and_licence():
    folder = preprocess_dir()
    config = load_backends(folder / "detectors.toml")["ssdlite"]
    assert (folder / config["model"]).is_file() and len(config["sha256"]) == 64
    assert "MIT License" in (folder / "models" / "LICENSE-ssdlite").read_text()


def tud_frames(shared_data, detector):
    """(ground-truth boxes, detector boxes at score >= 0.3) on four TUD-Campus frames."""
    seq = MotSequence.open(shared_data / "tud_campus", fps=TUD_CAMPUS_FPS)
    for i in (0, 20, 40, 60):
        yield seq.gt.at(i + 1).xyxy, detector.detect(cv2.imread(str(seq.frames[i]))).filter(min_score=0.3)


def found_people(gt: np.ndarray, boxes) -> int:
    iou = iou_matrix(gt, boxes.xyxy)
    return int((iou.max(axis=1) >= 0.5).sum()) if iou.size else 0


def test_ssdlite_finds_the_walkers_of_a_tud_frame(shared_data):
    found = total = 0
    for gt, boxes in tud_frames(shared_data, make_detector("ssdlite")):
        found += found_people(gt, boxes)
        total += len(gt)
    assert found / total >= 0.6, f"SSDLite found {found} of {total} ground-truth people"


def test_ssdlite_on_vtest_frame(shared_data):
    boxes = make_detector("ssdlite").detect(vtest_frame(shared_data)).filter(min_score=0.3)
    assert 4 <= len(boxes) <= 12
    h = boxes.xyxy[:, 3] - boxes.xyxy[:, 1]
    assert np.all((h > 40) & (h < 250)) and np.all(np.diff(boxes.score) <= 0)


@pytest.mark.parametrize("name", ["ssdlite", "ssdlite-int8"])
def test_damaged_model_is_refused(tmp_path, monkeypatch, name):
    monkeypatch.setenv("GREWKIT_INT8_DOT", "1")  # load the int8 file itself, whatever this CPU
    folder = preprocess_dir()
    text = (folder / "detectors.toml").read_text()
    model = tmp_path / load_backends(folder / "detectors.toml")[name]["model"]
    model.parent.mkdir()
    data = bytearray((folder / "models" / model.name).read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    (tmp_path / "detectors.toml").write_text(text)
    with pytest.raises(GrewkitError, match="model checksum mismatch"):
        make_detector(name, backends_file=tmp_path / "detectors.toml")


@pytest.mark.skipif(
    not has_int8_dot_product(),
    reason="this CPU has no exact int8 dot product (VNNI / dotprod): ssdlite-int8 runs the float model here",
)
def test_int8_model_finds_the_boxes_of_the_float_model(shared_data):
    """The quantized model must stay a faithful copy of the float network, frame by frame."""
    int8, fp32 = make_detector("ssdlite-int8"), make_detector("ssdlite")
    matched = total = 0
    for index in (10, 120, 300, 500, 700):
        frame = vtest_frame(shared_data, index)
        a, b = fp32.detect(frame).filter(min_score=0.3), int8.detect(frame).filter(min_score=0.3)
        iou = iou_matrix(a.xyxy, b.xyxy)
        matched += int((iou.max(axis=1) >= 0.7).sum()) if iou.size else 0
        total += len(a)
    assert total >= 20 and matched / total >= 0.85, f"int8 matched {matched} of {total} float boxes"


def test_hog_finds_a_vtest_walker(shared_data):
    frame = vtest_frame(shared_data)
    sub = frame[150:400, 300:620]  # a crop keeps the slow HOG scan short
    boxes = make_detector("hog").detect(sub)
    assert len(boxes) >= 1 and np.all((boxes.score > 0) & (boxes.score < 1))


def test_mog2_finds_a_moving_blob_after_warmup():
    det = make_detector("mog2")
    rng = np.random.default_rng(0)
    background = rng.integers(40, 60, (240, 320, 3), dtype=np.uint8)
    found = []
    for i in range(40):
        img = background.copy()
        x = 20 + 5 * i
        img[60:160, x : x + 40] = 220
        found.append(det.detect(img))
    assert all(len(b) == 0 for b in found[:20])  # warm-up: the background is not learnt yet
    last = found[-1]
    assert len(last) == 1
    np.testing.assert_allclose(last.xyxy[0], [20 + 5 * 39, 60, 20 + 5 * 39 + 40, 160], atol=6)
    det.reset()
    assert len(det.detect(background)) == 0


def test_mmdet_adapter_explains_what_is_missing(tmp_path, monkeypatch):
    import grewkit.openmmlab.client as client

    toml = tmp_path / "d.toml"
    toml.write_text('[rtm]\nkind = "mmdet"\nconfig = "c.py"\ncheckpoint = "c.pth"\n')
    with pytest.raises(GrewkitError, match=r"\[rtm\] config file not found"):
        make_detector("rtm", backends_file=toml)
    (tmp_path / "c.py").write_text("model = dict()\n")
    with pytest.raises(GrewkitError, match=r"\[rtm\] checkpoint file not found"):
        make_detector("rtm", backends_file=toml)
    (tmp_path / "c.pth").write_bytes(b"")
    monkeypatch.setattr(client, "openmmlab_python", lambda: None)  # as on a machine without `make openmmlab`
    with pytest.raises(GrewkitError, match=r"needs the OpenMMLab environment: run `make openmmlab`"):
        make_detector("rtm", backends_file=toml)


@pytest.mark.parametrize(
    "int8_dot, model", [("1", "ssdlite_mobilenet_v2_pedestrian_int8"), ("0", "ssdlite_mobilenet_v2_pedestrian")]
)
def test_the_int8_model_runs_its_float_twin_where_int8_kernels_are_inexact(monkeypatch, int8_dot, model):
    monkeypatch.setenv("GREWKIT_INT8_DOT", int8_dot)
    assert f":{model}@" in make_detector("ssdlite-int8").name  # the detections manifest names the model that ran
    # The default finds the same boxes on every CPU: always the float model.
    assert ":ssdlite_mobilenet_v2_pedestrian@" in make_detector("ssdlite").name


def test_a_fallback_naming_no_detector_is_refused(tmp_path):
    text = (
        (preprocess_dir() / "detectors.toml")
        .read_text()
        .replace('without_int8_dot_product = "ssdlite"', 'without_int8_dot_product = "nowhere"')
    )
    text = text.replace('model = "models/', f'model = "{preprocess_dir()}/models/')
    (tmp_path / "detectors.toml").write_text(text)
    with pytest.raises(GrewkitError, match="without_int8_dot_product names no detector"):
        make_detector("ssdlite-int8", backends_file=tmp_path / "detectors.toml")


def test_ssdlite_batched_pass_gives_each_frames_own_boxes(shared_data):
    """The tiles of a frame go through the network as one batch: the boxes equal one pass per image."""
    detector = make_detector("ssdlite")
    frame = vtest_frame(shared_data, 120)
    images = [frame, np.ascontiguousarray(frame[0:350, 0:460]), np.ascontiguousarray(frame[230:576, 300:768])]
    batched = detector.detect_many(images)
    assert len(batched) == 3 and len(batched[0]) >= 3
    for image, got in zip(images, batched):
        alone = detector.detect(image)
        np.testing.assert_array_equal(got.xyxy, alone.xyxy)
        np.testing.assert_array_equal(got.score, alone.score)


def test_centernet_is_shipped_and_finds_the_walkers_of_tud_frames(shared_data):
    folder = preprocess_dir()
    config = load_backends(folder / "detectors.toml")["centernet"]
    assert (folder / config["model"]).is_file() and len(config["sha256"]) == 64
    assert "MIT" in (folder / "models" / "LICENSE-centernet").read_text()
    found = total = 0
    for gt, boxes in tud_frames(shared_data, make_detector("centernet")):
        assert np.all(np.diff(boxes.score) <= 0)
        # NMS ran: no two kept boxes of one frame overlap as one person's would.
        pair = iou_matrix(boxes.xyxy, boxes.xyxy)
        assert (pair[np.triu_indices(len(boxes), 1)] < 0.6).all()
        found += found_people(gt, boxes)
        total += len(gt)
    # 18 of 21 at long side 512 (512 x 384), the aspect ratio kept.
    assert found / total >= 0.8, f"CenterNet found {found} of {total} ground-truth people"


# The boxes (frame pixels, score >= 0.3) that the full 80-class graph with its own decoder
# (tools/convert_centernet.py's first step, sha256 e7964037...) gave on TUD-Campus frame 1 stretched
# to 512 x 512, through this backend's NMS: the cut graph and grewkit's decoder must give the same.
FULL_GRAPH_TUD_FRAME_1 = [
    [394.24, 177.54, 539.56, 413.01, 0.8349],
    [263.09, 196.26, 386.66, 388.87, 0.7308],
    [61.28, 148.60, 169.03, 435.51, 0.5878],
    [201.77, 207.39, 251.57, 341.97, 0.5856],
    [551.53, 205.00, 572.09, 253.94, 0.3948],
    [157.20, 201.00, 207.30, 357.63, 0.3266],
]


def centernet_table(tmp_path, **changes) -> Path:
    """A backends file holding the shipped centernet table with ``changes`` (None removes a key)."""
    folder = preprocess_dir()
    config = dict(load_backends(folder / "detectors.toml")["centernet"])
    config["model"] = str((folder / config["model"]).resolve())
    config.update(changes)
    lines = [f"{k} = {json.dumps(v)}\n" for k, v in config.items() if v is not None]
    path = tmp_path / "detectors.toml"
    path.write_text("[centernet]\n" + "".join(lines))
    return path


def test_centernet_heads_give_the_full_graphs_boxes(shared_data, tmp_path):
    fixed = centernet_table(tmp_path, long_side=None, input_size=[512, 512])
    detector = make_detector("centernet", backends_file=fixed)
    frame = cv2.imread(str(MotSequence.open(shared_data / "tud_campus", fps=TUD_CAMPUS_FPS).frames[0]))
    boxes = detector.detect(frame).filter(min_score=0.3)
    expected = np.array(FULL_GRAPH_TUD_FRAME_1, np.float32)
    assert len(boxes) == len(expected)
    np.testing.assert_allclose(boxes.xyxy, expected[:, :4], atol=0.01)
    np.testing.assert_allclose(boxes.score, expected[:, 4], atol=1e-4)


def test_centernet_keeps_the_frames_aspect_ratio():
    detector = make_detector("centernet")
    assert detector.input_size_for(480, 640) == (384, 512)
    assert detector.input_size_for(1080, 1920) == (288, 512)
    assert detector.input_size_for(576, 768) == (384, 512)
    assert detector.input_size_for(1920, 1080) == (512, 288)


@pytest.mark.parametrize(
    "changes, reason",
    [
        ({"long_side": 500}, r"long_side 500 is not a positive multiple of 32"),
        ({"long_side": None, "input_size": [512, 500]}, r"input_size \[512, 500\]: each side must be"),
        ({"input_size": [512, 512]}, "give input_size .* or long_side .*, not both"),
    ],
)
def test_centernet_refuses_a_size_off_its_stride(tmp_path, changes, reason):
    path = centernet_table(tmp_path, **changes)
    with pytest.raises(GrewkitError, match=reason) as error:
        make_detector("centernet", backends_file=path)
    assert str(error.value).startswith(f"{path}: [centernet] ") and "\n" not in str(error.value)


def test_generic_onnx_refuses_an_unknown_layout(tmp_path):
    folder = preprocess_dir()
    config = dict(load_backends(folder / "detectors.toml")["centernet"], layout="nwhc")
    config["model"] = str((folder / config["model"]).resolve())
    (tmp_path / "detectors.toml").write_text(
        "[mine]\n" + "".join(f"{k} = {v!r}\n".replace("'", '"') for k, v in config.items())
    )
    with pytest.raises(GrewkitError, match="layout 'nwhc'"):
        make_detector("mine", backends_file=str(tmp_path / "detectors.toml"))


def straightforward_blob(detector, frame):
    """The network input written out step by step: resize, pad, float, channel order, (x - mean) / std, layout."""
    h, w = frame.shape[:2]
    th, tw = detector.input_size_for(h, w)
    if detector.resize == "letterbox" and detector.long_side is None:
        r = min(th / h, tw / w)
        nh, nw = max(1, round(h * r)), max(1, round(w * r))
        canvas = np.full((th, tw, 3), detector.pad_value, np.float32)
        canvas[:nh, :nw] = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_LINEAR)
    else:
        canvas = cv2.resize(frame, (tw, th), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    if detector.rgb:
        canvas = canvas[..., ::-1]
    canvas = (canvas - detector.mean) / detector.std
    return np.ascontiguousarray((canvas if detector.nhwc else canvas.transpose(2, 0, 1))[None]).astype(np.float32)


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"channels": "bgr"},
        {"mean": [123.7, 116.3, 103.5], "std": [58.4, 57.1, 57.4]},
        {"long_side": None, "input_size": [320, 320], "resize": "letterbox", "pad_value": 114},
        {"long_side": None, "input_size": [320, 320], "resize": "letterbox", "layout": "nchw", "mean": [1, 2, 3]},
    ],
)
def test_generic_onnx_input_is_the_straightforward_one(tmp_path, changes):
    detector = make_detector("centernet", backends_file=centernet_table(tmp_path, **changes))
    frame = np.random.default_rng(0).integers(0, 256, (1080, 1920, 3), dtype=np.uint8)
    frame[:, :, 0] //= 3  # channels that differ, so that a wrong order shows
    blob, sx, sy = detector.prepare(frame)
    expected = straightforward_blob(detector, frame)
    assert blob.dtype == np.float32 and blob.flags.c_contiguous
    np.testing.assert_array_equal(blob, expected)


def _matched(reference, other, shared_data, *, iou: float) -> tuple[int, int]:
    """Boxes of ``reference`` (score >= 0.3) on five vtest.avi frames that ``other`` finds at ``iou``."""
    matched = total = 0
    for index in (10, 120, 300, 500, 700):
        frame = vtest_frame(shared_data, index)
        a, b = reference.detect(frame).filter(min_score=0.3), other.detect(frame).filter(min_score=0.3)
        overlap = iou_matrix(a.xyxy, b.xyxy)
        matched += int((overlap.max(axis=1) >= iou).sum()) if overlap.size else 0
        total += len(a)
    return matched, total


def test_openvino_float32_finds_onnxruntimes_boxes(shared_data):
    """The OpenVINO runtime itself changes nothing: at float32 it finds ONNX Runtime's boxes."""
    table, _, path = detector_table("centernet-bf16")
    config = {k: v for k, v in table.items() if k not in ("without_bf16", "track_threshold")} | {"precision": "f32"}
    openvino = OnnxDetector.from_config("centernet-openvino", config, path.parent, threads=1)
    matched, total = _matched(make_detector("centernet"), openvino, shared_data, iou=0.99)
    assert total >= 20 and matched == total, f"openvino f32 matched {matched} of {total} onnxruntime boxes"
    assert openvino.name.endswith("+openvino-f32")


@pytest.mark.skipif(
    not has_bf16(), reason="this CPU has no bf16 instructions: centernet-bf16 runs the float model here"
)
def test_bf16_centernet_finds_the_boxes_of_the_float_model(shared_data):
    # Measured: 37 of 38 float boxes at IoU >= 0.9 (the other at 0.53), scores within 0.014.
    matched, total = _matched(make_detector("centernet"), make_detector("centernet-bf16"), shared_data, iou=0.9)
    assert total >= 20 and matched / total >= 0.9, f"bf16 matched {matched} of {total} float boxes"


@pytest.mark.parametrize("bf16, ran", [("1", "+openvino-bf16"), ("0", "@761cb5a4")])
def test_the_bf16_table_runs_the_float_model_where_the_cpu_has_no_bf16(monkeypatch, bf16, ran):
    monkeypatch.setenv("GREWKIT_BF16", bf16)
    assert make_detector("centernet-bf16").name.endswith(ran)  # the detections manifest names what ran


@pytest.mark.parametrize(
    "changes, reason",
    [
        ({"runtime": "tensorrt"}, "runtime 'tensorrt'"),
        ({"runtime": "onnxruntime", "precision": "bf16"}, "onnxruntime runs f32"),
        ({"precision": "int4"}, "precision 'int4'"),
    ],
)
def test_a_runtime_or_precision_it_cannot_run_is_refused(changes, reason):
    table, _, path = detector_table("centernet-bf16")
    config = {k: v for k, v in table.items() if k not in ("without_bf16", "track_threshold")} | changes
    with pytest.raises(GrewkitError, match=reason):
        OnnxDetector.from_config("bad", config, path.parent, threads=1)
