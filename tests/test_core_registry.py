import pytest

from grewkit.core.errors import GrewkitError
from grewkit.core.registry import Registry


def test_get_resolves_a_lazy_entry_and_returns_objects_as_given():
    marker = object()
    reg = Registry("widget", {"join": "os.path:join", "given": marker})
    import os.path

    assert reg.get("join") is os.path.join
    assert reg.get("given") is marker


def test_names_keep_registration_order():
    reg = Registry("widget", {"zeta": "os:sep", "alpha": "os:sep"})
    reg.register("mid", "os:sep")
    assert reg.names() == ["zeta", "alpha", "mid"]
    assert list(reg) == reg.names() and len(reg) == 3
    assert "alpha" in reg and "beta" not in reg


def test_unknown_name_lists_the_known_ones():
    reg = Registry("widget", {"a": "os:sep", "b": "os:sep", "c": "os:sep"})
    with pytest.raises(GrewkitError) as err:
        reg.get("y")
    assert str(err.value) == "unknown widget 'y'; known: a, b, c"
    assert reg.unknown("y", path="x.toml").path.name == "x.toml"
    with pytest.raises(GrewkitError, match="unknown widget 'y'; known: none"):
        Registry("widget").require("y")


def test_a_missing_optional_package_fails_only_when_its_entry_is_gotten():
    # Building the registry and using the other names import nothing of the missing package.
    reg = Registry("detector kind", {"fancy": "grewkit_no_such_package.models:Fancy", "plain": "os:sep"})
    assert reg.names() == ["fancy", "plain"]
    assert reg.get("plain")
    with pytest.raises(GrewkitError) as err:
        reg.get("fancy")
    assert str(err.value) == "detector kind 'fancy' needs grewkit_no_such_package: not installed here"


def test_a_missing_package_imported_by_the_entry_module_is_named(tmp_path, monkeypatch):
    (tmp_path / "grewkit_test_plugin.py").write_text("import grewkit_absent_dependency.sub\nThing = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = Registry("segmenter", {"plugin": "grewkit_test_plugin:Thing"})
    with pytest.raises(GrewkitError, match=r"^segmenter 'plugin' needs grewkit_absent_dependency: not installed here$"):
        reg.get("plugin")


def test_a_wrong_entry_is_not_mistaken_for_a_missing_package():
    reg = Registry("stage", {"typo": "grewkit.core.no_such_module:Stage", "attr": "grewkit.core.errors:NoSuch"})
    with pytest.raises(GrewkitError, match="there is no module grewkit.core.no_such_module"):
        reg.get("typo")
    with pytest.raises(GrewkitError, match="grewkit.core.errors has no 'NoSuch'"):
        reg.get("attr")


def test_registration_refuses_duplicates_and_malformed_references():
    reg = Registry("widget", {"a": "os:sep"})
    with pytest.raises(ValueError, match="already registered"):
        reg.register("a", "os:sep")
    with pytest.raises(ValueError, match="not a 'module:attribute' reference"):
        reg.register("b", "os.sep")


def test_every_registry_resolves_its_entries():
    # The shipped registries point at real attributes (entries of optional packages excepted).
    from grewkit.annotate.backends import BACKENDS
    from grewkit.annotate.candidates import EMBEDDERS
    from grewkit.bench.cli import bench_group
    from grewkit.cli.main import cli
    from grewkit.core.executors import EXECUTORS
    from grewkit.core.settings import SECTIONS
    from grewkit.core.stage import STAGES
    from grewkit.core.validate import CHECKS
    from grewkit.detect.registry import KINDS
    from grewkit.evaluate.distances import DISTANCES
    from grewkit.evaluate.protocols import PROTOCOLS
    from grewkit.render.pose_estimators import KINDS as POSE_KINDS
    from grewkit.render.segmentation import SEGMENTERS
    from grewkit.track.trackers import TRACKERS
    from grewkit.train.models import MODELS

    registries = [
        BACKENDS,
        EMBEDDERS,
        bench_group.registry,
        cli.registry,
        EXECUTORS,
        SECTIONS,
        STAGES,
        CHECKS,
        KINDS,
        DISTANCES,
        PROTOCOLS,
        POSE_KINDS,
        SEGMENTERS,
        TRACKERS,
        MODELS,
    ]
    for registry in registries:
        assert registry.names(), registry
        for name in registry:
            try:
                assert registry.get(name) is not None
            except GrewkitError as exc:
                assert "not installed here" in str(exc), str(exc)
