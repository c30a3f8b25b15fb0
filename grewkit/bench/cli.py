"""``grewkit bench``: the benchmarks behind docs/benchmarks.md, each printing the figures it measured.

Like the top-level group, benchmarks are imported only when run, so one whose heavy
dependencies are missing does not break the others.
"""

from __future__ import annotations

import click

from grewkit.cli.main import LazyGroup

# name -> ("module:attribute", one-line help)
BENCHMARKS: dict[str, tuple[str, str]] = {
    # -- ingest, detect, track (issue 4): add entries below this line --
    "detect": ("grewkit.bench.detect:bench_detect_command",
               "Detector precision/recall on TUD-Campus and speed on TUD-Campus and vtest.avi."),
    "track": ("grewkit.bench.track:bench_track_command",
              "MOT metrics on TUD-Campus, and ingest/detect/track wall time over pure decode on a real video."),

    # -- train, embed, evaluate (issue 8): add entries below this line --
    "search": ("grewkit.bench.search:bench_search_command", "GREW-scale probe x gallery search time and memory."),
    "models": ("grewkit.bench.models:bench_models_command", "Parameters, FLOPs and CPU time per sequence of each gait model."),
    "train": ("grewkit.bench.train_check:bench_train_command",
              "Forward/backward with AMP per model on a device: it/s, peak GPU memory, device-vs-CPU embeddings."),
}


@click.group("bench", cls=LazyGroup, commands=BENCHMARKS)
def bench_group():
    """Benchmarks that produce the figures of docs/benchmarks.md (each prints the command's own results)."""
