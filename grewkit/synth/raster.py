"""Primitives of the synthetic world and their rasteriser.

``Shapes`` collects an object's 3D capsules, balls and boxes and projects them through a camera
into image primitives; ``rasterize`` draws one object's primitives into its own small BGRA canvas
whose alpha is the object's exact amodal silhouette.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from grewkit.synth.world import Camera

_SHIFT = 4  # sub-pixel bits for OpenCV drawing
_SCALE = 1 << _SHIFT


# ---------------------------------------------------------------- primitives


@dataclass
class Prim:
    depth: float
    kind: str  # capsule, poly, ellipse
    pts: np.ndarray  # image points (N x 2)
    size: float  # capsule thickness or ellipse radius (px)
    color: tuple[float, float, float]  # BGR


class Shapes:
    """Collects 3D shapes of one object, then projects all their points at once into image primitives."""

    def __init__(self, cam: Camera):
        self.cam = cam
        self._items: list[tuple[str, int, int, float, tuple, float]] = []  # kind, first, count, size_m, bgr, bias
        self._points: list[np.ndarray] = []
        self._n = 0

    def _add(self, kind: str, pts: np.ndarray, size_m: float, rgb, shade: float, bias: float) -> None:
        pts = np.asarray(pts, float).reshape(-1, 3)
        self._items.append((kind, self._n, len(pts), size_m, _bgr(rgb, shade), bias))
        self._points.append(pts)
        self._n += len(pts)

    def capsule(self, a, b, width_m: float, rgb, shade: float = 1.0):
        self._add("capsule", np.stack([a, b]), width_m, rgb, shade, 0.0)

    def ball(self, c, radius_m: float, rgb, shade: float = 1.0, bias: float = 0.0):
        self._add("ellipse", c, radius_m, rgb, shade, bias)

    def box(self, centre, axes, rgb, shade: float = 1.0, bias: float = 0.0):
        """A box given its centre and three half-axis vectors; drawn as the hull of its projected corners."""
        a = np.asarray(axes, float)
        self._add("poly", np.asarray(centre, float) + _SIGNS @ a, 0.0, rgb, shade, bias)

    def poly(self, points3d, rgb, shade: float = 1.0, bias: float = 0.0):
        self._add("poly", points3d, 0.0, rgb, shade, bias)

    @property
    def prims(self) -> list[Prim]:
        if not self._items:
            return []
        uv, z = self.cam.project(np.concatenate(self._points))
        out = []
        fy = self.cam.fy
        for kind, i, n, size_m, color, bias in self._items:
            zs = z[i : i + n]
            if kind == "poly":
                if zs.min() < 0.2:
                    continue
                out.append(Prim(float(zs.mean()) + bias, kind, uv[i : i + n], 0.0, color))
            else:
                zm = max(float(zs.mean()), 0.3)
                out.append(Prim(zm + bias, kind, uv[i : i + n], max(1.0, fy * size_m / zm), color))
        return out


_SIGNS = np.array([[s0, s1, s2] for s0 in (-1, 1) for s1 in (-1, 1) for s2 in (-1, 1)], float)


def _bgr(rgb, shade: float) -> tuple[float, float, float]:
    return (min(255.0, rgb[2] * shade), min(255.0, rgb[1] * shade), min(255.0, rgb[0] * shade))


@dataclass
class Raster:
    """One object drawn into its own canvas: BGRA, alpha = amodal silhouette, placed at (x0, y0)."""

    canvas: np.ndarray
    x0: int
    y0: int
    depth: float

    @property
    def alpha(self) -> np.ndarray:
        return self.canvas[:, :, 3]

    def clip(self, width: int, height: int) -> tuple[tuple[slice, slice], tuple[slice, slice]] | None:
        """(frame rows, cols), (canvas rows, cols) of the part inside a width x height frame; None when outside."""
        xa, ya = max(self.x0, 0), max(self.y0, 0)
        xb, yb = min(self.x0 + self.canvas.shape[1], width), min(self.y0 + self.canvas.shape[0], height)
        if xa >= xb or ya >= yb:
            return None
        return ((slice(ya, yb), slice(xa, xb)), (slice(ya - self.y0, yb - self.y0), slice(xa - self.x0, xb - self.x0)))


# (share of the part's width, brightness): the outline darker, the middle as lit, a faint highlight.
_SHADE_LAYERS = ((1.0, 0.6), (0.7, 0.85), (0.4, 1.05))
# Light from above: brightness at the top and at the bottom of a shaded object.
_TOP_LIGHT = (1.1, 0.85)


def rasterize(prims: list[Prim], depth: float, *, max_side: int = 4000, shaded: bool = False) -> Raster | None:
    if not prims:
        return None
    lo = np.full(2, np.inf)
    hi = np.full(2, -np.inf)
    for p in prims:
        pad = p.size + 2
        lo = np.minimum(lo, p.pts.min(axis=0) - pad)
        hi = np.maximum(hi, p.pts.max(axis=0) + pad)
    x0, y0 = int(math.floor(lo[0])), int(math.floor(lo[1]))
    w, h = int(math.ceil(hi[0])) - x0 + 1, int(math.ceil(hi[1])) - y0 + 1
    if w <= 0 or h <= 0 or w > max_side or h > max_side:
        return None
    canvas = np.zeros((h, w, 4), np.uint8)
    off = np.array([x0, y0], float)
    # Shaded objects get rounded-looking parts: each part is drawn whole in a darker tone (its silhouette,
    # so the alpha is the same as unshaded), then smaller cores in lighter tones on top.
    layers = _SHADE_LAYERS if shaded else ((1.0, 1.0),)
    for p in sorted(prims, key=lambda q: -q.depth):
        pts = np.round((p.pts - off) * _SCALE).astype(np.int32)
        hull = cv2.convexHull(pts) if p.kind == "poly" else None
        for k, (extent, tone) in enumerate(layers):
            color = (min(255.0, p.color[0] * tone), min(255.0, p.color[1] * tone), min(255.0, p.color[2] * tone), 255.0)
            if p.kind == "capsule":
                thick = max(1, int(round(p.size * extent)))
                if k and thick < 2:
                    break
                cv2.line(canvas, tuple(pts[0]), tuple(pts[1]), color, thick, cv2.LINE_8, _SHIFT)
            elif p.kind == "ellipse":
                r = int(round(p.size * extent * _SCALE))
                if k and r < 2 * _SCALE:
                    break
                cv2.ellipse(canvas, tuple(pts[0]), (max(1, int(r * 0.86)), r), 0, 0, 360, color, -1, cv2.LINE_8, _SHIFT)
            else:
                c = hull.mean(axis=0)
                core = np.round(c + (hull - c) * extent).astype(np.int32)
                cv2.fillConvexPoly(canvas, core, color, cv2.LINE_8, _SHIFT)
    if shaded:
        # Light from above: the head and shoulders brighter than the legs and feet.
        top, bottom = _TOP_LIGHT
        ramp = np.linspace(top, bottom, h, dtype=np.float32)[:, None, None]
        canvas[:, :, :3] = np.clip(canvas[:, :, :3] * ramp, 0, 255).astype(np.uint8)
    return Raster(canvas, x0, y0, depth)
