"""``grewkit bench search``: GREW-scale search timing and peak memory on random features."""

from __future__ import annotations

import time

import click
import numpy as np

from grewkit.bench.report import JSON_OPTION, emit, load_average, machine, markdown_table, peak_rss_mb


def run_search_bench(
    *,
    probes: int,
    gallery: int,
    distractors: int,
    dim: int,
    threads: int,
    device: str,
    probe_chunk: int,
    gallery_chunk: int,
    topk: int,
    distance: str,
    seed: int = 0,
    baseline: bool = False,
) -> dict:
    import torch

    from grewkit.evaluate.search import SearchConfig, search

    torch.set_num_threads(threads)
    rng = np.random.default_rng(seed)
    n_gal = gallery + distractors
    t0 = time.perf_counter()
    probe = rng.standard_normal((probes, dim), dtype=np.float32)
    gal = rng.standard_normal((n_gal, dim), dtype=np.float32)
    # GREW's test set: two gallery sequences per identity; distractors match nothing.
    n_ids = max(1, gallery // 2)
    probe_labels = rng.integers(0, n_ids, size=probes)
    gallery_labels = np.concatenate([np.arange(gallery) % n_ids, np.full(distractors, -2)])
    t_make = time.perf_counter() - t0
    cfg = SearchConfig(
        distance=distance, topk=topk, probe_chunk=probe_chunk, gallery_chunk=gallery_chunk, device=device
    )
    t0 = time.perf_counter()
    c0 = time.process_time()
    res = search(probe, gal, probe_labels=probe_labels, gallery_labels=gallery_labels, config=cfg)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t_search = time.perf_counter() - t0
    cpu_search = time.process_time() - c0
    extra = {}
    if baseline:
        # The same search without the fused numba pass (plain torch ops per block), same features, same process.
        from dataclasses import replace

        c1 = time.process_time()
        t1 = time.perf_counter()
        base = search(
            probe, gal, probe_labels=probe_labels, gallery_labels=gallery_labels, config=replace(cfg, use_numba=False)
        )
        extra = {
            "torch_path_s": round(time.perf_counter() - t1, 2),
            "torch_path_cpu_s": round(time.process_time() - c1, 2),
            "same_ranks": bool(np.array_equal(base.pos_ranks, res.pos_ranks)),
        }
        extra["cpu_speedup_fused"] = round(extra["torch_path_cpu_s"] / max(cpu_search, 1e-9), 2)
    return {
        "probes": probes,
        "gallery": gallery,
        "distractors": distractors,
        "dim": dim,
        "threads": threads,
        "device": device,
        "distance": distance,
        "topk": topk,
        "probe_chunk": probe_chunk,
        "gallery_chunk": gallery_chunk,
        "search_s": round(t_search, 2),
        "search_cpu_s": round(cpu_search, 2),
        # CPU seconds over threads: the wall time on dedicated cores (the shared dev box is often contended).
        "search_s_if_dedicated": round(cpu_search / threads, 2),
        "load_avg_1min": load_average(),
        "make_features_s": round(t_make, 2),
        "pairs_per_s": float(f"{probes * n_gal / t_search:.4g}"),
        "peak_rss_mb": peak_rss_mb(),
        "rank1_random": float(100 * np.mean((res.n_pos > 0) & (res.pos_ranks[-1][:, 0] == 1))),
        "machine": machine(),
        **extra,
    }


@click.command("search")
@click.option("--probes", default=12000, show_default=True)
@click.option("--gallery", default=12000, show_default=True, help="Labelled gallery sequences.")
@click.option("--distractors", default=233857, show_default=True)
@click.option("--dim", default=256, show_default=True)
@click.option("--threads", default=2, show_default=True, help="CPU threads torch may use.")
@click.option("--device", default="cpu", show_default=True, help="cpu or cuda.")
@click.option("--probe-chunk", default=2048, show_default=True)
@click.option("--gallery-chunk", default=4096, show_default=True)
@click.option("--topk", default=20, show_default=True, help="Also keep the k nearest (submission ranks).")
@click.option("--distance", default="euclidean", show_default=True)
@click.option("--baseline", is_flag=True, help="Also time the plain-torch path on the same features (ratio).")
@JSON_OPTION
def bench_search_command(
    probes, gallery, distractors, dim, threads, device, probe_chunk, gallery_chunk, topk, distance, baseline, as_json
):
    """Time probes x (gallery + distractors) search on random features; report peak RSS.

    \b
    Example (GREW scale, the default):
      grewkit bench search --threads 2
    """
    out = run_search_bench(
        probes=probes,
        gallery=gallery,
        distractors=distractors,
        dim=dim,
        threads=threads,
        device=device,
        probe_chunk=probe_chunk,
        gallery_chunk=gallery_chunk,
        topk=topk,
        distance=distance,
        baseline=baseline,
    )
    emit(out, as_json, lambda r: markdown_table(["figure", "value"], r.items()))
