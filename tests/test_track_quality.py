"""Quality floors on TUD-Campus (real frames, ground truth), so that a regression fails CI.

The metric code is checked first against the reference scores of motmetrics' bundled tracker
output; then both shipped SSDLite models with ByteTrack must stay above floors set a little below
the figures in docs/benchmarks.md (float32: MOTA 64.9 %, IDF1 70.0 %, 7 ID switches; the INT8
default: 57.9 %, 62.0 %, 7 at stride 1 and 60.7 %, 67.8 %, 6 at stride 2). TUD-Campus has 71
frames and 8 people, so a few boxes move MOTA by several points: the floors catch breakage,
not fine differences.
"""

from __future__ import annotations

import numpy as np
import pytest

from grewkit.bench.mot import read_mot, score_mot_files
from grewkit.bench.mot_sequence import TUD_CAMPUS_FPS, MotSequence, detect_sequence, detection_scores, track_to_mot
from grewkit.core.boxes import Boxes
from grewkit.detect.registry import make_detector
from grewkit.track.settings import TrackSettings

FLOORS = {  # model -> (MOTA, IDF1) at stride 1
    "ssdlite": (0.60, 0.65),
    "ssdlite-int8": (0.55, 0.60),
}


@pytest.fixture(scope="module", params=sorted(FLOORS))
def tud(request):
    from conftest import SHARED_DATA

    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is absent")
    seq = MotSequence.open(SHARED_DATA / "tud_campus", fps=TUD_CAMPUS_FPS)
    return request.param, seq, detect_sequence(seq, make_detector(request.param), min_score=0.1)


def test_metric_code_reproduces_the_reference_scores(shared_data):
    r = score_mot_files(
        read_mot(shared_data / "motmetrics_tud/TUD-Campus/gt.txt"),
        read_mot(shared_data / "motmetrics_tud/TUD-Campus/test.txt"),
    )
    assert round(100 * r["mota"], 2) == 52.65 and round(100 * r["idf1"], 2) == 55.77 and r["num_switches"] == 7


def test_default_detector_precision_recall_floor(tud):
    _, seq, dets = tud
    r = detection_scores(seq, dets, threshold=TrackSettings().min_score)
    assert r["precision"] >= 0.85 and r["recall"] >= 0.68, r


def test_detect_and_track_floor(tud):
    model, seq, dets = tud
    r = score_mot_files(seq.gt, track_to_mot(dets, n_frames=len(seq.frames), fps=seq.fps, settings=TrackSettings()))
    mota, idf1 = FLOORS[model]
    assert r["mota"] >= mota and r["idf1"] >= idf1 and r["num_switches"] <= 10, r


def test_detect_every_second_frame_floor(tud):
    """A detection stride trades accuracy for speed; stride 2 must stay usable."""
    _, seq, dets = tud
    r = score_mot_files(
        seq.gt,
        track_to_mot(
            dets[dets.frame % 2 == 0], n_frames=len(seq.frames), fps=seq.fps, settings=TrackSettings(), stride=2
        ),
    )
    assert r["mota"] >= 0.52 and r["idf1"] >= 0.57, r


def test_bytetrack_on_public_detections_floor(shared_data):
    # No detector involved: once, not once per model like the tests on the `tud` fixture.
    seq = MotSequence.open(shared_data / "tud_campus", fps=TUD_CAMPUS_FPS)
    pub = seq.public_detections()
    hyp = track_to_mot(
        Boxes(pub.frame - 1, pub.xyxy, np.clip(pub.score / 50.0, 0, 1)),
        n_frames=len(seq.frames),
        fps=seq.fps,
        settings=TrackSettings(),
    )
    r = score_mot_files(seq.gt, hyp)
    assert r["mota"] >= 0.52 and r["idf1"] >= 0.52, r
