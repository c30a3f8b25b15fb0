"""Per-sequence arrays on disk: one loader for every format grewkit reads, one writer for what it writes.

grewkit writes ``.npy`` (no pickle, memory-mappable); imported datasets bring OpenGait's ``.pkl``,
which are read through the restricted unpickler. Everything that reads sequence files
(render, export, train, evaluate) goes through ``load_array``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from grewkit.core.atomic import atomic_path
from grewkit.core.errors import GrewkitError
from grewkit.core.hashing import sha256_file


def load_array(path: str | Path, *, mmap: bool = False) -> np.ndarray:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            return np.load(path, allow_pickle=False, mmap_mode="r" if mmap else None)
        except (OSError, ValueError) as exc:
            raise GrewkitError(f"not a readable .npy array ({exc})", path=path) from None
    if suffix == ".pkl":
        from grewkit.core.safe_pickle import load_array as load_pickle

        return load_pickle(path)
    raise GrewkitError(f"unknown array format {suffix!r} (expected .npy or .pkl)", path=path)


def save_array(path: str | Path, array: np.ndarray) -> str:
    """Atomically write ``array`` as ``.npy``; return the file's SHA-256 (for the sequences manifest)."""
    path = Path(path)
    if path.suffix != ".npy":
        raise GrewkitError("grewkit writes arrays as .npy", path=path)
    if array.dtype.hasobject:
        raise GrewkitError("refusing to write an array of Python objects", path=path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, np.ascontiguousarray(array), allow_pickle=False)
    return sha256_file(path)
