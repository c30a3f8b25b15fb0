"""Project-level commands: init, status, validate."""

from __future__ import annotations

import json
import sys

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from grewkit.cli.options import project_option
from grewkit.core.project import LAYOUT, Project

console = Console()


@click.command("init")
@click.argument("project_dir", metavar="PROJECT", type=click.Path(file_okay=False))
@click.option("--name", default=None, help="Dataset name written into the settings (default: the folder name).")
def init_command(project_dir, name):
    """Create PROJECT with a settings file (grewkit.toml) and the folder layout.

    \b
    Example:
      grewkit init ~/datasets/campus-gait
      grewkit init demo --name "demo set"
    """
    project = Project.init(project_dir, name=name)
    click.echo(f"created {project.root}/ with {project.settings_path.name} and folders: {', '.join(LAYOUT)}")


def _stage_names(project: Project) -> list[str]:
    from grewkit.core.stage import STAGES

    names = list(STAGES)
    state_root = project.root / "state"
    if state_root.is_dir():
        names += sorted(p.name for p in state_root.iterdir() if p.is_dir() and p.name not in STAGES)
    return names


@click.command("status")
@project_option
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def status_command(project, as_json):
    """Per stage: how many units are done, stale (their inputs changed), failed (with reasons) and pending;
    then the dataset so far.

    From the manifests, where they exist: tracklets kept and dropped per reason (overall and per
    video), annotation progress and conflicts, and split sizes. --json prints {"stages": [...],
    "tracklets": ..., "tracklets_by_video": [...], "annotation": ..., "splits": ...} (null for a
    part not made yet).

    \b
    Example:
      grewkit status --project demo
    """
    from grewkit.core.overview import overview_lines, project_overview
    from grewkit.core.runner import stage_status

    rows = [stage_status(project, name) for name in _stage_names(project)]
    overview = project_overview(project)
    if as_json:
        click.echo(json.dumps({"stages": rows, **overview}, indent=2))
        return
    table = Table(title=f"grewkit status: {project.root}")
    for col in ("stage", "done", "stale", "failed", "pending", "total"):
        table.add_column(col, justify="left" if col == "stage" else "right")
    for row in rows:
        if row["started"]:
            name = row["stage"] + (" (partial)" if row.get("partial") else "")
            table.add_row(
                name,
                str(row["done"]),
                str(len(row.get("stale", {}))),
                str(len(row["failed"])),
                str(row["pending"]),
                str(row["total"]),
            )
        else:
            table.add_row(row["stage"], "-", "-", "-", "-", "not run")
    console.print(table)
    for row in rows:
        for key, reason in sorted(row.get("stale", {}).items())[:20]:
            console.print(
                f"[yellow]stale[/yellow] {escape(row['stage'])}/{escape(key)}: {escape(reason)}",
                highlight=False,
                soft_wrap=True,
            )
        if len(row.get("stale", {})) > 20:
            console.print(f"... and {len(row['stale']) - 20} more stale units in {row['stage']}")
        for key, reason in sorted(row["failed"].items())[:20]:
            console.print(
                f"[red]failed[/red] {escape(row['stage'])}/{escape(key)}: {escape(reason)}",
                highlight=False,
                soft_wrap=True,
            )
        if len(row["failed"]) > 20:
            console.print(f"... and {len(row['failed']) - 20} more failures in {row['stage']}")
    for line in overview_lines(overview):
        console.print(escape(line), highlight=False)
    if overview["tracklets_by_video"]:
        table = Table(title="tracklets per video")
        for col in ("video", "found", "kept", "dropped", "dropped by reason"):
            table.add_column(col, justify="left" if col in ("video", "dropped by reason") else "right")
        for v in overview["tracklets_by_video"]:
            reasons = ", ".join(f"{name} {n}" for name, n in sorted(v["reasons"].items(), key=lambda r: (-r[1], r[0])))
            table.add_row(escape(v["video_id"]), str(v["found"]), str(v["kept"]), str(v["dropped"]), escape(reasons))
        console.print(table)


@click.command("validate")
@project_option
def validate_command(project):
    """Check every manifest against its schema and the cross-manifest references.

    Exits 1 with one line per problem (file: problem) when anything is wrong.

    \b
    Example:
      grewkit validate --project demo
    """
    from grewkit.core.validate import validate_project

    problems = validate_project(project)
    if problems:
        for problem in problems:
            click.echo(str(problem), err=True)
        click.echo(f"{len(problems)} problem(s) found", err=True)
        sys.exit(1)
    click.echo("all manifests valid")
