"""What a tracked person looks like: one descriptor per box, compared between pieces of tracks.

Stitching (grewkit.track.stitch) and the appearance-drift cut (grewkit.track.cuts) need to tell
whether two boxes show the same person. The contract is small so that a re-identification model
can replace the colour histogram: an appearance has ``describe(image, xyxy) -> (n, d)`` float32
rows, each a probability vector per body region (non-negative, each region summing to 1), and
``distance(a, b)`` between two such rows (0: the same, 1: nothing in common).

The default, ``hsv-histogram``, is a hue-saturation histogram plus a brightness histogram of the
upper body (shirt, jacket) and of the legs (trousers, skirt), each from the middle of the box so
the background beside a walker's limbs counts less. It costs a resize and two histograms per box
on the CPU and is robust to the box's size and to the gait, not to a change of light or of view.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import cv2
import numpy as np

from grewkit.core.boxes import Boxes
from grewkit.core.registry import Registry

#: Body regions as (top, bottom) shares of the box height: upper body and legs (head and feet left out:
#: hair and shoes are small and the feet mix with the floor).
REGIONS = ((0.15, 0.5), (0.5, 0.9))
#: The middle of the box's width that is used (a walker's arms and legs swing outside it, and the background).
WIDTH = (0.2, 0.8)


class HsvHistogram:
    """Hue x saturation (8 x 4 bins) and brightness (8 bins) per region; grey and dark pixels, whose hue is
    noise, go to the brightness histogram only."""

    name = "hsv-histogram"
    H_BINS, S_BINS, V_BINS = 8, 4, 8
    SIZE = (24, 64)  # crops are resized first: the same cost and the same statistics at any box size

    @property
    def dim(self) -> int:
        return len(REGIONS) * (self.H_BINS * self.S_BINS + self.V_BINS)

    def describe(self, image: np.ndarray, xyxy: np.ndarray) -> np.ndarray:
        out = np.zeros((len(xyxy), self.dim), np.float32)
        height, width = image.shape[:2]
        per = self.H_BINS * self.S_BINS + self.V_BINS
        cw, ch = self.SIZE[0], self.SIZE[1] // 2
        crops, slots = [], []
        for i, (x1, y1, x2, y2) in enumerate(np.asarray(xyxy, np.float64)):
            w, h = x2 - x1, y2 - y1
            for r, (top, bottom) in enumerate(REGIONS):
                a, b = int(max(0, x1 + WIDTH[0] * w)), int(min(width, x1 + WIDTH[1] * w))
                c, d = int(max(0, y1 + top * h)), int(min(height, y1 + bottom * h))
                if b - a < 2 or d - c < 2:
                    continue
                crops.append(cv2.resize(image[c:d, a:b], (cw, ch), interpolation=cv2.INTER_AREA))
                slots.append(i * len(REGIONS) + r)
        if not crops:
            return out
        # Every crop has the same size, so the colour conversion and the histograms run once over all of
        # them (a frame's dozens of boxes cost a few numpy calls instead of a dozen each); the bins of
        # crop k are offset by k * per, so one bincount counts every histogram.
        hsv = cv2.cvtColor(np.concatenate(crops), cv2.COLOR_BGR2HSV).reshape(len(crops), -1, 3).astype(np.int32)
        hue, sat, val = hsv[..., 0], hsv[..., 1], hsv[..., 2]
        coloured = (sat >= 40) & (val >= 40)
        hs_bins = self.H_BINS * self.S_BINS
        bins = np.where(
            coloured,
            (hue * self.H_BINS // 180) * self.S_BINS + sat * self.S_BINS // 256,
            hs_bins + val * self.V_BINS // 256,
        )
        bins += np.arange(len(crops))[:, None] * per
        hist = np.bincount(bins.reshape(-1), minlength=len(crops) * per).reshape(len(crops), per).astype(np.float32)
        hist /= np.maximum(hist.sum(axis=1, keepdims=True), 1.0)
        out.reshape(-1, per)[slots] = hist
        return out

    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        """Hellinger distance per region, averaged: 0 for equal histograms, 1 for disjoint ones."""
        per = self.H_BINS * self.S_BINS + self.V_BINS
        a, b = np.asarray(a, np.float64).reshape(-1, per), np.asarray(b, np.float64).reshape(-1, per)
        sa, sb = a.sum(axis=1, keepdims=True), b.sum(axis=1, keepdims=True)
        valid = (sa[:, 0] > 0) & (sb[:, 0] > 0)
        bc = np.sqrt(a / np.maximum(sa, 1e-12) * b / np.maximum(sb, 1e-12)).sum(axis=1)
        if not valid.any():
            return 1.0
        return float(np.sqrt(np.clip(1.0 - bc[valid], 0.0, 1.0)).mean())


APPEARANCES: Registry[Callable] = Registry("appearance", {"hsv-histogram": "grewkit.core.appearance:HsvHistogram"})


def describe_tracks(
    tracks: list[Boxes], frames: Callable[[list[int]], Iterable[tuple[int, np.ndarray]]], appearance
) -> list[np.ndarray]:
    """Per track, one descriptor per box. ``frames(indices)`` yields ``(index, BGR image)`` for the increasing
    frame indices asked for (grewkit.core.frames.read_frames over a video, or a MOT sequence's images):
    each frame is decoded once for all the tracks' boxes in it."""
    if not tracks:
        return []
    frame = np.concatenate([t.frame for t in tracks])
    boxes = np.concatenate([t.xyxy for t in tracks])
    out = np.zeros((len(frame), appearance.dim), np.float32)
    order = np.argsort(frame, kind="stable")
    wanted = np.unique(frame)
    starts = np.searchsorted(frame[order], wanted, "left")
    ends = np.searchsorted(frame[order], wanted, "right")
    at = {int(f): (a, b) for f, a, b in zip(wanted, starts, ends)}
    for index, image in _checked(frames([int(f) for f in wanted]), wanted):
        a, b = at[int(index)]
        idx = order[a:b]
        out[idx] = appearance.describe(image, boxes[idx])
    return list(np.split(out, np.cumsum([len(t) for t in tracks])[:-1]))


class KnownDescriptors:
    """Descriptors computed before tracking (by detect, while it had the frame), found again by frame and box.

    A tracker that passes the detections' boxes through (ByteTrack does) yields boxes equal to the
    bit; ``lookup`` answers None as soon as one box is not among them (a tracker that smooths its
    boxes), and the caller describes from the pixels instead (``describe_tracks``).
    """

    def __init__(self, frame: np.ndarray, xyxy: np.ndarray, descriptors: np.ndarray):
        self.descriptors = np.asarray(descriptors, np.float32)
        self._row = {key: i for i, key in enumerate(_box_keys(frame, xyxy))}

    def lookup(self, tracks: list[Boxes]) -> list[np.ndarray] | None:
        out = []
        for t in tracks:
            rows = [self._row.get(key) for key in _box_keys(t.frame, t.xyxy)]
            if None in rows:
                return None
            out.append(self.descriptors[np.asarray(rows, np.int64)].reshape(len(rows), -1))
        return out


def _box_keys(frame: np.ndarray, xyxy: np.ndarray) -> list[tuple[int, bytes]]:
    boxes = np.ascontiguousarray(xyxy, np.float32)
    return [(int(f), b.tobytes()) for f, b in zip(frame, boxes)]


def _checked(items: Iterable[tuple[int, np.ndarray]], wanted: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    seen = 0
    for index, image in items:
        seen += 1
        yield index, image
    if seen != len(wanted):
        raise ValueError(f"{seen} frames read for {len(wanted)} asked for")


def mean_descriptor(descriptors: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """The average of probability vectors (still one per region), optionally weighted per box."""
    if not len(descriptors):
        return np.zeros(descriptors.shape[1:], np.float32)
    w = np.ones(len(descriptors)) if weights is None else np.asarray(weights, np.float64)
    if w.sum() <= 0:
        w = np.ones(len(descriptors))
    return (descriptors * w[:, None]).sum(axis=0).astype(np.float32) / np.float32(w.sum())
