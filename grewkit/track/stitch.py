"""Offline association: joining the pieces of one person that the online tracker lost and found again.

ByteTrack decides frame by frame; a person it loses for longer than its buffer (hidden behind
someone, missed by the detector for a few frames) comes back under a new id, and the cuts of
grewkit.track.cuts split tracks on purpose where the person may have changed. Dataset
construction sees the whole video, so it can look at both sides of each break at once: piece B
continues piece A when

- B starts after A ends, within ``stitch_max_gap_seconds``;
- A's motion, extrapolated forward at constant velocity to B's first frame, lands on B, and B's
  motion extrapolated backward lands on A (feet position, in box heights; the tolerance grows
  with the gap);
- the box height agrees (within ``cut_height_jump``, the cuts' own limit);
- they look alike: the appearance descriptors (grewkit.core.appearance) of A's last and B's
  first second, from boxes not at a crossing, are closer than ``stitch_max_distance``.

Candidate links are taken greedily, best first, each piece continuing at most one and continued
by at most one, so the result does not depend on the order of the pieces. Only pieces that are
kept are joined; dropped ones keep their reasons.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from grewkit.core.appearance import mean_descriptor
from grewkit.core.boxes import Boxes


@dataclass(frozen=True)
class End:
    """One end of a piece, smoothed: frame, feet x / y, log box height and their speeds per frame."""

    frame: int
    x: float
    y: float
    log_h: float
    vx: float
    vy: float
    descriptor: np.ndarray

    def at(self, frame: int) -> tuple[float, float, float]:
        dt = frame - self.frame
        return self.x + self.vx * dt, self.y + self.vy * dt, self.log_h


def piece_end(boxes: Boxes, descriptors: np.ndarray, crowd: np.ndarray, *, last: bool, window: int) -> End:
    """The motion and appearance of a piece at its first (``last=False``) or last video frames.

    The line is fitted over the boxes within ``window`` frames of that end; a piece shorter than three
    boxes there has no speed (a walker's speed from two boxes is mostly box noise). The descriptor
    averages those boxes, weighting boxes at a crossing (``crowd``: IoU with another person) down.
    """
    frame = boxes.frame
    sel = frame >= frame[-1] - window if last else frame <= frame[0] + window
    f = frame[sel].astype(np.float64)
    xyxy = boxes.xyxy[sel].astype(np.float64)
    x, y = (xyxy[:, 0] + xyxy[:, 2]) / 2, xyxy[:, 3]
    log_h = np.log(np.maximum(xyxy[:, 3] - xyxy[:, 1], 1.0))
    ref = int(frame[-1] if last else frame[0])
    if len(f) >= 3 and f.max() - f.min() >= 2:
        vx, x0 = np.polyfit(f - ref, x, 1)
        vy, y0 = np.polyfit(f - ref, y, 1)
    else:
        vx = vy = 0.0
        x0, y0 = float(np.median(x)), float(np.median(y))
    weights = np.where(crowd[sel] > 0.1, 0.1, 1.0)
    return End(
        ref,
        float(x0),
        float(y0),
        float(np.median(log_h)),
        float(vx),
        float(vy),
        mean_descriptor(descriptors[sel], weights),
    )


def link_cost(a: End, b: End, *, settings, fps: float, appearance) -> float | None:
    """How well piece B's start continues piece A's end (lower is better; None: not the same person)."""
    gap = b.frame - a.frame
    if gap < 1 or gap > settings.frames(settings.stitch_max_gap_seconds, fps):
        return None
    if abs(a.log_h - b.log_h) > math.log1p(settings.cut_height_jump):
        return None
    h = math.exp((a.log_h + b.log_h) / 2)
    tolerance = settings.stitch_max_error + settings.stitch_error_per_second * gap / fps
    fx, fy, _ = a.at(b.frame)
    bx, by, _ = b.at(a.frame)
    forward = math.hypot(fx - b.x, fy - b.y) / h
    backward = math.hypot(bx - a.x, by - a.y) / h
    if max(forward, backward) > tolerance:
        return None
    distance = appearance.distance(a.descriptor, b.descriptor)
    if distance > settings.stitch_max_distance:
        return None
    return (forward + backward) / (2 * tolerance) + distance / settings.stitch_max_distance


def stitch(
    pieces: list[Boxes], descriptors: list[np.ndarray], crowds: list[np.ndarray], *, settings, fps: float, appearance
) -> list[list[int]]:
    """Chains of piece indices (each in time order) that are one person; every piece is in exactly one chain."""
    window = max(2, settings.frames(settings.stitch_window_seconds, fps))
    starts = [piece_end(p, d, c, last=False, window=window) for p, d, c in zip(pieces, descriptors, crowds)]
    ends = [piece_end(p, d, c, last=True, window=window) for p, d, c in zip(pieces, descriptors, crowds)]
    links = []
    # Only the starts within the gap window of each end are candidates: linear in the pieces of a long video.
    order = sorted(range(len(starts)), key=lambda k: starts[k].frame)
    start_frames = np.array([starts[k].frame for k in order], np.int64)
    max_gap = settings.frames(settings.stitch_max_gap_seconds, fps)
    for i, a in enumerate(ends):
        lo = int(np.searchsorted(start_frames, a.frame + 1, side="left"))
        hi = int(np.searchsorted(start_frames, a.frame + max_gap, side="right"))
        for j in (order[k] for k in range(lo, hi)):
            b = starts[j]
            if i != j:
                cost = link_cost(a, b, settings=settings, fps=fps, appearance=appearance)
                if cost is not None:
                    links.append((cost, i, j))
    nxt: dict[int, int] = {}
    prev: dict[int, int] = {}
    for _, i, j in sorted(links):
        if i not in nxt and j not in prev:
            nxt[i], prev[j] = j, i
    chains = []
    for i in sorted(range(len(pieces)), key=lambda k: (int(pieces[k].frame[0]), k)):
        if i in prev:
            continue
        chain = [i]
        while chain[-1] in nxt:
            chain.append(nxt[chain[-1]])
        chains.append(chain)
    return chains


def join(pieces: list[Boxes], *, fill: int = 0) -> Boxes:
    """The boxes of a chain of pieces as one track (they do not share frames: each starts after the last ends).

    With ``fill`` > 0, a gap of at most that many frames between two joined pieces is filled by linear interpolation (score NaN: null in
    the boxes manifest), so a person stitched across a crossing or a miss has a box in every frame; the
    stitcher has already checked that the motion either side agrees, which is what interpolation assumes.
    Gaps inside a piece are left to ``max_gap_seconds``."""
    if len(pieces) == 1:
        return pieces[0]
    parts = [pieces[0]]
    for a, b in zip(pieces, pieces[1:]):
        missing = int(b.frame[0] - a.frame[-1] - 1)
        if 0 < missing <= fill:
            t = (np.arange(1, missing + 1, dtype=np.float32) / (missing + 1))[:, None]
            parts.append(
                Boxes(
                    np.arange(a.frame[-1] + 1, b.frame[0], dtype=np.int64),
                    (a.xyxy[-1] * (1 - t) + b.xyxy[0] * t).astype(np.float32),
                    np.full(missing, np.nan, np.float32),
                )
            )
        parts.append(b)
    return Boxes.concat(parts)
