"""Memory-bounded search of probes against a gallery, on CPU or GPU.

The full probe x gallery distance matrix is never built: probes and gallery are cut into
chunks whose distance block fits a fixed budget. One pass over the gallery gives, per probe,

- the ``k`` nearest gallery entries (for submissions), merged chunk by chunk;
- the rank of every true match, from counts of non-matching entries closer than it
  (for Rank-k, mAP and mINP over the whole gallery, not just the top k).

The true matches' own distances are computed first from the (few) gallery entries sharing the
probe's label. ``checkpoints`` snapshots the counts at gallery prefixes, so distractor curves
(GREW Fig. 10) and growing identity sets (Fig. 9) cost one pass, not one per point; the ranks
read at a checkpoint are right for the probes whose true matches all lie within that prefix.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from grewkit.core.errors import GrewkitError
from grewkit.evaluate.conventions import TIES  # noqa: E402  (re-exported)
from grewkit.evaluate.distances import get_distance
from grewkit.evaluate.kernels import scan_block


@dataclass(frozen=True)
class SearchConfig:
    distance: str = "euclidean"
    ties: str = "pessimistic"
    # Ties: keys within tie_ulps * eps32 * sqrt(D) * scale of a true match's (float32 rounding between
    # code paths; distances.Distance.tie_tolerance). 0 compares the float32 keys exactly.
    tie_ulps: float = 0.25
    topk: int = 0
    probe_chunk: int = 2048
    # 4096: a 2048 x 4096 block (32 MB) stays in the last-level cache, where the matrix product runs
    # about 1.5x faster on the CPU than into a 268 MB block (docs/benchmarks.md, "Search at GREW scale").
    gallery_chunk: int = 4096
    device: str = "cpu"
    use_numba: bool = True

    def __post_init__(self):
        get_distance(self.distance)
        if self.ties not in TIES:
            raise GrewkitError(f"ties must be one of {TIES}, not {self.ties!r}")
        if self.topk < 0 or self.probe_chunk < 1 or self.gallery_chunk < 1 or self.tie_ulps < 0:
            raise GrewkitError("topk and tie_ulps must be >= 0 and chunk sizes >= 1")


@dataclass
class SearchResult:
    """``pos_ranks[c, i, j]``: 1-based rank of probe i's j-th closest true match within checkpoint c (0 = padding)."""

    n_pos: np.ndarray
    pos_ranks: np.ndarray
    checkpoints: list[int]
    topk_index: np.ndarray | None = None
    topk_distance: np.ndarray | None = None
    seconds: dict = field(default_factory=dict)


def encode(probe_values, gallery_values) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes so that equal non-null values get equal codes; a null never equals anything."""
    p = np.asarray(probe_values, dtype=object)
    g = np.asarray(gallery_values, dtype=object)
    p_null = np.array([v is None for v in p], dtype=bool)
    g_null = np.array([v is None for v in g], dtype=bool)
    vocab = {v: i for i, v in enumerate(sorted({str(v) for v in p[~p_null]} | {str(v) for v in g[~g_null]}))}
    pc = np.array([-1 if n else vocab[str(v)] for v, n in zip(p, p_null)], dtype=np.int64)
    gc = np.array([-2 if n else vocab[str(v)] for v, n in zip(g, g_null)], dtype=np.int64)
    return pc, gc


def _positives(probe_labels: np.ndarray, gallery_labels: np.ndarray, probe_keys, gallery_keys):
    """(Q, m) gallery indices of each probe's true matches, padded with -1; excluded entries removed."""
    order = np.argsort(gallery_labels, kind="stable")
    sorted_labels = gallery_labels[order]
    lo = np.searchsorted(sorted_labels, probe_labels, side="left")
    hi = np.searchsorted(sorted_labels, probe_labels, side="right")
    counts = np.where(probe_labels >= 0, hi - lo, 0)
    m = int(counts.max()) if len(counts) else 0
    idx = np.full((len(probe_labels), max(m, 1)), -1, dtype=np.int64)
    for j in range(m):
        has = counts > j
        idx[has, j] = order[lo[has] + j]
    if probe_keys is not None:
        valid = idx >= 0
        same = np.zeros_like(valid)
        same[valid] = gallery_keys[idx[valid]] == np.broadcast_to(probe_keys[:, None], idx.shape)[valid]
        idx[same] = -1
        # Compact each row so that valid indices come first.
        idx = -np.sort(-idx, axis=1)
    return idx


def search(
    probe: np.ndarray,
    gallery: np.ndarray,
    *,
    probe_labels: np.ndarray,
    gallery_labels: np.ndarray,
    config: SearchConfig = SearchConfig(),
    probe_keys: np.ndarray | None = None,
    gallery_keys: np.ndarray | None = None,
    checkpoints: list[int] | None = None,
    progress=None,
) -> SearchResult:
    """Rank statistics (and optionally the top k) of every probe against the gallery.

    Labels and keys are integer codes from :func:`encode`; a gallery entry whose key equals the
    probe's key (same camera, same view) is removed from that probe's gallery.
    """
    if len(probe) != len(probe_labels) or len(gallery) != len(gallery_labels):
        raise GrewkitError("features and labels differ in length")
    if probe.shape[1:] != gallery.shape[1:]:
        raise GrewkitError(f"probe features {probe.shape[1:]} and gallery features {gallery.shape[1:]} differ in shape")
    n_gal = len(gallery)
    checkpoints = sorted(set(checkpoints or [n_gal]))
    if checkpoints[-1] > n_gal or checkpoints[0] < 1:
        raise GrewkitError(f"checkpoints must lie in 1..{n_gal}")
    dist = get_distance(config.distance)
    device = torch.device(config.device)
    exclude = probe_keys is not None and gallery_keys is not None
    pos_idx = _positives(
        probe_labels, gallery_labels, probe_keys if exclude else None, gallery_keys if exclude else None
    )
    n_pos = (pos_idx >= 0).sum(1)
    m = pos_idx.shape[1]
    pos_ranks = np.zeros((len(checkpoints), len(probe), m), dtype=np.int64)
    k = min(config.topk, n_gal)
    top_i = np.zeros((len(probe), k), dtype=np.int64) if k else None
    top_d = np.zeros((len(probe), k), dtype=np.float32) if k else None
    # The gallery's norms bound the float32 rounding of the keys (tie tolerance).
    g_stat = 0.0
    for g0 in range(0, n_gal, config.gallery_chunk):
        gc = np.asarray(gallery[g0 : g0 + config.gallery_chunk], dtype=np.float32)
        g_stat = max(g_stat, dist.gallery_stat(gc))
    # Gallery segments end at every checkpoint so that counts can be snapshot there.
    bounds = []
    start = 0
    for cp in checkpoints:
        for g0 in range(start, cp, config.gallery_chunk):
            bounds.append((g0, min(g0 + config.gallery_chunk, cp)))
        bounds.append(None)  # snapshot marker
        start = cp
    gkeys_t = torch.as_tensor(gallery_keys, device=device) if exclude else None
    buf = torch.empty(min(config.probe_chunk, len(probe)) * min(config.gallery_chunk, n_gal), device=device)
    with torch.inference_mode():
        for p0 in range(0, len(probe), config.probe_chunk):
            p1 = min(p0 + config.probe_chunk, len(probe))
            q = torch.as_tensor(np.ascontiguousarray(probe[p0:p1], dtype=np.float32), device=device)
            b = p1 - p0
            pidx = pos_idx[p0:p1]
            # True matches' keys, sorted ascending per probe; padding is +inf.
            thr = torch.full((b, m), float("inf"), device=device)
            valid = pidx >= 0
            if valid.any():
                rows, cols = np.nonzero(valid)
                g_sel = torch.as_tensor(
                    np.ascontiguousarray(gallery[pidx[rows, cols]], dtype=np.float32), device=device
                )
                q_sel = q[torch.as_tensor(rows, device=device)]
                keys = _rowwise_key(dist, q_sel, g_sel)
                thr[torch.as_tensor(rows, device=device), torch.as_tensor(cols, device=device)] = keys.float()
            thr, _ = thr.sort(dim=1)
            tol = dist.tie_tolerance(q, g_stat, config.tie_ulps).unsqueeze(1)
            pessimistic = config.ties == "pessimistic"
            limit = (thr + tol if pessimistic else thr - tol).contiguous()
            neg_count = torch.zeros((b, m), dtype=torch.int64, device=device)
            top_dk = torch.full((b, k), float("inf"), device=device)
            top_ik = torch.full((b, k), -1, dtype=torch.int64, device=device)
            pkey = torch.as_tensor(probe_keys[p0:p1] if exclude else np.full(b, -1), device=device)
            snap = 0
            for bound in bounds:
                if bound is None:
                    ranks = neg_count.cpu().numpy() + np.arange(1, m + 1)[None, :]
                    pos_ranks[snap, p0:p1] = np.where(valid, ranks, 0)
                    snap += 1
                    continue
                g0, g1 = bound
                g = torch.as_tensor(np.ascontiguousarray(gallery[g0:g1], dtype=np.float32), device=device)
                dot, alpha, qterm, gterm, clamp = dist.block(q, g, out=buf)
                gkey = gkeys_t[g0:g1] if exclude else torch.full((g1 - g0,), -2, dtype=torch.int64, device=device)
                pcol = torch.as_tensor(np.where(valid & (pidx >= g0) & (pidx < g1), pidx - g0, -1), device=device)
                scan_block(
                    dot.contiguous(),
                    alpha,
                    qterm.contiguous(),
                    gterm.contiguous(),
                    clamp,
                    pkey,
                    gkey,
                    pcol,
                    limit,
                    pessimistic,
                    neg_count,
                    top_dk,
                    top_ik,
                    g0,
                    use_numba=config.use_numba,
                )
            if k:
                # Sort by distance, earlier gallery entries first on ties.
                key_i = torch.where(top_ik < 0, torch.iinfo(torch.int64).max, top_ik)
                order = torch.argsort(key_i, dim=1, stable=True)
                top_dk, top_ik = torch.gather(top_dk, 1, order), torch.gather(top_ik, 1, order)
                order = torch.argsort(top_dk, dim=1, stable=True)
                top_d[p0:p1] = dist.to_distance(torch.gather(top_dk, 1, order)).cpu().numpy()
                top_i[p0:p1] = torch.gather(top_ik, 1, order).cpu().numpy()
            if progress is not None:
                progress(b)
    return SearchResult(
        n_pos=n_pos, pos_ranks=pos_ranks, checkpoints=checkpoints, topk_index=top_i, topk_distance=top_d
    )


def _rowwise_key(dist, q_sel: torch.Tensor, g_sel: torch.Tensor) -> torch.Tensor:
    # Distance of row i of q_sel to row i of g_sel, computed by the same kernel as the dense search.
    out = []
    for i in range(0, len(q_sel), 256):
        out.append(dist.key(q_sel[i : i + 256], g_sel[i : i + 256]).diagonal().clone())
    return torch.cat(out)
