"""Quality filters and tracklet building on hand-made tracks: each filter fires for its reason only."""

from __future__ import annotations

import numpy as np
import pytest

from grewkit.core.boxes import Boxes
from grewkit.track.settings import TrackSettings
from grewkit.track.tracklets import TRUNCATED_END, Tracklet, build_tracklets, estimate_visibility, judge

W, H, FPS = 640, 480, 25.0


def walker(n=50, x0=100.0, dx=4.0, y=100.0, h=160.0, w=60.0, start=0):
    frames = np.arange(start, start + n)
    x = x0 + dx * np.arange(n)
    xyxy = np.stack([x, np.full(n, y), x + w, np.full(n, y + h)], axis=1).astype(np.float32)
    return Tracklet(1, Boxes(frames, xyxy, np.full(n, 0.9, np.float32)), np.ones(n, np.float32))


@pytest.mark.parametrize(
    "t, reason",
    [
        (walker(), None),
        (walker(n=10, dx=10.0), "too short: 10 frames (< 25 = 1 s)"),
        (walker(h=30, w=12), "boxes too small: median height 30 px (< 50)"),
        (walker(y=H - 160.0), "truncated at the frame border: in 100% of frames (> 50%)"),
        (walker(dx=0.1), "too static to be walking: feet moved"),
    ],
)
def test_each_filter_gives_its_reason(t, reason):
    reasons = judge(t, fps=FPS, width=W, height=H, settings=TrackSettings())
    if reason is None:
        assert reasons == []
    else:
        assert len(reasons) == 1 and reasons[0].startswith(reason), reasons


def test_a_walker_towards_the_camera_is_walking():
    # Feet 0.2 box heights lower at the end, the box 40 % taller: the image of someone walking at the camera.
    n = 50
    h = np.linspace(150.0, 210.0, n)
    feet = np.linspace(300.0, 330.0, n)
    xyxy = np.stack([np.full(n, 200.0), feet - h, 200.0 + 0.4 * h, feet], axis=1).astype(np.float32)
    t = Tracklet(1, Boxes(np.arange(n), xyxy, np.full(n, 0.9, np.float32)), np.ones(n, np.float32))
    assert judge(t, fps=FPS, width=W, height=H, settings=TrackSettings()) == []
    feet_only = judge(t, fps=FPS, width=W, height=H, settings=TrackSettings(min_size_change=0))
    assert len(feet_only) == 1 and feet_only[0].startswith("too static to be walking"), feet_only
    # Someone standing, whose box height jitters by 10 % from frame to frame, does not pass for one.
    rng = np.random.default_rng(0)
    jitter = 160.0 * (1 + 0.1 * rng.standard_normal(n))
    still = np.stack([np.full(n, 200.0), 300.0 - jitter, np.full(n, 260.0), np.full(n, 300.0)], axis=1)
    s = Tracklet(1, Boxes(np.arange(n), still.astype(np.float32), np.full(n, 0.9, np.float32)), np.ones(n, np.float32))
    reasons = judge(s, fps=FPS, width=W, height=H, settings=TrackSettings())
    assert len(reasons) == 1 and reasons[0].startswith("too static to be walking"), reasons


def test_occlusion_by_a_nearer_walker():
    back = walker(y=100.0, h=160.0)  # feet at 260
    front = walker(y=120.0, h=200.0, x0=105.0)  # feet at 320: nearer, covers the other
    estimate_visibility([back, front])
    assert back.visibility.max() < 0.3 and np.all(front.visibility == 1.0)
    reasons = judge(back, fps=FPS, width=W, height=H, settings=TrackSettings())
    assert reasons == ["too occluded: less than 50% visible in 100% of frames (> 50%)"]


def test_numbering_is_by_first_frame_and_gaps_fill():
    # Raw ids 7 and 3: 7 starts first, so it becomes tracklet 1. Track 3 has a 2-frame gap.
    frame = np.array([0, 1, 2, 5, 6, 9], np.int64)
    tid = np.array([7, 7, 7, 3, 3, 3], np.int64)
    xyxy = np.array([[0, 0, 10, 20]] * 3 + [[10, 0, 20, 20], [13, 0, 23, 20], [22, 0, 32, 20]], np.float32)
    out = build_tracklets(Boxes(frame, xyxy, np.full(6, 0.8, np.float32), tid), max_gap=2)
    assert [t.number for t in out] == [1, 2]
    assert out[0].frame.tolist() == [0, 1, 2]
    assert out[1].frame.tolist() == [5, 6, 7, 8, 9]
    np.testing.assert_allclose(out[1].xyxy[2:4, 0], [16.0, 19.0])
    assert np.isnan(out[1].score[2:4]).all() and not np.isnan(out[1].score[[0, 1, 4]]).any()
    short_gap = build_tracklets(Boxes(frame, xyxy, np.full(6, 0.8, np.float32), tid), max_gap=1)
    assert short_gap[1].frame.tolist() == [5, 6, 9]  # a gap longer than max_gap stays a gap


def test_settings_are_validated():
    with pytest.raises(ValueError):
        TrackSettings(min_visibility=1.5)
    with pytest.raises(ValueError):
        TrackSettings(min_size_change=-0.1)


def test_truncated_ends_are_split_off_when_asked():
    # A walker entering at the left edge (first 8 boxes at x <= border_margin) and leaving at the right one.
    n, w = 60, 60.0
    x = np.linspace(-20.0, W - 30.0, n)
    xyxy = np.stack([np.clip(x, 0, None), np.full(n, 100.0), np.clip(x + w, None, W), np.full(n, 260.0)], axis=1)
    raw = Boxes(np.arange(n), xyxy.astype(np.float32), np.full(n, 0.9, np.float32), np.full(n, 4))
    margin = TrackSettings().border_margin
    touch = (xyxy[:, 0] <= margin) | (xyxy[:, 2] >= W - margin)
    inside = np.flatnonzero(~touch)

    def tracklets(**changes):
        settings = TrackSettings(stitch=False, **changes)
        return build_tracklets(raw, max_gap=10, cut_settings=settings, fps=FPS, frame_size=(W, H))

    whole = tracklets()  # the default keeps the ends
    assert len(whole) == 1 and not whole[0].reasons and len(whole[0].frame) == n
    trimmed = tracklets(trim_border_ends=True)
    kept = [t for t in trimmed if not t.reasons]
    assert len(kept) == 1 and kept[0].frame.tolist() == list(range(inside[0], inside[-1] + 1))
    ends = [t for t in trimmed if t.reasons]
    assert [t.reasons for t in ends] == [[TRUNCATED_END]] * 2
    assert sum(len(t.frame) for t in trimmed) == n  # nothing lost: every box is in a tracklet
    # A walk that touches the border only in its middle (there and back along the left edge) stays whole.
    left = 200.0 * np.abs(np.arange(n) - n // 2) / (n // 2)
    mid = np.stack([left, np.full(n, 100.0), left + w, np.full(n, 260.0)], axis=1)
    assert (mid[:, 0] <= margin).any()
    raw_mid = Boxes(np.arange(n), mid.astype(np.float32), np.full(n, 0.9, np.float32), np.full(n, 4))
    settings = TrackSettings(stitch=False, trim_border_ends=True)
    out = build_tracklets(raw_mid, max_gap=10, cut_settings=settings, fps=FPS, frame_size=(W, H))
    assert [len(t.frame) for t in out if not t.reasons] == [n]
