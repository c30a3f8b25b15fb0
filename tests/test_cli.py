import pytest
from click.testing import CliRunner
from helpers import grewkit

from grewkit.cli.main import COMMANDS, cli


def _leaf_commands(group, path=()):
    import click

    for name in group.list_commands(None):
        command = group.get_command(None, name)
        if isinstance(command, click.Group):
            yield from _leaf_commands(command, (*path, name))
        else:
            yield (*path, name)


def test_help_lists_commands_and_every_command_has_help_with_an_example():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert all(name in result.output for name in COMMANDS)
    for path in _leaf_commands(cli):
        sub = CliRunner().invoke(cli, [*path, "--help"])
        assert sub.exit_code == 0, (path, sub.output)
        assert "grewkit " in sub.output and "Example" in sub.output, path


def test_init_status_validate_on_a_new_project(tmp_path):
    assert grewkit("init", str(tmp_path / "p")).returncode == 0
    status = grewkit("status", "--project", str(tmp_path / "p"))
    assert status.returncode == 0, status.stderr
    assert grewkit("validate", "--project", str(tmp_path / "p")).returncode == 0


@pytest.mark.parametrize(
    "setup, args, message",
    [
        (None, ["status", "--project", "{tmp}/nope"], "{tmp}/nope: project folder does not exist"),
        ("init", ["validate", "--project", "{tmp}/p"], None),
        ("badtoml", ["status", "--project", "{tmp}/p"], "{tmp}/p/grewkit.toml: invalid TOML"),
        (None, ["frobnicate"], "No such command 'frobnicate'"),
    ],
)
def test_bad_input_gives_one_clear_line_and_nonzero_exit(tmp_path, setup, args, message):
    if setup in ("init", "badtoml"):
        grewkit("init", str(tmp_path / "p"))
    if setup == "badtoml":
        (tmp_path / "p/grewkit.toml").write_text("[executor]\nworkers = \n")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    result = grewkit(*[a.format(tmp=tmp_path) for a in args])
    if message is None:
        assert result.returncode == 0
        return
    assert result.returncode != 0
    assert message.format(tmp=tmp_path) in result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before  # nothing written


def test_validate_exits_nonzero_listing_the_problem(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    grewkit("init", str(tmp_path / "p"))
    table = pa.table({"camera_id": ["c"]}).replace_schema_metadata(
        {"grewkit.schema": "cameras", "grewkit.schema_version": "1"}
    )
    pq.write_table(table, tmp_path / "p/manifests/cameras.parquet")
    result = grewkit("validate", "--project", str(tmp_path / "p"))
    assert result.returncode == 1
    assert "manifests/cameras.parquet: manifest 'cameras'" in result.stderr and "missing columns" in result.stderr


def test_doctor_reports_each_backend():
    result = grewkit("doctor")
    assert result.returncode == 0
    for name in ("torch", "opencv", "onnxruntime", "numba", "mediapipe", "ray", "label-studio"):
        assert name in result.stdout


def test_doctor_takes_a_project_like_every_command(tmp_path):
    grewkit("init", str(tmp_path / "p"))
    for flag in ("-p", "--project"):
        result = grewkit("doctor", flag, str(tmp_path / "p"))
        assert result.returncode == 0, result.stderr
        assert "settings valid" in result.stdout and "detector [centernet]" in result.stdout
        assert "pose estimator [mediapipe]" in result.stdout
    (tmp_path / "p" / "grewkit.toml").write_text('[detect]\nbackend = "nosuch"\n[render]\npose_estimator = "mine"\n')
    result = grewkit("doctor", "-p", str(tmp_path / "p"))
    assert result.returncode == 0 and "not defined" in result.stdout
    assert "no pose estimator named 'mine'" in " ".join(result.stdout.split())
    result = grewkit("doctor", "-p", str(tmp_path / "absent"))
    assert result.returncode != 0 and "project folder does not exist" in result.stderr
