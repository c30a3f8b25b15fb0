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

    STRETCH = 64

    @numba.njit(cache=True, nogil=True, inline="always")
    def _scan_row(i, dot, alpha, qt, gterm, clamp, pk, gkey, pidx, lim, pessimistic, counts, top_d, top_i, g0, keys):
        # One probe row of a block: its keys into a buffer (L1-resident: a row is at most a few thousand
        # entries), then one compare-and-count pass per true match and a count of the entries that beat
        # the k-th best; only a row with such an entry is scanned for the top k. Every pass is free of
        # data-dependent branches (so it vectorises): at GREW scale with random features half of all
        # entries fall below a true match, and a branch per entry is a mispredicted jump as often as not.
        # True matches are counted like any entry and their own contributions taken off at the end (they
        # are not ranked before each other).
        n = dot.shape[1]
        m = lim.shape[1]
        k = top_d.shape[1]
        zero = np.float32(0.0)
        inf = np.float32(np.inf)
        for t in range(n):
            # float32 throughout, in the torch path's order, so both paths give identical keys.
            v = alpha * dot[i, t] + qt + gterm[t]
            if clamp and v < zero:
                v = zero
            # An excluded entry is +inf: below no (finite) limit, better than no kept entry.
            keys[t] = v if gkey[t] != pk else inf
        # Limits are sorted; slots of absent true matches have +inf limits and their counts are never read.
        slots = 0
        for s in range(m):
            limit = lim[i, s]
            if not limit < inf:
                break
            slots = s + 1
            c = 0
            if pessimistic:
                for t in range(n):
                    c += keys[t] <= limit
            else:
                for t in range(n):
                    c += keys[t] < limit
            counts[i, s] += c
        # pidx: the row's true matches as gallery indices (-1 = none); those inside this block are taken off.
        for s2 in range(pidx.shape[1]):
            j = pidx[i, s2] - g0
            if j < 0 or j >= n or gkey[j] == pk:
                continue
            v = keys[j]
            for s in range(slots):
                if pessimistic:
                    counts[i, s] -= v <= lim[i, s]
                else:
                    counts[i, s] -= v < lim[i, s]
        if k == 0:
            return
        worst = 0
        for s in range(1, k):
            if top_d[i, s] > top_d[i, worst]:
                worst = s
        worst_v = top_d[i, worst]
        # Stretches of STRETCH entries: only one holding an entry that beats the k-th best is scanned entry by
        # entry (a branch each). Late in a search almost none does, early almost every row does; a whole-row
        # check would send a row with one such entry through the slow loop for all its entries.
        for j0 in range(0, n, STRETCH):
            j1 = min(j0 + STRETCH, n)
            better = 0
            for t in range(j0, j1):
                better += keys[t] < worst_v
            if better:
                for t in range(j0, j1):
                    v = keys[t]
                    if v < worst_v:
                        top_d[i, worst] = v
                        top_i[i, worst] = g0 + t
                        worst = 0
                        for s in range(1, k):
                            if top_d[i, s] > top_d[i, worst]:
                                worst = s
                        worst_v = top_d[i, worst]

    @numba.njit(parallel=True, cache=True, nogil=True)
    def _scan(dot, alpha, qterm, gterm, clamp, pkey, gkey, pidx, lim, pessimistic, counts, top_d, top_i, g0):
        # All rows of a block, spread over numba's threads.
        for i in numba.prange(dot.shape[0]):
            keys = np.empty(dot.shape[1], dtype=np.float32)
            _scan_row(
                i,
                dot,
                alpha,
                qterm[i],
                gterm,
                clamp,
                pkey[i],
                gkey,
                pidx,
                lim,
                pessimistic,
                counts,
                top_d,
                top_i,
                g0,
                keys,
            )

    @numba.njit(cache=True, nogil=True)
    def scan_tile(dot, alpha, qterm, gterm, clamp, pkey, gkey, pidx, lim, pessimistic, counts, top_d, top_i, g0):
        """The same pass on the calling thread (no GIL held): for callers that run one tile per core."""
        keys = np.empty(dot.shape[1], dtype=np.float32)
        for i in range(dot.shape[0]):
            _scan_row(
                i,
                dot,
                alpha,
                qterm[i],
                gterm,
                clamp,
                pkey[i],
                gkey,
                pidx,
                lim,
                pessimistic,
                counts,
                top_d,
                top_i,
                g0,
                keys,
            )

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
    pidx: torch.Tensor,
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
    ``pidx`` (B, m): gallery indices of each probe's true matches (-1 = none), never counted;
    ``g0``: the gallery index of the block's first column.
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
            pidx.numpy(),
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
    pcol = torch.where((pidx >= g0) & (pidx < g0 + d.shape[1]), pidx - g0, -1)
    rows, slots = torch.nonzero(pcol >= 0, as_tuple=True)
    if len(rows):
        d[rows, pcol[rows, slots]] = float("inf")  # true matches are not ranked before true matches
    for j in range(lim.shape[1]):
        hit = (d <= lim[:, j : j + 1]) if pessimistic else (d < lim[:, j : j + 1])
        counts[:, j] += hit.sum(1)
