"""MOTChallenge sequences on disk (``img1/*.jpg``, ``gt/gt.txt``, ``det/det.txt``), for benchmarks and quality tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from grewkit.core.boxes import Boxes
from grewkit.core.errors import GrewkitError
from grewkit.detect.base import Detector
from grewkit.bench.mot import DetectionEvaluator, read_mot
from grewkit.track.tracklets import Tracklet, track_detections


@dataclass(frozen=True)
class MotSequence:
    root: Path
    frames: list[Path]
    gt: Boxes  # 1-based frames, the MOT file's ids
    fps: float = 25.0

    @classmethod
    def open(cls, root: str | Path, *, fps: float = 25.0) -> "MotSequence":
        root = Path(root)
        frames = sorted((root / "img1").glob("*.jpg"))
        if not frames:
            raise GrewkitError("no img1/*.jpg frames", path=root)
        return cls(root, frames, read_mot(root / "gt" / "gt.txt"), fps)

    def public_detections(self) -> Boxes:
        return read_mot(self.root / "det" / "det.txt")

    def images(self, stride: int = 1):
        """(0-based frame index, BGR image); MOT files number frames from 1."""
        for i in range(0, len(self.frames), stride):
            yield i, cv2.imread(str(self.frames[i]))


def detect_sequence(seq: MotSequence, detector: Detector, *, min_score: float, min_height: float = 0.0,
                    stride: int = 1) -> Boxes:
    """Run a detector over the sequence; returns every kept box, frames 0-based."""
    detector.reset()
    return Boxes.concat([detector.detect(image).filter(min_score=min_score, min_height=min_height).in_frame(i)
                         for i, image in seq.images(stride)])


def detection_scores(seq: MotSequence, detections: Boxes, *, threshold: float, iou: float = 0.5) -> dict:
    """Precision and recall of ``detections`` (0-based frames) scoring at least ``threshold``."""
    ev = DetectionEvaluator(iou=iou)
    for i in range(len(seq.frames)):
        sel = (detections.frame == i) & (detections.score >= threshold)
        ev.process(seq.gt.at(i + 1).xyxy, detections.xyxy[sel])
    return ev.evaluate()


def track_sequence(detections: Boxes, *, n_frames: int, fps: float, settings, stride: int = 1,
                   cut: bool = False) -> list[Tracklet]:
    """ByteTrack + grewkit's tracklet building; with ``cut``, also the identity-switch cuts of the track stage."""
    return track_detections(detections, detected_frames=np.arange(0, n_frames, stride), fps=fps,
                            settings=settings, stride=stride, cut=cut)


def tracklets_to_mot(tracklets: list[Tracklet]) -> Boxes:
    """Tracklets as MOT rows: 1-based frames, the tracklet number as id, 0 for interpolated scores."""
    if not tracklets:
        return Boxes.empty(with_track_id=True)
    return Boxes(
        np.concatenate([t.frame for t in tracklets]) + 1,
        np.concatenate([t.xyxy for t in tracklets]),
        np.nan_to_num(np.concatenate([t.score for t in tracklets]), nan=0.0),
        np.concatenate([np.full(len(t.frame), t.number) for t in tracklets]),
    )


def track_to_mot(detections: Boxes, *, n_frames: int, fps: float, settings, stride: int = 1) -> Boxes:
    """ByteTrack + grewkit's tracklet building (numbering, gap filling) as MOT rows with 1-based frames.

    The identity-switch cuts are left out on purpose: MOT metrics score whole trajectories, and
    the cuts split them deliberately to make one-person sequences (their figure is purity).
    """
    return tracklets_to_mot(track_sequence(detections, n_frames=n_frames, fps=fps, settings=settings, stride=stride))

