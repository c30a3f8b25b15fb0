"""Extracted features on disk: a folder with ``features.npy`` (N, ...) float32 and ``index.json``.

``.npy`` so that a GREW-sized gallery (257k x 256) is memory-mapped instead of read whole;
``index.json`` carries the sequence ids row by row and how the features were made.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grewkit.core.arrays import load_array, save_array
from grewkit.core.atomic import write_json
from grewkit.core.errors import GrewkitError


@dataclass
class Features:
    ids: list[str]
    array: np.ndarray
    meta: dict

    def __post_init__(self):
        if len(self.ids) != len(self.array):
            raise GrewkitError(f"{len(self.ids)} sequence ids but {len(self.array)} feature rows")
        if len(set(self.ids)) != len(self.ids):
            raise GrewkitError("sequence ids repeat in the feature set")
        self._row = {s: i for i, s in enumerate(self.ids)}

    def rows(self, ids: list[str], *, what: str = "sequence") -> np.ndarray:
        missing = [s for s in ids if s not in self._row]
        if missing:
            raise GrewkitError(
                f"{len(missing)} {what}s have no features (e.g. {missing[0]!r}); run `grewkit embed` on them"
            )
        return np.array([self._row[s] for s in ids], dtype=np.int64)

    def take(self, ids: list[str], *, what: str = "sequence") -> np.ndarray:
        rows = self.rows(ids, what=what)
        return (
            np.asarray(self.array[rows], dtype=np.float32)
            if len(rows)
            else np.zeros((0, *self.array.shape[1:]), np.float32)
        )


def save_features(folder: str | Path, ids: list[str], array: np.ndarray, meta: dict | None = None) -> Path:
    folder = Path(folder)
    Features(list(ids), array, meta or {})
    save_array(folder / "features.npy", np.asarray(array, dtype=np.float32))
    write_json(folder / "index.json", {"sequence_ids": list(ids), "shape": list(array.shape), **(meta or {})})
    return folder


def load_features(folder: str | Path) -> Features:
    folder = Path(folder)
    index_path = folder / "index.json"
    if not index_path.is_file():
        raise GrewkitError("no index.json: not a features folder written by `grewkit embed`", path=folder)
    try:
        index = json.loads(index_path.read_text())
        ids = index.pop("sequence_ids")
    except (ValueError, KeyError) as exc:
        raise GrewkitError(f"unreadable features index ({exc})", path=index_path) from None
    array = load_array(folder / "features.npy", mmap=True)
    if array.dtype != np.float32:
        raise GrewkitError(f"features must be float32, not {array.dtype}", path=folder / "features.npy")
    try:
        return Features(list(ids), array, index)
    except GrewkitError as exc:
        raise GrewkitError(exc.reason, path=folder) from None


def files_digest(pairs) -> str | None:
    """One digest over (sequence_id, file sha256) pairs, in sequence order; None where a file has no sha256.

    ``grewkit embed`` stores it with the features, so that features of one project's files are never
    scored against another project whose sequence ids happen to be the same (two synthetic worlds,
    two imports named alike): what a cross-dataset evaluation must rule out.
    """
    digest = hashlib.sha256()
    for sid, sha in sorted(pairs, key=lambda p: p[0]):
        if not sha:
            return None
        digest.update(f"{sid}\t{sha}\n".encode())
    return digest.hexdigest()


def check_features_of(project, features: Features, *, folder: str | Path) -> None:
    """Refuse features extracted from other files than ``project``'s sequences of the same ids."""
    want = features.meta.get("files_digest")
    modality = features.meta.get("modality")
    if not want or not modality or not project.has("sequences"):
        return  # written before the digest was recorded, or by the Python API without a project
    sha = {
        r["sequence_id"]: r.get("sha256") for r in project.read("sequences").to_pylist() if r["modality"] == modality
    }
    if files_digest((s, sha.get(s)) for s in features.ids) != want:
        source = features.meta.get("project") or "another project"
        raise GrewkitError(
            f"these features were extracted from other {modality} files than this project's "
            f"(from {source}); run `grewkit embed --project {project.root}` for this project",
            path=folder,
        )
