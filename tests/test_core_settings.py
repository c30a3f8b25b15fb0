import pytest

from grewkit.core.errors import GrewkitError
from grewkit.core.project import LAYOUT, Project
from grewkit.core.settings import SECTIONS, Settings


def test_init_writes_every_section_and_the_layout(tmp_path):
    project = Project.init(tmp_path / "p", name="my set")
    text = project.settings_path.read_text()
    for section in SECTIONS:
        assert f"[{section}]" in text
    assert all((project.root / d).is_dir() for d in LAYOUT)
    assert project.settings.section("project").name == "my set"
    assert project.settings.section("executor").workers == 2


def test_init_refuses_an_existing_project(project):
    before = project.settings_path.read_bytes()
    with pytest.raises(GrewkitError, match="already a grewkit project"):
        Project.init(project.root)
    assert project.settings_path.read_bytes() == before


@pytest.mark.parametrize(
    "text, message",
    [
        ("[executor\nworkers = 2\n", "invalid TOML"),
        ("[executr]\nworkers = 2\n", r"unknown section 'executr'; known: project, executor, "),
        ("[executor]\nworker = 2\n", r"\[executor\] has no setting 'worker'"),
        ('[executor]\nworkers = "two"\n', r"\[executor\] workers = 'two' should be of type int"),
    ],
)
def test_malformed_settings_name_the_file_and_the_problem(tmp_path, text, message):
    path = tmp_path / "grewkit.toml"
    path.write_text(text)
    with pytest.raises(GrewkitError, match=message) as info:
        Settings.load(path)
    assert str(path) in str(info.value)


def test_open_refuses_a_folder_that_is_not_a_project(tmp_path):
    with pytest.raises(GrewkitError, match="not a grewkit project"):
        Project.open(tmp_path)
    with pytest.raises(GrewkitError, match="does not exist"):
        Project.open(tmp_path / "missing")


def test_the_demo_settings_load_and_name_a_shipped_detector():
    from grewkit.detect.registry import backends_path, load_backends
    from grewkit.pipeline.cli import DEMO_SETTINGS

    settings = Settings.load(DEMO_SETTINGS)  # every section and key known, every value of its type
    detect = settings.section("detect")
    assert detect.backend in load_backends(backends_path(detect.backends_file))
    assert set(settings.section("render").modalities) >= {"sil", "gei"}  # what the demo trains and evaluates on
