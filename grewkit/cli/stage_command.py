"""One way to turn a per-unit stage into a command: same options, same summary, same exit codes."""

from __future__ import annotations

import sys

import click
from rich.markup import escape

from grewkit.cli.options import executor_options, project_option
from grewkit.core.progress import console


def run_and_report(
    project,
    stage: str,
    *,
    executor_kind: str | None = None,
    workers: int | None = None,
    address: str | None = None,
    retry_failed: bool | None = None,
    strict: bool = False,
    show_progress: bool = True,
    partial: bool = False,
):
    """Run a registered stage with the project's executor (or the overrides) and print its summary.

    Exits 3 when ``strict`` and some units failed; otherwise failures are listed and the
    command succeeds, so one corrupt video does not stop a night's batch.
    """
    from grewkit.core.executors import executor_for
    from grewkit.core.runner import run_stage

    executor = executor_for(
        project.settings.section("executor"), stage, kind=executor_kind, workers=workers, address=address
    )
    with executor:
        summary = run_stage(
            project, stage, executor=executor, retry_failed=retry_failed, show_progress=show_progress, partial=partial
        )
    console.print(escape(summary.line()), highlight=False)
    for key, reason in sorted(summary.failed.items())[:20]:
        console.print(f"[red]failed[/red] {escape(key)}: {escape(reason)}", highlight=False)
    if len(summary.failed) > 20:
        console.print(f"... and {len(summary.failed) - 20} more (grewkit status lists them all)")
    if strict and summary.failed:
        sys.exit(3)
    return summary


def partial_option(fn):
    """``--partial``: go on while an upstream stage is incomplete, with the units whose inputs are all there."""
    return click.option(
        "--partial",
        is_flag=True,
        help="When an upstream stage is incomplete, run only the units whose upstream units are "
        "done instead of refusing (recorded in state/<stage>/run.json, shown by status).",
    )(fn)


def settings_option(section: str, key: str, *decls: str, check=None, **kwargs):
    """An option that sets ``[section] key`` in the project's grewkit.toml before the stage runs (see
    ``stage_command``): the file stays the record of what ran, so a rerun without the option repeats it.
    The help text is the setting's own."""
    import dataclasses

    from grewkit.core.settings import section_class

    (f,) = [f for f in dataclasses.fields(section_class(section)) if f.name == key]
    kwargs.setdefault("help", f"{f.metadata['help']} Written into grewkit.toml [{section}] {key}.")
    option = click.option(*decls, key, default=None, **kwargs)
    option.setting = (section, key)
    option.check = check  # check(project, value): raise GrewkitError before anything is written
    return option


def stage_command(stage: str, help_text: str, settings_options: tuple = ()) -> click.Command:
    """A click command that runs ``stage`` with the common options: --project, --executor, --workers, ...;
    ``settings_options`` (from ``settings_option``) are written into the project's settings first."""

    def apply_settings(project, given: dict) -> None:
        from grewkit.core.settings import update_settings

        by_section: dict[str, dict] = {}
        for option in settings_options:
            section, key = option.setting
            if given.get(key) is not None:
                if option.check is not None:
                    option.check(project, given[key])
                by_section.setdefault(section, {})[key] = given[key]
        for section, values in by_section.items():
            for line in update_settings(project.settings_path, section, values):
                console.print(escape(f"{project.settings_path.name} [{section}] {line}"), highlight=False)

    def with_settings(fn):
        for option in reversed(settings_options):
            fn = option(fn)
        return fn

    @click.command(stage, help=help_text)
    @with_settings
    @project_option
    @executor_options
    @click.option(
        "--retry-failed/--skip-failed",
        default=None,
        help="Retry units that failed before (default: [executor] retry_failed).",
    )
    @click.option("--strict", is_flag=True, help="Exit with status 3 when any unit failed.")
    @click.option("--quiet", is_flag=True, help="No progress bar.")
    @partial_option
    def command(project, executor_kind, workers, address, retry_failed, strict, quiet, partial, **given):
        apply_settings(project, given)
        run_and_report(
            project,
            stage,
            executor_kind=executor_kind,
            workers=workers,
            address=address,
            retry_failed=retry_failed,
            strict=strict,
            show_progress=not quiet,
            partial=partial,
        )

    return command
