"""The ``grewkit run`` command."""

from __future__ import annotations

import shutil
from pathlib import Path

import click

from grewkit.core.errors import GrewkitError
from grewkit.core.project import Project
from grewkit.core.settings import Settings
from grewkit.pipeline.settings import ALL_STEPS

DEMO_SETTINGS = Path(__file__).with_name("demo.toml")


@click.command("run")
@click.option(
    "--project",
    "-p",
    "project_dir",
    default=".",
    envvar="GREWKIT_PROJECT",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Project folder; created when it does not exist.",
)
@click.option(
    "--settings",
    "settings_file",
    type=click.Path(dir_okay=False, exists=True),
    default=None,
    help="Settings file for a new project (default: grewkit init's defaults).",
)
@click.option("--demo", is_flag=True, help="A new project gets the embedded demo settings (small synthetic world).")
@click.option("--force", multiple=True, type=click.Choice(ALL_STEPS), help="Take this step again, and every later one.")
@click.option("--until", type=click.Choice(ALL_STEPS), default=None, help="Stop after this step.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def run_command(project_dir, settings_file, demo, force, until, quiet):
    """Run the whole pipeline from a settings file, skipping what is done.

    synth or ingest, detect, track, render, annotate (serve, candidates, push, simulated or
    human annotators, pull, stop), split, export, train, embed, evaluate, report. The steps
    and their options are the [run] section of the project's grewkit.toml.

    \b
    Examples:
      grewkit run --project demo --demo          # the README's demo
      grewkit run --project campus --settings campus.toml
      grewkit run --project campus --force split # new split, then everything after it
    """
    from grewkit.pipeline.run import Pipeline, read_evaluations, summary_lines

    root = Path(project_dir)
    source = Path(settings_file) if settings_file else (DEMO_SETTINGS if demo else None)
    if not (root / "grewkit.toml").exists():
        if source is not None:
            Settings.load(source)  # refuse a broken file before creating anything
        project = Project.init(root)
        if source is not None:
            shutil.copyfile(source, project.settings_path)
        click.echo(f"created project {root}" + (f" with settings from {source}" if source else ""))
    elif source is not None and Path(source).read_text() != (root / "grewkit.toml").read_text():
        raise GrewkitError(
            "the project exists with other settings: edit its grewkit.toml, or run without --settings/--demo",
            path=root / "grewkit.toml",
        )
    project = Project.open(root.resolve())  # steps may run in worker processes with another cwd
    results = Pipeline(project, quiet=quiet).run(force=set(force), until=until)
    click.echo("\nsteps:")
    for line in summary_lines(results):
        click.echo("  " + line)
    report = project.root / "reports" / "report.md"
    if report.exists():
        click.echo(f"\nreport: {report}")
    evaluations = read_evaluations(project)
    if evaluations:
        click.echo("\nevaluation (Rank-k, mAP, mINP in %; details in reports/evaluation-*.json):")
        click.echo(
            f"  {'features':<16} {'protocol':<10} {'probes':>6} {'gallery':>7} {'R1':>6} {'R5':>6} {'R10':>6} {'mAP':>6} {'mINP':>6}"
        )
        for name, result in evaluations.items():
            m = result.get("metrics", {})
            if not m:
                click.echo(f"  {name:<16} {result.get('protocol', '?'):<10} (curve or breakdown: see its JSON)")
                continue
            click.echo(
                f"  {name:<16} {result.get('protocol', '?'):<10} {m.get('probes', 0):>6} {result.get('gallery', 0):>7} "
                + " ".join(f"{m.get(k, float('nan')):>6.1f}" for k in ("rank1", "rank5", "rank10", "mAP", "mINP"))
            )
