"""Stage options that are settings (``grewkit detect --stride``, ``grewkit track --no-stitch``, ...) are written
into the project's grewkit.toml, so that a rerun without them does the same."""

from __future__ import annotations

from click.testing import CliRunner

from grewkit.cli.main import cli
from grewkit.core.project import Project
from grewkit.core.settings import update_settings


def invoke(args):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def test_detect_and_track_options_are_written_into_the_settings(tmp_path):
    project = Project.init(tmp_path / "p")
    before = project.settings_path.read_text()
    r = invoke(["detect", "--project", str(project.root), "--backend", "hog", "--stride", "3", "--quiet"])
    assert r.exit_code == 0, r.output
    assert "[detect] stride = 3" in r.output
    r = invoke(["track", "--project", str(project.root), "--no-stitch", "--min-seconds", "2", "--quiet"])
    assert r.exit_code == 0, r.output
    settings = Project.open(project.root).settings
    assert (settings.section("detect").backend, settings.section("detect").stride) == ("hog", 3)
    assert settings.section("track").stitch is False and settings.section("track").min_seconds == 2.0
    after = project.settings_path.read_text()
    # Only the lines of those keys changed; every comment and other key is as grewkit init wrote it.
    changed = [(a, b) for a, b in zip(before.splitlines(), after.splitlines()) if a != b]
    assert len(before.splitlines()) == len(after.splitlines()) and len(changed) == 4, changed
    # A rerun without the options keeps them.
    assert invoke(["detect", "--project", str(project.root), "--quiet"]).exit_code == 0
    assert Project.open(project.root).settings.section("detect").stride == 3


def test_a_bad_option_value_is_refused_and_the_settings_stay_as_they_were(tmp_path):
    project = Project.init(tmp_path / "p")
    before = project.settings_path.read_bytes()
    r = CliRunner().invoke(cli, ["detect", "--project", str(project.root), "--stride", "0"])
    assert r.exit_code != 0 and "stride must be >= 1" in r.output and str(project.settings_path) in r.output
    assert project.settings_path.read_bytes() == before
    r = CliRunner().invoke(cli, ["detect", "--project", str(project.root), "--backend", "nope"])
    assert r.exit_code != 0 and "no such detector" in r.output and "detectors.toml" in r.output
    assert project.settings_path.read_bytes() == before


def test_update_settings_adds_missing_keys_and_sections(tmp_path):
    path = tmp_path / "grewkit.toml"
    path.write_text("# mine\n[detect]\nstride = 2\n")
    assert update_settings(path, "detect", {"stride": 2}) == []
    assert update_settings(path, "track", {"stitch": False}) == ["stitch = false"]
    assert update_settings(path, "detect", {"backend": "hog"}) == ['backend = "hog"']
    assert path.read_text() == '# mine\n[detect]\nstride = 2\nbackend = "hog"\n\n[track]\nstitch = false\n'
