"""The top-level ``grewkit`` group.

Commands are listed here by import path and loaded only when called, so ``grewkit --help``
is instant and a stage whose optional dependencies are missing does not break the others.
"""

from __future__ import annotations

import importlib

import click

from grewkit import __version__
from grewkit.core.errors import GrewkitError

# name -> ("module:attribute", one-line help), in pipeline order.
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("grewkit.cli.project:init_command", "Create a project folder with default settings."),
    "status": ("grewkit.cli.project:status_command", "Per stage: units done, failed (with reasons) and pending."),
    "validate": ("grewkit.cli.project:validate_command", "Check every manifest against its schema and the others."),
    "doctor": ("grewkit.cli.project:doctor_command", "Which optional backends and services work on this machine."),

    # -- synth (issue 3): add entries below this line --
    "synth": ("grewkit.synth.cli:synth_command", "Generate multi-camera walking footage with exact ground truth."),

    # -- ingest, detect, track (issue 4): add entries below this line --
    "ingest": ("grewkit.ingest.command:ingest_command", "Register videos with their cameras (probe, checksum, failures with reasons)."),
    "detect": ("grewkit.detect.command:detect_command", "Person boxes per frame with the configured detector backend."),
    "track": ("grewkit.track.command:track_command", "ByteTrack per video into tracklets and per-frame boxes, with quality filters."),

    # -- annotate (issue 6): add entries below this line --
    "annotate": ("grewkit.annotate.cli:annotate_group", "Link identities across cameras and label attributes in Label Studio."),

    # -- render (issue 5): add entries below this line --
    "render": ("grewkit.render.cli:render_command", "Render silhouettes, GEIs, flow and 2D/3D poses per kept tracklet."),

    # -- split, export, import, report (issue 7): add entries below this line --
    "split": ("grewkit.split.cli:split_command", "Split sequences into train/val/test/distractor by the GREW protocol."),
    "export": ("grewkit.export.cli:export_group", "Write the split dataset as OpenGait's layout or a GREW-style release."),
    "import": ("grewkit.interop.cli:import_group", "Register an existing OpenGait-layout dataset or GREW-style release."),
    "report": ("grewkit.report.cli:report_command", "Dataset statistics and figures (GREW Table 1/4, Fig. 5) as Markdown and HTML."),

    # -- train, embed, evaluate (issue 8): add entries below this line --
    "train": ("grewkit.train.cli:train_command", "Train a gait model (GEINet, GaitSet, GaitPart, GaitBase) from a config file."),
    "embed": ("grewkit.train.cli:embed_command", "Extract features of sequences with a checkpoint (or the GEI baseline)."),
    "evaluate": ("grewkit.evaluate.cli:evaluate_command", "Rank-k, mAP, mINP under a protocol (GREW, distractors, attributes, CASIA-B, ...)."),
    "submission": ("grewkit.evaluate.cli:submission_command", "Write a GREW submission CSV (and the private answer key)."),
    "score": ("grewkit.evaluate.cli:score_command", "Score a GREW submission CSV against an answer key."),
    "bench": ("grewkit.bench.cli:bench_group", "Benchmarks that produce the figures of docs/benchmarks.md (`grewkit bench --help` lists them)."),

    # -- ray, run (issue 9): add entries below this line --

    "tracks-picture": ("grewkit.track.command:tracks_picture_command", "Draw each video's tracks as a PNG."),
    "run": ("grewkit.pipeline.cli:run_command", "The whole pipeline from one settings file, skipping what is done."),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported only when called; ``commands`` maps name -> ("module:attr", help)."""

    def __init__(self, *args, commands: dict[str, tuple[str, str]] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy_commands = COMMANDS if commands is None else commands

    def list_commands(self, ctx):
        return list(self.lazy_commands)

    def get_command(self, ctx, name):
        if name not in self.lazy_commands:
            return None
        module, _, attr = self.lazy_commands[name][0].partition(":")
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx, formatter):
        rows = [(name, help_text) for name, (_, help_text) in self.lazy_commands.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except GrewkitError as exc:
            # One line naming the file and the reason; no traceback for problems the user can fix.
            raise click.ClickException(str(exc)) from None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="grewkit")
def cli():
    """grewkit: turn multi-camera footage into a gait-recognition benchmark of the GREW kind.

    \b
    Typical session:
      grewkit init myset && cd myset
      grewkit doctor            # what this machine can run
      grewkit status            # where each stage stands
      grewkit validate          # schemas and cross-references
    """


def main():
    cli(prog_name="grewkit")
