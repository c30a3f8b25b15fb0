"""Cutting tracks where they may change person, so that every kept tracklet is one person.

A GREW sequence must show one person; a tracker that swaps identities at a crossing, or
follows a box that jumps from one walker to another, poisons it. Trackers swap identities
for a few reasons, each of which leaves a trace in the boxes alone (no frames are read):

- crossings: the box overlaps another person's box (another track, or another detection
  at the tracker's ``min_score``) heavily. Those frames, and a few either side (the swap
  shows as the boxes separate), are split off and dropped; the pieces either side are joined
  again by grewkit.track.stitch when motion and appearance agree. A person clearly in front
  (feet lower by ``cut_front_margin`` of their box height) is not cut there: their box is their own
  pixels, and a swap onto the farther person behind shows as a jump in place or height, or as an
  appearance drift, which are cut;
- lone outliers: a box much taller or shorter, or much wider or narrower, than its
  neighbours in the track (a half-body box, or a box on two merged people). It is dropped
  on its own and the track goes on;
- merges: two people who met at a crossing often leave it under one box, taller or wider
  than the track's box before the crossing. Those boxes are dropped until the box shrinks back;
- jumps: the box changes size or shape, or moves further than a walker can, from one
  detected frame to the next and stays changed. The track is cut there in two;
- long gaps: a track the detector lost for a while (often hidden behind someone) and found
  again may have been found on someone else. The track is cut there in two (and joined again by
  grewkit.track.stitch when motion and appearance agree it is the same person);
- appearance drift: the colours in the box change for good while its place and size do not (the
  track slid from one person onto another beside them). The track is cut there in two.

A box covering two people who walk together, with no second box beside it, leaves no trace
in the boxes; unless the two dress differently, what the cuts cannot see, they cannot cut
(docs/benchmarks.md).

Every dropped part becomes a tracklet of its own with ``kept = false`` and the reason, so a
reviewer sees what was thrown away. Cuts depend on the boxes and the pixels in them only, so
reruns give the same pieces and the same ids.
"""

from __future__ import annotations

import numpy as np

from grewkit.core.boxes import Boxes, iou_matrix
from grewkit.track.tracklets import frame_groups, split_by_lengths

CROSSING = "crossing"
OUTLIER = "outlier"
MERGED = "merged"

#: Part of one raw track: its boxes (observed only, before gap filling) and why it is dropped (None: kept).
Piece = tuple[Boxes, str | None]


def crowding(tracks: list[Boxes], detections: Boxes, *, front_margin: float = 0.0) -> list[np.ndarray]:
    """Per track and box, the highest IoU with a box of another person in the same frame.

    Other people are the other tracks' boxes and the detections that no track box matches
    (IoU < 0.7 with every box of the frame): a person the tracker did not follow still hides
    whoever walks behind them. With ``front_margin`` > 0, a box whose feet are lower than the other's
    by more than that many of its own heights is in front of it (a static camera above a ground plane,
    as in estimate_visibility): that overlap does not count for it, only for the one behind.
    """
    frame = np.concatenate([t.frame for t in tracks]) if tracks else np.zeros(0, np.int64)
    boxes = np.concatenate([t.xyxy for t in tracks]).astype(np.float64) if tracks else np.zeros((0, 4))
    owner = np.concatenate([np.full(len(t), i) for i, t in enumerate(tracks)]) if tracks else np.zeros(0, int)
    best = np.zeros(len(frame))
    det_order = np.argsort(detections.frame, kind="stable")
    det_frame, det_xyxy = detections.frame[det_order], detections.xyxy.astype(np.float64)[det_order]
    for idx in frame_groups(frame):
        if not len(idx):
            continue
        f = frame[idx[0]]
        b = boxes[idx]
        a, z = np.searchsorted(det_frame, f, "left"), np.searchsorted(det_frame, f, "right")
        d = det_xyxy[a:z]
        if len(d):
            d = d[iou_matrix(d, b).max(axis=1) < 0.7]
        iou = np.zeros((len(idx), 0))
        if len(idx) > 1:
            m = iou_matrix(b, b)
            m[owner[idx][:, None] == owner[idx][None, :]] = 0.0
            iou = m
        if len(d):
            iou = np.concatenate([iou, iou_matrix(b, d)], axis=1)
        if front_margin > 0 and iou.shape[1]:
            others = np.concatenate(
                [b[: iou.shape[1] - len(d)], d]
            )  # the columns of iou: other tracks, then detections
            height = np.maximum(b[:, 3] - b[:, 1], 1.0)
            iou = np.where(b[:, None, 3] - others[None, :, 3] > front_margin * height[:, None], 0.0, iou)
        if iou.shape[1]:
            best[idx] = iou.max(axis=1)
    return split_by_lengths(best, [len(t) for t in tracks])


def _runs(labels: list) -> list[tuple[int, int]]:
    """[start, end) of the runs of equal labels."""
    cuts = [0] + [i for i in range(1, len(labels)) if labels[i] != labels[i - 1]] + [len(labels)]
    return list(zip(cuts[:-1], cuts[1:]))


def cut_track(
    track: Boxes, crowd: np.ndarray, *, settings, stride: int = 1, gap_frames: int = 0, met: np.ndarray | None = None
) -> list[Piece]:
    """Split one raw track (sorted by frame, one box per frame) into pieces, dropped ones with their reason.

    ``crowd``: per box, the IoU with another person that makes a crossing (people behind left out, see
    crowding); ``met``: the same with everybody (default ``crowd``), for the merge check after any meeting.

    ``stride`` is the detection stride: a gap cuts only when at least one detection was missed.
    ``gap_frames``: the setting ``cut_gap_seconds`` in this video's frames (0: gaps never cut).
    """
    frame, xyxy = track.frame, track.xyxy
    n = len(frame)
    if n == 0:
        return []
    w = np.maximum(xyxy[:, 2] - xyxy[:, 0], 1e-3).astype(np.float64)
    h = np.maximum(xyxy[:, 3] - xyxy[:, 1], 1e-3).astype(np.float64)
    label = np.array([""] * n, dtype=object)
    # Crossings, widened by a margin in frames on either side.
    meeting = np.zeros(n, bool)
    if settings.cut_overlap_iou > 0:

        def near(values: np.ndarray) -> np.ndarray:
            hit = frame[values >= settings.cut_overlap_iou]
            if not len(hit):
                return np.zeros(n, bool)
            return np.abs(frame[:, None] - hit[None, :]).min(axis=1) <= settings.cut_margin_frames

        label[near(crowd)] = CROSSING
        meeting = near(crowd if met is None else met)
    # Merges: two people who met often leave under one box (the detector sees one taller or wider blob).
    # During and after a meeting (also one this box was in front at), boxes much bigger than the track's
    # box before it are dropped until they shrink back.
    jump_h, jump_w = np.log1p(settings.cut_height_jump), np.log1p(settings.cut_width_jump)
    meetings = np.flatnonzero(meeting)
    if len(meetings):
        starts = meetings[np.r_[True, np.diff(meetings) > 1]]
        ends = meetings[np.r_[np.diff(meetings) > 1, True]] + 1
        for a, b in zip(starts, ends):
            ref = a - 1 if a > 0 else a
            for i in range(a, n):
                if label[i] == CROSSING and i < b:
                    continue
                if label[i]:
                    break
                if np.log(h[i] / h[ref]) > jump_h or np.log(w[i] / w[ref]) > jump_w:
                    label[i] = MERGED
                elif i >= b:
                    break
                else:
                    ref = i  # in front during the meeting: the reference follows a walker who nears the camera
    # Jumps: a box that differs too much from the last accepted one in height, width or position. When the
    # next box agrees with it (and not with the old one), the change persists: the track is cut there.
    # Otherwise it is a lone outlier (a half-body box, a box on two people for a frame): dropped alone.
    cx, cy = (xyxy[:, 0] + xyxy[:, 2]) / 2, (xyxy[:, 1] + xyxy[:, 3]) / 2

    def differ(i: int, j: int) -> bool:
        steps = max(1, abs(int(frame[i] - frame[j])))
        shift = float(np.hypot(cx[i] - cx[j], cy[i] - cy[j])) / max(h[i], h[j])
        return (
            abs(np.log(h[i] / h[j])) > jump_h
            or abs(np.log(w[i] / w[j])) > jump_w
            or shift > settings.cut_max_shift * steps
        )

    piece, prev = 0, None
    labels: list = []
    for i in range(n):
        if label[i] in (CROSSING, MERGED):
            # A crossing ends the piece: who comes out of it is not known.
            if prev is not None:
                piece, prev = piece + 1, None
            labels.append(label[i])
            continue
        if prev is not None and gap_frames and frame[i] - frame[prev] > max(gap_frames, stride):
            # Found again after a long gap (often hidden behind someone): maybe not the same person.
            piece += 1
        elif prev is not None and differ(i, prev):
            nxt = i + 1 if i + 1 < n and not label[i + 1] else None
            # Two outliers in a row: the old box is no reference any more, so start afresh.
            if (nxt is not None and differ(nxt, prev) and not differ(nxt, i)) or labels[-1] == OUTLIER:
                piece += 1
            else:
                labels.append(OUTLIER)
                continue
        prev = i
        labels.append(piece)
    out = []
    for a, b in _runs(labels):
        if labels[a] == CROSSING:
            out.append(
                (
                    track[a:b],
                    f"crossing: overlaps another person's box (IoU >= {settings.cut_overlap_iou:g}, "
                    f"+/- {settings.cut_margin_frames} frames)",
                )
            )
        elif labels[a] == MERGED:
            out.append(
                (
                    track[a:b],
                    f"merged: after a crossing, the box is taller or wider than before it by more "
                    f"than {settings.cut_height_jump:.0%} / {settings.cut_width_jump:.0%} "
                    "(two people under one box)",
                )
            )
        elif labels[a] == OUTLIER:
            out.append(
                (
                    track[a:b],
                    f"outlier box: height, width or place off the boxes either side (by more than "
                    f"{settings.cut_height_jump:.0%} / {settings.cut_width_jump:.0%} / "
                    f"{settings.cut_max_shift:g} box heights a frame)",
                )
            )
    for p in sorted({x for x in labels if isinstance(x, int)}):
        sel = np.array([x == p if isinstance(x, int) else False for x in labels])
        out.append((track[sel], None))
    return out


def cut_tracks(
    tracks: list[Boxes], detections: Boxes, *, settings, stride: int = 1, gap_frames: int = 0
) -> list[Piece]:
    """Cut every raw track of one video; ``detections`` are the video's detections the tracker was given."""
    crowd = crowding(tracks, detections, front_margin=settings.cut_front_margin)
    met = crowding(tracks, detections) if settings.cut_front_margin > 0 else crowd
    return [
        p
        for t, c, m in zip(tracks, crowd, met)
        for p in cut_track(t, c, settings=settings, stride=stride, gap_frames=gap_frames, met=m)
    ]


def drift_points(descriptors: np.ndarray, *, window: int, threshold: float, appearance) -> list[int]:
    """Where a piece's look changes for good: box indices that split it into parts whose mean descriptors
    differ by more than ``threshold`` (binary segmentation: the most different split first, then again
    within each part), each part at least ``window`` boxes long. A track that slid from one person onto
    another in the same place and at the same size, which the boxes alone cannot show, is cut there;
    whole parts are compared, not the boxes either side, so a few frames of partial occlusion do not cut."""
    n = len(descriptors)
    if threshold <= 0 or n < 2 * window:
        return []
    cum = np.concatenate([np.zeros((1, descriptors.shape[1])), np.cumsum(descriptors, axis=0, dtype=np.float64)])

    def best(a: int, b: int) -> list[int]:
        if b - a < 2 * window:
            return []
        d, k = max(
            (appearance.distance((cum[k] - cum[a]) / (k - a), (cum[b] - cum[k]) / (b - k)), k)
            for k in range(a + window, b - window + 1)
        )
        return best(a, k) + [k] + best(k, b) if d > threshold else []

    return best(0, n)
