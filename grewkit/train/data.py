"""Training data: sequence records from the manifests, OpenGait-style transforms, P x K sampling.

Sequence files are read through ``grewkit.core.arrays.load_array`` (``.npy``, or OpenGait ``.pkl``
through the restricted unpickler). What a model reads is its class's ``input_kind``:

- ``silhouettes`` (and ``gei``): OpenGait's ``BaseSilCuttingTransform``: a square silhouette of side
  H has H/64*10 columns cut from each side (64x64 -> 64x44, 128x128 -> 128x88), scaled to [0, 1];
- ``skeleton``: SkeletonGait's two-channel maps (T, 2, H, H) cut the same way -> (T, 2, h, w);
- ``pose``: COCO-17 keypoints (T, 17, 3) in image pixels -> centred on the hips and scaled by the
  body's height (``normalise_pose``), so that a model sees the same numbers at any distance.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grewkit.core.arrays import load_array
from grewkit.core.errors import GrewkitError

RESOLUTIONS = {64: (64, 44), 128: (128, 88)}


@dataclass(frozen=True)
class SequenceRecord:
    sequence_id: str
    path: Path
    identity_id: str | None
    sha256: str | None = None  # of the file, as the sequences manifest records it


def transform(sil: np.ndarray, resolution: int = 64, *, path: str | Path = "<array>") -> np.ndarray:
    """(T, H, W) uint8 -> (T, h, w) float32 in [0, 1] at 64x44 or 128x88."""
    if resolution not in RESOLUTIONS:
        raise GrewkitError(f"resolution must be one of {sorted(RESOLUTIONS)}, not {resolution}")
    h, w = RESOLUTIONS[resolution]
    if sil.ndim != 3 or sil.shape[0] == 0:
        raise GrewkitError(f"expected silhouettes (T, H, W) with T > 0, got shape {sil.shape}", path=path)
    t, sh, sw = sil.shape
    if (sh, sw) == (h, w):
        out = sil
    else:
        if (sh, sw) != (h, h):
            import cv2

            out = np.stack([cv2.resize(f, (h, h), interpolation=cv2.INTER_AREA) for f in sil])
        else:
            out = sil
        cut = h // 64 * 10
        out = out[:, :, cut : h - cut]
    out = out.astype(np.float32)
    if out.max(initial=0) > 1.0:
        out /= 255.0
    return np.ascontiguousarray(out)


# COCO-17: left / right hips, shoulders and ankles.
_HIPS, _SHOULDERS, _ANKLES = (11, 12), (5, 6), (15, 16)


def normalise_pose(pose: np.ndarray, *, path: str | Path = "<array>") -> np.ndarray:
    """(T, 17, 2 or 3) COCO-17 pixels -> (T, 17, 3) float32: x, y relative to the hip centre in units of the
    sequence's median shoulder-to-ankle height, then the confidence. A missing joint (NaN, or confidence
    0) becomes 0, 0, 0; a frame without both hips takes the hip centre interpolated from the frames that have them.

    GaitGraph feeds raw pixel coordinates of fixed-distance CASIA-B cameras; in the wild the person's
    size in the image changes with the distance, so the scale is divided out here (as SkeletonGait's
    ``CenterAndScaleNormalizer`` does per frame; a per-sequence scale keeps the vertical bob of walking)."""
    if pose.ndim != 3 or pose.shape[1] != 17 or pose.shape[2] not in (2, 3) or pose.shape[0] == 0:
        raise GrewkitError(f"expected COCO-17 poses (T, 17, 2 or 3) with T > 0, got shape {pose.shape}", path=path)
    xy = pose[..., :2].astype(np.float64)
    conf = pose[..., 2].astype(np.float64) if pose.shape[2] == 3 else np.ones(pose.shape[:2])
    valid = np.isfinite(xy).all(-1) & np.isfinite(conf) & (conf > 0)
    if not valid.any():
        raise GrewkitError("no keypoint in any frame (every joint NaN or of confidence 0)", path=path)
    conf = np.where(valid, conf, 0.0)
    xy = np.where(valid[..., None], xy, np.nan)
    with np.errstate(invalid="ignore"):
        hip = xy[:, _HIPS].mean(1)  # NaN where a hip is missing
        height = np.linalg.norm(xy[:, _SHOULDERS].mean(1) - xy[:, _ANKLES].mean(1), axis=-1)
    have = np.isfinite(hip).all(-1)
    if not have.any():
        # No frame with both hips: the mean of the visible joints stands in for the centre.
        hip = np.nanmean(xy, axis=1)
        have = np.isfinite(hip).all(-1)
    idx, frames = np.flatnonzero(have), np.arange(len(xy))
    hip = np.stack([np.interp(frames, idx, hip[idx, k]) for k in range(2)], -1)
    heights = height[np.isfinite(height) & (height > 0)]
    if len(heights):
        scale = float(np.median(heights))
    else:  # no frame with shoulders and ankles: the extent of the visible joints
        scale = float(np.nanmax(xy[..., 1]) - np.nanmin(xy[..., 1])) or 1.0
    out = np.zeros(pose.shape[:2] + (3,), np.float32)
    rel = (xy - hip[:, None]) / scale
    out[..., :2] = np.where(valid[..., None], rel, 0.0)
    out[..., 2] = conf
    return out


def prepare(array: np.ndarray, kind: str, resolution: int = 64, *, path: str | Path = "<array>") -> np.ndarray:
    """A stored sequence -> what a model of ``input_kind`` ``kind`` reads (see the module docstring)."""
    if kind == "pose":
        return normalise_pose(array, path=path)
    if kind == "skeleton":
        if array.ndim != 4 or array.shape[1] != 2 or array.shape[0] == 0:
            raise GrewkitError(f"expected skeleton maps (T, 2, H, W) with T > 0, got shape {array.shape}", path=path)
        t, c, h, w = array.shape
        out = transform(array.reshape(t * c, h, w), resolution, path=path)
        return out.reshape(t, c, *out.shape[1:])
    return transform(array, resolution, path=path)


def input_shape(kind: str, frames: int, height: int, width: int) -> tuple[int, ...]:
    """The shape of one sequence of ``frames`` frames as a model of ``kind`` reads it."""
    if kind == "pose":
        return (frames, 17, 3)
    if kind == "skeleton":
        return (frames, 2, height, width)
    return (frames, height, width)


class SequenceStore:
    """Loads and transforms sequences, keeping them in memory when ``cache`` (small sets, CPU runs)."""

    def __init__(
        self, records: list[SequenceRecord], resolution: int = 64, *, cache: bool = True, kind: str = "silhouettes"
    ):
        self.records = records
        self.resolution = resolution
        self.cache = cache
        self.kind = kind
        self._cache: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.records)

    def get(self, i: int) -> np.ndarray:
        if i in self._cache:
            return self._cache[i]
        rec = self.records[i]
        arr = prepare(load_array(rec.path), self.kind, self.resolution, path=rec.path)
        if self.cache:
            self._cache[i] = arr
        return arr


def sample_frames(seq: np.ndarray, frames: int, rng: np.random.Generator, *, ordered: bool) -> np.ndarray:
    """``frames`` frames: a random contiguous clip (ordered, for GaitPart) or a random set (GaitSet)."""
    t = len(seq)
    if ordered:
        if t >= frames:
            start = rng.integers(0, t - frames + 1)
            return seq[start : start + frames]
        return seq[np.arange(frames) % t]
    return seq[rng.choice(t, size=frames, replace=t < frames)]


class SeededSampler:
    """A batch sampler whose draws come from one generator, so a resumed run continues its sequence of batches."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)

    def state(self) -> dict:
        return self.rng.bit_generator.state

    def set_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state


class PKSampler(SeededSampler):
    """Batches of P identities x K sequences each (K drawn with replacement when an identity has fewer)."""

    def __init__(self, labels: list[str], p: int, k: int, seed: int = 0):
        if p < 2 or k < 1:
            raise GrewkitError(f"P x K sampling needs P >= 2 and K >= 1, not P={p}, K={k}")
        self.by_label: dict[str, list[int]] = {}
        for i, lab in enumerate(labels):
            self.by_label.setdefault(lab, []).append(i)
        if len(self.by_label) < 2:
            raise GrewkitError("training needs at least 2 identities")
        self.labels = sorted(self.by_label)
        self.p = min(p, len(self.labels))
        self.k = k
        super().__init__(seed)

    def __iter__(self) -> Iterator[list[int]]:
        while True:
            ids = self.rng.choice(len(self.labels), size=self.p, replace=False)
            batch = []
            for j in ids:
                pool = self.by_label[self.labels[j]]
                batch.extend(self.rng.choice(pool, size=self.k, replace=len(pool) < self.k).tolist())
            yield batch


class RandomSampler(SeededSampler):
    """Batches of ``batch`` sequences drawn at random, whatever their identities (OpenGait's ``CommonSampler``:
    without replacement within a batch, with replacement when there are fewer sequences than ``batch``)."""

    def __init__(self, labels: list[str], batch: int, seed: int = 0):
        if len(set(labels)) < 2:
            raise GrewkitError("training needs at least 2 identities")
        if batch < 2:
            raise GrewkitError(f"a random batch needs at least 2 sequences, not {batch}")
        self.n, self.batch = len(labels), batch
        super().__init__(seed)

    def __iter__(self) -> Iterator[list[int]]:
        while True:
            yield self.rng.choice(self.n, size=self.batch, replace=self.n < self.batch).tolist()


def records_from_project(project, *, splits: tuple[str, ...] | None, modality: str) -> list[SequenceRecord]:
    """Sequences of ``modality`` (whose split is one of ``splits``; None = every sequence)."""
    if not project.has("sequences"):
        raise GrewkitError(
            "no sequences manifest: import (`grewkit import opengait`) or render sequences first",
            path=project.manifests_dir,
        )
    seqs = [r for r in project.read("sequences").to_pylist() if r["modality"] == modality]
    if not seqs:
        raise GrewkitError(
            f"no sequences of modality {modality!r} in the sequences manifest", path=project.manifests_dir
        )
    split_of: dict[str, dict] = {}
    if splits is not None:
        if not project.has("splits"):
            raise GrewkitError("no splits manifest: run `grewkit split` first", path=project.manifests_dir)
        split_of = {r["sequence_id"]: r for r in project.read("splits").to_pylist()}
    out = []
    for r in sorted(seqs, key=lambda r: r["sequence_id"]):
        identity = r["identity_id"]
        if splits is not None:
            s = split_of.get(r["sequence_id"])
            if s is None or s["split"] not in splits:
                continue
            identity = s["identity_id"] if s["identity_id"] is not None else identity
        out.append(SequenceRecord(r["sequence_id"], project.resolve(r["path"]), identity, r.get("sha256")))
    if not out:
        raise GrewkitError(f"no {modality} sequences in split(s) {', '.join(splits or ())}")
    return out
