"""MOTChallenge sequences on disk (``img1/*.jpg``, ``gt/gt.txt``, optional ``det/det.txt`` and ``seqinfo.ini``),
for benchmarks and quality tests."""

from __future__ import annotations

import configparser
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from grewkit.bench.mot import DetectionEvaluator, read_mot
from grewkit.core.boxes import Boxes
from grewkit.core.errors import GrewkitError
from grewkit.detect.base import Detector
from grewkit.export.mot import tracklets_to_mot
from grewkit.track.tracklets import Tracklet, track_detections

#: TUD-Campus's frame rate (MOTChallenge 2015); the shared copy has no seqinfo.ini.
TUD_CAMPUS_FPS = 25.0


def read_seqinfo(path: Path) -> dict[str, str]:
    """The ``[Sequence]`` keys of a MOTChallenge seqinfo.ini, lower-cased (empty when there is no file)."""
    if not path.exists():
        return {}
    parser = configparser.ConfigParser()
    try:
        parser.read(path)
    except configparser.Error as exc:
        raise GrewkitError(f"not a seqinfo.ini: {str(exc).splitlines()[0]}", path=path) from None
    if "Sequence" not in parser:
        raise GrewkitError("no [Sequence] section", path=path)
    return dict(parser["Sequence"])


@dataclass(frozen=True)
class MotSequence:
    root: Path
    frames: list[Path]
    gt: Boxes  # 1-based frames, the MOT file's ids
    fps: float = TUD_CAMPUS_FPS
    width: int = 0
    height: int = 0

    @classmethod
    def open(cls, root: str | Path, *, fps: float | None = None) -> MotSequence:
        """A sequence folder; ``fps`` overrides seqinfo.ini's frameRate, and one of them is needed."""
        root = Path(root)
        info_path = root / "seqinfo.ini"
        info = read_seqinfo(info_path)
        ext = info.get("imext", ".jpg")
        frames = sorted((root / info.get("imdir", "img1")).glob(f"*{ext}"))
        if not frames:
            raise GrewkitError(f"no {info.get('imdir', 'img1')}/*{ext} frames", path=root)
        try:
            fps = float(info["framerate"]) if fps is None and "framerate" in info else fps
            width, height = int(info.get("imwidth", 0)), int(info.get("imheight", 0))
        except ValueError as exc:
            raise GrewkitError(f"bad frameRate, imWidth or imHeight: {exc}", path=info_path) from None
        if fps is None:
            raise GrewkitError("no seqinfo.ini with frameRate: give the fps (--fps)", path=root)
        if not (math.isfinite(fps) and 0 < fps <= 1000):
            raise GrewkitError(
                f"fps {fps:g} is not a frame rate (must be in (0, 1000])", path=info_path if info else root
            )
        if not (width and height):
            image = cv2.imread(str(frames[0]))
            if image is None:
                raise GrewkitError("not an image", path=frames[0])
            height, width = image.shape[:2]
        return cls(root, frames, read_mot(root / "gt" / "gt.txt"), fps, width, height)

    def has_public_detections(self) -> bool:
        return (self.root / "det" / "det.txt").exists()

    def public_detections(self) -> Boxes:
        return read_mot(self.root / "det" / "det.txt")

    def images(self, stride: int = 1):
        """(0-based frame index, BGR image); MOT files number frames from 1."""
        for i in range(0, len(self.frames), stride):
            yield i, cv2.imread(str(self.frames[i]))

    def read(self, indices):
        """(0-based frame index, BGR image) for the increasing indices asked for: the frames the offline
        association of grewkit.track.stitch reads its appearance from."""
        for i in indices:
            image = cv2.imread(str(self.frames[i]))
            if image is None:
                raise GrewkitError("not an image", path=self.frames[i])
            yield i, image


def scale_scores(scores: np.ndarray, mode: str) -> np.ndarray:
    """Detection scores of a det.txt mapped into [0, 1] for the tracker's thresholds.

    ``as-given`` (scores already in [0, 1]), ``max-normalised`` (divided by the file's highest score) or
    ``divide:N`` (divided by N; TUD-Campus's DPM margins: divide:50). Anything outside [0, 1] is clipped.
    """
    scores = np.asarray(scores, np.float64)
    if mode == "as-given":
        out = scores
    elif mode == "max-normalised":
        top = float(scores.max()) if len(scores) else 1.0
        out = scores / top if top > 0 else scores
    elif mode.startswith("divide:"):
        try:
            n = float(mode.split(":", 1)[1])
        except ValueError:
            n = 0.0
        if not (math.isfinite(n) and n > 0):
            raise GrewkitError(f"det scores {mode!r}: divide:N needs a number N > 0")
        out = scores / n
    else:
        raise GrewkitError(f"det scores {mode!r}: use as-given, max-normalised or divide:N")
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def detect_sequence(
    seq: MotSequence, detector: Detector, *, min_score: float, min_height: float = 0.0, stride: int = 1
) -> Boxes:
    """Run a detector over the sequence; returns every kept box, frames 0-based."""
    detector.reset()
    return Boxes.concat(
        [
            detector.detect(image).filter(min_score=min_score, min_height=min_height).in_frame(i)
            for i, image in seq.images(stride)
        ]
    )


def detection_scores(seq: MotSequence, detections: Boxes, *, threshold: float, iou: float = 0.5) -> dict:
    """Precision and recall of ``detections`` (0-based frames) scoring at least ``threshold``."""
    ev = DetectionEvaluator(iou=iou)
    for i in range(len(seq.frames)):
        sel = (detections.frame == i) & (detections.score >= threshold)
        ev.process(seq.gt.at(i + 1).xyxy, detections.xyxy[sel])
    return ev.evaluate()


def track_sequence(
    detections: Boxes,
    *,
    n_frames: int,
    fps: float,
    settings,
    stride: int = 1,
    cut: bool = False,
    frames=None,
    frame_size: tuple[int, int] | None = None,
) -> list[Tracklet]:
    """ByteTrack + grewkit's tracklet building; with ``cut``, also the identity-switch cuts of the track stage
    (and with ``frame_size``, its trimmed truncated ends); with ``frames`` (a sequence's ``read``), the offline
    association as in the track stage."""
    return track_detections(
        detections,
        detected_frames=np.arange(0, n_frames, stride),
        fps=fps,
        settings=settings,
        stride=stride,
        cut=cut,
        frames=frames,
        frame_size=frame_size,
    )


def track_to_mot(detections: Boxes, *, n_frames: int, fps: float, settings, stride: int = 1, frames=None) -> Boxes:
    """ByteTrack + grewkit's tracklet building (numbering, gap filling) as MOT rows with 1-based frames.

    The identity-switch cuts are left out on purpose: MOT metrics score whole trajectories, and
    the cuts split them deliberately to make one-person sequences (their figure is purity).
    """
    return tracklets_to_mot(
        track_sequence(detections, n_frames=n_frames, fps=fps, settings=settings, stride=stride, frames=frames)
    )
