"""Frames of one camera: textured site, shaded articulated people, cars and dogs, occluders, light and noise.

Each object of a frame (walker, mover, static occluder) is rasterised once into a small BGRA
canvas whose alpha is its exact amodal silhouette; the frame is composited far to near, and
the same canvases give each walker's true mask, visible fraction and tight box. Everything is
a function of (config, camera, frame index), so ``truth.render_mask`` can redo any single frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from grewkit.synth.body import J, Walk, coco17
from grewkit.synth.objects import make_background, make_movers, occluder_prims, person_prims
from grewkit.synth.raster import _SCALE, _SHIFT, Raster, rasterize
from grewkit.synth.world import World, rng_for

_RING = np.linspace(0, 2 * np.pi, 16, endpoint=False)  # angles of the outline of a ground shadow
# Cloth texture: brightness factor 1 + amplitude * (unit noise blurred by sigma px), fixed per walker.
_CLOTH_AMPLITUDE, _CLOTH_SIGMA = 0.12, 1.2


# ---------------------------------------------------------------- one camera


@dataclass
class Seen:
    """A walker in one frame: its raster and what the ground truth needs."""

    walk_index: int
    raster: Raster
    box: tuple[float, float, float, float]  # amodal box clipped to the frame
    visibility: float
    keypoints: np.ndarray  # 17 x 3: u, v, visibility flag (0 out of frame, 1 occluded, 2 visible)
    joints3d: np.ndarray  # 17 x 3 world metres
    visible_crop: np.ndarray  # bool mask of the visible silhouette inside ``box``


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
        self.sun = np.array([math.cos(azimuth), math.sin(azimuth)])  # direction shadows fall
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
                if ch > tile.shape[0] or cw > tile.shape[1]:  # a walker right in front of the lens
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
        objects.sort(key=lambda o: o[0].depth)  # near first
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
                box = (
                    float(max(r.x0 + cols[0], 0)),
                    float(max(r.y0 + rows[0], 0)),
                    float(min(r.x0 + cols[-1] + 1, W)),
                    float(min(r.y0 + rows[-1] + 1, Hh)),
                )
                vis_own = own & (occ == 0)
                bx1, by1, bx2, by2 = (int(v) for v in box)
                ya, xa = in_frame[0].start, in_frame[1].start
                crop = vis_own[by1 - ya : by2 - ya, bx1 - xa : bx2 - xa].copy()
                walk = self.walks_by_index[walk_index]
                kp3 = coco17(walk, joints)
                uv, _ = self.cam.project(kp3)
                flags = np.zeros(17)
                for k in range(17):
                    u, v = int(math.floor(uv[k, 0])), int(math.floor(uv[k, 1]))
                    if 0 <= u < W and 0 <= v < Hh:
                        flags[k] = 1.0 if occupied[v, u] else 2.0
                seen.append(
                    Seen(walk_index, r, box, visible / total if total else 0.0, np.column_stack([uv, flags]), kp3, crop)
                )
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
    for r in reversed(rasters):  # near first
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
