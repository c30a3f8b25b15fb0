"""SkeletonGait's skeleton maps: where the joints and limbs land on the canvas and in the aligned maps,
missing joints, and SkeletonGait training on them."""

import json

import numpy as np
import pytest
import torch
from pose_inputs import walker_poses

from grewkit.render.skeleton import CANVAS_64, LIMBS, SIGMA_64, align, draw_maps, skeleton_maps, to_canvas
from grewkit.train.config import TrainConfig
from grewkit.train.data import SequenceRecord, prepare
from grewkit.train.loop import train


def _pose():
    return walker_poses(1, 1, frames=6, seed=2)[0][2]


def test_canvas_puts_the_hips_at_the_centre_and_the_height_at_two_thirds():
    pose = _pose()
    xy, conf = to_canvas(pose, 128)
    np.testing.assert_allclose(xy[:, [11, 12]].mean(1), 64.0, atol=1e-9)
    np.testing.assert_allclose(xy[..., 1].max(1) - xy[..., 1].min(1), 128 // 1.5, atol=1e-9)
    np.testing.assert_allclose(conf, pose[..., 2], atol=1e-6)
    # image left-right and up-down are kept: the ankles below the nose
    assert (xy[:, [15, 16], 1] > xy[:, [0], 1] + 60).all()


def test_maps_peak_at_the_joints_and_along_the_limbs():
    full = _pose()
    pose = full.copy()
    pose[2, 9] = np.nan  # left wrist not found in frame 2
    xy, conf = to_canvas(pose, CANVAS_64)
    maps = draw_maps(xy, conf, CANVAS_64, SIGMA_64)
    assert maps.shape == (6, 2, 128, 128) and 0 < maps.max() <= 1
    for t in range(6):
        for j in range(17):
            if not conf[t, j]:
                continue
            x, y = np.rint(xy[t, j]).astype(int)
            # the joint map at the joint: its confidence, up to the Gaussian's fall-off over half a pixel
            assert maps[t, 1, y, x] >= conf[t, j] * np.exp(-0.5 / (2 * SIGMA_64**2)) - 1e-6
        for a, b in LIMBS:
            if conf[t, a] and conf[t, b]:
                mx, my = np.rint((xy[t, a] + xy[t, b]) / 2).astype(int)
                assert maps[t, 0, my, mx] >= 0.99 * min(conf[t, a], conf[t, b])
    # nothing beyond 3 sigma of every joint (OpenGait's patch cut)
    far = np.ones((128, 128), bool)
    gy, gx = np.mgrid[0:128, 0:128]
    for x, y in xy[0]:
        far &= (np.abs(gx - x) > 3 * SIGMA_64 + 1) | (np.abs(gy - y) > 3 * SIGMA_64 + 1)
    assert far.any() and maps[0, 1][far].max() == 0
    # the missing wrist: neither its joint nor its forearm is drawn; the other frames are as without the hole
    fxy, fconf = to_canvas(full, CANVAS_64)
    whole = draw_maps(fxy, fconf, CANVAS_64, SIGMA_64)
    assert conf[2, 9] == 0 and np.isnan(xy[2, 9]).all()
    np.testing.assert_allclose(np.delete(xy[2], 9, 0), np.delete(fxy[2], 9, 0))  # the same frame geometry
    for channel in (0, 1):  # what the hole takes away lies around the wrist
        lost = whole[2, channel] - maps[2, channel]
        assert lost.min() >= 0 and lost.max() > 0.2
        y, x = np.unravel_index(lost.argmax(), lost.shape)
        assert np.hypot(x - fxy[2, 9, 0], y - fxy[2, 9, 1]) <= 3 * SIGMA_64
    np.testing.assert_array_equal(np.delete(maps, 2, 0), np.delete(whole, 2, 0))


def test_alignment_and_where_the_joints_land_in_the_stored_maps():
    pose = _pose()
    out = skeleton_maps(pose, 64)
    assert out.shape == (6, 2, 64, 64) and out.dtype == np.uint8
    xy, conf = to_canvas(pose, CANVAS_64)
    maps = draw_maps(xy, conf, CANVAS_64, SIGMA_64)
    for t in range(6):
        joint = np.floor(maps[t, 1] * 255)
        rows = np.flatnonzero(joint.sum(1))
        top, bottom = rows[0], rows[-1]
        half = (bottom - top + 1) // 2
        sx, sy = 64 / (2 * half + 1), 64 / (bottom - top + 1)
        for j in range(17):
            # where the window and the resize put the joint: the joint map is at its peak there
            ex = (xy[t, j, 0] - (64 - half) + 0.5) * sx - 0.5
            ey = (xy[t, j, 1] - top + 0.5) * sy - 0.5
            assert out[t, 1, int(round(ey)), int(round(ex))] >= 0.9 * 255 * conf[t, j], (t, j, ey, ex)
        # and nothing where no joint is near (3 sigma in output pixels, and a pixel of rounding)
        reach = 3 * SIGMA_64 * sx + 1
        gy, gx = np.mgrid[0:64, 0:64]
        far = np.ones((64, 64), bool)
        for x, y in xy[t]:
            far &= (np.abs(gx - ((x - (64 - half) + 0.5) * sx - 0.5)) > reach) | (
                np.abs(gy - ((y - top + 0.5) * sy - 0.5)) > reach
            )
        assert far.any() and out[t, 1][far].max() == 0
        # the aligned map spans the full height: first and last rows lit
        assert out[t, 1, 0].max() > 0 and out[t, 1, -1].max() > 0
    # an empty frame stays empty; a pose of no frames gives no maps
    empty = pose.copy()
    empty[1] = np.nan
    assert skeleton_maps(empty, 64)[1].max() == 0
    assert skeleton_maps(pose[:0], 64).shape == (0, 2, 64, 64)
    assert align(np.zeros((128, 128), np.float32), 64).max() == 0
    # other heights: the same picture at that size
    big = skeleton_maps(pose[:1], 128)
    assert big.shape == (1, 2, 128, 128)
    small = big[0].reshape(2, 64, 2, 64, 2).mean((2, 4))
    assert np.abs(small - out[0].astype(float)).mean() < 6


def test_skeletongait_trains_on_the_maps(tmp_path):
    torch.set_num_threads(1)
    records = []
    for ident, walk, pose in walker_poses(4, 3, frames=16, seed=4):
        path = tmp_path / f"{ident}-{walk}.npy"
        np.save(path, skeleton_maps(pose, 64))
        records.append(SequenceRecord(f"{ident}-{walk}", path, ident))
    x = prepare(np.load(records[0].path), "skeleton", 64)
    assert x.shape == (16, 2, 64, 44) and x.dtype == np.float32 and 0 < x.max() <= 1
    cfg = TrainConfig.from_dict(
        {
            "model": {"name": "skeletongait", "args": {"channels": [8, 8, 16, 16], "blocks": [1, 1, 1, 1]}},
            "data": {"modality": "skel64", "frames": 8, "ordered": True, "p": 4, "k": 2},
            "optim": {"name": "adam", "lr": 1e-3},
            "loss": {"ce_weight": 1.0},
            "train": {"iterations": 16, "checkpoint_every": 16, "log_every": 4},
        }
    )
    train(cfg, records, tmp_path / "run", device="cpu", show_progress=False)
    log = [json.loads(line)["loss"] for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert len(log) == 4 and np.isfinite(log).all() and log[-1] < log[0], log
    from grewkit.train.embed import ModelEmbedder

    emb = ModelEmbedder.from_checkpoint(tmp_path / "run")
    assert emb.input_kind == "skeleton" and emb.embed(x).shape == (16, 16)
    with pytest.raises(Exception, match="skeleton maps"):
        prepare(np.zeros((4, 64, 44), np.uint8), "skeleton", 64, path="x.npy")
