"""Are synthetic identities distinguishable by gait alone? GEIs from true silhouettes, nearest neighbour across cameras.

Each walk seen from the side (walking direction within ``max_view_deg`` of perpendicular to the
line of sight) gives a gait energy image: the person's true amodal silhouette in every frame of
two gait cycles around the walk's middle, cropped to its box, scaled to 64 rows, centred on its
column centroid in a 64 x 44 canvas, averaged. A probe walk is matched against the other
identities' side walks seen by other cameras (and its own identity's), by L2 distance,
allowing a mirror flip (people walk left or right). Rank-1 is compared with chance
(1 / number of gallery identities).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from grewkit.synth.body import Walk
from grewkit.synth.objects import person_prims
from grewkit.synth.raster import rasterize
from grewkit.synth.world import Camera, SynthConfig, World, build_world

GEI_H, GEI_W = 64, 44


@dataclass(frozen=True)
class SanityResult:
    rank1: float
    chance: float
    probes: int
    gallery_identities: int

    def line(self) -> str:
        return (
            f"GEI nearest neighbour across cameras (side views): rank-1 {self.rank1:.1%} over {self.probes} probes, "
            f"chance {self.chance:.1%} ({self.gallery_identities} identities)"
        )


def view_angle_deg(cam: Camera, walk: Walk) -> float:
    """Angle between the walking direction and the line of sight at the walk's middle (90 = side view)."""
    mid = walk.ground_point(walk.t0 + walk.duration / 2)
    los = math.atan2(mid[1] - cam.y, mid[0] - cam.x)
    d = (walk.heading - los + math.pi) % (2 * math.pi) - math.pi
    return abs(math.degrees(d))


def normalised_silhouette(mask: np.ndarray) -> np.ndarray | None:
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size < 8:
        return None
    crop = mask[rows[0] : rows[-1] + 1].astype(np.float32)
    scale = GEI_H / crop.shape[0]
    width = max(1, int(round(crop.shape[1] * scale)))
    crop = cv2.resize(crop, (width, GEI_H), interpolation=cv2.INTER_AREA)
    cols = crop.sum(axis=0)
    centre = int(round(float((cols * np.arange(width)).sum() / max(cols.sum(), 1e-6))))
    out = np.zeros((GEI_H, GEI_W), np.float32)
    left = GEI_W // 2 - centre
    src0, dst0 = max(0, -left), max(0, left)
    n = min(width - src0, GEI_W - dst0)
    if n > 0:
        out[:, dst0 : dst0 + n] = crop[:, src0 : src0 + n]
    return out


def gei(world: World, walk: Walk, *, cycles: float = 2.0) -> np.ndarray | None:
    cam = world.cameras[walk.camera]
    fps = world.config.fps
    period = 120.0 / walk.person.cadence_spm
    n = max(8, int(round(cycles * period * fps)))
    mid = walk.t0 + walk.duration / 2
    frames = []
    for k in range(n):
        t = mid + (k - n / 2) / fps
        r = rasterize(person_prims(cam, walk, walk.joints(t)), 1.0)
        if r is None:
            continue
        s = normalised_silhouette(r.alpha > 0)
        if s is not None:
            frames.append(s)
    return np.mean(frames, axis=0) if len(frames) >= n // 2 else None


def gei_rank1(config: SynthConfig | None = None, *, max_view_deg: float = 30.0) -> SanityResult:
    config = config or SynthConfig(
        cameras=4, identities=60, seconds=60, seed=0, single_camera_fraction=0.0, max_cameras_per_identity=4
    )
    world = build_world(config)
    side = {}
    for w in world.walks:
        if abs(view_angle_deg(world.cameras[w.camera], w) - 90.0) <= max_view_deg:
            g = gei(world, w)
            if g is not None:
                side.setdefault(w.person.identity_id, []).append((w.camera, g))
    hits, probes = 0, 0
    gallery_ids = set()
    for ident, walks in side.items():
        for cam, g in walks:
            best, best_id = np.inf, None
            for other, others in side.items():
                for cam2, g2 in others:
                    if cam2 == cam:
                        continue
                    gallery_ids.add(other)
                    d = min(np.linalg.norm(g - g2), np.linalg.norm(g - g2[:, ::-1]))
                    if d < best:
                        best, best_id = d, other
            if best_id is None or not any(c != cam for c, _ in walks):
                continue  # this identity has no side walk in another camera: not a probe
            probes += 1
            hits += best_id == ident
    n_gallery = max(1, len(gallery_ids))
    return SanityResult(
        rank1=hits / probes if probes else 0.0, chance=1.0 / n_gallery, probes=probes, gallery_identities=n_gallery
    )
