"""Skeleton maps (SkeletonGait, Fan et al., AAAI 2024): Gaussian heatmaps of a COCO-17 pose sequence.

Per frame two maps, as OpenGait's ``datasets/pretreatment_heatmap.py`` makes them with its
published settings (sigma 8 on a 128x128 canvas, 64x64 output):

1. centre and scale (``CenterAndScaleNormalizer``): the hip centre goes to the canvas centre and the
   pose's vertical extent to canvas // 1.5 pixels;
2. draw (``GeneratePoseTarget``, ``use_score``): channel 0 the limbs (the largest, over the 17 COCO
   limbs, of a Gaussian of the distance to the segment, times the smaller confidence of its ends),
   channel 1 the joints (Gaussians at the joints, times their confidence); each Gaussian is cut at
   3 sigma as OpenGait's patches are;
3. align (``HeatmapAlignment``), each channel on its own like a silhouette: the rows from the first to
   the last non-zero one, a square window of that height centred on the canvas, resized to the output
   size (area interpolation), stored as uint8.

Missing joints (NaN, or confidence 0) are not drawn; OpenGait fills them with a KNN imputer first,
which grewkit leaves out (it would invent joints the estimator did not see). The maps of other
heights than 64 use a canvas and sigma scaled by height / 64.
"""

from __future__ import annotations

import cv2
import numpy as np

# COCO-17 limbs, SkeletonGait's list (head, arms, trunk, legs).
LIMBS = (
    (0, 1), (0, 2), (1, 3), (2, 4), (0, 5), (5, 7), (7, 9), (0, 6), (6, 8), (8, 10),
    (5, 11), (11, 13), (13, 15), (6, 12), (12, 14), (14, 16), (11, 12),
)  # fmt: skip
HIPS = (11, 12)
SIGMA_64 = 8.0
CANVAS_64 = 128


def to_canvas(pose: np.ndarray, canvas: int) -> tuple[np.ndarray, np.ndarray]:
    """(T, 17, 3) image pixels and confidence -> canvas coordinates (T, 17, 2) and confidence (T, 17),
    NaN coordinates and confidence 0 for missing joints; a frame without both hips is centred on the mean
    of its joints, a frame without any stays empty."""
    xy = pose[..., :2].astype(np.float64)
    conf = pose[..., 2].astype(np.float64)
    valid = np.isfinite(xy).all(-1) & np.isfinite(conf) & (conf > 0)
    xy = np.where(valid[..., None], xy, np.nan)
    conf = np.where(valid, conf, 0.0)
    out = np.full_like(xy, np.nan)
    for t in range(len(xy)):
        if not valid[t].any():
            continue
        centre = xy[t, list(HIPS)].mean(0) if valid[t, list(HIPS)].all() else np.nanmean(xy[t], 0)
        rel = xy[t] - centre
        extent = np.nanmax(rel[:, 1]) - np.nanmin(rel[:, 1])
        scale = (canvas // 1.5) / extent if extent > 0 else 1.0
        out[t] = rel * scale + canvas // 2
    return out, conf


def _patch(x0: float, x1: float, y0: float, y1: float, sigma: float, canvas: int):
    """The pixel grid of a box grown by 3 sigma (int-truncated, as OpenGait cuts its patches), or None."""
    xs = np.arange(max(int(x0 - 3 * sigma), 0), min(int(x1 + 3 * sigma) + 1, canvas), dtype=np.float32)
    ys = np.arange(max(int(y0 - 3 * sigma), 0), min(int(y1 + 3 * sigma) + 1, canvas), dtype=np.float32)
    if not len(xs) or not len(ys):
        return None
    return np.s_[int(ys[0]) : int(ys[-1]) + 1, int(xs[0]) : int(xs[-1]) + 1], xs[None, :], ys[:, None]


def draw_maps(xy: np.ndarray, conf: np.ndarray, canvas: int, sigma: float) -> np.ndarray:
    """Canvas coordinates (T, 17, 2) and confidences (T, 17) -> float maps (T, 2, canvas, canvas) in [0, 1]:
    limbs, joints."""
    maps = np.zeros((len(xy), 2, canvas, canvas), np.float32)
    for t in range(len(xy)):
        for j in range(xy.shape[1]):
            if conf[t, j] <= 1e-3:
                continue
            x, y = xy[t, j]
            patch = _patch(x, x, y, y, sigma, canvas)
            if patch is None:
                continue
            cut, gx, gy = patch
            g = np.exp(-((gx - x) ** 2 + (gy - y) ** 2) / (2 * sigma**2)) * conf[t, j]
            np.maximum(maps[t, 1][cut], g, out=maps[t, 1][cut])
        for a, b in LIMBS:
            value = min(conf[t, a], conf[t, b])
            if value <= 1e-3:
                continue
            (xa, ya), (xb, yb) = xy[t, a], xy[t, b]
            patch = _patch(min(xa, xb), max(xa, xb), min(ya, yb), max(ya, yb), sigma, canvas)
            if patch is None:
                continue
            cut, gx, gy = patch
            d2a = (gx - xa) ** 2 + (gy - ya) ** 2
            dab = (xa - xb) ** 2 + (ya - yb) ** 2
            if dab < 1:  # both ends on one pixel: a joint
                d2 = d2a
            else:
                d2b = (gx - xb) ** 2 + (gy - yb) ** 2
                u = np.clip((d2a - d2b + dab) / (2 * dab), 0.0, 1.0)  # the nearest point of the segment
                d2 = (gx - (xa + u * (xb - xa))) ** 2 + (gy - (ya + u * (yb - ya))) ** 2
            g = np.exp(-d2 / (2 * sigma**2)) * value
            np.maximum(maps[t, 0][cut], g, out=maps[t, 0][cut])
    return maps


def align(channel: np.ndarray, size: int) -> np.ndarray:
    """One map (canvas, canvas) in [0, 1] -> (size, size) uint8: its rows of non-zero pixels, a square
    window of their height around the canvas's centre column, resized."""
    img = np.floor(channel * 255.0).astype(np.float32)  # OpenGait turns the map into an 8-bit image first
    rows = np.flatnonzero(img.sum(1))
    if len(rows) == 0:
        return np.zeros((size, size), np.uint8)
    top, bottom = rows[0], rows[-1]
    half = (bottom - top + 1) // 2
    centre = img.shape[1] // 2
    pad = max(half - centre, 0) + 1
    padded = np.pad(img[top : bottom + 1], ((0, 0), (pad, pad)))
    window = padded[:, centre + pad - half : centre + pad + half + 1]
    out = cv2.resize(window, (size, size), interpolation=cv2.INTER_AREA)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def skeleton_maps(pose: np.ndarray, height: int = 64) -> np.ndarray:
    """(T, 17, 3) COCO-17 pose in image pixels -> (T, 2, height, height) uint8 SkeletonGait maps."""
    if len(pose) == 0:
        return np.zeros((0, 2, height, height), np.uint8)
    canvas = int(round(CANVAS_64 * height / 64))
    sigma = SIGMA_64 * height / 64
    xy, conf = to_canvas(pose, canvas)
    maps = draw_maps(xy, conf, canvas, sigma)
    return np.stack([[align(m, height) for m in frame] for frame in maps]).reshape(len(pose), 2, height, height)
