"""ByteTrack's score thresholds come from the detector's table unless [track] sets its own."""

from __future__ import annotations

import pytest
from helpers import set_option, vtest_slice

from grewkit.core.errors import GrewkitError
from grewkit.core.project import Project
from grewkit.detect.registry import backends_path, make_detector, track_threshold
from grewkit.track.settings import FALLBACK_THRESHOLD, TrackSettings, project_track_settings


def test_the_shipped_tables_name_their_thresholds():
    assert track_threshold("centernet") == 0.45
    assert track_threshold("ssdlite") is None  # its scores are the fallback's
    make_detector("centernet")  # the key is the tracker's: the detector kind never sees it


def test_thresholds_left_to_the_detector_take_its_value_and_numbers_stay():
    left = TrackSettings()
    assert left.track_activation_threshold == "detector"
    assert left.score_threshold("track_activation_threshold") == FALLBACK_THRESHOLD
    taken = left.for_detector(0.45)
    assert (taken.track_activation_threshold, taken.high_conf_det_threshold) == (0.45, 0.45)
    assert left.for_detector(None).high_conf_det_threshold == FALLBACK_THRESHOLD
    own = TrackSettings(track_activation_threshold=0.6).for_detector(0.45)
    assert (own.track_activation_threshold, own.high_conf_det_threshold) == (0.6, 0.45)


@pytest.mark.parametrize("value", ["auto", 1.5, True])
def test_a_threshold_that_is_neither_a_score_nor_detector_is_refused(value):
    with pytest.raises(ValueError, match=r'track_activation_threshold = .* must be a number in \[0, 1\] or "detector"'):
        TrackSettings(track_activation_threshold=value)


def test_a_project_file_with_a_bad_threshold_names_the_file(project):
    set_option(project, "track", "high_conf_det_threshold", '"best"')
    with pytest.raises(GrewkitError) as e:
        Project(project.root).settings.section("track")
    assert "grewkit.toml" in str(e.value) and "high_conf_det_threshold" in str(e.value)


def test_a_lab_table_with_a_bad_threshold_is_one_line_naming_its_file(tmp_path):
    lab = tmp_path / "detectors.toml"
    lab.write_text('[mine]\nkind = "hog"\ntrack_threshold = 2\n')
    with pytest.raises(GrewkitError) as e:
        track_threshold("mine", lab)
    assert str(lab) in str(e.value) and "track_threshold = 2 must be a number in (0, 1]" in str(e.value)


def run(project, stage):
    from grewkit.core.executors import make_executor
    from grewkit.core.runner import run_stage

    with make_executor("serial", 1) as ex:
        summary = run_stage(project, stage, executor=ex, show_progress=False)
    assert not summary.failed, summary.failed
    return summary


def test_the_lab_file_s_threshold_re_tracks_without_re_detecting(project, shared_data, tmp_path):
    """Editing track_threshold re-runs track (its units hash the resolved settings) and not detect: it changes
    tracks, not boxes. A number in [track] wins over the table."""
    lab = tmp_path / "lab" / "detectors.toml"
    lab.parent.mkdir()
    (lab.parent / "models").symlink_to(backends_path().parent / "models")
    text = backends_path().read_text()
    lab.write_text(text)
    set_option(project, "detect", "backends_file", f'"{lab}"')
    vtest_slice(project, shared_data, tmp_path / "media")
    for stage in ("ingest", "detect", "track"):
        run(project, stage)
    assert project_track_settings(Project(project.root)).track_activation_threshold == 0.45

    lab.write_text(text.replace("track_threshold = 0.45", "track_threshold = 0.55"))
    after = Project(project.root)
    assert project_track_settings(after).high_conf_det_threshold == 0.55
    assert run(after, "detect").done == 0
    assert run(after, "track").done == 1

    set_option(project, "track", "track_activation_threshold", "0.5")
    own = project_track_settings(Project(project.root))
    assert (own.track_activation_threshold, own.high_conf_det_threshold) == (0.5, 0.55)
