"""Offline association (grewkit.track.stitch) and the appearance-drift cut, on TUD-Campus's real frames.

The ground-truth boxes give real people in real pixels with known identities: split them where a
tracker would lose them, and the stitching must put each person back together and nobody else.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from grewkit.bench.mot_sequence import TUD_CAMPUS_FPS, MotSequence
from grewkit.core.appearance import APPEARANCES, HsvHistogram, describe_tracks, mean_descriptor
from grewkit.core.boxes import Boxes
from grewkit.track.cuts import crowding, drift_points
from grewkit.track.settings import TrackSettings
from grewkit.track.stitch import stitch


@pytest.fixture(scope="module")
def tud():
    from conftest import SHARED_DATA

    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is absent")
    seq = MotSequence.open(SHARED_DATA / "tud_campus", fps=TUD_CAMPUS_FPS)
    people = {}
    for pid in np.unique(seq.gt.track_id):
        b = seq.gt[seq.gt.track_id == pid]
        b = b[np.argsort(b.frame)]
        people[int(pid)] = Boxes(b.frame - 1, b.xyxy, np.ones(len(b), np.float32))
    app = HsvHistogram()
    ids = sorted(people)
    descriptors = dict(zip(ids, describe_tracks([people[i] for i in ids], seq.read, app)))
    return seq, people, descriptors, app


def test_the_appearance_tells_the_people_of_tud_campus_apart(tud):
    """Each person's first half, compared with everyone's second half, is nearest to their own (8 of 8 measured)."""
    _, people, desc, app = tud
    first = {i: mean_descriptor(d[: len(d) // 2]) for i, d in desc.items()}
    second = {i: mean_descriptor(d[len(d) // 2 :]) for i, d in desc.items()}
    right = 0
    for i in people:
        dist = {j: app.distance(first[i], second[j]) for j in people}
        right += min(dist, key=dist.get) == i
        assert dist[i] < 0.4, (i, dist)  # same person: 0.11-0.34 measured
    assert right >= 7, right
    assert desc[3].shape == (len(people[3]), app.dim) and np.allclose(desc[3].reshape(len(desc[3]), 2, -1).sum(-1), 1)


def test_stitching_joins_each_person_across_a_gap_and_nobody_else(tud):
    seq, people, _, app = tud
    pieces, owner = [], []
    for pid, boxes in people.items():
        if len(boxes) < 30:
            pieces.append(boxes)
            owner.append(pid)
            continue
        k = len(boxes) // 2  # lost for 8 frames (0.32 s) in the middle, as behind someone
        pieces += [boxes[: k - 4], boxes[k + 4 :]]
        owner += [pid, pid]
    settings = TrackSettings()
    descriptors = describe_tracks(pieces, seq.read, app)
    chains = stitch(
        pieces, descriptors, crowding(pieces, Boxes.empty()), settings=settings, fps=seq.fps, appearance=app
    )
    # Nobody joined to someone else; the split people joined again, but for at most one (person 5 walks half
    # hidden behind person 8 in the second half, so its two halves do not look alike: measured 4 of 5 joined).
    assert all(len({owner[k] for k in chain}) == 1 for chain in chains), [[owner[k] for k in c] for c in chains]
    split = {pid for pid in people if owner.count(pid) == 2}
    joined = {owner[chain[0]] for chain in chains if len(chain) == 2}
    assert len(split) == 5 and len(joined) >= 4 and joined <= split, joined
    # With an appearance limit no two looks meet, nothing joins: the appearance decides, not motion alone.
    strict = dataclasses.replace(settings, stitch_max_distance=0.0)
    assert len(
        stitch(pieces, descriptors, crowding(pieces, Boxes.empty()), settings=strict, fps=seq.fps, appearance=app)
    ) == len(pieces)


def test_a_gap_longer_than_the_setting_is_not_stitched(tud):
    seq, people, _, app = tud
    boxes = people[3]
    pieces = [boxes[:20], boxes[45:]]  # 25 frames apart: 1 s
    descriptors = describe_tracks(pieces, seq.read, app)
    crowd = crowding(pieces, Boxes.empty())
    assert len(stitch(pieces, descriptors, crowd, settings=TrackSettings(), fps=seq.fps, appearance=app)) == 1
    short = TrackSettings(stitch_max_gap_seconds=0.5)
    assert len(stitch(pieces, descriptors, crowd, settings=short, fps=seq.fps, appearance=app)) == 2


@pytest.mark.parametrize("a, b", [(2, 5), (3, 7), (4, 2), (7, 3), (5, 8)])
def test_the_drift_cut_finds_where_a_track_moves_onto_someone_else(tud, a, b):
    _, _, desc, app = tud
    spliced = np.concatenate([desc[a][:25], desc[b][:25]])
    assert drift_points(spliced, window=6, threshold=TrackSettings().cut_appearance_drift, appearance=app) == [25]


@pytest.mark.parametrize("pid", [1, 2, 3, 7, 8])
def test_the_drift_cut_leaves_one_visible_person_whole(tud, pid):
    # People 4 and 5 spend much of the sequence half hidden behind others; their look does change.
    _, _, desc, app = tud
    assert drift_points(desc[pid], window=6, threshold=TrackSettings().cut_appearance_drift, appearance=app) == []


@pytest.fixture(scope="module")
def ssdlite(tud):
    from grewkit.bench.mot_sequence import detect_sequence
    from grewkit.detect.registry import make_detector

    return detect_sequence(tud[0], make_detector("ssdlite"), min_score=0.1)


def test_stitching_lifts_idf1_of_detect_and_track_on_tud_campus(tud, ssdlite):
    """The track stage's whole pipeline on SSDLite's boxes: measured IDF1 70.0 -> 74.7 %, ID switches 7 -> 6."""
    from grewkit.bench.mot import score_mot_files
    from grewkit.bench.mot_sequence import track_to_mot

    seq, dets = tud[0], ssdlite
    plain = score_mot_files(
        seq.gt, track_to_mot(dets, n_frames=len(seq.frames), fps=seq.fps, settings=TrackSettings(stitch=False))
    )
    joined = score_mot_files(
        seq.gt, track_to_mot(dets, n_frames=len(seq.frames), fps=seq.fps, settings=TrackSettings(), frames=seq.read)
    )
    assert joined["idf1"] >= plain["idf1"] + 0.02 and joined["idf1"] >= 0.66, (plain, joined)
    assert joined["num_switches"] <= plain["num_switches"] and joined["mota"] >= plain["mota"] - 0.01


def test_stitching_widens_what_the_kept_tracklets_cover_on_tud_campus(tud, ssdlite):
    """Cuts, stitching (with the joins' gaps filled) and filters as in the track stage: measured 3 kept
    tracklets covering 34.5 % of the true boxes without stitching, 3 covering 39.8 % with it (identity purity
    0.88 -> 0.88: the one impure kept box run lies on two people walking together under one box, which the
    detector never separates); before the person in front was kept at crossings and joins were filled:
    14.5 % and 29.8 %."""
    from grewkit.bench.track import kept_figures

    seq = tud[0]
    plain = kept_figures(seq, ssdlite, TrackSettings(stitch=False))
    joined = kept_figures(seq, ssdlite, TrackSettings())
    assert joined["coverage"] >= 0.38 and joined["coverage"] > plain["coverage"], (plain, joined)
    assert joined["kept"] >= 3 and joined["identity_purity"] >= 0.85 and joined["purity"] >= 0.84, (plain, joined)


def test_the_gaps_between_joined_pieces_are_filled_only_when_cutting(tud, ssdlite):
    from grewkit.bench.mot_sequence import track_sequence

    seq = tud[0]
    n, fps = len(seq.frames), seq.fps
    # 2 s: TUD-Campus's joins are short, most within the 10 frames that max_gap_seconds fills anyway.
    long_fill = TrackSettings(stitch_fill_seconds=2.0)
    cut = track_sequence(ssdlite, n_frames=n, fps=fps, settings=long_fill, cut=True, frames=seq.read)
    whole = track_sequence(ssdlite, n_frames=n, fps=fps, settings=long_fill, frames=seq.read)
    no_fill = track_sequence(
        ssdlite, n_frames=n, fps=fps, settings=TrackSettings(stitch_fill_seconds=0.0), cut=True, frames=seq.read
    )
    filled = sum(int(np.isnan(t.score).sum()) for t in cut if not t.reasons)
    assert filled > sum(int(np.isnan(t.score).sum()) for t in no_fill if not t.reasons)

    # Whole trajectories (no cuts) only fill gaps up to max_gap_seconds (0.4 s = 10 frames at 25 fps).
    def longest_fill(t) -> int:
        runs = np.diff(np.flatnonzero(np.diff(np.r_[0, np.isnan(t.score).astype(int), 0])))[::2]
        return int(runs.max(initial=0))

    assert all(longest_fill(t) <= 10 for t in whole)
    assert max(longest_fill(t) for t in cut if not t.reasons) > 0


@pytest.mark.parametrize(
    "bad",
    [
        dict(stitch_max_distance=1.5),
        dict(cut_appearance_drift=-0.1),
        dict(stitch_max_gap_seconds=float("nan")),
        dict(stitch_window_seconds=-1.0),
        dict(stitch_fill_seconds=-0.5),
        dict(cut_front_margin=float("inf")),
        dict(appearance="osnet"),
    ],
)
def test_stitch_settings_are_validated(bad):
    with pytest.raises(ValueError):
        TrackSettings(**bad)
    assert "hsv-histogram" in APPEARANCES
