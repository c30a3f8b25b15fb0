"""``grewkit split``: write the splits manifest by the GREW protocol."""

from __future__ import annotations

import dataclasses

import click
from rich.markup import escape

from grewkit.cli.options import project_option
from grewkit.core.progress import console


def split_project(project, *, seed: int | None = None, camera_disjoint: bool | None = None):
    """Split the project's sequences with its [split] settings (and overrides); write and return the result."""
    from grewkit.core.errors import GrewkitError
    from grewkit.split.checks import check_splits, unaudited_distractors
    from grewkit.split.inputs import sequence_rows
    from grewkit.split.protocol import make_splits

    settings = project.settings.section("split")
    overrides = {k: v for k, v in (("seed", seed), ("camera_disjoint", camera_disjoint)) if v is not None}
    settings = dataclasses.replace(settings, **overrides)
    rows = sequence_rows(project)
    result = make_splits(rows, settings)
    problems, shape = check_splits(result.table, camera_disjoint=settings.camera_disjoint)
    if problems:  # the protocol must never produce a leak; refuse to write one if it ever does
        raise RuntimeError("split produced an invalid protocol: " + "; ".join(problems))
    if not settings.allow_unaudited_distractors:
        # A single-camera identity may be a benchmark person whose link was never asked: as a
        # distractor it would count a probe's own walk as an impostor.
        count, seq, ident = unaudited_distractors(project, result.table)
        if count:
            raise GrewkitError(
                f"{count} distractor sequences come from identities seen in one camera that no audit has "
                f"checked (e.g. {seq!r}, identity {ident}): push and answer the audit round "
                "(`grewkit annotate push`, then pull), or set [split] allow_unaudited_distractors = true",
                path=project.manifests_dir / "identities.parquet",
            )
    project.write("splits", result.table)
    return result, shape


@click.command("split")
@project_option
@click.option("--seed", type=int, default=None, help="Override [split] seed.")
@click.option("--camera-disjoint/--no-camera-disjoint", default=None, help="Override [split] camera_disjoint.")
def split_command(project, seed, camera_disjoint):
    """Split the sequences into train / val / test (probe, gallery) / distractor by the GREW protocol.

    Identities seen in at least [split] min_cameras cameras go to train/val/test (identity-disjoint,
    camera-disjoint when asked); the others are distractors. Each test and val identity gives
    sequences_per_test_identity sequences, probes_per_test_identity of them probes, from cameras
    other than its gallery's where possible. Same seed and manifests, same split.

    \b
    Example:
      grewkit split --project demo
      grewkit split --project demo --seed 3 --camera-disjoint
      grewkit validate --project demo     # proves zero identity and camera leaks
    """
    result, shape = split_project(project, seed=seed, camera_disjoint=camera_disjoint)
    console.print(escape(shape.line()), highlight=False, soft_wrap=True)
    for name, cams in result.camera_groups.items():
        console.print(
            escape(f"cameras of {name}: {len(cams)} ({', '.join(cams[:8])}{' ...' if len(cams) > 8 else ''})"),
            highlight=False,
            soft_wrap=True,
        )
    for reason, count in result.excluded.items():
        console.print(escape(f"left out: {count} sequences ({reason})"), highlight=False, soft_wrap=True)
    for note in result.notes:
        console.print(f"[yellow]note[/yellow] {escape(note)}", highlight=False, soft_wrap=True)
    click.echo(
        f"wrote {project.relative(project.manifests_dir / 'splits.parquet')} ({result.table.num_rows} sequences)"
    )
