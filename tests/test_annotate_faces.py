"""Face masking on real TUD-Campus frames with their ground-truth person boxes."""

import cv2
import numpy as np
import pytest

from grewkit.annotate.faces import face_regions, mask_faces
from grewkit.core.errors import GrewkitError


def _frame(shared_data, index):
    bgr = cv2.imread(str(shared_data / "tud_campus" / "img1" / f"{index:06d}.jpg"))
    assert bgr is not None
    gt = np.loadtxt(shared_data / "tud_campus" / "gt" / "gt.txt", delimiter=",")
    rows = gt[gt[:, 0] == index]
    boxes = np.c_[rows[:, 2], rows[:, 3], rows[:, 2] + rows[:, 4], rows[:, 3] + rows[:, 5]]
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), boxes


def _flatness(gray):
    """Share of horizontally adjacent pixel pairs that are equal: ~1 for coarse blocks, low for a real face."""
    return float((gray[:, 1:] == gray[:, :-1]).mean())


@pytest.mark.parametrize("index", [51, 71])
def test_every_head_is_obscured_and_nothing_else_changes(shared_data, index):
    image, boxes = _frame(shared_data, index)
    before = image.copy()
    out = mask_faces(image, boxes)
    assert np.array_equal(image, before), "the input must not be modified"
    assert out.shape == image.shape and out.dtype == np.uint8

    regions = face_regions(image, boxes)
    inside = np.zeros(image.shape[:2], bool)
    for r in regions:
        inside[r.y1 : r.y2, r.x1 : r.x2] = True
    changed = (out != image).any(axis=2)
    assert not changed[~inside].any(), "pixels outside face regions changed"
    gray_in, gray_out = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), cv2.cvtColor(out, cv2.COLOR_RGB2GRAY)
    for x1, y1, x2, y2 in boxes.astype(int):
        h = y2 - y1
        # The head of a walker: the top eighth of the box, its middle 60 % in width.
        hx1, hx2 = x1 + (x2 - x1) // 5, x2 - (x2 - x1) // 5
        hy1, hy2 = max(0, y1), y1 + h // 8
        assert inside[hy1:hy2, hx1:hx2].all(), f"head of box {(x1, y1, x2, y2)} not covered"
        # Beyond recognition: only a few coarse blocks left where the face was.
        assert _flatness(gray_in[hy1:hy2, hx1:hx2]) < 0.4
        assert _flatness(gray_out[hy1:hy2, hx1:hx2]) > 0.8


def test_face_detector_finds_real_faces(shared_data):
    image, boxes = _frame(shared_data, 51)
    sources = [r.source for r in face_regions(image, boxes)]
    assert "detector" in sources, "mediapipe's full-range face detector found no face in an upscaled head zone"
    assert sources.count("box") == len(boxes)


def test_bgr_and_gray_inputs(shared_data):
    image, boxes = _frame(shared_data, 71)
    bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    out = mask_faces(bgr, boxes, channels="bgr")
    assert not np.array_equal(out, bgr)
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    assert mask_faces(gray, boxes).shape == gray.shape


@pytest.mark.parametrize("layout", [17, 33])
def test_keypoints_only_head_region(shared_data, layout):
    image, boxes = _frame(shared_data, 51)
    x1, y1, x2, y2 = boxes[0]
    cx, top, h = (x1 + x2) / 2, y1, y2 - y1
    kps = np.zeros((1, layout, 3))
    kps[0, :, :2] = [cx, top + 0.5 * h]  # body joints somewhere on the torso
    face = [
        (cx, top + 0.07 * h),
        (cx - 3, top + 0.06 * h),
        (cx + 3, top + 0.06 * h),
        (cx - 6, top + 0.065 * h),
        (cx + 6, top + 0.065 * h),
    ]
    for i in range(11 if layout == 33 else 5):
        kps[0, i, :2] = face[i % 5]
    kps[0, :, 2] = 0.9
    regions = face_regions(image, keypoints=kps, detector=None)
    assert [r.source for r in regions] == ["keypoints"]
    r = regions[0]
    assert r.x1 <= cx - 6 and r.x2 >= cx + 6 and r.y1 <= top + 0.02 * h and r.y2 >= top + 0.1 * h
    out = mask_faces(image, keypoints=kps, detector=None, style="fill")
    patch = out[r.y1 : r.y2, r.x1 : r.x2].reshape(-1, 3)
    assert (patch == patch[0]).all(), "fill style leaves one colour"
    # Keypoints below the confidence floor are ignored: nothing left to mask.
    kps[0, :, 2] = 0.1
    assert face_regions(image, keypoints=kps, detector=None) == []


def test_bad_inputs_are_named():
    image = np.zeros((40, 30, 3), np.uint8)
    with pytest.raises(GrewkitError, match="boxes_xyxy"):
        mask_faces(image, boxes_xyxy=np.zeros((2, 3)), detector=None)
    with pytest.raises(GrewkitError, match="keypoints"):
        mask_faces(image, keypoints=np.zeros((1, 12, 2)), detector=None)
    with pytest.raises(GrewkitError, match="uint8"):
        mask_faces(image.astype(np.float32), detector=None)
    with pytest.raises(GrewkitError, match="style"):
        mask_faces(image, detector=None, style="smudge")
