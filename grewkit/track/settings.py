"""Settings of ``grewkit track`` (section ``[track]`` of grewkit.toml): ByteTrack, gap filling, quality filters."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import ClassVar

from grewkit.core.settings import setting
from grewkit.track.trackers import TRACKERS

#: A score threshold given as this takes the detector's ``track_threshold`` (grewkit.detect.registry).
DETECTOR = "detector"
#: The threshold where the detector is not known (public detections, a bare call) or names none: ByteTrack's
#: usual split, at which SSDLite's scores were tuned (docs/benchmarks.md).
FALLBACK_THRESHOLD = 0.5
SCORE_THRESHOLDS = ("track_activation_threshold", "high_conf_det_threshold")


@dataclass(frozen=True)
class TrackSettings:
    #: Keys that counted frames (of any video, or of a 30 fps one) before the durations moved to seconds.
    RENAMED: ClassVar[dict[str, str]] = {
        "max_gap": "max_gap_seconds (seconds; 10 frames at 25 fps = 0.4)",
        "lost_track_buffer": "lost_track_seconds (seconds; the old value / 30)",
        "cut_gap_frames": "cut_gap_seconds (seconds; 6 frames at 25 fps = 0.24)",
    }
    tracker: str = setting("bytetrack", "Multi-object tracker (grewkit.track.trackers): bytetrack.")
    min_score: float = setting(
        0.3, "Ignore detections scoring below this (SSDLite's weakest boxes are half-bodies that pull tracks off)."
    )
    # ByteTrack (Roboflow trackers 2.6.1), names as in its ByteTrackTracker. Its two score thresholds depend on
    # how the detector scores people, so by default they come from the detector's table (``track_threshold``).
    track_activation_threshold: float | str = setting(
        DETECTOR,
        'ByteTrack: a detection needs this score to start a track; "detector": the [detect] backend\'s '
        "track_threshold in its backends file (centernet 0.45), 0.5 where it names none.",
    )
    high_conf_det_threshold: float | str = setting(
        DETECTOR,
        "ByteTrack: scores at or above go to the first association, below to the second; "
        '"detector": as track_activation_threshold.',
    )
    minimum_iou_threshold: float = setting(
        0.2, "ByteTrack: least IoU between a track's predicted box and a detection to match."
    )
    lost_track_seconds: float = setting(
        1.0, "ByteTrack: seconds a lost track waits to be found again (its lost_track_buffer / 30, at any fps)."
    )
    minimum_consecutive_frames: int = setting(
        2,
        "ByteTrack: matched detections in a row before a track gets an id, counted in frames the detector ran on (every [detect] stride-th video frame), not in time.",
    )
    max_gap_seconds: float = setting(
        0.4,
        "Fill gaps of up to this many seconds in a tracklet by linear interpolation (score null); frames = round(seconds x the video's fps).",
    )
    # Cuts where a track may change person (grewkit.track.cuts): a GREW sequence must be one person.
    cut_switches: bool = setting(
        True,
        "Cut tracks at crossings, outlier boxes, jumps and long gaps (grewkit.track.cuts); dropped parts are kept=false with the reason.",
    )
    cut_overlap_iou: float = setting(
        0.25,
        "A box overlapping another person's box by at least this IoU is at a crossing: that part is dropped (0: never).",
    )
    cut_front_margin: float = setting(
        0.05,
        "At a crossing, a box whose feet are lower than the other's by more than this many of its heights is in front: it is not cut there, only the one behind (0: both are cut).",
    )
    cut_margin_frames: int = setting(
        3,
        "Video frames (at the video's own rate, not seconds) either side of a crossing that are dropped with it (swaps show as the boxes separate).",
    )
    cut_gap_seconds: float = setting(
        0.24,
        "Cut where a track goes more than this many seconds without a detection (0: never): it may come back on someone else; frames = round(seconds x the video's fps).",
    )
    cut_height_jump: float = setting(
        0.25,
        "A box whose height differs by more than this share from its neighbours' is an outlier (alone) or a jump (cut).",
    )
    cut_width_jump: float = setting(
        0.5, "The same for the box width (walkers' widths swing with the stride, so looser)."
    )
    cut_max_shift: float = setting(
        0.2,
        "Cut where the box centre moves more than this many box heights per video frame (at the video's own rate: the speed allowed per second grows with the frame rate).",
    )
    # Offline association after the online tracker (grewkit.track.stitch), reading each box's pixels.
    stitch: bool = setting(
        True,
        "Join the kept pieces of one person across missed detections, occlusions and cuts when motion (extrapolated both ways) and appearance agree (grewkit.track.stitch).",
    )
    appearance: str = setting(
        "hsv-histogram", "Appearance descriptor of a box (grewkit.core.appearance): hsv-histogram."
    )
    stitch_max_gap_seconds: float = setting(2.0, "Join pieces at most this many seconds apart.")
    stitch_fill_seconds: float = setting(
        0.5,
        "When cutting, fill gaps of up to this many seconds between two joined pieces by linear interpolation (score null in the boxes manifest; 0: never).",
    )
    stitch_max_error: float = setting(
        0.5,
        "Join only if each piece's constant-velocity motion, extrapolated to the other's end, lands within this many box heights of it (feet position).",
    )
    stitch_error_per_second: float = setting(
        0.5, "The tolerance above grows by this many box heights per second of gap (a walker may turn or stop)."
    )
    stitch_max_distance: float = setting(
        0.25,
        "Join only if the appearance descriptors of the two ends differ by at most this (0: identical, 1: nothing alike).",
    )
    stitch_window_seconds: float = setting(
        1.0,
        "Seconds at each end of a piece that its speed and look are measured over; also the windows compared by the drift cut.",
    )
    cut_appearance_drift: float = setting(
        0.4,
        "Cut a kept piece where the look of the windows before and after a box differ by more than this (0: never).",
    )
    trim_border_ends: bool = setting(
        False,
        "With cut_switches: split a kept tracklet's first and last boxes that touch the frame border (within border_margin; a person entering or leaving the frame, the box clipped) off as a dropped part.",
    )
    # Quality filters: a tracklet failing any is kept in the manifests with kept=false and the reasons.
    min_seconds: float = setting(1.0, "Drop tracklets shorter than this many seconds (too short for a gait cycle).")
    min_box_height: float = setting(50.0, "Drop tracklets whose median box height is below this, in pixels.")
    border_margin: float = setting(2.0, "A box within this many pixels of the frame edge touches the border.")
    max_border_fraction: float = setting(
        0.5, "Drop tracklets whose boxes touch the frame border in more than this share of frames."
    )
    min_visibility: float = setting(
        0.5, "A box is occluded when less than this share of it is clear of boxes in front of it."
    )
    max_occluded_fraction: float = setting(0.5, "Drop tracklets occluded in more than this share of frames.")
    min_travel: float = setting(
        0.5,
        "Drop tracklets whose feet move less than this many median box heights (not walking), unless the box changes size by min_size_change.",
    )
    min_size_change: float = setting(
        0.2,
        "A tracklet whose box grows or shrinks by at least this share from its first to its last third (medians) walks towards or away from the camera: not too static, however little its feet move (0: feet only).",
    )

    def frames(self, seconds: float, fps: float) -> int:
        """A duration setting in frames of a video at ``fps`` (the defaults were tuned on TUD-Campus, 25 fps)."""
        return int(round(seconds * fps))

    def for_detector(self, threshold: float | None) -> TrackSettings:
        """These settings with every score threshold left to the detector set to its ``threshold`` (None: the
        detector names none, FALLBACK_THRESHOLD)."""
        value = FALLBACK_THRESHOLD if threshold is None else float(threshold)
        return dataclasses.replace(self, **{k: value for k in SCORE_THRESHOLDS if getattr(self, k) == DETECTOR})

    def score_threshold(self, name: str) -> float:
        """One of SCORE_THRESHOLDS as a number (FALLBACK_THRESHOLD where still left to an unknown detector)."""
        value = getattr(self, name)
        return FALLBACK_THRESHOLD if value == DETECTOR else value

    def __post_init__(self):
        if self.tracker not in TRACKERS:
            raise ValueError(TRACKERS.unknown(self.tracker).reason)
        for name in SCORE_THRESHOLDS:
            value = getattr(self, name)
            if value == DETECTOR:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise ValueError(f'{name} = {value!r} must be a number in [0, 1] or "{DETECTOR}"')
            object.__setattr__(self, name, float(value))
        for name in (
            "min_score",
            "minimum_iou_threshold",
            "max_border_fraction",
            "min_visibility",
            "max_occluded_fraction",
            "cut_overlap_iou",
        ):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1]")
        for name in ("lost_track_seconds", "max_gap_seconds", "cut_gap_seconds", "cut_front_margin"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) >= 0):
                raise ValueError(f"{name} must be >= 0")
        from grewkit.core.appearance import APPEARANCES

        if self.appearance not in APPEARANCES:
            raise ValueError(APPEARANCES.unknown(self.appearance).reason)
        for name in (
            "stitch_max_gap_seconds",
            "stitch_fill_seconds",
            "stitch_max_error",
            "stitch_error_per_second",
            "stitch_window_seconds",
        ):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) >= 0):
                raise ValueError(f"{name} must be >= 0")
        for name in ("stitch_max_distance", "cut_appearance_drift"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1]")
        if self.minimum_consecutive_frames < 1:
            raise ValueError("minimum_consecutive_frames must be >= 1")
        if (
            self.cut_margin_frames < 0
            or self.cut_height_jump <= 0
            or self.cut_width_jump <= 0
            or self.cut_max_shift <= 0
        ):
            raise ValueError("cut_margin_frames must be >= 0; cut_height_jump, cut_width_jump and cut_max_shift > 0")
        if (
            self.min_seconds < 0
            or self.min_box_height < 0
            or self.min_travel < 0
            or self.border_margin < 0
            or not (math.isfinite(self.min_size_change) and self.min_size_change >= 0)
        ):
            raise ValueError("min_seconds, min_box_height, min_travel, min_size_change and border_margin must be >= 0")


def project_track_settings(project) -> TrackSettings:
    """The project's ``[track]`` settings with the score thresholds it leaves to the detector taken from its
    ``[detect] backend``'s table: what the track stage tracks with, and what its units' keys hash (so that a
    changed threshold in the backends file re-tracks)."""
    from grewkit.detect.registry import track_threshold

    detect = project.settings.section("detect")
    track = project.settings.section("track")
    if all(getattr(track, k) != DETECTOR for k in SCORE_THRESHOLDS):
        return track
    return track.for_detector(track_threshold(detect.backend, detect.backends_file))
