"""Distances between gait features, in a small registry so a user can add their own.

Features are ``(N, D)`` or ``(N, P, D)`` (P horizontal parts, as GaitSet/GaitPart/GaitBase emit).
Each distance returns a *ranking key*: a value that orders gallery entries exactly as the true
distance does but is cheaper to compute (the squared Euclidean distance, for example), plus
``to_distance`` to turn keys into the documented distance for reports and submissions.
The formulas are in docs/evaluation.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from grewkit.core.registry import Registry


def _as_parts(x: torch.Tensor) -> torch.Tensor:
    return x.unsqueeze(1) if x.dim() == 2 else x


def _flat(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(x.shape[0], -1)


def _sq_euclidean(q: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    # ||q||^2 + ||g||^2 - 2 q.g: one matrix product instead of a (B, G, D) difference tensor.
    out = torch.addmm((g * g).sum(1).unsqueeze(0), q, g.T, beta=1.0, alpha=-2.0)
    out.add_((q * q).sum(1, keepdim=True))
    return out.clamp_min_(0.0)


def euclidean_key(q: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    return _sq_euclidean(_flat(q), _flat(g))


def euclidean_parts_key(q: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    q, g = _as_parts(q), _as_parts(g)
    parts = q.shape[1]
    out = None
    for p in range(parts):
        d = _sq_euclidean(q[:, p], g[:, p]).sqrt_()
        out = d if out is None else out.add_(d)
    return out.div_(parts)


def _normalise(x: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.normalize(x, p=2, dim=-1)


def cosine_key(q: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    return torch.addmm(
        torch.ones(1, dtype=q.dtype, device=q.device),
        _normalise(_flat(q)),
        _normalise(_flat(g)).T,
        beta=1.0,
        alpha=-1.0,
    )


def cosine_parts_key(q: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    q, g = _normalise(_as_parts(q)), _normalise(_as_parts(g))
    parts = q.shape[1]
    sim = None
    for p in range(parts):
        s = q[:, p] @ g[:, p].T
        sim = s if sim is None else sim.add_(s)
    return sim.div_(-parts).add_(1.0)


@dataclass(frozen=True)
class Distance:
    name: str
    key: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    to_distance: Callable[[torch.Tensor], torch.Tensor]
    formula: str
    # What the rounding of a key scales with: "squared" (||q||^2 + ||g||^2, the terms that cancel in the
    # Euclidean expansion), "parts" (per-part RMS norms, for a mean of per-part distances) or "unit"
    # (cosine keys lie in [0, 2]).
    tie_scale: str

    @property
    def has_dot_form(self) -> bool:
        """Whether the key is alpha * (one matrix product) + a probe term + a gallery term (see ``operands``)."""
        return self.name in ("euclidean", "cosine")

    def operands(self, x: torch.Tensor, gallery: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """For a distance with a dot form: the rows that enter the product and each row's own term.

        Euclidean: the flattened rows and their squared norms; cosine: unit rows, term 1 for a probe and
        0 for a gallery entry (key = 1 - cos)."""
        if self.name == "euclidean":
            xf = _flat(x)
            return xf, (xf * xf).sum(1)
        xf = _normalise(_flat(x))
        return xf, torch.full((len(xf),), 0.0 if gallery else 1.0, device=x.device)

    @property
    def alpha(self) -> float:
        return -2.0 if self.name == "euclidean" else -1.0

    def block(self, q: torch.Tensor, g: torch.Tensor, out: torch.Tensor | None = None):
        """``(dot, alpha, qterm, gterm, clamp)`` with key = alpha * dot + qterm[i] + gterm[j] (clamped at 0).

        ``out``: a flat float32 buffer of at least len(q) * len(g) for the dot products. A search reuses one
        across blocks: a fresh block of hundreds of MB is fresh pages for the kernel to fault in and zero."""
        if not self.has_dot_form:
            zq = torch.zeros(len(q), device=q.device)
            return self.key(q, g), 1.0, zq, torch.zeros(len(g), device=g.device), False
        qf, qterm = self.operands(q, gallery=False)
        gf, gterm = self.operands(g, gallery=True)
        dot = qf @ gf.T if out is None else torch.mm(qf, gf.T, out=out[: len(qf) * len(gf)].view(len(qf), len(gf)))
        return dot, self.alpha, qterm, gterm, self.name == "euclidean"

    def gallery_stat(self, g) -> float:
        """The gallery's share of the tie scale over one (numpy, float32) chunk; the search keeps the maximum."""
        if self.tie_scale == "squared":
            flat = g.reshape(len(g), -1)
            return float(np.einsum("ij,ij->i", flat, flat).max())
        if self.tie_scale == "parts":
            parts = g.reshape(len(g), 1, -1) if g.ndim == 2 else g
            return float(np.sqrt(np.einsum("ipd,ipd->ip", parts, parts).mean(1)).max())
        return 0.0

    def tie_tolerance(self, q: torch.Tensor, g_stat: float, ulps: float) -> torch.Tensor:
        """Per probe, the largest key difference still taken as a tie: float32 rounding, nothing more.

        Two code paths (the true matches' keys, the block scan) compute the same key with different
        matrix shapes, so their float32 results may differ in the last bits. A length-D dot product
        rounds by about eps * sqrt(D) times the magnitude of its terms (random-walk accumulation);
        the largest difference measured between the two paths was 0.03 eps sqrt(D) times the scale
        (D up to 62 x 256), so ``ulps`` = 0.25 leaves a margin of about ten.
        """
        eps = float(torch.finfo(torch.float32).eps)
        if self.tie_scale == "squared":
            d = _flat(q).shape[1]
            scale = (_flat(q) ** 2).sum(1) + g_stat
        elif self.tie_scale == "parts":
            d = _as_parts(q).shape[2]
            scale = (_as_parts(q) ** 2).sum(-1).mean(1).sqrt() + g_stat
        else:
            d = _as_parts(q).shape[2] if self.name == "cosine_parts" else _flat(q).shape[1]
            scale = torch.full((q.shape[0],), 2.0, device=q.device)
        return (ulps * eps * d**0.5 * scale).float()


# Name -> the ``Distance`` itself (they are defined here, so nothing is lazy). Contract: an
# instance whose ``key(q, g)`` orders a gallery as the distance does and ``to_distance`` gives the
# distance back; the names are the conventions' ``distance`` values.
DISTANCES: Registry[Distance] = Registry(
    "distance",
    {
        "euclidean": Distance(
            "euclidean",
            euclidean_key,
            lambda k: k.clamp_min(0).sqrt(),
            "d(q,g) = ||flatten(q) - flatten(g)||_2",
            tie_scale="squared",
        ),
        "euclidean_parts": Distance(
            "euclidean_parts",
            euclidean_parts_key,
            lambda k: k,
            "d(q,g) = 1/P sum_p ||q_p - g_p||_2 (OpenGait 'euc')",
            tie_scale="parts",
        ),
        "cosine": Distance(
            "cosine",
            cosine_key,
            lambda k: k,
            "d(q,g) = 1 - <q,g> / (||q|| ||g||) on flattened features",
            tie_scale="unit",
        ),
        "cosine_parts": Distance(
            "cosine_parts",
            cosine_parts_key,
            lambda k: k,
            "d(q,g) = 1 - 1/P sum_p cos(q_p, g_p) (OpenGait 'cos')",
            tie_scale="unit",
        ),
    },
)


def get_distance(name: str) -> Distance:
    return DISTANCES.get(name)


def pairwise(q, g, distance: str = "euclidean") -> torch.Tensor:
    """Full distance matrix for small inputs (tests, tools); large searches use ``grewkit.evaluate.search``."""
    d = get_distance(distance)
    q = torch.as_tensor(q, dtype=torch.float32)
    g = torch.as_tensor(g, dtype=torch.float32)
    return d.to_distance(d.key(q, g))
