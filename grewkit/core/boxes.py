"""Boxes: the one columnar container of person boxes the stages and the benchmarks share, and their geometry.

A detector's boxes of one image, a tracker's output, a tracklet, the rows of a MOT text file and
a manifest's ``boxes`` partition are all the same thing: one row per box with its frame, its
x1, y1, x2, y2 pixels, a score and, once tracked, an id. One type means one place that fixes
the dtypes (int64 frames, float32 pixels and scores, as the manifests store them) and checks
the shapes, so no stage has to.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

XYXY = ("x1", "y1", "x2", "y2")


@dataclass(frozen=True, eq=False)  # compared column by column, never as a whole
class Boxes:
    """One row per box: ``frame`` (N,) int64, ``xyxy`` (N, 4) float32 pixels, ``score`` (N,) float32 (NaN
    where there is none, e.g. an interpolated box), ``track_id`` (N,) track or tracklet ids, or None.

    Ids are integers (a tracker's, a MOT file's) or strings (a manifest's ``tracklet_id``).
    A detector returns the boxes of one image best first, with frame 0 until ``in_frame`` places them.
    """

    frame: np.ndarray
    xyxy: np.ndarray
    score: np.ndarray
    track_id: np.ndarray | None = None

    def __post_init__(self):
        frame = np.asarray(self.frame)
        if frame.size and frame.dtype.kind not in "iu":
            raise TypeError(f"frame must be integers, got {frame.dtype}")
        frame = frame.astype(np.int64, copy=False).reshape(-1)
        xyxy = np.asarray(self.xyxy, dtype=np.float32)
        if xyxy.size == 0:
            xyxy = xyxy.reshape(0, 4)
        if xyxy.ndim != 2 or xyxy.shape[1] != 4:
            raise ValueError(f"xyxy must be (N, 4), got {xyxy.shape}")
        score = np.asarray(self.score, dtype=np.float32).reshape(-1)
        n = len(xyxy)
        if len(frame) != n or len(score) != n:
            raise ValueError(f"{n} boxes but {len(frame)} frames and {len(score)} scores")
        object.__setattr__(self, "frame", frame)
        object.__setattr__(self, "xyxy", xyxy)
        object.__setattr__(self, "score", score)
        if self.track_id is not None:
            ids = np.asarray(self.track_id).reshape(-1)
            if ids.dtype.kind in "iu":
                ids = ids.astype(np.int64, copy=False)
            elif ids.size and ids.dtype.kind not in "OUS":
                raise TypeError(f"track_id must be integers or strings, got {ids.dtype}")
            if len(ids) != n:
                raise ValueError(f"{n} boxes but {len(ids)} track ids")
            object.__setattr__(self, "track_id", ids)

    @classmethod
    def empty(cls, *, with_track_id: bool = False) -> Boxes:
        return cls(
            np.zeros(0, np.int64),
            np.zeros((0, 4), np.float32),
            np.zeros(0, np.float32),
            np.zeros(0, np.int64) if with_track_id else None,
        )

    @classmethod
    def best_first(cls, xyxy, score, *, frame: int = 0) -> Boxes:
        """The boxes of one image, sorted by descending score (ties keep their order)."""
        score = np.asarray(score, dtype=np.float32).reshape(-1)
        xyxy = np.asarray(xyxy, dtype=np.float32).reshape(-1, 4)
        order = np.argsort(-score, kind="stable")
        return cls(np.full(len(score), frame, np.int64), xyxy[order], score[order])

    @classmethod
    def concat(cls, parts: list[Boxes]) -> Boxes:
        """All rows of ``parts`` in order; track ids only when every part has them."""
        if not parts:
            return cls.empty()
        ids = [p.track_id for p in parts]
        return cls(
            np.concatenate([p.frame for p in parts]),
            np.concatenate([p.xyxy for p in parts]),
            np.concatenate([p.score for p in parts]),
            None if any(i is None for i in ids) else np.concatenate(ids),
        )

    def __len__(self) -> int:
        return len(self.frame)

    def __getitem__(self, index) -> Boxes:
        """Rows by boolean mask, index array, slice or single index (a one-row Boxes)."""
        if isinstance(index, (int, np.integer)):
            index = [index]
        return Boxes(
            self.frame[index],
            self.xyxy[index],
            self.score[index],
            None if self.track_id is None else self.track_id[index],
        )

    def at(self, frame: int) -> Boxes:
        """The boxes of one frame, in their order here."""
        return self[self.frame == frame]

    def in_frame(self, frame: int) -> Boxes:
        """The same boxes placed in video frame ``frame``."""
        return Boxes(np.full(len(self), frame, np.int64), self.xyxy, self.score, self.track_id)

    @property
    def heights(self) -> np.ndarray:
        return self.xyxy[:, 3] - self.xyxy[:, 1]

    def clip(self, width: int, height: int) -> Boxes:
        """Boxes cut to the image ``width`` x ``height``."""
        xyxy = self.xyxy.copy()
        xyxy[:, [0, 2]] = xyxy[:, [0, 2]].clip(0, width)
        xyxy[:, [1, 3]] = xyxy[:, [1, 3]].clip(0, height)
        return Boxes(self.frame, xyxy, self.score, self.track_id)

    def filter(self, *, min_score: float = 0.0, min_height: float = 0.0) -> Boxes:
        """Boxes scoring at least ``min_score``, at least ``min_height`` tall and wider than 0."""
        h = self.xyxy[:, 3] - self.xyxy[:, 1]
        w = self.xyxy[:, 2] - self.xyxy[:, 0]
        return self[(self.score >= min_score) & (h >= max(min_height, 1e-6)) & (w > 0)]

    @classmethod
    def from_arrow(cls, table: pa.Table, *, track_column: str | None = None) -> Boxes:
        """Rows of a table with the manifests' columns ``frame``, ``x1``..``y2``, ``score`` (a null score reads
        as NaN; a table without ``score`` reads as NaN scores); ``track_column`` names the id column, if any."""
        n = table.num_rows
        xyxy = np.stack([table.column(c).to_numpy() for c in XYXY], axis=1) if n else np.zeros((0, 4), np.float32)
        score = (
            table.column("score").to_numpy(zero_copy_only=False)
            if "score" in table.column_names
            else np.full(n, np.nan, np.float32)
        )
        ids = table.column(track_column).to_numpy(zero_copy_only=False) if track_column else None
        return cls(table.column("frame").to_numpy(), xyxy, score, ids)

    def to_arrow(self, *, track_column: str = "track_id") -> pa.Table:
        """The rows as a table with the manifests' columns; NaN scores become nulls."""
        columns = {"frame": pa.array(self.frame, pa.int64())}
        columns.update({c: pa.array(self.xyxy[:, i], pa.float32()) for i, c in enumerate(XYXY)})
        columns["score"] = pa.array(self.score, pa.float32(), from_pandas=True)
        if self.track_id is not None:
            columns[track_column] = pa.array(
                self.track_id.tolist() if self.track_id.dtype.kind in "OUS" else self.track_id
            )
        return pa.table(columns)


def xywh_to_xyxy(xywh) -> np.ndarray:
    xywh = np.asarray(xywh).reshape(-1, 4)
    return np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of two sets of xyxy boxes, (len(a), len(b)); 0 where the union is empty."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def nms(boxes: Boxes, iou: float) -> Boxes:
    """Class-agnostic non-maximum suppression (OpenCV's), for detectors whose model has none; survivors best first."""
    import cv2

    if len(boxes) == 0:
        return boxes
    xywh = np.concatenate([boxes.xyxy[:, :2], boxes.xyxy[:, 2:] - boxes.xyxy[:, :2]], axis=1)
    keep = cv2.dnn.NMSBoxes(xywh.tolist(), boxes.score.tolist(), 0.0, iou)
    kept = boxes[np.asarray(keep, dtype=int).reshape(-1)]
    return kept[np.argsort(-kept.score, kind="stable")]
