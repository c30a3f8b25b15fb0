"""Options and helpers shared by the commands."""

from __future__ import annotations

import click

from grewkit.core.project import Project


def project_option(fn):
    """``--project PROJECT`` (default: the current folder, or $GREWKIT_PROJECT); passes an opened Project."""

    def callback(ctx, param, value):
        return Project.open(value)

    return click.option(
        "--project",
        "-p",
        "project",
        default=".",
        envvar="GREWKIT_PROJECT",
        show_default=True,
        type=click.Path(file_okay=False),
        callback=callback,
        is_eager=False,
        help="Project folder (made by `grewkit init`).",
    )(fn)


def executor_options(fn):
    """``--executor``, ``--workers`` and ``--address`` overriding the project's [executor] settings."""
    fn = click.option("--workers", type=int, default=None, help="Worker processes (default: [executor] workers).")(fn)
    fn = click.option(
        "--address", default=None, help="Ray cluster address with --executor ray (default: [executor] ray_address)."
    )(fn)
    fn = click.option(
        "--executor",
        "executor_kind",
        default=None,
        help="local (process pool), serial, ray, or another registered executor.",
    )(fn)
    return fn
