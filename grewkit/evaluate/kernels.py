"""One fused pass over a block of dot products: finish the distance, skip excluded entries, count
entries below each true match and keep the top k.

A block's key is ``v = alpha * dot + qterm[i] + gterm[j]`` (clamped at 0 for Euclidean keys), so
the matrix product is the only other pass over the block. In plain torch the same work is an
elementwise pass per term, a masked fill, m compare-and-sum passes and a top-k, each reading the
block again; at GREW scale they cost more than the product. Without numba (or on a GPU) the torch
version runs; both give the same numbers (tests/test_evaluate_metrics.py runs both).
"""

from __future__ import annotations

import numpy as np
import torch

try:  # optional accelerator for the CPU path
    import numba

    TILE = 256  # entries per tile: a tile's keys stay in L1 for the passes over them

    @numba.njit(parallel=True, cache=True, nogil=True)
    def _scan(dot, alpha, qterm, gterm, clamp, pkey, gkey, pcol, lim, pessimistic, counts, top_d, top_i, g0):
        # Per probe row, tile by tile: the keys into a small buffer, then one compare-and-count pass per
        # true match and a count of entries that beat the k-th best; only a tile with such an entry is
        # scanned for the top k. Every pass is free of data-dependent branches (so it vectorises): at
        # GREW scale with random features half of all entries fall below a true match, and a branch per
        # entry is a mispredicted jump as often as not. True matches are counted like any entry and
        # their own contributions taken off at the end of the row (they are not ranked before each other).
        b, n = dot.shape
        m = lim.shape[1]
        zero = np.float32(0.0)
        inf = np.float32(np.inf)
        k = top_d.shape[1]
        for i in numba.prange(b):
            keys = np.empty(TILE, dtype=np.float32)
            qt = qterm[i]
            pk = pkey[i]
            # Slots of absent true matches have +inf limits; their counts are never read, so not kept.
            slots = 0
            for s in range(m):
                if lim[i, s] < inf:
                    slots = s + 1
            local = np.zeros(m, dtype=np.int64)
            worst = 0
            for s in range(1, k):
                if top_d[i, s] > top_d[i, worst]:
                    worst = s
            worst_v = top_d[i, worst] if k > 0 else -inf
            for j0 in range(0, n, TILE):
                w = min(TILE, n - j0)
                for t in range(w):
                    # float32 throughout, in the torch path's order, so both paths give identical keys.
                    v = alpha * dot[i, j0 + t] + qt + gterm[j0 + t]
                    if clamp and v < zero:
                        v = zero
                    # An excluded entry is +inf: below no (finite) limit, better than no kept entry.
                    keys[t] = v if gkey[j0 + t] != pk else inf
                for s in range(slots):
                    limit = lim[i, s]
                    c = 0
                    if pessimistic:
                        for t in range(w):
                            c += keys[t] <= limit
                    else:
                        for t in range(w):
                            c += keys[t] < limit
                    local[s] += c
                better = 0
                for t in range(w):
                    better += keys[t] < worst_v
                if better:
                    for t in range(w):
                        v = keys[t]
                        if v < worst_v:
                            top_d[i, worst] = v
                            top_i[i, worst] = g0 + j0 + t
                            worst = 0
                            for s in range(1, k):
                                if top_d[i, s] > top_d[i, worst]:
                                    worst = s
                            worst_v = top_d[i, worst]
            for s2 in range(m):
                j = pcol[i, s2]
                if j < 0 or gkey[j] == pk:
                    continue
                v = alpha * dot[i, j] + qt + gterm[j]
                if clamp and v < zero:
                    v = zero
                for s in range(slots):
                    if pessimistic:
                        local[s] -= v <= lim[i, s]
                    else:
                        local[s] -= v < lim[i, s]
            for s in range(slots):
                counts[i, s] += local[s]

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - exercised where numba is absent
    HAVE_NUMBA = False


def scan_block(
    dot: torch.Tensor,
    alpha: float,
    qterm: torch.Tensor,
    gterm: torch.Tensor,
    clamp: bool,
    pkey: torch.Tensor,
    gkey: torch.Tensor,
    pcol: torch.Tensor,
    lim: torch.Tensor,
    pessimistic: bool,
    counts: torch.Tensor,
    top_d: torch.Tensor,
    top_i: torch.Tensor,
    g0: int,
    *,
    use_numba: bool = True,
) -> None:
    """Update ``counts`` (B, m) and the running top k in place for one (B, G) block.

    ``pkey``/``gkey``: exclusion codes (equal = the gallery entry is removed for that probe);
    ``pcol`` (B, m): block columns of each probe's true matches (-1 = none), never counted.
    """
    if use_numba and HAVE_NUMBA and dot.device.type == "cpu":
        _scan(
            dot.numpy(),
            np.float32(alpha),
            qterm.numpy(),
            gterm.numpy(),
            bool(clamp),
            pkey.numpy(),
            gkey.numpy(),
            pcol.numpy(),
            lim.numpy(),
            bool(pessimistic),
            counts.numpy(),
            top_d.numpy(),
            top_i.numpy(),
            int(g0),
        )
        return
    d = dot * alpha + qterm.unsqueeze(1) + gterm.unsqueeze(0)
    if clamp:
        d.clamp_min_(0.0)
    d.masked_fill_(pkey.unsqueeze(1) == gkey.unsqueeze(0), float("inf"))
    k = top_d.shape[1]
    if k:
        kk = min(k, d.shape[1])
        vd, vi = torch.topk(d, kk, dim=1, largest=False, sorted=False)
        vd = torch.cat([top_d, vd], 1)
        vi = torch.cat([top_i, vi + g0], 1)
        # Stable merge: earlier gallery entries win ties, like the numba path.
        order = torch.argsort(torch.where(vi < 0, torch.iinfo(torch.int64).max, vi), dim=1, stable=True)
        vd, vi = torch.gather(vd, 1, order), torch.gather(vi, 1, order)
        order = torch.argsort(vd, dim=1, stable=True)[:, :k]
        vd, vi = torch.gather(vd, 1, order), torch.gather(vi, 1, order)
        top_d.copy_(vd)
        top_i.copy_(torch.where(torch.isinf(vd), -1, vi))
    rows, slots = torch.nonzero(pcol >= 0, as_tuple=True)
    if len(rows):
        d[rows, pcol[rows, slots]] = float("inf")  # true matches are not ranked before true matches
    for j in range(lim.shape[1]):
        hit = (d <= lim[:, j : j + 1]) if pessimistic else (d < lim[:, j : j + 1])
        counts[:, j] += hit.sum(1)
