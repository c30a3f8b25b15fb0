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

import threading
from dataclasses import dataclass, field

import numpy as np
import torch

from grewkit.core.errors import GrewkitError
from grewkit.evaluate.conventions import TIES  # noqa: E402  (re-exported)
from grewkit.evaluate.distances import get_distance
from grewkit.evaluate.kernels import HAVE_NUMBA, scan_block, scan_tile

# MKL's sgemm gives every output element the same float32 value whatever the product's shape once it has
# at least 12 rows and 16 columns (smaller products take other kernels, with other rounding; with 2
# threads some of 5-11 rows differ too, with 1 thread only 1-3): measured on this CPU for feature widths
# 64 to 1024. Tiles are kept at least that large so the fused path's keys equal the block path's bit for
# bit (tests/test_evaluate_metrics.py checks the rule).
_LEAST_ROWS, _LEAST_COLS = 12, 16


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
    # The CPU path (numba): each thread multiplies tile_rows probes by tile_cols gallery entries into its
    # own 1 MB block and scans it while it is still in that core's caches (docs/benchmarks.md).
    tile_rows: int = 256
    tile_cols: int = 1024
    device: str = "cpu"
    use_numba: bool = True

    def __post_init__(self):
        get_distance(self.distance)
        if self.ties not in TIES:
            raise GrewkitError(f"ties must be one of {TIES}, not {self.ties!r}")
        if (
            self.topk < 0
            or min(self.probe_chunk, self.gallery_chunk, self.tile_rows, self.tile_cols) < 1
            or self.tie_ulps < 0
        ):
            raise GrewkitError("topk and tie_ulps must be >= 0 and chunk sizes >= 1")
        if self.tile_rows < _LEAST_ROWS or self.tile_cols < _LEAST_COLS:
            raise GrewkitError(f"tile_rows must be >= {_LEAST_ROWS} and tile_cols >= {_LEAST_COLS}")


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
    gkeys_t = torch.as_tensor(gallery_keys if exclude else np.full(n_gal, -2), device=device)
    pkeys_t = torch.as_tensor(probe_keys if exclude else np.full(len(probe), -1), device=device)
    pessimistic = config.ties == "pessimistic"
    # Per probe: the limits its true matches set (their keys, sorted, +-the tie tolerance), the count of
    # other entries below each, and the running top k.
    limit = torch.full((len(probe), m), float("inf"), device=device)
    neg_count = torch.zeros((len(probe), m), dtype=torch.int64, device=device)
    top_dk = torch.full((len(probe), k), float("inf"), device=device)
    top_ik = torch.full((len(probe), k), -1, dtype=torch.int64, device=device)
    pidx_t = torch.as_tensor(pos_idx, device=device)
    valid = pos_idx >= 0
    fused = device.type == "cpu" and config.use_numba and HAVE_NUMBA and dist.has_dot_form
    with torch.inference_mode():
        for p0 in range(0, len(probe), config.probe_chunk):
            p1 = min(p0 + config.probe_chunk, len(probe))
            q = torch.as_tensor(np.ascontiguousarray(probe[p0:p1], dtype=np.float32), device=device)
            limit[p0:p1] = _limits(dist, q, gallery, pos_idx[p0:p1], g_stat, config, device)
        if fused:
            _fused_pass(
                dist,
                probe,
                gallery,
                bounds_of(checkpoints, config.gallery_chunk),
                pos_ranks,
                valid,
                limit,
                neg_count,
                top_dk,
                top_ik,
                pkeys_t,
                gkeys_t,
                pidx_t,
                pessimistic,
                config,
                progress,
            )
        else:
            bounds = bounds_of(checkpoints, config.gallery_chunk)
            buf = torch.empty(min(config.probe_chunk, len(probe)) * min(config.gallery_chunk, n_gal), device=device)
            for p0 in range(0, len(probe), config.probe_chunk):
                p1 = min(p0 + config.probe_chunk, len(probe))
                q = torch.as_tensor(np.ascontiguousarray(probe[p0:p1], dtype=np.float32), device=device)
                snap = 0
                for bound in bounds:
                    if bound is None:
                        _snapshot(pos_ranks[snap], neg_count, valid, p0, p1)
                        snap += 1
                        continue
                    g0, g1 = bound
                    g = torch.as_tensor(np.ascontiguousarray(gallery[g0:g1], dtype=np.float32), device=device)
                    dot, alpha, qterm, gterm, clamp = dist.block(q, g, out=buf)
                    scan_block(
                        dot.contiguous(),
                        alpha,
                        qterm.contiguous(),
                        gterm.contiguous(),
                        clamp,
                        pkeys_t[p0:p1],
                        gkeys_t[g0:g1],
                        pidx_t[p0:p1],
                        limit[p0:p1],
                        pessimistic,
                        neg_count[p0:p1],
                        top_dk[p0:p1],
                        top_ik[p0:p1],
                        g0,
                        use_numba=config.use_numba,
                    )
                if progress is not None:
                    progress(p1 - p0)
        if k:
            # Sort by distance, earlier gallery entries first on ties.
            key_i = torch.where(top_ik < 0, torch.iinfo(torch.int64).max, top_ik)
            order = torch.argsort(key_i, dim=1, stable=True)
            top_dk, top_ik = torch.gather(top_dk, 1, order), torch.gather(top_ik, 1, order)
            order = torch.argsort(top_dk, dim=1, stable=True)
            top_d[:] = dist.to_distance(torch.gather(top_dk, 1, order)).cpu().numpy()
            top_i[:] = torch.gather(top_ik, 1, order).cpu().numpy()
    return SearchResult(
        n_pos=n_pos, pos_ranks=pos_ranks, checkpoints=checkpoints, topk_index=top_i, topk_distance=top_d
    )


def bounds_of(checkpoints: list[int], chunk: int) -> list:
    """Gallery segments of at most ``chunk`` entries that end at every checkpoint (so that counts can be
    snapshot there); None marks a snapshot."""
    bounds = []
    start = 0
    for cp in checkpoints:
        for g0 in range(start, cp, chunk):
            bounds.append((g0, min(g0 + chunk, cp)))
        bounds.append(None)
        start = cp
    return bounds


def _snapshot(out: np.ndarray, neg_count: torch.Tensor, valid: np.ndarray, p0: int, p1: int) -> None:
    ranks = neg_count[p0:p1].cpu().numpy() + np.arange(1, neg_count.shape[1] + 1)[None, :]
    out[p0:p1] = np.where(valid[p0:p1], ranks, 0)


def _limits(dist, q: torch.Tensor, gallery, pidx: np.ndarray, g_stat: float, config: SearchConfig, device):
    """Per probe of a chunk: its true matches' keys, sorted ascending, moved by the tie tolerance; padding +inf."""
    b, m = pidx.shape
    thr = torch.full((b, m), float("inf"), device=device)
    valid = pidx >= 0
    if valid.any():
        rows, cols = np.nonzero(valid)
        g_sel = torch.as_tensor(np.ascontiguousarray(gallery[pidx[rows, cols]], dtype=np.float32), device=device)
        q_sel = q[torch.as_tensor(rows, device=device)]
        keys = _rowwise_key(dist, q_sel, g_sel)
        thr[torch.as_tensor(rows, device=device), torch.as_tensor(cols, device=device)] = keys.float()
    thr, _ = thr.sort(dim=1)
    tol = dist.tie_tolerance(q, g_stat, config.tie_ulps).unsqueeze(1)
    return thr + tol if config.ties == "pessimistic" else thr - tol


def _cuts(n: int, size: int, least: int) -> list[tuple[int, int]]:
    """``[0, n)`` in pieces of ``size``; a last piece shorter than ``least`` joins the one before it."""
    edges = list(range(0, n, size))
    if len(edges) > 1 and n - edges[-1] < least:
        edges.pop()
    return list(zip(edges, edges[1:] + [n]))


def _fused_pass(
    dist,
    probe,
    gallery,
    bounds,
    pos_ranks,
    valid,
    limit,
    neg_count,
    top_dk,
    top_ik,
    pkeys,
    gkeys,
    pidx,
    pessimistic,
    config,
    progress,
) -> None:
    """The CPU search with one worker per thread, each owning a run of probe rows.

    A worker multiplies ``tile_rows`` probes by ``tile_cols`` gallery entries into its own small block
    and scans it at once with numba (no GIL held), while the block is still in that core's caches. One
    BLAS thread per worker and no barrier inside a chunk: a two-thread product into a 2048 x 4096 block
    ran at two thirds of the one-thread small-block rate, and the block path's scan then read the block
    back from memory (docs/benchmarks.md, "Search at GREW scale"). Every dot product is the same float32
    number as in the block path (see _LEAST_ROWS), so the results are too.
    """
    from concurrent.futures import ThreadPoolExecutor

    threads = max(1, torch.get_num_threads())
    n_probe = len(probe)
    rows, cols = config.tile_rows, config.tile_cols
    runs = _cuts(n_probe, rows, _LEAST_ROWS)
    alpha = np.float32(dist.alpha)
    clamp = dist.name == "euclidean"
    qf_all, qterm_all = dist.operands(torch.as_tensor(np.ascontiguousarray(probe, dtype=np.float32)), gallery=False)
    q_np, qterm_np = qf_all.contiguous().numpy(), qterm_all.contiguous().numpy()
    lim_np, cnt_np, td_np, ti_np = limit.numpy(), neg_count.numpy(), top_dk.numpy(), top_ik.numpy()
    pk_np, gk_np, pidx_np = pkeys.numpy(), gkeys.numpy(), pidx.numpy()
    local = threading.local()

    def work(run, g_t, gterm, g0):
        a, b = run
        buf = getattr(local, "buf", None)
        if buf is None:
            torch.set_num_threads(1)
            buf = local.buf = torch.empty((rows + _LEAST_ROWS) * (cols + _LEAST_COLS))
        q = torch.from_numpy(q_np[a:b])
        for c0, c1 in _cuts(len(g_t), cols, _LEAST_COLS):
            out = buf[: (b - a) * (c1 - c0)].view(b - a, c1 - c0)
            torch.mm(q, g_t[c0:c1].T, out=out)
            scan_tile(
                out.numpy(),
                alpha,
                qterm_np[a:b],
                gterm[c0:c1],
                clamp,
                pk_np[a:b],
                gk_np[g0 + c0 : g0 + c1],
                pidx_np[a:b],
                lim_np[a:b],
                pessimistic,
                cnt_np[a:b],
                td_np[a:b],
                ti_np[a:b],
                g0 + c0,
            )

    snap = 0
    # One thread for torch here too: an OpenMP team started by a small op in this thread spins between
    # regions on the cores the workers need.
    torch.set_num_threads(1)
    try:
        pool = ThreadPoolExecutor(threads)
        for bound in bounds:
            if bound is None:
                _snapshot(pos_ranks[snap], neg_count, valid, 0, n_probe)
                snap += 1
                continue
            g0, g1 = bound
            g_t, gterm = dist.operands(
                torch.as_tensor(np.ascontiguousarray(gallery[g0:g1], dtype=np.float32)), gallery=True
            )
            g_t, gterm = g_t.contiguous(), gterm.contiguous().numpy()
            list(pool.map(lambda r: work(r, g_t, gterm, g0), runs))
    finally:
        pool.shutdown()
        torch.set_num_threads(threads)  # the workers set BLAS to one thread; the caller's count back
    if progress is not None:
        progress(n_probe)


def _rowwise_key(dist, q_sel: torch.Tensor, g_sel: torch.Tensor) -> torch.Tensor:
    # Distance of row i of q_sel to row i of g_sel, computed by the same kernel as the dense search.
    out = []
    for i in range(0, len(q_sel), 256):
        out.append(dist.key(q_sel[i : i + 256], g_sel[i : i + 256]).diagonal().clone())
    return torch.cat(out)
