"""The ``grewkit synth`` command."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from grewkit.core.errors import GrewkitError
from grewkit.core.progress import console
from grewkit.core.project import SETTINGS_FILE, Project

# flag name -> SynthConfig field
_OVERRIDES = (
    "cameras",
    "identities",
    "seconds",
    "seed",
    "fps",
    "width",
    "height",
    "single_camera_fraction",
    "segment_seconds",
)


@click.command("synth")
@click.argument("project_dir", metavar="PROJECT", type=click.Path(file_okay=False))
@click.option("--cameras", type=int, default=None, help="Number of cameras (default: [synth] cameras).")
@click.option("--identities", type=int, default=None, help="Number of people (default: [synth] identities).")
@click.option("--seconds", type=float, default=None, help="Seconds of footage per camera (default: [synth] seconds).")
@click.option("--seed", type=int, default=None, help="Random seed; same seed and settings, same bytes.")
@click.option("--fps", type=float, default=None, help="Frames per second.")
@click.option("--width", type=int, default=None, help="Frame width in pixels.")
@click.option("--height", type=int, default=None, help="Frame height in pixels.")
@click.option(
    "--single-camera-fraction",
    type=float,
    default=None,
    help="Fraction of identities seen by one camera only (future distractors).",
)
@click.option(
    "--segment-seconds", type=float, default=None, help="Split each camera into files of this length (0: one file)."
)
@click.option("--masks", is_flag=True, help="Also write each GT tracklet's true silhouettes to ground_truth/masks/.")
@click.option(
    "--workers",
    type=int,
    default=None,
    help="Cameras rendered in parallel processes (default: [executor] workers); the bytes do not depend on it.",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def synth_command(project_dir, masks, workers, quiet, **flags):
    """Generate multi-camera walking footage with exact ground truth into PROJECT.

    PROJECT is created (as by `grewkit init`) when it is not a project yet. Writes
    media/synth/<camera>.avi and media/synth/cameras.csv (for `grewkit ingest`), registers the
    cameras in manifests/cameras.parquet, and writes the ground truth (videos, tracklets, boxes
    with visibility, identities, attributes, gt_poses) under ground_truth/manifests in the
    pipeline's schemas. Settings come from the project's [synth] section; flags override them.

    \b
    Examples:
      grewkit synth demo --cameras 4 --identities 40 --seconds 60 --seed 0
      grewkit synth toy --cameras 2 --identities 10 --seconds 10
      grewkit ingest media/synth --cameras media/synth/cameras.csv --project demo
    """
    from grewkit.synth.generate import generate

    root = Path(project_dir)
    project = Project.open(root) if (root / SETTINGS_FILE).is_file() else Project.init(root)
    base = project.settings.section("synth")
    overrides = {k: v for k, v in flags.items() if k in _OVERRIDES and v is not None}
    try:
        config = dataclasses.replace(base, **overrides)
    except ValueError as exc:
        raise GrewkitError(f"synth: {exc}") from None
    if workers is None:
        workers = project.settings.section("executor").workers
    summary = generate(project, config, masks=masks, workers=max(1, workers), show_progress=not quiet)
    console.print(summary.line(), highlight=False)
    click.echo(
        f"videos and cameras.csv in {project.root / 'media' / 'synth'}; ground truth in {project.root / 'ground_truth'}"
    )
