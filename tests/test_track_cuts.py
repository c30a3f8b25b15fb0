"""Cuts where a track may change person (grewkit.track.cuts): real TUD-Campus tracks, then each rule on its own."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from grewkit.bench.mot import PurityEvaluator
from grewkit.bench.mot_sequence import TUD_CAMPUS_FPS, MotSequence, track_sequence, tracklets_to_mot
from grewkit.core.boxes import Boxes
from grewkit.track.settings import TrackSettings
from grewkit.track.tracklets import build_tracklets


def _identity_purity(seq: MotSequence, tracklets) -> tuple[float, int]:
    """Box-weighted share of matched boxes on their tracklet's majority person, and the boxes scored."""
    ev = PurityEvaluator()
    hyp = tracklets_to_mot(tracklets)
    for f in np.unique(hyp.frame):
        g, h = seq.gt.at(f), hyp.at(f)
        ev.process(g.track_id, g.xyxy, h.track_id, h.xyxy)
    on = sum(max((n for k, n in c.items() if k is not None), default=0) for c in ev.counts.values())
    matched = sum(n for c in ev.counts.values() for k, n in c.items() if k is not None)
    return on / max(matched, 1), matched


def test_cuts_remove_identity_switches_on_tud_campus(shared_data):
    """ByteTrack on the public detections swaps people in TUD-Campus's groups; the cuts take the swaps out."""
    seq = MotSequence.open(shared_data / "tud_campus", fps=TUD_CAMPUS_FPS)
    pub = seq.public_detections()
    dets = Boxes(pub.frame - 1, pub.xyxy, np.clip(pub.score / 50.0, 0, 1))
    whole = track_sequence(dets, n_frames=len(seq.frames), fps=seq.fps, settings=TrackSettings())
    cut = track_sequence(dets, n_frames=len(seq.frames), fps=seq.fps, settings=TrackSettings(), cut=True)
    kept = [t for t in cut if not t.reasons]
    before, _ = _identity_purity(seq, whole)
    after, boxes = _identity_purity(seq, kept)
    # Measured: 0.728 -> 0.983 with 121 of 268 matched boxes left (a crowded scene: half the boxes are at crossings).
    assert before < 0.8 and after >= 0.95, (before, after)
    assert boxes >= 100
    dropped = [t for t in cut if t.reasons]
    assert dropped and all(r.startswith(("crossing", "outlier", "merged")) for t in dropped for r in t.reasons)


def _raw(tracks: dict[int, list[tuple[int, list[float]]]]) -> Boxes:
    ids, frames, boxes = [], [], []
    for tid, rows in tracks.items():
        for f, box in rows:
            ids.append(tid)
            frames.append(f)
            boxes.append(box)
    return Boxes(np.array(frames), np.array(boxes, np.float32), np.full(len(ids), 0.9, np.float32), np.array(ids))


def _walk(x0: float, frames: range, dx: float = 2.0, h: float = 100.0, w: float = 40.0):
    return [(f, [x0 + dx * i, 100.0, x0 + dx * i + w, 100.0 + h]) for i, f in enumerate(frames)]


SETTINGS = TrackSettings()


def test_a_crossing_is_cut_out_and_dropped_with_its_reason():
    # Two walkers meet head-on around frame 20.
    a = _walk(100, range(40), dx=2.0)
    b = _walk(180, range(40), dx=-2.0)
    out = build_tracklets(_raw({7: a, 3: b}), max_gap=10, cut_settings=SETTINGS, fps=25.0)
    crossing = [t for t in out if t.reasons]
    assert len(crossing) == 2 and all(t.reasons[0].startswith("crossing") for t in crossing)
    boxes = {int(f) for t in crossing for f in t.frame}
    assert {16, 20, 24} <= boxes and 0 not in boxes and 39 not in boxes
    assert len([t for t in out if not t.reasons]) == 4  # each walker before and after the crossing
    assert sum(len(t.frame) for t in out) == 80  # nothing lost: every box is in some tracklet


def test_two_people_leaving_a_crossing_under_one_box_are_dropped_until_they_part():
    # B walks behind A; from frame 12 the detector sees one tall box on both, A's track follows it,
    # B's track ends; from frame 30 A's box is A alone again. A is in front (feet lower), so the crossing
    # cuts only B; A's merged boxes are dropped all the same.
    a = _walk(100, range(40), dx=1.0)
    b = [(f, [105.0 + f, 70.0, 145.0 + f, 160.0]) for f in range(10)]
    for i in range(12, 30):
        a[i] = (i, [a[i][1][0], 60.0, a[i][1][2], 200.0])
    out = build_tracklets(_raw({1: a, 2: b}), max_gap=10, cut_settings=SETTINGS, fps=25.0)
    merged = [t for t in out if t.reasons and t.reasons[0].startswith("merged")]
    assert len(merged) == 1 and int(merged[0].frame[0]) >= 12 and int(merged[0].frame[-1]) == 29
    kept = [t for t in out if not t.reasons]
    assert all(float((t.xyxy[:, 3] - t.xyxy[:, 1]).max()) <= 100.0 for t in kept), [t.frame for t in kept]


@pytest.mark.parametrize("margin", [0.05, 0.0])
def test_at_a_crossing_only_the_person_behind_is_cut(margin):
    # A walks in front (feet at y 300, box 200 px); B, farther (feet at 220, box 120 px), passes behind A.
    a = _walk(100, range(40), dx=2.0, h=200.0, w=80.0)
    a = [(f, [x1, 100.0, x2, 300.0]) for f, (x1, _, x2, _) in a]
    b = [(f, [220.0 - 2.0 * i, 100.0, 265.0 - 2.0 * i, 220.0]) for i, f in enumerate(range(40))]
    out = build_tracklets(
        _raw({1: a, 2: b}), max_gap=10, cut_settings=dataclasses.replace(SETTINGS, cut_front_margin=margin), fps=25.0
    )
    crossing = [t for t in out if t.reasons and t.reasons[0].startswith("crossing")]
    tall = [t for t in crossing if float(t.heights.max()) > 150]
    assert crossing and all(float(t.heights.max()) < 150 for t in crossing) if margin else tall, [
        (t.frame[0], t.frame[-1], t.heights.max()) for t in crossing
    ]
    front = [t for t in out if not t.reasons and float(t.heights.max()) > 150]
    assert (len(front) == 1 and len(front[0].frame) == 40) if margin else len(front) == 2


def test_a_lone_outlier_box_is_dropped_without_cutting_the_track():
    rows = _walk(100, range(30))
    rows[15] = (15, [rows[15][1][0], 150.0, rows[15][1][2], 200.0])  # a half-body box for one frame
    out = build_tracklets(_raw({1: rows}), max_gap=10, cut_settings=SETTINGS, fps=25.0)
    assert [len(t.frame) for t in out if not t.reasons] == [30]  # the gap is filled again
    (outlier,) = [t for t in out if t.reasons]
    assert outlier.reasons[0].startswith("outlier box") and list(outlier.frame) == [15]


def test_a_lasting_jump_and_a_long_gap_cut_the_track():
    # From frame 20 on, the track follows a much smaller box (someone further away).
    rows = _walk(100, range(20)) + _walk(140, range(20, 40), h=60.0, w=25.0)
    out = build_tracklets(_raw({1: rows}), max_gap=10, cut_settings=SETTINGS, fps=25.0)
    assert [(int(t.frame[0]), int(t.frame[-1])) for t in out] == [(0, 19), (20, 39)] and not any(t.reasons for t in out)
    # Lost for 9 frames, then found again: maybe someone else, so two tracklets (gaps up to cut_gap_seconds are filled).
    rows = _walk(100, range(10)) + _walk(100, range(19, 30))
    out = build_tracklets(_raw({1: rows}), max_gap=10, cut_settings=SETTINGS, fps=25.0)
    assert [(int(t.frame[0]), int(t.frame[-1])) for t in out] == [(0, 9), (19, 29)]
    loose = dataclasses.replace(SETTINGS, cut_gap_seconds=0.0)
    assert len(build_tracklets(_raw({1: rows}), max_gap=10, cut_settings=loose, fps=25.0)) == 1


def test_numbering_does_not_depend_on_the_trackers_ids():
    a, b = _walk(100, range(40), dx=2.0), _walk(180, range(40), dx=-2.0)
    one = build_tracklets(_raw({7: a, 3: b}), max_gap=10, cut_settings=SETTINGS, fps=25.0)
    two = build_tracklets(_raw({1: b, 2: a}), max_gap=10, cut_settings=SETTINGS, fps=25.0)
    assert [(t.number, t.frame.tolist(), t.xyxy.tolist(), t.reasons) for t in one] == [
        (t.number, t.frame.tolist(), t.xyxy.tolist(), t.reasons) for t in two
    ]


@pytest.mark.parametrize(
    "bad",
    [dict(cut_overlap_iou=1.5), dict(cut_margin_frames=-1), dict(cut_height_jump=0.0), dict(cut_gap_seconds=-2.0)],
)
def test_cut_settings_are_validated(bad):
    with pytest.raises(ValueError):
        TrackSettings(**bad)


def test_durations_are_seconds_of_each_videos_own_fps():
    # Lost for 9 frames: 0.36 s at 25 fps (> cut_gap_seconds 0.24: cut), 0.18 s at 50 fps (filled, one tracklet).
    rows = _walk(100, range(10)) + _walk(100, range(19, 30))
    assert len(build_tracklets(_raw({1: rows}), max_gap=10, cut_settings=SETTINGS, fps=25.0)) == 2
    assert len(build_tracklets(_raw({1: rows}), max_gap=10, cut_settings=SETTINGS, fps=50.0)) == 1
    assert (SETTINGS.frames(SETTINGS.max_gap_seconds, 25.0), SETTINGS.frames(SETTINGS.cut_gap_seconds, 25.0)) == (10, 6)
    assert SETTINGS.frames(SETTINGS.max_gap_seconds, 10.0) == 4


@pytest.mark.parametrize(
    "old, new",
    [
        ("max_gap", "max_gap_seconds"),
        ("lost_track_buffer", "lost_track_seconds"),
        ("cut_gap_frames", "cut_gap_seconds"),
    ],
)
def test_frame_count_keys_are_refused_naming_the_new_key(tmp_path, old, new):
    from grewkit.core.errors import GrewkitError
    from grewkit.core.settings import Settings

    path = tmp_path / "grewkit.toml"
    path.write_text(f"[track]\n{old} = 10\n")
    with pytest.raises(GrewkitError, match=f"{old} is no longer a setting: use {new} ") as err:
        Settings.load(path).section("track")
    assert str(path) in str(err.value)


@pytest.mark.parametrize("fps", [None, 0.0, -5.0, float("nan"), 5000.0])
def test_a_video_with_an_absurd_fps_is_refused_naming_the_file(tmp_path, fps):
    from grewkit.core.errors import GrewkitError
    from grewkit.core.project import Project
    from grewkit.track.stage import check_fps

    project = Project.init(tmp_path / "p")
    with pytest.raises(GrewkitError) as err:
        check_fps(project, {"video_id": "cam-1", "path": "media/cam.avi", "fps": fps})
    message = str(err.value)
    assert "\n" not in message and str(project.root / "media" / "cam.avi") in message and "cam-1" in message
    check_fps(project, {"video_id": "cam-1", "path": "media/cam.avi", "fps": 25.0})
