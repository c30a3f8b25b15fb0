"""The top-level ``grewkit`` group.

Commands are listed here by import path and loaded only when called, so ``grewkit --help``
is instant and a stage whose optional dependencies are missing does not break the others.
"""

from __future__ import annotations

import click

from grewkit import __version__
from grewkit.core.errors import GrewkitError
from grewkit.core.registry import Registry

# name -> ("module:attribute", one-line help), in pipeline order.
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("grewkit.cli.project:init_command", "Create a project folder with default settings."),
    "status": ("grewkit.cli.project:status_command", "Per stage: units done, failed (with reasons) and pending."),
    "validate": ("grewkit.cli.project:validate_command", "Check every manifest against its schema and the others."),
    "doctor": ("grewkit.doctor:doctor_command", "Which optional backends and services work on this machine."),
    "synth": ("grewkit.synth.cli:synth_command", "Generate multi-camera walking footage with exact ground truth."),
    "ingest": (
        "grewkit.ingest.cli:ingest_command",
        "Register videos with their cameras (probe, checksum, failures with reasons).",
    ),
    "detect": ("grewkit.detect.cli:detect_command", "Person boxes per frame with the configured detector backend."),
    "track": (
        "grewkit.track.cli:track_command",
        "ByteTrack per video into tracklets and per-frame boxes, with quality filters.",
    ),
    "annotate": (
        "grewkit.annotate.cli:annotate_group",
        "Link identities across cameras and label attributes in Label Studio.",
    ),
    "render": (
        "grewkit.render.cli:render_command",
        "Render silhouettes, GEIs, flow and 2D/3D poses per kept tracklet.",
    ),
    "split": (
        "grewkit.split.cli:split_command",
        "Split sequences into train/val/test/distractor by the GREW protocol.",
    ),
    "export": (
        "grewkit.export.cli:export_group",
        "Write the split dataset as OpenGait's layout or a GREW-style release, or tracks as MOTChallenge files.",
    ),
    "import": (
        "grewkit.interop.cli:import_group",
        "Register an existing OpenGait-layout dataset or GREW-style release.",
    ),
    "report": (
        "grewkit.report.cli:report_command",
        "Dataset statistics and figures (GREW Table 1/4, Fig. 5) as Markdown and HTML.",
    ),
    "train": (
        "grewkit.train.cli:train_command",
        "Train a gait model (GEINet, GaitSet, GaitPart, GaitBase) from a config file.",
    ),
    "embed": (
        "grewkit.train.cli:embed_command",
        "Extract features of sequences with a checkpoint (or the GEI baseline).",
    ),
    "evaluate": (
        "grewkit.evaluate.cli:evaluate_command",
        "Rank-k, mAP, mINP under a protocol (GREW, distractors, attributes, CASIA-B, ...).",
    ),
    "submission": (
        "grewkit.evaluate.cli:submission_command",
        "Write a GREW submission CSV (and the private answer key).",
    ),
    "score": ("grewkit.evaluate.cli:score_command", "Score a GREW submission CSV against an answer key."),
    "bench": (
        "grewkit.bench.cli:bench_group",
        "Benchmarks that produce the figures of docs/benchmarks.md (`grewkit bench --help` lists them).",
    ),
    "tracks-picture": ("grewkit.track.cli:tracks_picture_command", "Draw each video's tracks as a PNG."),
    "run": ("grewkit.pipeline.cli:run_command", "The whole pipeline from one settings file, skipping what is done."),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported only when called; ``commands`` maps name -> ("module:attr", help).

    The references go into a ``Registry`` of click commands (the help stays here so that
    ``--help`` imports nothing); a command whose module needs a missing package says which.
    """

    def __init__(self, *args, commands: dict[str, tuple[str, str]] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy_commands = COMMANDS if commands is None else commands
        self.registry: Registry[click.Command] = Registry(
            "command", {name: target for name, (target, _) in self.lazy_commands.items()}
        )

    def list_commands(self, ctx):
        return self.registry.names()

    def get_command(self, ctx, name):
        if name not in self.registry:
            return None  # click reports "No such command"
        return self.registry.get(name)

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
