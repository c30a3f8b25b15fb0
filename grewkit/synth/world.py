"""The site: static pinhole cameras on one ground plane, and who walks where and when.

World frame: x east, y north, z up, metres; the ground is z = 0. Each camera watches its own
zone of the site (zones are 80 m apart, so no two cameras see the same spot, as in GREW's
campus cameras); an identity's walks visit several zones. Camera frame: OpenCV's (x right,
y down, z forward).
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
from dataclasses import asdict, dataclass, field

import numpy as np

from grewkit.core.settings import setting
from grewkit.synth.body import Identity, Walk, make_identities, perturb

ZONE_SPACING_M = 80.0
_SAFE_ID = re.compile(r"^[A-Za-z0-9_.-]+$")
# Mean adult height (m) used to size the walking area so that people are about 80-250 px tall.
_REF_HEIGHT = 1.72


@dataclass(frozen=True)
class SynthConfig:
    """Everything that determines the generated world; same config, same bytes."""

    cameras: int = setting(4, "Number of static cameras (each watches its own zone of the site).")
    identities: int = setting(40, "Number of people.")
    seconds: float = setting(60.0, "Length of each camera's footage, seconds.")
    seed: int = setting(0, "Random seed: the same seed and settings give the same bytes.")
    fps: float = setting(25.0, "Frames per second of the videos.")
    width: int = setting(640, "Frame width, pixels.")
    height: int = setting(480, "Frame height, pixels.")
    single_camera_fraction: float = setting(
        0.2,
        "Fraction of identities seen by one camera only (GREW's distractors); the others walk through 2 or more cameras.",
    )
    max_cameras_per_identity: int = setting(3, "Most cameras one identity walks through.")
    segment_seconds: float = setting(
        0.0, "Split each camera's footage into files of this many seconds (0: one file per camera)."
    )
    movers_per_camera: int = setting(
        3, "Non-person movers per camera (cars on a road behind, dogs in the walking area)."
    )
    occluders_per_camera: int = setting(2, "Static occluders per camera (lamp posts, planters).")
    person_px_min: float = setting(
        95.0,
        "Height in pixels of an adult at the far edge of each camera's walking area, at 480 rows "
        "(in proportion at other frame heights).",
    )
    person_px_max: float = setting(
        235.0,
        "Height in pixels of an adult at the near edge of the walking area. Taller walkers are found "
        "more often by SSDLite and cross the view faster (fewer frames per walk, fewer people at once).",
    )
    noise_sigma: float = setting(3.0, "Standard deviation of the sensor noise, grey levels.")
    illumination_drift: float = setting(0.12, "Relative amplitude of the slow illumination changes.")
    jpeg_quality: int = setting(80, "Quality of the written videos (1-100).")
    codec: str = setting("MJPG", "FourCC of the videos: MJPG (every frame a JPEG, default) or XVID (about 5x smaller).")
    start_time: str = setting("2026-05-04T08:00:00+00:00", "Wall-clock time of every camera's first frame (ISO 8601).")
    camera_prefix: str = setting("synth-cam", "Camera ids are this prefix and a 2-digit number.")
    identity_prefix: str = setting("synth-id", "Identity ids are this prefix and a 4-digit number.")

    def __post_init__(self):
        checks = [
            (self.cameras >= 1, "cameras must be >= 1"),
            (self.identities >= 1, "identities must be >= 1"),
            (self.seconds > 0, "seconds must be > 0"),
            (0 < self.fps <= 120, "fps must be in (0, 120]"),
            (64 <= self.width <= 4096 and 64 <= self.height <= 4096, "width and height must be in [64, 4096]"),
            (0.0 <= self.single_camera_fraction <= 1.0, "single_camera_fraction must be in [0, 1]"),
            (self.max_cameras_per_identity >= 1, "max_cameras_per_identity must be >= 1"),
            (self.segment_seconds >= 0, "segment_seconds must be >= 0 (0 = one file per camera)"),
            (
                self.noise_sigma >= 0 and 0 <= self.illumination_drift < 0.5,
                "noise_sigma >= 0, illumination_drift in [0, 0.5)",
            ),
            (1 <= self.jpeg_quality <= 100, "jpeg_quality must be in [1, 100]"),
            (self.codec in ("MJPG", "XVID"), "codec must be MJPG or XVID"),
            (self.movers_per_camera >= 0 and self.occluders_per_camera >= 0, "movers and occluders must be >= 0"),
            (
                16 <= self.person_px_min < self.person_px_max <= 480,
                "person_px_min and person_px_max must satisfy 16 <= min < max <= 480",
            ),
            (
                bool(_SAFE_ID.match(self.camera_prefix)) and bool(_SAFE_ID.match(self.identity_prefix)),
                "camera_prefix and identity_prefix may hold letters, digits, '.', '_' and '-' only (they name files)",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)  # the settings loader and the CLI name the file or flag
        if self.cameras == 1 and self.single_camera_fraction < 1.0:
            # Cross-camera identities need two cameras; with one, everyone is single-camera.
            object.__setattr__(self, "single_camera_fraction", 1.0)

    def camera_id(self, index: int) -> str:
        return f"{self.camera_prefix}{index + 1:02d}"

    @property
    def n_frames(self) -> int:
        return int(round(self.seconds * self.fps))

    @property
    def frames_per_segment(self) -> int:
        if self.segment_seconds <= 0:
            return self.n_frames
        return max(1, int(round(self.segment_seconds * self.fps)))

    def to_dict(self) -> dict:
        return asdict(self)


def rng_for(seed: int, *names: object) -> np.random.Generator:
    """An independent generator per named purpose, so adding one purpose never shifts the others."""
    key = hashlib.sha256(repr((seed, *names)).encode()).digest()
    return np.random.default_rng(int.from_bytes(key[:8], "little"))


@dataclass(frozen=True)
class Camera:
    index: int
    camera_id: str
    view: str
    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    x: float
    y: float
    height_m: float
    yaw_deg: float
    pitch_deg: float
    near_m: float  # ground distance of the nearest walking point
    far_m: float  # ground distance of the farthest walking point

    @functools.cached_property
    def position(self) -> np.ndarray:
        return np.array([self.x, self.y, self.height_m])

    @functools.cached_property
    def rotation(self) -> np.ndarray:
        """World -> camera rotation (rows: camera x right, y down, z forward)."""
        yaw, pitch = math.radians(self.yaw_deg), math.radians(self.pitch_deg)
        f = np.array([math.cos(pitch) * math.cos(yaw), math.cos(pitch) * math.sin(yaw), -math.sin(pitch)])
        r = np.array([math.sin(yaw), -math.cos(yaw), 0.0])
        d = np.cross(f, r)
        return np.stack([r, d, f])

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixel coordinates (N x 2) and depth along the optical axis (N) of world points (N x 3)."""
        pc = (np.asarray(points, float) - self.position) @ self.rotation.T
        z = np.maximum(pc[:, 2], 1e-3)
        uv = np.stack([self.fx * pc[:, 0] / z + self.cx, self.fy * pc[:, 1] / z + self.cy], axis=1)
        return uv, pc[:, 2]

    def ground_distance(self, xy: np.ndarray) -> float:
        return float(math.hypot(xy[0] - self.x, xy[1] - self.y))

    def bearing_offset(self, xy: np.ndarray) -> float:
        """Angle (radians) between the optical axis on the ground and the direction to xy."""
        a = math.atan2(xy[1] - self.y, xy[0] - self.x) - math.radians(self.yaw_deg)
        return (a + math.pi) % (2 * math.pi) - math.pi

    @property
    def half_fov(self) -> float:
        return math.atan(self.width / 2 / self.fx)

    def as_row(self, site: str) -> dict:
        return {
            "camera_id": self.camera_id,
            "site": site,
            "description": f"synthetic camera {self.camera_id}: {self.height_m:.1f} m high, pitch {self.pitch_deg:.0f} deg, "
            f"walkers {self.near_m:.1f}-{self.far_m:.1f} m away",
            "view": self.view,
            "width": self.width,
            "height": self.height,
            "fx": self.fx,
            "fy": self.fy,
            "cx": self.cx,
            "cy": self.cy,
            "position_x_m": self.x,
            "position_y_m": self.y,
            "height_m": self.height_m,
            "yaw_deg": self.yaw_deg,
            "pitch_deg": self.pitch_deg,
        }


# (height m, label): low side cameras, a frontal one, an elevated one, ... cycled and jittered.
_CAMERA_PRESETS = (
    (3.0, "side"),
    (2.6, "frontal"),
    (7.5, "elevated"),
    (4.0, "oblique"),
    (3.2, "back"),
    (5.5, "oblique"),
)


def make_cameras(config: SynthConfig) -> list[Camera]:
    cams = []
    for k in range(config.cameras):
        rng = rng_for(config.seed, "camera", k)
        h0, view = _CAMERA_PRESETS[k % len(_CAMERA_PRESETS)]
        h = h0 * rng.uniform(0.9, 1.1)
        f = config.width * rng.uniform(0.85, 1.05)
        # Adults person_px_min-person_px_max tall at 480 rows, in proportion at other sizes.
        rows = config.height / 480.0
        far = f * _REF_HEIGHT / (config.person_px_min * rows)
        near = f * _REF_HEIGHT / (config.person_px_max * rows)
        # Aim the optical axis at the middle of the walking band (a bit beyond for high cameras).
        aim = 0.55 * (near + far) + (0.15 * h if h > 5 else 0.0)
        pitch = math.degrees(math.atan2(h - 1.0, aim))
        cams.append(
            Camera(
                index=k,
                camera_id=config.camera_id(k),
                view=view,
                width=config.width,
                height=config.height,
                fx=float(f),
                fy=float(f),
                cx=config.width / 2.0,
                cy=config.height / 2.0,
                x=k * ZONE_SPACING_M,
                y=0.0,
                height_m=float(h),
                yaw_deg=float(rng.uniform(0, 360)),
                pitch_deg=float(pitch),
                near_m=float(max(near, 2.0)),
                far_m=float(far),
            )
        )
    return cams


def _path_in_view(cam: Camera, rng: np.random.Generator, view: str) -> tuple[np.ndarray, float, float, float]:
    """A straight path through the camera's walking band: (start xy, heading, length, time of the midpoint offset)."""
    yaw = math.radians(cam.yaw_deg)
    d_mid = rng.uniform(cam.near_m + 0.25 * (cam.far_m - cam.near_m), cam.far_m - 0.1 * (cam.far_m - cam.near_m))
    off = rng.uniform(-0.55, 0.55) * cam.half_fov
    mid = np.array([cam.x + d_mid * math.cos(yaw + off), cam.y + d_mid * math.sin(yaw + off)])
    # Headings relative to the line of sight: side views dominate as in GREW, all others occur.
    los = yaw + off
    # Directions relative to the line of sight: mostly the camera's dominant view, all others occur.
    side = math.pi / 2 * rng.choice([-1, 1]) + rng.normal(0, 0.2)
    towards, away = math.pi + rng.normal(0, 0.25), rng.normal(0, 0.25)
    oblique = rng.choice([-1, 1]) * rng.uniform(0.5, 1.1) + (math.pi if rng.random() < 0.5 else 0.0)
    dominant = {"side": side, "frontal": towards, "back": away, "oblique": oblique}.get(view)
    choice = rng.random()
    if dominant is not None and choice < 0.6:
        rel = dominant
    else:
        rel = (side, side, towards, away, oblique)[int(rng.integers(5))]
    heading = los + rel
    direction = np.array([math.cos(heading), math.sin(heading)])

    # Walk from where the person is outside the band or the field of view to where they leave it.
    def inside(s: float) -> bool:
        p = mid + direction * s
        d = cam.ground_distance(p)
        return cam.near_m - 1.5 <= d <= cam.far_m + 1.0 and abs(cam.bearing_offset(p)) <= cam.half_fov + 0.12

    lo = 0.0
    while lo > -30 and inside(lo - 0.25):
        lo -= 0.25
    hi = 0.0
    while hi < 30 and inside(hi + 0.25):
        hi += 0.25
    lo -= 0.6
    hi += 0.6
    return mid + direction * lo, heading, hi - lo, -lo


@dataclass
class World:
    config: SynthConfig
    cameras: list[Camera]
    identities: list[Identity]
    walks: list[Walk] = field(default_factory=list)


def build_world(config: SynthConfig) -> World:
    cameras = make_cameras(config)
    people = make_identities(rng_for(config.seed, "identities"), config.identities, prefix=config.identity_prefix)
    rng = rng_for(config.seed, "schedule")
    n_single = int(round(config.single_camera_fraction * len(people))) if config.cameras > 1 else len(people)
    single = set(rng.permutation(len(people))[:n_single].tolist())
    T = config.seconds
    walks: list[Walk] = []
    assigned = []
    for i, person in enumerate(people):
        if i in single:
            cams = [int(rng.integers(config.cameras))]
        else:
            k = int(rng.integers(2, max(2, min(config.max_cameras_per_identity, config.cameras)) + 1))
            cams = sorted(rng.choice(config.cameras, size=k, replace=False).tolist())
            rng.shuffle(cams)
        person = _with_cameras(person, tuple(cams))
        assigned.append(person)
        planned = []
        for j, cam_index in enumerate(cams):
            walk_rng = rng_for(config.seed, "walk", i, j)
            start, heading, length, mid_s = _path_in_view(cameras[cam_index], walk_rng, cameras[cam_index].view)
            gait = perturb(person, walk_rng)
            speed = gait.stride_factor * gait.height_m * gait.cadence_spm / 120.0
            planned.append((j, cam_index, walk_rng, start, heading, length / speed, mid_s / speed, gait))
        slots = _schedule(rng, T, [(p[6], p[5] - p[6]) for p in planned])
        for (j, cam_index, walk_rng, start, heading, duration, to_mid, gait), t_mid in zip(planned, slots):
            walks.append(
                Walk(
                    walk_id=f"{person.identity_id}-w{j}",
                    person=gait,
                    camera=cam_index,
                    start=(float(start[0]), float(start[1])),
                    heading=float(heading),
                    t0=float(t_mid) - to_mid,
                    duration=duration,
                    phase0=float(walk_rng.uniform(0, 1)),
                )
            )
    return World(config=config, cameras=cameras, identities=assigned, walks=walks)


def _schedule(rng: np.random.Generator, T: float, walks: list[tuple[float, float]]) -> list[float]:
    """Midpoint times in visiting order, inside [0.08 T, 0.92 T] so every walk is on screen.

    walks: (seconds before the midpoint, seconds after it). When the video is long enough the
    walks do not overlap in time (nobody is in two places at once), with a gap of at least 2 s.
    """
    lo, hi = 0.08 * T, 0.92 * T
    for _ in range(200):
        slots = np.sort(rng.uniform(lo, hi, size=len(walks)))
        if all(slots[k + 1] - slots[k] >= walks[k][1] + walks[k + 1][0] + 2.0 for k in range(len(walks) - 1)):
            return slots.tolist()
    return np.sort(rng.uniform(lo, hi, size=len(walks))).tolist()


def _with_cameras(person: Identity, cams: tuple[int, ...]) -> Identity:
    from dataclasses import replace

    return replace(person, cameras=cams)
