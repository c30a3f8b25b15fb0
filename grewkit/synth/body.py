"""People of the synthetic world: who they are (attributes, body, clothes) and how they walk.

An ``Identity`` holds everything fixed about a person: GREW attribute labels, body proportions
and the parameters of a periodic gait model. A ``Walk`` perturbs the gait slightly (two walks of
one person are similar, not equal) and moves the body along a straight path; ``Walk.joints(t)``
gives the 3D skeleton in world metres at time ``t``. Everything is a pure function of the seed
and ``t``, so any frame can be re-rendered on demand (true masks) without replaying the video.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

GENDERS = ("male", "female")
# GREW's age groups: child < 16, 16-30, 31-45, 46-60, elder > 60.
AGE_GROUPS = ("child", "16-30", "31-45", "46-60", "elder")
CARRYING = ("none", "backpack", "shoulder_bag", "handbag", "lift_stuff")
UPPER = ("long_sleeve", "short_sleeve", "sleeveless")
LOWER = ("long_trousers", "shorts", "skirt")

# Gait parameters that identify a person (used by the tests and written to ground_truth/walks.parquet).
GAIT_PARAMS = (
    "height_m",
    "leg_ratio",
    "shoulder_w",
    "hip_w",
    "cadence_spm",
    "stride_factor",
    "arm_swing_deg",
    "knee_flex_deg",
    "hip_flex_deg",
    "trunk_sway_m",
    "lean_deg",
    "elbow_deg",
)

# COCO-17 keypoint order.
COCO17 = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)

_SKIN = np.array(
    [[224, 189, 160], [198, 152, 118], [168, 120, 88], [120, 82, 58], [235, 200, 175], [90, 62, 45]], float
)
_HAIR = np.array([[30, 24, 20], [60, 42, 30], [110, 80, 50], [160, 140, 110], [200, 200, 200], [20, 20, 25]], float)
_CLOTH = np.array(
    [
        [40, 40, 45],
        [200, 200, 195],
        [30, 50, 110],
        [120, 30, 30],
        [40, 90, 50],
        [150, 120, 80],
        [90, 90, 100],
        [180, 150, 40],
        [60, 30, 80],
        [20, 110, 140],
        [200, 90, 40],
        [110, 70, 40],
        [230, 230, 225],
        [70, 110, 170],
    ],
    float,
)


def _pick_balanced(rng: np.random.Generator, n: int, classes: tuple[str, ...], weights: list[float]) -> list[str]:
    """n labels where every class appears once when n allows, the rest drawn by weight."""
    p = np.asarray(weights, float) / sum(weights)
    labels = list(classes[: min(n, len(classes))])
    labels += [classes[i] for i in rng.choice(len(classes), size=max(0, n - len(classes)), p=p)]
    order = rng.permutation(n)
    return [labels[i] for i in order]


@dataclass(frozen=True)
class Identity:
    identity_id: str
    gender: str
    age_group: str
    carrying: str
    upper: str
    lower: str
    coat: bool
    # body
    height_m: float
    leg_ratio: float
    shoulder_w: float
    hip_w: float
    head_scale: float
    girth: float
    # gait
    cadence_spm: float
    stride_factor: float
    arm_swing_deg: float
    knee_flex_deg: float
    hip_flex_deg: float
    trunk_sway_m: float
    lean_deg: float
    elbow_deg: float
    # appearance, RGB 0-255
    skin: tuple[float, float, float]
    hair: tuple[float, float, float]
    upper_rgb: tuple[float, float, float]
    lower_rgb: tuple[float, float, float]
    shoes_rgb: tuple[float, float, float]
    bag_rgb: tuple[float, float, float]
    hair_long: bool
    # cameras this identity walks through (camera indices), decided by the world
    cameras: tuple[int, ...] = field(default=())

    def gait_vector(self) -> np.ndarray:
        return np.array([getattr(self, k) for k in GAIT_PARAMS], float)

    def attributes(self) -> dict[str, str]:
        return {
            "gender": self.gender,
            "age_group": self.age_group,
            "carrying": self.carrying,
            "upper": self.upper,
            "lower": self.lower,
        }


def make_identities(rng: np.random.Generator, n: int, *, prefix: str = "synth-id") -> list[Identity]:
    genders = _pick_balanced(rng, n, GENDERS, [1, 1])
    ages = _pick_balanced(rng, n, AGE_GROUPS, [0.12, 0.34, 0.26, 0.16, 0.12])
    carrying = _pick_balanced(rng, n, CARRYING, [0.45, 0.2, 0.15, 0.12, 0.08])
    uppers = _pick_balanced(rng, n, UPPER, [0.5, 0.4, 0.1])
    lowers = _pick_balanced(rng, n, LOWER, [0.65, 0.2, 0.15])
    out = []
    for i in range(n):
        g, a = genders[i], ages[i]
        lower = lowers[i]
        if lower == "skirt" and g == "male" and rng.random() < 0.7:
            lower = "long_trousers"  # plausible, yet still possible
        female = g == "female"
        if a == "child":
            height = rng.uniform(1.05, 1.55)
            cadence = rng.uniform(122, 142)
            stride = rng.uniform(0.72, 0.84)
            head_scale = rng.uniform(1.18, 1.32)
            leg_ratio = rng.uniform(0.9, 0.96)
            arm, knee, lean = rng.uniform(18, 34), rng.uniform(55, 68), rng.uniform(0, 4)
        elif a == "elder":
            height = rng.normal(1.62 if female else 1.72, 0.05)
            cadence = rng.uniform(92, 106)
            stride = rng.uniform(0.58, 0.70)
            head_scale = rng.uniform(0.98, 1.05)
            leg_ratio = rng.uniform(0.95, 1.02)
            arm, knee, lean = rng.uniform(6, 16), rng.uniform(42, 54), rng.uniform(5, 12)
        else:
            age_slow = {"16-30": 0.0, "31-45": 0.03, "46-60": 0.07}[a]
            height = rng.normal(1.64 if female else 1.77, 0.06)
            cadence = rng.uniform(108, 124) * (1.03 if female else 1.0) * (1 - age_slow)
            stride = rng.uniform(0.70, 0.86) * (1 - age_slow)
            head_scale = rng.uniform(0.95, 1.05)
            leg_ratio = rng.uniform(0.96, 1.05)
            arm, knee, lean = rng.uniform(12, 34), rng.uniform(52, 68), rng.uniform(0, 6)
        carry = carrying[i]
        upper = uppers[i]
        coat = upper == "long_sleeve" and lower != "shorts" and rng.random() < 0.25
        upper_c = _CLOTH[rng.integers(len(_CLOTH))] * rng.uniform(0.85, 1.1)
        lower_c = _CLOTH[rng.integers(len(_CLOTH))] * rng.uniform(0.85, 1.1)
        skin = _SKIN[rng.integers(len(_SKIN))] * rng.uniform(0.92, 1.06)
        hair = _HAIR[4] if a == "elder" and rng.random() < 0.7 else _HAIR[rng.integers(len(_HAIR))]
        out.append(
            Identity(
                identity_id=f"{prefix}{i:04d}",
                gender=g,
                age_group=a,
                carrying=carry,
                upper=upper,
                lower=lower,
                coat=bool(coat),
                height_m=float(np.clip(height, 1.0, 2.05)),
                leg_ratio=float(leg_ratio),
                shoulder_w=float(rng.normal(0.245 if female else 0.262, 0.01)),
                hip_w=float(rng.normal(0.205 if female else 0.188, 0.008)),
                head_scale=float(head_scale),
                girth=float(rng.uniform(0.9, 1.2)),
                cadence_spm=float(cadence),
                stride_factor=float(stride),
                arm_swing_deg=float(arm),
                knee_flex_deg=float(knee),
                hip_flex_deg=float(rng.uniform(17, 27)),
                trunk_sway_m=float(rng.uniform(0.01, 0.035) * (1.5 if a == "elder" else 1.0)),
                lean_deg=float(lean),
                elbow_deg=float(rng.uniform(8, 30)),
                skin=tuple(np.clip(skin, 0, 255)),
                hair=tuple(hair),
                upper_rgb=tuple(np.clip(upper_c, 0, 255)),
                lower_rgb=tuple(np.clip(lower_c, 0, 255)),
                shoes_rgb=tuple(_CLOTH[rng.integers(3)] * 0.6),
                bag_rgb=tuple(_CLOTH[rng.integers(len(_CLOTH))] * 0.8),
                hair_long=bool(female and rng.random() < 0.6),
            )
        )
    return out


def perturb(identity: Identity, rng: np.random.Generator, scale: float = 0.025) -> Identity:
    """The same person on another day: gait parameters within a few percent, body unchanged."""

    def j(v, s=scale):
        return float(v * (1.0 + rng.normal(0.0, s)))

    return replace(
        identity,
        cadence_spm=j(identity.cadence_spm),
        stride_factor=j(identity.stride_factor),
        arm_swing_deg=j(identity.arm_swing_deg, 2 * scale),
        knee_flex_deg=j(identity.knee_flex_deg),
        hip_flex_deg=j(identity.hip_flex_deg),
        trunk_sway_m=j(identity.trunk_sway_m, 2 * scale),
        lean_deg=j(identity.lean_deg, 2 * scale),
        elbow_deg=j(identity.elbow_deg, 2 * scale),
    )


# Joint names of the full skeleton (a superset of what COCO-17 needs).
JOINTS = (
    "pelvis",
    "neck",
    "head",
    "l_shoulder",
    "r_shoulder",
    "l_elbow",
    "r_elbow",
    "l_wrist",
    "r_wrist",
    "l_hip",
    "r_hip",
    "l_knee",
    "r_knee",
    "l_ankle",
    "r_ankle",
    "l_toe",
    "r_toe",
)
J = {name: i for i, name in enumerate(JOINTS)}


def _bump(p: float, centre: float, width: float) -> float:
    d = (p - centre + 0.5) % 1.0 - 0.5
    return float(np.exp(-0.5 * (d / width) ** 2))


@dataclass(frozen=True)
class Walk:
    """One walk of one person along a straight ground path, from ``t0`` (s) at ``start`` for ``duration`` s."""

    walk_id: str
    person: Identity  # perturbed copy of the identity (this walk's gait)
    camera: int
    start: tuple[float, float]
    heading: float  # radians, world ground plane
    t0: float
    duration: float
    phase0: float

    @property
    def speed(self) -> float:
        p = self.person
        return p.stride_factor * p.height_m * p.cadence_spm / 120.0

    def active(self, t: float) -> bool:
        return self.t0 <= t <= self.t0 + self.duration

    def ground_point(self, t: float) -> np.ndarray:
        s = (t - self.t0) * self.speed
        return np.array([self.start[0] + s * np.cos(self.heading), self.start[1] + s * np.sin(self.heading)])

    def phase(self, t: float) -> float:
        return (self.phase0 + (t - self.t0) * self.person.cadence_spm / 120.0) % 1.0

    def joints(self, t: float) -> np.ndarray:
        """The skeleton (len(JOINTS) x 3, world metres, z up) at time t."""
        p = self.person
        H = p.height_m
        fwd = np.array([np.cos(self.heading), np.sin(self.heading), 0.0])
        lat = np.array([-np.sin(self.heading), np.cos(self.heading), 0.0])  # to the person's left
        up = np.array([0.0, 0.0, 1.0])
        ph = self.phase(t)
        leg_scale = p.leg_ratio
        thigh, shin = 0.245 * H * leg_scale, 0.246 * H * leg_scale
        foot = 0.13 * H
        out = np.zeros((len(JOINTS), 3))
        sway = p.trunk_sway_m * np.sin(2 * np.pi * ph)
        pelvis = np.zeros(3) + lat * sway
        lift = p.carrying == "lift_stuff"
        arm_angles = {}
        for side, sign, offset in (("l", 1.0, 0.0), ("r", -1.0, 0.5)):
            q = (ph + offset) % 1.0
            hip_a = np.radians(p.hip_flex_deg * np.cos(2 * np.pi * q) + 4.0)
            knee_a = np.radians(
                0.28 * p.knee_flex_deg * _bump(q, 0.12, 0.06) + p.knee_flex_deg * _bump(q, 0.72, 0.10) + 3.0
            )
            hip = pelvis + lat * sign * p.hip_w / 2
            knee = hip + thigh * (-np.cos(hip_a) * up + np.sin(hip_a) * fwd)
            shin_a = hip_a - knee_a
            ankle = knee + shin * (-np.cos(shin_a) * up + np.sin(shin_a) * fwd)
            # Foot flat in stance, toes up at heel strike, heel up (toes down) at push-off.
            toe_a = np.radians(12.0 * _bump(q, 0.02, 0.05) - 25.0 * _bump(q, 0.6, 0.06))
            toe = ankle + foot * (np.cos(toe_a) * fwd + np.sin(toe_a) * up) + lat * sign * 0.015
            out[J[f"{side}_hip"]], out[J[f"{side}_knee"]] = hip, knee
            out[J[f"{side}_ankle"]], out[J[f"{side}_toe"]] = ankle, toe
            # Arms swing against the leg of their side.
            if lift:
                arm_angles[side] = (np.radians(30.0), np.radians(75.0))
            else:
                swing = -p.arm_swing_deg * np.cos(2 * np.pi * q) + 2.0
                # The elbow bends more while the arm swings forward.
                arm_angles[side] = (np.radians(swing), np.radians(p.elbow_deg + 0.5 * max(0.0, swing)))
        # Put the lowest ankle on the ground (ankle height above the sole) - this gives the vertical bob.
        min_z = min(out[J["l_ankle"]][2], out[J["r_ankle"]][2], out[J["l_toe"]][2] - 0.02, out[J["r_toe"]][2] - 0.02)
        dz = 0.039 * H - min_z
        for name in ("l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle", "l_toe", "r_toe"):
            out[J[name]] += up * dz
        pelvis = pelvis + up * dz
        lean = np.radians(p.lean_deg)
        trunk_dir = np.cos(lean) * up + np.sin(lean) * fwd
        trunk_len = (0.818 - 0.530) * H
        neck = pelvis + trunk_dir * trunk_len
        out[J["pelvis"]] = pelvis
        out[J["neck"]] = neck
        head_r = 0.065 * H * p.head_scale
        out[J["head"]] = neck + trunk_dir * (0.052 * H + head_r * 0.95)
        upper_arm, forearm = 0.186 * H, 0.146 * H
        for side, sign in (("l", 1.0), ("r", -1.0)):
            sh_a, el_a = arm_angles[side]
            shoulder = neck + lat * sign * p.shoulder_w / 2 - trunk_dir * 0.02 * H
            # Slight abduction keeps the arms outside the torso from the front.
            down = -trunk_dir + lat * sign * 0.10
            down /= np.linalg.norm(down)
            elbow = shoulder + upper_arm * (np.cos(sh_a) * down + np.sin(sh_a) * fwd)
            fa = sh_a + el_a
            wrist = elbow + forearm * (np.cos(fa) * down + np.sin(fa) * fwd)
            if lift:
                wrist = wrist - lat * sign * 0.06
            out[J[f"{side}_shoulder"]], out[J[f"{side}_elbow"]], out[J[f"{side}_wrist"]] = shoulder, elbow, wrist
        g = self.ground_point(t)
        out[:, 0] += g[0]
        out[:, 1] += g[1]
        return out

    def frame_axes(self) -> tuple[np.ndarray, np.ndarray]:
        """(forward, left) unit vectors of the walker on the ground plane."""
        return (
            np.array([np.cos(self.heading), np.sin(self.heading), 0.0]),
            np.array([-np.sin(self.heading), np.cos(self.heading), 0.0]),
        )


def coco17(walk: Walk, joints: np.ndarray) -> np.ndarray:
    """COCO-17 keypoints in world metres (17 x 3) from the skeleton; face points come from the head."""
    p = walk.person
    fwd, lat = walk.frame_axes()
    up = np.array([0.0, 0.0, 1.0])
    head = joints[J["head"]]
    r = 0.065 * p.height_m * p.head_scale
    pts = [
        head + fwd * 0.95 * r - up * 0.15 * r,
        head + fwd * 0.8 * r + up * 0.15 * r + lat * 0.35 * r,
        head + fwd * 0.8 * r + up * 0.15 * r - lat * 0.35 * r,
        head + lat * 0.95 * r,
        head - lat * 0.95 * r,
    ]
    for name in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle"):
        pts += [joints[J[f"l_{name}"]], joints[J[f"r_{name}"]]]
    return np.asarray(pts)
