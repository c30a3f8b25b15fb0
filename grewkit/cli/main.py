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

    # -- ingest, detect, track (issue 4): add entries below this line --

    # -- annotate (issue 6): add entries below this line --

    # -- render (issue 5): add entries below this line --

    # -- split, export, import, report (issue 7): add entries below this line --

    # -- train, embed, evaluate (issue 8): add entries below this line --
    "train": ("grewkit.train.cli:train_command", "Train a gait model (GEINet, GaitSet, GaitPart, GaitBase) from a config file."),
    "embed": ("grewkit.train.cli:embed_command", "Extract features of sequences with a checkpoint (or the GEI baseline)."),
    "evaluate": ("grewkit.evaluate.cli:evaluate_command", "Rank-k, mAP, mINP under a protocol (GREW, distractors, attributes, CASIA-B, ...)."),
    "submission": ("grewkit.evaluate.cli:submission_command", "Write a GREW submission CSV (and the private answer key)."),
    "score": ("grewkit.evaluate.cli:score_command", "Score a GREW submission CSV against an answer key."),
    "bench": ("grewkit.evaluate.bench:bench_group", "Benchmarks (bench search: GREW-scale search time and memory)."),

    # -- ray, run (issue 9): add entries below this line --

}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module, _, attr = COMMANDS[name][0].partition(":")
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx, formatter):
        rows = [(name, help_text) for name, (_, help_text) in COMMANDS.items()]
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
