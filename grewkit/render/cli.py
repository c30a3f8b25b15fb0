"""``grewkit render``: the render stage's command."""

from __future__ import annotations

import click

from grewkit.cli.options import executor_options, project_option
from grewkit.cli.stage_command import partial_option


@click.command("render")
@project_option
@executor_options
@click.option(
    "--modalities",
    default=None,
    help="Comma-separated subset of sil,gei,flow,pose2d,pose3d,skel (default: [render] modalities).",
)
@click.option(
    "--segmenter",
    default=None,
    help="Segmentation backend: mediapipe, mog2 or mediapipe+mog2 (default: [render] segmenter).",
)
@click.option(
    "--retry-failed/--skip-failed",
    default=None,
    help="Retry units that failed before (default: [executor] retry_failed).",
)
@click.option("--strict", is_flag=True, help="Exit with status 3 when any tracklet failed.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@partial_option
def render_command(
    project, executor_kind, workers, address, modalities, segmenter, retry_failed, strict, quiet, partial
):
    """Render silhouettes, GEIs, optical flow and 2D/3D poses for every kept tracklet.

    Writes PROJECT/renders/<camera>/<tracklet>/<modality>.npy and the sequences manifest
    (one row per sequence and modality). Resumable: a rerun renders only what is missing;
    changing the modalities or settings renders again.

    \b
    Examples:
      grewkit render --project demo
      grewkit render --modalities sil,gei --segmenter mog2 --workers 2
    """
    from grewkit.cli.stage_command import run_and_report
    from grewkit.render.stage import RenderStage

    overrides = {}
    if modalities:
        overrides["modalities"] = [m.strip() for m in modalities.split(",") if m.strip()]
    if segmenter:
        overrides["segmenter"] = segmenter
    RenderStage.overrides = overrides
    try:
        run_and_report(
            project,
            "render",
            executor_kind=executor_kind,
            workers=workers,
            address=address,
            retry_failed=retry_failed,
            strict=strict,
            show_progress=not quiet,
            partial=partial,
        )
    finally:
        RenderStage.overrides = {}
