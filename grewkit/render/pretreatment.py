"""OpenGait's silhouette size normalisation ("pretreatment"), reimplemented to give identical arrays.

The algorithm, per frame, as OpenGait's ``datasets/pretreatment.py`` applies it to a grayscale
0/255 mask, for an output height ``r``:

1. drop the frame if its pixel sum is <= 10000 (fewer than 40 foreground pixels);
2. keep the rows from the first to the last row holding any foreground;
3. resize (cubic) to height ``r`` and width ``int(r * (w / h))``;
4. the centre column is the first whose cumulative column sum exceeds half the total sum;
   drop the frame if there is none or it is 0;
5. pad ``r // 2`` zero columns on each side and cut the ``r``-wide window around the centre;
   the output is ``r x r`` uint8.

OpenGait's loader later cuts ``(r // 64) * 10`` columns from each side (64x44, 128x88):
``loader_cut``. Sequences that end up short are only warned about by OpenGait; grewkit's render
stage fails the tracklet with a named reason when fewer than ``min_frames`` frames survive (see
docs/render.md).

Speed comes from doing the shared work once per frame for every output height (the sum test and
the row crop) and from replacing OpenGait's Python loop over columns with one
``searchsorted`` on the cumulative sum; the arithmetic is the same, so the arrays are identical.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from grewkit.core.errors import GrewkitError

MIN_PIXEL_SUM = 10000  # OpenGait's threshold on a frame's sum of 0/255 values


@dataclass(frozen=True)
class Normalised:
    """Size-normalised silhouettes at one height, with the positions (in the input) of the kept frames."""

    height: int
    frames: np.ndarray  # (T', r, r) uint8
    kept: np.ndarray  # (T',) int64 indices into the input sequence


def _centre_cut(img: np.ndarray, r: int) -> np.ndarray | None:
    """Steps 4-5 for one resized frame (height r): the r x r window around the column-mass median."""
    col = img.sum(axis=0, dtype=np.int64)
    csum = np.cumsum(col)
    total = int(csum[-1])
    # First index whose cumulative sum exceeds total / 2 (float comparison, as OpenGait does).
    centre = int(np.searchsorted(csum, total / 2, side="right"))
    if centre >= csum.size or centre == 0:
        return None
    half = r // 2
    left, right = centre - half, centre + half
    w = img.shape[1]
    if left >= 0 and right <= w:
        return img[:, left:right].copy()
    out = np.zeros((img.shape[0], right - left), np.uint8)
    src_l, src_r = max(left, 0), min(right, w)
    out[:, src_l - left:src_r - left] = img[:, src_l:src_r]
    return out


def normalise_frame(mask: np.ndarray, r: int) -> np.ndarray | None:
    """One frame at one height; None when OpenGait's pretreatment would drop it."""
    out = normalise_frames(mask[None], (r,))[r]
    return out.frames[0] if len(out.kept) else None


def normalise_frames(masks: np.ndarray, heights: tuple[int, ...] = (64, 128)) -> dict[int, Normalised]:
    """Normalise a (T, H, W) uint8 sequence at every height in ``heights`` in one pass."""
    masks = np.asarray(masks)
    if masks.ndim != 3 or masks.dtype != np.uint8:
        raise GrewkitError(f"silhouettes must be a uint8 array (T, H, W), got {masks.dtype} {masks.shape}")
    for r in heights:
        if r < 2 or r % 2:
            raise GrewkitError(f"output height must be an even number >= 2, got {r}")
    outs: dict[int, list[np.ndarray]] = {r: [] for r in heights}
    kept: dict[int, list[int]] = {r: [] for r in heights}
    if masks.shape[0] == 0:
        return {r: Normalised(r, np.zeros((0, r, r), np.uint8), np.zeros(0, np.int64)) for r in heights}
    # Step 1 for the whole sequence at once; the sum of a uint8 array is exact in int64.
    sums = masks.reshape(masks.shape[0], -1).sum(axis=1, dtype=np.int64)
    for t in np.flatnonzero(sums > MIN_PIXEL_SUM):
        frame = masks[t]
        rows = np.flatnonzero(frame.any(axis=1))
        img = frame[rows[0]:rows[-1] + 1]
        h, w = img.shape
        ratio = w / h
        for r in heights:
            width = int(r * ratio)
            if width < 1:
                continue  # cv2.resize cannot make a zero-width image; OpenGait would crash here
            resized = cv2.resize(img, (width, r), interpolation=cv2.INTER_CUBIC)
            cut = _centre_cut(resized, r)
            if cut is not None:
                outs[r].append(cut)
                kept[r].append(int(t))
    return {
        r: Normalised(
            r,
            np.stack(outs[r]) if outs[r] else np.zeros((0, r, r), np.uint8),
            np.asarray(kept[r], dtype=np.int64),
        )
        for r in heights
    }


def loader_cut(frames: np.ndarray) -> np.ndarray:
    """OpenGait's loader cut: drop ``(r // 64) * 10`` columns on each side of r x r frames (64x44, 128x88)."""
    r = frames.shape[-2]
    cut = (r // 64) * 10
    if cut == 0:
        return frames
    return frames[..., cut:-cut]
