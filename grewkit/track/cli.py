"""``grewkit track``."""

from grewkit.cli.stage_command import settings_option, stage_command

track_command = stage_command(
    "track",
    """ByteTrack per video into tracklets and per-frame boxes, then quality filters.

Tracklets that are too short, too small, truncated at the frame border, too occluded or too
static to be walking are kept in the manifests with kept = false and the reasons in
filter_reason. Tracklet ids (<video_id>-t00001, ...) are the same on every rerun. The options
below are written into grewkit.toml [track] before the run (a rerun without them repeats them;
only the videos whose result they change are tracked again).

\b
Examples:
  grewkit track --project demo
  grewkit track --project demo --no-stitch --min-seconds 2
  grewkit status --project demo
""",
    settings_options=(
        settings_option("track", "stitch", "--stitch/--no-stitch"),
        settings_option("track", "cut_switches", "--cuts/--no-cuts"),
        settings_option("track", "min_seconds", "--min-seconds", type=float),
        settings_option("track", "min_box_height", "--min-box-height", type=float),
        settings_option("track", "max_gap_seconds", "--max-gap-seconds", type=float),
        settings_option("track", "stitch_max_gap_seconds", "--stitch-max-gap-seconds", type=float),
    ),
)


import click  # noqa: E402

from grewkit.cli.options import project_option  # noqa: E402


@click.command("tracks-picture")
@project_option
@click.option("--video", "video_id", default=None, help="Video id (default: every video).")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder for the PNGs (default: PROJECT/reports/tracks).",
)
def tracks_picture_command(project, video_id, out_dir):
    """Draw each video's tracks (walking paths of kept and dropped tracklets) as a PNG.

    \b
    Examples:
      grewkit tracks-picture --project vtest
      grewkit tracks-picture --project demo --video synth-cam01-92bf05d7b12a --out pictures
    """
    from pathlib import Path

    from grewkit.track.picture import draw_tracks

    folder = Path(out_dir) if out_dir else project.folder("reports") / "tracks"
    ids = [video_id] if video_id else project.read("videos", ["video_id"])["video_id"].to_pylist()
    for vid in ids:
        counts = draw_tracks(project, vid, folder / f"{vid}.png")
        click.echo(f"{folder / f'{vid}.png'}: {counts['kept']} kept, {counts['dropped']} dropped tracklets")
