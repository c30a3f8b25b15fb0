"""What every benchmark reports beside its figures, and how it prints them.

One place for the machine line, load average and peak memory (so each figure in
docs/benchmarks.md says the same thing about where it was measured), the Markdown table, the
``--json`` switch, timed ``grewkit`` subprocesses, and the small synthetic worlds the benches
generate and run the stages on.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import click

JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of Markdown tables.")


def machine() -> str:
    return f"{platform.node()} {platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def load_average() -> float:
    """The 1-minute load average: on a shared machine, how far wall times may be inflated."""
    return round(os.getloadavg()[0], 2)


def peak_rss_mb(*, children: bool = False) -> float:
    """Peak resident memory in MiB of this process, or the largest of its finished children."""
    # ru_maxrss is in KiB on Linux.
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    return round(resource.getrusage(who).ru_maxrss / 1024.0, 1)


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def emit(result: object, as_json: bool, text: Callable[[object], str]) -> None:
    """Print ``result`` as JSON or as the benchmark's own text (tables)."""
    click.echo(json.dumps(result, indent=2, default=float) if as_json else text(result))


@dataclass
class Run:
    """One finished ``grewkit`` subprocess: its output and what it cost."""

    output: str
    wall_s: float
    cpu_s: float
    peak_rss_mb: float  # the largest of this process's finished children so far


def run_grewkit(*args: str) -> Run:
    """Run ``grewkit ARGS`` in a fresh process, as a user does (start-up and imports included)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "grewkit", *args], capture_output=True, text=True)
    wall = time.perf_counter() - started
    if out.returncode != 0:
        raise click.ClickException(f"grewkit {' '.join(args)} failed:\n{out.stderr}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Run((out.stdout + out.stderr).strip(), wall, cpu, peak_rss_mb(children=True))


def world_options(*, cameras: int, identities: int, seconds: float) -> Callable:
    """The size of the synthetic world a bench generates, as ``grewkit synth`` names it."""

    def decorate(fn):
        for option in reversed(
            (
                click.option("--cameras", default=cameras, show_default=True, help="Cameras of the synthetic world."),
                click.option("--identities", default=identities, show_default=True, help="People in the world."),
                click.option("--seconds", default=seconds, show_default=True, help="Seconds of footage per camera."),
                click.option("--seed", default=0, show_default=True, help="Seed of the world."),
            )
        ):
            fn = option(fn)
        return fn

    return decorate


def synth_world(root: Path, *, cameras: int, identities: int, seconds: float, seed: int, masks: bool = False):
    """A new project at ``root`` holding a synthetic world, as ``grewkit synth ROOT --cameras ...`` makes it."""
    import dataclasses

    from grewkit.core.project import Project
    from grewkit.synth.generate import generate

    project = Project.init(root)
    config = dataclasses.replace(
        project.settings.section("synth"), cameras=cameras, identities=identities, seconds=float(seconds), seed=seed
    )
    generate(project, config, masks=masks, show_progress=False)
    return project


def run_stages(project, stages: Sequence[str], *, executor=None) -> list:
    """Run ``stages`` in order (the serial executor unless given one); stop on the first failed unit."""
    from grewkit.core.executors import SerialExecutor
    from grewkit.core.runner import run_stage

    summaries = []
    for stage in stages:
        summary = run_stage(project, stage, executor=executor or SerialExecutor(), show_progress=False)
        if summary.failed:
            raise click.ClickException(f"{stage} failed: {summary.failed}")
        summaries.append(summary)
    return summaries


def ingest_synth(project, *, executor=None) -> None:
    """Register a synthetic world's videos (cameras from its cameras.csv) and run the ingest stage."""
    from grewkit.ingest.cli import ingest

    media = project.root / "media" / "synth"
    ingest(project, [media], cameras=media / "cameras.csv")
    run_stages(project, ["ingest"], executor=executor)
