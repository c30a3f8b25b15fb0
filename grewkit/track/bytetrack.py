"""ByteTrack over one video's detections, from Roboflow's maintained ``trackers`` package.

Returns raw tracks (boxes with the tracker's own ids); numbering, gap filling and filtering
happen in grewkit.track.tracklets so that they are the same whatever tracker is plugged in.
"""

from __future__ import annotations

import numpy as np

from grewkit.core.boxes import Boxes
from grewkit.core.errors import GrewkitError


def run_bytetrack(detections: Boxes, *, detected_frames: np.ndarray, fps: float, settings) -> Boxes:
    """Track the detections of one video: one row per tracked box with the tracker's id, frame, box and
    detector score. ``detected_frames`` lists every frame the detector ran on, boxes or not."""
    try:
        import supervision as sv
        from trackers import ByteTrackTracker
    except ImportError as exc:
        raise GrewkitError(f"ByteTrack needs the trackers and supervision packages ({exc}); run `make setup`") from None
    tracker = ByteTrackTracker(
        # Its buffer counts 30 fps frames (a time: buffer / 30 seconds at any frame rate).
        lost_track_buffer=settings.lost_track_seconds * 30.0,
        frame_rate=fps,
        track_activation_threshold=settings.score_threshold("track_activation_threshold"),
        minimum_consecutive_frames=settings.minimum_consecutive_frames,
        minimum_iou_threshold=settings.minimum_iou_threshold,
        high_conf_det_threshold=settings.score_threshold("high_conf_det_threshold"),
    )
    given = detections[detections.score >= settings.min_score]
    given = given[np.argsort(given.frame, kind="stable")]
    frames, xyxy, scores = given.frame, given.xyxy, given.score
    starts = np.searchsorted(frames, detected_frames, side="left")
    ends = np.searchsorted(frames, detected_frames, side="right")
    out_id, out_frame, out_box, out_score = [], [], [], []
    for f, a, b in zip(detected_frames, starts, ends):
        dets = sv.Detections(
            xyxy=xyxy[a:b].astype(np.float32).reshape(-1, 4), confidence=scores[a:b].astype(np.float32)
        )
        # Timestamps let the Kalman filter step over frames skipped by a detection stride.
        result = tracker.update(dets, timestamp=float(f) / fps)
        ids = np.asarray(result.tracker_id, dtype=np.int64)
        keep = ids >= 0
        if keep.any():
            out_id.append(ids[keep])
            out_frame.append(np.full(int(keep.sum()), f, np.int64))
            out_box.append(np.asarray(result.xyxy, np.float32)[keep])
            out_score.append(np.asarray(result.confidence, np.float32)[keep])
    if not out_id:
        return Boxes.empty(with_track_id=True)
    return Boxes(np.concatenate(out_frame), np.concatenate(out_box), np.concatenate(out_score), np.concatenate(out_id))
