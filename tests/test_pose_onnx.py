"""The ONNX pose backend (RTMPose-style SimCC, HRNet-style heatmaps) with small models the test exports.

Each exported model finds, for keypoint k, the square of grey level ``LEVELS[k]`` in its input
crop: so the test knows where every keypoint must land in frame pixels, through the box's
padding and aspect fix, the affine warp, normalisation, decoding and the way back.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from grewkit.core.errors import GrewkitError
from grewkit.render.pose_estimators import make_pose_estimator

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning", "ignore::DeprecationWarning")

LEVELS = [30 + 12 * k for k in range(17)]
INPUT_HW = (256, 192)
MEAN, STD = 10.0, 2.0  # the estimator normalises, the model undoes it: wrong handling moves nothing, it blinds


class GreyLevelKeypoints(torch.nn.Module):
    def __init__(self, decoding: str, split: int = 2, stride: int = 4, extra: int = 0, swap: bool = False):
        super().__init__()
        self.decoding, self.split, self.stride, self.swap = decoding, split, stride, swap
        self.register_buffer("levels", torch.tensor(LEVELS + [250.0] * extra, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x):
        grey = (x * STD + MEAN).mean(1, keepdim=True)
        band = torch.relu(1 - (grey - self.levels).abs() / 5)
        # Two box filters turn each square's plateau into one peak at its centre.
        peak = torch.nn.functional.avg_pool2d(torch.nn.functional.avg_pool2d(band, 5, 1, 2), 5, 1, 2)
        # mmpose's conventions: heatmap pixel j is input pixel j * stride; SimCC bin b is input pixel b / split.
        if self.decoding == "heatmap":
            return peak[:, :, :: self.stride, :: self.stride]
        up = torch.nn.functional.interpolate(peak, scale_factor=self.split, mode="nearest")
        return (up.amax(3), up.amax(2)) if self.swap else (up.amax(2), up.amax(3))


def export(tmp_path, decoding: str, outputs=None, **kwargs):
    path = tmp_path / f"grey_{decoding}.onnx"
    outputs = outputs or (["heatmaps"] if decoding == "heatmap" else ["simcc_x", "simcc_y"])
    torch.onnx.export(
        GreyLevelKeypoints(decoding, **kwargs),
        (torch.zeros(1, 3, *INPUT_HW),),
        str(path),
        input_names=["input"],
        output_names=outputs,
        opset_version=17,
        dynamo=False,
    )
    return path


def person(frame, box, *, side: int, missing=()):
    """Draw the 17 squares on a grid inside ``box``; returns their centres in frame pixels (NaN: not drawn)."""
    x1, y1, x2, y2 = box
    centres = np.full((17, 2), np.nan)
    for k in range(17):
        col, row = k % 3, k // 3
        x0 = int(x1 + (x2 - x1) * (0.2 + 0.3 * col))
        y0 = int(y1 + (y2 - y1) * (0.08 + 0.15 * row))
        if k in missing:
            continue
        frame[y0 : y0 + side, x0 : x0 + side] = LEVELS[k]
        centres[k] = (x0 + (side - 1) / 2, y0 + (side - 1) / 2)
    return centres


def toml_for(tmp_path, model, decoding, extra=""):
    toml = tmp_path / "poses.toml"
    toml.write_text(
        f'[mine]\nkind = "onnx"\nmodel = "{model.name}"\ndecoding = "{decoding}"\n'
        f"mean = [{MEAN}, {MEAN}, {MEAN}]\nstd = [{STD}, {STD}, {STD}]\n{extra}"
    )
    return toml


# Largest error in model-input pixels: the toy model places a peak to within about half a pixel and
# argmax takes the first of near-ties; heatmaps add their quantisation (a quarter step on a stride of 4).
@pytest.mark.parametrize("decoding, tolerance", [("simcc", 1.0), ("heatmap", 1.5)])
def test_keypoints_land_in_frame_pixels_for_boxes_of_any_size(tmp_path, decoding, tolerance):
    model = export(tmp_path, decoding)
    estimator = make_pose_estimator("mine", estimators_file=str(toml_for(tmp_path, model, decoding)))
    frame = np.zeros((480, 640, 3), np.uint8)
    # 80 x 160 and 200 x 410 boxes, padded by 1.25 and widened to 3:4: 0.78 and 2.0 frame pixels per input pixel
    small, large = (400, 100, 480, 260), (40, 30, 240, 440)
    per_input_pixel = np.array([150 / 192, 410 * 1.25 * 0.75 / 192])
    expected = np.stack([person(frame, small, side=8, missing=(16,)), person(frame, large, side=18)])
    out = estimator.estimate(frame, np.array([small, large], np.float64))
    assert out.shape == (2, 17, 3) and out.dtype == np.float32
    found = ~np.isnan(expected[..., 0])
    err = np.nanmax(np.abs(out[..., :2] - expected), axis=(1, 2))
    assert (err <= tolerance * per_input_pixel).all(), err
    assert (out[..., 2][found] > 0.5).all() and (out[..., 2] <= 1.0).all()
    # The keypoint whose square is absent is missing, not placed at the crop's corner.
    assert np.isnan(out[0, 16, :2]).all() and out[0, 16, 2] == 0.0


def test_simcc_model_with_more_keypoints_is_mapped_by_the_keypoints_list(tmp_path):
    # 26 keypoints, as Halpe-26 models have; outputs named y first: the names decide, not the order
    model = export(tmp_path, "simcc", outputs=["simcc_y", "simcc_x"], extra=9, swap=True)
    order = list(reversed(range(17)))
    toml = toml_for(tmp_path, model, "simcc", f"keypoints = {order}\ninput_size = [256, 192]\n")
    estimator = make_pose_estimator("mine", estimators_file=str(toml))
    frame = np.zeros((480, 640, 3), np.uint8)
    box = (200, 80, 300, 280)
    expected = person(frame, box, side=10)
    out = estimator.estimate(frame, np.array([box], np.float64))[0]
    assert np.abs(out[:, :2] - expected[order]).max() <= 1.0 * 250 * 0.75 / 192


def test_config_errors_name_the_table(tmp_path):
    model = export(tmp_path, "simcc")
    digest = hashlib.sha256(model.read_bytes()).hexdigest()
    toml = toml_for(
        tmp_path,
        model,
        "simcc",
        f'sha256 = "{digest}"\n[typo]\nkind = "onnx"\nmodel = "{model.name}"\n'
        'decodng = "simcc"\n[bad]\nkind = "onnx"\nmodel = "x.onnx"\n'
        'decoding = "dark"\n',
    )
    assert make_pose_estimator("mine", estimators_file=str(toml)).name.startswith(
        f"mine:onnx-simcc:grey_simcc@{digest[:8]}"
    )
    with pytest.raises(GrewkitError, match=r"unknown keys \['decodng'\]"):
        make_pose_estimator("typo", estimators_file=str(toml))
    with pytest.raises(GrewkitError, match="decoding 'dark'"):
        make_pose_estimator("bad", estimators_file=str(toml))
    with pytest.raises(GrewkitError, match="no pose estimator named 'other'; built in: mediapipe"):
        make_pose_estimator("other", estimators_file=str(toml))
    heatmap_model = export(tmp_path, "heatmap")
    toml.write_text(f'[wrong]\nkind = "onnx"\nmodel = "{heatmap_model.name}"\ndecoding = "simcc"\n')
    with pytest.raises(GrewkitError, match="needs two outputs"):
        make_pose_estimator("wrong", estimators_file=str(toml)).estimate(
            np.zeros((64, 64, 3), np.uint8), np.array([[1, 1, 30, 60]])
        )


@pytest.mark.slow
def test_render_stage_writes_pose2d_from_the_onnx_estimator(tmp_path):
    """End to end: a video of one moving 'person', the tracked boxes, `render` with modalities = ["pose2d"]."""
    from pose_inputs import set_settings, walking_project

    from grewkit.core.executors import SerialExecutor
    from grewkit.core.project import Project
    from grewkit.core.runner import run_stage
    from grewkit.core.validate import validate_project

    toml = toml_for(tmp_path, export(tmp_path, "simcc"), "simcc")
    project = Project.init(tmp_path / "proj")
    boxes, expected = walking_project(project, lambda frame, box: person(frame, box, side=10))
    set_settings(project, "render", modalities='["pose2d"]', pose_estimator='"mine"', pose_estimators_file=f'"{toml}"')
    summary = run_stage(project, "render", executor=SerialExecutor(), show_progress=False)
    assert summary.done == 1, summary.failed
    rows = {r["modality"]: r for r in project.read("sequences").to_pylist()}
    assert sorted(rows) == ["frames", "pose2d"]
    pose = np.load(project.resolve(rows["pose2d"]["path"]))
    assert pose.shape == (len(boxes), 17, 3) and rows["pose2d"]["frames"] == len(boxes)
    # 100 x 240 boxes: 1.17 frame pixels per input pixel
    assert np.abs(pose[..., :2] - np.stack(expected)).max() <= 1.0 * 300 * 0.75 / 192
    assert validate_project(project) == []


def test_unit_keys_follow_the_estimator_and_its_table(tmp_path):
    from pose_inputs import set_settings, walking_project

    from grewkit.core.project import Project
    from grewkit.render.stage import RenderStage

    project = Project.init(tmp_path / "proj")
    walking_project(project, lambda frame, box: None, frames=2)
    default = RenderStage(project).plan()[0].key
    toml = toml_for(tmp_path, export(tmp_path, "simcc"), "simcc")
    set_settings(project, "render", pose_estimator='"mine"', pose_estimators_file=f'"{toml}"')
    mine = RenderStage(project).plan()[0].key
    toml.write_text(toml.read_text() + "bbox_padding = 1.5\n")
    changed = RenderStage(project).plan()[0].key
    assert len({default, mine, changed}) == 3
    set_settings(project, "render", pose_estimator='"mediapipe"', pose_estimators_file='""')
    assert RenderStage(project).plan()[0].key == default


@pytest.mark.slow
def test_render_stage_writes_skeleton_maps_of_its_pose2d(tmp_path):
    """`render` with modalities = ["pose2d", "skel"]: skel64 / skel128 are SkeletonGait's maps of the pose2d it writes."""
    from pose_inputs import set_settings, walking_project

    from grewkit.core.executors import SerialExecutor
    from grewkit.core.project import Project
    from grewkit.core.runner import run_stage
    from grewkit.core.validate import validate_project
    from grewkit.render.skeleton import skeleton_maps

    toml = toml_for(tmp_path, export(tmp_path, "simcc"), "simcc")
    project = Project.init(tmp_path / "proj")
    boxes, _ = walking_project(project, lambda frame, box: person(frame, box, side=10), frames=6)
    set_settings(
        project, "render", modalities='["pose2d", "skel"]', pose_estimator='"mine"', pose_estimators_file=f'"{toml}"'
    )
    summary = run_stage(project, "render", executor=SerialExecutor(), show_progress=False)
    assert summary.done == 1, summary.failed
    rows = {r["modality"]: r for r in project.read("sequences").to_pylist()}
    assert sorted(rows) == ["frames", "pose2d", "skel128", "skel64"]
    pose = np.load(project.resolve(rows["pose2d"]["path"]))
    for height in (64, 128):
        row = rows[f"skel{height}"]
        maps = np.load(project.resolve(row["path"]))
        assert maps.shape == (len(boxes), 2, height, height) and maps.dtype == np.uint8 and maps.max() > 200
        assert (row["frames"], row["height"], row["width"]) == (len(boxes), height, height)
        np.testing.assert_array_equal(maps, skeleton_maps(pose, height))
    assert validate_project(project) == []
