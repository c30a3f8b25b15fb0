"""Gait energy images: the mean of a sequence's size-normalised silhouettes.

GREW's sequences are walks in the wild, often shorter than or out of step with a gait cycle, so
grewkit (like GREW) averages the whole sequence and does not cut it into cycles.
"""

from __future__ import annotations

import numpy as np

from grewkit.core.errors import GrewkitError


def gait_energy_image(silhouettes: np.ndarray) -> np.ndarray:
    """(T, H, W) uint8 silhouettes -> (H, W) uint8 mean, rounded to the nearest integer."""
    if silhouettes.ndim != 3 or silhouettes.shape[0] == 0:
        raise GrewkitError(f"a GEI needs a non-empty (T, H, W) sequence, got shape {silhouettes.shape}")
    total = silhouettes.sum(axis=0, dtype=np.int64)
    t = silhouettes.shape[0]
    # Integer round-half-up of total / t: exact, so a GEI does not depend on float summation order.
    return ((2 * total + t) // (2 * t)).astype(np.uint8)
