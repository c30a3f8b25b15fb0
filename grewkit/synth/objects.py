"""What a camera sees, as primitives: shaded articulated people, cars and dogs, static occluders, and
the background picture (textured ground, sky, buildings and trees).

Everything is a function of (config, camera, time), seeded per camera, so any frame can be redrawn.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import cv2
import numpy as np

from grewkit.synth.body import J, Walk
from grewkit.synth.raster import Prim, Shapes
from grewkit.synth.world import Camera, SynthConfig, rng_for

_BG_DISTANCE_M = 32.0  # buildings and trees stand this far away; nothing behind them is drawn
# Clothes are looser than the limbs they cover and heads look bigger than the skull (hair): with these
# factors on limb widths and head size, SSDLite finds many more walkers (docs/benchmarks.md).
_LIMB_WIDTH = 1.3
_HEAD_SIZE = 1.15


# ---------------------------------------------------------------- people


def person_prims(cam: Camera, walk: Walk, joints: np.ndarray) -> list[Prim]:
    p = walk.person
    H = p.height_m
    fwd, lat = walk.frame_axes()
    up = np.array([0.0, 0.0, 1.0])
    to_cam = cam.position - joints[J["pelvis"]]
    to_cam /= np.linalg.norm(to_cam)
    near_sign = 1.0 if float(lat @ to_cam) > 0 else -1.0  # which side (left=+1) faces the camera
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
    waist = [
        hips_c + sx * bot_w * 1.02 * lat + sz * depth_half * 1.05 * fwd + up * dz
        for sx in (-1, 1)
        for sz in (-1, 1)
        for dz in (-0.07 * H, 0.02 * H)
    ]
    s.poly(waist, p.lower_rgb, 0.9, bias=-0.011)
    if skirt or p.coat:
        knee_z = 0.5 * (joints[J["l_knee"]][2] + joints[J["r_knee"]][2])
        bottom = pelvis.copy()
        bottom[2] = knee_z + (0.0 if p.coat else 0.03 * H)
        flare = 1.55 if skirt else 1.35
        rgb = p.lower_rgb if skirt else p.upper_rgb
        top_c = pelvis + up * (0.25 * H if p.coat else 0.02 * H)
        pts = [top_c + sx * bot_w * lat + sz * depth_half * fwd for sx in (-1, 1) for sz in (-1, 1)]
        pts += [
            bottom + sx * bot_w * flare * lat + sz * depth_half * (1.0 + 0.45 * (flare - 1.0)) * fwd
            for sx in (-1, 1)
            for sz in (-1, 1)
        ]
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
        s.box(
            chest + trunk_up * 0.04 * H - fwd * (depth_half + 0.08),
            (lat * 0.15, fwd * 0.08, trunk_up * 0.2),
            p.bag_rgb,
            0.85,
            bias=0.0,
        )
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
    kind: str  # car or dog
    start: tuple[float, float]
    heading: float
    speed: float
    period: float  # seconds between passes
    offset: float
    length: float  # metres travelled per pass
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
            out.append(
                Mover(
                    "car",
                    (float(start[0]), float(start[1])),
                    across,
                    speed,
                    rng.uniform(9, 22),
                    rng.uniform(0, 20),
                    2 * half,
                    tuple(rng.uniform(30, 220, 3)),
                )
            )
        else:
            d = rng.uniform(cam.near_m + 1, cam.far_m)
            off = rng.uniform(-0.4, 0.4) * cam.half_fov
            mid = np.array([cam.x + d * math.cos(yaw + off), cam.y + d * math.sin(yaw + off)])
            heading = rng.uniform(0, 2 * math.pi)
            start = mid - 8 * np.array([math.cos(heading), math.sin(heading)])
            out.append(
                Mover(
                    "dog",
                    (float(start[0]), float(start[1])),
                    heading,
                    rng.uniform(1.2, 2.2),
                    rng.uniform(15, 30),
                    rng.uniform(0, 30),
                    16.0,
                    tuple(rng.uniform(60, 180) * np.array([1.0, 0.8, 0.55])),
                )
            )
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
            s.capsule(base, base + up * 3.8, 0.13, (70, 72, 75), 1.0)  # lamp post
            s.box(base + up * 3.9, (np.array([0.25, 0, 0]), np.array([0, 0.12, 0]), up * 0.08), (50, 50, 50), 1.0)
        else:
            a = rng.uniform(0, math.pi)
            ax = np.array([math.cos(a), math.sin(a), 0.0])
            ay = np.array([-ax[1], ax[0], 0.0])
            s.box(base + up * 0.35, (ax * 0.8, ay * 0.3, up * 0.35), (120, 115, 105), 0.95)  # planter
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
