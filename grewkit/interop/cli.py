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
@click.option("--dataset", default="casiab", show_default=True,
              help="Dataset name: prefix of the sequence ids (<dataset>-<id>-<type>-<view>).")
@click.option("--copy", is_flag=True, help="Store each array as .npy under PROJECT/renders/<dataset>/ instead of "
                                          "pointing at the original .pkl files.")
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
    click.echo(f"imported {summary.sequences} sequences of {summary.identities} identities "
               f"({summary.frames} frames; {mods}) into {project.relative(project.manifests_dir / 'sequences.parquet')}")
