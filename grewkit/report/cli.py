"""``grewkit report``."""

from __future__ import annotations

import click

from grewkit.cli.options import project_option


@click.command("report")
@project_option
def report_command(project):
    """Write the dataset's statistics and figures to PROJECT/reports/ (report.md, report.html, figures/*.png).

    Per split (GREW Table 1/4 style): identities, sequences, frames, cameras, probe/gallery and
    distractor counts; figures: sequence lengths, views, sequences and cameras per identity and,
    when the attributes manifest exists, attribute histograms (GREW Fig. 5 style).

    \b
    Example:
      grewkit report --project demo && xdg-open demo/reports/report.html
    """
    from grewkit.report.writer import write_report

    r = write_report(project)
    click.echo(
        f"wrote {project.relative(r.markdown)}, {project.relative(r.html)} and {len(r.figures)} figures "
        f"({r.stats.identities:,} identities, {r.stats.sequences:,} sequences)"
    )
