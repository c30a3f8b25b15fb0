"""Quality floors on TUD-Campus (real frames, ground truth), so that a regression fails CI.

The metric code is checked first against the reference scores of motmetrics' bundled tracker
output; then the default CenterNet and both shipped SSDLite models with ByteTrack, at each detector's own
score thresholds for the tracker (its table's track_threshold, 0.5 for SSDLite), must stay above floors set a
little below the figures in docs/benchmarks.md (CenterNet at 512 x 384, thresholds 0.45, without stitching:
MOTA 65.2 %, IDF1 58.9 %, 4 ID switches at stride 1, 60.5 %, 52.0 %, 8 at stride 2, precision 0.70 at
recall 0.74: TUD's ground truth leaves out the people behind the glass that it finds; SSDLite float32:
MOTA 64.9 %, IDF1 70.0 %, 7 ID switches; its INT8 model: 57.9 %, 62.0 %, 7 at stride 1 and
60.7 %, 67.8 %, 6 at stride 2). TUD-Campus has 71 frames and 8 people, so a few boxes move MOTA
by several points: the floors catch breakage, not fine differences.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from grewkit.bench.mot import read_mot, score_mot_files
from grewkit.bench.mot_sequence import TUD_CAMPUS_FPS, MotSequence, detect_sequence, detection_scores, track_to_mot
from grewkit.core.boxes import Boxes
from grewkit.detect.registry import make_detector, track_threshold
from grewkit.detect.settings import DetectSettings
from grewkit.track.settings import TrackSettings

FLOORS = {  # model -> (MOTA, IDF1) at stride 1, (MOTA, IDF1) at stride 2, (precision, recall) at [track] min_score
    "centernet": ((0.62, 0.56), (0.57, 0.49), (0.67, 0.71)),
    "ssdlite": ((0.60, 0.65), (0.52, 0.57), (0.85, 0.68)),
    "ssdlite-int8": ((0.55, 0.60), (0.52, 0.57), (0.85, 0.68)),
}


@functools.cache
def tud_detections(model: str):
    """TUD-Campus and one detector's boxes on it, detected once per test session."""
    from conftest import SHARED_DATA

    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is absent")
    seq = MotSequence.open(SHARED_DATA / "tud_campus", fps=TUD_CAMPUS_FPS)
    return model, seq, detect_sequence(seq, make_detector(model), min_score=0.1)


def settings_for(model: str) -> TrackSettings:
    """The default [track] settings as the track stage resolves them for this detector."""
    return TrackSettings().for_detector(track_threshold(model))


@pytest.fixture(scope="module", params=sorted(FLOORS))
def tud(request):
    return tud_detections(request.param)


def test_metric_code_reproduces_the_reference_scores(shared_data):
    r = score_mot_files(
        read_mot(shared_data / "motmetrics_tud/TUD-Campus/gt.txt"),
        read_mot(shared_data / "motmetrics_tud/TUD-Campus/test.txt"),
    )
    assert round(100 * r["mota"], 2) == 52.65 and round(100 * r["idf1"], 2) == 55.77 and r["num_switches"] == 7


def test_default_detector_precision_recall_floor(tud):
    model, seq, dets = tud
    r = detection_scores(seq, dets, threshold=TrackSettings().min_score)
    precision, recall = FLOORS[model][2]
    assert r["precision"] >= precision and r["recall"] >= recall, r


def test_detect_and_track_floor(tud):
    model, seq, dets = tud
    r = score_mot_files(seq.gt, track_to_mot(dets, n_frames=len(seq.frames), fps=seq.fps, settings=settings_for(model)))
    mota, idf1 = FLOORS[model][0]
    assert r["mota"] >= mota and r["idf1"] >= idf1 and r["num_switches"] <= 10, r


def test_detect_every_second_frame_floor(tud):
    """A detection stride trades accuracy for speed; stride 2 must stay usable."""
    model, seq, dets = tud
    r = score_mot_files(
        seq.gt,
        track_to_mot(
            dets[dets.frame % 2 == 0], n_frames=len(seq.frames), fps=seq.fps, settings=settings_for(model), stride=2
        ),
    )
    mota, idf1 = FLOORS[model][1]
    assert r["mota"] >= mota and r["idf1"] >= idf1, r


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


def test_default_detector_kept_tracklets_floor():
    """What the track stage keeps on TUD-Campus with the default detector (cuts, stitching, filters):
    box purity 0.900 (min 0.76) and 0.738 of the true boxes covered; all its tracklets, kept and dropped, scored
    as MOT output: MOTA 65.5 %, IDF1 76.6 % (docs/benchmarks.md)."""
    from grewkit.bench.track import kept_figures

    model, seq, dets = tud_detections(DetectSettings().backend)
    k = kept_figures(seq, dets, settings_for(model))
    assert k["purity"] >= 0.88 and k["min_purity"] >= 0.74 and k["coverage"] >= 0.7 and k["kept"] >= 5, k
    stage = k["stage_mot"]
    assert stage["mota"] >= 0.62 and stage["idf1"] >= 0.73 and stage["num_switches"] <= 7, stage
