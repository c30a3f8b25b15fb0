"""`grewkit run` end to end on a small synthetic world, with a real Label Studio and simulated annotators."""

import json
import uuid

import pytest
from click.testing import CliRunner
from helpers import manifest_bytes

from grewkit.cli.main import cli
from grewkit.core.project import Project
from grewkit.core.validate import validate_project

pytestmark = [pytest.mark.server, pytest.mark.slow]

SETTINGS = """
[synth]
cameras = 3
identities = 14
seconds = 16.0
seed = 3

[track]
# This small, crowded world (5 people per frame) crosses a lot: with the identity-switch cuts on,
# only 17 short tracklets of 8 people stay kept, too few for the train step. The cuts have their
# own tests (test_track_cuts.py, test_track_synth.py); here every step must run.
cut_switches = false

[split]
ratios = [1, 0, 1]
val_identities = 0

[run]
simulated_error_rate = 0.0
exports = ["opengait", "grew"]
train_config = "gaitset_tiny"
train_iterations = 12
"""


def test_run_takes_every_step_then_skips_them_all(ls_server, tmp_path, monkeypatch):
    monkeypatch.setenv("GREWKIT_LABEL_STUDIO_URL", ls_server.url)
    monkeypatch.setenv("GREWKIT_LABEL_STUDIO_API_KEY", ls_server.credentials.token)
    monkeypatch.setenv("GREWKIT_LABEL_STUDIO_DOCUMENT_ROOT", str(ls_server.document_root))
    settings = tmp_path / "settings.toml"
    settings.write_text(SETTINGS)
    root = ls_server.document_root / "projects" / f"e2e-{uuid.uuid4().hex[:8]}"

    result = CliRunner().invoke(cli, ["run", "--project", str(root), "--settings", str(settings), "--quiet"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    project = Project.open(root)
    for step in (
        "synth",
        "candidates",
        "push",
        "annotate",
        "pull",
        "split",
        "export",
        "train",
        "embed",
        "evaluate",
        "report",
    ):
        assert (root / "state" / "run" / f"{step}.json").exists(), step
    assert validate_project(project) == []
    assert "serve       ran" in result.output and "stop        ran" in result.output, result.output

    identities = project.read("identities")
    assert identities.num_rows > 0 and set(identities.column("source").to_pylist()) == {"annotation"}
    splits = project.read("splits")
    assert {"test"} <= set(splits.column("split").to_pylist())
    assert (root / "releases" / "opengait" / "partition.json").exists()
    assert (root / "reports" / "report.md").exists()
    evaluation = json.loads((root / "reports" / "evaluation-gaitset_tiny.json").read_text())
    assert evaluation, "the trained model was evaluated"

    before = manifest_bytes(project)
    again = CliRunner().invoke(cli, ["run", "--project", str(root), "--quiet"])
    assert again.exit_code == 0, again.output
    assert "split       skipped" in again.output and "train       skipped" in again.output
    assert "serve       skipped" in again.output and "stop        skipped" in again.output
    assert manifest_bytes(project) == before

    # A changed tracking setting changes the tracklets: every step after the per-unit stages runs
    # again on them (the release never comes from the old ones), and the earlier training run is kept.
    text = project.settings_path.read_text()
    assert "cut_switches = false" in text
    project.settings_path.write_text(text.replace("cut_switches = false", "cut_switches = false\nmin_seconds = 1.5"))
    changed = CliRunner().invoke(cli, ["run", "--project", str(root), "--quiet"])
    assert changed.exit_code == 0, changed.output + repr(changed.exception)
    for step in ("candidates", "split", "train", "report"):
        assert f"{step:<11} ran" in changed.output, changed.output
    assert manifest_bytes(project) != before
    assert list((root / "runs").glob("gaitset_tiny.before-*")), "the earlier run folder is kept"
    assert validate_project(Project.open(root)) == []
    settled = CliRunner().invoke(cli, ["run", "--project", str(root), "--quiet"])
    assert settled.exit_code == 0 and "split       skipped" in settled.output, settled.output
