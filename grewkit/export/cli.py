"""``grewkit export opengait|unlabelled|grew|mot``."""

from __future__ import annotations

import click

from grewkit.cli.options import project_option


@click.group("export")
def export_group():
    """Write the split dataset for others: OpenGait's layout, unlabelled silhouettes or a GREW-style release."""


@export_group.command("opengait")
@click.argument("out", type=click.Path(file_okay=False))
@project_option
@click.option(
    "--layout",
    type=click.Choice(["protocol", "source"]),
    default="protocol",
    show_default=True,
    help="protocol: <id>/{00 train,01 gallery,02 probe}/<seq>/ (OpenGait's GREW evaluator); "
    "source: <id>/<condition>/<view>/ (CASIA-B style).",
)
@click.option(
    "--modality", default=None, help="Silhouette modality to export (default: sil64, else the smallest sil*)."
)
@click.option("--no-distractors", is_flag=True, help="Leave the distractors out of the test partition.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def export_opengait_command(out, project, layout, modality, no_distractors, quiet):
    """Write OUT/<id>/<type>/<view>/<view>.pkl (uint8 T,H,W) and OUT/partition.json for OpenGait.

    partition.json holds TRAIN_SET, TEST_SET and PROBE_SET; partition_val.json the val set.
    See docs/interop.md for the OpenGait config and evaluator that fit.

    \b
    Example:
      grewkit export opengait /data/mygait-opengait --project demo
    """
    from grewkit.export.opengait import export_opengait

    r = export_opengait(
        project, out, layout=layout, modality=modality, distractors=not no_distractors, show_progress=not quiet
    )
    click.echo(
        f"wrote {r.sequences} {r.modality} sequences to {out}: {r.train_labels} train, {r.val_labels} val and "
        f"{r.test_labels} test identities, {r.probes} test probes; partition.json beside them"
    )


@export_group.command("unlabelled")
@click.argument("out", type=click.Path(file_okay=False))
@project_option
@click.option("--modality", default=None, help="Silhouette modality (default: sil64, else the smallest sil*).")
@click.option(
    "--leave-out",
    "leave_out",
    multiple=True,
    help="Leave out the sequences of this split (repeatable), e.g. test, so pretraining never sees them.",
)
@click.option(
    "--key",
    "key_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also write a private CSV (pseudo identity, type, sequence, tracklet), outside OUT.",
)
@click.option("--seed", default=0, show_default=True, help="Order of the pseudo-identity numbers.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def export_unlabelled_command(out, project, modality, leave_out, key_path, seed, quiet):
    """Write every kept tracklet's silhouettes without identities, for self-supervised pretraining.

    OUT/<pseudo>/<type>/000/<pseudo>_<type>_000.pkl (uint8 T,H,W): one pseudo-identity folder per
    tracklet (numbers in a seeded random order), one type folder per sequence, as GaitLU-1M gives
    unlabelled walking to OpenGait; partition.json lists every folder as TRAIN_SET.

    \b
    Example:
      grewkit export unlabelled /data/mygait-unlabelled --project demo --leave-out test
    """
    from grewkit.export.unlabelled import export_unlabelled

    r = export_unlabelled(
        project,
        out,
        modality=modality,
        leave_out=tuple(leave_out),
        key_path=key_path,
        seed=seed,
        show_progress=not quiet,
    )
    click.echo(
        f"wrote {r.sequences} {r.modality} sequences of {r.pseudo_identities} tracklets to {out} without "
        f"identities ({r.left_out} left out); partition.json beside them"
    )


@export_group.command("grew")
@click.argument("out", type=click.Path(file_okay=False))
@project_option
@click.option(
    "--key",
    "key_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder for the private answer key (default: OUT-answer-key beside OUT; never inside it).",
)
@click.option("--modality", "modalities", multiple=True, help="Only these modalities (repeatable; default: all).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def export_grew_command(out, project, key_dir, modalities, quiet):
    """Write a GREW-style release to OUT and its private answer key apart.

    train/<id>/<seq>/, val/{gallery,probe}/<id>/<seq>/, test/gallery/<id>/<seq>/, test/probe/<seq>/
    (no identity) and distractors/<seq>/, each with silhouettes (PNG per frame), gei.png, flow.npy,
    pose2d.csv (original image size in its header) and pose3d.npy. No RGB pixel is ever written:
    colour arrays and images are refused, and the finished release is scanned.

    \b
    Example:
      grewkit export grew /data/mygait-release --project demo --key /private/mygait-key
    """
    from grewkit.export.grew import export_grew

    r = export_grew(project, out, key_dir=key_dir, modalities=list(modalities) or None, show_progress=not quiet)
    parts = ", ".join(f"{k}: {v}" for k, v in sorted(r.counts.items()))
    click.echo(f"wrote {r.sequences} sequences ({r.files} files; {parts}) to {out}; answer key in {r.key_dir}")


@export_group.command("mot")
@click.argument("out", type=click.Path(file_okay=False))
@project_option
def export_mot_command(out, project):
    """Write MOTChallenge text files per video, for TrackEval, py-motmetrics and other tracking tools.

    OUT/<video_id>/whole.txt (whole trajectories: ByteTrack without the identity-switch cuts, as
    MOT metrics score them), OUT/<video_id>/kept.txt (the kept tracklets, one id each),
    OUT/<video_id>/tracklets.txt (every tracklet, kept or dropped, one id each) and
    OUT/<video_id>/seqinfo.ini (fps, size, length). Rows: frame,id,x,y,w,h,conf,-1,-1,-1 with
    1-based frames.

    \b
    Example:
      grewkit export mot /data/mygait-mot --project demo
    """
    from grewkit.export.mot import export_mot

    r = export_mot(project, out)
    click.echo(
        f"wrote {r.videos} videos to {out}: {r.whole_rows} boxes of whole trajectories (whole.txt), "
        f"{r.kept_rows} boxes of {r.kept_tracklets} kept tracklets (kept.txt), {r.tracklet_rows} boxes of "
        "all tracklets (tracklets.txt), seqinfo.ini beside them"
    )
