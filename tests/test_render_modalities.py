"""Crop geometry, flow quantisation and the pose mapping back to image pixels."""

import cv2
import numpy as np
import pytest

from grewkit.core.errors import GrewkitError
from grewkit.render.crops import CROP_HEIGHT, CROP_WIDTH, crop_geometry, make_crop
from grewkit.render.flow import FLOW_UNITS_PER_PIXEL, DISFlow, dequantise_flow, quantise_flow
from grewkit.render.pose import BLAZEPOSE_TO_COCO17, to_coco17, world_joints
from grewkit.render.segmentation import make_segmenter


def _tud_frame(shared_data):
    return cv2.cvtColor(cv2.imread(str(shared_data / "tud_campus" / "img1" / "000001.jpg")), cv2.COLOR_BGR2RGB)


def test_crop_is_a_2_to_1_window_around_the_grown_box(shared_data):
    frame = _tud_frame(shared_data)
    box = np.array([399.0, 182.0, 520.0, 411.0])  # TUD gt, person 1, frame 1
    crop = make_crop(frame, 0, box, 0.1)
    assert crop.image.shape == (CROP_HEIGHT, CROP_WIDTH, 3)
    # The box's corners land inside the crop, its centre in the crop's centre.
    corners = (np.array([[box[0], box[1]], [box[2], box[3]]]) - [crop.x0, crop.y0]) * crop.scale
    assert (corners >= 0).all() and (corners[:, 0] <= CROP_WIDTH).all() and (corners[:, 1] <= CROP_HEIGHT).all()
    centre = crop.to_image(np.array([CROP_WIDTH / 2, CROP_HEIGHT / 2]))
    assert np.allclose(centre, [(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])
    # A pixel of the crop is the frame's pixel at the mapped position.
    y, x = 100, 60
    ix, iy = crop.to_image(np.array([x, y], float))
    assert np.abs(crop.image[y, x].astype(int) - frame[int(round(iy)), int(round(ix))].astype(int)).max() < 40
    # Wide boxes keep 2:1 by growing the height, not by cutting the width.
    scale, x0, y0 = crop_geometry(np.array([0.0, 0.0, 200.0, 100.0]), 0.0)
    assert np.isclose(CROP_WIDTH / scale, 200.0) and np.isclose(CROP_HEIGHT / scale, 400.0)


def test_flow_of_a_known_shift_and_its_quantisation(shared_data):
    flow = DISFlow(64)
    crop = make_crop(_tud_frame(shared_data), 0, np.array([100.0, 50.0, 300.0, 450.0]), 0.0).image
    a = flow.prepare(crop)
    assert a.shape == (128, 64)
    b = np.roll(a, 4, axis=1)  # 4 px right at compute size = 2 px on the stored 64x32 grid
    stored = flow.pair(a, b)
    assert stored.dtype == np.int8 and stored.shape == (64, 32, 2)
    inner = dequantise_flow(stored)[8:-8, 8:-8]
    assert abs(np.median(inner[..., 0]) - 2.0) <= 0.25 and abs(np.median(inner[..., 1])) <= 0.25
    assert np.array_equal(quantise_flow(np.array([0.26, -40.0, 31.8])), np.array([1, -127, 127], np.int8))
    assert dequantise_flow(np.array([FLOW_UNITS_PER_PIXEL], np.int8))[0] == 1.0
    assert flow.sequence([crop]).shape == (0, 64, 32, 2)


def test_pose_maps_back_to_image_pixels(shared_data):
    crop = make_crop(_tud_frame(shared_data), 7, np.array([399.0, 182.0, 520.0, 411.0]), 0.1)
    landmarks = np.zeros((33, 4), np.float32)
    landmarks[:, 0], landmarks[:, 1], landmarks[:, 3] = 0.5, 0.25, 0.9
    landmarks[27] = (0.25, 1.0, 0.0, 0.8)  # left ankle: bottom of the crop, a quarter from the left
    coco = to_coco17(landmarks, crop)
    assert coco.shape == (17, 3) and coco.dtype == np.float32
    assert np.allclose(coco[0, :2], crop.to_image(np.array([CROP_WIDTH * 0.5, CROP_HEIGHT * 0.25])), atol=1e-3)
    assert np.allclose(coco[15, :2], crop.to_image(np.array([CROP_WIDTH * 0.25, CROP_HEIGHT * 1.0])), atol=1e-3)
    assert coco[15, 2] == pytest.approx(0.8) and BLAZEPOSE_TO_COCO17[15] == 27
    missing = to_coco17(None, crop)
    assert np.isnan(missing[:, :2]).all() and (missing[:, 2] == 0).all()
    assert world_joints(None).shape == (33, 4)


def test_unknown_segmenter_is_named():
    with pytest.raises(GrewkitError, match="unknown segmenter 'sam'"):
        make_segmenter("sam")
