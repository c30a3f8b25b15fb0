"""``grewkit bench candidates``: the annotate stage's candidate ranking at GREW scale.

A synthetic tracklet set shaped like GREW (882 cameras on a grid, 362K tracklets of walkers who
cross a few neighbouring cameras within minutes, over several days of daytime recording; an
embedding per tracklet that is its walker's prototype plus a camera bias plus noise) is ranked by
the same ``rank_vectors`` the stage calls after embedding, in a fresh process whose peak resident
memory is the figure. Recall@K of the true match comes from the walkers' identities; a few
queries are ranked again by the dense reference (``rank_top_k_dense``, the full-matrix ranking)
and must come out identical: same candidates, same order, same scores.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import resource
import time
from dataclasses import replace

import click
import numpy as np

from grewkit.bench.report import JSON_OPTION, emit, load_average, machine, markdown_table

DAY_START_S = 8 * 3600  # recording starts at 08:00 each day
EPOCH = 1767225600.0  # 2026-01-01 00:00 UTC: absolute times, as the videos manifest gives them


def grid_shape(cameras: int) -> tuple[int, int]:
    """(rows, columns) of the camera grid: 882 cameras are 21 x 42."""
    cols = math.ceil(math.sqrt(2 * cameras))
    return math.ceil(cameras / cols), cols


def grid_topology(cameras: int) -> dict[str, list[str]]:
    """Each camera reaches its (up to 8) grid neighbours: the moves the synthetic walkers make."""
    _, cols = grid_shape(cameras)
    topology = {}
    for c in range(cameras):
        r, x = divmod(c, cols)
        near = [
            (r + dr) * cols + (x + dx)
            for dr in (-1, 0, 1)
            for dx in (-1, 0, 1)
            if (dr or dx) and 0 <= x + dx < cols and 0 <= (r + dr) * cols + (x + dx) < cameras and r + dr >= 0
        ]
        topology[f"cam{c:03d}"] = [f"cam{n:03d}" for n in near]
    return topology


def synthetic_tracklets(
    *, tracklets: int, cameras: int, days: int, hours: float, dim: int, seed: int, noise: float, camera_bias: float
) -> dict:
    """Seeded GREW-like tracklets: ids, camera ids, identity, start/end seconds and unit embeddings.

    Each walker crosses 1-8 cameras (geometric, mean about 2.2; the ones seen once are the
    distractors), moving to a neighbouring camera of the grid each time, 5-300 s between
    cameras; a tracklet lasts about 8 s (log-normal, 1-120 s). Walkers start uniformly over
    ``days`` x ``hours`` of daytime recording. Rows are in camera, then time order, as a
    per-video tracklets manifest is.
    """
    rng = np.random.default_rng(seed)
    per_walker = np.minimum(rng.geometric(0.45, size=tracklets), 8)
    walkers = int(np.searchsorted(np.cumsum(per_walker), tracklets)) + 1
    per_walker = per_walker[:walkers]
    per_walker[-1] -= int(per_walker.sum()) - tracklets
    identity = np.repeat(np.arange(walkers), per_walker)
    first = np.concatenate([[0], np.cumsum(per_walker)[:-1]])
    step = np.arange(tracklets) - np.repeat(first, per_walker)
    rows, cols = grid_shape(cameras)
    # A random walk on the grid: a start camera, then one neighbouring move per further camera.
    moves = rng.integers(-1, 2, size=(tracklets, 2))
    moves[step == 0] = 0
    start_cell = rng.integers(0, cameras, size=walkers)
    pos = np.stack(divmod(start_cell, cols), axis=1)[identity] + _grouped_cumsum(moves, first, per_walker)
    pos[:, 0] = np.clip(pos[:, 0], 0, rows - 1)
    pos[:, 1] = np.clip(pos[:, 1], 0, cols - 1)
    camera = np.minimum(pos[:, 0] * cols + pos[:, 1], cameras - 1)
    duration = np.clip(rng.lognormal(math.log(8.0), 0.6, size=tracklets), 1.0, 120.0)
    travel = rng.uniform(5.0, 300.0, size=tracklets)
    walker_start = (
        EPOCH + rng.integers(0, days, size=walkers) * 86400.0 + DAY_START_S + rng.uniform(0, hours * 3600, walkers)
    )
    offset = _grouped_cumsum((duration + travel)[:, None], first, per_walker)[:, 0] - (duration + travel)
    starts = walker_start[identity] + offset
    ends = starts + duration
    prototypes = rng.standard_normal((walkers, dim), dtype=np.float32)
    biases = camera_bias * rng.standard_normal((cameras, dim), dtype=np.float32)
    matrix = prototypes[identity] + biases[camera] + noise * rng.standard_normal((tracklets, dim), dtype=np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    order = np.lexsort((starts, camera))
    return {
        "ids": [f"t{i:06d}" for i in range(tracklets)],
        "camera_ids": [f"cam{c:03d}" for c in camera[order]],
        "identity": identity[order],
        "starts": starts[order],
        "ends": ends[order],
        "matrix": np.ascontiguousarray(matrix[order]),
    }


def _grouped_cumsum(values: np.ndarray, first: np.ndarray, counts: np.ndarray) -> np.ndarray:
    total = np.cumsum(values, axis=0)
    before = np.concatenate([np.zeros((1, values.shape[1]), values.dtype), total[first[1:] - 1]])
    return total - np.repeat(before, counts, axis=0)


def _settings(params: dict):
    from grewkit.annotate.settings import AnnotateSettings

    return replace(
        AnnotateSettings(),
        embedders=["synthetic"],
        weights={"synthetic": 1.0},
        k=params["k"],
        max_gap_s=params["max_gap_s"],
        topology=grid_topology(params["cameras"]) if params["topology"] else {},
        rank_query_block=params["query_block"],
        rank_candidate_block=params["candidate_block"],
    )


def _generate(params: dict) -> dict:
    keys = ("tracklets", "cameras", "days", "hours", "dim", "seed", "noise", "camera_bias")
    return synthetic_tracklets(**{k: params[k] for k in keys})


def _rank_in_child(params: dict) -> dict:
    """In a fresh process: generate, rank with the stage's code, measure; return small results."""
    from grewkit.annotate.candidates import Similarity, TrackletInfo, rank_vectors, recall_at_k

    t0 = time.perf_counter()
    data = _generate(params)
    generate_s = time.perf_counter() - t0
    n = len(data["ids"])
    pairs = [0, 0]

    def on_block(queries: int, candidates: int) -> None:
        pairs[0] += queries * candidates
        pairs[1] = max(pairs[1], queries * candidates)

    similarity = Similarity(data["matrix"], np.ones(n, bool), 1.0)
    settings = _settings(params)
    t0, c0 = time.perf_counter(), time.process_time()
    table = rank_vectors(
        data["ids"], data["camera_ids"], [similarity], (data["starts"], data["ends"]), settings, on_block=on_block
    )
    rank_s, rank_cpu_s = time.perf_counter() - t0, time.process_time() - c0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    tracklets = [TrackletInfo(t, "", c, 0, 0) for t, c in zip(data["ids"], data["camera_ids"])]
    truth = dict(zip(data["ids"], (f"p{i}" for i in data["identity"])))
    recall = recall_at_k(table, truth, tracklets, ks=(1, 5))
    check = set(params["check_ids"])
    keep = [i for i, t in enumerate(table.column("query_tracklet_id").to_pylist()) if t in check]
    rows = table.take(keep).select(["query_tracklet_id", "candidate_tracklet_id", "rank", "score"]).to_pylist()
    return {
        "generate_s": generate_s,
        "rank_s": rank_s,
        "rank_cpu_s": rank_cpu_s,
        "peak_rss_mb": peak_mb,
        "rows": table.num_rows,
        "pairs_scored": pairs[0],
        "largest_block": pairs[1],
        "recall": recall,
        "check_rows": rows,
    }


def run_candidates_bench(params: dict) -> dict:
    from grewkit.annotate.candidates import Similarity, camera_reach, rank_top_k_dense

    n = params["tracklets"]
    check = np.sort(np.random.default_rng(params["seed"] + 1).choice(n, size=min(params["check"], n), replace=False))
    ids = [f"t{i:06d}" for i in range(n)]  # the ids synthetic_tracklets gives, in manifest order
    params = {**params, "check_ids": [ids[i] for i in check]}
    os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = str(params["threads"])
    load_before = load_average()
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        child = pool.apply(_rank_in_child, (params,))
    load_after = load_average()

    # The dense reference on the checked queries, here (its memory is not the figure).
    data = _generate(params)
    settings = _settings(params)
    camera_names, cameras = np.unique(np.array(data["camera_ids"], dtype=object), return_inverse=True)
    reach = camera_reach([str(c) for c in camera_names], settings.topology)
    similarity = Similarity(data["matrix"], np.ones(n, bool), 1.0)
    t0 = time.perf_counter()
    index, scores = rank_top_k_dense(
        [similarity],
        cameras,
        reach,
        data["starts"],
        data["ends"],
        k=settings.k,
        max_gap_s=settings.max_gap_s,
        queries=check,
    )
    dense_s = time.perf_counter() - t0
    dense = {
        ids[q]: [(ids[c], float(s)) for c, s in zip(row_i, row_s) if c >= 0]
        for q, row_i, row_s in zip(check, index, scores)
    }
    streamed: dict[str, list] = {ids[q]: [] for q in check}
    for r in sorted(child["check_rows"], key=lambda r: (r["query_tracklet_id"], r["rank"])):
        streamed[r["query_tracklet_id"]].append((r["candidate_tracklet_id"], r["score"]))
    differ = sum(1 for q in dense if dense[q] != streamed[q])
    recall = child["recall"]
    dense_per_query = dense_s / max(1, len(check))
    return {
        "tracklets": n,
        "cameras": params["cameras"],
        "days x hours": f"{params['days']} x {params['hours']:g}",
        "dim": params["dim"],
        "k": params["k"],
        "max_gap_s": params["max_gap_s"],
        "topology": "grid neighbours" if params["topology"] else "every camera",
        "query_block x candidate_block": f"{params['query_block']} x {params['candidate_block']}",
        "threads": params["threads"],
        "rank_s": round(child["rank_s"], 1),
        "rank_cpu_s": round(child["rank_cpu_s"], 1),
        "peak_rss_mb (ranking process)": round(child["peak_rss_mb"], 1),
        "generate_s": round(child["generate_s"], 1),
        "pairs_scored": child["pairs_scored"],
        "pairs_scored / n^2": float(f"{child['pairs_scored'] / n**2:.3g}"),
        "largest block (pairs)": child["largest_block"],
        "candidate rows": child["rows"],
        "queries with a true match": recall["queries"],
        "recall@1": round(recall["recall@1"], 4),
        "recall@5": round(recall["recall@5"], 4),
        "dense check: queries": len(check),
        "dense check: queries that differ": differ,
        "dense reference s per query": round(dense_per_query, 4),
        "dense reference extrapolated to all queries, s": round(dense_per_query * n, 0),
        "load_avg_1min before / after": f"{load_before} / {load_after}",
        "machine": machine(),
    }


@click.command("candidates")
@click.option("--tracklets", default=362000, show_default=True)
@click.option("--cameras", default=882, show_default=True)
@click.option("--days", default=3, show_default=True, help="Recording days.")
@click.option("--hours", default=10.0, show_default=True, help="Recording hours per day (from 08:00).")
@click.option("--dim", default=144, show_default=True, help="Embedding size (the appearance descriptor's is 144).")
@click.option("--noise", default=1.5, show_default=True, help="Per-tracklet noise against the walker's prototype.")
@click.option("--camera-bias", default=0.5, show_default=True, help="Per-camera shift of every embedding.")
@click.option("--k", default=5, show_default=True)
@click.option("--max-gap-s", default=600.0, show_default=True, help="The time gate ([annotate] max_gap_s).")
@click.option("--topology/--no-topology", default=False, help="Gate on the camera grid's neighbours too.")
@click.option("--query-block", default=None, type=int, help="[annotate] rank_query_block (default: the setting's).")
@click.option(
    "--candidate-block", default=None, type=int, help="[annotate] rank_candidate_block (default: the setting's)."
)
@click.option("--check", default=200, show_default=True, help="Queries ranked again by the dense reference.")
@click.option("--threads", default=2, show_default=True, help="BLAS threads of the ranking process.")
@click.option("--seed", default=0, show_default=True)
@JSON_OPTION
def bench_candidates_command(query_block, candidate_block, as_json, **params):
    """Rank GREW-scale synthetic tracklets with the annotate stage's code: time, peak memory, recall@K.

    \b
    Example (GREW scale, the default):
      grewkit bench candidates
    """
    from grewkit.annotate.settings import AnnotateSettings

    defaults = AnnotateSettings()
    params["query_block"] = query_block or defaults.rank_query_block
    params["candidate_block"] = candidate_block or defaults.rank_candidate_block
    out = run_candidates_bench(params)
    emit(out, as_json, lambda r: markdown_table(["figure", "value"], r.items()))
    if out["dense check: queries that differ"]:
        raise click.ClickException(
            f"{out['dense check: queries that differ']} of {out['dense check: queries']} checked queries "
            "ranked differently from the dense reference"
        )
