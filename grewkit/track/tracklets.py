"""From raw tracks to tracklets: stable numbering, gap filling, visibility and quality verdicts.

Tracklet ids must not depend on the tracker's internal counter (which differs between
libraries and versions): tracks are numbered 1, 2, ... by first frame, then position, so the
same detections always give the same ids.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from grewkit.core.boxes import Boxes
from grewkit.track.trackers import TRACKERS


@dataclass
class Tracklet:
    """A numbered tracklet: its boxes (every frame from start to end that has one, gaps filled up to
    max_gap; NaN scores for interpolated boxes), per-box visibility once estimated, and why it is dropped."""

    number: int
    boxes: Boxes
    visibility: np.ndarray | None = None
    reasons: list[str] | None = None

    @property
    def frame(self) -> np.ndarray:
        return self.boxes.frame

    @property
    def xyxy(self) -> np.ndarray:
        return self.boxes.xyxy

    @property
    def score(self) -> np.ndarray:
        return self.boxes.score

    @property
    def heights(self) -> np.ndarray:
        return self.boxes.heights


def _fill_gaps(track: Boxes, max_gap: int) -> Boxes:
    """Linear interpolation over gaps of at most ``max_gap`` missing frames; longer gaps stay gaps."""
    frame, xyxy, score = track.frame, track.xyxy, track.score
    if len(frame) < 2 or max_gap <= 0:
        return track
    frames, boxes, scores = [frame[:1]], [xyxy[:1]], [score[:1]]
    for i in range(1, len(frame)):
        missing = int(frame[i] - frame[i - 1] - 1)
        if 0 < missing <= max_gap:
            t = (np.arange(1, missing + 1, dtype=np.float32) / (missing + 1))[:, None]
            frames.append(np.arange(frame[i - 1] + 1, frame[i], dtype=np.int64))
            boxes.append(xyxy[i - 1] * (1 - t) + xyxy[i] * t)
            scores.append(np.full(missing, np.nan, np.float32))
        frames.append(frame[i : i + 1])
        boxes.append(xyxy[i : i + 1])
        scores.append(score[i : i + 1])
    return Boxes(np.concatenate(frames), np.concatenate(boxes), np.concatenate(scores))


def build_tracklets(
    raw: Boxes,
    *,
    max_gap: int,
    cut_settings=None,
    detections: Boxes | None = None,
    stride: int = 1,
    fps: float | None = None,
    stitch_settings=None,
    frames=None,
    known=None,
    frame_size: tuple[int, int] | None = None,
) -> list[Tracklet]:
    """Raw tracks (boxes with the tracker's ids) to numbered tracklets; with ``cut_settings``, first cut
    where a track may change person; with ``stitch_settings`` and ``frames``, then cut where a kept piece's
    appearance drifts and join the kept pieces of one person (grewkit.track.stitch); with ``cut_settings``
    and ``frame_size`` (width, height), last split off the truncated ends of kept pieces (trim_border_ends).

    ``detections`` are what the tracker was given: a detection no track follows still counts as a
    person at a crossing. Dropped pieces come back as tracklets with ``reasons``. ``max_gap`` is in frames;
    the cuts' durations are seconds, so cutting needs the video's ``fps``. ``frames(indices)`` yields
    ``(index, BGR image)`` for increasing frame indices (the appearance is read from the pixels);
    ``known`` (grewkit.core.appearance.KnownDescriptors): descriptors detect already computed, used
    instead of reading the frames when they cover every box.
    """
    from grewkit.track.cuts import cut_tracks

    groups = []
    for tid in np.unique(raw.track_id):
        sel = np.flatnonzero(raw.track_id == tid)
        track = raw[sel[np.argsort(raw.frame[sel], kind="stable")]]
        # A tracker returns at most one box per track and frame; keep the first if one ever repeats.
        first = np.concatenate([[True], np.diff(track.frame) > 0])
        groups.append(Boxes(track.frame[first], track.xyxy[first], track.score[first]))
    if cut_settings is not None:
        if fps is None:
            raise ValueError("cutting tracks needs the video's fps")
        pieces = cut_tracks(
            groups,
            detections if detections is not None else Boxes.empty(),
            settings=cut_settings,
            stride=stride,
            gap_frames=cut_settings.frames(cut_settings.cut_gap_seconds, fps),
        )
    else:
        pieces = [(g, None) for g in groups]
    if stitch_settings is not None and frames is not None and stitch_settings.stitch:
        if fps is None:
            raise ValueError("stitching tracks needs the video's fps")
        pieces = associate(
            pieces,
            detections if detections is not None else Boxes.empty(),
            settings=stitch_settings,
            fps=fps,
            stride=stride,
            frames=frames,
            drift=cut_settings is not None,
            known=known,
        )
    if cut_settings is not None and frame_size is not None and cut_settings.trim_border_ends:
        pieces = [
            part
            for boxes, reason in pieces
            for part in (
                trim_border_ends(boxes, frame_size, margin=cut_settings.border_margin)
                if reason is None
                else [(boxes, reason)]
            )
        ]
    filled = [(_fill_gaps(b, max_gap if reason is None else 0), reason) for b, reason in pieces]
    filled.sort(
        key=lambda g: (int(g[0].frame[0]), float(g[0].xyxy[0, 0]), float(g[0].xyxy[0, 1]), len(g[0]), g[1] or "")
    )
    return [Tracklet(i + 1, b, reasons=[r] if r else None) for i, (b, r) in enumerate(filled)]


#: Why a truncated end of a kept piece is dropped (trim_border_ends).
TRUNCATED_END = "truncated end: the box touches the frame border (a person entering or leaving the frame)"


def touches_border(xyxy: np.ndarray, frame_size: tuple[int, int], *, margin: float) -> np.ndarray:
    """Per box, whether it lies within ``margin`` pixels of an edge of a ``frame_size`` (width, height) frame."""
    width, height = frame_size
    return (
        (xyxy[:, 0] <= margin)
        | (xyxy[:, 1] <= margin)
        | (xyxy[:, 2] >= width - margin)
        | (xyxy[:, 3] >= height - margin)
    )


def trim_border_ends(boxes: Boxes, frame_size: tuple[int, int], *, margin: float) -> list:
    """A kept piece ``(boxes, None)`` without the runs of boxes at its start and end that touch the frame border,
    those runs as dropped pieces with their reason.

    A person walking into or out of the frame is boxed only where they are inside it: the box is clipped to the
    frame, so it holds part of a body and its height and feet are wrong for a gait sequence (on TUD-Campus,
    boxes of people leaving the frame were the largest share of the loose boxes in kept tracklets, and a track
    that lingers on the edge after its person left jumps onto whoever walks in next). Only the ends are trimmed:
    a person who touches the border in the middle of a walk stays whole, and one who walks along the border is
    the whole-tracklet filter's case (``max_border_fraction``, judge)."""
    touch = touches_border(boxes.xyxy, frame_size, margin=margin)
    inside = np.flatnonzero(~touch)
    if not len(inside):
        return [(boxes, TRUNCATED_END)]
    first, last = int(inside[0]), int(inside[-1]) + 1
    parts = [(boxes[first:last], None)]
    if first:
        parts.append((boxes[:first], TRUNCATED_END))
    if last < len(boxes):
        parts.append((boxes[last:], TRUNCATED_END))
    return parts


def associate(
    pieces: list, detections: Boxes, *, settings, fps: float, stride: int, frames, drift: bool, known=None
) -> list:
    """The offline pass over one video's pieces ``(boxes, reason)``: with ``drift``, kept pieces are cut
    where their appearance changes for good; then kept pieces of one person are joined. Dropped pieces
    pass through untouched."""
    from grewkit.core.appearance import APPEARANCES, describe_tracks
    from grewkit.track.cuts import crowding, drift_points
    from grewkit.track.stitch import join, stitch

    appearance = APPEARANCES.get(settings.appearance)()
    kept = [b for b, reason in pieces if reason is None]
    dropped = [(b, reason) for b, reason in pieces if reason is not None]
    descriptors = known.lookup(kept) if known is not None else None
    if descriptors is None:
        descriptors = describe_tracks(kept, frames, appearance)
    if drift and settings.cut_appearance_drift > 0:
        window = max(3, settings.frames(settings.stitch_window_seconds, fps) // max(stride, 1))
        split, split_desc = [], []
        for b, d in zip(kept, descriptors):
            points = drift_points(d, window=window, threshold=settings.cut_appearance_drift, appearance=appearance)
            for lo, hi in zip([0, *points], [*points, len(b)]):
                split.append(b[lo:hi])
                split_desc.append(d[lo:hi])
        kept, descriptors = split, split_desc
    crowds = crowding(kept, detections)
    chains = stitch(kept, descriptors, crowds, settings=settings, fps=fps, appearance=appearance)
    # Filling needs the cuts: an uncut piece may end on a crossing or a merged box, and a line drawn from there
    # lands on whoever was in front (TUD-Campus whole trajectories: MOTA 65.2 -> 61.3 %, docs/benchmarks.md).
    fill = settings.frames(settings.stitch_fill_seconds, fps) if drift else 0
    return [(join([kept[i] for i in chain], fill=fill), None) for chain in chains] + dropped


def track_detections(
    detections: Boxes,
    *,
    detected_frames: np.ndarray,
    fps: float,
    settings,
    stride: int = 1,
    cut: bool = False,
    frames=None,
    known=None,
    frame_size: tuple[int, int] | None = None,
) -> list[Tracklet]:
    """One video's detections through the configured tracker (ByteTrack by default) into numbered, gap-filled
    tracklets; with ``cut``, also the identity-switch cuts; with ``frames`` (and ``known``, see build_tracklets), the
    offline association that joins the pieces of one person; with ``cut`` and ``frame_size`` (width, height), the
    truncated ends trimmed. The track stage and the MOT benchmarks both track through here."""
    raw = TRACKERS.get(settings.tracker)(detections, detected_frames=detected_frames, fps=fps, settings=settings)
    given = detections[detections.score >= settings.min_score]  # what the tracker was given (trackers drop the rest)
    return build_tracklets(
        raw,
        max_gap=max(settings.frames(settings.max_gap_seconds, fps), stride - 1),
        cut_settings=settings if cut else None,
        detections=given,
        stride=stride,
        fps=fps,
        stitch_settings=settings,
        frames=frames,
        known=known,
        frame_size=frame_size,
    )


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
        in_front = b[None, :, 3] > b[:, None, 3]  # [i, j]: j's feet are lower, so j is nearer
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
    touch = touches_border(t.xyxy, (width, height), margin=settings.border_margin)
    if touch.mean() > settings.max_border_fraction:
        reasons.append(
            f"truncated at the frame border: in {touch.mean():.0%} of frames (> {settings.max_border_fraction:.0%})"
        )
    if t.visibility is not None:
        occluded = (t.visibility < settings.min_visibility).mean()
        if occluded > settings.max_occluded_fraction:
            reasons.append(
                f"too occluded: less than {settings.min_visibility:.0%} visible in {occluded:.0%} of frames "
                f"(> {settings.max_occluded_fraction:.0%})"
            )
    feet = np.stack([(t.xyxy[:, 0] + t.xyxy[:, 2]) / 2, t.xyxy[:, 3]], axis=1)
    travel = float(np.hypot(*(feet.max(axis=0) - feet.min(axis=0)))) / max(h, 1.0)
    scale = size_change(t.heights)
    if travel < settings.min_travel and not (settings.min_size_change > 0 and scale >= settings.min_size_change):
        reasons.append(
            f"too static to be walking: feet moved {travel:.2f} box heights (< {settings.min_travel:g}) and the box "
            f"changed size by {scale:.0%} (< {settings.min_size_change:.0%})"
        )
    return reasons


def size_change(heights: np.ndarray) -> float:
    """How much bigger (or smaller) the box is at the end than at the start: the ratio of the median heights of
    the last and first thirds, minus one, the larger way round (0.25: a quarter bigger or smaller).

    A walker heading towards or away from the camera hardly moves across the image, but grows or shrinks: at
    distance Z the box changes by about (speed x time) / Z, 1.4 m/s over 1 s at 7 m = 20 %. Medians over
    thirds, so that single bad boxes do not count."""
    n = len(heights)
    if n < 3:
        return 0.0
    k = max(1, n // 3)
    first, last = float(np.median(heights[:k])), float(np.median(heights[-k:]))
    return math.exp(abs(math.log(max(last, 1e-6) / max(first, 1e-6)))) - 1.0
