"""MOTChallenge sequences on disk (``img1/*.jpg``, ``gt/gt.txt``, ``det/det.txt``), for benchmarks and quality tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from grewkit.core.errors import GrewkitError
from grewkit.detect.base import Detector
from grewkit.bench.mot import DetectionEvaluator, MotRows, read_mot
from grewkit.track.tracklets import Tracklet, track_detections


@dataclass(frozen=True)
class MotSequence:
    root: Path
    frames: list[Path]
    gt: MotRows
    fps: float = 25.0

    @classmethod
    def open(cls, root: str | Path, *, fps: float = 25.0) -> "MotSequence":
        root = Path(root)
        frames = sorted((root / "img1").glob("*.jpg"))
        if not frames:
            raise GrewkitError("no img1/*.jpg frames", path=root)
        return cls(root, frames, read_mot(root / "gt" / "gt.txt"), fps)

    def public_detections(self) -> MotRows:
        return read_mot(self.root / "det" / "det.txt")

    def images(self, stride: int = 1):
        """(0-based frame index, BGR image); MOT files number frames from 1."""
        for i in range(0, len(self.frames), stride):
            yield i, cv2.imread(str(self.frames[i]))


def detect_sequence(seq: MotSequence, detector: Detector, *, min_score: float, min_height: float = 0.0,
                    stride: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run a detector over the sequence; returns 0-based frames, xyxy and scores of every kept box."""
    detector.reset()
    frames, boxes, scores = [], [], []
    for i, image in seq.images(stride):
        b = detector.detect(image).filter(min_score=min_score, min_height=min_height)
        frames.append(np.full(len(b), i, np.int64))
        boxes.append(b.xyxy)
        scores.append(b.scores)
    return np.concatenate(frames), np.concatenate(boxes), np.concatenate(scores)


def detection_scores(seq: MotSequence, frames, xyxy, scores, *, threshold: float, iou: float = 0.5) -> dict:
    ev = DetectionEvaluator(iou=iou)
    for i in range(len(seq.frames)):
        _, g, _ = seq.gt.at(i + 1)
        sel = (frames == i) & (scores >= threshold)
        ev.process(g, xyxy[sel])
    return ev.evaluate()


def track_sequence(frames, xyxy, scores, *, n_frames: int, fps: float, settings, stride: int = 1,
                   cut: bool = False) -> list[Tracklet]:
    """ByteTrack + grewkit's tracklet building; with ``cut``, also the identity-switch cuts of the track stage."""
    return track_detections(frames, xyxy, scores, detected_frames=np.arange(0, n_frames, stride), fps=fps,
                            settings=settings, stride=stride, cut=cut)


def tracklets_to_mot(tracklets: list[Tracklet]) -> MotRows:
    """Tracklets as MOT rows with 1-based frames, the tracklet number as id."""
    if not tracklets:
        return MotRows(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 4), np.float32), np.zeros(0, np.float32))
    return MotRows(
        np.concatenate([t.frame for t in tracklets]) + 1,
        np.concatenate([np.full(len(t.frame), t.number) for t in tracklets]),
        np.concatenate([t.xyxy for t in tracklets]),
        np.nan_to_num(np.concatenate([t.score for t in tracklets]), nan=0.0),
    )


def track_to_mot(frames, xyxy, scores, *, n_frames: int, fps: float, settings, stride: int = 1) -> MotRows:
    """ByteTrack + grewkit's tracklet building (numbering, gap filling) as MOT rows with 1-based frames.

    The identity-switch cuts are left out on purpose: MOT metrics score whole trajectories, and
    the cuts split them deliberately to make one-person sequences (their figure is purity).
    """
    return tracklets_to_mot(track_sequence(frames, xyxy, scores, n_frames=n_frames, fps=fps, settings=settings,
                                           stride=stride))

