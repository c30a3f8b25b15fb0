"""Training data: sequence records from the manifests, OpenGait-style transforms, P x K sampling.

Sequence files are read through ``grewkit.core.arrays.load_array`` (``.npy``, or OpenGait ``.pkl``
through the restricted unpickler). The transform is OpenGait's ``BaseSilCuttingTransform``: a
square silhouette of side H has H/64*10 columns cut from each side (64x64 -> 64x44,
128x128 -> 128x88) and is scaled to [0, 1].
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


class SequenceStore:
    """Loads and transforms sequences, keeping them in memory when ``cache`` (small sets, CPU runs)."""

    def __init__(self, records: list[SequenceRecord], resolution: int = 64, *, cache: bool = True):
        self.records = records
        self.resolution = resolution
        self.cache = cache
        self._cache: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.records)

    def get(self, i: int) -> np.ndarray:
        if i in self._cache:
            return self._cache[i]
        rec = self.records[i]
        arr = transform(load_array(rec.path), self.resolution, path=rec.path)
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


class PKSampler:
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
        self.rng = np.random.default_rng(seed)

    def state(self) -> dict:
        return self.rng.bit_generator.state

    def set_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state

    def __iter__(self) -> Iterator[list[int]]:
        while True:
            ids = self.rng.choice(len(self.labels), size=self.p, replace=False)
            batch = []
            for j in ids:
                pool = self.by_label[self.labels[j]]
                batch.extend(self.rng.choice(pool, size=self.k, replace=len(pool) < self.k).tolist())
            yield batch


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
