"""``grewkit bench track --sequence``: any MOTChallenge-layout folder, its fps, det scores, and bad folders."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from helpers import grewkit

from grewkit.bench.mot_sequence import scale_scores


def _bench(*args):
    return grewkit("bench", "track", "--strides", "", "--skip-speed", *args)


def test_a_sequence_folder_scores_its_public_detections(shared_data, tmp_path):
    from grewkit.bench.mot import score_mot_files
    from grewkit.bench.mot_sequence import TUD_CAMPUS_FPS, MotSequence, track_to_mot
    from grewkit.core.boxes import Boxes
    from grewkit.track.settings import TrackSettings

    tud = shared_data / "tud_campus"
    proc = _bench("--sequence", str(tud), "--fps", "25", "--det-scores", "divide:50", "--json")
    assert proc.returncode == 0, proc.stderr
    row, plain = json.loads(proc.stdout)["mot"]  # the track stage's association, then without stitching
    assert plain["run"].endswith("without stitching")
    seq = MotSequence.open(tud, fps=TUD_CAMPUS_FPS)
    pub = seq.public_detections()
    want = score_mot_files(
        seq.gt,
        track_to_mot(
            Boxes(pub.frame - 1, pub.xyxy, np.clip(pub.score / 50.0, 0, 1)),
            n_frames=len(seq.frames),
            fps=seq.fps,
            settings=TrackSettings(),
            frames=seq.read,
        ),
    )
    assert row["mota"] == pytest.approx(float(want["mota"])) and row["idf1"] == pytest.approx(float(want["idf1"]))

    # The same folder with a seqinfo.ini needs no --fps; without either, one line says what is missing.
    copy = tmp_path / "seq"
    shutil.copytree(tud, copy)
    proc = _bench("--sequence", str(copy))
    assert proc.returncode != 0 and "--fps" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    (copy / "seqinfo.ini").write_text(
        "[Sequence]\nname=seq\nimDir=img1\nframeRate=25\nseqLength=71\nimWidth=640\nimHeight=480\nimExt=.jpg\n"
    )
    proc = _bench("--sequence", str(copy), "--det-scores", "divide:50", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["mot"][0]["mota"] == pytest.approx(row["mota"])


@pytest.mark.parametrize(
    "damage, named", [("gt_line", "gt.txt"), ("det_line", "det.txt"), ("no_images", "seq"), ("bad_fps", "seqinfo.ini")]
)
def test_a_bad_sequence_folder_is_one_line_naming_the_file(shared_data, tmp_path, damage, named):
    copy = tmp_path / "seq"
    shutil.copytree(shared_data / "tud_campus", copy)
    if damage in ("gt_line", "det_line"):
        path = copy / ("gt/gt.txt" if damage == "gt_line" else "det/det.txt")
        path.write_text(path.read_text() + "12,3,not-a-number,1,2\n")
    elif damage == "no_images":
        shutil.rmtree(copy / "img1")
        (copy / "img1").mkdir()
    else:
        (copy / "seqinfo.ini").write_text("[Sequence]\nframeRate=0\n")
    fps = () if damage == "bad_fps" else ("--fps", "25")
    proc = _bench("--sequence", str(copy), "--det-scores", "as-given", *fps)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode != 0 and len(lines) == 1 and named in lines[0], proc.stderr


def test_det_score_modes():
    s = np.array([-3.0, 0.0, 25.0, 100.0])
    assert scale_scores(s, "divide:50").tolist() == [0.0, 0.0, 0.5, 1.0]
    assert scale_scores(s, "max-normalised").tolist() == [0.0, 0.0, 0.25, 1.0]
    assert scale_scores(np.array([0.2, 0.9]), "as-given").tolist() == pytest.approx([0.2, 0.9])
    proc = _bench("--sequence", ".", "--det-scores", "divide:0")
    assert proc.returncode != 0


@pytest.mark.parametrize(
    "pair, named",
    [("nope=1", "'nope' is not a [track] setting"), ("min_seconds=abc", "min_seconds=abc"), ("stitch", "KEY=VALUE")],
)
def test_a_bad_track_setting_is_refused_before_any_work(shared_data, pair, named):
    proc = _bench("--sequence", str(shared_data / "tud_campus"), "--fps", "25", "--track-setting", pair)
    assert proc.returncode != 0 and not proc.stdout
    assert "--track-setting" in proc.stderr and named in proc.stderr, proc.stderr


def test_a_track_setting_reaches_the_figures(shared_data):
    tud = str(shared_data / "tud_campus")
    default = json.loads(_bench("--sequence", tud, "--fps", "25", "--json").stdout)["mot"]
    short = _bench("--sequence", tud, "--fps", "25", "--json", "--track-setting", "lost_track_seconds=0.04")
    assert short.returncode == 0, short.stderr
    assert json.loads(short.stdout)["mot"] != default
