"""Rank-k, mAP and mINP with explicit conventions; ``RetrievalEvaluator`` takes probes in batches (reset/process/evaluate).

Per probe with n true matches at ranks r_1 < ... < r_n (1-based, over the whole gallery):

- hit@k = 1 if r_1 <= k
- AP    = 1/n * sum_i i / r_i
- INP   = n / r_n            (Ye et al., "Deep Learning for Person Re-identification", 2021)

A probe without any true match in its gallery is a *miss* (hit@k = AP = INP = 0, GREW style)
or is *skipped* (left out of every mean, Gait3D style): ``Conventions.no_match``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from grewkit.core.errors import GrewkitError
from grewkit.evaluate.conventions import EXCLUDE, NO_MATCH  # noqa: E402  (re-exported)
from grewkit.evaluate.search import SearchConfig, encode, search


@dataclass(frozen=True)
class Conventions:
    """Every choice that changes the numbers, named; docs/evaluation.md gives each formula."""

    distance: str = "euclidean"
    no_match: str = "miss"
    exclude: str = "none"
    ties: str = "pessimistic"
    ranks: tuple[int, ...] = (1, 5, 10, 20)

    def __post_init__(self):
        if self.no_match not in NO_MATCH:
            raise GrewkitError(f"no_match must be one of {NO_MATCH}, not {self.no_match!r}")
        if self.exclude not in EXCLUDE:
            raise GrewkitError(f"exclude must be one of {EXCLUDE}, not {self.exclude!r}")
        if not self.ranks or any(r < 1 for r in self.ranks):
            raise GrewkitError(f"ranks must be positive, not {self.ranks}")
        SearchConfig(distance=self.distance, ties=self.ties)


@dataclass
class FeatureSet:
    """Features of some sequences with what the protocols need to know about them."""

    ids: list[str]
    features: np.ndarray
    labels: list[str | None]
    cameras: list[str | None] | None = None
    views: list[str | None] | None = None

    def __post_init__(self):
        n = len(self.ids)
        if self.features.shape[0] != n or len(self.labels) != n:
            raise GrewkitError(f"feature set: {n} ids, {self.features.shape[0]} features, {len(self.labels)} labels")
        for name in ("cameras", "views"):
            value = getattr(self, name)
            if value is not None and len(value) != n:
                raise GrewkitError(f"feature set: {n} ids but {len(value)} {name}")
        if self.features.ndim not in (2, 3):
            raise GrewkitError(f"features must be (N, D) or (N, P, D), not {self.features.shape}")

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, index) -> FeatureSet:
        index = np.asarray(index)
        pick = lambda xs: None if xs is None else [xs[i] for i in index]  # noqa: E731
        return FeatureSet(
            [self.ids[i] for i in index], self.features[index], pick(self.labels), pick(self.cameras), pick(self.views)
        )

    def keys(self, exclude: str) -> list | None:
        if exclude == "none":
            return None
        if exclude == "same-identity-camera":
            # CCPG: only the probe's own identity as seen by the probe's camera is removed; other
            # identities from that camera stay competitors. A null identity or camera never matches.
            cams = self.keys("same-camera")
            return [None if lab is None else f"{lab}\x1f{cam}" for lab, cam in zip(self.labels, cams)]
        values = self.cameras if exclude == "same-camera" else self.views
        what = "camera" if exclude == "same-camera" else "view"
        missing = len(self.ids) if values is None else sum(v is None for v in values)
        if missing:
            # A null key never equals another, so nothing would be removed: refuse instead of ignoring the option.
            raise GrewkitError(f"exclude={exclude!r} needs the {what} of every sequence; {missing} have none")
        return values


@dataclass
class PerProbe:
    """Per-probe outcome; protocols aggregate subsets of it (attributes, views)."""

    ids: list[str]
    n_pos: np.ndarray
    ranks: np.ndarray  # (Q, m) ascending ranks of true matches, 0 = none

    def subset(self, mask: np.ndarray) -> PerProbe:
        idx = np.nonzero(mask)[0]
        return PerProbe([self.ids[i] for i in idx], self.n_pos[idx], self.ranks[idx])


def per_probe_scores(n_pos: np.ndarray, ranks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First-match rank (0 when none), AP and INP of each probe."""
    q = len(n_pos)
    first = np.where(n_pos > 0, ranks[:, 0] if ranks.size else 0, 0)
    ap = np.zeros(q)
    inp = np.zeros(q)
    has = n_pos > 0
    if has.any():
        m = ranks.shape[1]
        i = np.arange(1, m + 1)[None, :]
        r = ranks[has].astype(np.float64)
        valid = r > 0
        ap[has] = np.where(valid, i / np.where(valid, r, 1), 0).sum(1) / n_pos[has]
        last = r[np.arange(len(r)), n_pos[has] - 1]
        inp[has] = n_pos[has] / last
    return first, ap, inp


def summarize(result: PerProbe, conventions: Conventions) -> dict:
    """Percentages (0-100) of Rank-k, mAP, mINP, with the probe counts they are over."""
    first, ap, inp = per_probe_scores(result.n_pos, result.ranks)
    has = result.n_pos > 0
    use = has if conventions.no_match == "skip" else np.ones_like(has)
    n = int(use.sum())
    out: dict = {"probes": len(result.ids), "probes_without_match": int((~has).sum()), "probes_counted": n}
    for k in conventions.ranks:
        hits = has & (first <= k)
        out[f"rank{k}"] = float(100.0 * hits[use].mean()) if n else float("nan")
    out["mAP"] = float(100.0 * ap[use].mean()) if n else float("nan")
    out["mINP"] = float(100.0 * inp[use].mean()) if n else float("nan")
    return out


class RetrievalEvaluator:
    """Probes (fed in batches) against a fixed gallery; ``evaluate`` gives Rank-k, mAP, mINP."""

    def __init__(
        self,
        gallery: FeatureSet,
        conventions: Conventions = Conventions(),
        *,
        search_config: SearchConfig | None = None,
    ):
        self.gallery = gallery
        self.conventions = conventions
        base = search_config or SearchConfig()
        self.search_config = replace(base, distance=conventions.distance, ties=conventions.ties)
        self.reset()

    def reset(self) -> None:
        self._parts: list[PerProbe] = []

    def process(self, probes: FeatureSet) -> None:
        pl, gl = encode(probes.labels, self.gallery.labels)
        pk = gk = None
        if self.conventions.exclude != "none":
            pk, gk = encode(probes.keys(self.conventions.exclude), self.gallery.keys(self.conventions.exclude))
        res = search(
            probes.features,
            self.gallery.features,
            probe_labels=pl,
            gallery_labels=gl,
            config=self.search_config,
            probe_keys=pk,
            gallery_keys=gk,
        )
        self._parts.append(PerProbe(list(probes.ids), res.n_pos, res.pos_ranks[-1]))

    def per_probe(self) -> PerProbe:
        if not self._parts:
            return PerProbe([], np.zeros(0, dtype=np.int64), np.zeros((0, 1), dtype=np.int64))
        m = max(p.ranks.shape[1] for p in self._parts)
        ranks = np.concatenate([np.pad(p.ranks, ((0, 0), (0, m - p.ranks.shape[1]))) for p in self._parts])
        return PerProbe([i for p in self._parts for i in p.ids], np.concatenate([p.n_pos for p in self._parts]), ranks)

    def evaluate(self) -> dict:
        return summarize(self.per_probe(), self.conventions)


def evaluate_retrieval(
    probes: FeatureSet,
    gallery: FeatureSet,
    conventions: Conventions = Conventions(),
    search_config: SearchConfig | None = None,
) -> dict:
    ev = RetrievalEvaluator(gallery, conventions, search_config=search_config)
    ev.process(probes)
    return ev.evaluate()
