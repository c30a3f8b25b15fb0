"""Settings counted in frames say which frames, and the 30 fps claim matches the tracker's behaviour."""

from __future__ import annotations

import dataclasses

import pytest

from grewkit.render.settings import RenderSettings
from grewkit.track.settings import TrackSettings

FRAME_COUNTED = {
    TrackSettings: ("minimum_consecutive_frames", "cut_margin_frames", "cut_max_shift"),
    RenderSettings: ("mog2_history", "mog2_warmup_frames"),
}


@pytest.mark.parametrize("cls,name", [(c, n) for c, names in FRAME_COUNTED.items() for n in names])
def test_frame_counted_settings_name_their_frames(cls, name):
    help_text = {f.name: f.metadata["help"] for f in dataclasses.fields(cls)}[name]
    assert any(unit in help_text for unit in ("video's own rate", "30 fps video", "frames the detector ran on")), (
        help_text
    )


SECONDS = {TrackSettings: ("lost_track_seconds", "max_gap_seconds", "cut_gap_seconds", "min_seconds")}


@pytest.mark.parametrize("cls,name", [(c, n) for c, names in SECONDS.items() for n in names])
def test_durations_are_seconds_and_say_so(cls, name):
    help_text = {f.name: f.metadata["help"] for f in dataclasses.fields(cls)}[name]
    assert "second" in help_text, help_text


def test_lost_track_buffer_counts_frames_of_a_30_fps_video_at_any_rate():
    from trackers import ByteTrackTracker

    for fps in (25.0, 30.0, 60.0):
        tracker = ByteTrackTracker(lost_track_buffer=30, frame_rate=fps)
        assert tracker.maximum_time_without_update == pytest.approx(1.0)  # seconds, as the help says
