"""``grewkit import opengait|grew``: bring existing datasets into a project's manifests."""

from __future__ import annotations

import click

from grewkit.cli.options import project_option


@click.group("import")
def import_group():
    """Register an existing dataset (OpenGait layout, GREW-style release) as grewkit manifests.

    Pickles are read with a restricted unpickler that accepts numpy arrays and nothing else.
    """


@import_group.command("opengait")
@click.argument("root", type=click.Path(exists=True, file_okay=False))
@project_option
@click.option(
    "--dataset",
    default="casiab",
    show_default=True,
    help="Dataset name: prefix of the sequence ids (<dataset>-<id>-<type>-<view>).",
)
@click.option(
    "--copy",
    is_flag=True,
    help="Store each array as .npy under PROJECT/renders/<dataset>/ instead of pointing at the original .pkl files.",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def import_opengait_command(root, project, dataset, copy, quiet):
    """Register ROOT/<id>/<type>/<view>/<view>.pkl sequences (OpenGait's layout) in the sequences manifest.

    Sequence ids are <dataset>-<id>-<type>-<view> (e.g. casiab-075-nm-05-090); modality is
    sil<height> (sil64, sil128); identity, view and condition (= type) come from the folders,
    and the camera is the view (CASIA-B has one camera per view). Re-running replaces the same ids.

    \b
    Example:
      tar xzf casiab_090_s075-094_opengait.tar.gz -C /tmp/casiab
      grewkit import opengait /tmp/casiab --project demo --dataset casiab
    """
    from grewkit.interop.import_opengait import import_opengait

    summary = import_opengait(project, root, dataset=dataset, copy=copy, show_progress=not quiet)
    mods = ", ".join(f"{k}: {v}" for k, v in sorted(summary.modalities.items()))
    click.echo(
        f"imported {summary.sequences} sequences of {summary.identities} identities "
        f"({summary.frames} frames; {mods}) into {project.relative(project.manifests_dir / 'sequences.parquet')}"
    )


@import_group.command("grew")
@click.argument("root", type=click.Path(exists=True, file_okay=False))
@project_option
@click.option("--dataset", default="grew", show_default=True, help="Dataset name: prefix of the sequence ids.")
@click.option(
    "--key",
    "key_dir",
    type=click.Path(exists=True, file_okay=False),
    default=None,
    help="The release's private answer key: restores sequence ids, identities and cameras.",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def import_grew_command(root, project, dataset, key_dir, quiet):
    """Register a GREW-style release (grewkit's or GREW's own) as sequences and splits.

    Without --key, test probes and distractors have no identity, as published.

    \b
    Example:
      grewkit import grew /data/GREW --project grew --dataset grew
      grewkit import grew /data/mygait-release --project copy --key /private/mygait-key
    """
    from grewkit.interop.import_grew import import_grew

    r = import_grew(project, root, dataset=dataset, key_dir=key_dir, show_progress=not quiet)
    parts = ", ".join(f"{k}: {v}" for k, v in sorted(r.counts.items()))
    click.echo(
        f"imported {r.sequences} sequences ({r.files} files; {parts})"
        + (" with identities from the answer key" if r.with_key else "; probe identities hidden")
    )
