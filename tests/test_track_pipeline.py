"""ingest -> detect -> track on real footage (a slice of vtest.avi): manifests, reruns, stable ids."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from helpers import set_option, vtest_slice

from grewkit.core.executors import make_executor
from grewkit.core.runner import run_stage
from grewkit.core.validate import validate_project


def run(project, stage):
    with make_executor("serial", 1) as ex:
        summary = run_stage(project, stage, executor=ex, show_progress=False)
    assert not summary.failed, summary.failed
    return summary


@pytest.fixture
def pets(project, shared_data, tmp_path):
    vtest_slice(project, shared_data, tmp_path / "footage")
    run(project, "ingest")
    return project


def test_ingest_detect_track_on_vtest(pets):
    project = pets
    run(project, "detect")
    dets = project.read("detections")
    frames = set(dets.column("frame").to_pylist())
    assert frames <= set(range(0, 40, 2)) and len(frames) >= 16
    assert dets.column("detector")[0].as_py().startswith("centernet:onnx:centernet_mobilenetv3_person@")
    assert (project.manifests_dir / "detections" / "pets.parquet").is_file()
    assert run(project, "detect").done == 0  # rerun: nothing to do

    # Chunks of one video (so that workers share it) give exactly the boxes of one whole pass.
    whole = project.read("detections")
    set_option(project, "detect", "chunk_frames", "16")
    assert run(project, "detect").done == 3
    assert project.read("detections").equals(whole)

    run(project, "track")
    tracklets = project.read("tracklets").to_pandas()
    boxes = project.read("boxes").to_pandas()
    kept = tracklets[tracklets.kept]
    # Two walkers cross in this 4 s slice: the cut drops the crossing and leaves pieces too short to keep.
    assert len(kept) >= 2, tracklets.filter_reason.tolist()
    assert tracklets.filter_reason.str.startswith("crossing").any(), tracklets.filter_reason.tolist()
    assert tracklets.filter_reason.isna().eq(tracklets.kept).all()
    assert set(tracklets.tracklet_id) == set(boxes.tracklet_id)
    # Stride 2: the odd frames between detections are interpolated boxes with no score.
    one = boxes[boxes.tracklet_id == kept.tracklet_id.iloc[0]].sort_values("frame")
    assert np.all(np.diff(one.frame) == 1)
    assert one.score[one.frame % 2 == 1].isna().all() and one.score[one.frame % 2 == 0].notna().mean() > 0.8
    assert boxes.visibility.between(0, 1).all()
    assert (tracklets.n_frames == boxes.groupby("tracklet_id").size().reindex(tracklets.tracklet_id).values).all()
    assert validate_project(project) == []

    # Stable ids: throw away all tracking state and output, track again, same bytes.
    before = (project.manifests_dir / "tracklets.parquet").read_bytes()
    before_boxes = (project.manifests_dir / "boxes" / "pets.parquet").read_bytes()
    shutil.rmtree(project.state_dir("track"))
    (project.manifests_dir / "tracklets.parquet").unlink()
    shutil.rmtree(project.manifests_dir / "boxes")
    run(project, "track")
    assert (project.manifests_dir / "tracklets.parquet").read_bytes() == before
    assert (project.manifests_dir / "boxes" / "pets.parquet").read_bytes() == before_boxes

    # Changing a filter re-tracks; the verdicts follow the setting.
    set_option(project, "track", "min_box_height", "500.0")
    assert run(project, "track").done == 1
    tracklets = project.read("tracklets")
    assert not any(tracklets.column("kept").to_pylist())
    assert all("boxes too small" in r for r in tracklets.column("filter_reason").to_pylist())


def test_track_uses_the_descriptors_detect_stored_and_they_equal_the_pixels(pets, monkeypatch):
    """Detect describes every box while it has the frame; track then reads no frame, with the same result."""
    from grewkit.core.appearance import APPEARANCES, describe_tracks
    from grewkit.core.boxes import Boxes
    from grewkit.core.frames import read_frames
    from grewkit.track import stage as track_stage

    project = pets
    run(project, "detect")
    dets = project.read("detections")
    assert set(dets.column("descriptor_kind").to_pylist()) == {"hsv-histogram"}
    stored = np.array(dets.column("descriptor").to_pylist(), np.float32)
    boxes = Boxes.from_arrow(dets)
    video = project.resolve(project.read("videos", ["path"]).column("path")[0].as_py())
    [from_pixels] = describe_tracks([boxes], lambda idx: read_frames(video, idx), APPEARANCES.get("hsv-histogram")())
    assert stored.shape == from_pixels.shape and len(stored) > 20
    np.testing.assert_array_equal(stored, from_pixels)

    reads = []
    real = track_stage.video_frames

    def counted(project, video_id):
        frames = real(project, video_id)
        return lambda indices: reads.append(len(indices)) or frames(indices)

    monkeypatch.setattr(track_stage, "video_frames", counted)
    run(project, "track")
    assert reads == []  # every tracked box had its descriptor from detect
    with_stored = project.read("tracklets"), project.read("boxes")

    # Without stored descriptors, track reads the frames and comes to the same tracklets.
    set_option(project, "detect", "appearance", '""')
    run(project, "detect")
    assert project.read("detections").column("descriptor").null_count == project.read("detections").num_rows
    run(project, "track")
    assert reads and sum(reads) > 10
    assert project.read("tracklets").equals(with_stored[0]) and project.read("boxes").equals(with_stored[1])


def test_detect_prepares_inputs_in_the_decoding_thread_with_the_same_boxes(pets):
    """The generic onnx kind's input preparation runs beside the decoding (``decode_ahead``), off the
    inference thread; the detections are those of preparing and inferring in turn (``decode_ahead = 0``)."""
    import threading

    from grewkit.core.project import Project
    from grewkit.detect.stage import DetectStage

    tables, threads = {}, {}
    for ahead in ("4", "0"):
        set_option(pets, "detect", "decode_ahead", ahead)
        stage = DetectStage(Project.open(pets.root))
        detector = stage.detector(stage.project.settings.section("detect"))
        real, seen = detector.prepare, []
        detector.prepare = lambda frame, real=real, seen=seen: seen.append(threading.current_thread()) or real(frame)
        [unit] = stage.plan()
        tables[ahead], threads[ahead] = stage.process(unit)["detections"], set(seen)
    assert tables["4"].num_rows > 20 and tables["4"].equals(tables["0"])
    assert threads["0"] == {threading.main_thread()}
    assert len(threads["4"]) == 1 and threading.main_thread() not in threads["4"]
