"""Scoring detections and tracks against ground truth in MOTChallenge format.

Two evaluators with the same protocol (``reset`` / ``process`` one frame / ``evaluate``):
detection precision and recall at an IoU threshold, and CLEAR-MOT / identity metrics from
py-motmetrics (MOTA, IDF1, ID switches). motmetrics is a test/benchmark dependency, imported
only here. The IoU distance matrix is computed in numpy and handed to motmetrics, so the
scores do not depend on its distance helpers (which use numpy 1 APIs in 1.4.0).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from grewkit.core.boxes import Boxes, iou_matrix, xywh_to_xyxy
from grewkit.core.errors import GrewkitError


def read_mot(path: str | Path, *, min_score: float | None = None) -> Boxes:
    """Read ``frame,id,x,y,w,h,score,...`` as boxes with frames 1-based as written and the file's ids as
    ``track_id``; ground truth rows with a 0 in column 7 (ignore flag) are dropped."""
    path = Path(path)
    try:
        data = np.loadtxt(path, delimiter=",", ndmin=2, dtype=np.float64)
    except (OSError, ValueError) as exc:
        raise GrewkitError(f"not a MOT text file: {exc}", path=path) from None
    if data.shape[1] < 6:
        raise GrewkitError(f"MOT rows need at least 6 columns, found {data.shape[1]}", path=path)
    score = data[:, 6] if data.shape[1] > 6 else np.ones(len(data))
    keep = np.ones(len(data), bool) if min_score is None else score >= min_score
    data, score = data[keep], score[keep]
    return Boxes(data[:, 0].astype(np.int64), xywh_to_xyxy(data[:, 2:6]), score, data[:, 1].astype(np.int64))


class DetectionEvaluator:
    """Precision and recall of boxes at an IoU threshold, with one-to-one optimal matching per frame."""

    def __init__(self, *, iou: float = 0.5):
        self.iou = iou
        self.reset()

    def reset(self) -> None:
        self.tp = self.fp = self.fn = 0

    def process(self, gt_xyxy: np.ndarray, det_xyxy: np.ndarray) -> None:
        from scipy.optimize import linear_sum_assignment

        iou = iou_matrix(gt_xyxy, det_xyxy)
        matched = 0
        if iou.size:
            rows, cols = linear_sum_assignment(-iou)
            matched = int((iou[rows, cols] >= self.iou).sum())
        self.tp += matched
        self.fn += len(iou) - matched
        self.fp += iou.shape[1] - matched

    def evaluate(self) -> dict[str, float]:
        precision = self.tp / max(self.tp + self.fp, 1)
        recall = self.tp / max(self.tp + self.fn, 1)
        return {"precision": precision, "recall": recall, "tp": self.tp, "fp": self.fp, "fn": self.fn}


class PurityEvaluator:
    """Per hypothesis track: the share of its boxes whose best-overlapping true person (IoU >= ``iou``) is its majority one.

    Boxes that overlap nobody that well count against the track: a sequence built from it would
    show background or a fragment of a person there.
    """

    def __init__(self, *, iou: float = 0.5):
        self.iou = iou
        self.reset()

    def reset(self) -> None:
        self.counts: dict = {}

    def process(self, gt_ids, gt_xyxy: np.ndarray, hyp_ids, hyp_xyxy: np.ndarray) -> None:
        from collections import Counter

        gt_ids = list(gt_ids)
        iou = iou_matrix(hyp_xyxy, gt_xyxy)
        for k, h in enumerate(hyp_ids):
            who = None
            if iou.shape[1]:
                j = int(iou[k].argmax())
                who = gt_ids[j] if iou[k, j] >= self.iou else None
            self.counts.setdefault(h, Counter())[who] += 1

    def majority(self, hyp_id):
        """The true person most of the track's boxes belong to (None when no box matches anyone)."""
        c = self.counts.get(hyp_id)
        named = [(n, k) for k, n in (c or {}).items() if k is not None]
        return max(named, key=lambda nk: (nk[0], str(nk[1])))[1] if named else None

    def evaluate(self) -> dict:
        """{hyp id: purity}."""
        return {
            h: max((n for k, n in c.items() if k is not None), default=0) / sum(c.values())
            for h, c in self.counts.items()
        }

    def identity_purity(self) -> dict:
        """{hyp id: share of the boxes matched to someone that are on the majority person} (NaN when none matched).

        Unlike ``evaluate``, loose boxes (IoU < ``iou`` with everybody) do not count: this is the
        share of identity errors alone, which cuts at crossings are meant to remove.
        """
        out = {}
        for h, c in self.counts.items():
            named = [n for k, n in c.items() if k is not None]
            out[h] = max(named) / sum(named) if named else float("nan")
        return out


class MotEvaluator:
    """MOTA, IDF1, ID switches and friends from py-motmetrics, IoU distance with a 0.5 cut as in MOTChallenge."""

    METRICS = (
        "mota",
        "motp",
        "idf1",
        "num_switches",
        "num_false_positives",
        "num_misses",
        "mostly_tracked",
        "num_unique_objects",
        "num_frames",
    )

    def __init__(self, *, iou: float = 0.5):
        try:
            import motmetrics  # noqa: F401
        except ImportError:
            raise GrewkitError("MOT metrics need py-motmetrics: pip install motmetrics==1.4.0") from None
        self.max_distance = 1.0 - iou
        self.reset()

    def reset(self) -> None:
        import motmetrics as mm

        self.acc = mm.MOTAccumulator(auto_id=False)

    def process(self, frame: int, gt_ids, gt_xyxy, hyp_ids, hyp_xyxy) -> None:
        dist = 1.0 - iou_matrix(gt_xyxy, hyp_xyxy)
        dist[dist > self.max_distance] = np.nan
        self.acc.update(list(map(int, gt_ids)), list(map(int, hyp_ids)), dist, frameid=int(frame))

    def evaluate(self) -> dict[str, float]:
        import motmetrics as mm

        summary = mm.metrics.create().compute(self.acc, metrics=list(self.METRICS), name="run")
        return {k: float(summary[k].iloc[0]) for k in self.METRICS}


def score_mot_files(gt: Boxes, hyp: Boxes) -> dict[str, float]:
    """Score a tracker's MOT rows against ground truth over every frame that has either."""
    ev = MotEvaluator()
    for f in np.union1d(np.unique(gt.frame), np.unique(hyp.frame)):
        g, h = gt.at(f), hyp.at(f)
        ev.process(int(f), g.track_id, g.xyxy, h.track_id, h.xyxy)
    return ev.evaluate()
