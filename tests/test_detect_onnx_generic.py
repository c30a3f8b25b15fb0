"""The generic ONNX path for users' own detectors, with small models this test exports from torch itself.

The model finds the bounding box of bright pixels in its input, so the test checks the whole
path: letterbox or stretch resizing, channel handling, both output formats, class filtering,
and the mapping of boxes back to frame pixels.
"""

from __future__ import annotations

import numpy as np
import pytest

from grewkit.core.errors import GrewkitError
from grewkit.detect.registry import make_detector

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning", "ignore::DeprecationWarning")


class BrightBox(torch.nn.Module):
    def __init__(self, fmt: str):
        super().__init__()
        self.fmt = fmt

    def forward(self, x):
        mask = (x.mean(1)[0] > 200).float()
        h, w = mask.shape
        cols, rows = mask.amax(0), mask.amax(1)
        xs = torch.arange(w, dtype=torch.float32)
        ys = torch.arange(h, dtype=torch.float32)
        x1 = (xs + (1 - cols) * 1e6).amin()
        x2 = (xs - (1 - cols) * 1e6).amax() + 1
        y1 = (ys + (1 - rows) * 1e6).amin()
        y2 = (ys - (1 - rows) * 1e6).amax() + 1
        if self.fmt == "yolox":
            box = torch.stack(
                [
                    (x1 + x2) / 2,
                    (y1 + y2) / 2,
                    x2 - x1,
                    y2 - y1,
                    torch.tensor(0.9),
                    torch.tensor(0.8),
                    torch.tensor(0.1),
                ]
            )
            decoys = torch.tensor(
                [
                    [10.0, 10.0, 6.0, 6.0, 0.01, 0.9, 0.0],  # too unsure
                    [30.0, 30.0, 8.0, 8.0, 0.9, 0.01, 0.95],
                ]
            )  # another class
            return torch.cat([box[None], decoys])[None]
        dets = torch.stack(
            [torch.stack([x1, y1, x2, y2, torch.tensor(0.75)]), torch.tensor([1.0, 1.0, 9.0, 9.0, 0.99])]
        )
        labels = torch.tensor([0, 2])
        return dets[None], labels[None]


def export(tmp_path, fmt: str, size=(320, 320)):
    path = tmp_path / f"bright_{fmt}.onnx"
    outputs = ["output"] if fmt == "yolox" else ["dets", "labels"]
    torch.onnx.export(
        BrightBox(fmt),
        (torch.zeros(1, 3, *size),),
        str(path),
        input_names=["images"],
        output_names=outputs,
        opset_version=17,
        dynamo=False,
    )
    return path


def frame_with_box(x1=100, y1=50, x2=200, y2=350, shape=(480, 640)):
    img = np.full((*shape, 3), 30, np.uint8)
    img[y1:y2, x1:x2] = 255
    return img


@pytest.mark.parametrize("fmt, resize, score", [("yolox", "letterbox", 0.72), ("dets_labels", "stretch", 0.75)])
def test_exported_model_boxes_come_back_in_frame_pixels(tmp_path, fmt, resize, score):
    model = export(tmp_path, fmt)
    toml = tmp_path / "mine.toml"
    toml.write_text(
        f'[mine]\nkind = "onnx"\nmodel = "{model.name}"\noutput_format = "{fmt}"\n'
        f'input_size = [320, 320]\nresize = "{resize}"\nchannels = "rgb"\n'
    )
    det = make_detector("mine", backends_file=toml)
    boxes = det.detect(frame_with_box())
    assert len(boxes) == 1, boxes
    np.testing.assert_allclose(boxes.xyxy[0], [100, 50, 200, 350], atol=2.5)
    assert boxes.score[0] == pytest.approx(score, abs=1e-5)
    assert det.name.startswith("mine:onnx:bright_")


def test_checksum_and_config_errors(tmp_path):
    model = export(tmp_path, "yolox")
    toml = tmp_path / "mine.toml"
    toml.write_text(
        f'[mine]\nkind = "onnx"\nmodel = "{model}"\nsha256 = "{"0" * 64}"\n'
        f'[typo]\nkind = "onnx"\nmodel = "{model}"\noutput_fromat = "yolox"\n'
        f'[nokind]\nmodel = "x.onnx"\n'
    )
    with pytest.raises(GrewkitError, match="must be a table with a kind"):
        make_detector("mine", backends_file=toml)
    toml.write_text(toml.read_text().replace('[nokind]\nmodel = "x.onnx"\n', ""))
    with pytest.raises(GrewkitError, match="model checksum mismatch"):
        make_detector("mine", backends_file=toml)
    with pytest.raises(GrewkitError, match=r"unknown keys \['output_fromat'\]"):
        make_detector("typo", backends_file=toml)
    with pytest.raises(GrewkitError, match="no detector named 'other'"):
        make_detector("other", backends_file=toml)
