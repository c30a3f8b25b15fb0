"""From raw tracks to tracklets: stable numbering, gap filling, visibility and quality verdicts.

Tracklet ids must not depend on the tracker's internal counter (which differs between
libraries and versions): tracks are numbered 1, 2, ... by first frame, then position, so the
same detections always give the same ids.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from grewkit.track.bytetrack import RawTracks
from grewkit.track.trackers import TRACKERS


@dataclass
class Tracklet:
    number: int
    frame: np.ndarray          # every frame from start to end that has a box (gaps filled up to max_gap)
    xyxy: np.ndarray
    score: np.ndarray          # NaN for interpolated boxes
    visibility: np.ndarray | None = None
    reasons: list[str] | None = None

    @property
    def heights(self) -> np.ndarray:
        return self.xyxy[:, 3] - self.xyxy[:, 1]


def _fill_gaps(frame: np.ndarray, xyxy: np.ndarray, score: np.ndarray, max_gap: int):
    """Linear interpolation over gaps of at most ``max_gap`` missing frames; longer gaps stay gaps."""
    if len(frame) < 2 or max_gap <= 0:
        return frame, xyxy, score
    frames, boxes, scores = [frame[:1]], [xyxy[:1]], [score[:1]]
    for i in range(1, len(frame)):
        missing = int(frame[i] - frame[i - 1] - 1)
        if 0 < missing <= max_gap:
            t = (np.arange(1, missing + 1, dtype=np.float32) / (missing + 1))[:, None]
            frames.append(np.arange(frame[i - 1] + 1, frame[i], dtype=np.int64))
            boxes.append(xyxy[i - 1] * (1 - t) + xyxy[i] * t)
            scores.append(np.full(missing, np.nan, np.float32))
        frames.append(frame[i:i + 1])
        boxes.append(xyxy[i:i + 1])
        scores.append(score[i:i + 1])
    return np.concatenate(frames), np.concatenate(boxes).astype(np.float32), np.concatenate(scores)


def build_tracklets(raw: RawTracks, *, max_gap: int, cut_settings=None,
                    detections: tuple[np.ndarray, np.ndarray] | None = None, stride: int = 1) -> list[Tracklet]:
    """Raw tracks to numbered tracklets; with ``cut_settings``, first cut where a track may change person.

    ``detections`` (frames, xyxy) are what the tracker was given: a detection no track follows
    still counts as a person at a crossing. Dropped pieces come back as tracklets with ``reasons``.
    """
    from grewkit.track.cuts import Piece, cut_tracks

    groups = []
    for tid in np.unique(raw.track_id):
        sel = np.flatnonzero(raw.track_id == tid)
        sel = sel[np.argsort(raw.frame[sel], kind="stable")]
        frame, xyxy, score = raw.frame[sel], raw.xyxy[sel], raw.score[sel]
        # A tracker returns at most one box per track and frame; keep the first if one ever repeats.
        first = np.concatenate([[True], np.diff(frame) > 0])
        groups.append((frame[first], xyxy[first], score[first]))
    if cut_settings is not None:
        det_frame, det_xyxy = detections if detections is not None else (np.zeros(0, np.int64), np.zeros((0, 4)))
        pieces = cut_tracks(groups, det_frame, det_xyxy, settings=cut_settings, stride=stride)
    else:
        pieces = [Piece(f, b, s) for f, b, s in groups]
    filled = [(*_fill_gaps(p.frame, p.xyxy, p.score, max_gap if p.reason is None else 0), p.reason) for p in pieces]
    filled.sort(key=lambda g: (int(g[0][0]), float(g[1][0, 0]), float(g[1][0, 1]), len(g[0]), g[3] or ""))
    return [Tracklet(i + 1, f, b, s, reasons=[r] if r else None) for i, (f, b, s, r) in enumerate(filled)]


def track_detections(frames: np.ndarray, xyxy: np.ndarray, scores: np.ndarray, *, detected_frames: np.ndarray,
                     fps: float, settings, stride: int = 1, cut: bool = False) -> list[Tracklet]:
    """One video's detections through the configured tracker (ByteTrack by default) into numbered, gap-filled
    tracklets; with ``cut``, also the identity-switch cuts. The track stage and the MOT benchmarks both track
    through here."""
    frames, xyxy, scores = np.asarray(frames), np.asarray(xyxy), np.asarray(scores)
    raw = TRACKERS.get(settings.tracker)(frames, xyxy, scores, detected_frames=detected_frames, fps=fps,
                                         settings=settings)
    given = scores >= settings.min_score  # what the tracker was given (trackers drop the rest)
    return build_tracklets(raw, max_gap=max(settings.max_gap, stride - 1), cut_settings=settings if cut else None,
                           detections=(frames[given], xyxy[given]), stride=stride)


def frame_groups(frame: np.ndarray) -> list[np.ndarray]:
    """Indices into ``frame`` grouped by frame number, lowest first, each group in input order: the boxes of
    several tracks concatenated, one group per video frame."""
    order = np.argsort(frame, kind="stable")
    return np.split(order, np.flatnonzero(np.diff(frame[order])) + 1)


def split_by_lengths(values: np.ndarray, lengths: list[int]) -> list[np.ndarray]:
    """The inverse of concatenating per-track arrays: ``values`` cut back into pieces of ``lengths``."""
    return np.split(values, np.cumsum(lengths)[:-1].astype(int)) if lengths else []


def estimate_visibility(tracklets: list[Tracklet]) -> None:
    """Per box, the share not covered by the box of a person nearer the camera (lower feet) in the same frame.

    On a static camera looking down at a ground plane, the box whose bottom edge is lower in the
    image is nearer, so it hides the other. Only the most-covering front box counts: cheap, and
    close enough to rank tracklets as mostly visible or mostly hidden.
    """
    if not tracklets:
        return
    frame = np.concatenate([t.frame for t in tracklets])
    boxes = np.concatenate([t.xyxy for t in tracklets]).astype(np.float64)
    vis = np.ones(len(frame), np.float32)
    for idx in frame_groups(frame):
        if len(idx) < 2:
            continue
        b = boxes[idx]
        x1 = np.maximum(b[:, None, 0], b[None, :, 0])
        y1 = np.maximum(b[:, None, 1], b[None, :, 1])
        x2 = np.minimum(b[:, None, 2], b[None, :, 2])
        y2 = np.minimum(b[:, None, 3], b[None, :, 3])
        inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
        area = np.maximum((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]), 1e-6)
        in_front = b[None, :, 3] > b[:, None, 3]     # [i, j]: j's feet are lower, so j is nearer
        covered = np.where(in_front, inter / area[:, None], 0.0).max(axis=1)
        vis[idx] = (1.0 - covered).astype(np.float32)
    for t, v in zip(tracklets, split_by_lengths(vis, [len(t.frame) for t in tracklets])):
        t.visibility = v


def judge(t: Tracklet, *, fps: float, width: int, height: int, settings) -> list[str]:
    """Every quality filter the tracklet fails, as readable reasons; empty when it is kept."""
    reasons = []
    min_frames = max(1, math.ceil(settings.min_seconds * fps))
    if len(t.frame) < min_frames:
        reasons.append(f"too short: {len(t.frame)} frames (< {min_frames} = {settings.min_seconds:g} s)")
    h = float(np.median(t.heights))
    if h < settings.min_box_height:
        reasons.append(f"boxes too small: median height {h:.0f} px (< {settings.min_box_height:g})")
    m = settings.border_margin
    touch = ((t.xyxy[:, 0] <= m) | (t.xyxy[:, 1] <= m) | (t.xyxy[:, 2] >= width - m) | (t.xyxy[:, 3] >= height - m))
    if touch.mean() > settings.max_border_fraction:
        reasons.append(f"truncated at the frame border: in {touch.mean():.0%} of frames "
                       f"(> {settings.max_border_fraction:.0%})")
    if t.visibility is not None:
        occluded = (t.visibility < settings.min_visibility).mean()
        if occluded > settings.max_occluded_fraction:
            reasons.append(f"too occluded: less than {settings.min_visibility:.0%} visible in {occluded:.0%} of frames "
                           f"(> {settings.max_occluded_fraction:.0%})")
    feet = np.stack([(t.xyxy[:, 0] + t.xyxy[:, 2]) / 2, t.xyxy[:, 3]], axis=1)
    travel = float(np.hypot(*(feet.max(axis=0) - feet.min(axis=0)))) / max(h, 1.0)
    if travel < settings.min_travel:
        reasons.append(f"too static to be walking: feet moved {travel:.2f} box heights (< {settings.min_travel:g})")
    return reasons
