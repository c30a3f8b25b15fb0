"""mmdet detection and mmpose top-down pose through grewkit's adapters, with real OpenMMLab models.

The models are built from the configs that ship inside the mmdet and mmpose packages, with random
weights (no checkpoint can be downloaded here), and run real inference in the OpenMMLab venv's
worker. Random weights say nothing about accuracy; what is checked is the plumbing: shapes,
coordinates in frame pixels (not model-input pixels), and manifests that validate. The tests skip,
saying why, where `make openmmlab` has not been run.
"""

from __future__ import annotations

import numpy as np
import pytest

from grewkit.openmmlab import ENV_VAR, openmmlab_python, probe

_PYTHON = openmmlab_python()
if _PYTHON is None:
    pytest.skip(
        f"no OpenMMLab environment: `make openmmlab` builds .venv-openmmlab (or set ${ENV_VAR})",
        allow_module_level=True,
    )
_OK, _DETAIL = probe(_PYTHON)
if not _OK:
    pytest.skip(f"the OpenMMLab environment does not import: {_DETAIL}", allow_module_level=True)

pytestmark = pytest.mark.slow

# RTMDet-tiny as a one-class (person) detector that keeps every box: random weights score low.
RTMDET = (
    '[tiny]\nkind = "mmdet"\nconfig = "mmdet::rtmdet/rtmdet_tiny_8xb32-300e_coco.py"\n'
    'cfg_options = { "model.bbox_head.num_classes" = 1, "model.test_cfg.score_thr" = 0.0, '
    '"model.test_cfg.max_per_img" = 50 }\n'
)
POSE_CONFIGS = {
    "hrnet": "mmpose::body_2d_keypoint/topdown_heatmap/coco/td-hm_hrnet-w32_8xb64-210e_coco-256x192.py",
    "rtmpose": "mmpose::body_2d_keypoint/rtmpose/coco/rtmpose-t_8xb256-420e_coco-256x192.py",
}


def frame(h=960, w=1280, seed=0):
    return np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)


def test_mmdet_boxes_come_back_in_frame_pixels(tmp_path):
    from grewkit.detect.registry import make_detector

    toml = tmp_path / "detectors.toml"
    toml.write_text(RTMDET)
    detector = make_detector("tiny", backends_file=toml)
    try:
        assert detector.name == "tiny:mmdet:rtmdet_tiny_8xb32-300e_coco:random-weights"
        boxes = detector.detect(frame())
    finally:
        detector.close()
    assert boxes.xyxy.shape == (len(boxes), 4) and 0 < len(boxes) <= 50
    assert ((boxes.score >= 0) & (boxes.score <= 1)).all()
    x1, y1, x2, y2 = boxes.xyxy.T
    assert (x1 >= 0).all() and (y1 >= 0).all() and (x2 <= 1280).all() and (y2 <= 960).all() and (x2 > x1).all()
    # RTMDet sees a 640 x 480 resize of this 1280 x 960 frame: boxes beyond it are in frame pixels.
    assert x2.max() > 700 and y2.max() > 520


def _pose_toml(tmp_path, kind):
    toml = tmp_path / "poses.toml"
    toml.write_text(f'[{kind}]\nkind = "mmpose"\nconfig = "{POSE_CONFIGS[kind]}"\n')
    return toml


def _inside_regions(keypoints, boxes):
    from grewkit.render.pose_estimators import box_center_scale

    ok = []
    for kp, box in zip(keypoints, boxes):
        center, scale = box_center_scale(box, aspect=192 / 256, padding=1.25)
        lo, hi = center - scale / 2 - 1, center + scale / 2 + 1
        ok.append(((kp[:, :2] >= lo) & (kp[:, :2] <= hi)).all())
    return np.array(ok)


@pytest.mark.parametrize("kind", sorted(POSE_CONFIGS))
def test_mmpose_keypoints_land_in_frame_pixels(tmp_path, kind):
    from grewkit.render.pose_estimators import make_pose_estimator

    estimator = make_pose_estimator(kind, estimators_file=str(_pose_toml(tmp_path, kind)))
    boxes = np.array([[900, 500, 1000, 700], [40, 60, 440, 900]], np.float64)  # far from the 192 x 256 input
    try:
        out = estimator.estimate(frame(), boxes)
    finally:
        estimator.close()
    assert out.shape == (2, 17, 3) and out.dtype == np.float32
    assert not np.isnan(out[..., :2]).any() and ((out[..., 2] >= 0) & (out[..., 2] <= 1)).all()
    assert _inside_regions(out, boxes).all(), out[..., :2]
    assert out[0, :, 0].min() > 800  # model-input coordinates would all be below 192


def test_detect_stage_with_mmdet_writes_valid_manifests(tmp_path):
    from pose_inputs import set_settings, walking_project

    from grewkit.core.executors import SerialExecutor
    from grewkit.core.project import Project
    from grewkit.core.runner import run_stage
    from grewkit.core.validate import validate_project

    toml = tmp_path / "detectors.toml"
    toml.write_text(RTMDET)
    project = Project.init(tmp_path / "proj")
    walking_project(
        project, lambda f, box: f.__setitem__((slice(box[1], box[3]), slice(box[0], box[2])), 200), frames=4
    )
    # Random weights give low-scoring slivers: keep every box, to see them through the stage.
    set_settings(project, "detect", backend='"tiny"', backends_file=f'"{toml}"', min_score="0.0", min_box_height="0.0")
    summary = run_stage(project, "detect", executor=SerialExecutor(), show_progress=False)
    assert summary.done >= 1 and not summary.failed, summary.failed
    detections = project.read("detections")
    assert detections.num_rows > 0
    assert set(detections.column("detector").to_pylist()) == {"tiny:mmdet:rtmdet_tiny_8xb32-300e_coco:random-weights"}
    assert validate_project(project) == []


def test_render_stage_with_mmpose_writes_pose2d(tmp_path):
    from pose_inputs import set_settings, walking_project

    from grewkit.core.executors import SerialExecutor
    from grewkit.core.project import Project
    from grewkit.core.runner import run_stage
    from grewkit.core.validate import validate_project

    toml = _pose_toml(tmp_path, "hrnet")
    project = Project.init(tmp_path / "proj")
    boxes, _ = walking_project(
        project, lambda f, box: f.__setitem__((slice(box[1], box[3]), slice(box[0], box[2])), 128), frames=6
    )
    set_settings(project, "render", modalities='["pose2d"]', pose_estimator='"hrnet"', pose_estimators_file=f'"{toml}"')
    summary = run_stage(project, "render", executor=SerialExecutor(), show_progress=False)
    assert summary.done == 1, summary.failed
    rows = {r["modality"]: r for r in project.read("sequences").to_pylist()}
    pose = np.load(project.resolve(rows["pose2d"]["path"]))
    assert pose.shape == (len(boxes), 17, 3)
    assert _inside_regions(pose, boxes).all()
    assert validate_project(project) == []
