"""Frames of one camera: textured site, shaded articulated people, cars and dogs, occluders, light and noise.

Each object of a frame (walker, mover, static occluder) is rasterised once into a small BGRA
canvas whose alpha is its exact amodal silhouette; the frame is composited far to near, and
the same canvases give each walker's true mask, visible fraction and tight box. Everything is
a function of (config, camera, frame index), so ``render_mask`` can redo any single frame.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import cv2
import numpy as np

from grewkit.synth.body import J, Walk, coco17
from grewkit.synth.world import Camera, SynthConfig, World, rng_for

_SHIFT = 4                 # sub-pixel bits for OpenCV drawing
_SCALE = 1 << _SHIFT
_BG_DISTANCE_M = 32.0
_RING = np.linspace(0, 2 * np.pi, 16, endpoint=False)      # buildings and trees stand this far away; nothing behind them is drawn


# ---------------------------------------------------------------- primitives

@dataclass
class Prim:
    depth: float
    kind: str              # capsule, poly, ellipse
    pts: np.ndarray        # image points (N x 2)
    size: float            # capsule thickness or ellipse radius (px)
    color: tuple[float, float, float]   # BGR


class Shapes:
    """Collects 3D shapes of one object, then projects all their points at once into image primitives."""

    def __init__(self, cam: Camera):
        self.cam = cam
        self._items: list[tuple[str, int, int, float, tuple, float]] = []   # kind, first, count, size_m, bgr, bias
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
            zs = z[i:i + n]
            if kind == "poly":
                if zs.min() < 0.2:
                    continue
                out.append(Prim(float(zs.mean()) + bias, kind, uv[i:i + n], 0.0, color))
            else:
                zm = max(float(zs.mean()), 0.3)
                out.append(Prim(zm + bias, kind, uv[i:i + n], max(1.0, fy * size_m / zm), color))
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
        return ((slice(ya, yb), slice(xa, xb)),
                (slice(ya - self.y0, yb - self.y0), slice(xa - self.x0, xb - self.x0)))


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


# (share of the part's width, brightness): the outline darker, the middle as lit, a faint highlight.
_SHADE_LAYERS = ((1.0, 0.6), (0.7, 0.85), (0.4, 1.05))
# Light from above: brightness at the top and at the bottom of a shaded object.
_TOP_LIGHT = (1.1, 0.85)
# Clothes are looser than the limbs they cover and heads look bigger than the skull (hair): with these
# factors on limb widths and head size, SSDLite finds many more walkers (docs/benchmarks.md, issue 4).
_LIMB_WIDTH = 1.3
_HEAD_SIZE = 1.15
# Cloth texture: brightness factor 1 + amplitude * (unit noise blurred by sigma px), fixed per walker.
_CLOTH_AMPLITUDE, _CLOTH_SIGMA = 0.12, 1.2


# ---------------------------------------------------------------- people

def person_prims(cam: Camera, walk: Walk, joints: np.ndarray) -> list[Prim]:
    p = walk.person
    H = p.height_m
    fwd, lat = walk.frame_axes()
    up = np.array([0.0, 0.0, 1.0])
    to_cam = cam.position - joints[J["pelvis"]]
    to_cam /= np.linalg.norm(to_cam)
    near_sign = 1.0 if float(lat @ to_cam) > 0 else -1.0     # which side (left=+1) faces the camera
    facing = float(fwd @ to_cam)
    s = Shapes(cam)
    g = p.girth

    def shade(sign: float) -> float:
        return 1.0 if sign == near_sign else 0.74

    skirt = p.lower == "skirt"
    shorts = p.lower == "shorts"
    for side, sign in (("l", 1.0), ("r", -1.0)):
        hip, knee, ankle, toe = (joints[J[f"{side}_{n}"]] for n in ("hip", "knee", "ankle", "toe"))
        sh = shade(sign)
        s.capsule(hip, knee, _LIMB_WIDTH * 0.085 * H * g, p.lower_rgb, sh)
        shin_rgb = p.skin if (shorts or skirt) else p.lower_rgb
        s.capsule(knee, ankle, _LIMB_WIDTH * 0.058 * H * (g if not (shorts or skirt) else 0.85), shin_rgb, sh)
        s.capsule(ankle, toe, 0.045 * H, p.shoes_rgb, sh)
    pelvis, neck = joints[J["pelvis"]], joints[J["neck"]]
    trunk = neck - pelvis
    trunk_up = trunk / np.linalg.norm(trunk)
    depth_half = 0.075 * H * g
    # Torso: a box from the hips to the shoulders, narrower at the waist.
    hips_c = pelvis + trunk_up * 0.02 * H
    chest_c = neck - trunk_up * 0.04 * H
    top_w, bot_w = p.shoulder_w / 2 + 0.025 * H, p.hip_w / 2 + 0.03 * H * g
    torso = [hips_c + sx * bot_w * lat + sz * depth_half * fwd for sx in (-1, 1) for sz in (-1, 1)]
    torso += [chest_c + sx * top_w * lat + sz * depth_half * 0.9 * fwd for sx in (-1, 1) for sz in (-1, 1)]
    s.poly(torso, p.upper_rgb, 0.92, bias=-0.01)
    waist = [hips_c + sx * bot_w * 1.02 * lat + sz * depth_half * 1.05 * fwd + up * dz for sx in (-1, 1) for sz in (-1, 1)
             for dz in (-0.07 * H, 0.02 * H)]
    s.poly(waist, p.lower_rgb, 0.9, bias=-0.011)
    if skirt or p.coat:
        knee_z = 0.5 * (joints[J["l_knee"]][2] + joints[J["r_knee"]][2])
        bottom = pelvis.copy()
        bottom[2] = knee_z + (0.0 if p.coat else 0.03 * H)
        flare = 1.55 if skirt else 1.35
        rgb = p.lower_rgb if skirt else p.upper_rgb
        top_c = pelvis + up * (0.25 * H if p.coat else 0.02 * H)
        pts = [top_c + sx * bot_w * lat + sz * depth_half * fwd for sx in (-1, 1) for sz in (-1, 1)]
        pts += [bottom + sx * bot_w * flare * lat + sz * depth_half * (1.0 + 0.45 * (flare - 1.0)) * fwd
                for sx in (-1, 1) for sz in (-1, 1)]
        s.poly(pts, rgb, 0.88, bias=-0.012)
    # Neck and head: hair behind, face in front when the person looks towards the camera.
    head = joints[J["head"]]
    r = _HEAD_SIZE * 0.065 * H * p.head_scale
    s.capsule(neck - trunk_up * 0.01 * H, head - trunk_up * 0.5 * r, 0.055 * H, p.skin, 0.85)
    if facing < -0.35:
        # Seen from behind: the hair covers the head.
        hair_c = head + up * 0.06 * r - fwd * 0.05 * r
        s.ball(hair_c, r * 1.0, p.hair, 1.0, bias=-0.02)
    else:
        # Hair at the back and top, the face in front of it.
        hair_c = head + up * 0.18 * r - fwd * 0.25 * r
        s.ball(hair_c, r * 0.97, p.hair, 1.0, bias=-0.015)
        s.ball(head + fwd * 0.2 * r - up * 0.1 * r, r * 0.86, p.skin, 1.0, bias=-0.03)
    if p.hair_long:
        s.capsule(hair_c - fwd * 0.3 * r, hair_c - fwd * 0.5 * r - up * 1.6 * r, 1.4 * r, p.hair, 0.9)
    # Arms: sleeves per the upper-body class; hands are skin.
    for side, sign in (("l", 1.0), ("r", -1.0)):
        sh_, el, wr = (joints[J[f"{side}_{n}"]] for n in ("shoulder", "elbow", "wrist"))
        shd = shade(sign)
        upper_rgb = p.skin if p.upper == "sleeveless" else p.upper_rgb
        fore_rgb = p.upper_rgb if p.upper == "long_sleeve" else p.skin
        s.capsule(sh_, el, _LIMB_WIDTH * 0.052 * H * g, upper_rgb, shd)
        s.capsule(el, wr, _LIMB_WIDTH * 0.042 * H, fore_rgb, shd)
        s.ball(wr + (wr - el) * 0.25, 0.028 * H, p.skin, shd)
    # Carried things.
    chest = 0.5 * (pelvis + neck)
    if p.carrying == "backpack":
        s.box(chest + trunk_up * 0.04 * H - fwd * (depth_half + 0.08),
              (lat * 0.15, fwd * 0.08, trunk_up * 0.2), p.bag_rgb, 0.85, bias=0.0)
    elif p.carrying == "shoulder_bag":
        # str hash() changes between processes; the bag's side must not.
        side = 1.0 if zlib.crc32(p.identity_id.encode()) & 1 else -1.0
        anchor = pelvis + lat * side * (p.hip_w / 2 + 0.06) + up * 0.02 * H
        s.box(anchor, (fwd * 0.14, lat * 0.05, up * 0.12), p.bag_rgb, shade(side))
        s.capsule(joints[J["l_shoulder" if side < 0 else "r_shoulder"]], anchor + up * 0.1, 0.012 * H, p.bag_rgb, 0.7)
    elif p.carrying == "handbag":
        wr = joints[J["r_wrist"]]
        s.box(wr - up * 0.12, (fwd * 0.13, lat * 0.05, up * 0.1), p.bag_rgb, shade(-1.0))
    elif p.carrying == "lift_stuff":
        hands = 0.5 * (joints[J["l_wrist"]] + joints[J["r_wrist"]])
        s.box(hands + fwd * 0.1 + up * 0.08, (fwd * 0.16, lat * 0.2, up * 0.14), (150, 110, 70), 1.0, bias=-0.05)
    return s.prims


# ---------------------------------------------------------------- movers and occluders

@dataclass(frozen=True)
class Mover:
    kind: str            # car or dog
    start: tuple[float, float]
    heading: float
    speed: float
    period: float        # seconds between passes
    offset: float
    length: float        # metres travelled per pass
    rgb: tuple[float, float, float]

    def position(self, t: float) -> np.ndarray | None:
        u = (t + self.offset) % self.period
        s = u * self.speed
        if s > self.length:
            return None
        return np.array([self.start[0] + s * math.cos(self.heading), self.start[1] + s * math.sin(self.heading), 0.0])

    def prims(self, cam: Camera, t: float) -> tuple[list[Prim], float] | None:
        pos = self.position(t)
        if pos is None:
            return None
        fwd = np.array([math.cos(self.heading), math.sin(self.heading), 0.0])
        lat = np.array([-fwd[1], fwd[0], 0.0])
        up = np.array([0.0, 0.0, 1.0])
        s = Shapes(cam)
        if self.kind == "car":
            s.box(pos + up * 0.65, (fwd * 2.15, lat * 0.9, up * 0.35), self.rgb, 1.0)
            s.box(pos + up * 1.25 - fwd * 0.2, (fwd * 1.2, lat * 0.82, up * 0.27), (40, 50, 60), 1.0, bias=-0.01)
            for a in (-1.4, 1.4):
                for b in (-0.9, 0.9):
                    s.ball(pos + fwd * a + lat * b + up * 0.33, 0.33, (25, 25, 25), 1.0, bias=-0.02)
        else:
            phase = 2 * math.pi * t * 2.2
            body = pos + up * 0.42
            s.box(body, (fwd * 0.33, lat * 0.11, up * 0.12), self.rgb, 1.0)
            s.ball(body + fwd * 0.42 + up * 0.12, 0.1, self.rgb, 0.9, bias=-0.01)
            for i, (a, b) in enumerate(((0.25, 0.08), (0.25, -0.08), (-0.25, 0.08), (-0.25, -0.08))):
                swing = 0.12 * math.sin(phase + (0 if i in (0, 3) else math.pi))
                hip = body + fwd * a + lat * b - up * 0.08
                s.capsule(hip, pos + fwd * (a + swing) + lat * b + up * 0.03, 0.05, self.rgb, 0.8)
        uv, z = cam.project(pos[None])
        return s.prims, float(z[0])


def make_movers(config: SynthConfig, cam: Camera) -> list[Mover]:
    rng = rng_for(config.seed, "movers", cam.index)
    out = []
    yaw = math.radians(cam.yaw_deg)
    for i in range(config.movers_per_camera):
        if i % 2 == 0:
            # Cars pass on a road behind the walking area, across the view.
            d = cam.far_m + rng.uniform(4, 9)
            across = yaw + math.pi / 2 * (1 if rng.random() < 0.5 else -1)
            centre = np.array([cam.x + d * math.cos(yaw), cam.y + d * math.sin(yaw)])
            half = d * math.tan(cam.half_fov) + 8
            start = centre - half * np.array([math.cos(across), math.sin(across)])
            speed = rng.uniform(5, 11)
            out.append(Mover("car", (float(start[0]), float(start[1])), across, speed, rng.uniform(9, 22),
                             rng.uniform(0, 20), 2 * half, tuple(rng.uniform(30, 220, 3))))
        else:
            d = rng.uniform(cam.near_m + 1, cam.far_m)
            off = rng.uniform(-0.4, 0.4) * cam.half_fov
            mid = np.array([cam.x + d * math.cos(yaw + off), cam.y + d * math.sin(yaw + off)])
            heading = rng.uniform(0, 2 * math.pi)
            start = mid - 8 * np.array([math.cos(heading), math.sin(heading)])
            out.append(Mover("dog", (float(start[0]), float(start[1])), heading, rng.uniform(1.2, 2.2), rng.uniform(15, 30),
                             rng.uniform(0, 30), 16.0, tuple(rng.uniform(60, 180) * np.array([1.0, 0.8, 0.55]))))
    return out


def occluder_prims(config: SynthConfig, cam: Camera) -> list[tuple[list[Prim], float]]:
    rng = rng_for(config.seed, "occluders", cam.index)
    yaw = math.radians(cam.yaw_deg)
    up = np.array([0.0, 0.0, 1.0])
    out = []
    for i in range(config.occluders_per_camera):
        d = rng.uniform(cam.near_m + 0.5, 0.5 * (cam.near_m + cam.far_m))
        off = rng.uniform(-0.8, 0.8) * cam.half_fov
        base = np.array([cam.x + d * math.cos(yaw + off), cam.y + d * math.sin(yaw + off), 0.0])
        s = Shapes(cam)
        if i % 2 == 0:
            s.capsule(base, base + up * 3.8, 0.13, (70, 72, 75), 1.0)           # lamp post
            s.box(base + up * 3.9, (np.array([0.25, 0, 0]), np.array([0, 0.12, 0]), up * 0.08), (50, 50, 50), 1.0)
        else:
            a = rng.uniform(0, math.pi)
            ax = np.array([math.cos(a), math.sin(a), 0.0])
            ay = np.array([-ax[1], ax[0], 0.0])
            s.box(base + up * 0.35, (ax * 0.8, ay * 0.3, up * 0.35), (120, 115, 105), 0.95)     # planter
            for k in range(4):
                s.ball(base + ax * (-0.6 + 0.4 * k) + up * 0.8, 0.28, (50, 100, 45), 0.9 + 0.05 * (k % 2), bias=-0.01)
        uv, z = cam.project(base[None])
        out.append((s.prims, float(z[0])))
    return out


# ---------------------------------------------------------------- background

def make_background(config: SynthConfig, cam: Camera) -> np.ndarray:
    rng = rng_for(config.seed, "background", cam.index)
    W, Hh = cam.width, cam.height
    # Ground texture in ground coordinates (4 cm per texel around the camera), then warped into the view.
    extent, res = 2 * (_BG_DISTANCE_M + 4), 0.05
    n = int(extent / res)
    ys, xs = np.mgrid[0:n, 0:n].astype(np.float32) * res
    base = rng.uniform(95, 165) * np.array([1.0, rng.uniform(0.93, 1.02), rng.uniform(0.85, 1.0)])
    tile = rng.uniform(0.4, 0.9)
    ti, tj = np.floor(ys / tile).astype(np.int64), np.floor(xs / tile).astype(np.int64)
    tile_var = rng.normal(0, 10, size=(int(n * res / tile) + 2, int(n * res / tile) + 2)).astype(np.float32)
    lum = tile_var[ti, tj]
    grout = ((ys % tile) < 0.03) | ((xs % tile) < 0.03)
    lum = lum - 35 * grout
    lum += rng.normal(0, 7, size=(n, n)).astype(np.float32)
    tex = np.clip(base[None, None, :] + lum[:, :, None], 0, 255)
    # Grass patches and a painted stripe.
    for _ in range(3):
        cx_, cy_, rx, ry = rng.uniform(0, n, 2).tolist() + rng.uniform(n * 0.05, n * 0.2, 2).tolist()
        m = ((xs / res - cx_) / rx) ** 2 + ((ys / res - cy_) / ry) ** 2 < 1
        grass = np.array([70, 120, 55]) + rng.normal(0, 18, size=(int(m.sum()), 1))
        tex[m] = np.clip(grass, 0, 255)
    tex = cv2.GaussianBlur(tex.astype(np.uint8), (3, 3), 0)[:, :, ::-1].copy()  # to BGR
    # Homography: texel (j, i) -> ground (x, y) -> image.
    x0, y0 = cam.x - extent / 2, cam.y - extent / 2
    A = np.array([[res, 0, x0], [0, res, y0], [0, 0, 1]])
    R = cam.rotation
    t = -R @ cam.position
    K = np.array([[cam.fx, 0, cam.cx], [0, cam.fy, cam.cy], [0, 0, 1]])
    Hg = K @ np.column_stack([R[:, 0], R[:, 1], t])
    img = cv2.warpPerspective(tex, Hg @ A, (W, Hh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    # Far band: sky, buildings and trees standing on the ground at _BG_DISTANCE_M.
    horizon = cam.cy - cam.fy * math.tan(math.radians(cam.pitch_deg))
    ground_far = cam.cy + cam.fy * math.tan(math.atan2(cam.height_m, _BG_DISTANCE_M) - math.radians(cam.pitch_deg))
    base_row = int(np.clip(ground_far, 0, Hh))
    if base_row > 0:
        sky_top = np.array([235, 200, 160], float) * rng.uniform(0.85, 1.05)
        rows = np.linspace(0, 1, base_row)[:, None, None]
        img[:base_row] = np.clip(sky_top * (1 - 0.3 * rows) + np.array([20, 20, 10]) * rows, 0, 255).astype(np.uint8)
        x = 0
        while x < W:
            bw = int(rng.uniform(0.12, 0.35) * W)
            top = int(base_row - rng.uniform(0.3, 1.2) * max(base_row - horizon, 40) - rng.uniform(20, 120))
            color = rng.uniform(80, 200, 3)
            cv2.rectangle(img, (x, top), (x + bw, base_row), color.tolist(), -1)
            # Windows
            for wy in range(top + 8, base_row - 10, 22):
                for wx in range(x + 6, x + bw - 12, 18):
                    cv2.rectangle(img, (wx, wy), (wx + 9, wy + 12), (color * 0.45).tolist(), -1)
            x += bw + int(rng.uniform(0, 0.05) * W)
        for _ in range(int(rng.integers(2, 6))):
            tx, ty = int(rng.uniform(0, W)), base_row - int(rng.uniform(10, 40))
            r = int(rng.uniform(15, 45))
            cv2.circle(img, (tx, ty - r), r, (40, int(rng.uniform(80, 120)), 50), -1)
            cv2.rectangle(img, (tx - 3, ty - r), (tx + 3, base_row), (40, 55, 70), -1)
    noise = rng.normal(0, 3, size=img.shape)
    return np.clip(img.astype(np.float32) + noise, 0, 255).astype(np.uint8)


# ---------------------------------------------------------------- one camera

@dataclass
class Seen:
    """A walker in one frame: its raster and what the ground truth needs."""

    walk_index: int
    raster: Raster
    box: tuple[float, float, float, float]      # amodal box clipped to the frame
    visibility: float
    keypoints: np.ndarray                       # 17 x 3: u, v, visibility flag (0 out of frame, 1 occluded, 2 visible)
    joints3d: np.ndarray                        # 17 x 3 world metres
    visible_crop: np.ndarray                    # bool mask of the visible silhouette inside ``box``


class CameraRenderer:
    def __init__(self, world: World, camera: int, *, with_background: bool = True):
        self.config = world.config
        self.cam = world.cameras[camera]
        self.walks = [(i, w) for i, w in enumerate(world.walks) if w.camera == camera]
        self.movers = make_movers(self.config, self.cam)
        self.occluders = occluder_prims(self.config, self.cam)
        self.static = [r for r in (rasterize(p, d) for p, d in self.occluders) if r is not None]
        self.background = make_background(self.config, self.cam) if with_background else None
        rng = rng_for(self.config.seed, "light", camera)
        self.light = (rng.uniform(40, 90), rng.uniform(0, 2 * math.pi), rng.uniform(7, 15), rng.uniform(0, 2 * math.pi))
        azimuth = rng.uniform(0, 2 * math.pi)
        self.sun = np.array([math.cos(azimuth), math.sin(azimuth)])   # direction shadows fall
        self.shadows: list[np.ndarray] = []
        self._cloth_cache: dict[str, np.ndarray] = {}
        sigma = self.config.noise_sigma
        self.noise = []
        if with_background and sigma > 0:
            nrng = rng_for(self.config.seed, "noise", camera)
            for _ in range(6):
                n = nrng.normal(0, sigma, size=(self.cam.height, self.cam.width, 3))
                self.noise.append((np.clip(n, 0, 255).astype(np.uint8), np.clip(-n, 0, 255).astype(np.uint8)))

    def gain(self, t: float) -> float:
        p1, a1, p2, a2 = self.light
        d = self.config.illumination_drift
        return 1.0 + d * (0.7 * math.sin(2 * math.pi * t / p1 + a1) + 0.3 * math.sin(2 * math.pi * t / p2 + a2))

    def scene(self, frame: int) -> tuple[list[Raster], list[Seen]]:
        """All rasters of the frame (far to near) and the walkers seen, with visibility."""
        t = frame / self.config.fps
        objects: list[tuple[Raster, int | None, np.ndarray | None]] = [(r, None, None) for r in self.static]
        shadows: list[np.ndarray] = []
        for i, w in self.walks:
            if not w.active(t):
                continue
            joints = w.joints(t)
            _, z = self.cam.project(joints[J["pelvis"]][None])
            if z[0] < 0.5:
                continue
            r = rasterize(person_prims(self.cam, w, joints), float(z[0]), shaded=True)
            if r is not None:
                tile = self._cloth(i)
                ch, cw = r.canvas.shape[:2]
                if ch > tile.shape[0] or cw > tile.shape[1]:     # a walker right in front of the lens
                    tile = tile[np.arange(ch) % tile.shape[0]][:, np.arange(cw) % tile.shape[1]]
                r.canvas[:, :, :3] = np.clip(r.canvas[:, :, :3] * tile[:ch, :cw, None], 0, 255).astype(np.uint8)
                objects.append((r, i, joints))
                shadows.append(self._shadow(w.ground_point(t), 0.28))
        for m in self.movers:
            got = m.prims(self.cam, t)
            if got is not None and got[1] > 0.5:
                r = rasterize(*got)
                if r is not None:
                    objects.append((r, None, None))
                    shadows.append(self._shadow(m.position(t)[:2], 1.6 if m.kind == "car" else 0.3))
        objects.sort(key=lambda o: o[0].depth)   # near first
        W, Hh = self.cam.width, self.cam.height
        occupied = np.zeros((Hh, W), np.uint8)
        seen: list[Seen] = []
        for r, walk_index, joints in objects:
            a = r.alpha
            clipped = r.clip(W, Hh)
            if clipped is None:
                continue
            in_frame, inside = clipped
            own = a[inside] > 0
            occ = occupied[in_frame]
            if walk_index is not None and own.any():
                total = int(np.count_nonzero(a))
                visible = int(np.count_nonzero(own & (occ == 0)))
                rows = np.flatnonzero(a.any(axis=1))
                cols = np.flatnonzero(a.any(axis=0))
                box = (float(max(r.x0 + cols[0], 0)), float(max(r.y0 + rows[0], 0)),
                       float(min(r.x0 + cols[-1] + 1, W)), float(min(r.y0 + rows[-1] + 1, Hh)))
                vis_own = own & (occ == 0)
                bx1, by1, bx2, by2 = (int(v) for v in box)
                ya, xa = in_frame[0].start, in_frame[1].start
                crop = vis_own[by1 - ya:by2 - ya, bx1 - xa:bx2 - xa].copy()
                walk = self.walks_by_index[walk_index]
                kp3 = coco17(walk, joints)
                uv, _ = self.cam.project(kp3)
                flags = np.zeros(17)
                for k in range(17):
                    u, v = int(math.floor(uv[k, 0])), int(math.floor(uv[k, 1]))
                    if 0 <= u < W and 0 <= v < Hh:
                        flags[k] = 1.0 if occupied[v, u] else 2.0
                seen.append(Seen(walk_index, r, box, visible / total if total else 0.0,
                                 np.column_stack([uv, flags]), kp3, crop))
            occ |= own.astype(np.uint8)
        self.shadows = shadows
        return [o[0] for o in reversed(objects)], seen

    def _cloth(self, walk_index: int) -> np.ndarray:
        """A fixed pattern of fine light and dark blotches (cloth texture) as a brightness factor.

        Seeded by the person, not the walk: the same clothes look the same in every camera.
        """
        person = self.walks_by_index[walk_index].person.identity_id
        if person not in self._cloth_cache:
            rng = rng_for(self.config.seed, "cloth", person)
            n = rng.normal(0, 1, size=(512, 512)).astype(np.float32)
            n = cv2.GaussianBlur(n, (0, 0), _CLOTH_SIGMA)
            n /= max(float(n.std()), 1e-6)
            self._cloth_cache[person] = np.clip(1.0 + _CLOTH_AMPLITUDE * n, 0.5, 1.5)
        return self._cloth_cache[person]

    def _shadow(self, ground_xy: np.ndarray, radius: float) -> np.ndarray:
        """Image polygon of a soft ground shadow, stretched away from the sun."""
        sun = self.sun
        centre = np.asarray(ground_xy, float)[:2] + sun * radius * 0.8
        ring = np.stack([np.cos(_RING), np.sin(_RING)], axis=1)
        stretch = np.outer(ring @ sun, sun) * 0.9
        pts = centre + (ring + stretch) * radius
        uv, z = self.cam.project(np.column_stack([pts, np.zeros(len(pts))]))
        return uv if (z > 0.3).all() else np.zeros((0, 2))

    def _draw_shadows(self, img: np.ndarray) -> None:
        _shadow_darkening(img, self.shadows)

    @property
    def walks_by_index(self) -> dict[int, Walk]:
        if not hasattr(self, "_by_index"):
            self._by_index = dict(self.walks)
        return self._by_index

    def frame(self, frame: int) -> tuple[np.ndarray, list[Seen]]:
        rasters, seen = self.scene(frame)
        img = self.background.copy()
        W, Hh = self.cam.width, self.cam.height
        self._draw_shadows(img)
        for r in rasters:
            clipped = r.clip(W, Hh)
            if clipped is None:
                continue
            in_frame, inside = clipped
            src = r.canvas[inside]
            m = src[:, :, 3] > 0
            np.copyto(img[in_frame], src[:, :, :3], where=m[:, :, None])
        img = cv2.GaussianBlur(img, (3, 3), 0.7)
        img = cv2.convertScaleAbs(img, alpha=self.gain(frame / self.config.fps), beta=0)
        if self.noise:
            pos, neg = self.noise[(frame * 7) % len(self.noise)]
            img = cv2.subtract(cv2.add(img, pos), neg)
        return img, seen


def _shadow_darkening(img: np.ndarray, polygons: list[np.ndarray]) -> None:
    polys = [p for p in polygons if len(p)]
    if not polys:
        return
    H, W = img.shape[:2]
    allpts = np.concatenate(polys)
    x0, y0 = max(int(allpts[:, 0].min()) - 3, 0), max(int(allpts[:, 1].min()) - 3, 0)
    x1, y1 = min(int(allpts[:, 0].max()) + 4, W), min(int(allpts[:, 1].max()) + 4, H)
    if x0 >= x1 or y0 >= y1:
        return
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    for p in polys:
        pts = np.round((p - [x0, y0]) * _SCALE).astype(np.int32)
        cv2.fillPoly(mask, [pts], 255, cv2.LINE_8, _SHIFT)
    mask = cv2.GaussianBlur(mask, (7, 7), 2.0)
    roi = img[y0:y1, x0:x1]
    keep = (1.0 - 0.38 * mask.astype(np.float32) / 255.0)[:, :, None]
    roi[:] = (roi * keep).astype(np.uint8)


def mask_of(renderer: CameraRenderer, frame: int, walk_index: int, *, visible: bool = True) -> np.ndarray:
    """The true silhouette (H x W bool) of one walk in one frame: visible part, or the whole body in frame."""
    rasters, seen = renderer.scene(frame)
    W, Hh = renderer.cam.width, renderer.cam.height
    out = np.zeros((Hh, W), bool)
    nearer = np.zeros((Hh, W), bool)
    by_id = {id(s.raster): s.walk_index for s in seen}
    for r in reversed(rasters):   # near first
        clipped = r.clip(W, Hh)
        if clipped is None:
            continue
        in_frame, inside = clipped
        own = r.alpha[inside] > 0
        if by_id.get(id(r)) == walk_index:
            out[in_frame] = own & ~nearer[in_frame] if visible else own
            break
        nearer[in_frame] |= own
    return out
