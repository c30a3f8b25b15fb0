"""grewkit's size normalisation against a reference written here from OpenGait's documented algorithm."""

import cv2
import numpy as np
import pytest

from grewkit.core.errors import GrewkitError
from grewkit.render.gei import gait_energy_image
from grewkit.render.pretreatment import loader_cut, normalise_frame, normalise_frames


def reference_pretreatment(masks, r):
    """OpenGait's datasets/pretreatment.py, per frame, written independently of grewkit."""
    out, kept = [], []
    for t, img in enumerate(masks):
        if img.sum() <= 10000:
            continue
        y_sum = img.sum(axis=1)
        y_top = (y_sum != 0).argmax(axis=0)
        y_btm = (y_sum != 0).cumsum(axis=0).argmax(axis=0)
        img = img[y_top : y_btm + 1, :]
        ratio = img.shape[1] / img.shape[0]
        img = cv2.resize(img, (int(r * ratio), r), interpolation=cv2.INTER_CUBIC)
        x_csum = img.sum(axis=0).cumsum()
        x_center = None
        for idx, csum in enumerate(x_csum):
            if csum > img.sum() / 2:
                x_center = idx
                break
        if not x_center:
            continue
        half_width = r // 2
        left, right = x_center - half_width, x_center + half_width
        if left <= 0 or right >= img.shape[1]:
            left += half_width
            right += half_width
            pad = np.zeros((img.shape[0], half_width))
            img = np.concatenate([pad, img, pad], axis=1)
        out.append(img[:, left:right].astype("uint8"))
        kept.append(t)
    return (np.stack(out) if out else np.zeros((0, r, r), np.uint8)), np.array(kept, dtype=np.int64)


def _random_masks(seed, n=40, h=256, w=128):
    """Walker-like blobs of every awkward kind: at the edges, tiny, empty, wide, one column, off-centre."""
    rng = np.random.default_rng(seed)
    masks = np.zeros((n, h, w), np.uint8)
    for t in range(n):
        kind = t % 8
        m = masks[t]
        if kind == 0:
            continue  # empty: dropped
        if kind == 1:
            m[100:105, 50:57] = 255  # 35 pixels: sum 8925 <= 10000, dropped
            continue
        if kind == 2:
            m[:, 0:3] = 255  # mass in the first columns: centre 0 or 1
            continue
        if kind == 3:
            m[20:240, w - 6 : w] = 255  # hugging the right edge: padded cut
            continue
        cx, cy = rng.uniform(10, w - 10), rng.uniform(60, h - 60)
        ax, ay = rng.uniform(5, 60), rng.uniform(20, 120)
        cv2.ellipse(m, (int(cx), int(cy)), (int(ax), int(ay)), float(rng.uniform(-30, 30)), 0, 360, 255, -1)
        if kind == 5:
            cv2.circle(m, (int(rng.uniform(0, w)), int(rng.uniform(0, 40))), int(rng.uniform(3, 12)), 255, -1)
        if kind == 6:
            m[:] = cv2.GaussianBlur(m, (7, 7), 2)  # not binary: OpenGait accepts any grey mask
    return masks


def _mog2_masks(shared_data):
    """Real foreground masks: MOG2 on TUD-Campus, cropped to the ground-truth boxes of one walker."""
    frames = sorted((shared_data / "tud_campus" / "img1").glob("*.jpg"))
    gt = np.loadtxt(shared_data / "tud_campus" / "gt" / "gt.txt", delimiter=",")
    bg = cv2.createBackgroundSubtractorMOG2(history=50, detectShadows=False)
    masks = []
    for i, f in enumerate(frames, start=1):
        fg = bg.apply(cv2.imread(str(f)))
        row = gt[(gt[:, 0] == i) & (gt[:, 1] == 3)]
        if len(row):
            x, y, w, h = row[0, 2:6].astype(int)
            crop = fg[max(y, 0) : y + h, max(x, 0) : x + w]
            masks.append(cv2.resize(crop, (64, 128), interpolation=cv2.INTER_NEAREST))
    return np.stack(masks)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("r", [64, 128])
def test_identical_to_reference_on_awkward_masks(seed, r):
    masks = _random_masks(seed)
    expected, kept = reference_pretreatment(masks, r)
    got = normalise_frames(masks, (64, 128))[r]
    threaded = normalise_frames(masks, (64, 128), threads=2)[r]
    assert np.array_equal(threaded.frames, got.frames) and np.array_equal(threaded.kept, got.kept)
    assert got.frames.dtype == np.uint8 and got.frames.shape == expected.shape
    assert np.array_equal(got.frames, expected)
    assert np.array_equal(got.kept, kept)
    assert 0 < len(kept) < len(masks)  # some frames were dropped, some kept


def test_identical_to_reference_on_real_masks(shared_data):
    masks = _mog2_masks(shared_data)
    assert len(masks) > 50
    for r in (64, 128):
        expected, kept = reference_pretreatment(masks, r)
        got = normalise_frames(masks, (r,))[r]
        assert len(kept) > 40
        assert np.array_equal(got.frames, expected) and np.array_equal(got.kept, kept)


def test_loader_cut_and_single_frame():
    masks = _random_masks(3)
    out = normalise_frames(masks, (64, 128))
    assert loader_cut(out[64].frames).shape[1:] == (64, 44)
    assert loader_cut(out[128].frames).shape[1:] == (128, 88)
    assert np.array_equal(loader_cut(out[64].frames), out[64].frames[:, :, 10:54])
    assert normalise_frame(masks[0], 64) is None
    assert np.array_equal(normalise_frame(masks[4], 64), reference_pretreatment(masks[4:5], 64)[0][0])


def test_empty_and_invalid_sequences():
    out = normalise_frames(np.zeros((5, 64, 32), np.uint8))
    assert out[64].frames.shape == (0, 64, 64) and out[128].kept.size == 0
    with pytest.raises(GrewkitError, match="uint8"):
        normalise_frames(np.zeros((2, 8, 8), np.float32))
    with pytest.raises(GrewkitError, match="even"):
        normalise_frames(np.zeros((2, 8, 8), np.uint8), (63,))


def test_gei_is_the_rounded_mean():
    sils = _random_masks(4)
    gei = gait_energy_image(sils)
    assert gei.dtype == np.uint8
    assert np.abs(gei.astype(float) - sils.mean(axis=0)).max() <= 0.5
    with pytest.raises(GrewkitError):
        gait_energy_image(np.zeros((0, 4, 4), np.uint8))
