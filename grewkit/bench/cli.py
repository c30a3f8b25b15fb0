"""``grewkit bench``: the benchmarks behind docs/benchmarks.md, each printing the figures it measured.

Like the top-level group, benchmarks are imported only when run, so one whose heavy
dependencies are missing does not break the others.
"""

from __future__ import annotations

import click

from grewkit.cli.main import LazyGroup

# name -> ("module:attribute", one-line help), in pipeline order.
BENCHMARKS: dict[str, tuple[str, str]] = {
    "synth": (
        "grewkit.bench.synth:bench_synth_command",
        "Frames per second of synthetic generation against a write-only baseline.",
    ),
    "decode": ("grewkit.bench.decode:bench_decode_command", "CPU ms per decoded frame at 768x576 and 1920x1080."),
    "detect": (
        "grewkit.bench.detect:bench_detect_command",
        "Detector precision/recall on TUD-Campus and speed on TUD-Campus and vtest.avi.",
    ),
    "detect-synth": (
        "grewkit.bench.detect_synth:bench_detect_synth_command",
        "Detect + track per backend against a synthetic world's ground truth; HOG recall of its walkers.",
    ),
    "track": (
        "grewkit.bench.track:bench_track_command",
        "MOT metrics on TUD-Campus, and ingest/detect/track wall time over pure decode on a real video.",
    ),
    "annotate": (
        "grewkit.bench.annotate:bench_annotate_group",
        "Candidate recall@K, identity accuracy after simulated annotators, push/pull speed against Label Studio.",
    ),
    "candidates": (
        "grewkit.bench.candidates:bench_candidates_command",
        "Cross-camera candidate ranking of 362K synthetic tracklets over 882 cameras: time, peak memory, recall@K.",
    ),
    "dataset": (
        "grewkit.bench.dataset:bench_dataset_command",
        "Yield, label pair precision/recall, distractor leaks and annotation cost of a run's released dataset.",
    ),
    "render": (
        "grewkit.bench.render:bench_render_command",
        "Size normalisation against OpenGait's loop, render steps and the render stage's throughput on TUD-Campus.",
    ),
    "render-quality": (
        "grewkit.bench.render_quality:bench_render_quality_command",
        "Silhouette IoU and 2D-pose PCK against a synthetic world's true masks, per segmenter.",
    ),
    "split": ("grewkit.bench.split:bench_split_command", "grewkit split + validate time and memory at GREW scale."),
    "search": ("grewkit.bench.search:bench_search_command", "GREW-scale probe x gallery search time and memory."),
    "models": (
        "grewkit.bench.models:bench_models_command",
        "Parameters, FLOPs and CPU time per sequence of each gait model.",
    ),
    "casiab": (
        "grewkit.bench.train:bench_casiab_command",
        "Brief training on CASIA-B's training subjects against the GEI baseline (grewkit commands only).",
    ),
    "train": (
        "grewkit.bench.train_check:bench_train_command",
        "Forward/backward with AMP per model on a device: it/s, peak GPU memory, device-vs-CPU embeddings.",
    ),
}


@click.group("bench", cls=LazyGroup, commands=BENCHMARKS)
def bench_group():
    """Benchmarks that produce the figures of docs/benchmarks.md (each prints the command's own results)."""
