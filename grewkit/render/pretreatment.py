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
the row crop), from OpenCV's vectorised reductions (``sumElems``, ``boundingRect``, ``reduce``)
instead of numpy's, and from replacing OpenGait's Python loop over columns with one
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
    # Column sums of at most r * 255 * r fit int32; cv2.reduce is several times faster than numpy here.
    csum = np.cumsum(cv2.reduce(img, 0, cv2.REDUCE_SUM, dtype=cv2.CV_32S)[0], dtype=np.int64)
    total = int(csum[-1])
    # First index whose cumulative sum exceeds total / 2 (float comparison, as OpenGait does).
    centre = int(np.searchsorted(csum, total / 2, side="right"))
    if centre >= csum.size or centre == 0:
        return None
    half = r // 2
    left, right = centre - half, centre + half
    w = img.shape[1]
    if left >= 0 and right <= w:
        return img[:, left:right]
    out = np.zeros((img.shape[0], right - left), np.uint8)
    src_l, src_r = max(left, 0), min(right, w)
    out[:, src_l - left : src_r - left] = img[:, src_l:src_r]
    return out


def normalise_frame(mask: np.ndarray, r: int) -> np.ndarray | None:
    """One frame at one height; None when OpenGait's pretreatment would drop it."""
    out = normalise_frames(mask[None], (r,))[r]
    return out.frames[0] if len(out.kept) else None


def _normalise_range(masks: np.ndarray, heights: tuple[int, ...], start: int, stop: int):
    outs: dict[int, list[np.ndarray]] = {r: [] for r in heights}
    kept: dict[int, list[int]] = {r: [] for r in heights}
    for t in range(start, stop):
        frame = masks[t]
        # Step 1; cv2.sumElems sums in float64, exact for any frame below 2**53 / 255 pixels.
        if cv2.sumElems(frame)[0] <= MIN_PIXEL_SUM:
            continue
        # Step 2: boundingRect of a uint8 image is the box of its non-zero pixels; only its rows matter.
        _, y, _, h = cv2.boundingRect(frame)
        img = frame[y : y + h]
        ratio = img.shape[1] / h
        for r in heights:
            width = int(r * ratio)
            if width < 1:
                continue  # cv2.resize cannot make a zero-width image; OpenGait would crash here
            cut = _centre_cut(cv2.resize(img, (width, r), interpolation=cv2.INTER_CUBIC), r)
            if cut is not None:
                outs[r].append(cut)
                kept[r].append(t)
    return outs, kept


def normalise_frames(
    masks: np.ndarray, heights: tuple[int, ...] = (64, 128), *, threads: int = 1
) -> dict[int, Normalised]:
    """Normalise a (T, H, W) uint8 sequence at every height in ``heights`` in one pass.

    ``threads`` > 1 splits the frames between threads (OpenCV releases the GIL); worth it only
    when the caller does not already keep every core busy (the render stage runs one process
    per core and uses 1).
    """
    masks = np.asarray(masks)
    if masks.ndim != 3 or masks.dtype != np.uint8:
        raise GrewkitError(f"silhouettes must be a uint8 array (T, H, W), got {masks.dtype} {masks.shape}")
    for r in heights:
        if r < 2 or r % 2:
            raise GrewkitError(f"output height must be an even number >= 2, got {r}")
    n = masks.shape[0]
    threads = max(1, min(threads, n // 16))
    if threads == 1:
        parts = [_normalise_range(masks, heights, 0, n)]
    else:
        from concurrent.futures import ThreadPoolExecutor

        bounds = np.linspace(0, n, threads + 1).astype(int)
        with ThreadPoolExecutor(threads) as pool:
            parts = list(pool.map(lambda i: _normalise_range(masks, heights, bounds[i], bounds[i + 1]), range(threads)))
    result = {}
    for r in heights:
        frames = [f for outs, _ in parts for f in outs[r]]
        kept = [k for _, ks in parts for k in ks[r]]
        result[r] = Normalised(
            r, np.stack(frames) if frames else np.zeros((0, r, r), np.uint8), np.asarray(kept, dtype=np.int64)
        )
    return result


def loader_cut(frames: np.ndarray) -> np.ndarray:
    """OpenGait's loader cut: drop ``(r // 64) * 10`` columns on each side of r x r frames (64x44, 128x88)."""
    r = frames.shape[-2]
    cut = (r // 64) * 10
    if cut == 0:
        return frames
    return frames[..., cut:-cut]
